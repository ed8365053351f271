-- written by rnnc 0.1.0 from keras3_lstm_gru.json (rnnc --emit-spec)
return sequential "keras3_lstm_gru" {
  embedding { 500, 16, input_length = 100 },
  lstm { 8, dropout = 0.3, return_sequences = true, dropout_mask = "per_sequence" },
  gru { 8, dropout = 0.3, dropout_mask = "per_sequence" },
  dropout { 0.5 },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = rmsprop { learning_rate = 0.0001 },
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
}
