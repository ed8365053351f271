#!/usr/bin/env bash
# selftest.sh — `rnnc SPEC --interpret selftest` (the reference runtime against itself)
# must pass for every spec in specs/: exit 0, "PASS", and every error exactly 0.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
set -u
BUILD=${BUILD:-build}
RNNC="$BUILD/rnnc"
T=$(mktemp -d /tmp/rnnc-selftest-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

for spec in specs/*.lua; do
  "$RNNC" "$spec" --interpret selftest > "$T/out" 2>&1
  rc=$?
  check "$spec: exit 0 (got $rc)" test $rc -eq 0
  check "$spec: PASS" grep -qx PASS "$T/out"
  check "$spec: no FAIL" test "$(grep -c FAIL "$T/out")" -eq 0
  check "$spec: header" grep -q '^selftest: model ".*" (reference) vs reference, 11 samples of 13, .*, tolerance 1e-05$' "$T/out"
  # every error value in the table is exactly zero
  nonzero=$(grep '^  ' "$T/out" | grep -v 'correct' | grep -oE '[0-9]\.[0-9]e[-+][0-9]+|NaN' | grep -vc '^0\.0e+00$')
  check "$spec: all errors 0 ($nonzero not)" test "$nonzero" -eq 0
  "$RNNC" "$spec" --interpret selftest --seed 42 > "$T/out" 2>&1
  check "$spec: --seed 42 passes" test $? -eq 0
  [ $fail -eq 0 ] || cat "$T/out"
done

# usage errors
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

echo "selftest.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
