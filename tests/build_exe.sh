#!/usr/bin/env bash
# build_exe.sh — `rnnc SPEC -o OUT` with OUT not ending in .c: the generated C is
# compiled and linked with librnnrt into a working trainer; CC and CFLAGS are obeyed
# (checked through a compiler wrapper that logs its arguments); --portable and
# --keep-c do what they say; a failing compiler gives exit 1, a message naming it, and
# no output file and no temporaries.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
# SAN (exported by `make test-asan`) is added to the compile flags: the runtime is
# instrumented then, and a program linked with it must be too.
. "$(dirname "$0")/lib.sh"
unset RNNC_MARCH   # the default build is what this tests
SPEC="$ROOT/specs/lstm.lua"
tmpdir
# Leftover temporaries (OUT.rnnc-XXXXXX and OUT.rnnc-XXXXXX.c) in a directory.
no_temps() { local f; for f in "$1"/*.rnnc-* "$1"/.*.rnnc-*; do [ -e "$f" ] && return 1; done; return 0; }

# The real compiler, for the wrapper: the one make exported, else the default rnnc uses.
REAL_CC=${CC:-}
if [ -z "$REAL_CC" ]; then if command -v clang >/dev/null; then REAL_CC=clang; else REAL_CC=cc; fi; fi
# Under the sanitizers the default -O3 -march=native link would miss their runtime.
base_env=()
[ -n "$SAN" ] && base_env=(CFLAGS="-O1 $SAN")

# ---- (a) a working trainer with the default compiler and flags ----------------------
mkdir "$T/a"
env "${base_env[@]}" "$RNNC" "$SPEC" -o "$T/a/lstm" > "$T/a.out" 2>&1
check "rnnc -o exit 0" test $? -eq 0 || cat "$T/a.out"
check "executable written" test -x "$T/a/lstm"
check "no temporaries left (and no C file without --keep-c)" test "$(ls -A "$T/a")" = lstm
"$T/a/lstm" summary > "$T/sum.out" 2>&1
check "summary exit 0" test $? -eq 0
check "summary counts 8809 params" grep -q "^Total params: 8809 " "$T/sum.out"
"$T/a/lstm" frobnicate > /dev/null 2>&1
check "unknown command exits 2" test $? -eq 2

# A second build replaces the executable in place (rename over it).
# (-O0 from here on: these check the plumbing, not the code, and -O3 takes seconds.)
CFLAGS="-O0 $SAN" "$RNNC" "$SPEC" -o "$T/a/lstm" > /dev/null 2>&1
check "rebuild over an existing executable" test $? -eq 0 -a -x "$T/a/lstm"

# --keep-c keeps OUT.c, a complete C file that compiles to the same program.
CFLAGS="-O0 $SAN" "$RNNC" "$SPEC" -o "$T/a/kept" --keep-c > /dev/null 2>&1
check "--keep-c exit 0" test $? -eq 0
check "--keep-c keeps OUT.c" grep -q "rnn_trainer_main" "$T/a/kept.c"
check "--keep-c: no temporaries" no_temps "$T/a"

# ---- (b) a failing compiler: exit 1, named, nothing written -------------------------
mkdir "$T/b"
echo "old" > "$T/b/kept"
CC=false "$RNNC" "$SPEC" -o "$T/b/new" > "$T/b.out" 2> "$T/b.err"
check "CC=false: exit 1" test $? -eq 1
check "CC=false: message names the compiler" grep -q "compiling .* failed (false exited with status 1)" "$T/b.err" \
  || cat "$T/b.err"
check "CC=false: no output file" test ! -e "$T/b/new"
check "CC=false: no temporaries" no_temps "$T/b"
CC=false "$RNNC" "$SPEC" -o "$T/b/kept" > /dev/null 2>&1
check "CC=false: an existing OUT is left alone" test "$(cat "$T/b/kept")" = old
CC=/nonexistent/cc "$RNNC" "$SPEC" -o "$T/b/new" > /dev/null 2> "$T/b2.err"
check "missing compiler: exit 1" test $? -eq 1
check "missing compiler: says so" grep -q "cannot run the C compiler '/nonexistent/cc'" "$T/b2.err"
check "missing compiler: nothing written" no_temps "$T/b"
RNNC_RUNTIME_DIR="$T/nowhere" "$RNNC" "$SPEC" -o "$T/b/new" > /dev/null 2> "$T/b3.err"
check "bad RNNC_RUNTIME_DIR: exit 1" test $? -eq 1
check "bad RNNC_RUNTIME_DIR: says so" grep -q "RNNC_RUNTIME_DIR=$T/nowhere holds no runtime" "$T/b3.err"
check "bad RNNC_RUNTIME_DIR: nothing written" test "$(ls -A "$T/b")" = kept

# ---- (c) CC and CFLAGS are obeyed, word by word, without a shell --------------------
mkdir "$T/c"
cat > "$T/wrap.sh" <<EOF
#!/bin/sh
# Log each argument on its own line, then compile for real (the last -O wins: -O0
# keeps the test fast whatever rnnc passed).
printf '%s\n' "\$@" > "$T/args"
exec $REAL_CC "\$@" $SAN -O0
EOF
chmod +x "$T/wrap.sh"
CC="$T/wrap.sh" CFLAGS='-O0 -g' "$RNNC" "$SPEC" -o "$T/c/dbg" > "$T/c.out" 2>&1
check "CFLAGS=-O0 -g: exit 0" test $? -eq 0 || cat "$T/c.out"
check "CFLAGS: -O0 passed" grep -qx -- "-O0" "$T/args"
check "CFLAGS: -g passed" grep -qx -- "-g" "$T/args"
check "CFLAGS replaces the default" test "$(grep -c -e '^-O3$' -e '^-march=native$' "$T/args")" -eq 0
check "always -std=c17" grep -qx -- "-std=c17" "$T/args"
check "always the runtime library" grep -q "librnnrt\.a$" "$T/args"
check "always -lm" grep -qx -- "-lm" "$T/args"
check "CFLAGS build runs" "$T/c/dbg" summary > /dev/null 2>&1

# The default: -O3, and on x86-64 one compile per level (--march all) plus the link, else
# -march=native; the wrapper logs every call, appended.
sed -i 's/"\$@" > /"$@" >> /' "$T/wrap.sh"
: > "$T/args"
env -u CFLAGS CC="$T/wrap.sh" "$RNNC" "$SPEC" -o "$T/c/fast" > /dev/null 2>&1
if [ "$(uname -m)" = x86_64 ]; then
  check "default flags: -O3 at every level" test "$(grep -c '^-O3$' "$T/args")" -ge 4
  for lv in x86-64 x86-64-v2 x86-64-v3 x86-64-v4; do
    check "default flags: -march=$lv" grep -qx -- "-march=$lv" "$T/args"
  done
  check "default flags: 512-bit vectors preferred" grep -qx -- "-mprefer-vector-width=512" "$T/args"
else
  check "default flags: -O3 -march=native" test "$(grep -c -e '^-O3$' -e '^-march=native$' "$T/args")" -eq 2
fi
: > "$T/args"
env -u CFLAGS RNNC_MARCH=native CC="$T/wrap.sh" "$RNNC" "$SPEC" -o "$T/c/env" > /dev/null 2>&1
check "RNNC_MARCH=native: one build, -march=native" test "$(grep -c '^-march=' "$T/args")" -eq 1 -a \
  "$(grep -c '^-march=native$' "$T/args")" -eq 1
: > "$T/args"
env -u CFLAGS RNNC_MARCH=native CC="$T/wrap.sh" "$RNNC" "$SPEC" -o "$T/c/env" --march x86-64-v2 > /dev/null 2>&1
check "--march wins over RNNC_MARCH" test "$(grep -c '^-march=x86-64-v2$' "$T/args")" -eq 1 -a \
  "$(grep -c '^-march=native$' "$T/args")" -eq 0
: > "$T/args"
env -u CFLAGS RNNC_MARCH=-O0 "$RNNC" "$SPEC" -o "$T/c/bad" > /dev/null 2> "$T/badmarch.err"
check "RNNC_MARCH=-O0: exit 1" test $? -eq 1
check "RNNC_MARCH=-O0: says so" grep -qF "rnnc: invalid RNNC_MARCH '-O0'" "$T/badmarch.err"
check "RNNC_MARCH=-O0: nothing written" test ! -e "$T/c/bad"
env -u CFLAGS CC="$T/wrap.sh" "$RNNC" "$SPEC" -o "$T/c/port" --portable > /dev/null 2>&1
check "--portable: -O3" grep -qx -- "-O3" "$T/args"
check "--portable: no -march=native" test "$(grep -c '^-march=native$' "$T/args")" -eq 0
# shellcheck disable=SC2016  # the $( ) must reach rnnc unexpanded
CC="$T/wrap.sh" CFLAGS='-O1 -DX="a b" $(touch '"$T"'/pwned)' "$RNNC" "$SPEC" -o "$T/c/noshell" > /dev/null 2>&1
check "CFLAGS is split on blanks, not run through a shell" test ! -e "$T/pwned"
check "CFLAGS word kept verbatim" grep -qx -- '-DX="a' "$T/args"

finish
