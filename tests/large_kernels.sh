#!/usr/bin/env bash
# large_kernels.sh — the code of layers too large for straight-line kernels: their K and
# R gradients as lane-summed matrix products (rnn_gemm.h), their forward steps reading R
# in panels. For each spec below (every recurrent kind, GRU with and without reset_after,
# recurrent dropout on the products' rows, a stack with input dropout, sizes that leave
# remainders everywhere): the generated file uses both (rnn_wg_grads, rp<i>), the
# trainer passes selftest against the reference (and with --unroll none for some), and
# a stack trains to the same weights with 1 and 2 threads.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
# SAN (exported by `make test-asan`) is added to the trainers' flags.
. "$(dirname "$0")/lib.sh"
tmpdir
if [ -n "$SAN" ]; then export CFLAGS="-O1 $SAN"; fi

spec() {   # spec NAME LAYERS...: embedding 3000 x 40, 30 steps, the layers, a sigmoid head
  local name=$1
  shift
  {
    echo "return sequential \"$name\" {"
    echo "  embedding { 3000, 40, input_length = 30 },"
    for l in "$@"; do echo "  $l,"; done
    echo '  dense { 1, activation = "sigmoid" },'
    echo '  compile = { optimizer = rmsprop { learning_rate = 1e-3 }, loss = "binary_crossentropy", metrics = { "accuracy" } },'
    echo '  fit = { epochs = 1, batch_size = 64 },'
    echo "}"
  } > "$T/$name.lua"
}
spec gru_reset_before 'gru { 100, reset_after = false }'
spec gru_masked 'gru { 72, reset_after = false, recurrent_dropout = 0.2, dropout = 0.1 }'
spec gru_after_masked 'gru { 96, recurrent_dropout = 0.25 }'
spec lstm_masked 'lstm { 100, recurrent_dropout = 0.2 }'
spec lstm_stack 'lstm { 64, return_sequences = true, dropout = 0.2 }' 'lstm { 50 }'
spec simple_masked 'simple_rnn { 130, recurrent_dropout = 0.1 }'
spec simple_odd 'simple_rnn { 77 }'
NAMES="gru_reset_before gru_masked gru_after_masked lstm_masked lstm_stack simple_masked simple_odd"
NONE="gru_reset_before lstm_stack simple_odd"   # also built with --unroll none

build() {   # build NAME SUFFIX [OPTIONS...]
  local n=$1 sfx=$2
  shift 2
  "$RNNC" "$T/$n.lua" "$@" -o "$T/$n$sfx.c" > "$T/$n$sfx.gen" 2>&1 &&
    "$RNNC" "$T/$n.lua" "$@" -o "$T/$n$sfx" > "$T/$n$sfx.build" 2>&1
  echo $? > "$T/$n$sfx.rc"
}
jobs=0
for n in $NAMES; do
  build "$n" "" &
  jobs=$((jobs + 1))
  case " $NONE " in *" $n "*) build "$n" _none --unroll none & jobs=$((jobs + 1)) ;; esac
  if [ "$jobs" -ge 2 ]; then wait; jobs=0; fi
done
wait

for n in $NAMES; do
  for sfx in "" _none; do
    [ -f "$T/$n$sfx.rc" ] || continue
    what="$n${sfx:+ (--unroll none)}"
    check "$what: builds" test "$(cat "$T/$n$sfx.rc")" -eq 0 || { cat "$T/$n$sfx.gen" "$T/$n$sfx.build"; continue; }
    check "$what: K and R as lane-summed products" grep -q "rnn_wg_grads(terms" "$T/$n$sfx.c"
    check "$what: the forward reads R in panels" grep -q "const rnn_real \*R = w->rp1;" "$T/$n$sfx.c"
    "$T/$n$sfx" selftest > "$T/$n$sfx.out" 2>&1
    rc=$?
    check "$what: selftest exits 0 (got $rc)" test "$rc" -eq 0 || cat "$T/$n$sfx.out"
    check "$what: selftest PASS" grep -qx PASS "$T/$n$sfx.out"
    check "$what: selftest checked the recurrent kernel" grep -q "grad .*recurrent_kernel" "$T/$n$sfx.out"
  done
done

# the stack, 1 and 2 threads: the same weights, bit for bit
if [ "$(cat "$T/lstm_stack.rc")" -eq 0 ]; then
  for t in 1 2; do
    (cd "$T" && ./lstm_stack fit --builtin-train 300 --builtin-val 64 --epochs 2 --seed 5 --quiet --threads "$t" \
      --threads-over-cores --save-weights "w$t.safetensors" > "fit$t.out" 2>&1)
    check "lstm_stack: fit --threads $t exits 0" test $? -eq 0 || cat "$T/fit$t.out"
  done
  check "lstm_stack: --threads 1 and 2 give the same weights" cmp -s "$T/w1.safetensors" "$T/w2.safetensors"
fi
finish
