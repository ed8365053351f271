#!/usr/bin/env bash
# controls.sh — the training controls of a trainer, end to end (`rnnc SPEC --interpret`
# and generated trainers): multi-label and one-hot outputs with auc, precision and
# recall in every output; class and sample weights, checked against the weighted loss
# recomputed here from predict's probabilities; learning-rate schedules and
# reduce_lr_on_plateau through a bit-exact --resume; a frozen, pretrained embedding;
# the embedding clipped per lookup in generated code; what a sample of --text is; the
# final weights every fit leaves; outputs that would overwrite inputs or each other;
# and the trainer's and tools' rough edges (exit codes, messages, --help).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
tmpdir
# under make test-asan the runtime is instrumented, and the trainers linked with it must be
if [ -n "$SAN" ]; then export CFLAGS="-O1 $SAN"; fi
cd "$T" || exit 1

# ---- data: 3 labels per row, one-hot rows of 4 classes, sample weights ------------------
"$PY" - <<'EOF'
import random, struct
def npy(path, descr, shape, values, fmt):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))
rng = random.Random(7)
N, T = 96, 8
x = [rng.randrange(0, 30) for _ in range(N * T)]
ml, oh, y1 = [], [], []
for i in range(N):
    row = x[i * T:(i + 1) * T]
    ml += [float(5 in row), float(sum(row) % 2), float(row[-1] < 15)]
    c = row[0] % 4
    oh += [1.0 if k == c else 0.0 for k in range(4)]
    y1.append(float(row[-1] < 15))
npy("x.npy", "<i4", "(%d, %d)" % (N, T), x, "i")
npy("yml.npy", "<f4", "(%d, 3)" % N, ml, "f")
npy("yoh.npy", "<f4", "(%d, 4)" % N, oh, "f")
npy("y1.npy", "<f4", "(%d,)" % N, y1, "f")
npy("sw.npy", "<f4", "(%d,)" % N, [0.5 + (i % 4) for i in range(N)], "f")
npy("glove.npy", "<f4", "(30, 4)", [round(rng.uniform(-1, 1), 3) for _ in range(120)], "f")
EOF
cat > ml.lua <<'EOF'
return sequential "ml" {
  embedding { 30, 4, input_length = 8 },
  gru { 5 },
  dense { 3, activation = "sigmoid" },
  compile = { optimizer = adam { learning_rate = 0.02, clipnorm = 0.5 }, loss = "binary_crossentropy",
              metrics = { "accuracy", "auc", "precision", "recall" } },
  fit = { epochs = 2, batch_size = 16, validation_split = 0.25, shuffle = false },
}
EOF
cat > oh.lua <<'EOF'
return sequential "oh" {
  embedding { 30, 4, input_length = 8 },
  lstm { 6 },
  dense { 4, activation = "softmax" },
  compile = { optimizer = rmsprop { learning_rate = exponential_decay { 0.02, 3, 0.5, staircase = true } },
              loss = "categorical_crossentropy", metrics = { "accuracy", "auc" } },
  fit = { epochs = 4, batch_size = 16, validation_split = 0.25, class_weight = { [0] = 1, [1] = 2, [2] = 0.5, [3] = 1 } },
}
EOF
cat > plateau.lua <<'EOF'
return sequential "plateau" {
  embedding { 30, 4, input_length = 8 },
  simple_rnn { 4 },
  dense { 1, activation = "sigmoid" },
  compile = { optimizer = sgd { learning_rate = 0.5, momentum = 0.9 }, metrics = { "accuracy" } },
  fit = { epochs = 4, batch_size = 16, validation_split = 0.25,
          callbacks = { reduce_lr_on_plateau { monitor = "val_loss", patience = 0, factor = 0.5, min_delta = 10 } } },
}
EOF
cat > frozen.lua <<'EOF'
return sequential "frozen" {
  embedding { 30, 4, input_length = 8, trainable = false },
  lstm { 3 },
  dense { 1, activation = "sigmoid" },
  compile = { optimizer = rmsprop { learning_rate = 0.05, clipvalue = 0.01 } },
  fit = { epochs = 2, batch_size = 16 },
}
EOF
I() { local spec=$1; shift; "$RNNC" "$spec" --interpret "$@"; }

# ---- multi-label output: loss, accuracy, auc, precision, recall everywhere -----------
I ml.lua fit --train-x x.npy --train-y yml.npy --history ml.csv --save-weights ml.st > ml.out 2>&1
check "multi-label fit exit 0" test $? -eq 0 || cat ml.out
check "progress line shows the metrics" grep -Eq ' - auc: [0-9.]+ - precision: [0-9.]+ - recall: [0-9.]+ - val_loss: .* - val_auc: ' ml.out
check "CSV columns in Keras's order" grep -q '^epoch,accuracy,auc,loss,precision,recall,val_accuracy,val_auc,val_loss,val_precision,val_recall' ml.csv
I ml.lua fit --train-x x.npy --train-y yml.npy --json --save-weights ml2.st > ml.json 2> /dev/null
check "JSON has every metric" grep -Eq '^\{"epoch": 1, "loss": .*"accuracy": .*"auc": .*"precision": .*"recall": .*"val_auc": .*"val_recall": ' ml.json
I ml.lua predict --weights ml.st --x x.npy > ml.pred
check "predict prints 3 probabilities a row" test "$(grep -Ec '^[01]\.[0-9]{6} [01]\.[0-9]{6} [01]\.[0-9]{6}$' ml.pred)" -eq 96
"$PY" - <<'EOF' > ml.eval.want
import struct
def load(path):
    b = open(path, "rb").read(); hl = struct.unpack("<H", b[8:10])[0]
    return struct.unpack("<%df" % ((len(b) - 10 - hl) // 4), b[10 + hl:])
import math
y = load("yml.npy"); p = [[float(v) for v in l.split()] for l in open("ml.pred")]
loss = sum(sum(-(yk * math.log(pk) + (1 - yk) * math.log(1 - pk)) for pk, yk in zip(row, y[3*i:3*i+3])) / 3
           for i, row in enumerate(p)) / len(p)
# "accuracy" of a multi-label output is Keras's categorical accuracy: argmax against argmax
acc = sum(max(range(3), key=lambda k: row[k]) == max(range(3), key=lambda k: y[3*i+k]) for i, row in enumerate(p)) / len(p)
print("%.4f %.4f" % (loss, acc))
EOF
I ml.lua evaluate --weights ml.st --x x.npy --y yml.npy > ml.eval
read -r wl wa < ml.eval.want
check "evaluate's loss and accuracy are the multi-label ones recomputed from predict" \
  grep -q "96 samples - loss: $wl - accuracy: $wa" ml.eval || { cat ml.eval ml.eval.want; }

# ---- generated code trains the same way ---------------------------------------------
"$RNNC" ml.lua -o ml_gen > gen.out 2>&1 && "$RNNC" oh.lua -o oh_gen >> gen.out 2>&1
check "the trainers build" test $? -eq 0 || cat gen.out
./ml_gen selftest > st1 && ./oh_gen selftest > st2
check "their selftests pass" test $? -eq 0 || cat st1 st2
check "selftest checks the per-lookup norm" grep -q "embedding lookups' sum of squares" st1
"$RNNC" ml.lua -o ml_gen.c
check "clipping per lookup keeps the embedding's rows: no fold" sh -c \
  'grep -q "w->base.block_lookup\[g\] = rnn_gen_lookup_rows" ml_gen.c && ! grep -q "is folded into" ml_gen.c'
./ml_gen fit --train-x x.npy --train-y yml.npy --history gml.csv --save-weights gml.st --threads 2 > /dev/null 2>&1
I ml.lua fit --train-x x.npy --train-y yml.npy --history iml.csv --save-weights iml.st > /dev/null 2>&1
./oh_gen fit --train-x x.npy --train-y yoh.npy --history goh.csv --save-weights goh.st > /dev/null 2>&1
I oh.lua fit --train-x x.npy --train-y yoh.npy --history ioh.csv --save-weights ioh.st > /dev/null 2>&1
agree() {   # two history CSVs agree to 1e-4 in every value
  "$PY" - "$1" "$2" <<'EOF'
import sys
a = [l.strip().split(",") for l in open(sys.argv[1])]
b = [l.strip().split(",") for l in open(sys.argv[2])]
assert a[0] == b[0] and len(a) == len(b) > 1, (a[0], b[0])
worst = max(abs(float(u) - float(v)) for ra, rb in zip(a[1:], b[1:]) for u, v in zip(ra, rb))
sys.exit(0 if worst <= 1e-4 else 1)
EOF
}
check "multi-label: generated and interpreter histories agree" agree gml.csv iml.csv
check "one-hot, class weights, schedule: histories agree" agree goh.csv ioh.csv

# ---- class and sample weights: the reported loss is Keras's sum_i w_i l_i / N ----------
wloss() {   # the weighted binary loss of predict's probabilities on x.npy; $1: weights of each row
  "$PY" - "$1" <<'EOF'
import math, struct, sys
def load(path):
    b = open(path, "rb").read(); hl = struct.unpack("<H", b[8:10])[0]
    return struct.unpack("<%df" % ((len(b) - 10 - hl) // 4), b[10 + hl:])
y = load("y1.npy"); p = [float(l) for l in open("w.pred")]
w = load("sw.npy") if sys.argv[1] == "file" else [{0: 1.0, 1: 3.0}[int(v)] for v in y]
print("%.4f" % (sum(wi * -(yi * math.log(pi) + (1 - yi) * math.log(1 - pi)) for wi, yi, pi in zip(w, y, p)) / len(p)))
EOF
}
cat > flat.lua <<'EOF'
return sequential "flat" {
  embedding { 30, 4, input_length = 8 },
  simple_rnn { 3 },
  dense { 1, activation = "sigmoid" },
  compile = { optimizer = sgd { learning_rate = 1e-30 } },
  fit = { epochs = 1, batch_size = 96, shuffle = false },
}
EOF
for how in class file; do
  if [ $how = class ]; then opt=(--class-weight 0:1,1:3); else opt=(--train-sample-weight sw.npy); fi
  I flat.lua fit --train-x x.npy --train-y y1.npy "${opt[@]}" --save-weights w.st > w.out 2>&1
  I flat.lua predict --weights w.st --x x.npy > w.pred
  want=$(wloss $how)
  check "the $how-weighted loss is sum w l / N" grep -q "loss: $want\$" w.out || { cat w.out; echo "want $want"; }
done
I flat.lua fit --train-x x.npy --train-y y1.npy --save-weights w.st > w.out 2>&1
check "unweighted, the loss differs" test "$(grep -o 'loss: [0-9.]*$' w.out)" != "loss: $want"
I flat.lua fit --train-x x.npy --train-y y1.npy --class-weight 0:1,2:3 2> err
check "--class-weight needs every class" test $? -eq 2
check "--class-weight usage message" grep -q "expected CLASS:WEIGHT,... for every class from 0" err

# ---- schedules and reduce_lr_on_plateau through --resume ---------------------------
I plateau.lua fit --train-x x.npy --train-y y1.npy --checkpoint a.st --history a.csv --save-weights A.st > pa.out 2>&1
check "reduce_lr_on_plateau reduces" grep -q "ReduceLROnPlateau reducing learning rate to 0.25" pa.out || cat pa.out
check "the history has the lr column" grep -q '^epoch,accuracy,loss,lr,val_accuracy,val_loss' a.csv
# (the rate of each epoch: epoch 0 sets the best; none after it improves by min_delta 10,
# and patience 0 halves the rate at the end of each, for the next epoch)
check "lr halves every epoch after the first" "$PY" -c "
import csv; r = list(csv.DictReader(open('a.csv')))
assert [float(x['lr']) for x in r] == [0.5, 0.5, 0.25, 0.125], r"
I plateau.lua fit --train-x x.npy --train-y y1.npy --epochs 2 --checkpoint b.st --quiet --save-weights B2.st
I plateau.lua fit --train-x x.npy --train-y y1.npy --checkpoint b.st --resume b.st --history b.csv --save-weights B.st --quiet
check "resumed plateau run: the same weights, bit for bit" cmp -s A.st B.st
check "and the same history" cmp -s a.csv b.csv
I oh.lua fit --train-x x.npy --train-y yoh.npy --checkpoint c.st --save-weights C.st --quiet
I oh.lua fit --train-x x.npy --train-y yoh.npy --epochs 2 --checkpoint d.st --quiet --save-weights D2.st
I oh.lua fit --train-x x.npy --train-y yoh.npy --checkpoint d.st --resume d.st --save-weights D.st --quiet
check "resumed schedule run: the same weights, bit for bit" cmp -s C.st D.st
I oh.lua fit --train-x x.npy --train-y yoh.npy --resume d.st --learning-rate 0.1 --save-weights E.st > e.out 2>&1
check "another schedule cannot resume" grep -q "the checkpoint was trained with learning_rate exponential_decay .*this run's is constant" e.out
I oh.lua fit --train-x x.npy --train-y yoh.npy --resume c.st --history past.csv --save-weights F.st > past.out 2>&1
check "a finished run resumed: exit 0" test $? -eq 0
check "it says there is nothing to train" grep -q "has already trained 4 epochs (--epochs 4): nothing to train" past.out
check "and writes the history asked for" test "$(wc -l < past.csv)" -eq 5
I oh.lua fit --train-x x.npy --train-y yoh.npy --resume C.st 2> err
check "--resume of weights only says what it needs" grep -q "holds weights only (as --save-weights writes them): --resume needs a checkpoint.*--init-weights C.st" err

# ---- a frozen, pretrained embedding ------------------------------------------------
I frozen.lua fit --train-x x.npy --train-y y1.npy --embedding-weights embedding=glove.npy --save-weights fz.st > fz.out 2>&1
check "pretrained embedding loaded" grep -q "Embedding embedding: 30 x 4 weights from glove.npy (frozen: trainable = false)" fz.out
"$PY" - "$ROOT" <<'EOF' > fz.check
import struct, subprocess, sys
b = open("glove.npy", "rb").read(); hl = struct.unpack("<H", b[8:10])[0]
want = struct.unpack("<120f", b[10 + hl:])
out = subprocess.run(["/usr/bin/python3", "%s/tools/read_safetensors.py" % sys.argv[1], "fz.st", "--values"],
                     capture_output=True, text=True).stdout.split("\n")
got = [float(v) for v in out[out.index(next(l for l in out if l.startswith('tensor "embedding/embeddings"'))) + 1].split()[1:]]
print("same" if [float(v) for v in want] == got else "moved")
EOF
check "after training, the frozen embedding is the file's, bit for bit" grep -q same fz.check
"$RNNC" frozen.lua --summary > fz.sum
check "summary counts it non-trainable" grep -q "Non-trainable params: 120 " fz.sum
I frozen.lua fit --train-x x.npy --train-y y1.npy --embedding-weights lstm=glove.npy 2> err
check "--embedding-weights names an embedding" grep -q "the model has no embedding layer named 'lstm'" err

# ---- the final weights: always saved, beside the checkpoint by default ---------------
cat > best.lua <<'EOF'
return sequential "best" {
  embedding { 30, 4, input_length = 8 },
  simple_rnn { 3 },
  dense { 1, activation = "sigmoid" },
  fit = { epochs = 1, batch_size = 32, callbacks = { model_checkpoint { "best.safetensors", save_best_only = true } } },
}
EOF
I best.lua fit --train-x x.npy --train-y y1.npy > best.out 2>&1
check "no validation data, save_best_only: exit 0" test $? -eq 0
check "it says where the final weights went" grep -q "Saved the final weights to best-final.safetensors" best.out
check "and they are there" test -s best-final.safetensors
I best.lua evaluate --weights best-final.safetensors --x x.npy --y y1.npy > /dev/null
check "and they load" test $? -eq 0

# ---- outputs never overwrite inputs or each other ------------------------------------
cp x.npy x.keep
I flat.lua fit --train-x x.npy --train-y y1.npy --checkpoint x.npy > o.out 2>&1
check "a checkpoint over the training data is refused" test $? -eq 1
check "with a message naming both" grep -q "fit: --checkpoint x.npy would write over --train-x x.npy" o.out
check "and the data is untouched" cmp -s x.npy x.keep
I flat.lua fit --train-x x.npy --train-y y1.npy --checkpoint a --history ./a > o.out 2>&1
check "two outputs in one file are refused" grep -q "fit: --checkpoint a and --history ./a are the same file" o.out
ln -s y1.npy ylink.npy
I flat.lua fit --train-x x.npy --train-y y1.npy --save-weights ylink.npy > o.out 2>&1
check "through a symbolic link too" grep -q "would write over --train-y y1.npy" o.out
I flat.lua fit --train-x x.npy --train-y y1.npy --plot p.png > o.out 2>&1
check "--plot .png is refused" grep -q "fit: --plot p.png: the plot is an SVG picture; give a path ending in .svg" o.out
check "nothing written" test ! -e p.png

# ---- what a sample of --text is -------------------------------------------------------
mkdir -p txt/pos txt/neg unsup
printf 'a wonderful film\nwith a second line\n' > txt/pos/1.txt; printf 'dull and bad\n' > txt/neg/1.txt
printf 'great great fun\n' > unsup/b.txt; printf 'a wonderful film\nwith a second line\n' > unsup/a.txt
printf '1\ta wonderful film\n0\tdull and bad\n' > two.tsv
printf 'a wonderful film\ndull and bad\n' > two.txt
I flat.lua fit --train-text txt --save-weights t.st --quiet
I flat.lua predict --weights t.st --text txt/pos/1.txt > p1
check "a review file is one sample" test "$(wc -l < p1)" -eq 1
I flat.lua predict --weights t.st --text txt/pos/1.txt --text-unit line > p2
check "--text-unit line: one per line" test "$(wc -l < p2)" -eq 2
I flat.lua predict --weights t.st --text unsup > p3
check "a folder: each file named, in order" test "$(cut -f1 p3 | tr '\n' ' ')" = "unsup/a.txt unsup/b.txt "
check "the same text, the same probability as the file alone" test "$(head -1 p3 | cut -f2)" = "$(cat p1)"
I flat.lua predict --weights t.st --text two.tsv > p4
I flat.lua predict --weights t.st --text two.txt --text-unit line > p5
check "a TSV's label column is not a word" cmp -s p4 p5
printf 'a wonderful film\ndull and bad\n' | I flat.lua predict --weights t.st --text - > p6
check "stdin: one sample per line" cmp -s p5 p6
I flat.lua evaluate --weights t.st --text two.tsv > e1
I flat.lua evaluate --weights t.st --text - < two.tsv > e2
check "evaluate --text - reads a TSV from stdin" cmp -s e1 e2
check "and evaluates its 2 rows" grep -q "^2 samples - loss:" e2
printf '1\tgood\n7\tbad\n' > bad.tsv
I flat.lua evaluate --weights t.st --text bad.tsv 2> err
check "a TSV's bad label names the file and line" grep -q "evaluate: bad.tsv:2: label 7 is not in \[0, 1\] (binary labels)" err

# ---- rough edges -------------------------------------------------------------------------
I flat.lua fit --train-x x.npy 2> err
check "--train-x without --train-y exits 2" test $? -eq 2
check "and says so" grep -q "fit: --train-x needs --train-y (the labels)" err
I flat.lua fit --epochs $'3\r' 2> err
check "a carriage return in an argument is shown escaped" grep -Fq "got '3\\r'" err
"$RNNC" flat.lua --summary -o s.c > s.out
check "--summary -o prints the summary" grep -q "Total params:" s.out
check "and writes the file" grep -q "flat_predict\|rnn_trainer_main\|RNN_GEN_OPS" s.c
"$PY" "$ROOT/tools/read_safetensors.py" --help > h.out 2>&1
check "read_safetensors.py --help: exit 0" test $? -eq 0
check "and usage, no traceback" sh -c "grep -q '^usage: read_safetensors.py' h.out && ! grep -q Traceback h.out"
"$PY" "$ROOT/tools/read_safetensors.py" w.st --values > v.out
check "read_safetensors.py --values prints tensors' values" grep -Eq '^  values -?[0-9]' v.out

finish
