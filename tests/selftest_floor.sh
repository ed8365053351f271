#!/usr/bin/env bash
# selftest_floor.sh — selftest judges every tensor against its own scale and lets an
# error pass above the tolerance only within the reference's own float noise (the
# float-noise floor, runtime/train/selftest.c), on float31.lua: 31 layers (embedding
# 2x7, 27 Dropout layers, two SimpleRNN(1), a sigmoid head; a random spec of the
# fuzzer, one Dropout layer fewer). The dropout layers zero most of the signal, the
# 1x1 recurrent kernels are exactly +-1 (orthogonal init), and tanh states saturate:
# one ulp of a tanh (the generated code's rnn_fast_tanhf against libm's tanhf in the
# reference) becomes up to 1e-2 of a gradient or a weight change. With the trainer
# built as a user builds it (`rnnc SPEC -o EXE`):
#   EXE selftest --seed S   for S = 16, 43, 161, 196, seeds where errors against the
#                           tensors' own scale are 2e-5 to 2e-2 (gradients at seeds 43
#                           and 196, weight changes at 16 and 161): exit 0, PASS, and
#                           the floor decided at least one row of each (or this would
#                           test nothing about it);
# and a wrong gradient where the reference's is exactly zero still fails: built with
# zero_fault.h, which adds 1e-30 to the first element of embedding/embeddings'
# gradient (the default seed's masks zero that whole gradient in the first pass):
#   EXE selftest            exit 1, the row "grad embedding/embeddings" shows 1.0e+00
#                           (1e-30 against the tensor's scale 0, floored at 1e-30)
#                           and fails, and the summary names it first.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
# SAN (exported by `make test-asan`) is added to the trainers' flags.
. "$(dirname "$0")/lib.sh"
tmpdir
if [ -n "$SAN" ]; then export CFLAGS="-O1 $SAN"; fi

cat > "$T/float31.lua" <<'EOF'
return sequential "float31" {
  embedding { 2, 7, input_length = 4 },
  dropout { 0.1 },
  dropout { 0.1 },
  simple_rnn { 1, dropout = 0.737, return_sequences = true },
  dropout { 0.1 },
  dropout { 0 },
  dropout { 0.2 },
  dropout { 0.05 },
  dropout { 0.5 },
  dropout { 0 },
  dropout { 0.3 },
  dropout { 0.3 },
  dropout { 0.3 },
  dropout { 0.05 },
  dropout { 0.2 },
  dropout { 0.1 },
  dropout { 0.3 },
  simple_rnn { 1 },
  dropout { 0.2 },
  dropout { 0.3 },
  dropout { 0.3 },
  dropout { 0.1 },
  dropout { 0.1 },
  dropout { 0 },
  dropout { 0.1 },
  dropout { 0.2 },
  dropout { 0 },
  dropout { 0.2 },
  dropout { 0 },
  dropout { 0.3 },
  dense { 1, activation = "sigmoid" },

  compile = {
    optimizer = rmsprop { learning_rate = 0.0003, global_clipnorm = 0.1 },
    loss = "binary_crossentropy",
    metrics = { "acc" },
  },
  fit = { epochs = 2, batch_size = 19, seed = 29, validation_split = 0.1 },
}
EOF

# ---- float noise passes, by the floor ---------------------------------------------------
"$RNNC" "$T/float31.lua" -o "$T/float31" > "$T/build.out" 2>&1
if check "float31: the trainer builds" test $? -eq 0 || { cat "$T/build.out"; false; }; then
  for seed in 16 43 161 196; do
    "$T/float31" selftest --seed "$seed" > "$T/out" 2>&1
    rc=$?
    what="float31 --seed $seed"
    check "$what: exit 0 (got $rc)" test $rc -eq 0 || cat "$T/out"
    check "$what: PASS" grep -qx PASS "$T/out"
    check "$what: no FAIL" test "$(grep -c FAIL "$T/out")" -eq 0
    check "$what: a row for every tensor's steps (9)" test "$(grep -c '^  after 3 sgd steps: ' "$T/out")" -eq 9
    check "$what: the float-noise floor decided a row" grep -q 'without the float-noise floor)$' "$T/out"
  done
fi

# ---- a wrong non-zero gradient where the reference's is exactly zero fails ----------------
cat > "$T/zero_fault.h" <<'EOF'
#include "rnnrt.h"
static const rnn_model *fault_model;
static const rnn_model_ops *fault_ops;
static void fault_backward(void *impl, const rnn_real *params, rnn_real *grads) {
    fault_ops->backward(impl, params, grads);
    grads[fault_model->tensors[rnn_model_find_tensor(fault_model, "embedding/embeddings")].offset] += (rnn_real)1e-30;
}
static int fault_trainer_main(const rnn_model *m, const rnn_model_ops *ops, const char *program, int argc,
                              char **argv) {
    static rnn_model_ops faulty;
    faulty = *ops;
    faulty.backward = fault_backward;
    faulty.forward_backward = NULL; /* (every gradient through backward) */
    fault_model = m, fault_ops = ops;
    return rnn_trainer_main(m, &faulty, program, argc, argv);
}
#define rnn_trainer_main fault_trainer_main
EOF
CFLAGS="${CFLAGS:--O1} -include $T/zero_fault.h" "$RNNC" "$T/float31.lua" -o "$T/zero" > "$T/build.out" 2>&1
if check "float31 with zero_fault.h: the trainer builds" test $? -eq 0 || { cat "$T/build.out"; false; }; then
  "$T/zero" selftest > "$T/out" 2>&1
  rc=$?
  check "1e-30 where the gradient is 0: selftest exits 1 (got $rc)" test $rc -eq 1 || cat "$T/out"
  check "1e-30 where the gradient is 0: no PASS" test "$(grep -c '^PASS$' "$T/out")" -eq 0
  check "1e-30 where the gradient is 0: the row fails with error 1.0e+00" \
    grep -Eq '^  grad embedding/embeddings +1\.0e\+00  FAIL$' "$T/out" || grep '^  grad embedding/embeddings ' "$T/out"
  check "1e-30 where the gradient is 0: the summary names it first" \
    grep -q '^FAIL: .*, the first: grad embedding/embeddings$' "$T/out"
fi

finish
