#!/usr/bin/env bash
# install.sh — `make install` into a temporary prefix, then use what was installed the
# way a user would: every file is there, both man pages render without warnings and
# document every flag and keyword, pkg-config gives the right flags, a C program built
# against the installed runtime through pkg-config runs, the installed rnnc works, the
# README's Makefile snippet builds a trainer in a user's project, and `make uninstall`
# and DESTDIR do what they say.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
# SAN (exported by `make test-asan`) is added when linking against the runtime, which
# is then instrumented.
. "$(dirname "$0")/lib.sh"
tmpdir
P="$T/prefix"
# The C compiler for the test program: the one the build uses when make exports it.
TCC=${CC:-}
if [ -z "$TCC" ]; then if command -v clang >/dev/null; then TCC=clang; else TCC=cc; fi; fi

# ---- install ------------------------------------------------------------------------
make -s --no-print-directory BUILD="$BUILD" install PREFIX="$P" > "$T/make.out" 2>&1
check "make install exit 0" test $? -eq 0 || cat "$T/make.out"
FILES="bin/rnnc lib/librnnrt.a include/rnnrt.h include/rnn_arch.h include/rnn_fastmath.h include/rnn_kernels.h include/rnn_gen.h include/rnn_gemm.h include/rnn_lanes.h include/rnn_isa.h include/rnn_interop.h include/rnn_mpi.h lib/librnnrt_mpi.a lib/pkgconfig/rnnrt.pc lib/aarch64-linux-gnu/librnnrt.a lib/s390x-linux-gnu/librnnrt.a lib/cmake/rnnc/rnncConfig.cmake lib/cmake/rnnc/rnncConfigVersion.cmake share/man/man1/rnnc.1 share/man/man5/rnnc-spec.5"
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

# ---- the man pages render cleanly and document everything ----------------------------
# Rendered with man (or groff) when one is installed; the structural checks and the
# coverage checks below run in any case, on the page's source with \- read as -.
MAN1="$P/share/man/man1/rnnc.1" MAN5="$P/share/man/man5/rnnc-spec.5"
for page in "$MAN1" "$MAN5"; do
  name=$(basename "$page")
  check "$name is the source page" cmp -s "docs/$name" "$page"
  if command -v man >/dev/null; then
    MANWIDTH=80 man --warnings -l "$page" > "$T/$name.txt" 2> "$T/$name.err"
    check "man -l $name exit 0" test $? -eq 0
    check "man -l $name without warnings" test ! -s "$T/$name.err" || cat "$T/$name.err"
  elif command -v groff >/dev/null; then
    groff -man -Tutf8 -ww "$page" > "$T/$name.txt" 2> "$T/$name.err"
    check "groff $name exit 0" test $? -eq 0
    check "groff $name without warnings" test ! -s "$T/$name.err" || cat "$T/$name.err"
  else
    echo "install.sh: neither man nor groff installed: $name checked by its structure only"
  fi
  sed 's/\\-/-/g' "$page" > "$T/$name.src"
  check "$name: one .TH line" test "$(grep -c '^\.TH ' "$page")" -eq 1
done
check "rnnc.1 is in section 1" grep -q '^\.TH RNNC 1 ' "$MAN1"
check "rnnc-spec.5 is in section 5" grep -q '^\.TH RNNC-SPEC 5 ' "$MAN5"
for sec in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS ENVIRONMENT "EXIT STATUS" FILES EXAMPLES "SEE ALSO"; do
  check "rnnc.1 has the section $sec" grep -q "^\.SH $sec\$" "$MAN1"
done
for sec in NAME SYNOPSIS DESCRIPTION "THE SANDBOX" "THE MODEL" LAYERS "LAYER NAMES" "COMPILE = { ... }" \
           "FIT = { ... }" CALLBACKS LIMITS ERRORS EXAMPLES "SEE ALSO"; do
  check "rnnc-spec.5 has the section $sec" grep -qF ".SH $sec" "$MAN5"
done
check "rnnc.1 refers to rnnc-spec(5)" grep -q '^\.BR rnnc-spec (5)' "$T/rnnc.1.src"
check "rnnc-spec.5 refers to rnnc(1)" grep -q '^\.BR rnnc (1)' "$T/rnnc-spec.5.src"
# Every flag that rnnc and the trainer's commands list in their --help is in rnnc.1.
{ "$P/bin/rnnc" --help
  for c in fit evaluate predict selftest; do "$P/bin/rnnc" specs/lstm.lua --interpret "$c" --help; done
} 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u > "$T/flags"
check "the --help texts list flags" test "$(wc -l < "$T/flags")" -gt 30
while read -r f; do check "rnnc.1 documents $f" grep -qF -- "$f" "$T/rnnc.1.src"; done < "$T/flags"
check "rnnc.1 documents -o" grep -q '^\.BI -o ' "$T/rnnc.1.src"
for c in fit evaluate predict summary selftest; do check "rnnc.1 documents the command $c" grep -q "^\.SS $c\$" "$MAN1"; done
for code in 0 1 2 130 143; do check "rnnc.1 documents exit code $code" grep -qx "\.B $code" "$MAN1"; done
# Every constructor and every keyword the compiler accepts is in rnnc-spec.5.
sed -n '/dsl_kind_names\[DSL_KIND_COUNT\] = {/,/};/p' compiler/dsl.c | grep -o '"[a-z_]*"' | tr -d '"' > "$T/words"
sed -n '/^static const char \*const k_[a-z_]*\[\] = {/,/};/p' compiler/lower.c | grep -o '"[a-z_0-9]*"' | tr -d '"' >> "$T/words"
sort -u -o "$T/words" "$T/words"
check "the compiler's keyword lists were found" test "$(wc -l < "$T/words")" -gt 40
while read -r w; do check "rnnc-spec.5 documents $w" grep -qw -- "$w" "$T/rnnc-spec.5.src"; done < "$T/words"

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

# ---- the README's Makefile snippet, in a user's project ------------------------------
# The snippet is taken from README.md as written and run by a plain make (nothing of
# this make's MAKEFLAGS), with the installed rnnc on PATH as a user would have it.
U="$T/project"
mkdir -p "$U/specs"
cp specs/lstm.lua "$U/specs/my.lua"
awk '/^```make$/ {f = 1; next} f && /^```$/ {exit} f' README.md > "$U/Makefile"
check "README has a Makefile snippet that runs rnnc" grep -q 'RNNC' "$U/Makefile"
umake() { (cd "$U" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u RNNC "$@"); }
UPATH="$P/bin:$PATH"
umake PATH="$UPATH" PKG_CONFIG_PATH="$P/lib/pkgconfig" make CC="$TCC $SAN" my > "$T/snip.out" 2>&1
check "snippet: make my builds the trainer" test $? -eq 0 || cat "$T/snip.out"
check "snippet: it ran the installed rnnc" grep -q "^$P/bin/rnnc specs/my.lua -o my.c" "$T/snip.out"
"$U/my" summary 2>&1 | grep -q "^Total params: 8809 "
check "snippet: the trainer runs" test "${PIPESTATUS[1]}" -eq 0
umake PATH="$UPATH" PKG_CONFIG_PATH="$P/lib/pkgconfig" make CC="$TCC $SAN" my > "$T/snip2.out" 2>&1
check "snippet: a second make my does nothing" grep -q "'my' is up to date" "$T/snip2.out"
touch "$U/specs/my.lua" && touch -d '1 hour ago' "$U/my"
umake PATH="$UPATH" PKG_CONFIG_PATH="$P/lib/pkgconfig" make CC="$TCC $SAN" my > "$T/snip3.out" 2>&1
check "snippet: a changed spec rebuilds the trainer" grep -q "rnnc specs/my.lua -o my.c" "$T/snip3.out"
rm -f "$U/my"
# Without rnnc on PATH the snippet says so (and does not run the spec as a command).
if ! PATH=/usr/bin:/bin command -v rnnc > /dev/null; then
  umake PATH=/usr/bin:/bin make my > "$T/snip4.out" 2>&1
  check "snippet without rnnc on PATH fails" test $? -ne 0
  check "snippet without rnnc on PATH says so" grep -q "rnnc is not on PATH" "$T/snip4.out" || cat "$T/snip4.out"
fi

# ---- uninstall and DESTDIR ----------------------------------------------------------
make -s --no-print-directory BUILD="$BUILD" uninstall PREFIX="$P" > "$T/un.out" 2>&1
check "make uninstall exit 0" test $? -eq 0
check "uninstall removed both man pages" test ! -e "$P/share/man/man1/rnnc.1" -a ! -e "$P/share/man/man5/rnnc-spec.5"
check "uninstall removed every file" test "$(find "$P" -type f | wc -l)" -eq 0

make -s --no-print-directory BUILD="$BUILD" install PREFIX=/opt/rnnc DESTDIR="$T/stage" > "$T/d.out" 2>&1
check "DESTDIR install exit 0" test $? -eq 0
check "DESTDIR: files under the stage" test -x "$T/stage/opt/rnnc/bin/rnnc"
check "DESTDIR: rnnrt.pc names the final prefix" grep -qx "prefix=/opt/rnnc" "$T/stage/opt/rnnc/lib/pkgconfig/rnnrt.pc"
make -s --no-print-directory BUILD="$BUILD" uninstall PREFIX=/opt/rnnc DESTDIR="$T/stage" > /dev/null 2>&1
check "DESTDIR uninstall" test "$(find "$T/stage" -type f | wc -l)" -eq 0

finish
