-- property regression: a spec without callbacks. The generated trainer config had
-- `.n_callbacks = 0, .callbacks = { }` -- an empty initializer, which is C23/GNU:
-- clang -std=c17 -Wpedantic -Werror: "use of GNU empty initializer extension
-- [-Wgnu-empty-initializer]"; gcc: "ISO C forbids empty initializer braces before C23".
-- Every spec without `callbacks` (the seed specs all have some) failed to compile.
-- rnnc-options:
return sequential "no_callbacks" {
  embedding { 2, 1, input_length = 1 },
  simple_rnn { 1 },
  dense { 1, activation = "sigmoid" },
  compile = { optimizer = sgd { }, loss = "binary_crossentropy" },
  fit = { epochs = 1 },
}
