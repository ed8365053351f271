#!/usr/bin/env bash
# conv_layers.sh — the non-recurrent layers' generated code against the reference, and
# the output layer as Dense then Activation:
#   - specs that between them take every code path of conv1d (valid, same and causal
#     padding, strides, dilation, no bias, every activation, the kernel gradient taken at
#     one step per filter when a global max pooling follows), of the pooling layers
#     (windows that overlap, leave gaps and, with same padding, hang over an end), of
#     dense and activation on the steps, flatten and spatial_dropout1d build and pass
#     `selftest` (default seed and --seed 7);
#   - a model ending in dense { 1 } and activation { "sigmoid" } trains exactly as the
#     same model ending in dense { 1, activation = "sigmoid" } (its tensors have the same
#     names, so the same initial weights): the same loss and accuracy every epoch, bit for
#     bit in the JSON, and the same weights; a softmax head likewise;
#   - the four Keras zoo specs' trainers write the sizes a summary gives.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
. "$(dirname "$0")/lib.sh"
tmpdir
if [ -n "$SAN" ]; then export CFLAGS="-O1 $SAN"; fi

# ---- selftest over every path ---------------------------------------------------------
cat > "$T/windows.lua" <<'LUA'
return sequential "windows" {
  embedding { 50, 6, input_length = 23 },
  spatial_dropout1d { 0.3 },
  conv1d { 8, 3, padding = "same", activation = "relu" },
  max_pooling1d { 3, strides = 2, padding = "same" },
  conv1d { 7, 5, strides = 2, activation = "tanh", use_bias = false },
  average_pooling1d { 3, strides = 2, padding = "same" },
  dense { 5, activation = "softmax" },
  flatten { },
  dense { 4 },
  activation { "relu" },
  dense { 1 },
  activation { "sigmoid" },
}
LUA
cat > "$T/causal.lua" <<'LUA'
return sequential "causal" {
  embedding { 40, 5, input_length = 19 },
  conv1d { 6, 3, padding = "causal", dilation_rate = 2, activation = "sigmoid" },
  average_pooling1d { 2, strides = 3 },
  conv1d { 9, 2, padding = "valid", activation = "softmax" },
  max_pooling1d { 2, strides = 1 },
  activation { "tanh" },
  global_average_pooling1d { },
  dense { 3 },
  activation { "softmax" },
  compile = { loss = "sparse_categorical_crossentropy" },
}
LUA
# relu then a global maximum: the kernel's gradient at one step per filter and lane;
# dropout before the convolution, as Keras's imdb_cnn.py has it
cat > "$T/steps.lua" <<'LUA'
return sequential "steps" {
  embedding { 60, 7, input_length = 30 },
  dropout { 0.2 },
  conv1d { 11, 3, activation = "relu" },
  global_max_pooling1d { },
  dense { 9 },
  dropout { 0.2 },
  activation { "relu" },
  dense { 1 },
  activation { "sigmoid" },
}
LUA
cat > "$T/lstm_after.lua" <<'LUA'
return sequential "lstm_after" {
  embedding { 50, 8, input_length = 26 },
  conv1d { 6, 5, activation = "relu", name = "features" },
  max_pooling1d { 4 },
  lstm { 5 },
  dense { 1 },
  activation { "sigmoid" },
}
LUA
for spec in windows causal steps lstm_after; do
  "$RNNC" "$T/$spec.lua" -o "$T/$spec" > "$T/$spec.build" 2>&1
  check "$spec: the trainer builds" test $? -eq 0 || { cat "$T/$spec.build"; continue; }
  for seed in "" 7; do
    "$T/$spec" selftest ${seed:+--seed $seed} > "$T/$spec.out" 2>&1
    check "$spec: selftest${seed:+ --seed $seed} passes" test $? -eq 0 || cat "$T/$spec.out"
    check "$spec: selftest${seed:+ --seed $seed} prints PASS" grep -qx PASS "$T/$spec.out"
  done
done
"$RNNC" "$T/steps.lua" -o "$T/steps.c" > /dev/null 2>&1
check "steps: conv1d's backward reads the pooling layer's steps" grep -q "const rnn_real \*gstep = w->gstep2" "$T/steps.c"

# ---- Dense then Activation as the output layer -------------------------------------------
head() {   # head NAME LOSS LAST_LINES: a model whose output layer is LAST_LINES
  cat > "$T/$1.lua" <<LUA
return sequential "$1" {
  embedding { 200, 8, input_length = 12 },
  conv1d { 6, 3, padding = "same", activation = "relu" },
  global_average_pooling1d { },
  dense { 5, activation = "tanh" },
$3
  compile = { optimizer = adam { }, loss = "$2" },
  fit = { epochs = 3, batch_size = 20, seed = 11 },
}
LUA
}
head sig_dense binary_crossentropy '  dense { 1, activation = "sigmoid" },'
head sig_act binary_crossentropy '  dense { 1 },
  activation { "sigmoid" },'
head soft_dense sparse_categorical_crossentropy '  dense { 3, activation = "softmax" },'
head soft_act sparse_categorical_crossentropy '  dense { 3 },
  activation { "softmax" },'
/usr/bin/python3 - "$T" <<'PY'
import random, struct, sys
d = sys.argv[1]
def npy(path, descr, shape, values, fmt):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))
r = random.Random(5)
n, T = 100, 12
npy(d + "/x.npy", "<i4", "(%d, %d)" % (n, T), [r.randrange(200) for _ in range(n * T)], "i")
npy(d + "/y2.npy", "<f4", "(%d,)" % n, [float(r.randrange(2)) for _ in range(n)], "f")
npy(d + "/y3.npy", "<f4", "(%d,)" % n, [float(r.randrange(3)) for _ in range(n)], "f")
PY
for pair in "sig_dense sig_act y2" "soft_dense soft_act y3"; do
  read -r a b y <<< "$pair"
  for m in "$a" "$b"; do
    "$RNNC" "$T/$m.lua" -o "$T/$m" > "$T/$m.build" 2>&1
    check "$m: the trainer builds" test $? -eq 0 || cat "$T/$m.build"
    (cd "$T" && "./$m" fit --train-x x.npy --train-y "$y.npy" --validation-split 0.2 --json \
       --save-weights "$m.safetensors" > "$m.json" 2> "$m.err")
    check "$m: trains" test $? -eq 0 -a "$(grep -c '"epoch"' "$T/$m.json")" -eq 3 || cat "$T/$m.err"
  done
  # the same losses and accuracies, to the last bit (the times differ)
  strip() { sed -E 's/, "seconds": [^,]*, "cpu_seconds": [^,]*, "samples_per_second": [^}]*//' "$1"; }
  check "$b trains exactly as $a (every epoch's loss and accuracy)" cmp -s <(strip "$T/$a.json") <(strip "$T/$b.json") \
    || { strip "$T/$a.json"; strip "$T/$b.json"; }
  tensors() { /usr/bin/python3 "$ROOT/tools/read_safetensors.py" "$1" | grep '^tensor'; }
  check "$b ends with the weights of $a (every tensor's bytes)" cmp -s <(tensors "$T/$a.safetensors") \
    <(tensors "$T/$b.safetensors")
done

finish
