-- property regression: a bidirectional layer that wraps a go_backwards layer and returns
-- sequences. Keras 2 then runs the forward half from the last step and returns its
-- states in that order, and flips the backward half's to match: output step t holds the
-- states after reading x_{T-1-t}. The generated merge paired the states after reading
-- x_t instead (the reverse order): selftest "probabilities" and every gradient FAIL.
-- rnnc-options: --unroll none
return sequential "bidi_of_go_backwards" {
  embedding { 50, 3, input_length = 5 },
  bidirectional { lstm { 4, go_backwards = true, return_sequences = true }, merge_mode = "sum" },
  gru { 2 },
  dense { 1, activation = "sigmoid" },
}
