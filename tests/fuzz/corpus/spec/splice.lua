local stack = {}
for i = 1, 3 do stack[i] = gru { 4, return_sequences = i < 3, reset_after = i ~= 2 } end
return sequential "deep" {
  embedding { 100, 8, input_length = 10 },
  { stack, { dropout { 0.25 } } },
  dense { 3, activation = "softmax", name = "out" },
  compile = { optimizer = adam { 1e-3, clipnorm = 1.0 }, loss = "sparse_categorical_crossentropy",
              metrics = { "acc" } },
  fit = { epochs = 2, batch_size = 8, shuffle = false, seed = 7,
          callbacks = { csv_logger { "h.csv" }, early_stopping { monitor = "val_accuracy", mode = "max",
                        baseline = 0.5, start_from_epoch = 1, min_delta = -0.01 } } },
}
