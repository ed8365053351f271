-- specs/imdb_masked_gru.lua: IMDB reviews padded to 200 tokens with id 0, the padding
-- masked (mask_zero): Embedding(10000, 32, mask_zero) -> GRU(32) -> Dense(1, sigmoid),
-- RMSprop. The GRU skips the padded steps, so a review's last state is that of its
-- last word however it was padded. Keras's total: 326,369 parameters.
return sequential "imdb_masked_gru" {
  embedding { 10000, 32, input_length = 200, mask_zero = true },
  gru { 32 },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = "rmsprop",
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = { epochs = 10, batch_size = 128, validation_split = 0.2 },
}
