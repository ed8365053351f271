-- the model of the safetensors seeds (fuzz_safetensors.c builds it by hand)
return sequential "tiny" {
  embedding { 32, 3, input_length = 4 },
  lstm { 2 },
  dense { 1, activation = "sigmoid" },
  fit = { epochs = 1, batch_size = 16 },
}
