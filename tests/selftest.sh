#!/usr/bin/env bash
# selftest.sh — the generated trainer of every spec in specs/ (`rnnc SPEC -o EXE`,
# default options) passes `EXE selftest` against the reference runtime, with the
# default seed and --seed 42 (the default only under SAN: large_lstm takes 20 s a
# run then); a trainer built with a wrong gradient (injected through CFLAGS) fails it
# and names the gradient; the reference against itself (`rnnc SPEC --interpret
# selftest`) gives exactly 0 everywhere; the usage errors.
# SELFTEST_SPECS="specs/a.lua ..." limits the specs (make check runs a few).
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
# SAN (exported by `make test-asan`) is added to the trainers' flags.
. "$(dirname "$0")/lib.sh"
tmpdir
if [ -n "$SAN" ]; then export CFLAGS="-O1 $SAN"; fi
read -r -a SPECS <<< "${SELFTEST_SPECS:-$(echo specs/*.lua)}"

# The selftest table in FILE passed: exit status RC 0, "PASS", no FAIL, and the header
# names the implementation WHO ("generated" or "reference").
passed() {
  local what=$1 rc=$2 file=$3 who=$4
  check "$what: exit 0 (got $rc)" test "$rc" -eq 0 || cat "$file"
  check "$what: PASS" grep -qx PASS "$file"
  check "$what: no FAIL" test "$(grep -c FAIL "$file")" -eq 0
  check "$what: header" grep -q "^selftest: model \".*\" ($who) vs reference, 11 samples of 13, .*, tolerance 1e-05$" "$file"
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
check "faulty lstm: the gradient's row fails" grep -Eq '^  grad lstm/kernel +1\.0e-04  FAIL$' "$T/faulty.out"
check "faulty lstm: the summary names it first" grep -q '^FAIL: .*, the first: grad lstm/kernel$' "$T/faulty.out"

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
