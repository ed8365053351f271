#!/usr/bin/env bash
# codegen.sh — a generated trainer and the interpreter train the same way: one run of
# each on the same small data with the same seed gives the same history to 1e-4, with
# dropout active (the generated code draws the very same masks); the weights are the
# same bits for any thread count, and predict's probabilities for any batch size and
# thread count; and --unroll full / --unroll none / --no-fold produce trainers that
# pass selftest.
. "$(dirname "$0")/lib.sh"
# Under `make test-asan` the runtime is instrumented, so the trainers must be too.
# Every generated file must compile warning-free: -Werror on every trainer built here.
if [ -n "$SAN" ]; then export CFLAGS="-O1 -Wall -Wextra -Wpedantic -Werror $SAN"
else export CFLAGS="-O2 -march=native -Wall -Wextra -Wpedantic -Werror"; fi
tmpdir
cd "$T" || exit 1

# Compare two history CSVs: same header, same rows, every value within 1e-4.
same_history() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
a = [l.strip().split(",") for l in open(sys.argv[1]) if l.strip()]
b = [l.strip().split(",") for l in open(sys.argv[2]) if l.strip()]
if a[0] != b[0] or len(a) != len(b):
    print("histories differ in shape:", a[0], b[0], len(a), len(b)); sys.exit(1)
worst = 0.0
for ra, rb in zip(a[1:], b[1:]):
    for x, y in zip(ra, rb):
        worst = max(worst, abs(float(x) - float(y)))
print("worst history difference %.2e" % worst)
sys.exit(0 if worst <= 1e-4 else 1)
PY
}

for spec in lstm_dropout gru lstm2; do
  "$RNNC" "$ROOT/specs/$spec.lua" -o "$T/$spec" 2> "$T/build.err"
  check "$spec: the trainer builds" test $? -eq 0 -a -x "$T/$spec" || cat "$T/build.err"
  args=(fit --epochs 2 --builtin-train 320 --builtin-val 96 --batch-size 32 --seed 11 --learning-rate 0.01 --quiet)
  "$T/$spec" "${args[@]}" --history "$T/$spec-gen.csv" --checkpoint "$T/$spec-gen.safetensors"
  check "$spec: generated fit exit 0" test $? -eq 0
  "$RNNC" "$ROOT/specs/$spec.lua" --interpret "${args[@]}" --history "$T/$spec-ref.csv" --checkpoint "$T/$spec-ref.safetensors"
  check "$spec: interpreted fit exit 0" test $? -eq 0
  check "$spec: same history to 1e-4" same_history "$T/$spec-gen.csv" "$T/$spec-ref.csv"
done

# The lane blocks run on threads; the weights must not depend on how many.
"$RNNC" "$ROOT/specs/lstm2.lua" -o "$T/lstm2t" 2> "$T/build.err"
check "lstm2: the trainer builds" test $? -eq 0 || cat "$T/build.err"
for th in 1 2 3; do
  "$T/lstm2t" fit --epochs 2 --builtin-train 200 --builtin-val 40 --batch-size 64 --seed 4 --threads $th --quiet \
      --checkpoint "$T/t$th.safetensors" --save-weights "$T/w$th.safetensors"
done
check "lstm2: --threads 1, 2, 3 give bitwise identical weights" cmp -s "$T/w1.safetensors" "$T/w2.safetensors"
check "lstm2: --threads 3 too" cmp -s "$T/w1.safetensors" "$T/w3.safetensors"

# evaluate and predict run a large --batch-size in calls of at most 64 samples per
# thread (cli.c): each sample's probabilities must be the same bits whatever the batch
# size and thread count, and the loss the same up to double rounding.
/usr/bin/python3 - "$T" <<'PY'
import struct, sys, random
def npy(path, descr, shape, values, fmt):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))
rng = random.Random(3)
npy(sys.argv[1] + "/px.npy", "<i4", "(300, 100)", [rng.randrange(0, 500) for _ in range(300 * 100)], "i")
npy(sys.argv[1] + "/py.npy", "<f4", "(300,)", [rng.randrange(0, 2) for _ in range(300)], "f")
PY
for bs in 7 64 1000; do
  for th in 1 2; do
    "$T/lstm2t" predict --weights "$T/w1.safetensors" --x "$T/px.npy" --batch-size $bs --threads $th > "$T/p_${bs}_$th.txt"
    "$T/lstm2t" evaluate --weights "$T/w1.safetensors" --x "$T/px.npy" --y "$T/py.npy" --batch-size $bs --threads $th \
      --json > "$T/e_${bs}_$th.json"
  done
done
check "lstm2 predict: 300 rows" test "$(wc -l < "$T/p_7_1.txt")" -eq 300
for f in "$T"/p_*.txt; do check "lstm2 predict $(basename "$f"): the bits of batch 7, 1 thread" cmp -s "$T/p_7_1.txt" "$f"; done
check "lstm2 evaluate: the same loss and accuracy for every batch size and thread count" /usr/bin/python3 - "$T"/e_*.json <<'PY'
import json, sys
rows = [json.load(open(f)) for f in sys.argv[1:]]
l0, a0 = rows[0]["loss"], rows[0]["accuracy"]
worst = max(abs(r["loss"] - l0) / abs(l0) for r in rows)
print("evaluate: %d runs, worst relative loss difference %.1e" % (len(rows), worst))
sys.exit(0 if len(rows) == 6 and worst <= 1e-12 and all(r["accuracy"] == a0 and r["samples"] == 300 for r in rows) else 1)
PY

# Each build has its own output: a failed one must not leave an earlier trainer to test.
for variant in "simplernn --unroll full" "simplernn --unroll none" "simplernn --no-fold" \
               "simplernn --unroll-budget 8" "lstm --unroll none"; do
  read -r spec mode <<< "$variant"
  exe="$T/m-${variant//[ -]/_}"
  # shellcheck disable=SC2086  # mode is a word list on purpose
  "$RNNC" "$ROOT/specs/$spec.lua" $mode -o "$exe" > "$T/build.err" 2>&1
  check "$variant: the trainer builds" test $? -eq 0 || cat "$T/build.err"
  "$exe" selftest > "$T/st.out" 2>&1
  check "$variant: selftest exits 0" test $? -eq 0
  check "$variant: selftest passes" grep -q '^PASS$' "$T/st.out"
done

finish
