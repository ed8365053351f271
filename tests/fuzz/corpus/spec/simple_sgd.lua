return sequential "s" {
  embedding { 50, 4, input_length = 6 },
  simple_rnn { 5, activation = "relu", return_sequences = true },
  lstm { 3, dropout = 0.1, recurrent_dropout = 0.2, dropout_mask = "per_sequence", unit_forget_bias = false },
  dense { 2, "softmax" },
  compile = { optimizer = "sgd", loss = "sparse_categorical_crossentropy" },
}
