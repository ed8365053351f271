return sequential "bad name" {
  embedding { 10, 2 },
  simple_rnn { 0, activation = "softplus", dropuot = 0.1 },
  lstm { 3, return_sequences = "yes" },
  dense { 1, activation = "sigmoid" },
  compile = { optimizer = sgd { momentum = 2, nesterov = 1 }, loss = "mse" },
}
