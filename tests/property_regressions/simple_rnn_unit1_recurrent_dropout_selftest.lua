-- Two stacked SimpleRNNs, the second with 1 unit and recurrent_dropout. Found by
-- tests/accepted.sh. Compiles cleanly, but `selftest` (default seed) fails
-- the lockstep-step checks: first-step probabilities, loss and gradients agree
-- (<= 4.5e-6), then "loss at sgd steps 1-3" differs by 5e-5 (clang -march=native) or
-- 1.8e-4 (-O0/-O1, gcc) and every "after 3 sgd steps" row fails. The same model fails
-- at 6 of 20 selftest seeds (1 of 40 without the recurrent_dropout; the LSTM analog 0
-- of 40). Cause: rounding, not a formula — the 1-unit tanh layer saturates, and
-- 1 - h^2 near |h| = 1 turns the ~1.5 ulp difference between rnn_fast_tanhf and libm's
-- tanhf into a relative error of 1e-5 in every upstream gradient (the dense layer's
-- own gradients agree to 7e-8). selftest now judges tiny tensors against 1% of the
-- model's gradient scale and takes 0.1% steps; this seed passes, a few others still
-- fail (see the issue note: the fix is a derivative computed from the pre-activation).
-- rnnc-options:
return sequential "m" {
  embedding { 50, 4, input_length = 11 },
  simple_rnn { 4, return_sequences = true },
  simple_rnn { 1, recurrent_dropout = 0.5 },
  dense { 1, activation = "sigmoid" },
}
