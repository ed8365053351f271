-- sentiment.lua — the model of the examples: a small GRU sentiment classifier.
return sequential "sentiment" {
  embedding { 500, 16, input_length = 100 },
  gru { 8 },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = rmsprop { learning_rate = 1e-3 },
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = { epochs = 2, batch_size = 64, validation_split = 0.2 },
}
