-- specs/large_lstm.lua: a large model for the performance measurements:
-- Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid), sequences of 200 tokens.
return sequential "large_lstm" {
  embedding { 10000, 128, input_length = 200 },
  lstm { 128 },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = rmsprop { learning_rate = 1e-4 },
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = {
    epochs = 10, batch_size = 64, validation_split = 0.2,
    callbacks = {
      model_checkpoint { "best-large-lstm.safetensors", save_best_only = true },
      early_stopping { patience = 3, restore_best_weights = true },
    },
  },
}
