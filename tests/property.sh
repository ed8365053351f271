#!/usr/bin/env bash
# property.sh — the code generator against the reference runtime on random models.
#
# tools/random_specs.py writes PROPERTY_N (default 60; 12 under SAN) random valid specs from the seed
# PROPERTY_SEED (default fixed, so CI is deterministic): every layer kind and option,
# stacks of 1-3 recurrent layers, hidden dense layers, both heads, every optimizer and
# clipping mode, and the unroll modes (default, none, full, small budgets); 3 specs in 60
# are tiny deep stacks of up to 32 layers, the limit (none of the 12 under SAN;
# tests/deep.sh builds deep trainers there). The specs
# in tests/property_regressions/ (minimized former failures) run first. For each spec:
#   rnnc SPEC -o NAME.c [its `-- rnnc-options:` line]
#   clang -std=c17 -Wall -Wextra -Wpedantic -Werror -O1 -march=native (every spec)
#   gcc   -std=c17 -Wall -Wextra -Wpedantic -Werror -O1 (every 5th spec)
#   ./NAME selftest            must print PASS and exit 0
# Every selftest must PASS at its own tolerance: there is no retry. Two specs at a time (xargs -P, PROPERTY_JOBS overrides). A failure prints the spec,
# the rnnc and compiler output and the selftest table, and keeps the work directory.
#
#   BUILD=build bash tests/property.sh                   (as `make test` runs it)
#   PROPERTY_SEED=7 PROPERTY_N=200 bash tests/property.sh  (reproduce / explore)
#   bash tests/property.sh path/to/spec.lua ...          (just those specs)
# Run from the repository root; BUILD names the build dir. SAN (from `make test-asan`)
# is added to the compile flags, since the runtime it links is instrumented then.
. "$(dirname "$0")/lib.sh"
INC="$ROOT/$BUILD/include"
LIB="$ROOT/$BUILD/librnnrt.a"
SEED=${PROPERTY_SEED:-20240611}
# Under the sanitizers a random model takes up to 30 s to build and check, and .ci/run
# must stay within 10 minutes on 2 cores; the 60 run in make test.
if [ -n "$SAN" ]; then N=${PROPERTY_N:-12}; else N=${PROPERTY_N:-60}; fi
JOBS=${PROPERTY_JOBS:-2}
# Extra compiler flags after the required ones (exploration only, e.g. -Wno-error=...
# to look past a known warning at the selftests); empty in CI.
XFLAGS=${PROPERTY_CFLAGS:-}
start=$(date +%s)

tmpdir
mkdir -p "$T/specs" "$T/work" "$T/results"

# The generated file includes rnn_fastmath.h; a build tree should carry it in include/.
EXTRA_INC=""
if [ ! -f "$INC/rnn_fastmath.h" ] && [ -f "$ROOT/runtime/rnn_fastmath.h" ]; then
  echo "property.sh: NOTE: $BUILD/include has no rnn_fastmath.h (the Makefile copies only rnnrt.h and rnn_arch.h); using runtime/ for it"
  EXTRA_INC="-I$ROOT/runtime"
fi
HAVE_GCC=0
command -v gcc > /dev/null && HAVE_GCC=1

# ---- the list: regressions first, then the random specs (or the specs given) ----------
list="$T/list"
: > "$list"
i=0
add() { printf '%d\t%s\n' "$i" "$1" >> "$list"; i=$((i + 1)); }
if [ $# -gt 0 ]; then
  for s in "$@"; do cp "$s" "$T/specs/$(basename "$s")"; add "$T/specs/$(basename "$s")"; done
  echo "property.sh: ${#} given spec(s)"
else
  for s in "$ROOT"/tests/property_regressions/*.lua; do
    [ -e "$s" ] || continue
    cp "$s" "$T/specs/r_$(basename "$s")"
    add "$T/specs/r_$(basename "$s")"
  done
  python3 "$ROOT/tools/random_specs.py" "$SEED" "$N" "$T/specs/random" || { echo "property.sh: generator failed"; exit 1; }
  for s in "$T"/specs/random/*.lua; do add "$s"; done
  echo "property.sh: seed $SEED (PROPERTY_SEED=$SEED PROPERTY_N=$N reproduces), $i specs, $JOBS jobs"
fi

# ---- one spec: writes results/NAME (first line "ok" or "FAIL: why") ------------------
run_one() {
  local idx=$1 spec=$2
  local name; name=$(basename "$spec" .lua)
  local d="$T/work/$name" res="$T/results/$name"
  mkdir -p "$d"
  local opts; opts=$(sed -n 's/^-- rnnc-options:[[:space:]]*//p' "$spec" | head -n 1)
  local t0; t0=$(date +%s.%N)
  local rc
  # shellcheck disable=SC2086  # opts, SAN, XFLAGS, EXTRA_INC are word lists on purpose
  timeout 60 "$RNNC" "$spec" -o "$d/$name.c" $opts > "$d/rnnc.out" 2>&1; rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL: rnnc $opts exited $rc" > "$res"; return 0; fi
  # shellcheck disable=SC2086
  timeout 300 clang -std=c17 -Wall -Wextra -Wpedantic -Werror -O1 -march=native $SAN $XFLAGS -I"$INC" $EXTRA_INC \
      "$d/$name.c" "$LIB" -lm -o "$d/$name" > "$d/cc.out" 2>&1; rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL: clang -Werror -O1 does not compile it (exit $rc)" > "$res"; return 0; fi
  local gccnote=""
  if [ $HAVE_GCC = 1 ] && [ $((idx % 5)) -eq 0 ]; then
    # shellcheck disable=SC2086
    timeout 300 gcc -std=c17 -Wall -Wextra -Wpedantic -Werror -O1 $SAN $XFLAGS -I"$INC" $EXTRA_INC \
        "$d/$name.c" "$LIB" -lm -o "$d/$name.gcc" > "$d/cc.out" 2>&1; rc=$?
    if [ $rc -ne 0 ]; then echo "FAIL: gcc -Werror -O1 does not compile it (exit $rc)" > "$res"; return 0; fi
    gccnote=" +gcc"
  fi
  (cd "$d" && timeout 120 "./$name" selftest > "$d/selftest.out" 2>&1)
  rc=$?
  local note=""
  if [ $rc -ne 0 ] || ! grep -qx PASS "$d/selftest.out"; then
    echo "FAIL: selftest exit $rc: $(grep -m1 '^FAIL' "$d/selftest.out")" > "$res"; return 0
  fi
  if [ -n "$gccnote" ]; then
    (cd "$d" && timeout 120 "./$name.gcc" selftest > "$d/selftest.gcc.out" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || ! grep -qx PASS "$d/selftest.gcc.out"; then
      cp "$d/selftest.gcc.out" "$d/selftest.out"
      echo "FAIL: selftest (gcc build) exit $rc: $(grep -m1 '^FAIL' "$d/selftest.out")" > "$res"; return 0
    fi
  fi
  local t1; t1=$(date +%s.%N)
  printf '%-5s %-44s %-22s %5.1fs%s%s\n' ok "$name" "${opts:-(default)}" \
    "$(awk "BEGIN { print $t1 - $t0 }")" "$gccnote" "$note" > "$res"
  rm -f "$d/$name" "$d/$name.gcc"   # the binaries are large; keep the C for a look
}
export -f run_one
export T RNNC INC LIB SAN XFLAGS HAVE_GCC EXTRA_INC
# One line per spec as it finishes: "ok    NAME OPTIONS TIME" or "FAIL  NAME: why".
xargs -P "$JOBS" -L 1 bash -c 'run_one "$0" "$1"; n=$(basename "$1" .lua); sed "s/^FAIL: /FAIL  $n: /" "$T/results/$n"' < "$list"

# ---- report ---------------------------------------------------------------------------
while IFS=$'\t' read -r idx spec; do
  name=$(basename "$spec" .lua)
  if head -n 1 "$T/results/$name" 2>/dev/null | grep -q '^ok'; then
    ok
  else
    fail=$((fail + 1))
    d="$T/work/$name"
    echo
    echo "==================== FAIL: $name ($(head -n 1 "$T/results/$name" 2>/dev/null || echo 'no result'))"
    echo "---- spec ($spec)"; cat "$spec"
    echo "---- rnnc output";  cat "$d/rnnc.out" 2>/dev/null
    if [ -s "$d/cc.out" ]; then echo "---- compiler output (first 60 lines)"; head -n 60 "$d/cc.out"; fi
    if [ -s "$d/selftest.out" ]; then echo "---- selftest"; cat "$d/selftest.out"; fi
  fi
done < "$list"

end=$(date +%s)
finish "($((end - start)) s)" && exit 0
keep_tmp
echo "property.sh: work directory kept: $T (specs in $T/specs, outputs in $T/work/NAME)"
exit 1
