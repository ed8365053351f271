-- written by rnnc 0.1.0 from keras2_all.json (rnnc --emit-spec)
return sequential "keras2_all" {
  embedding { 1000, 32, input_length = 40 },
  lstm { 16, dropout = 0.2, recurrent_dropout = 0.1, return_sequences = true, unit_forget_bias = false },
  dropout { 0.25 },
  gru { 12, return_sequences = true, reset_after = false },
  gru { 10, dropout = 0.1, return_sequences = true, go_backwards = true },
  simple_rnn { 8, activation = "relu" },
  dense { 16, activation = "relu", name = "hidden" },
  dense { 3, activation = "softmax" },

  compile = {
    optimizer = adam { learning_rate = 0.0005, beta_1 = 0.85, clipnorm = 1 },
    loss = "sparse_categorical_crossentropy",
    metrics = { "accuracy" },
  },
}
