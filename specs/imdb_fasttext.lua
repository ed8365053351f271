-- specs/imdb_fasttext.lua: Keras's IMDB fastText example (imdb_fasttext.py, with
-- ngram_range = 1): the 20000 most frequent words, reviews padded to 400 of them,
-- Embedding(20000, 50) -> GlobalAveragePooling1D -> Dense(1, sigmoid), Adam, batches of
-- 32, 5 epochs. Keras's total: 1,000,051 parameters. The example validates on the test
-- set (validation_data): give it with --val-x/--val-y or --val-text.
return sequential "imdb_fasttext" {
  embedding { 20000, 50, input_length = 400 },
  global_average_pooling1d { },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = "adam",
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = { epochs = 5, batch_size = 32 },
}
