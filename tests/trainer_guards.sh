#!/usr/bin/env bash
# trainer_guards.sh — what the trainer must refuse or must not do silently, through its
# command line (`rnnc SPEC --interpret ...`): every callback keeps its own state and
# every save it decides happens, across a resume too (and an earlier rnnc's
# single-state checkpoint resumes where that is unambiguous); --init-weights keeps the
# checkpoint's vocabulary; JSON is valid and a failed write to stdout is an error;
# --threads is capped; resume metadata is checked for type and range; a replaced file
# keeps only its permission bits; spec-chosen output paths stay in the working
# directory; SIGTERM while the final weights are written leaves no temporary.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
tmpdir
cd "$T" || exit 1   # specs' relative paths land in here

# safetensors surgery for the crafted checkpoints: load, change, save (offsets are
# relative to the end of the header, so the data stays as it is)
cat > st.py <<'EOF'
import json, struct
def load(path):
    b = open(path, "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    return json.loads(b[8:8 + n]), b[8 + n:]
def save(path, header, data):
    s = json.dumps(header).encode()
    s += b" " * ((8 - len(s) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(s)) + s + data)
def meta(path):
    return load(path)[0]["__metadata__"]
EOF
export PYTHONPATH="$T"

spec() {   # spec NAME CALLBACKS... : the small model with these callbacks
  local name=$1; shift
  local cbs=""
  for c in "$@"; do cbs="$cbs    $c,
"; done
  cat > "$name.lua" <<EOF
return sequential "guards" {
  embedding { 50, 4, input_length = 10 },
  lstm { 4 },
  dense { 1, activation = "sigmoid" },
  compile = { optimizer = rmsprop { learning_rate = 0.01 }, loss = "binary_crossentropy", metrics = { "accuracy" } },
  fit = { epochs = 1, batch_size = 8, seed = 3, callbacks = {
$cbs  } },
}
EOF
}
trn() { local s=$1; shift; "$RNNC" "$T/$s.lua" --interpret "$@"; }
fitd() { local s=$1; shift; trn "$s" fit --builtin-train 64 --builtin-val 16 "$@"; }

# ============ 1. every callback has its own state; every decided save happens ==========
spec cbs 'model_checkpoint { "best.st", save_best_only = true }' 'model_checkpoint { "last.st" }' \
  'model_checkpoint { "besta.st", save_best_only = true, monitor = "val_accuracy" }' \
  'early_stopping { patience = 100 }' 'early_stopping { patience = 100, monitor = "val_accuracy", restore_best_weights = true }'
mkdir a b
(cd a && fitd cbs --epochs 4 > out 2>&1)
check "callbacks: 4 epochs (exit 0)" test $? -eq 0 || cat a/out
check "callbacks: val_loss starts from its own best (inf)" grep -q "^Epoch 1: val_loss improved from inf to [0-9.]*, saving model to best.st$" a/out || cat a/out
check "callbacks: val_accuracy starts from its own best (-inf)" grep -q "^Epoch 1: val_accuracy improved from -inf to [0-9.]*, saving model to besta.st$" a/out
check "callbacks: the save_best_only checkpoint is written beside the every-epoch one" test -s a/best.st -a -s a/besta.st -a -s a/last.st
check "callbacks: best.st is the epoch its message named" test "$($PY -c 'import st; print(st.meta("a/best.st")["epoch"])')" = \
  "$(sed -n 's/^Epoch \([0-9]*\): val_loss improved.*/\1/p' a/out | tail -n 1)"
check "callbacks: best.st records its own monitor" test "$($PY -c 'import st; print(st.meta("a/best.st")["monitor"])')" = val_loss
check "callbacks: besta.st records its own monitor" test "$($PY -c 'import st; print(st.meta("a/besta.st")["monitor"])')" = val_accuracy
(cd b && fitd cbs --epochs 2 > out 2>&1 && cp last.st last2.st && fitd cbs --epochs 4 --resume last.st >> out 2>&1)
check "callbacks: 2 epochs, then a resume to 4 (exit 0)" test $? -eq 0 || cat b/out
for f in best.st last.st besta.st; do
  check "callbacks: $f after the resume is byte-identical to the uninterrupted run's" cmp -s a/$f b/$f
done

# An earlier rnnc's checkpoint ("rnnc-checkpoint/1": one checkpoint_best and one
# early_stopping state for all callbacks) resumes when the spec has at most one of each.
spec one 'model_checkpoint { "best1.st", save_best_only = true }' 'model_checkpoint { "last1.st" }' \
  'early_stopping { patience = 100, restore_best_weights = true }'
mkdir c d
(cd c && fitd one --epochs 4 --save-weights w.st > out 2>&1)
check "legacy: 4 uninterrupted epochs (exit 0)" test $? -eq 0 || cat c/out
(cd d && fitd one --epochs 2 > out 2>&1)
cat > legacy.py <<'EOF'
# Rewrite a checkpoint of this rnnc as an earlier rnnc wrote it.
import sys, st
h, d = st.load(sys.argv[1])
m = h["__metadata__"]
m["format"] = "rnnc-checkpoint/1"
best = "inf"
es = "wait=0 best=inf best_epoch=0 stopped=0"
for i in range(int(m.pop("callbacks"))):
    f = m.pop("callback/%d" % i).split(" ")
    s = dict(kv.split("=", 1) for kv in f[1:])
    if f[0] == "model_checkpoint" and "best" in s: best = s["best"]
    if f[0] == "early_stopping":
        es = "wait=%s best=%s best_epoch=%s stopped=%s" % (s["wait"], s["best"], s["best_epoch"], s["stopped"])
m["checkpoint_best"] = best
m["early_stopping"] = es
for k in [k for k in h if k.startswith("early_stopping/")]:
    h["early_stopping/best/" + k.split("/", 3)[3]] = h.pop(k)
st.save(sys.argv[2], h, d)
EOF
$PY legacy.py d/last1.st d/old.st
check "legacy: the converted checkpoint says rnnc-checkpoint/1" test "$($PY -c 'import st; print(st.meta("d/old.st")["format"])')" = rnnc-checkpoint/1
(cd d && fitd one --epochs 4 --resume old.st --save-weights w.st >> out 2>&1)
check "legacy: resume from an rnnc-checkpoint/1 file (exit 0)" test $? -eq 0 || cat d/out
for f in best1.st last1.st w.st; do
  check "legacy: $f equals the uninterrupted run's" cmp -s c/$f d/$f
done
$PY legacy.py b/last2.st b/old.st
(cd b && fitd cbs --epochs 4 --resume old.st > out2 2> err)
check "legacy: ambiguous with two save_best_only checkpoints: exit 1" test $? -eq 1
check "legacy: ambiguous: the message says why" grep -qF "fit: old.st: a checkpoint of an earlier rnnc, with one state for all callbacks; this spec has 2 save_best_only model_checkpoint and 2 early_stopping callbacks: cannot resume (--init-weights old.st starts from its weights)" b/err || cat b/err

# ============ 2. --init-weights keeps the checkpoint's vocabulary =====================
spec plain
printf '1\ta wonderful film\n0\tdull, dull and bad\n1\tnew words nobody used\n' > other.tsv
fitd plain --epochs 1 --train-text "$ROOT/tests/fixtures/aclimdb_small" --save-weights tw.st --quiet
check "vocab: train on text (exit 0)" test $? -eq 0
fitd plain --epochs 1 --init-weights tw.st --train-text other.tsv --save-weights t2.st --quiet
check "vocab: --init-weights with other text (exit 0)" test $? -eq 0
check "vocab: the new weights carry the checkpoint's vocabulary" \
  $PY -c 'import st, sys; sys.exit(st.meta("tw.st")["vocabulary"] != st.meta("t2.st")["vocabulary"])'
fitd plain --epochs 1 --save-weights w.st --quiet
fitd plain --epochs 1 --init-weights w.st --train-text other.tsv --quiet 2> err
check "vocab: weights without a vocabulary and --train-text: exit 1" test $? -eq 1
check "vocab: ... with the reason" grep -qF "fit: w.st has no vocabulary (its weights were trained on token ids): text would get new ids, and every embedding row would mean another word; train on --train-x/--train-y, or without --init-weights" err || cat err

# ============ 3. valid JSON; a failed write to stdout is an error =====================
$PY - <<'EOF'
import struct, st
h, d = st.load("w.st")
d = bytearray(d)
for k, v in h.items():
    if k != "__metadata__":
        a, b = v["data_offsets"]
        for i in range(a, b, 4): d[i:i + 4] = struct.pack("<f", 3e38 if (i // 4) % 2 else -3e38)
st.save("huge.st", h, bytes(d))
EOF
trn plain evaluate --weights huge.st --builtin-val 16 --json > ev.json 2> err
check "json: evaluate of overflowing weights (exit 0)" test $? -eq 0
check "json: the loss is null, the object valid JSON" \
  $PY -c 'import json, sys; o = json.load(open("ev.json")); sys.exit(not (o["loss"] is None and o["samples"] == 16))' || cat ev.json
for cmd in "summary" "fit --builtin-train 64 --builtin-val 16 --json" "fit --builtin-train 64 --builtin-val 16" \
           "evaluate --weights w.st --builtin-val 16 --json" "predict --weights tw.st --text other.tsv" \
           "selftest" "fit --help"; do
  # shellcheck disable=SC2086  # the command's words
  trn plain $cmd > /dev/full 2> err
  check "full stdout: '$cmd' exits 1" test $? -eq 1
  check "full stdout: '$cmd' says so" grep -q "cannot write to stdout: No space left on device$" err || cat err
done

# ============ 4. --threads: one cap, and the machine's cores =========================
CORES=$(getconf _NPROCESSORS_ONLN)
for cmd in "evaluate --weights w.st --builtin-val 16" "predict --weights tw.st --text -" "fit --builtin-train 64 --builtin-val 16"; do
  # shellcheck disable=SC2086
  timeout 20 "$RNNC" "$T/plain.lua" --interpret $cmd --threads 2147483647 < /dev/null > /dev/null 2> err
  check "threads: '${cmd%% *} --threads 2147483647' is a usage error (exit 2)" test $? -eq 2
  check "threads: '${cmd%% *}' names the range" grep -qF -- "--threads: expected 0 (every core) to 1024, got '2147483647'" err || cat err
done
trn plain evaluate --weights w.st --builtin-val 16 --threads $((CORES + 1)) > /dev/null 2> err
check "threads: more than the cores (exit 0)" test $? -eq 0
check "threads: more than the cores is clamped with a note" \
  grep -qF -- "evaluate: --threads $((CORES + 1)): this machine has $CORES cores; using $CORES (--threads-over-cores keeps $((CORES + 1)))" err || cat err
trn plain fit --builtin-train 64 --builtin-val 16 --threads $((CORES + 1)) --threads-over-cores --quiet 2> err
check "threads: --threads-over-cores keeps the number (exit 0, no note)" test $? -eq 0 -a ! -s err

# ============ 5. resume metadata: type and range =====================================
fitd plain --epochs 2 --checkpoint ck.st --seed 3 --quiet
check "metadata: a 2-epoch checkpoint" test -s ck.st
craft() {   # craft OUT KEY VALUE: ck.st with one metadata value replaced
  $PY - "$@" <<'EOF'
import sys, st
h, d = st.load("ck.st")
h["__metadata__"][sys.argv[2]] = sys.argv[3]
st.save(sys.argv[1], h, d)
EOF
}
resume_err() { fitd plain --epochs 3 --resume "$1" --seed 3 --quiet 2> err; }
meta_case() {   # meta_case KEY VALUE MESSAGE
  local what="$1=${2%%$'\n'*}"
  craft m.st "$1" "$2"
  resume_err m.st
  check "metadata: $what: exit 1" test $? -eq 1
  check "metadata: $what: the message" grep -qF "fit: m.st: $3" err || cat err
}
meta_case iterations 9223372036854775807 'metadata "iterations" must be an integer in [0, 9007199254740992] (got "9223372036854775807")'
meta_case iterations 4294967314 'metadata "iterations" is 4294967314, but 2 epochs of 8 steps are 16'
meta_case batch_size 4294967304 'metadata "batch_size" must be an integer in [1, 65536] (got "4294967304")'
meta_case epoch 4294967298 'metadata "epoch" must be an integer in [0, 100000000] (got "4294967298")'
meta_case epoch " 2" 'metadata "epoch" must be an integer in [0, 100000000] (got " 2")'
meta_case seed abc 'metadata "seed" must be an integer in [0, 18446744073709551615] (got "abc")'
meta_case seed -1 'metadata "seed" must be an integer in [0, 18446744073709551615] (got "-1")'
meta_case seed 18446744073709551616 'metadata "seed" must be an integer in [0, 18446744073709551615] (got "18446744073709551616")'
meta_case data_hash xyz 'metadata "data_hash" must be 16 hexadecimal digits (got "xyz")'
meta_case callbacks 10 'metadata "callbacks" must be an integer in [0, 9] (got "10")'
meta_case history "0 0.5 0.5 0.5 0.5
7 0.5 0.5 0.5 0.5
" 'metadata "history" line 2 must be "1" and 4 numbers (got "7 0.5 0.5 0.5 0.5")'
craft m.st seed 4
resume_err m.st
check "metadata: another seed is refused as before" grep -qF "fit: m.st: the checkpoint was trained with --seed 4, not 3" err || cat err
$PY - <<'EOF'
import st
h, d = st.load("ck.st")
a, b = h["optimizer/rms/dense/bias"]["data_offsets"]
h["optimizer/m/dense/bias"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(d), len(d) + b - a]}
st.save("opt.st", h, d + d[a:b])        # the bias's slot again, under adam's "m"
EOF
resume_err opt.st
check "metadata: an unknown optimizer tensor: exit 1" test $? -eq 1
check "metadata: an unknown optimizer tensor: the message" grep -qF "fit: opt.st: tensor 'optimizer/m/dense/bias' is not a slot of rmsprop" err || cat err

# ============ 6. a replaced file keeps only its permission bits ======================
for f in mode_ck.st mode_w.st; do : > $f; chmod 6755 $f; done
fitd plain --epochs 1 --checkpoint mode_ck.st --save-weights mode_w.st --quiet
check "mode: fit (exit 0)" test $? -eq 0
check "mode: the checkpoint drops setuid and setgid" test "$(stat -c %a mode_ck.st)" = 755
check "mode: the weights drop setuid and setgid" test "$(stat -c %a mode_w.st)" = 755

# ============ 7. spec-chosen paths stay in the working directory =====================
mkdir -p sub/x
path_case() {   # path_case NAME CALLBACK WHAT
  spec "$1" "$2"
  (cd sub && fitd "$1" --epochs 1 > out 2> err)
  check "paths: $1: exit 1" test $? -eq 1
  check "paths: $1: refused before training" test "$(grep -c '^Epoch' sub/out)" -eq 0
  check "paths: $1: the message" grep -qF "$3" sub/err || cat sub/err
}
path_case abs "model_checkpoint { \"$T/abs.st\" }" \
  "fit: $T/abs.lua:7: model_checkpoint: filepath \"$T/abs.st\" is outside the working directory (an absolute path); give --checkpoint F, or --allow-spec-paths to write it"
check "paths: abs: nothing written" test ! -e "$T/abs.st"
path_case up 'model_checkpoint { "../up.st", save_best_only = true }' \
  "fit: $T/up.lua:7: model_checkpoint: filepath \"../up.st\" is outside the working directory (it has a '..'); give --checkpoint F, or --allow-spec-paths to write it"
path_case csv 'csv_logger { "x/../../h.csv" }' \
  "fit: $T/csv.lua:7: csv_logger: filename \"x/../../h.csv\" is outside the working directory (it has a '..'); give --allow-spec-paths to write it"
(cd sub && fitd abs --epochs 1 --checkpoint "$T/sub/mine.st" --quiet)
check "paths: --checkpoint overrides the spec's path (exit 0)" test $? -eq 0 -a -s sub/mine.st -a ! -e abs.st
(cd sub && fitd csv --epochs 1 --allow-spec-paths --quiet)
check "paths: --allow-spec-paths writes the spec's path" test $? -eq 0 -a -s "$T/h.csv"

# ============ 8. SIGTERM while the last files are written ============================
# A model whose files take long enough to write (26 MB): the test waits for the end of
# the only epoch (its JSON line), then for the temporary of the file, and sends SIGTERM
# while it exists (up to 5 tries until one lands inside the write): the checkpoint of
# the last epoch, then the final --save-weights.
cat > big.lua <<'EOF'
return sequential "big" {
  embedding { 400000, 16, input_length = 4 },
  simple_rnn { 2 },
  dense { 1, activation = "sigmoid" },
  compile = { optimizer = "sgd", loss = "binary_crossentropy" },
  fit = { epochs = 1, batch_size = 16 },
}
EOF
$PY - <<'EOF'
import struct
def npy(path, descr, shape, values, fmt):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))
npy("bx.npy", "<i4", "(16, 4)", [(7 * i) % 400000 for i in range(64)], "i")
npy("by.npy", "<f4", "(16,)", [i % 2 for i in range(16)], "f")
EOF
cat > term.py <<'EOF'
# term.py RNNC DIR OPTION: fit writing DIR/f.st through OPTION; SIGTERM while its
# temporary exists. Prints "hit|missed EXIT" and the run's stderr.
import os, signal, subprocess, sys, time
rnnc, d, opt = sys.argv[1:4]
for attempt in range(5):
    for f in os.listdir(d): os.unlink(os.path.join(d, f))
    p = subprocess.Popen([rnnc, "big.lua", "--interpret", "fit", "--train-x", "bx.npy", "--train-y", "by.npy",
                          "--json", opt, os.path.join(d, "f.st")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()                       # the epoch's line: training is over
    hit = False
    deadline = time.time() + 30
    while p.poll() is None and time.time() < deadline:
        if any(".tmp." in f for f in os.listdir(d)):
            p.send_signal(signal.SIGTERM)
            hit = True
            break
    out, err = p.communicate()
    if hit: break
rc = p.returncode
print("hit" if hit else "missed", 128 - rc if rc < 0 else rc)
sys.stdout.write(err.decode())
EOF
for opt in --checkpoint --save-weights; do
  rm -rf term && mkdir term
  $PY term.py "$RNNC" term $opt > term.result 2>&1
  read -r hit code < term.result
  check "sigterm in the last $opt write: the signal landed while the temporary existed" test "$hit" = hit || cat term.result
  check "sigterm in the last $opt write: exit 143" test "$code" = 143 || cat term.result
  check "sigterm in the last $opt write: no temporaries" test "$(find term -name '*.tmp.*' | wc -l)" -eq 0
  check "sigterm in the last $opt write: the file is absent or complete" \
    sh -c '! test -e term/f.st || "$1" big.lua --interpret evaluate --weights term/f.st --x bx.npy --y by.npy > /dev/null' - "$RNNC"
  if [ -e term/f.st ]; then
    check "sigterm in the last $opt write: the message" grep -qx "fit: terminated (SIGTERM) at the end of training; every file was written completely" term.result || cat term.result
  fi
done

# ============ the exit codes in the help =============================================
check "help: exit codes list 143" sh -c '"$1" "$2" --interpret --help | grep -qF "130 interrupted (Ctrl-C), 143 terminated (SIGTERM)"' - "$RNNC" "$T/plain.lua"

finish
