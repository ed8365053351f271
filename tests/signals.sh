#!/usr/bin/env bash
# signals.sh — SIGTERM, SIGINT or SIGHUP to rnnc ends it promptly with 128 + the
# signal and "rnnc: stopped by SIGNAME", leaving no process and no temporary behind:
# while the spec is evaluated (the forked child dies too, and also when rnnc itself is
# SIGKILLed), while the C compiler runs (its whole process group gets the signal, and
# SIGKILL 2 s later if it is still there), and while the C file is written.
# rnnc is started through `env --default-signal` because bash starts background jobs
# with SIGINT ignored, and rnnc (like any well-behaved program) keeps an ignored
# signal ignored.
. "$(dirname "$0")/lib.sh"
tmpdir
cd "$T" || exit 1
SPEC="$ROOT/specs/lstm2.lua"
DEFSIG=(env --default-signal=INT,TERM,HUP)

# alive PID: the process exists and is not a zombie (PID 1 may never reap orphans)
alive() { [ -r "/proc/$1/stat" ] && ! sed 's/^[0-9]* (.*) //' "/proc/$1/stat" | grep -q '^Z'; }
any_alive() { local p; for p in "$@"; do alive "$p" && return 0; done; return 1; }
# gone PID...: none of them is alive, within 2 s
gone() { local i; for i in $(seq 40); do any_alive "$@" || return 0; sleep 0.05; done; return 1; }
wait_for() { local i; for i in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
child_of() { local i c; for i in $(seq 200); do read -r c _ < "/proc/$1/task/$1/children"; [ -n "$c" ] && { echo "$c"; return 0; }; sleep 0.05; done; return 1; }
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
one_of() { local x=$1 y; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# ---- during the C compile: a compiler that takes its time in a child process --------
cat > slowcc <<'EOF'
#!/bin/sh
echo $$ > "$SLOWCC_DIR/cc.pid"
sleep 30 &
echo $! > "$SLOWCC_DIR/sleep.pid"
wait
EOF
chmod +x slowcc

# interrupt_compile SIG STATUS MIN_MS MAX_MS
interrupt_compile() {
  local sig=$1 want=$2 min=$3 max=$4 d="$T/compile-$1" rc t0 dt
  mkdir "$d" && cd "$d" || return 1
  SLOWCC_DIR=$d CC="$T/slowcc" "${DEFSIG[@]}" "$RNNC" "$SPEC" -o prog 2> "$T/err" &
  local pid=$!
  wait_for sleep.pid || { bad "SIG$sig: the fake compiler did not start"; cat "$T/err"; cd "$T"; return 1; }
  t0=$(now_ms)
  kill -s "$sig" "$pid"
  wait "$pid"; rc=$?
  dt=$(($(now_ms) - t0))
  check "SIG$sig during the compile: exit $want (got $rc)" [ "$rc" -eq "$want" ]
  check "SIG$sig during the compile: within $min..$max ms (took $dt)" between "$dt" "$min" "$max"
  check "SIG$sig during the compile: the compiler and its child are gone" gone "$(cat cc.pid)" "$(cat sleep.pid)"
  check "SIG$sig during the compile: no temporary left ($(echo *))" [ "$(echo *)" = "cc.pid sleep.pid" ]
  check "SIG$sig during the compile: message ($(cat "$T/err"))" [ "$(cat "$T/err")" = "rnnc: stopped by SIG$sig" ]
  cd "$T" || exit 1
}
interrupt_compile TERM 143 0 1500
interrupt_compile HUP 129 0 1500
# the shell starts `sleep &` with SIGINT ignored: only the SIGKILL 2 s later ends it
interrupt_compile INT 130 1800 4000

# ---- while the spec is evaluated ------------------------------------------------------
printf 'local n = 0\nwhile true do n = n + 1 end\n' > loop.lua
"${DEFSIG[@]}" "$RNNC" loop.lua --time-limit 60 2> err &
pid=$!
child=$(child_of "$pid") || bad "no spec child appeared"
t0=$(now_ms)
kill -TERM "$pid"
wait "$pid"; rc=$?
dt=$(($(now_ms) - t0))
check "SIGTERM during the evaluation: exit 143 (got $rc)" [ "$rc" -eq 143 ]
check "SIGTERM during the evaluation: within 1 s (took $dt ms)" [ "$dt" -le 1000 ]
check "SIGTERM during the evaluation: the spec child is gone" gone "$child"
check "SIGTERM during the evaluation: message ($(cat err))" [ "$(cat err)" = "rnnc: stopped by SIGTERM" ]

"${DEFSIG[@]}" "$RNNC" loop.lua --time-limit 60 2> err &
pid=$!
child=$(child_of "$pid") || bad "no spec child appeared"
kill -KILL "$pid"
wait "$pid" 2> /dev/null
check "SIGKILL to rnnc during the evaluation: the spec child is gone too" gone "$child"

# ---- while the C file is written (-o OUT.c): an fsync that takes a second -------------
cat > slowfsync.c <<'EOF'
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
/* The first fsync (the C file's temporary) marks a file and takes a second. */
int fsync(int fd) {
    static int calls;
    (void)fd;
    if (calls++ == 0) {
        int m = open(getenv("SLOWFSYNC_MARK"), O_WRONLY | O_CREAT, 0600);
        if (m >= 0) close(m);
        struct timespec ts = {1, 0};
        while (nanosleep(&ts, &ts) != 0) {}
    }
    return 0;
}
EOF
CCX=$(command -v cc || command -v clang || command -v gcc)
if "$CCX" -shared -fPIC -O1 -o slowfsync.so slowfsync.c; then
  mkdir write && cd write || exit 1
  SLOWFSYNC_MARK=$T/fsync.mark LD_PRELOAD=$T/slowfsync.so ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "${DEFSIG[@]}" "$RNNC" "$SPEC" -o model.c 2> "$T/err" &
  pid=$!
  wait_for "$T/fsync.mark" || bad "the C file's fsync never came"
  t0=$(now_ms)
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  dt=$(($(now_ms) - t0))
  check "SIGTERM while writing the C file: exit 143 (got $rc)" [ "$rc" -eq 143 ]
  check "SIGTERM while writing the C file: within 2.5 s (took $dt ms)" [ "$dt" -le 2500 ]
  # the write is atomic: the whole file or none, and never a temporary
  listing=$(echo *)
  check "SIGTERM while writing the C file: no temporary left ($listing)" one_of "$listing" model.c "*"
  "$RNNC" "$SPEC" -o "$T/whole.c"
  if [ -e model.c ]; then check "SIGTERM while writing the C file: the file is whole" cmp -s model.c "$T/whole.c"; fi
  check "SIGTERM while writing the C file: message ($(cat "$T/err"))" [ "$(cat "$T/err")" = "rnnc: stopped by SIGTERM" ]
  cd "$T" || exit 1
else
  bad "cannot build the fsync shim with $CCX"
fi

finish
