-- specs/imdb_cnn.lua: Keras's IMDB convolution example (imdb_cnn.py): the 5000 most
-- frequent words, reviews padded to 400 of them, Embedding(5000, 50) -> Dropout(0.2) ->
-- Conv1D(250, 3, relu) -> GlobalMaxPooling1D -> Dense(250) -> Dropout(0.2) -> relu ->
-- Dense(1) -> sigmoid, Adam, batches of 32, 2 epochs. Keras's total: 350,751
-- parameters. The example validates on the test set (validation_data): give it with
-- --val-x/--val-y or --val-text.
return sequential "imdb_cnn" {
  embedding { 5000, 50, input_length = 400 },
  dropout { 0.2 },
  conv1d { 250, 3, padding = "valid", activation = "relu", strides = 1 },
  global_max_pooling1d { },
  dense { 250 },
  dropout { 0.2 },
  activation { "relu" },
  dense { 1 },
  activation { "sigmoid" },

  compile = {
    optimizer = "adam",
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = { epochs = 2, batch_size = 32 },
}
