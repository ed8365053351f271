#!/usr/bin/env bash
# text_data.sh — the trainer's data files as a user hands them over: training text
# whose bytes are not UTF-8 (its vocabulary saved, read back, used by predict, evaluate
# and --resume), an embedding too small for the reserved text ids (refused before
# training), and FIFOs, devices or directories where a file is expected (refused at
# once, naming the path, never blocking in open()).
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
tmpdir
cd "$T" || exit 1
cat > tiny.lua <<'EOF'
return sequential "tiny" {
  embedding { 50, 4, input_length = 8 },
  simple_rnn { 3 },
  dense { 1, activation = "sigmoid" },
  fit = { epochs = 1, batch_size = 4 },
}
EOF
sed 's/embedding { 50,/embedding { 4,/' tiny.lua > small.lua
run() { "$RNNC" "$T/tiny.lua" --interpret "$@"; }

# ---- text that is not UTF-8 trains, saves its vocabulary and reads it back ----------
printf '1\tcaf\xe9 good \x96 fine\n0\tbad \x96 film\n1\tgood CAF\xe9\n0\tbad bad\n' > t.tsv
run fit --train-text t.tsv --epochs 2 --checkpoint ck.safetensors --save-weights w.safetensors --quiet 2> err
check "fit on non-UTF-8 text exit 0" test $? -eq 0 || cat err
check "checkpoint written" test -s ck.safetensors
check "weights written" test -s w.safetensors
if [ -x "$PY" ]; then
  "$PY" - w.safetensors > vocab <<'EOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
print(json.loads(b[8:8 + n].decode("utf-8"))["__metadata__"]["vocabulary"])
EOF
  check "vocabulary stored with escapes" test "$(head -c 200 vocab | tr '\n' ' ')" = 'bad caf\xe9 good \x96 film fine '
else
  bad "/usr/bin/python3 is missing (make deps installs python3)"
fi
printf 'caf\xe9 good\nbad \x96\n' | run predict --weights w.safetensors --text - > pr 2> err
check "predict with that vocabulary" test "$(grep -Ec '^[01]\.[0-9]{6}$' pr)" -eq 2 || cat err
run evaluate --weights w.safetensors --text t.tsv > ev 2> err
check "evaluate with that vocabulary" grep -q '^4 samples - loss: ' ev || cat ev err
run fit --train-text t.tsv --epochs 3 --resume ck.safetensors --quiet 2> err
check "resume with that vocabulary" test $? -eq 0 || cat err

# ---- an embedding too small for the reserved ids is refused before training --------
"$RNNC" "$T/small.lua" --interpret fit --train-text t.tsv --epochs 1 > out 2> err
check "input_dim 4 on text exits 1" test $? -eq 1
check "input_dim 4 on text: the reason" grep -qx "fit: the embedding's input_dim 4 is too small for text data: ids 0..3 are reserved (0 padding, 1 start, 2 out-of-vocabulary, 3 unused), so words start at id 4; use input_dim >= 5" err || cat err
check "input_dim 4 on text: no epoch ran" test "$(grep -c '^Epoch' out)" -eq 0

# ---- a FIFO, a device or a directory where a file is expected -----------------------
mkfifo fifo
"$PY" - <<'EOF'
import struct
def npy(path, descr, shape, data, fmt):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    h += " " * (63 - (10 + len(h)) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<%d%s" % (len(data), fmt), *data))
npy("x.npy", "<i4", "(4, 8)", list(range(32)), "i")
npy("y.npy", "<f4", "(4,)", [0, 1, 0, 1], "f")
EOF
mkdir -p imdb/neg imdb/pos && echo fine > imdb/neg/1.txt && echo good > imdb/pos/1.txt && mkfifo imdb/pos/2.txt
mkdir -p imdb2/neg/3.txt imdb2/pos && echo good > imdb2/pos/1.txt
refused() {  # refused WHAT MESSAGE ARGS...: exit 1 at once with "fit: MESSAGE" (or evaluate)
  local what=$1 msg=$2; shift 2
  timeout 20 "$RNNC" "$T/tiny.lua" --interpret "$@" > out 2> err
  local rc=$?
  check "$what: exit 1 (not blocked)" test $rc -eq 1 || { echo "exit $rc"; cat err; }
  check "$what: message" grep -qxF "$msg" err || cat err
}
refused "--train-text FIFO" "fit: $T/fifo: is a FIFO (named pipe), not a regular file" fit --train-text "$T/fifo"
refused "--train-text folder with a FIFO" "fit: imdb/pos/2.txt: is a FIFO (named pipe), not a regular file" fit --train-text imdb
refused "--train-text folder with a directory" "fit: imdb2/neg/3.txt: is a directory, not a text file" fit --train-text imdb2
refused "--train-x FIFO" "fit: fifo: is a FIFO (named pipe), not a regular file" fit --train-x fifo --train-y y.npy
refused "--train-y FIFO" "fit: fifo: is a FIFO (named pipe), not a regular file" fit --train-x x.npy --train-y fifo
refused "--train-x directory" "fit: imdb: is a directory, not a .npy file" fit --train-x imdb --train-y y.npy
refused "--train-x device" "fit: /dev/null: is a character device, not a regular file" fit --train-x /dev/null --train-y y.npy
refused "--init-weights FIFO" "fit: fifo: is a FIFO (named pipe), not a regular file" fit --train-x x.npy --train-y y.npy --init-weights fifo
refused "--resume FIFO" "fit: fifo: is a FIFO (named pipe), not a regular file" fit --train-x x.npy --train-y y.npy --resume fifo
refused "--weights FIFO" "evaluate: fifo: is a FIFO (named pipe), not a regular file" evaluate --weights fifo --x x.npy --y y.npy
refused "evaluate --text FIFO" "evaluate: fifo: is a FIFO (named pipe), not a regular file (a stream is read from stdin: --text -)" evaluate --weights w.safetensors --text fifo
# predict reads a file of lines as the other readers read text
printf 'caf\xe9 good\nbad \x96 film\n\ngood\n' > lf.txt
printf '\xef\xbb\xbfcaf\xe9 good\rbad \x96 film\r\n\rgood' > cr.txt
run predict --weights w.safetensors --text lf.txt --text-unit line > p_lf 2> err
check "predict a file" test "$(grep -Ec '^[01]\.[0-9]{6}$' p_lf)" -eq 4 || cat err
run predict --weights w.safetensors --text cr.txt --text-unit line > p_cr 2> err
check "CR, CRLF, a BOM and no final newline read as LF lines" cmp -s p_lf p_cr || cat err
run predict --weights w.safetensors --text - < cr.txt > p_in 2> err
check "the same from stdin" cmp -s p_lf p_in || cat err
printf 'good\nba\0d\n' > nul.txt
run predict --weights w.safetensors --text nul.txt > out 2> err
check "NUL: exit 1" test $? -eq 1
check "NUL: file:line:column" grep -qxF "predict: nul.txt:2:3: NUL byte in the text (is the file UTF-16 or binary?)" err || cat err
refused "predict --text FIFO" "predict: fifo: is a FIFO (named pipe), not a regular file (a stream is read from stdin: --text -)" predict --weights w.safetensors --text fifo
finish
