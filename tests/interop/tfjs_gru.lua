-- written by rnnc 0.1.0 from tfjs_gru.json (rnnc --emit-spec)
return sequential "sequential_1" {
  embedding { 200, 8, input_length = 30, name = "embedding_Embedding1" },
  gru { 6, dropout = 0.2, reset_after = false, name = "gru_GRU1" },
  dense { 4, activation = "softmax", name = "dense_Dense1" },

  compile = {
    optimizer = rmsprop { learning_rate = 0.002, rho = 0.95 },
    loss = "sparse_categorical_crossentropy",
    metrics = { "accuracy" },
  },
}
