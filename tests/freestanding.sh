#!/usr/bin/env bash
# freestanding.sh — `rnnc SPEC --weights W -o P.c --freestanding`, a predictor for a
# microcontroller, for each seed spec: it builds warning-free (double promotion included)
# with arm-none-eabi-gcc for a Cortex-M4 with -ffreestanding, needs nothing of a C
# library but memcpy (no malloc, stdio, libm, threads) and keeps no state (no .data,
# no .bss); its flash and RAM are printed (the README's table); built into a program for
# QEMU's mps2-an386 (Cortex-M4) it runs under qemu-system-arm with semihosting and prints
# exactly the bits that the same C built for the host prints, which agree with the hosted
# predictor (rnnc --weights W -o P.c) to 1e-5.
# Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm (make deps).
. "$(dirname "$0")/lib.sh"
tmpdir
cd "$T" || exit 1
for tool in arm-none-eabi-gcc arm-none-eabi-size arm-none-eabi-nm qemu-system-arm gcc; do
  command -v "$tool" > /dev/null || { bad "$tool is not installed (make deps installs it)"; finish; exit 1; }
done
H="$ROOT/tests/freestanding"
M4=(-std=c17 -O2 -mthumb -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard)
INC=-I"$ROOT/$BUILD/include"
# The host build computes as the Cortex-M4 does: fmaf where rnn_fastmath.h uses it, no
# other contraction (gcc in ISO C mode contracts nothing).
HOSTCC=(gcc -std=c17 -O2)
if grep -qw fma /proc/cpuinfo; then HOSTCC+=(-mfma); else
  echo "freestanding.sh: this CPU has no FMA: the host build runs under qemu-x86_64 -cpu Haswell"; HOSTCC+=(-mfma); HOSTRUN=(qemu-x86_64-static -cpu Haswell); fi

arm-none-eabi-gcc "${M4[@]}" -Wall -Wextra -Werror -c "$H/startup.c" -o startup.o
check "the Cortex-M4 start-up compiles" test $? -eq 0

echo "freestanding.sh: Cortex-M4 sizes (arm-none-eabi-gcc -O2; flash = text, RAM = the caller's workspace)"
for spec in simplernn lstm lstm_dropout lstm2 gru; do
  S="$ROOT/specs/$spec.lua"
  "$RNNC" "$S" --interpret fit --builtin-train 300 --builtin-val 0 --epochs 1 --quiet --seed 5 \
    --save-weights "$spec.st" --checkpoint ck.st > fit.out 2>&1
  check "$spec: weights trained" test -s "$spec.st" || { cat fit.out; continue; }
  "$RNNC" "$S" --weights "$spec.st" -o "$spec-fs.c" --freestanding && "$RNNC" "$S" --weights "$spec.st" -o "$spec-hosted.c"
  check "$spec: rnnc --freestanding exits 0" test $? -eq 0 || continue
  work=$(sed -n 's/^ \*     the bytes of workspace a call needs: \([0-9]*\)$/\1/p' "$spec-fs.c")
  steps=$(sed -n 's/^ \*     tokens  \[n\]\[\([0-9]*\)\] token ids in \[0, \([0-9]*\)).*/\1 \2/p' "$spec-fs.c")
  read -r T V <<< "$steps"
  check "$spec: workspace, steps and vocabulary in the header ($work, $T, $V)" test -n "$work" -a -n "$T" -a -n "$V"

  arm-none-eabi-gcc "${M4[@]}" -ffreestanding -Wall -Wextra -Wpedantic -Wdouble-promotion -Werror "$INC" \
    -c "$spec-fs.c" -o "$spec.o" > cc.out 2>&1
  check "$spec: builds for the Cortex-M4, -ffreestanding, warning-free" test $? -eq 0 || { cat cc.out; continue; }
  undef=$(arm-none-eabi-nm -u "$spec.o" | awk '{print $2}' | grep -vx -e memcpy -e memset -e memmove | tr '\n' ' ')
  check "$spec: no library call but memcpy/memset (got: ${undef:-none})" test -z "$undef"
  read -r text data bss _ < <(arm-none-eabi-size "$spec.o" | tail -n 1)
  check "$spec: no state (.data $data, .bss $bss)" test "$data" -eq 0 -a "$bss" -eq 0
  printf 'freestanding.sh:   %-13s flash %7d bytes   RAM %7d bytes\n' "$spec" "$text" "$work"

  # the program for mps2-an386, and the same harness and predictor for the host
  D=(-DMODEL="$spec" -DSTEPS="$T" -DVOCAB="$V" -DOUTS=1 -DWORK="$work")
  arm-none-eabi-gcc "${M4[@]}" "${D[@]}" -c "$H/harness.c" -o "$spec-h.o" &&
    arm-none-eabi-gcc "${M4[@]}" --specs=rdimon.specs -T "$H/mps2_an386.ld" startup.o "$spec-h.o" "$spec.o" -o "$spec.elf"
  check "$spec: the mps2-an386 program links" test $? -eq 0 || continue
  timeout 300 qemu-system-arm -M mps2-an386 -nographic -semihosting-config enable=on,target=native \
    -kernel "$spec.elf" > "$spec-m4.out" 2> qemu.err
  check "$spec: runs under qemu-system-arm (exit 0)" test $? -eq 0 || cat qemu.err
  check "$spec: Cortex-M4: rc 0 and 20 outputs" test "$(head -n 1 "$spec-m4.out")" = "rc 0" -a "$(wc -l < "$spec-m4.out")" -eq 21
  "${HOSTCC[@]}" "${D[@]}" "$INC" "$H/harness.c" "$spec-fs.c" -o "$spec-host" -lm && ${HOSTRUN[@]+"${HOSTRUN[@]}"} "./$spec-host" > "$spec-host.out"
  check "$spec: the host build of the same C prints the same bits as the Cortex-M4" cmp -s "$spec-host.out" "$spec-m4.out" ||
    diff "$spec-host.out" "$spec-m4.out" | head -n 5
  "${HOSTCC[@]}" "${D[@]}" "$INC" "$H/harness.c" "$spec-hosted.c" -o "$spec-hosted" -lm &&
    ${HOSTRUN[@]+"${HOSTRUN[@]}"} "./$spec-hosted" > "$spec-hosted.out"
  check "$spec: agrees with the hosted predictor to 1e-5" python3 - "$spec-m4.out" "$spec-hosted.out" <<'EOF'
import struct, sys
def vals(path):
    lines = open(path).read().split()
    return [struct.unpack("<f", bytes.fromhex(h)[::-1])[0] for h in lines[2:]]
a, b = vals(sys.argv[1]), vals(sys.argv[2])
sys.exit(0 if len(a) == len(b) == 20 and max(abs(x - y) for x, y in zip(a, b)) <= 1e-5 else 1)
EOF
done

"$RNNC" "$ROOT/specs/lstm.lua" --freestanding -o x.c > /dev/null 2> err.out
check "--freestanding without --weights: usage error (exit 2)" test $? -eq 2
check "... saying so" grep -q "freestanding goes with --weights" err.out
finish
