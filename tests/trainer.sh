#!/usr/bin/env bash
# trainer.sh — the trainer as a user drives it (`rnnc SPEC --interpret ...`): files it
# writes, bitwise resume, the Python read-back of a checkpoint, .npy and text data,
# evaluate/predict, and the error paths with their exit codes and messages.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
. "$(dirname "$0")/lib.sh"
SPEC="$ROOT/specs/lstm_dropout.lua"
PY=/usr/bin/python3
tmpdir
cd "$T" || exit 1   # the spec's checkpoint path is relative: keep it in here
fit() { "$RNNC" "$SPEC" --interpret fit --builtin-train 256 --builtin-val 64 --batch-size 32 --seed 5 "$@"; }

# ---- a small run writes its checkpoint, history, plot and final weights ------------
fit --epochs 3 --learning-rate 0.01 --checkpoint "$T/ck.safetensors" --history "$T/h.csv" \
    --plot "$T/h.svg" --save-weights "$T/w.safetensors" > "$T/out" 2>&1
check "fit exit 0" test $? -eq 0
check "fit says it uses the built-in set" grep -q "built-in synthetic IMDB-like set (256 train + 64 validation" "$T/out"
check "epoch lines" test "$(grep -c '^8/8 \[=*\] - ' "$T/out")" -eq 3
check "checkpoint message" grep -q "^Epoch 1: val_loss improved from inf to " "$T/out"
check "history has a header and 3 rows" test "$(wc -l < "$T/h.csv")" -eq 4
check "history header" grep -q "^epoch,accuracy,loss,val_accuracy,val_loss" "$T/h.csv"
check "plot is svg" grep -q "<svg" "$T/h.svg"
check "checkpoint exists" test -s "$T/ck.safetensors"
check "no temporaries left" test "$(ls "$T" | grep -c tmp)" -eq 0

# ---- Python reads the checkpoint (python3 alone) ------------------------------------
if [ -x "$PY" ]; then
  "$PY" "$ROOT/tools/read_safetensors.py" "$T/ck.safetensors" > "$T/py" 2>&1
  check "python read-back exit 0" test $? -eq 0
  check "python sees the embedding" grep -q '^tensor "embedding/embeddings" F32 \[500,16\]' "$T/py"
  check "python sees lstm kernels" grep -q '^tensor "lstm/recurrent_kernel" F32 \[8,32\]' "$T/py"
  check "python sees rmsprop slots" grep -q '^tensor "optimizer/rms/dense/bias" F32 \[1\]' "$T/py"
  check "python sees the metadata" grep -q 'meta "format"' "$T/py"
else
  bad "/usr/bin/python3 is missing (make deps installs python3)"
fi

# ---- resume ends with the same weights, bit for bit --------------------------------
fit --epochs 4 --learning-rate 0.01 --checkpoint "$T/a.safetensors" --save-weights "$T/A.safetensors" --quiet
fit --epochs 2 --learning-rate 0.01 --checkpoint "$T/b.safetensors" --quiet
fit --epochs 4 --learning-rate 0.01 --checkpoint "$T/b.safetensors" --resume "$T/b.safetensors" \
    --save-weights "$T/B.safetensors" --quiet
check "resume exit 0" test $? -eq 0
check "resumed weights are bitwise identical" cmp -s "$T/A.safetensors" "$T/B.safetensors"
"$RNNC" "$SPEC" --interpret fit --builtin-train 256 --builtin-val 64 --batch-size 32 --seed 6 --epochs 4 \
    --resume "$T/b.safetensors" --quiet 2> "$T/err"
check "resume with another seed is refused" grep -q "was trained with --seed 5, not 6" "$T/err"

# ---- evaluate and predict on .npy data ---------------------------------------------
"$PY" - "$T" <<'EOF'
import struct, sys, random
d = sys.argv[1]
def npy(path, descr, shape, values, fmt):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))
rng = random.Random(1)
x = [rng.randrange(0, 500) for _ in range(40 * 100)]
y = [rng.randrange(0, 2) for _ in range(40)]
npy(d + "/x.npy", "<i4", "(40, 100)", x, "i")
npy(d + "/y.npy", "<f4", "(40,)", y, "f")
bad = list(x); bad[7 * 100 + 3] = 500
npy(d + "/xbad.npy", "<i4", "(40, 100)", bad, "i")
EOF
"$RNNC" "$SPEC" --interpret evaluate --weights "$T/w.safetensors" --x "$T/x.npy" --y "$T/y.npy" --json > "$T/ev"
check "evaluate exit 0" test $? -eq 0
check "evaluate prints json" grep -Eq '^\{"loss": [0-9.e-]+, "accuracy": [0-9.e-]+, "samples": 40, "seconds": [0-9.e-]+, "cpu_seconds": [0-9.e-]+\}$' "$T/ev"
"$RNNC" "$SPEC" --interpret predict --weights "$T/w.safetensors" --x "$T/x.npy" > "$T/pr"
check "predict exit 0" test $? -eq 0
check "predict prints one probability per row" test "$(grep -Ec '^0\.[0-9]{6}$|^1\.000000$' "$T/pr")" -eq 40
fit --epochs 1 --train-x "$T/x.npy" --train-y "$T/y.npy" --validation-split 0.25 --json > "$T/js" 2> "$T/jserr"
check "fit on npy with a split, json" grep -Eq '^\{"epoch": 1, "loss": .*"val_loss": .*"samples_per_second"' "$T/js"
check "json has the epoch's cpu_seconds" grep -Eq '"seconds": [0-9.e-]+, "cpu_seconds": [0-9.e-]+, "samples_per_second"' "$T/js"

# ---- text: train on an aclImdb-like directory, predict raw text from stdin ---------
fit --epochs 1 --train-text "$ROOT/tests/fixtures/aclimdb_small" --save-weights "$T/tw.safetensors" --quiet
check "fit on text exit 0" test $? -eq 0
printf 'a wonderful film\nterrible, boring and bad\n' | \
  "$RNNC" "$SPEC" --interpret predict --weights "$T/tw.safetensors" --text - > "$T/tp"
check "predict text from stdin" test "$(grep -Ec '^[01]\.[0-9]{6}$' "$T/tp")" -eq 2
"$RNNC" "$SPEC" --interpret predict --weights "$T/w.safetensors" --text - < /dev/null 2> "$T/err"
check "text needs a vocabulary" grep -q "has no vocabulary (the model was trained on token ids)" "$T/err"

# ---- errors ---------------------------------------------------------------------------
"$RNNC" "$SPEC" --interpret fit --frobnicate 2> "$T/err"
check "unknown option exits 2" test $? -eq 2
"$RNNC" "$SPEC" --interpret fit --train-x "$T/missing.npy" --train-y "$T/y.npy" 2> "$T/err"
check "missing data exits 1" test $? -eq 1
check "missing data message" grep -q "missing.npy" "$T/err"
fit --train-x "$T/xbad.npy" --train-y "$T/y.npy" 2> "$T/err"
check "bad token exits 1" test $? -eq 1
check "bad token names row and column" grep -q "xbad.npy: row 7, column 3" "$T/err"
fit --epochs 1 --checkpoint "$T/no/such/dir/ck.safetensors" > "$T/out" 2> "$T/err"
check "unwritable checkpoint exits 1" test $? -eq 1
check "unwritable checkpoint fails before training" test "$(grep -c '^Epoch' "$T/out")" -eq 0
"$RNNC" "$ROOT/specs/gru.lua" --interpret evaluate --weights "$T/w.safetensors" 2> "$T/err"
check "weights of another model are refused" grep -q "the weights are for a different model" "$T/err"
cp "$T/ck.safetensors" "$T/keep.safetensors"
fit --epochs 3 --learning-rate 1e38 --checkpoint "$T/ck.safetensors" > "$T/out" 2> "$T/err"
check "exploding training exits 1" test $? -eq 1
check "exploding training names epoch and step" grep -Eq "epoch [0-9]+, step [0-9]+/8: the (loss is (nan|infinite)|gradients are not finite)" "$T/err"

# ---- Ctrl-C stops at the end of a batch and says where to resume --------------------
"$RNNC" "$SPEC" --interpret fit --builtin-train 2000 --builtin-val 64 --batch-size 32 --epochs 1000 \
    --checkpoint "$T/int.safetensors" > "$T/out" 2> "$T/err" &
pid=$!
for _ in $(seq 1 200); do [ -s "$T/int.safetensors" ] && break; sleep 0.05; done
kill -INT $pid
wait $pid
check "interrupted fit exits 130" test $? -eq 130
check "interrupt message names the resume" grep -q "Resume from the last checkpoint (epoch [0-9]*) with --resume $T/int.safetensors" "$T/err"
check "interrupt leaves no temporaries" test "$(ls "$T" | grep -c tmp)" -eq 0

finish
