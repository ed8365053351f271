#!/usr/bin/env bash
# masking.sh — the embedding's mask (mask_zero = true) through the layers as Keras 2
# propagates it: for recurrent layers of every kind (forward, go_backwards, stacked with
# return_sequences, dropout and recurrent dropout, bidirectional with and without
# return_sequences, every merge_mode, large layers), Dense, Dropout and Activation on
# sequences and GlobalAveragePooling1D, the generated trainer matches the reference (`EXE selftest`,
# whose batch for a masked model has a row of padding only, a row without any, rows
# padded before and after their tokens), also with --unroll full, --unroll none and
# --no-fold; a trainer whose step ignores the mask fails it; a layer Keras refuses a
# mask for is an error at the spec's line; text padded 'pre' or 'post' trains a masked
# GRU alike; the summary of specs/imdb_masked_gru.lua gives Keras's total.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
. "$(dirname "$0")/lib.sh"
tmpdir
# under make test-asan the runtime is instrumented, and the trainers linked with it must be
if [ -n "$SAN" ]; then export CFLAGS="-O1 $SAN"; fi

# spec NAME LAYERS...: a binary classifier over 12 token ids of a 40-word vocabulary,
# padding id 0 masked
spec() {
  local n=$1; shift
  {
    echo "return sequential \"$n\" {"
    echo "  embedding { 40, 6, input_length = 12, mask_zero = true },"
    for l in "$@"; do echo "  $l,"; done
    echo '  dense { 1, activation = "sigmoid" },'
    echo '  compile = { optimizer = "rmsprop", loss = "binary_crossentropy", metrics = { "accuracy" } },'
    echo '}'
  } > "$T/$n.lua"
}

spec m_lstm 'lstm { 5 }'
spec m_simple_back 'simple_rnn { 5, go_backwards = true }'
spec m_gru_v1 'gru { 5, reset_after = false }'
spec m_stack 'gru { 5, return_sequences = true, go_backwards = true }' \
  'lstm { 4, dropout = 0.2, recurrent_dropout = 0.3, return_sequences = true }' 'simple_rnn { 3 }'
spec m_bi_concat 'bidirectional { lstm { 4, return_sequences = true } }' 'gru { 3 }'
spec m_bi_mul 'bidirectional { gru { 4, return_sequences = true, go_backwards = true }, merge_mode = "mul" }' \
  'global_average_pooling1d { }'
spec m_bi_ave 'bidirectional { simple_rnn { 4, return_sequences = true }, merge_mode = "ave" }' 'lstm { 3 }'
spec m_bi_sum 'bidirectional { lstm { 4, dropout = 0.25 }, merge_mode = "sum" }'
spec m_dense_seq 'dropout { 0.3 }' 'dense { 7, activation = "relu" }' 'activation { "tanh" }' \
  'simple_rnn { 4, return_sequences = true }' 'global_average_pooling1d { }'
spec m_pool_only 'global_average_pooling1d { }'
# large enough for the large layers' kernels: the hoisted input projection, the packed
# recurrent kernel, the lane-summed weight gradients (rnn_gemm.h)
spec m_large 'lstm { 128, return_sequences = true, dropout = 0.2 }' 'bidirectional { gru { 96 } }'
specs=(m_large m_lstm m_simple_back m_gru_v1 m_stack m_bi_concat m_bi_mul m_bi_ave m_bi_sum m_dense_seq m_pool_only)

# selftest_passes NAME EXE: the generated trainer EXE matches the reference
selftest_passes() {
  local what=$1 exe=$2
  "$exe" selftest > "$T/st.out" 2>&1
  local rc=$?
  check "$what: selftest exit 0 (got $rc)" test $rc -eq 0 || cat "$T/st.out"
  check "$what: selftest PASS" grep -qx PASS "$T/st.out"
}

for n in "${specs[@]}"; do
  "$RNNC" "$T/$n.lua" -o "$T/$n" > "$T/$n.build" 2>&1
  check "$n: builds" test $? -eq 0 || { cat "$T/$n.build"; continue; }
  selftest_passes "$n" "$T/$n"
done
for opt in "--unroll full" "--unroll none" "--no-fold"; do
  for n in m_lstm m_stack m_bi_concat; do
    # shellcheck disable=SC2086  # the option is two words
    "$RNNC" "$T/$n.lua" $opt -o "$T/$n.opt" > "$T/$n.build" 2>&1
    check "$n $opt: builds" test $? -eq 0 || { cat "$T/$n.build"; continue; }
    selftest_passes "$n $opt" "$T/$n.opt"
  done
done

# ---- a step that ignores the mask fails the selftest: the forward's select taken out,
# then the backward's (the gradient of a padded step) -------------------------------
"$RNNC" "$T/m_lstm.lua" -o "$T/m_lstm.c"
sed 's/now\[u \* W + l\] = m\[l\] != 0 ? /now[u * W + l] = 1 ? /' "$T/m_lstm.c" > "$T/nofwd.c"
sed 's/dhn\[u \* W + l\] = m\[l\] != 0 ? /dhn[u * W + l] = 1 ? /' "$T/m_lstm.c" > "$T/noback.c"
check "the forward's select is there to take out" test "$(grep -c '= 1 ? ' "$T/nofwd.c")" -eq 2
check "the backward's select is there to take out" test "$(grep -c '= 1 ? ' "$T/noback.c")" -eq 1
for v in nofwd noback; do
  # shellcheck disable=SC2086  # SAN is a list of flags
  "${CC:-clang}" -O1 $SAN -I"$BUILD/include" "$T/$v.c" "$BUILD/librnnrt.a" -lm -lpthread -o "$T/$v" 2> "$T/$v.cc"
  check "$v: builds" test $? -eq 0 || { cat "$T/$v.cc"; continue; }
  "$T/$v" selftest > "$T/$v.out" 2>&1
  check "$v: the selftest fails" test $? -ne 0
  check "$v: names a gradient" grep -q "grad lstm/.*FAIL" "$T/$v.out"
done
check "nofwd: the probabilities differ" grep -q "^  probabilities .*FAIL" "$T/nofwd.out"

# ---- layers Keras refuses a mask for: an error at the layer's line ----------------------
refused() {
  local layer=$1 line=3
  printf 'return sequential "r" {\n  embedding { 40, 6, input_length = 12, mask_zero = true },\n  %s,\n  flatten { },\n  dense { 1, activation = "sigmoid" },\n  compile = { optimizer = "rmsprop", loss = "binary_crossentropy" },\n}\n' "$layer" > "$T/r.lua"
  "$RNNC" "$T/r.lua" -o "$T/r.c" > "$T/r.err" 2>&1
  check "$layer: refused" test $? -ne 0
  check "$layer: at $T/r.lua:$line" grep -q "^$T/r.lua:$line: .*does not support masking" "$T/r.err" || cat "$T/r.err"
  check "$layer: no output" test ! -e "$T/r.c"
}
refused 'conv1d { 4, 3 }'
refused 'max_pooling1d { 2 }'
refused 'global_max_pooling1d { }'
refused 'flatten { }'

# ---- text padded 'pre' or 'post' (the embedding's padding option): with the mask a GRU
# trains to the same weights either way (to float rounding: the weight gradients sum the
# steps in blocks), without it not --------------------------------------------------------
python3 - "$T/t.tsv" <<'PY'
import random, sys
r = random.Random(3)
words = "good bad film plot acting great awful boring fine dull best worst story music".split()
with open(sys.argv[1], "w") as f:
    for i in range(60):
        ws = [r.choice(words) for _ in range(r.randint(1, 14))]
        up = sum(w in ("good", "great", "fine", "best") for w in ws)
        f.write("%d\t%s\n" % (int(up > sum(w in ("bad", "awful", "dull", "worst") for w in ws)), " ".join(ws)))
PY
cat > "$T/wdiff.py" <<'PY'
import array, struct, sys
def tensors(path):   # the data of a safetensors file as float32
    d = open(path, "rb").read()
    n = struct.unpack("<Q", d[:8])[0]
    a = array.array("f")
    a.frombytes(d[8 + n:])
    return a
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
print(max(abs(x - y) for x, y in zip(a, b)) if len(a) == len(b) and a else "sizes differ")
PY
for mask in true false; do
  for pad in pre post; do
    printf 'return sequential "t" {\n  embedding { 30, 4, input_length = 10, mask_zero = %s, padding = "%s" },\n  gru { 3 },\n  dense { 1, activation = "sigmoid" },\n  compile = { optimizer = "rmsprop", loss = "binary_crossentropy" },\n  fit = { epochs = 2, batch_size = 8 },\n}\n' \
      $mask $pad > "$T/t.lua"
    "$RNNC" "$T/t.lua" -o "$T/t" > /dev/null 2>&1 && "$T/t" fit --train-text "$T/t.tsv" --seed 5 --save-weights "$T/w_$pad.safetensors" > "$T/t.out" 2>&1
    check "text, mask_zero $mask, padding $pad: trains" test $? -eq 0 || cat "$T/t.out"
  done
  d=$(python3 "$T/wdiff.py" "$T/w_pre.safetensors" "$T/w_post.safetensors")
  if [ $mask = true ]; then check "masked: 'pre' and 'post' train alike (max difference $d)" python3 -c "assert $d < 1e-6"
  else check "not masked: 'pre' and 'post' differ (max difference $d)" python3 -c "assert $d > 1e-3"; fi
done

# ---- the summary of the issue's model ---------------------------------------------------
"$RNNC" specs/imdb_masked_gru.lua --interpret summary > "$T/sum.out" 2>&1
check "imdb_masked_gru: Keras's total" grep -q "^Total params: 326369 " "$T/sum.out" || cat "$T/sum.out"
check "imdb_masked_gru: the GRU's parameters" grep -q "^ gru (GRU) .* 6336 *$" "$T/sum.out"
finish
