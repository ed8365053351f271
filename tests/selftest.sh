#!/usr/bin/env bash
# selftest.sh — the generated trainer of every spec in specs/ (`rnnc SPEC -o EXE`,
# default options) passes `EXE selftest` against the reference runtime, with the
# default seed and --seed 42 (the default only under SAN: large_lstm takes 20 s a
# run then); a trainer built with a wrong gradient (injected through CFLAGS) fails it
# and names the gradient, also in the first layers of a 12-LSTM stack, whose gradients
# are 1e-9 of the head's (a sign flip, and 1e-4 relative); the reference against
# itself (`rnnc SPEC --interpret selftest`) gives exactly 0 everywhere; the usage errors.
# SELFTEST_SPECS="specs/a.lua ..." limits the specs (make check runs a few).
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
# SAN (exported by `make test-asan`) is added to the trainers' flags.
. "$(dirname "$0")/lib.sh"
tmpdir
if [ -n "$SAN" ]; then export CFLAGS="-O1 $SAN"; fi
read -r -a SPECS <<< "${SELFTEST_SPECS:-$(echo specs/*.lua)}"

# The selftest table in FILE passed: exit status RC 0, "PASS", no FAIL, and the header
# names the implementation WHO ("generated" or "reference"; a generated trainer built for
# several x86-64 levels also names the one it runs, "generated for x86-64-v3").
passed() {
  local what=$1 rc=$2 file=$3 who=$4
  check "$what: exit 0 (got $rc)" test "$rc" -eq 0 || cat "$file"
  check "$what: PASS" grep -qx PASS "$file"
  check "$what: no FAIL" test "$(grep -c FAIL "$file")" -eq 0
  check "$what: header" grep -q "^selftest: model \".*\" ($who\( for x86-64[-v0-9]*\)\{0,1\}) vs reference, 11 samples of 13, .*, tolerance 1e-05$" "$file"
}

# ---- the generated trainers -------------------------------------------------------
for spec in "${SPECS[@]}"; do
  n=$(basename "$spec" .lua)
  "$RNNC" "$spec" -o "$T/$n" > "$T/$n.build" 2>&1
  check "$spec: the trainer builds" test $? -eq 0 || { cat "$T/$n.build"; continue; }
  "$T/$n" selftest > "$T/$n.out" 2>&1
  passed "$spec (generated)" $? "$T/$n.out" generated
  [ -n "$SAN" ] && continue
  "$T/$n" selftest --seed 42 > "$T/$n.out" 2>&1
  passed "$spec (generated) --seed 42" $? "$T/$n.out" generated
done

# ---- a wrong gradient fails: lstm's backward with lstm/kernel's gradient off by 1e-4
# relative (the trainer's main hands rnn_trainer_main a wrapped backward) -------------
cat > "$T/fault.h" <<'EOF'
#include "rnnrt.h"
static const rnn_model *fault_model;
static const rnn_model_ops *fault_ops;
static void fault_backward(void *impl, const rnn_real *params, rnn_real *grads) {
    fault_ops->backward(impl, params, grads);
    const rnn_tensor *t = &fault_model->tensors[rnn_model_find_tensor(fault_model, "lstm/kernel")];
    for (size_t i = 0; i < t->size; i++) grads[t->offset + i] *= (rnn_real)(1 + 1e-4);
}
static int fault_trainer_main(const rnn_model *m, const rnn_model_ops *ops, const char *program, int argc,
                              char **argv) {
    static rnn_model_ops faulty;
    faulty = *ops;
    faulty.backward = fault_backward;
    fault_model = m, fault_ops = ops;
    return rnn_trainer_main(m, &faulty, program, argc, argv);
}
#define rnn_trainer_main fault_trainer_main
EOF
CFLAGS="${CFLAGS:--O1} -include $T/fault.h" "$RNNC" specs/lstm.lua -o "$T/faulty" > "$T/faulty.build" 2>&1
check "faulty lstm: the trainer builds" test $? -eq 0 || cat "$T/faulty.build"
"$T/faulty" selftest > "$T/faulty.out" 2>&1
rc=$?
check "faulty lstm: selftest exits 1 (got $rc)" test $rc -eq 1 || cat "$T/faulty.out"
check "faulty lstm: no PASS" test "$(grep -c '^PASS$' "$T/faulty.out")" -eq 0
# (the error shown as it is, or beside its value against the float-noise floor)
check "faulty lstm: the gradient's row fails" \
  grep -Eq '^  grad lstm/kernel +(1\.0e-04  FAIL|[0-9.e+-]+  FAIL  \(1\.0e-04 without the float-noise floor\))$' "$T/faulty.out"
check "faulty lstm: the summary names it first" grep -q '^FAIL: .*, the first: grad lstm/kernel$' "$T/faulty.out"

# ---- a lower layer of a deep stack is checked against its own scale: deep14.lua, 14
# layers (embedding 50x6, 12 LSTM(4) with dropout and recurrent dropout, a sigmoid
# head), where the first LSTM's gradient is about 1e-9 of the model's largest. Its
# trainer's backward is wrapped (deep_fault.h): FAULT_TENSOR's gradient times
# FAULT_FACTOR, picked at run time so that one build serves every case; with
# REPORT_TENSOR it prints to stderr that tensor's largest gradient element over the
# model's largest, at the first backward (the selftest's first gradient) -------------
cat > "$T/deep_fault.h" <<'EOF'
#include "rnnrt.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
static const rnn_model *fault_model;
static const rnn_model_ops *fault_ops;
static double fault_scale(const rnn_real *g, size_t offset, size_t size) {
    double s = 0;
    for (size_t i = offset; i < offset + size; i++) s = fmax(s, fabs((double)g[i]));
    return s;
}
static void fault_backward(void *impl, const rnn_real *params, rnn_real *grads) {
    static int calls;
    const rnn_model *m = fault_model;
    fault_ops->backward(impl, params, grads);
    const char *report = getenv("REPORT_TENSOR"), *name = getenv("FAULT_TENSOR");
    const int r = report ? rnn_model_find_tensor(m, report) : -1;
    if (r >= 0 && calls++ == 0)
        fprintf(stderr, "grad %s: %.1e of the largest\n", report,
                fault_scale(grads, m->tensors[r].offset, m->tensors[r].size) / fault_scale(grads, 0, m->param_buffer_len));
    const int k = name ? rnn_model_find_tensor(m, name) : -1;
    for (size_t i = 0; k >= 0 && i < m->tensors[k].size; i++)
        grads[m->tensors[k].offset + i] *= (rnn_real)atof(getenv("FAULT_FACTOR"));
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
cat > "$T/deep14.lua" <<'EOF'
local stack = {}
for i = 1, 12 do
  stack[i] = lstm { 4, dropout = 0.2, recurrent_dropout = 0.3, return_sequences = i < 12 }
end
return sequential "deep14" {
  embedding { 50, 6, input_length = 5 },
  stack,
  dense { 1, activation = "sigmoid" },
}
EOF
# (under SAN at -O0, as tests/deep.sh builds its deep trainers: -O1 with the sanitizers is slow to compile)
DEEP_CFLAGS=${CFLAGS:--O1}
if [ -n "$SAN" ]; then DEEP_CFLAGS="-O0 $SAN"; fi
CFLAGS="$DEEP_CFLAGS -include $T/deep_fault.h" "$RNNC" "$T/deep14.lua" -o "$T/deep14" > "$T/deep14.build" 2>&1
if check "deep14 with deep_fault.h: the trainer builds" test $? -eq 0 || { cat "$T/deep14.build"; false; }; then
  REPORT_TENSOR=lstm/kernel "$T/deep14" selftest > "$T/deep.out" 2> "$T/deep.err"
  passed "deep14, no fault" $? "$T/deep.out" generated
  check "deep14: a row for each of the 12 LSTM kernels" test "$(grep -Ec '^  grad lstm(_[0-9]+)?/kernel ' "$T/deep.out")" -eq 12
  # the regime where a floor at 1% of the largest gradient hid the first layers
  scale=$(sed -n 's|^grad lstm/kernel: \(.*\) of the largest$|\1|p' "$T/deep.err")
  check "deep14: lstm/kernel's gradient is below 1e-6 of the largest (${scale:-no report})" \
    awk -v s="${scale:-1}" 'BEGIN { exit !(s + 0 < 1e-6) }' || cat "$T/deep.err"

  # deep_fault TENSOR FACTOR ERROR: selftest fails, the tensor's gradient row shows ERROR
  # (a regular expression; beside the value against the float-noise floor, if that
  # raised it), the summary names the row first, and no other tensor's gradient fails.
  deep_fault() {
    local tensor=$1 factor=$2 err=$3 what="deep14, grad $1 times $2"
    FAULT_TENSOR=$tensor FAULT_FACTOR=$factor "$T/deep14" selftest > "$T/deep.out" 2>&1
    local rc=$?
    check "$what: selftest exits 1 (got $rc)" test $rc -eq 1 || cat "$T/deep.out"
    check "$what: no PASS" test "$(grep -c '^PASS$' "$T/deep.out")" -eq 0
    check "$what: its row fails with error $err" \
      grep -Eq "^  grad $tensor +($err  FAIL|[0-9.e+-]+  FAIL  \($err without the float-noise floor\))$" "$T/deep.out" \
      || grep "^  grad $tensor " "$T/deep.out"
    check "$what: the summary names it first" grep -q "^FAIL: .*, the first: grad $tensor$" "$T/deep.out"
    check "$what: no other tensor's gradient fails" \
      test "$(grep '^  grad ' "$T/deep.out" | grep -v -e "^  grad $tensor " -e '^  grad after inference ' | grep -c FAIL)" -eq 0
  }
  deep_fault lstm/kernel -1 '2\.0e\+00'                    # the sign flipped
  deep_fault lstm/kernel 1.0001 '1\.0e-04'
  deep_fault lstm/bias 1.0001 '1\.0e-04'
  deep_fault lstm_5/recurrent_kernel 1.0001 '1\.0e-04'
  deep_fault embedding/embeddings 1.0001 '1\.0e-04'
fi

# ---- the reference against itself: every error exactly 0 ---------------------------
for spec in "${SPECS[@]}"; do
  "$RNNC" "$spec" --interpret selftest > "$T/out" 2>&1
  passed "$spec (reference)" $? "$T/out" reference
  # every error value in the table
  nonzero=$(grep '^  ' "$T/out" | grep -v 'correct' | grep -oE '[0-9]\.[0-9]e[-+][0-9]+|NaN' | grep -vc '^0\.0e+00$')
  check "$spec (reference): all errors 0 ($nonzero not)" test "$nonzero" -eq 0
done

# ---- usage errors --------------------------------------------------------------------
"$RNNC" specs/lstm.lua --interpret selftest --seed x > "$T/out" 2>&1
check "bad seed is a usage error" test $? -eq 2
check "bad seed message" grep -q -- "--seed: expected a non-negative integer, got 'x'" "$T/out"
"$RNNC" specs/lstm.lua --interpret selftest --bogus > "$T/out" 2>&1
check "unknown option is a usage error" test $? -eq 2
"$RNNC" specs/lstm.lua --interpret selftest --help > "$T/out" 2>&1
check "help exit 0" test $? -eq 0
check "help text" grep -q "selftest \[--seed N\]" "$T/out"
"$RNNC" specs/lstm.lua --interpret --help > "$T/out" 2>&1
check "selftest in the command list" grep -q "^  selftest " "$T/out"

finish
