#!/usr/bin/env bash
# interop.sh — Keras and TF.js models in, trained models out, without the peers (make
# test; tests/interop_tfjs.sh holds rnnc to the real TensorFlow.js and h5py):
#   - Keras 2 and Keras 3 configs (tests/interop/*.json, written by hand in get_config's
#     format) read into the model their hand-written spec describes: --emit-spec gives
#     that spec, and config and spec compile to byte-identical C;
#   - every unsupported layer, option or value is one "FILE:LINE: ... is not supported"
#     line, exit 1, no output file;
#   - export writes what it reads back: keras-json -> the same C, tfjs and keras-h5
#     weights -> the same bits, in both directions; mismatched weights are refused.
. "$(dirname "$0")/lib.sh"
tmpdir
I="$ROOT/tests/interop"
PY=/usr/bin/python3

# ---- configs in: the model of the hand-written spec ---------------------------------------
for name in keras2_all keras3_lstm_gru tfjs_gru keras2_bidirectional; do
  cp "$I/$name.json" "$T/$name.json"
  (cd "$T" && "$RNNC" "$name.json" --emit-spec "$name.emitted.lua") > "$T/$name.log" 2>&1
  check "$name: --emit-spec writes the hand-written spec" cmp "$T/$name.emitted.lua" "$I/$name.lua" ||
    diff "$T/$name.emitted.lua" "$I/$name.lua"
  # the same path for both, so that the C (which names its source) may be identical
  mkdir -p "$T/json" "$T/lua"
  cp "$I/$name.json" "$T/json/$name"
  cp "$I/$name.lua" "$T/lua/$name"
  (cd "$T/json" && "$RNNC" "$name" -o "$T/$name.json.c") && (cd "$T/lua" && "$RNNC" "$name" -o "$T/$name.lua.c")
  check "$name: the config and its spec compile to byte-identical C" cmp "$T/$name.json.c" "$T/$name.lua.c"
done
check "keras2_all: --check describes the model" \
  bash -c "cd '$I' && '$RNNC' keras2_all.json | grep -qx 'keras2_all.json: ok: model \"keras2_all\", 8 layers, 37247 parameters'"
check "keras3: LSTM and GRU dropout is Keras 3's per-sequence mask" grep -q 'lstm { 8, dropout = 0.3, return_sequences = true, dropout_mask = "per_sequence" }' "$I/keras3_lstm_gru.lua"

# ---- unsupported: one line each, exit 1, no output ----------------------------------------
# mutate KIND FILE LAYER KEY JSON: a copy of FILE with config[KEY] of layer LAYER set to JSON
mutate() {
  "$PY" - "$@" <<'PY'
import json, sys
src, dst, layer, key, value = sys.argv[1:6]
d = json.load(open(src))
model = d["modelTopology"] if "modelTopology" in d else d
if layer == "-":
    model[key] = json.loads(value)
elif layer == "training":
    d.setdefault("training_config", {})
    cur = d["training_config"]
    path = key.split(".")
    for k in path[:-1]: cur = cur[k]
    cur[path[-1]] = json.loads(value)
else:
    for l in model["config"]["layers"]:
        if l["config"].get("name") == layer:
            if key == "class_name": l["class_name"] = json.loads(value)
            else: l["config"][key] = json.loads(value)
with open(dst, "w") as f:
    # one layer a line, as the fixtures are, so that messages name the layer's line
    text = json.dumps(d).replace('"layers": [{', '"layers": [\n {').replace(', "training_config"', ',\n "training_config"')
    f.write(text.replace('}, {"class_name"', '},\n {"class_name"'))
PY
}
refused() {   # refused WHAT LAYER KEY JSON EXPECTED-MESSAGE
  local what=$1 layer=$2 key=$3 value=$4 want=$5
  mutate "${BASE:-$I/keras2_all.json}" "$T/bad.json" "$layer" "$key" "$value"
  rm -f "$T/bad.c"
  (cd "$T" && "$RNNC" bad.json -o bad.c) > "$T/bad.out" 2> "$T/bad.err"
  local rc=$?
  check "$what: exit 1" test "$rc" -eq 1
  check "$what: the message" grep -qxF "$want" "$T/bad.err" || { echo "  want: $want"; echo "  got:  $(cat "$T/bad.err")"; }
  check "$what: one line on stderr, nothing on stdout" test "$(wc -l < "$T/bad.err")" -eq 1 -a ! -s "$T/bad.out"
  check "$what: no output file" test ! -e "$T/bad.c"
}
refused "hard_sigmoid (TF.js's default)" lstm recurrent_activation '"hard_sigmoid"' \
  'bad.json:4: layer lstm (LSTM): option recurrent_activation = "hard_sigmoid" is not supported'
refused "a regularizer" hidden kernel_regularizer '{"class_name": "L2", "config": {"l2": 0.01}}' \
  'bad.json:9: layer hidden (Dense): option kernel_regularizer = {"class_name": "L2", "config": {"l2": 0.01}} is not supported'
refused "a stateful RNN" gru stateful true 'bad.json:6: layer gru (GRU): option stateful = true is not supported'
refused "GRU activation" gru activation '"relu"' 'bad.json:6: layer gru (GRU): option activation = "relu" is not supported'
refused "an activation rnnc lacks" simple_rnn activation '"elu"' 'bad.json:8: layer simple_rnn (SimpleRNN): option activation = "elu" is not supported'
refused "glorot_normal" dense kernel_initializer '{"class_name": "GlorotNormal", "config": {"seed": null}}' \
  'bad.json:10: layer dense (Dense): option kernel_initializer = {"class_name": "GlorotNormal", "config": {"seed": null}} is not supported'
refused "a frozen layer" gru_1 trainable false 'bad.json:7: layer gru_1 (GRU): option trainable = false is not supported'
refused "use_bias false" hidden use_bias false 'bad.json:9: layer hidden (Dense): option use_bias = false is not supported'
refused "an unknown key" lstm attention_window 5 'bad.json:4: layer lstm (LSTM): option attention_window = 5 is not supported'
refused "float64" dense dtype '"float64"' 'bad.json:10: layer dense (Dense): option dtype = "float64" is not supported'
refused "a layer class rnnc lacks" hidden class_name '"MultiHeadAttention"' \
  'bad.json:9: layer hidden (MultiHeadAttention): layer class MultiHeadAttention is not supported (rnnc reads InputLayer, Embedding, SimpleRNN, LSTM, GRU, Dense, Dropout, Bidirectional, Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D, Flatten, Activation, SpatialDropout1D)'
refused "a 3-D input" embedding_input batch_input_shape '[null, 40, 2]' \
  'bad.json:2: layer embedding_input (InputLayer): batch_input_shape must be [null, timesteps]: rnnc reads batches of token ids (got [null, 40, 2])'
refused "two input lengths" embedding input_length 41 \
  "bad.json:3: layer embedding (Embedding): input_length 41 differs from the input shape's 40 (line 2)"
refused "a bad value (the layout's check, at the JSON's line)" lstm units 0 'bad.json:4: lstm: units must be a positive integer (got 0)'
refused "a functional model" - class_name '"Functional"' 'bad.json:1: model class Functional is not supported (rnnc reads Sequential models)'
refused "RMSprop centered" training optimizer_config '{"class_name": "RMSprop", "config": {"learning_rate": 0.001, "centered": true}}' \
  'bad.json:11: optimizer (RMSprop): option centered = true is not supported'
refused "a learning-rate schedule" training optimizer_config.config.learning_rate '{"class_name": "ExponentialDecay", "config": {}}' \
  'bad.json:11: optimizer (Custom>Adam): option learning_rate = {"class_name": "ExponentialDecay", "config": {}} is not supported'
refused "a loss rnnc lacks" training loss '"mse"' 'bad.json:11: training config: option loss = "mse" is not supported'

# a Bidirectional: its merge_mode and its layer are checked like any other option
BASE="$I/keras2_bidirectional.json"
refused "merge_mode None (two outputs)" bidirectional_1 merge_mode null \
  'bad.json:5: layer bidirectional_1 (Bidirectional): option merge_mode = null is not supported'
refused "a Bidirectional of a Dense" bidirectional layer '{"class_name": "Dense", "config": {"units": 3}}' \
  'bad.json:4: layer bidirectional (Bidirectional): layer must be a SimpleRNN, LSTM or GRU layer (got {"class_name": "Dense", "config": {"units": 3}})'
refused "an option of the wrapped layer" bi_last layer '{"class_name": "LSTM", "config": {"name": "lstm_1", "units": 8, "stateful": true}}' \
  'bad.json:7: layer lstm_1 (LSTM): option stateful = true is not supported'
refused "a Bidirectional's unknown key" bidirectional num_constants 1 \
  'bad.json:4: layer bidirectional (Bidirectional): option num_constants = 1 is not supported'
unset BASE

printf '{"class_name": "Sequential",\n  "config": {"layers": [}\n' > "$T/broken.json"
(cd "$T" && "$RNNC" broken.json) > /dev/null 2> "$T/broken.err"
check "invalid JSON: exit 1 and where" test $? -eq 1
check "invalid JSON: the line and column" grep -qx 'broken.json: invalid JSON at line 2, column 25: unexpected character .}.' "$T/broken.err" ||
  cat "$T/broken.err"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["config"]["layers"][0]; d["config"]["layers"][0]["config"].pop("batch_input_shape"); d["config"]["layers"][0]["config"]["input_length"]=None; json.dump(d,open(sys.argv[2],"w"))' \
  "$I/keras2_all.json" "$T/nolen.json"
(cd "$T" && "$RNNC" nolen.json) > /dev/null 2> "$T/nolen.err"
check "no input length: refused with the reason" grep -q 'the input length is not given (input_length, or the input shape \[null, timesteps\]); rnnc compiles for a fixed length' "$T/nolen.err"

# ---- Bidirectional in Keras 3's form: the wrapped layer named forward_X, and backward_layer ----
# (its mirror: go_backwards flipped, named backward_X) beside it
"$PY" - "$I/keras2_bidirectional.json" "$T/k3bi.json" "$T/k3bad.json" <<'PY'
import copy, json, sys
d = json.load(open(sys.argv[1]))
d["module"] = "keras"
for l in d["config"]["layers"]:
    if l["class_name"] != "Bidirectional":
        continue
    c = l["config"]
    inner = c["layer"]["config"]
    back = copy.deepcopy(c["layer"])
    back["config"]["name"] = "backward_" + inner["name"]
    back["config"]["go_backwards"] = not inner["go_backwards"]
    inner["name"] = "forward_" + inner["name"]
    c["backward_layer"] = back
json.dump(d, open(sys.argv[2], "w"), indent=1)
d["config"]["layers"][3]["config"]["backward_layer"]["config"]["units"] = 11
json.dump(d, open(sys.argv[3], "w"), indent=1)
PY
(cd "$T" && "$RNNC" k3bi.json --summary > k3bi.summary && "$RNNC" "$I/keras2_bidirectional.json" --summary > k2bi.summary \
  && "$RNNC" k3bi.json --emit-spec k3bi.lua) > "$T/k3bi.log" 2>&1
check "Keras 3 Bidirectional: the Keras 2 fixture's model (names, shapes, parameters)" cmp "$T/k3bi.summary" "$T/k2bi.summary" ||
  cat "$T/k3bi.log"
check "Keras 3 Bidirectional: the wrapped layer's own name, without forward_" \
  grep -qF 'simple_rnn { 12, return_sequences = true, go_backwards = true, activation = "relu", name = "rnn_back" }' "$T/k3bi.lua"
check "Keras 3 Bidirectional: LSTM dropout per sequence, as Keras 3 draws it" \
  grep -qF 'bidirectional { lstm { 16, dropout = 0.1, return_sequences = true, dropout_mask = "per_sequence" } },' "$T/k3bi.lua"
(cd "$T" && "$RNNC" k3bad.json) > /dev/null 2> "$T/k3bad.err"
check "Keras 3 Bidirectional: a backward_layer that is not the mirror is refused" grep -qx \
  'k3bad.json:[0-9]*: layer bidirectional_1 (Bidirectional): backward_layer is not the mirror of layer (units = 11, not 12): option backward_layer is not supported' \
  "$T/k3bad.err" || cat "$T/k3bad.err"

# ---- the embedding's mask in and out: mask_zero true in a Keras config is the spec's -------
mutate "$I/keras2_all.json" "$T/masked.json" embedding mask_zero true
(cd "$T" && "$RNNC" masked.json --emit-spec masked.lua) > "$T/masked.log" 2>&1
check "mask_zero: read" grep -q '^  embedding { 1000, 32, input_length = 40, mask_zero = true },$' "$T/masked.lua"
"$RNNC" specs/imdb_masked_gru.lua --interpret fit --epochs 1 --builtin-train 64 --builtin-val 16 --quiet \
  --save-weights "$T/masked.safetensors" > "$T/masked.log" 2>&1
"$RNNC" specs/imdb_masked_gru.lua --interpret export --weights "$T/masked.safetensors" --format keras-json \
  "$T/masked.out.json" >> "$T/masked.log" 2>&1
check "mask_zero: written" grep -q '"mask_zero": true' "$T/masked.out.json" || cat "$T/masked.log"
(cd "$T" && "$RNNC" masked.out.json --emit-spec masked.back.lua) >> "$T/masked.log" 2>&1
check "mask_zero: read back" grep -q '^  embedding { 10000, 32, input_length = 200, mask_zero = true },$' "$T/masked.back.lua"
mutate "$I/keras2_all.json" "$T/unmasked.json" embedding mask_zero null
(cd "$T" && "$RNNC" unmasked.json --emit-spec unmasked.lua) > "$T/masked.log" 2>&1
check "mask_zero: null is false" grep -q '^  embedding { 1000, 32, input_length = 40 },$' "$T/unmasked.lua"

# ---- out and back: keras-json, tfjs, keras-h5 ------------------------------------------------
S="$ROOT/specs/lstm2.lua"
# (fits run in $T: the seed specs' checkpoint callbacks write beside the working directory)
(cd "$T" && "$RNNC" "$S" --interpret fit --epochs 1 --builtin-train 256 --builtin-val 64 --learning-rate 0.01 --quiet \
  --save-weights "$T/lstm2.safetensors")
"$RNNC" "$S" --interpret export --weights "$T/lstm2.safetensors" --format keras-json "$T/out/lstm2.json" > /dev/null 2>&1
check "export to a missing directory fails" test $? -eq 1
mkdir -p "$T/out"
"$RNNC" "$S" --interpret export --weights "$T/lstm2.safetensors" --format keras-json "$T/out/lstm2.json" > "$T/export.log"
check "keras-json: written" grep -qx "wrote $T/out/lstm2.json ([0-9]* bytes)" "$T/export.log"
# the exported config is the spec's model: its spec's C equals the seed spec's but for the
# source path, the lines and the fit = { } a Keras config does not hold
"$RNNC" "$T/out/lstm2.json" --summary > "$T/json.summary" && "$RNNC" "$S" --summary > "$T/lua.summary"
check "keras-json: read back, the same model summary" cmp "$T/json.summary" "$T/lua.summary"
"$RNNC" "$T/out/lstm2.json" --emit-spec "$T/lstm2.emitted.lua"
check "keras-json: the optimizer and loss come back" grep -q 'optimizer = rmsprop { learning_rate = 0.0001 }' "$T/lstm2.emitted.lua"

"$RNNC" "$S" --interpret export --weights "$T/lstm2.safetensors" --format tfjs "$T/tfjs" > /dev/null
check "tfjs: model.json and one shard" test -s "$T/tfjs/model.json" -a -s "$T/tfjs/group1-shard1of1.bin"
check "tfjs: the shard is the weights, float32: 9353 values" test "$(stat -c %s "$T/tfjs/group1-shard1of1.bin")" -eq $((9353 * 4))
"$RNNC" "$S" --interpret export --weights "$T/lstm2.safetensors" --format keras-h5 "$T/lstm2.h5" > /dev/null
check "keras-h5: written" test -s "$T/lstm2.h5"
# back: the tfjs directory and the HDF5 file, each exported again as tfjs: the same bits
"$RNNC" "$S" --interpret export --weights "$T/tfjs/model.json" --format tfjs "$T/tfjs2" > /dev/null
check "tfjs -> rnnc -> tfjs: every weight bit for bit" cmp "$T/tfjs/group1-shard1of1.bin" "$T/tfjs2/group1-shard1of1.bin"
"$RNNC" "$S" --interpret export --weights "$T/lstm2.h5" --format tfjs "$T/tfjs3" > /dev/null
check "keras-h5 -> rnnc -> tfjs: every weight bit for bit" cmp "$T/tfjs/group1-shard1of1.bin" "$T/tfjs3/group1-shard1of1.bin"
# the same predictions from the checkpoint, the TF.js manifest and the HDF5 file
"$PY" - "$T/x.npy" <<'PY'
import random, struct, sys
rng = random.Random(3)
n, T = 9, 100
tok = [rng.randrange(0, 500) for _ in range(n * T)]
header = "{'descr': '<i4', 'fortran_order': False, 'shape': (%d, %d), }" % (n, T)
header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%di" % len(tok), *tok))
PY
for w in lstm2.safetensors tfjs/model.json lstm2.h5; do
  "$RNNC" "$S" --interpret predict --weights "$T/$w" --x "$T/x.npy" > "$T/p_$(basename "$w").txt"
done
check "predict: the TF.js weights give the checkpoint's probabilities" cmp "$T/p_lstm2.safetensors.txt" "$T/p_model.json.txt"
check "predict: the HDF5 weights give the checkpoint's probabilities" cmp "$T/p_lstm2.safetensors.txt" "$T/p_lstm2.h5.txt"
"$RNNC" "$S" --weights "$T/lstm2.h5" -o "$T/pred_h5.c" && "$RNNC" "$S" --weights "$T/lstm2.safetensors" -o "$T/pred_st.c"
check "the predictor from HDF5 weights embeds the checkpoint's (only the source line differs)" \
  test "$(diff "$T/pred_h5.c" "$T/pred_st.c" | grep -c '^[<>]')" -le 2

# a Bidirectional out and back (every merge mode, SimpleRNN, LSTM, GRU, a go_backwards layer):
# keras-json reads back as the fixture's spec, tfjs and keras-h5 weights bit for bit
B="$I/keras2_bidirectional.lua"
(cd "$T" && "$RNNC" "$B" --interpret fit --epochs 1 --builtin-train 128 --builtin-val 32 --learning-rate 0.01 --quiet \
  --save-weights "$T/bi.safetensors")
"$RNNC" "$B" --interpret export --weights "$T/bi.safetensors" --format keras-json "$T/out/bi.json" > /dev/null
check "Bidirectional keras-json: the Keras 2 form" "$PY" -c '
import json, sys
l = json.load(open(sys.argv[1]))["config"]["layers"]
assert [x["class_name"] for x in l] == ["Embedding"] + ["Bidirectional"] * 4 + ["Dense"]
assert [x["config"]["merge_mode"] for x in l[1:5]] == ["concat", "sum", "mul", "ave"]
assert [list(x["config"])[:5] for x in l[1:5]] == [["name", "trainable", "dtype", "layer", "merge_mode"]] * 4
assert [(x["config"]["layer"]["class_name"], x["config"]["layer"]["config"]["name"]) for x in l[1:5]] == \
    [("LSTM", "lstm"), ("GRU", "gru"), ("SimpleRNN", "rnn_back"), ("LSTM", "lstm_1")]
assert l[3]["config"]["layer"]["config"]["go_backwards"] is True and l[4]["config"]["name"] == "bi_last"
' "$T/out/bi.json"
(cd "$T/out" && "$RNNC" bi.json --emit-spec bi.lua)
check "Bidirectional keras-json: read back, the fixture's spec" cmp <(tail -n +2 "$T/out/bi.lua") <(tail -n +2 "$B")
"$RNNC" "$B" --interpret export --weights "$T/bi.safetensors" --format tfjs "$T/bi_tfjs" > /dev/null
check "Bidirectional tfjs: the halves' weights under Keras's names" "$PY" -c '
import json, sys
m = json.load(open(sys.argv[1]))
n = [w["name"] for g in m["weightsManifest"] for w in g["weights"]]
assert n[1:4] == ["bidirectional/forward_lstm/kernel", "bidirectional/forward_lstm/recurrent_kernel", "bidirectional/forward_lstm/bias"], n
assert n[4] == "bidirectional/backward_lstm/kernel" and n[13] == "bidirectional_2/forward_rnn_back/kernel", n
assert n[19:22] == ["bi_last/forward_lstm_1/kernel", "bi_last/forward_lstm_1/recurrent_kernel", "bi_last/forward_lstm_1/bias"], n
' "$T/bi_tfjs/model.json"
"$RNNC" "$B" --interpret export --weights "$T/bi.safetensors" --format keras-h5 "$T/bi.h5" > /dev/null
"$RNNC" "$B" --interpret export --weights "$T/bi.h5" --format tfjs "$T/bi_tfjs2" > /dev/null
check "Bidirectional keras-h5 -> rnnc -> tfjs: every weight bit for bit" cmp "$T/bi_tfjs/group1-shard1of1.bin" "$T/bi_tfjs2/group1-shard1of1.bin"
"$RNNC" "$B" --interpret export --weights "$T/bi_tfjs/model.json" --format tfjs "$T/bi_tfjs3" > /dev/null
check "Bidirectional tfjs -> rnnc -> tfjs: every weight bit for bit" cmp "$T/bi_tfjs/group1-shard1of1.bin" "$T/bi_tfjs3/group1-shard1of1.bin"
check "Bidirectional tfjs: the shard is the weights, float32: 29641 values" test "$(stat -c %s "$T/bi_tfjs/group1-shard1of1.bin")" -eq $((29641 * 4))

# GRU with reset_after = true: TF.js cannot run it; the Keras formats still can
(cd "$T" && "$RNNC" "$ROOT/specs/gru.lua" --interpret fit --epochs 1 --builtin-train 64 --builtin-val 16 --quiet --save-weights "$T/gru.safetensors")
"$RNNC" "$ROOT/specs/gru.lua" --interpret export --weights "$T/gru.safetensors" --format tfjs "$T/gru_tfjs" > "$T/gru.out" 2> "$T/gru.err"
check "tfjs refuses GRU reset_after = true: exit 1" test $? -eq 1
check "tfjs refuses GRU reset_after = true: the reason and what works" grep -qF \
  "export: TensorFlow.js cannot run layer gru (GRU) with reset_after = true (tfjs-layers' GRUCell refuses it); --format keras-json and --format keras-h5 can hold this model, and a GRU with reset_after = false goes to TF.js" "$T/gru.err"
check "tfjs refuses: nothing written" test ! -e "$T/gru_tfjs"
"$RNNC" "$ROOT/specs/gru.lua" --interpret export --weights "$T/gru.safetensors" --format keras-h5 "$T/gru.h5" > /dev/null
check "keras-h5 takes the same GRU" test -s "$T/gru.h5"

# weights for another model are refused, naming what differs
"$RNNC" "$ROOT/specs/lstm.lua" --interpret predict --weights "$T/tfjs/model.json" --x "$T/x.npy" > /dev/null 2> "$T/other.err"
check "tfjs weights of another model: refused" grep -qF "model.json: its modelTopology has 4 layers, model \"lstm\" has 3" "$T/other.err"
"$RNNC" "$ROOT/specs/lstm.lua" --interpret predict --weights "$T/lstm2.h5" --x "$T/x.npy" > /dev/null 2> "$T/other.err"
check "HDF5 weights of another model: refused" grep -qF "lstm2.h5: 4 layers with weights, but model \"lstm\" has 3" "$T/other.err"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["weightsManifest"][0]["weights"][1]["shape"]=[32, 16]; json.dump(d,open(sys.argv[1],"w"))' "$T/tfjs2/model.json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("modelTopology"); json.dump(d,open(sys.argv[1],"w"))' "$T/tfjs2/model.json"
"$RNNC" "$S" --interpret predict --weights "$T/tfjs2/model.json" --x "$T/x.npy" > /dev/null 2> "$T/shape.err"
check "a weight of another shape: refused with both shapes" grep -qF \
  "model.json: weight 'lstm/kernel' has shape [32, 16]; lstm/kernel of model \"lstm2\" is [16, 32]" "$T/shape.err"

# the vocabulary of a text checkpoint goes beside the model, as Keras's Tokenizer
printf '1\tgood great fine film\n0\tbad awful film\n1\tgood film\n0\tbad plot\n' > "$T/t.tsv"
(cd "$T" && "$RNNC" "$S" --interpret fit --epochs 1 --train-text "$T/t.tsv" --quiet --save-weights "$T/text.safetensors")
"$RNNC" "$S" --interpret export --weights "$T/text.safetensors" --format tfjs "$T/text_tfjs" > /dev/null
"$PY" - "$T/text_tfjs" <<'PY' > "$T/tok.out"
import json, sys
d = sys.argv[1]
tok = json.load(open(d + "/tokenizer.json"))
c = tok["config"]
words = open(d + "/vocabulary.txt").read().split("\n")[:-1]
index = json.loads(c["word_index"])
print(tok["class_name"], c["num_words"], c["oov_token"], index["<OOV>"], c["lower"], repr(c["filters"]))
print(" ".join("%s=%d" % (w, index[w]) for w in words))
PY
check "tokenizer.json: Keras's Tokenizer, num_words = input_dim, <OOV> = 2" \
  grep -qxF "Tokenizer 500 <OOV> 2 True '!\"#\$%&()*+,-./:;<=>?@[\\\\]^_\`{|}~\\t\\n'" "$T/tok.out" || cat "$T/tok.out"
check "vocabulary.txt and word_index: by frequency, ties bytewise, from id 4" grep -qx "film=4 bad=5 good=6 awful=7 fine=8 great=9 plot=10" "$T/tok.out"

finish
