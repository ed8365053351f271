#!/usr/bin/env bash
# predictor.sh — `rnnc SPEC --weights F -o P.c` embeds trained weights in an
# inference-only predictor: it compiles warning-free with clang and gcc, needs nothing
# but libm (no allocation, no file I/O: no such symbol is referenced), and its
# probabilities equal the interpreter's predict on the same weights and tokens (also with
# the embedding's mask).
. "$(dirname "$0")/lib.sh"
tmpdir
cd "$T" || exit 1

# a bidirectional stack over go_backwards layers, every merge path the forward has
cat > "$T/bidi.lua" <<'LUA'
return sequential "bidi" {
  embedding { 500, 6, input_length = 100 },
  bidirectional { gru { 5, go_backwards = true, return_sequences = true }, merge_mode = "ave" },
  bidirectional { lstm { 4, return_sequences = true }, merge_mode = "mul" },
  simple_rnn { 3, go_backwards = true },
  dense { 1, activation = "sigmoid" },
}
LUA
# convolutions (every padding, strides, dilation), pooling, dense and activation on the
# steps, spatial and standalone dropout, flatten, and Activation heads
cat > "$T/conv.lua" <<'LUA'
return sequential "conv" {
  embedding { 500, 6, input_length = 100 },
  spatial_dropout1d { 0.3 },
  conv1d { 8, 3, padding = "same", activation = "relu" },
  max_pooling1d { 3, strides = 2, padding = "same" },
  conv1d { 7, 5, strides = 2, activation = "tanh", use_bias = false },
  average_pooling1d { 2 },
  dropout { 0.25 },
  dense { 5, activation = "softmax" },
  global_average_pooling1d { },
  dense { 4 },
  activation { "relu" },
  dense { 1 },
  activation { "sigmoid" },
}
LUA
cat > "$T/conv2.lua" <<'LUA'
return sequential "conv2" {
  embedding { 500, 5, input_length = 100 },
  conv1d { 6, 3, padding = "causal", dilation_rate = 2, activation = "softmax" },
  global_max_pooling1d { },
  dense { 1 },
  activation { "sigmoid" },
}
LUA
cat > "$T/flat.lua" <<'LUA'
return sequential "flat" {
  embedding { 500, 4, input_length = 100 },
  conv1d { 3, 4, padding = "valid" },
  flatten { },
  dense { 1, activation = "sigmoid" },
}
LUA
# the embedding's mask through every layer that takes it; its tokens padded (below)
cat > "$T/masked.lua" <<'LUA'
return sequential "masked" {
  embedding { 500, 5, input_length = 100, mask_zero = true },
  dense { 4, activation = "tanh" },
  bidirectional { gru { 3, return_sequences = true }, merge_mode = "concat" },
  lstm { 4, go_backwards = true, return_sequences = true },
  global_average_pooling1d { },
  dense { 1, activation = "sigmoid" },
}
LUA
for spec in lstm2 gru bidi conv conv2 flat masked; do
  S="$ROOT/specs/$spec.lua"
  [ -f "$S" ] || S="$T/$spec.lua"
  "$RNNC" "$S" --interpret fit --epochs 1 --builtin-train 256 --builtin-val 64 --batch-size 32 --learning-rate 0.01 \
      --save-weights "$T/$spec.safetensors" --quiet
  check "$spec: weights trained" test -s "$T/$spec.safetensors"
  "$RNNC" "$S" --weights "$T/$spec.safetensors" -o "$T/${spec}_pred.c"
  check "$spec: predictor written" test -s "$T/${spec}_pred.c"
  /usr/bin/python3 - "$T" "$spec" <<'PY'
import random, struct, sys
d, spec = sys.argv[1], sys.argv[2]
rng = random.Random(7)
n, T = 13, 100
tok = [rng.randrange(0, 500) for _ in range(n * T)]
if spec == "masked":   # rows padded after or before their tokens, one of padding only
    for i in range(n):
        keep = 0 if i == 5 else rng.randrange(1, T + 1)
        for t in range(T - keep):
            tok[i * T + (keep + t if i % 2 else t)] = 0
header = "{'descr': '<i4', 'fortran_order': False, 'shape': (%d, %d), }" % (n, T)
header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
with open("%s/x.npy" % d, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%di" % len(tok), *tok))
# the host program: predictions in order, then four threads at once, each with its own
# workspace and a sample of its own, which must equal the serial ones bit for bit
with open("%s/main_%s.c" % (d, spec), "w") as f:
    f.write("#include <pthread.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n")
    f.write("size_t %s_predict_workspace(void);\n" % spec)
    f.write("int %s_predict(void *work, const int32_t *tokens, int n, float *out);\n" % spec)
    f.write("static const int32_t TOKENS[%d] = {%s};\n" % (len(tok), ",".join(map(str, tok))))
    f.write("typedef struct { int i; float p; } job;\n")
    f.write("static void *run(void *arg) {\n    job *j = arg;\n")
    f.write("    void *w = aligned_alloc(64, (%s_predict_workspace() + 63) / 64 * 64);\n" % spec)
    f.write("    for (int k = 0; k < 20; k++) if (%s_predict(w, TOKENS + j->i * %d, 1, &j->p) != 0) j->p = -1;\n" % (spec, T))
    f.write("    free(w);\n    return NULL;\n}\n")
    f.write("int main(void) {\n    float p[%d];\n" % n)
    f.write("    void *w = aligned_alloc(64, (%s_predict_workspace() + 63) / 64 * 64);\n" % spec)
    f.write("    if (%s_predict(w, TOKENS, %d, p) != 0) return 1;\n" % (spec, n))
    f.write("    for (int i = 0; i < %d; i++) printf(\"%%.6f\\n\", (double)p[i]);\n" % n)
    f.write("    job jobs[4] = {{1, 0}, {4, 0}, {7, 0}, {12, 0}};\n    pthread_t th[4];\n")
    f.write("    for (int k = 0; k < 4; k++) pthread_create(&th[k], NULL, run, &jobs[k]);\n")
    f.write("    for (int k = 0; k < 4; k++) {\n        pthread_join(th[k], NULL);\n")
    f.write("        if (memcmp(&jobs[k].p, &p[jobs[k].i], sizeof(float)) != 0) return 3;\n    }\n")
    f.write("    const int32_t bad[%d] = {500};\n    if (%s_predict(w, bad, 1, p) != -1) return 2;\n" % (T, spec))
    f.write("    if (%s_predict(NULL, TOKENS, 1, p) != -2) return 4;\n    free(w);\n    return 0;\n}\n" % spec)
PY
  "$RNNC" "$S" --interpret predict --weights "$T/$spec.safetensors" --x "$T/x.npy" > "$T/${spec}_ref.txt"
  check "$spec: the interpreter predicts" test "$(wc -l < "$T/${spec}_ref.txt")" -eq 13
  # every file named per spec and compiler: a failed build must not leave another's
  for cc in clang gcc; do
    command -v $cc > /dev/null || continue
    exe="$T/${spec}_pred_$cc"
    $cc -std=c17 -Wall -Wextra -Wpedantic -Werror -O2 -march=native $SAN -I"$ROOT/$BUILD/include" \
        "$T/${spec}_pred.c" "$T/main_$spec.c" -lm -lpthread -o "$exe" 2> "$T/cc.err"
    check "$spec: predictor compiles warning-free with $cc" test $? -eq 0 -a -x "$exe" || cat "$T/cc.err"
    "$exe" > "$exe.txt"
    check "$spec: predictor ($cc) runs, on four threads at once too, and rejects a bad id and no workspace" test $? -eq 0
    /usr/bin/python3 -c '
import sys
a = [float(x) for x in open(sys.argv[1])]; b = [float(x) for x in open(sys.argv[2])]
w = max(abs(x - y) for x, y in zip(a, b)) if len(a) == len(b) == 13 else 1
print("predictor vs interpreter: worst %.1e" % w); sys.exit(0 if w <= 2e-6 else 1)' "$exe.txt" "$T/${spec}_ref.txt"
    check "$spec: predictor ($cc) equals the interpreter" test $? -eq 0
  done
  $(command -v clang || echo cc) -std=c17 -O2 -I"$ROOT/$BUILD/include" -c "$T/${spec}_pred.c" -o "$T/${spec}_pred.o"
  check "$spec: the predictor object compiles" test $? -eq 0
  check "$spec: the predictor references only libm" test "$(nm "$T/${spec}_pred.o" | awk '$1 == "U" {print $2}' | grep -Evc '^(expf|tanhf|exp|log)$')" -eq 0
  # no per-thread or global state: a thread that never predicts pays nothing for it
  check "$spec: the predictor has no thread-local and no writable static data" \
    test "$(readelf -S "$T/${spec}_pred.o" | grep -cE '\.(tbss|tdata|bss|data)\b')" -eq 0
done
"$RNNC" "$ROOT/specs/lstm.lua" --weights "$T/gru.safetensors" -o "$T/wrong.c" 2> "$T/err"
check "weights of another model are refused" grep -q "gru.safetensors: the weights are for a different model" "$T/err"
check "nothing written for them" test ! -e "$T/wrong.c"
# the same shapes, another activation: the trainer refuses such weights, so does the predictor
sed 's/simple_rnn { 8 }/simple_rnn { 8, activation = "relu" }/' "$ROOT/specs/simplernn.lua" > "$T/relu.lua"
check "the relu variant differs from simplernn" test "$(grep -c relu "$T/relu.lua")" -eq 1
"$RNNC" "$ROOT/specs/simplernn.lua" --interpret fit --epochs 1 --builtin-train 64 --builtin-val 0 \
    --save-weights "$T/simplernn.safetensors" --quiet
"$RNNC" "$T/relu.lua" --weights "$T/simplernn.safetensors" -o "$T/relu.c" 2> "$T/err"
check "weights of the same shapes for another activation are refused (exit 1)" test $? -eq 1
check "... naming the reason" grep -q "simplernn.safetensors: the weights are for a different model" "$T/err"
check "... and nothing is written" test ! -e "$T/relu.c"
"$RNNC" "$ROOT/specs/lstm.lua" --weights "$T/gru.safetensors" -o "$T/exe" 2> "$T/err"
check "--weights needs a .c output (usage error)" test $? -eq 2

finish
