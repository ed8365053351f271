-- A Dropout layer with rate 0 (valid: rates are in [0, 1)). Found by tests/accepted.sh.
-- rnnc accepted it, but the generated C did not compile: emit_dropout_layer
-- (compiler/emit_c.c) calls draw_mask for every Dropout layer, while the support code
-- defines draw_mask only when some layer has dropout > 0 or recurrent_dropout > 0
-- ("implicit declaration of function 'draw_mask'", -Werror).
-- rnnc-options:
return sequential "m" {
  embedding { 50, 2, input_length = 8 },
  dropout { 0 },
  lstm { 2 },
  dense { 1, activation = "sigmoid" },
}
