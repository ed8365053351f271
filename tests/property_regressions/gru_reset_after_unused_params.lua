-- property regression: GRU with reset_after = true (the default). The emitted
-- backward_step_N(...) takes parameters `drh` and `rh` that its body never uses:
-- clang/gcc -Wextra -Werror: "unused parameter 'drh'", "unused parameter 'rh'"
-- [-Wunused-parameter]. Same with --unroll none and with any sizes.
-- rnnc-options:
return sequential "gru_reset_after" {
  embedding { 2, 1, input_length = 1 },
  gru { 1 },
  dense { 1, activation = "sigmoid" },
  compile = { optimizer = sgd { }, loss = "binary_crossentropy" },
  fit = { epochs = 1, callbacks = { csv_logger { "log.csv" } } },
}
