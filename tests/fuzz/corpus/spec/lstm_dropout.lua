-- specs/lstm_dropout.lua: LSTM(8) with 30% input dropout
return sequential "lstm_dropout" {
  embedding { 500, 16, input_length = 100 },
  lstm { 8, dropout = 0.3 },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = rmsprop { learning_rate = 1e-4 },
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = {
    epochs = 100, batch_size = 64, validation_split = 0.2,
    callbacks = {
      model_checkpoint { "best-dropout-model.safetensors", save_best_only = true },
      early_stopping { patience = 3, restore_best_weights = true },
    },
  },
}
