-- property regression: GRU with reset_after = false. The emitted backward_step_N(...)
-- takes a parameter `dzh` that its body never uses: clang/gcc -Wextra -Werror:
-- "unused parameter 'dzh'" [-Wunused-parameter]. Same with --unroll none.
-- rnnc-options: --unroll none
return sequential "gru_reset_before" {
  embedding { 2, 1, input_length = 1 },
  gru { 1, reset_after = false },
  dense { 1, activation = "sigmoid" },
  compile = { optimizer = sgd { }, loss = "binary_crossentropy" },
  fit = { epochs = 1, callbacks = { csv_logger { "log.csv" } } },
}
