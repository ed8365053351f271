-- specs/imdb_bidirectional.lua: Keras's bidirectional LSTM example on IMDB
-- (imdb_bidirectional_lstm.py): Embedding(20000, 128) over reviews of 100 words ->
-- Bidirectional(LSTM(64)) -> Dropout(0.5) -> Dense(1, sigmoid), Adam, batches of 32,
-- 4 epochs. Keras's total: 2,658,945 parameters. The example validates on the test set
-- (validation_data): give it with --val-x/--val-y or --val-text.
return sequential "imdb_bidirectional" {
  embedding { 20000, 128, input_length = 100 },
  bidirectional { lstm { 64 } },
  dropout { 0.5 },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = "adam",
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = { epochs = 4, batch_size = 32 },
}
