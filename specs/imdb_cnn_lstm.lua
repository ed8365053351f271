-- specs/imdb_cnn_lstm.lua: Keras's IMDB convolution + LSTM example (imdb_cnn_lstm.py):
-- the 20000 most frequent words, reviews padded to 100 of them, Embedding(20000, 128) ->
-- Dropout(0.25) -> Conv1D(64, 5, relu) -> MaxPooling1D(4) -> LSTM(70) -> Dense(1) ->
-- sigmoid, Adam, batches of 30, 2 epochs. Keras's total: 2,638,895 parameters. The
-- example validates on the test set (validation_data): give it with --val-x/--val-y or
-- --val-text.
return sequential "imdb_cnn_lstm" {
  embedding { 20000, 128, input_length = 100 },
  dropout { 0.25 },
  conv1d { 64, 5, padding = "valid", activation = "relu", strides = 1 },
  max_pooling1d { pool_size = 4 },
  lstm { 70 },
  dense { 1 },
  activation { "sigmoid" },

  compile = {
    optimizer = "adam",
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = { epochs = 2, batch_size = 30 },
}
