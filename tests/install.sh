#!/usr/bin/env bash
# install.sh — `make install` into a temporary prefix, then use what was installed the
# way a user would: every file is there, the man page renders without warnings,
# pkg-config gives the right flags, a C program built against the installed runtime
# through pkg-config runs, the installed rnnc works, and `make uninstall` and DESTDIR
# do what they say.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
# SAN (exported by `make test-asan`) is added when linking against the runtime, which
# is then instrumented.
set -u
BUILD=${BUILD:-build}
SAN=${SAN:-}
T=$(mktemp -d /tmp/rnnc-install-XXXXXX)
trap 'rm -rf "$T"' EXIT
P="$T/prefix"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; return 1; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
# The C compiler for the test program: the one the build uses when make exports it.
TCC=${CC:-}
if [ -z "$TCC" ]; then if command -v clang >/dev/null; then TCC=clang; else TCC=cc; fi; fi

# ---- install ------------------------------------------------------------------------
make -s --no-print-directory BUILD="$BUILD" install PREFIX="$P" > "$T/make.out" 2>&1
check "make install exit 0" test $? -eq 0 || cat "$T/make.out"
FILES="bin/rnnc lib/librnnrt.a include/rnnrt.h include/rnn_arch.h include/rnn_fastmath.h include/rnn_lanes.h lib/pkgconfig/rnnrt.pc share/man/man1/rnnc.1"
for f in $FILES; do check "installed $f" test -f "$P/$f"; done
check "rnnc is executable" test -x "$P/bin/rnnc"
check "headers are the sources" cmp -s runtime/rnnrt.h "$P/include/rnnrt.h"
# Every symbol the library defines for the linker starts with rnn_, so that it cannot
# clash with a name of the program linked against it (the trainer's internal
# trainer_init, ckpt_load, progress_step... were once unprefixed).
nm -g --defined-only "$P/lib/librnnrt.a" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u > "$T/syms"
check "librnnrt.a defines symbols" test -s "$T/syms"
check "every symbol of librnnrt.a starts with rnn_: $(grep -v '^rnn_' "$T/syms" | tr '\n' ' ')" \
  test "$(grep -vc '^rnn_' "$T/syms")" -eq 0
check "library is the build's" cmp -s "$BUILD/librnnrt.a" "$P/lib/librnnrt.a"
check "nothing installed but these files" \
  test "$(cd "$P" && find . -type f | wc -l)" -eq "$(wc -w <<< "$FILES")"

make -s --no-print-directory BUILD="$BUILD" install PREFIX=relative/path > "$T/rel.out" 2>&1
check "relative PREFIX is refused" test $? -ne 0
check "relative PREFIX message" grep -q "PREFIX must be an absolute path" "$T/rel.out"

# ---- the man page renders cleanly ---------------------------------------------------
if command -v man >/dev/null; then
  MANWIDTH=80 man --warnings -l "$P/share/man/man1/rnnc.1" > "$T/man.txt" 2> "$T/man.err"
  check "man -l exit 0" test $? -eq 0
  check "man -l without warnings" test ! -s "$T/man.err" || cat "$T/man.err"
  check "man page has its sections" grep -q "ENVIRONMENT" "$T/man.txt"
elif command -v groff >/dev/null; then
  groff -man -Tutf8 -ww "$P/share/man/man1/rnnc.1" > "$T/man.txt" 2> "$T/man.err"
  check "groff exit 0" test $? -eq 0
  check "groff without warnings" test ! -s "$T/man.err" || cat "$T/man.err"
else
  echo "install.sh: neither man nor groff installed, man page rendering not checked"
fi

# ---- pkg-config ---------------------------------------------------------------------
if command -v pkg-config >/dev/null; then
  export PKG_CONFIG_PATH="$P/lib/pkgconfig"
  # echo without quotes joins the words: pkg-config ends its output with a blank.
  # shellcheck disable=SC2046,SC2005
  check "pkg-config --cflags" test "$(echo $(pkg-config --cflags rnnrt))" = "-I$P/include"
  # shellcheck disable=SC2046,SC2005
  check "pkg-config --libs" test "$(echo $(pkg-config --libs rnnrt))" = "-L$P/lib -lrnnrt -lm"
  check "pkg-config --modversion" test "$(pkg-config --modversion rnnrt)" = \
    "$(sed -n 's/^#define RNN_VERSION "\([^"]*\)".*/\1/p' runtime/rnnrt.h)"
  PC_CFLAGS=$(pkg-config --cflags rnnrt)
  PC_LIBS=$(pkg-config --libs rnnrt)
else
  echo "install.sh: pkg-config not installed, using the documented flags"
  PC_CFLAGS="-I$P/include"
  PC_LIBS="-L$P/lib -lrnnrt -lm"
fi

# ---- a program built against the installed runtime ---------------------------------
# Lays out Embedding(500,16) -> LSTM(8) -> Dense(1, sigmoid) by hand, as the compiler
# would, and hands it to the trainer with the reference implementation.
cat > "$T/tiny.c" <<'EOF'
#include "rnnrt.h"

#include <stdio.h>

int main(int argc, char **argv) {
    static rnn_model m;
    rnn_model_init(&m, "tiny", "tiny.c");
    rnn_layer *l = &m.layers[m.n_layers++];
    rnn_layer_defaults(l, RNN_LAYER_EMBEDDING);
    l->input_dim = 500;
    l->units = 16;
    l->input_length = 100;
    l = &m.layers[m.n_layers++];
    rnn_layer_defaults(l, RNN_LAYER_LSTM);
    l->units = 8;
    l = &m.layers[m.n_layers++];
    rnn_layer_defaults(l, RNN_LAYER_DENSE);
    l->units = 1;
    l->activation = RNN_ACT_SIGMOID;
    char err[256];
    if (rnn_model_layout(&m, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    return rnn_trainer_main(&m, &rnn_reference_ops, "tiny", argc - 1, argv + 1);
}
EOF
# Built from inside $T with no -I of the source tree: only the installed files count.
# shellcheck disable=SC2086  # the flags are words
(cd "$T" && "$TCC" -std=c17 -Wall -Wextra -Wpedantic -Werror $SAN $PC_CFLAGS tiny.c $PC_LIBS $SAN -o tiny) > "$T/cc.out" 2>&1
check "tiny program builds against the installed runtime" test $? -eq 0 || cat "$T/cc.out"
"$T/tiny" summary > "$T/sum.out" 2>&1
check "tiny summary exit 0" test $? -eq 0
check "tiny summary counts 8809 params" grep -q "^Total params: 8809 " "$T/sum.out"
"$T/tiny" frobnicate > /dev/null 2>&1
check "tiny: unknown command exits 2" test $? -eq 2

# ---- the installed rnnc -------------------------------------------------------------
"$P/bin/rnnc" --version > "$T/v.out" 2>&1
check "installed rnnc --version" grep -q "^rnnc " "$T/v.out"
"$P/bin/rnnc" specs/lstm.lua > "$T/chk.out" 2>&1
check "installed rnnc checks a spec" grep -q 'ok: model "lstm", 3 layers, 8809 parameters' "$T/chk.out"
# It must find the installed runtime (../lib, ../include), not the build tree's.
env -u RNNC_RUNTIME_DIR CFLAGS="-O1 $SAN" "$P/bin/rnnc" specs/lstm.lua -o "$T/lstm" > "$T/o.out" 2>&1
check "installed rnnc -o builds an executable" test $? -eq 0 || cat "$T/o.out"
"$T/lstm" summary 2>&1 | grep -q "^Total params: 8809 "
check "installed-built lstm summary" test "${PIPESTATUS[1]}" -eq 0

# ---- uninstall and DESTDIR ----------------------------------------------------------
make -s --no-print-directory BUILD="$BUILD" uninstall PREFIX="$P" > "$T/un.out" 2>&1
check "make uninstall exit 0" test $? -eq 0
check "uninstall removed every file" test "$(find "$P" -type f | wc -l)" -eq 0

make -s --no-print-directory BUILD="$BUILD" install PREFIX=/opt/rnnc DESTDIR="$T/stage" > "$T/d.out" 2>&1
check "DESTDIR install exit 0" test $? -eq 0
check "DESTDIR: files under the stage" test -x "$T/stage/opt/rnnc/bin/rnnc"
check "DESTDIR: rnnrt.pc names the final prefix" grep -qx "prefix=/opt/rnnc" "$T/stage/opt/rnnc/lib/pkgconfig/rnnrt.pc"
make -s --no-print-directory BUILD="$BUILD" uninstall PREFIX=/opt/rnnc DESTDIR="$T/stage" > /dev/null 2>&1
check "DESTDIR uninstall" test "$(find "$T/stage" -type f | wc -l)" -eq 0

echo "install.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
