-- specs/imdb_bidirectional2.lua: keras.io's "Bidirectional LSTM on IMDB": reviews of
-- 200 words, Embedding(20000, 128) -> Bidirectional(LSTM(64, return_sequences)) ->
-- Bidirectional(LSTM(64)) -> Dense(1, sigmoid), Adam, batches of 32, 2 epochs. Keras's
-- total: 2,757,761 parameters. The example validates on the test set (validation_data):
-- give it with --val-x/--val-y or --val-text.
return sequential "imdb_bidirectional2" {
  embedding { 20000, 128, input_length = 200 },
  bidirectional { lstm { 64, return_sequences = true } },
  bidirectional { lstm { 64 } },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = "adam",
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = { epochs = 2, batch_size = 32 },
}
