#!/usr/bin/env bash
# accepted.sh — every spec rnnc accepts builds, every spec it rejects is rejected cleanly.
#
# tools/random_specs.py --near-valid writes ACCEPTED_N (default 200; 40 under SAN) small
# specs from the seed ACCEPTED_SEED (default fixed, so CI is deterministic), each one
# mutation away from a valid model: most mutations break it (out-of-range or mistyped
# values, typos in keywords and constructors, broken stacks, loss/head mismatches, bad
# or duplicate names, two clip options, Lua syntax and runtime errors, no model
# returned, 33 layers, ...), some keep it valid (sizes, options, extra layers, spliced
# tables, exactly 32 layers), some specs are unmutated. For each spec, in its own directory:
#   rnnc spec.lua -o out/x.c [its `-- rnnc-options:` line]
#   exit 0 (accepted): out/ holds exactly x.c, which must build warning-free with
#       clang -std=c17 -Wall -Wextra -Wpedantic -Werror -O1 -march=native ($SAN)
#       gcc   -std=c17 -Wall -Wextra -Wpedantic -Werror -O1 -c    (when gcc exists)
#     and `./x selftest` must print PASS and exit 0;
#   exit 1 (rejected): stderr is exactly one line `spec.lua:LINE: ...` and out/ is empty;
#   any other exit, a crash or a timeout fails.
# The generator also says what it expects (`-- expect: accept | reject [LINE]`): an
# invalid spec that is accepted, a valid one that is rejected, or a message on another
# line than the mutated one fails too.
#
#   BUILD=build bash tests/accepted.sh                     (as `make test` runs it)
#   ACCEPTED_SEED=7 ACCEPTED_N=1000 bash tests/accepted.sh  (explore; `make fuzz` runs 1000)
#   bash tests/accepted.sh path/to/spec.lua ...            (just those specs)
# Run from the repository root. A failure prints the spec and every output and keeps
# the work directory. ACCEPTED_JOBS (default 2) specs run at a time.
# shellcheck disable=SC2317,SC2016  # run_one and one are called through xargs
. "$(dirname "$0")/lib.sh"
INC="$ROOT/$BUILD/include"
LIB="$ROOT/$BUILD/librnnrt.a"
SEED=${ACCEPTED_SEED:-20240907}
# Under the sanitizers every build and run is several times slower and .ci/run must
# stay within 10 minutes on 2 cores; the full 200 run in make test.
if [ -n "$SAN" ]; then N=${ACCEPTED_N:-40}; else N=${ACCEPTED_N:-200}; fi
JOBS=${ACCEPTED_JOBS:-2}
start=$(date +%s)

if [ ! -x "$RNNC" ] || [ ! -f "$LIB" ]; then
  echo "accepted.sh: $RNNC or $LIB missing (make BUILD=$BUILD all)"
  exit 1
fi
EXTRA_INC=""
if [ ! -f "$INC/rnn_fastmath.h" ] && [ -f "$ROOT/runtime/rnn_fastmath.h" ]; then EXTRA_INC="-I$ROOT/runtime"; fi
HAVE_GCC=0
command -v gcc > /dev/null && HAVE_GCC=1

tmpdir
mkdir -p "$T/specs" "$T/work" "$T/results"
list="$T/list"
: > "$list"
if [ $# -gt 0 ]; then
  for s in "$@"; do cp "$s" "$T/specs/$(basename "$s")"; echo "$T/specs/$(basename "$s")" >> "$list"; done
  echo "accepted.sh: ${#} given spec(s), $JOBS jobs"
else
  python3 "$ROOT/tools/random_specs.py" --near-valid "$SEED" "$N" "$T/specs" > /dev/null \
    || { echo "accepted.sh: generator failed"; exit 1; }
  for s in "$T"/specs/*.lua; do echo "$s" >> "$list"; done
  echo "accepted.sh: seed $SEED (ACCEPTED_SEED=$SEED ACCEPTED_N=$N reproduces), $N specs, $JOBS jobs"
fi

# ---- one spec: writes results/NAME: "ok accepted|rejected MUTATION" or "FAIL: why" -------
run_one() {
  local spec=$1
  local name; name=$(basename "$spec" .lua)
  local d="$T/work/$name" res="$T/results/$name"
  mkdir -p "$d/out"
  cp "$spec" "$d/spec.lua"
  local opts; opts=$(sed -n 's/^-- rnnc-options:[[:space:]]*//p' "$spec" | head -n 1)
  local mut; mut=$(sed -n 's/^-- mutation:[[:space:]]*//p' "$spec" | head -n 1)
  local expect; expect=$(sed -n 's/^-- expect:[[:space:]]*//p' "$spec" | head -n 1)
  mut=${mut:-given}
  local rc
  # shellcheck disable=SC2086  # opts is a word list on purpose
  (cd "$d" && timeout 30 "$RNNC" spec.lua -o out/x.c $opts > rnnc.stdout 2> rnnc.stderr); rc=$?
  local listing; listing=$(cd "$d/out" && ls -A | tr '\n' ' ')
  echo "$listing" > "$d/listing"
  if [ $rc -eq 1 ]; then
    local lines; lines=$(wc -l < "$d/rnnc.stderr")
    local first; first=$(head -c 4096 "$d/rnnc.stderr" | head -n 1)
    if [ "$lines" -ne 1 ] || [ "$(tail -c 1 "$d/rnnc.stderr" | od -An -c | tr -d ' ')" != '\n' ]; then
      echo "FAIL: rejected, but stderr is not exactly one line ($lines newlines)" > "$res"; return 0
    fi
    if ! printf '%s\n' "$first" | grep -Eq '^spec\.lua:[0-9]+: [^ ]'; then
      echo "FAIL: rejected, but the message is not 'spec.lua:LINE: ...'" > "$res"; return 0
    fi
    if [ -n "$listing" ]; then echo "FAIL: rejected, but files were left in out/: $listing" > "$res"; return 0; fi
    if [ -s "$d/rnnc.stdout" ]; then echo "FAIL: rejected, but wrote to stdout" > "$res"; return 0; fi
    case "$expect" in
      accept*) echo "FAIL: a valid spec ($mut) was rejected: $first" > "$res"; return 0 ;;
      "reject "[0-9]*)
        local want=${expect#reject }
        case "$first" in
          "spec.lua:$want: "*) ;;
          *) echo "FAIL: the message should point at line $want: $first" > "$res"; return 0 ;;
        esac ;;
    esac
    echo "ok rejected $mut" > "$res"; return 0
  fi
  if [ $rc -ne 0 ]; then
    echo "FAIL: rnnc $opts exited $rc$([ $rc -eq 124 ] && echo ' (timeout)')$([ $rc -gt 128 ] && [ $rc -ne 124 ] && echo " (signal $((rc - 128)))")" > "$res"; return 0
  fi
  # ---- accepted
  if [ "$listing" != "x.c " ]; then echo "FAIL: accepted, but out/ holds '$listing' (want x.c)" > "$res"; return 0; fi
  case "$expect" in
    reject*) echo "FAIL: an invalid spec ($mut, expected: $expect) was accepted" > "$res"; return 0 ;;
  esac
  # shellcheck disable=SC2086  # SAN and EXTRA_INC are word lists on purpose
  (cd "$d" && timeout 120 clang -std=c17 -Wall -Wextra -Wpedantic -Werror -O1 -march=native $SAN -I"$INC" $EXTRA_INC \
      out/x.c "$LIB" -lm -o x > cc.out 2>&1); rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL: accepted, but clang -Werror -O1 does not compile it (exit $rc)" > "$res"; return 0; fi
  if [ "$HAVE_GCC" = 1 ]; then
    # shellcheck disable=SC2086
    (cd "$d" && timeout 120 gcc -std=c17 -Wall -Wextra -Wpedantic -Werror -O1 -I"$INC" $EXTRA_INC \
        -c out/x.c -o x.gcc.o > gcc.out 2>&1); rc=$?
    if [ $rc -ne 0 ]; then echo "FAIL: accepted, but gcc -Werror -O1 does not compile it (exit $rc)" > "$res"; return 0; fi
    rm -f "$d/x.gcc.o"
  fi
  (cd "$d" && timeout 60 ./x selftest > selftest.out 2>&1); rc=$?
  if [ $rc -ne 0 ] || ! grep -qx PASS "$d/selftest.out"; then
    echo "FAIL: accepted, but selftest exit $rc: $(grep -m1 '^FAIL' "$d/selftest.out")" > "$res"; return 0
  fi
  rm -f "$d/x"
  echo "ok accepted $mut" > "$res"
}
export -f run_one
export T RNNC INC LIB SAN HAVE_GCC EXTRA_INC
# results/NAME: line 1 "ok accepted|rejected MUTATION" or "FAIL: why", line 2 "mutation: M"
one() { run_one "$1"; local n; n=$(basename "$1" .lua)
  sed -n 's/^-- mutation:[[:space:]]*/mutation: /p' "$1" | head -n 1 | grep . >> "$T/results/$n" || echo "mutation: given" >> "$T/results/$n"
  case "$(head -n 1 "$T/results/$n")" in FAIL*) echo "FAIL  $n: $(head -n 1 "$T/results/$n" | sed 's/^FAIL: //')";; esac; }
export -f one
xargs -P "$JOBS" -I{} bash -c 'one "$1"' _ {} < "$list"

# ---- report ----------------------------------------------------------------------------
acc=0 rej=0
while read -r spec; do
  name=$(basename "$spec" .lua)
  r=$(head -n 1 "$T/results/$name" 2>/dev/null || echo "FAIL: no result")
  case "$r" in
    "ok accepted"*) ok; acc=$((acc + 1)) ;;
    "ok rejected"*) ok; rej=$((rej + 1)) ;;
    *)
      fail=$((fail + 1))
      d="$T/work/$name"
      echo
      echo "==================== FAIL: $name (${r#FAIL: })"
      echo "---- spec ($spec)"; cat "$spec"
      echo "---- rnnc stdout"; cat "$d/rnnc.stdout" 2>/dev/null
      echo "---- rnnc stderr"; cat "$d/rnnc.stderr" 2>/dev/null
      echo "---- out/: $(cat "$d/listing" 2>/dev/null)"
      if [ -s "$d/cc.out" ]; then echo "---- clang (first 40 lines)"; head -n 40 "$d/cc.out"; fi
      if [ -s "$d/gcc.out" ]; then echo "---- gcc (first 40 lines)"; head -n 40 "$d/gcc.out"; fi
      if [ -s "$d/selftest.out" ]; then echo "---- selftest"; cat "$d/selftest.out"; fi
      ;;
  esac
done < "$list"

end=$(date +%s)
echo "accepted.sh: per mutation (accepted/rejected/failed):"
awk 'FNR == 1 { st = $1 " " $2 } FNR == 2 { m = $2; k[m] = 1
       if (st == "ok accepted") a[m]++; else if (st == "ok rejected") r[m]++; else f[m]++ }
     END { for (m in k) printf "  %-32s %4d %4d %4d\n", m, a[m], r[m], f[m] }' "$T"/results/* 2>/dev/null | sort
finish "($acc accepted and built, $rej rejected cleanly; $((end - start)) s)" && exit 0
keep_tmp
echo "accepted.sh: work directory kept: $T (specs in $T/specs, outputs in $T/work/NAME)"
exit 1
