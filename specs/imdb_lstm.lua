-- specs/imdb_lstm.lua: Keras's IMDB LSTM example (imdb_lstm.py): the 20000 most
-- frequent words, reviews cut to 80 of them, Embedding(20000, 128) -> LSTM(128, dropout
-- 0.2, recurrent_dropout 0.2) -> Dense(1, sigmoid), Adam, batches of 32, 15 epochs.
-- Keras's total: 2,691,713 parameters. The example validates on the test set
-- (validation_data): give it with --val-x/--val-y or --val-text.
return sequential "imdb_lstm" {
  embedding { 20000, 128, input_length = 80 },
  -- with recurrent_dropout Keras 2 runs the LSTM cell by cell, reusing one input mask at
  -- every step (docs/keras-semantics.md, RNN dropout)
  lstm { 128, dropout = 0.2, recurrent_dropout = 0.2, dropout_mask = "per_sequence" },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = "adam",
    loss = "binary_crossentropy",
    metrics = { "accuracy" },
  },
  fit = { epochs = 15, batch_size = 32 },
}
