-- specs/imdb_flatten.lua: the first IMDB model of Deep Learning with Python (Chollet,
-- listing 6.7): the 10000 most frequent words, reviews cut to their last 20,
-- Embedding(10000, 8) -> Flatten -> Dense(1, sigmoid), RMSprop, batches of 32, 10
-- epochs, 20% of the training data for validation. Keras's total: 80,161 parameters.
return sequential "imdb_flatten" {
  embedding { 10000, 8, input_length = 20 },
  flatten { },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = "rmsprop",
    loss = "binary_crossentropy",
    metrics = { "acc" },
  },
  fit = { epochs = 10, batch_size = 32, validation_split = 0.2 },
}
