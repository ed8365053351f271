#!/usr/bin/env bash
# shipping.sh — trainers and predictors run on the machines they are shipped to
# (README, "Shipping"):
#   x86-64   the default trainer holds a copy of the kernels per level (x86-64, v2, v3,
#            v4) and runs the best one the CPU has: under qemu-x86_64 as a 2008 CPU without
#            SSE3 (qemu64), Nehalem (v2) and Haswell (v3) it passes selftest and says which
#            copy ran, where the --march native build dies of SIGILL; RNN_ISA picks a lower
#            copy and refuses a level the CPU lacks; the copies without FMA (1, 2) train the
#            same bits, so do those with (3, 4, and --march native), and the two pairs agree
#            to rounding. A predictor built per level picks its copy at each call.
#   aarch64  --target aarch64-linux-gnu cross-builds a trainer that passes selftest under
#            qemu-aarch64 and trains the same weights with 1, 2 and 3 threads.
#   s390x    a big-endian trainer (--target s390x-linux-gnu, under qemu-s390x) reads the
#            safetensors and .npy files of x86-64 (both byte orders of .npy), writes
#            checkpoints x86-64 reads, trains the same bytes as x86-64 with FMA, and
#            resumes an x86-64 checkpoint to the same end.
# Needs qemu-user-static and the cross toolchains (make deps; SHIP_PKGS) and make cross.
# Under SAN (make test-asan) the qemu runs are not run (qemu-user cannot host
# AddressSanitizer's shadow memory): said so, not counted.
. "$(dirname "$0")/lib.sh"
unset RNNC_MARCH   # the default build (every x86-64 level) is what this tests
tmpdir
cd "$T" || exit 1
unset CFLAGS CC   # the defaults are what this tests (make CC=gcc must not reach the cross builds)

need() { command -v "$1" > /dev/null || { bad "$1 is not installed (make deps installs it)"; finish; exit 1; }; }
for tool in qemu-x86_64-static qemu-aarch64-static qemu-s390x-static clang aarch64-linux-gnu-ar s390x-linux-gnu-ar; do need "$tool"; done
for t in aarch64-linux-gnu s390x-linux-gnu; do
  [ -f "$ROOT/$BUILD/$t/librnnrt.a" ] || { bad "no $BUILD/$t/librnnrt.a: run make cross"; finish; exit 1; }
done

# The level this CPU runs, from /proc/cpuinfo (independently of rnn_isa.h).
host_level() {
  local f; f=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { local x; for x in "$@"; do [[ $f == *" $x "* ]] || return 1; done; }
  if has pni ssse3 sse4_1 sse4_2 popcnt avx avx2 fma bmi1 bmi2 avx512f avx512bw avx512cd avx512dq avx512vl; then echo x86-64-v4
  elif has pni ssse3 sse4_1 sse4_2 popcnt avx avx2 fma bmi1 bmi2; then echo x86-64-v3
  elif has pni ssse3 sse4_1 sse4_2 popcnt; then echo x86-64-v2
  else echo x86-64; fi
}
HOST=$(host_level)
QX() { local cpu=$1; shift; qemu-x86_64-static -cpu "$cpu" "$@" 2> >(grep -v "TCG doesn't support" >&2); }
# the fit every weights comparison uses: 2 epochs, dropout masks and all
FIT=(fit --builtin-train 800 --builtin-val 200 --epochs 2 --quiet --seed 3)

# ---- x86-64: one trainer, every level --------------------------------------------
if [ -n "$SAN" ]; then
  # the levels are built with the sanitizers too; only the qemu runs are left out
  CFLAGS="-O1 $SAN" "$RNNC" "$ROOT/specs/lstm.lua" -o lstm --march all > build.out 2>&1
else
  "$RNNC" "$ROOT/specs/lstm.lua" -o lstm > build.out 2>&1
fi
check "lstm: the default build exits 0" test $? -eq 0 || cat build.out
for n in 1 2 3 4; do
  check "lstm: holds the copy of level $n" grep -q "rnn_gen_run_$n\$" <(nm lstm)
done
check "lstm: one main" test "$(nm lstm | grep -c ' T main$')" -eq 1
./lstm selftest > st.out 2>&1
check "lstm: selftest PASS here" grep -qx PASS st.out || cat st.out
check "lstm: runs the copy for this CPU ($HOST)" grep -q "^selftest: model \"lstm\" (generated for $HOST) vs reference" st.out

if [ -n "$SAN" ]; then
  echo "shipping.sh: not run under SAN: the qemu-x86_64 runs of the levels (qemu-user cannot host ASan's shadow memory)"
else
  for cpu_level in qemu64:x86-64 Nehalem:x86-64-v2 Haswell:x86-64-v3; do
    cpu=${cpu_level%%:*} level=${cpu_level##*:}
    QX "$cpu" ./lstm selftest > "q-$cpu.out" 2>&1
    check "qemu -cpu $cpu: selftest exits 0 (got $?)" test $? -eq 0 || cat "q-$cpu.out"
    check "qemu -cpu $cpu: PASS" grep -qx PASS "q-$cpu.out"
    check "qemu -cpu $cpu: runs the $level copy" grep -q "(generated for $level) vs reference" "q-$cpu.out"
  done
  QX Haswell ./lstm summary > /dev/null 2>&1
  check "qemu -cpu Haswell: RNN_ISA unset runs" test $? -eq 0
  RNN_ISA=x86-64-v4 QX Haswell ./lstm summary > isa.out 2>&1
  check "qemu -cpu Haswell: RNN_ISA=x86-64-v4 exits 2" test $? -eq 2
  check "qemu -cpu Haswell: ... and says the CPU runs at most v3" \
    grep -q "RNN_ISA=x86-64-v4: this CPU runs at most x86-64-v3" isa.out || cat isa.out
  if [ "$HOST" = x86-64-v4 ]; then   # the issue this fixes: -march=native on AVX-512 dies on a Haswell
    "$RNNC" "$ROOT/specs/lstm.lua" -o lstm-native --march native > /dev/null 2>&1
    QX Haswell ./lstm-native selftest > /dev/null 2>&1
    check "--march native (AVX-512) under qemu -cpu Haswell: SIGILL (exit 132, got $?)" test $? -eq 132
  fi
fi
RNN_ISA=x86-64-v9 ./lstm summary > isa.out 2>&1
check "RNN_ISA=x86-64-v9: exit 2" test $? -eq 2
check "RNN_ISA=x86-64-v9: names the levels" grep -q "RNN_ISA=x86-64-v9 is not a level: x86-64, x86-64-v2, x86-64-v3 or x86-64-v4" isa.out

# The arithmetic of the copies, on lstm2 (two layers, dropout): every level this CPU
# runs, forced with RNN_ISA, and --march native.
if [ -z "$SAN" ]; then
  "$RNNC" "$ROOT/specs/lstm2.lua" -o lstm2 > /dev/null 2>&1 && "$RNNC" "$ROOT/specs/lstm2.lua" -o lstm2-native --march native > /dev/null 2>&1
  check "lstm2: both builds" test $? -eq 0
  levels=(x86-64 x86-64-v2)
  case $HOST in x86-64-v3) levels+=(x86-64-v3);; x86-64-v4) levels+=(x86-64-v3 x86-64-v4);; esac
  for l in "${levels[@]}"; do
    RNN_ISA=$l ./lstm2 "${FIT[@]}" --threads 1 --save-weights "w-$l.st" --checkpoint ck.st > /dev/null 2>&1
    check "lstm2: fit with RNN_ISA=$l" test -s "w-$l.st"
  done
  ./lstm2-native "${FIT[@]}" --threads 1 --save-weights w-native.st --checkpoint ck.st > /dev/null 2>&1
  check "levels 1 and 2 (no FMA) train the same bytes" cmp -s w-x86-64.st w-x86-64-v2.st
  if [ -f w-x86-64-v3.st ]; then
    [ -f w-x86-64-v4.st ] && check "levels 3 and 4 (FMA) train the same bytes" cmp -s w-x86-64-v3.st w-x86-64-v4.st
    check "--march native trains the bytes of this CPU's level ($HOST)" cmp -s "w-$HOST.st" w-native.st
    # the two pairs: rounding apart, within 1e-3 of each tensor's largest weight after 2 epochs
    python3 - w-x86-64-v2.st w-x86-64-v3.st > diff.out <<'EOF'
import json, struct, sys
def tensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    head = json.loads(raw[8:8 + n])
    head.pop("__metadata__", None)
    return {k: struct.unpack("<%df" % ((v["data_offsets"][1] - v["data_offsets"][0]) // 4),
                             raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in head.items() if v["dtype"] == "F32" and not k.startswith(("optimizer/", "early_stopping/"))}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
print(max(max(abs(x - y) for x, y in zip(a[k], b[k])) / max(max(abs(x) for x in a[k]), 1e-30) for k in a))
EOF
    check "levels 2 and 3 differ (FMA), within 1e-3 relative" python3 -c "
import sys; d = float(open('diff.out').read()); sys.exit(0 if 0 < d <= 1e-3 else 1)" || cat diff.out
  else
    echo "shipping.sh: this CPU has no FMA: the comparison of the FMA copies is not run here"
  fi
fi

# ---- x86-64: a predictor built once per level --------------------------------------
# Each level's copy embeds other weights (A at levels 1 and 3, B at 2 and 4), so the
# probabilities tell which copy ran.
if [ -z "$SAN" ]; then
  for s in 1 2; do ./lstm "${FIT[@]}" --seed "$s" --epochs 1 --save-weights "p$s.st" --checkpoint ck.st > /dev/null 2>&1; done
  "$RNNC" "$ROOT/specs/lstm.lua" --weights p1.st -o pa.c && "$RNNC" "$ROOT/specs/lstm.lua" --weights p2.st -o pb.c
  check "predictors written" test -s pa.c -a -s pb.c
  cat > pmain.c <<'EOF'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
size_t lstm_predict_workspace(void);
int lstm_predict(void *work, const int32_t *tokens, int n, float *out);
int main(void) {
    enum { N = 19, T = 100 };
    static int32_t tok[N * T];
    uint32_t x = 7;
    for (int i = 0; i < N * T; i++) tok[i] = (int32_t)(((x = x * 1664525u + 1013904223u) >> 8) % 500);
    void *w = aligned_alloc(64, (lstm_predict_workspace() + 63) / 64 * 64);
    float out[N];
    int rc = lstm_predict(w, tok, N, out);
    for (int i = 0; i < N; i++) printf("%a\n", (double)out[i]);
    free(w);
    return rc;
}
EOF
  names=(x86-64 x86-64-v2 x86-64-v3 x86-64-v4) objs=() ok=1
  for n in 1 2 3 4; do
    src=pa.c; [ $((n % 2)) -eq 0 ] && src=pb.c
    clang -std=c17 -O3 -Wall -Wextra -Wpedantic -Werror -march="${names[n - 1]}" -mprefer-vector-width=512 \
      -DRNN_ISA_LEVEL=$n -I"$ROOT/$BUILD/include" -c $src -o "p$n.o" || ok=0
    objs+=("p$n.o")
  done
  check "the predictor compiles at every level, warning-free" test $ok -eq 1
  clang -std=c17 -O2 pmain.c "${objs[@]}" -lm -o pmulti
  for w in a b; do clang -std=c17 -O2 -march=x86-64 pmain.c "p$w.c" -I"$ROOT/$BUILD/include" -lm -o "p1-$w" && ./"p1-$w" > "want-$w.out"; done
  check "weights A and B predict differently" test "$(cmp -s want-a.out want-b.out; echo $?)" -eq 1
  for cpu_copy in qemu64:a Nehalem:b Haswell:a; do
    cpu=${cpu_copy%%:*} w=${cpu_copy##*:}
    QX "$cpu" ./pmulti > "pm-$cpu.out"
    check "predictor under qemu -cpu $cpu: its level's copy (weights $w)" cmp -s "pm-$cpu.out" "want-$w.out"
  done
  ./pmulti > pm-host.out
  want=a; [ "$HOST" = x86-64-v2 ] || [ "$HOST" = x86-64-v4 ] && want=b
  check "predictor here: the copy of $HOST (weights $want)" cmp -s pm-host.out "want-$want.out"
fi

# ---- usage ------------------------------------------------------------------------
"$RNNC" "$ROOT/specs/lstm.lua" -o x --march all --target aarch64-linux-gnu > /dev/null 2> e.out
check "--march all for aarch64: exit 1" test $? -eq 1
check "--march all for aarch64: says why" grep -q "rnnc: --march all builds the x86-64 levels; aarch64-linux-gnu is not x86-64" e.out
"$RNNC" "$ROOT/specs/lstm.lua" -o x.c --march native > /dev/null 2> e.out
check "--march with -o X.c: usage error (exit 2)" test $? -eq 2
"$RNNC" "$ROOT/specs/lstm.lua" -o x --march native --portable > /dev/null 2> e.out
check "--march with --portable: usage error (exit 2)" test $? -eq 2
"$RNNC" "$ROOT/specs/lstm.lua" -o x --target '../x' > /dev/null 2> e.out
check "--target ../x: usage error (exit 2)" test $? -eq 2
"$RNNC" "$ROOT/specs/lstm.lua" -o x --target mips-linux-gnu > /dev/null 2> e.out
check "--target without a runtime: exit 1" test $? -eq 1
check "--target without a runtime: says make cross" grep -q "rnnc: no runtime for mips-linux-gnu: .*make cross" e.out
check "no executable after the errors" test ! -e x

if [ -n "$SAN" ]; then
  echo "shipping.sh: not run under SAN: the aarch64 and s390x trainers (qemu-user)"
  finish "(the qemu-user parts not run under SAN)"
  exit $?
fi

# ---- aarch64 ----------------------------------------------------------------------
QA() { qemu-aarch64-static -L /usr/aarch64-linux-gnu "$@"; }
"$RNNC" "$ROOT/specs/lstm2.lua" -o lstm2-a64 --target aarch64-linux-gnu > build.out 2>&1
check "aarch64: lstm2 builds (exit 0)" test $? -eq 0 || cat build.out
check "aarch64: an AArch64 executable" grep -q "Machine: *AArch64" <(readelf -h lstm2-a64)
QA ./lstm2-a64 selftest > a64.out 2>&1
check "aarch64: selftest PASS under qemu-aarch64" grep -qx PASS a64.out || cat a64.out
for t in 1 2 3; do
  QA ./lstm2-a64 "${FIT[@]}" --threads $t --threads-over-cores --save-weights "a64-$t.st" --checkpoint ck.st > /dev/null 2>&1
  check "aarch64: fit --threads $t" test -s "a64-$t.st"
done
check "aarch64: 1 and 2 threads, the same weights" cmp -s a64-1.st a64-2.st
check "aarch64: 1 and 3 threads, the same weights" cmp -s a64-1.st a64-3.st

# ---- s390x: big-endian ------------------------------------------------------------
QS() { qemu-s390x-static -L /usr/s390x-linux-gnu "$@"; }
"$RNNC" "$ROOT/specs/lstm_dropout.lua" -o ld-s390x --target s390x-linux-gnu > build.out 2>&1 &&
  "$RNNC" "$ROOT/specs/lstm_dropout.lua" -o ld-x86 > build.out 2>&1
check "s390x: lstm_dropout builds for s390x and here" test $? -eq 0 || cat build.out
check "s390x: a big-endian executable" grep -Pzq "big endian(.|\n)*Machine: *IBM S/390" <(readelf -h ld-s390x)
QS ./ld-s390x selftest > s390.out 2>&1
check "s390x: selftest PASS under qemu-s390x" grep -qx PASS s390.out || cat s390.out
./ld-x86 "${FIT[@]}" --epochs 1 --threads 1 --save-weights x86.st --checkpoint x86-ck.st > /dev/null 2>&1
QS ./ld-s390x "${FIT[@]}" --epochs 1 --threads 1 --save-weights s390.st --checkpoint s390-ck.st > /dev/null 2>&1
check "s390x: fit writes weights" test -s s390.st
check "s390x writes the bytes x86-64 writes (same training, little-endian file)" cmp -s x86.st s390.st
./ld-x86 evaluate --weights x86.st --builtin-val 300 > e-x86.out 2>/dev/null
QS ./ld-s390x evaluate --weights x86.st --builtin-val 300 > e-s390-x86.out 2>/dev/null
./ld-x86 evaluate --weights s390.st --builtin-val 300 > e-x86-s390.out 2>/dev/null
check "s390x reads x86-64's weights: the same evaluation" cmp -s e-x86.out e-s390-x86.out
check "x86-64 reads s390x's weights: the same evaluation" cmp -s e-x86.out e-x86-s390.out
check "... a real one" grep -q "^300 samples - loss: 0\.[0-9]* - accuracy: 0\.[0-9]*$" e-x86.out || cat e-x86.out
# .npy in both byte orders, written here
python3 - <<'EOF'
import struct
def npy(path, descr, shape, fmt, values):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + struct.pack(fmt, *values))
n, t = 50, 100
x = [(i * 7919 + j * 104729) % 500 for i in range(n) for j in range(t)]
y = [float(i % 2) for i in range(n)]
npy("x-le.npy", "<i4", (n, t), "<%di" % (n * t), x)
npy("x-be.npy", ">i8", (n, t), ">%dq" % (n * t), x)
npy("y-le.npy", "<f4", (n,), "<%df" % n, y)
npy("y-be.npy", ">f8", (n,), ">%dd" % n, y)
EOF
./ld-x86 evaluate --weights x86.st --x x-le.npy --y y-le.npy > n-x86.out 2>&1
QS ./ld-s390x evaluate --weights x86.st --x x-le.npy --y y-le.npy > n-s390-le.out 2>&1
QS ./ld-s390x evaluate --weights x86.st --x x-be.npy --y y-be.npy > n-s390-be.out 2>&1
check ".npy: x86-64 evaluates the little-endian files" grep -q "^50 samples - loss" n-x86.out || cat n-x86.out
check ".npy: s390x reads little-endian .npy as x86-64 does" cmp -s n-x86.out n-s390-le.out
check ".npy: s390x reads big-endian .npy as x86-64 does" cmp -s n-x86.out n-s390-be.out
# a checkpoint of x86-64 resumed on s390x ends where x86-64's resume ends
./ld-x86 "${FIT[@]}" --epochs 1 --threads 1 --checkpoint r.st > /dev/null 2>&1
cp r.st r2.st
./ld-x86 "${FIT[@]}" --threads 1 --resume r.st --checkpoint r.st --save-weights r-x86.st > /dev/null 2>&1
QS ./ld-s390x "${FIT[@]}" --threads 1 --resume r2.st --checkpoint r2.st --save-weights r-s390.st > res.out 2>&1
check "s390x resumes x86-64's checkpoint" test -s r-s390.st || cat res.out
check "... to the bytes x86-64's resume ends with" cmp -s r-x86.st r-s390.st

finish
