#!/usr/bin/env bash
# tests/interop/tfjs.sh — rnnc against the real TensorFlow.js and Debian's h5py (make
# test-interop; .ci/run runs it). Needs node and npm, /usr/bin/python3 with h5py and numpy.
#   - @tensorflow/tfjs 4.22.0 is installed with npm into $RNNC_NPM_CACHE (default
#     ~/.cache/rnnc/npm) when it is not there;
#   - every seed spec (and every other spec of specs/, and tests/interop's Bidirectional
#     fixture: every merge mode, SimpleRNN, LSTM, GRU, a go_backwards layer): its Keras
#     JSON (export keras-json) compiles into a generated trainer, which trains and exports TF.js; tfjs
#     loads it (tf.loadLayersModel), its predict equals the trainer's to 1e-5 and its
#     weights are the trainer's bit for bit (a GRU with reset_after = true is refused
#     with the reason, and goes to Keras HDF5 instead);
#   - models built and saved by TF.js (LSTM, GRU, SimpleRNN, two Bidirectional) are
#     imported, compiled, and predict what TF.js predicts; exported again, TF.js reads
#     back its own weights bit for bit;
#   - HDF5 written by rnnc has Keras's layout as h5py reads it; a Keras-layout file
#     written by h5py is read;
#   - the exported tokenizer.json tokenizes in Python (Keras's Tokenizer rules) to the
#     ids rnnc uses: TF.js on those ids predicts what rnnc predicts from the text.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
tmpdir
cd "$T" || exit 1   # the seed specs' checkpoint callbacks write into the working directory
PY=/usr/bin/python3
NPM_CACHE=${RNNC_NPM_CACHE:-$HOME/.cache/rnnc/npm}
TFJS_VERSION=4.22.0
export TFJS_PATH="$NPM_CACHE/node_modules/@tensorflow/tfjs"
PEER="$ROOT/tests/interop/tfjs_peer.js"

installed=$(node -e "try{console.log(require('$TFJS_PATH/package.json').version)}catch(e){}" 2>/dev/null)
if [ "$installed" != "$TFJS_VERSION" ]; then
  echo "tfjs.sh: installing @tensorflow/tfjs@$TFJS_VERSION into $NPM_CACHE"
  mkdir -p "$NPM_CACHE"
  npm install --prefix "$NPM_CACHE" --no-audit --no-fund --loglevel=error "@tensorflow/tfjs@$TFJS_VERSION" > "$T/npm.log" 2>&1 ||
    { cat "$T/npm.log"; bad "npm install @tensorflow/tfjs@$TFJS_VERSION"; finish; exit 1; }
fi
check "tfjs $TFJS_VERSION is there" test "$(node -e "console.log(require('$TFJS_PATH/package.json').version)")" = "$TFJS_VERSION"
"$PY" -c 'import h5py, numpy' 2> /dev/null || { bad "/usr/bin/python3 has no h5py or numpy (make test-interop installs python3-h5py)"; finish; exit 1; }

peer() { node "$PEER" "$@" 2> "$T/peer.err" || { cat "$T/peer.err" >&2; return 1; }; }

# ids T V N SEED FILE: N random sequences, as FILE.npy and FILE.json
ids() {
  "$PY" - "$@" <<'PY'
import json, sys
import numpy as np
T, V, N, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
x = np.random.default_rng(seed).integers(0, V, size=(N, T)).astype(np.int32)
np.save(out + ".npy", x)
json.dump(x.tolist(), open(out + ".json", "w"))
PY
}

# close A(rnnc predict lines) B(tfjs JSON): every probability within 1e-5
close() {
  "$PY" - "$1" "$2" <<'PY'
import json, sys
a = [[float(v) for v in line.split()] for line in open(sys.argv[1]) if line.strip()]
b = json.load(open(sys.argv[2]))
worst = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
assert len(a) == len(b) and all(len(ra) == len(rb) for ra, rb in zip(a, b)), "shapes differ"
print("max |rnnc - tfjs| = %.2g" % worst)
sys.exit(0 if worst <= 1e-5 else 1)
PY
}

# same_bits DIR JSON: the weights tfjs loaded (JSON name -> hex) are DIR's shard, in
# manifest order, bit for bit
same_bits() {
  "$PY" - "$1" "$2" <<'PY'
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/model.json"))
data = b"".join(open(d + "/" + p, "rb").read() for g in m["weightsManifest"] for p in g["paths"])
got = json.load(open(sys.argv[2]))
at = 0
for g in m["weightsManifest"]:
    for w in g["weights"]:
        n = 4
        for s in w["shape"]: n *= s
        if w.get("group") == "optimizer":
            at += n
            continue
        name = w["name"]
        short = "/".join(name.split("/")[:-2] + name.split("/")[-1:]) if name not in got else name
        assert got[short] == data[at:at + n].hex(), name
        at += n
print("every weight bit for bit")
PY
}

# ---- rnnc -> TF.js: every spec, through its Keras JSON and a generated trainer ------------
no_form=""
for spec in "$ROOT"/specs/*.lua "$ROOT/tests/interop/keras2_bidirectional.lua"; do
  name=$(basename "$spec" .lua)
  [ "$name" = large_lstm ] && continue   # its 5000 x 200 epoch belongs to the benchmark
  d="$T/$name"
  mkdir -p "$d"
  # the Keras JSON of the spec (export needs weights: a short fit gives them)
  "$RNNC" "$spec" --interpret fit --epochs 1 --builtin-train 64 --builtin-val 16 --quiet --save-weights "$d/init.safetensors" ||
    { bad "$name: initial weights"; continue; }
  if ! "$RNNC" "$spec" --interpret export --weights "$d/init.safetensors" --format keras-json "$d/keras.json" > /dev/null 2> "$d/export.err"; then
    # a layer kind without a Keras form yet (runtime/interop/keras_kinds.c): a clean refusal
    check "$name: no Keras form: one clean line" grep -qx "export: layer .* ([A-Za-z0-9]*): rnnc has no Keras form for this layer kind yet" "$d/export.err"
    no_form="$no_form $name"
    continue
  fi
  "$RNNC" "$d/keras.json" -o "$d/trainer" || { bad "$name: its Keras JSON compiles into a trainer"; continue; }
  ok
  "$d/trainer" fit --epochs 1 --builtin-train 512 --builtin-val 128 --learning-rate 0.01 --quiet --save-weights "$d/trained.safetensors"
  T_=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["layers"][0]["config"]["input_length"])' "$d/keras.json")
  V_=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["layers"][0]["config"]["input_dim"])' "$d/keras.json")
  ids "$T_" "$V_" 8 11 "$d/ids"
  "$d/trainer" predict --weights "$d/trained.safetensors" --x "$d/ids.npy" > "$d/rnnc.txt"
  if grep -q '"reset_after": true' "$d/keras.json"; then
    "$d/trainer" export --weights "$d/trained.safetensors" --format tfjs "$d/tfjs" > /dev/null 2> "$d/refused.err"
    check "$name: TF.js export refused (GRU reset_after = true)" grep -q "TensorFlow.js cannot run layer .* with reset_after = true" "$d/refused.err"
    "$d/trainer" export --weights "$d/trained.safetensors" --format keras-h5 "$d/w.h5" > /dev/null
    check "$name: keras-h5 instead" test -s "$d/w.h5"
    continue
  fi
  "$d/trainer" export --weights "$d/trained.safetensors" --format tfjs "$d/tfjs" > /dev/null
  peer predict "$d/tfjs" "$d/ids.json" > "$d/tfjs.json" || { bad "$name: tfjs loads and predicts"; continue; }
  check "$name: tfjs predicts what rnnc predicts (1e-5)" close "$d/rnnc.txt" "$d/tfjs.json"
  peer weights "$d/tfjs" > "$d/w.json"
  check "$name: tfjs holds rnnc's weights bit for bit" same_bits "$d/tfjs" "$d/w.json"
done

# the seed gru with reset_after = false goes to TF.js
sed 's/gru { 8 }/gru { 8, reset_after = false }/' "$ROOT/specs/gru.lua" > "$T/gru_v1.lua"
check "gru reset_after = false: the spec" grep -q "reset_after = false" "$T/gru_v1.lua"
"$RNNC" "$T/gru_v1.lua" --interpret fit --epochs 1 --builtin-train 256 --builtin-val 64 --learning-rate 0.01 --quiet --save-weights "$T/gru_v1.safetensors"
"$RNNC" "$T/gru_v1.lua" --interpret export --weights "$T/gru_v1.safetensors" --format tfjs "$T/gru_v1" > /dev/null
ids 100 500 8 12 "$T/gru_ids"
"$RNNC" "$T/gru_v1.lua" --interpret predict --weights "$T/gru_v1.safetensors" --x "$T/gru_ids.npy" > "$T/gru_v1.txt"
peer predict "$T/gru_v1" "$T/gru_ids.json" > "$T/gru_v1.json"
check "gru reset_after = false: tfjs predicts what rnnc predicts (1e-5)" close "$T/gru_v1.txt" "$T/gru_v1.json"

# ---- TF.js -> rnnc: models built and saved by TF.js ------------------------------------------
for kind in lstm gru simple bidirectional; do
  d="$T/from_tfjs_$kind"
  peer build "$kind" "$d" 12 40 7 || { bad "tfjs builds and saves $kind"; continue; }
  ids 12 40 9 13 "$d/ids"
  peer predict "$d" "$d/ids.json" > "$d/tfjs.json"
  "$RNNC" "$d/model.json" -o "$d/trainer" || { bad "$kind: TF.js's model.json compiles"; continue; }
  ok
  "$d/trainer" predict --weights "$d/model.json" --x "$d/ids.npy" > "$d/rnnc.txt"
  check "tfjs $kind: the generated trainer predicts what TF.js predicts (1e-5)" close "$d/rnnc.txt" "$d/tfjs.json"
  "$RNNC" "$d/model.json" --interpret predict --weights "$d/model.json" --x "$d/ids.npy" > "$d/ref.txt"
  check "tfjs $kind: the interpreter too" close "$d/ref.txt" "$d/tfjs.json"
  "$d/trainer" export --weights "$d/model.json" --format tfjs "$d/back" > /dev/null
  peer weights "$d" > "$d/orig.json" && peer weights "$d/back" > "$d/back.json"
  check "tfjs $kind: TF.js -> rnnc -> TF.js keeps every weight bit for bit" cmp "$d/orig.json" "$d/back.json"
done
check "tfjs lstm: its trainingConfig came with it (Adam 0.002, sparse categorical)" \
  bash -c "'$RNNC' '$T/from_tfjs_lstm/model.json' --emit-spec '$T/tl.lua' && grep -q 'optimizer = adam { learning_rate = 0.002 }' '$T/tl.lua' && grep -q sparse_categorical '$T/tl.lua'"

# ---- HDF5 with h5py --------------------------------------------------------------------------------
S="$ROOT/specs/lstm2.lua"
d="$T/lstm2"
"$RNNC" "$S" --interpret export --weights "$d/trained.safetensors" --format keras-h5 "$T/lstm2.h5" > /dev/null
check "h5py reads Keras's layout in rnnc's HDF5" "$PY" - "$T/lstm2.h5" "$d/tfjs" <<'PY'
import json, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert [n.decode() for n in f.attrs["layer_names"]] == ["embedding", "lstm", "lstm_1", "dense"]
assert f.attrs["backend"] == b"tensorflow" and f.attrs["keras_version"].startswith(b"2.")
m = json.load(open(sys.argv[2] + "/model.json"))
shard = np.frombuffer(open(sys.argv[2] + "/group1-shard1of1.bin", "rb").read(), dtype="<f4")
want = {"embedding": ["embedding/embeddings:0"],
        "lstm": ["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"],
        "lstm_1": ["lstm_1/lstm_cell/kernel:0", "lstm_1/lstm_cell/recurrent_kernel:0", "lstm_1/lstm_cell/bias:0"],
        "dense": ["dense/kernel:0", "dense/bias:0"]}
shapes = [tuple(w["shape"]) for w in m["weightsManifest"][0]["weights"]]
at = k = 0
for layer in ["embedding", "lstm", "lstm_1", "dense"]:
    g = f[layer]
    names = [n.decode() for n in g.attrs["weight_names"]]
    assert names == want[layer], names
    for n in names:
        ds = g[n]
        assert ds.dtype == np.float32 and ds.shape == shapes[k], (n, ds.shape)
        size = int(np.prod(ds.shape))
        assert np.array_equal(ds[()].reshape(-1).view("<u4"), shard[at:at + size].view("<u4")), n
        at += size
        k += 1
assert at == shard.size
PY
# a Bidirectional: a group per layer, its halves' weights under "bidirectional/forward_lstm/lstm_cell/"
S2="$ROOT/specs/imdb_bidirectional2.lua"
d2="$T/imdb_bidirectional2"
"$RNNC" "$S2" --interpret export --weights "$d2/trained.safetensors" --format keras-h5 "$T/bi2.h5" > /dev/null
check "h5py reads Keras's Bidirectional layout in rnnc's HDF5" "$PY" - "$T/bi2.h5" "$d2/tfjs" <<'PY'
import json, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
layers = ["embedding", "bidirectional", "bidirectional_1", "dense"]
assert [n.decode() for n in f.attrs["layer_names"]] == layers
m = json.load(open(sys.argv[2] + "/model.json"))
shard = np.frombuffer(b"".join(open(sys.argv[2] + "/" + p, "rb").read() for p in m["weightsManifest"][0]["paths"]), dtype="<f4")
shapes = [tuple(w["shape"]) for w in m["weightsManifest"][0]["weights"]]
half = lambda b, l: ["%s/%s_%s/lstm_cell/%s:0" % (b, d, l, n) for d in ("forward", "backward") for n in ("kernel", "recurrent_kernel", "bias")]
want = {"embedding": ["embedding/embeddings:0"], "bidirectional": half("bidirectional", "lstm"),
        "bidirectional_1": half("bidirectional_1", "lstm_1"), "dense": ["dense/kernel:0", "dense/bias:0"]}
at = k = 0
for layer in layers:
    g = f[layer]
    names = [n.decode() for n in g.attrs["weight_names"]]
    assert names == want[layer], names
    for n in names:
        ds = g[n]
        assert ds.dtype == np.float32 and ds.shape == shapes[k], (n, ds.shape)
        size = int(np.prod(ds.shape))
        assert np.array_equal(ds[()].reshape(-1).view("<u4"), shard[at:at + size].view("<u4")), n
        at += size
        k += 1
assert at == shard.size and f["bidirectional/bidirectional/backward_lstm/lstm_cell/kernel:0"].shape == (128, 256)
PY
# a Keras-layout file written by h5py as Keras's save_weights writes it: every layer a
# group (a Dropout's weight_names an empty float array), layer_names split in two
# attributes as Keras does past 64 KiB, float64 data (read as float)
"$PY" - "$T/keras_written.h5" "$d/tfjs" <<'PY'
import json, sys
import h5py, numpy as np
m = json.load(open(sys.argv[2] + "/model.json"))
shard = np.frombuffer(open(sys.argv[2] + "/group1-shard1of1.bin", "rb").read(), dtype="<f4")
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["layer_names0"] = np.asarray([b"embedding", b"lstm", b"dropout"])
    f.attrs["layer_names1"] = np.asarray([b"lstm_1", b"dense"])
    f.attrs["backend"] = b"tensorflow"
    f.attrs["keras_version"] = b"2.12.0"
    at = 0
    ws = iter(m["weightsManifest"][0]["weights"])
    for layer, names in [("embedding", ["embeddings"]), ("lstm", ["kernel", "recurrent_kernel", "bias"]),
                         ("dropout", []), ("lstm_1", ["kernel", "recurrent_kernel", "bias"]), ("dense", ["kernel", "bias"])]:
        g = f.create_group(layer)
        cell = "/lstm_cell" if layer.startswith("lstm") else ""
        full = [("%s%s/%s:0" % (layer, cell, n)).encode() for n in names]
        g.attrs["weight_names"] = np.asarray(full) if full else np.asarray([])
        for n in full:
            shape = tuple(next(ws)["shape"])
            size = int(np.prod(shape))
            g.create_dataset(n.decode(), data=shard[at:at + size].astype(np.float64).reshape(shape))
            at += size
PY
"$RNNC" "$S" --interpret predict --weights "$T/keras_written.h5" --x "$d/ids.npy" > "$T/h5py.txt"
"$RNNC" "$S" --interpret predict --weights "$d/trained.safetensors" --x "$d/ids.npy" > "$T/st.txt"
check "a Keras-layout file written by h5py is read: the same predictions" cmp "$T/h5py.txt" "$T/st.txt"

# ---- the vocabulary: Python tokenizes with tokenizer.json as rnnc does ----------------------
printf '1\tA good film, a great cast!\n0\tBad; awful acting -- a bad plot.\n1\tgood fun, great film\n0\tdull (and bad) film\n1\tgreat GREAT acting\n0\tawful, dull\n' > "$T/train.tsv"
printf "good film\nan awful, dull plot\nthe cast's acting was great\nunknown words only\n" > "$T/texts.txt"
"$RNNC" "$S" --interpret fit --epochs 2 --train-text "$T/train.tsv" --learning-rate 0.01 --quiet --save-weights "$T/text.safetensors"
"$RNNC" "$S" --interpret export --weights "$T/text.safetensors" --format tfjs "$T/text" > /dev/null
"$RNNC" "$S" --interpret predict --weights "$T/text.safetensors" --text "$T/texts.txt" --text-unit line > "$T/text_rnnc.txt"
"$PY" - "$T/text/tokenizer.json" "$T/texts.txt" 100 > "$T/text_ids.json" <<'PY'
# Keras 2's Tokenizer (keras/preprocessing/text.py: text_to_word_sequence,
# texts_to_sequences) on the exported config, then imdb.load_data's start id and
# pad_sequences(maxlen, padding='pre', truncating='pre')
import json, sys
cfg = json.load(open(sys.argv[1]))["config"]
index = json.loads(cfg["word_index"])
num_words, oov = cfg["num_words"], index[cfg["oov_token"]]
T = int(sys.argv[3])
out = []
for text in open(sys.argv[2]).read().split("\n")[:-1]:
    if cfg["lower"]: text = text.lower()
    text = text.translate(str.maketrans({c: cfg["split"] for c in cfg["filters"]}))
    seq = []
    for w in [w for w in text.split(cfg["split"]) if w]:
        i = index.get(w)
        seq.append(oov if i is None or i >= num_words else i)
    seq = ([1] + seq)[-T:]
    out.append([0] * (T - len(seq)) + seq)
print(json.dumps(out))
PY
peer predict "$T/text" "$T/text_ids.json" > "$T/text_tfjs.json"
check "tokenizer.json: Python's ids, predicted by TF.js, give rnnc's predictions from the text (1e-5)" \
  close "$T/text_rnnc.txt" "$T/text_tfjs.json"

finish "${no_form:+(not round-tripped, no Keras form yet:$no_form)}"
