#!/usr/bin/env bash
# run_shell_tests.sh — make test-shell: every tests/*.sh but tests/lib.sh (which they
# source), TEST_JOBS at a time (default: the number of cores), the longest first so that
# the cores stay busy to the end. Each test's output goes to $BUILD/test-logs/NAME.log;
# one line per test as it ends (result, seconds, its summary line); the whole log of
# every test that failed at the end. Exit 1 if any failed.
# Environment: BUILD (the build directory), TEST_JOBS, and whatever the tests read (SAN).
set -u
BUILD=${BUILD:-build}
logs="$BUILD/test-logs"
mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/*.rc
jobs=${TEST_JOBS:-$(nproc 2> /dev/null || echo 2)}

# The long ones first (about a minute or more each on 2 cores), then the rest by name.
long="selftest accepted freestanding shipping property masking mpi valgrind large_kernels examples faults deep conv_layers"
all=$(for t in tests/*.sh; do n=$(basename "$t" .sh); [ "$n" = lib ] || echo "$n"; done)
order=$(for n in $long; do [ -f "tests/$n.sh" ] && echo "$n"; done
        for n in $all; do case " $long " in *" $n "*) ;; *) echo "$n" ;; esac; done)

run_one() {
  local n=$1 s rc
  s=$(date +%s)
  BUILD="$BUILD" bash "tests/$n.sh" > "$logs/$n.log" 2>&1 < /dev/null
  rc=$?
  echo "$rc" > "$logs/$n.rc"
  printf '== tests/%s.sh: %s (%d s) %s\n' "$n" "$([ $rc -eq 0 ] && echo ok || echo "FAILED, exit $rc")" \
    "$(( $(date +%s) - s ))" "$(tail -n 1 "$logs/$n.log")"
}
export -f run_one
export BUILD logs

start=$(date +%s)
printf '%s\n' $order | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
failed=""
for n in $order; do
  [ "$(cat "$logs/$n.rc" 2> /dev/null)" = 0 ] || failed="$failed $n"
done
for n in $failed; do
  echo "==== tests/$n.sh failed; its output ($logs/$n.log):"
  cat "$logs/$n.log"
done
echo "test-shell: $(echo $order | wc -w) tests, $jobs at a time, $(( $(date +%s) - start )) s;" \
  "$([ -z "$failed" ] && echo "all passed" || echo "failed:$failed")"
[ -z "$failed" ]
