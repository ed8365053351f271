#!/usr/bin/env bash
# valgrind.sh — memcheck finds no error and no leak in rnnc (compiling a spec and
# generating code) nor in a short fit, through the interpreter and through a generated
# trainer. Valgrind 3.19 reads neither clang 14's default DWARF 5 nor AVX-512, so this
# uses its own build with -gdwarf-4 and a --portable trainer. Skipped under
# `make test-asan` (the two tools do not mix).
. "$(dirname "$0")/lib.sh"
if [ -n "$SAN" ]; then echo "valgrind.sh: skipped under the sanitizers (valgrind and ASan do not mix; make test runs it)"; exit 0; fi
VB="$BUILD/valgrind"
make -s --no-print-directory BUILD="$VB" OPT='-O1 -gdwarf-4' all > /dev/null || { echo "FAIL: the valgrind build"; exit 1; }
RNNC="$ROOT/$VB/rnnc"
tmpdir
cd "$T" || exit 1
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --child-silent-after-fork=yes)
run() {
  local what=$1; shift
  "${VG[@]}" "$@" > "$T/out" 2> "$T/err"
  local rc=$?
  if [ $rc -eq 0 ]; then ok; else bad "$what (exit $rc)"; tail -20 "$T/err"; fi
}
run "rnnc --check" "$RNNC" "$ROOT/specs/lstm2.lua" --check
run "rnnc --summary" "$RNNC" "$ROOT/specs/gru.lua" --summary
run "rnnc -o (code generation)" "$RNNC" "$ROOT/specs/lstm2.lua" -o "$T/lstm2.c"
run "rnnc on a broken spec" sh -c "printf 'return sequential \"m\" { lstm { -3 } }' > b.lua; $RNNC b.lua; test \$? -eq 1"
run "interpreter fit" "$RNNC" "$ROOT/specs/lstm_dropout.lua" --interpret fit --epochs 2 --builtin-train 96 --builtin-val 32 \
    --batch-size 32 --checkpoint "$T/i.safetensors" --history "$T/h.csv" --plot "$T/h.svg" --save-weights "$T/iw.safetensors" --quiet
run "interpreter resume" "$RNNC" "$ROOT/specs/lstm_dropout.lua" --interpret fit --epochs 3 --builtin-train 96 --builtin-val 32 \
    --batch-size 32 --checkpoint "$T/i.safetensors" --resume "$T/i.safetensors" --quiet
RNNC_RUNTIME_DIR="$ROOT/$VB" CFLAGS='-O1 -gdwarf-4' "$RNNC" "$ROOT/specs/lstm2.lua" --portable -o "$T/lstm2" 2> "$T/build.err"
run "generated trainer selftest" "$T/lstm2" selftest --seed 3
run "generated trainer fit (2 threads)" "$T/lstm2" fit --epochs 1 --builtin-train 96 --builtin-val 32 --batch-size 32 --threads 2 \
    --checkpoint "$T/g.safetensors" --quiet
run "generated trainer evaluate" "$T/lstm2" evaluate --weights "$T/g.safetensors" --builtin-val 32
finish
