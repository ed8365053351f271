-- written by rnnc 0.1.0 from keras2_bidirectional.json (rnnc --emit-spec)
return sequential "keras2_bidirectional" {
  embedding { 800, 24, input_length = 30 },
  bidirectional { lstm { 16, dropout = 0.1, return_sequences = true } },
  bidirectional { gru { 12, return_sequences = true, reset_after = false }, merge_mode = "sum" },
  bidirectional { simple_rnn { 12, return_sequences = true, go_backwards = true, activation = "relu", name = "rnn_back" }, merge_mode = "mul" },
  bidirectional { lstm { 8, recurrent_dropout = 0.2 }, merge_mode = "ave", name = "bi_last" },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = rmsprop {},
    loss = "binary_crossentropy",
  },
}
