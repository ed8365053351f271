#!/usr/bin/env bash
# examples.sh — the projects of examples/ build from an installed prefix, as a user's
# would: `make install`, then
#   examples/cmake  find_package(rnnc): rnnc_add_trainer gives a trainer (every x86-64
#                   level in it) that passes selftest, the rule trains it, and
#                   rnnc_add_predictor embeds the weights in a program that classifies; a
#                   second build does nothing, and a changed spec re-runs rnnc and gives
#                   the changed model
#   examples/make   a plain Makefile with rnnc from the prefix and pkg-config: the same
#                   trainer, weights and probabilities as the CMake build
# Needs cmake (make deps). Under SAN (make test-asan) not run: the examples link the
# installed runtime without the sanitizers' flags, as a user's project does.
. "$(dirname "$0")/lib.sh"
unset RNNC_MARCH   # the examples build as a user builds them
if [ -n "$SAN" ]; then
  echo "examples.sh: not run under SAN (the example projects build without the sanitizers)"
  exit 0
fi
tmpdir
command -v cmake > /dev/null || { bad "cmake is not installed (make deps installs it)"; finish; exit 1; }
P="$T/prefix"
make -s --no-print-directory BUILD="$BUILD" install PREFIX="$P" > "$T/install.out" 2>&1
check "make install exit 0" test $? -eq 0 || { cat "$T/install.out"; finish; exit 1; }
cp -r "$ROOT/examples" "$T/ex"
unset CFLAGS
printf '1 12 40 7 300 22\n1 5\n' > "$T/tokens"

# ---- CMake ----------------------------------------------------------------------------
(cd "$T" && cmake -S ex/cmake -B cb -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER=clang) > "$T/cmake.out" 2>&1
check "cmake configures with find_package(rnnc)" test $? -eq 0 || cat "$T/cmake.out"
cmake --build "$T/cb" -j 2 > "$T/build.out" 2>&1
check "cmake --build exit 0" test $? -eq 0 || tail -n 30 "$T/build.out"
check "the trainer built by CMake" test -x "$T/cb/sentiment"
check "... from four level objects" test "$(ls "$T"/cb/CMakeFiles/sentiment_isa*.dir/sentiment.c.o 2>/dev/null | wc -l)" -eq 4
"$T/cb/sentiment" selftest > "$T/st.out" 2>&1
check "the CMake trainer passes selftest" grep -qx PASS "$T/st.out" || cat "$T/st.out"
check "... running a level's copy" grep -q '^selftest: model "sentiment" (generated for x86-64' "$T/st.out"
check "the rule trained the weights" test -s "$T/cb/sentiment.safetensors"
"$T/cb/classify" < "$T/tokens" > "$T/cmake-probs" 2>&1
check "classify (CMake) prints two probabilities" python3 -c "
import sys; v = [float(x) for x in open('$T/cmake-probs').read().split()]; sys.exit(0 if len(v) == 2 and all(0 < x < 1 for x in v) else 1)" ||
  cat "$T/cmake-probs"
cmake --build "$T/cb" > "$T/rebuild.out" 2>&1
check "a second build runs neither rnnc nor training" test "$(grep -c -e 'rnnc ' -e 'training sentiment' "$T/rebuild.out")" -eq 0 || cat "$T/rebuild.out"
sed -i 's/gru { 8 }/gru { 6 }/' "$T/ex/sentiment.lua"
cmake --build "$T/cb" > "$T/change.out" 2>&1
check "a changed spec: rebuild exit 0" test $? -eq 0 || tail -n 20 "$T/change.out"
check "a changed spec re-runs rnnc" grep -q "rnnc .*sentiment.lua -> sentiment.c" "$T/change.out"
check "... and retrains" grep -q "training sentiment" "$T/change.out"
"$T/cb/sentiment" summary > "$T/sum.out" 2>&1
# 8000 + GRU(6) on 16 inputs, reset_after: 3*6*(16+6) + 2*3*6 = 432 + dense 7
check "the trainer is the changed model (8439 parameters)" grep -q "^Total params: 8439 " "$T/sum.out" || cat "$T/sum.out"
sed -i 's/gru { 6 }/gru { 8 }/' "$T/ex/sentiment.lua"

# ---- a plain Makefile ---------------------------------------------------------------
PKG_CONFIG_PATH="$P/lib/pkgconfig" make -C "$T/ex/make" RNNC="$P/bin/rnnc" CC=clang > "$T/make.out" 2>&1
check "the Makefile project builds" test $? -eq 0 || tail -n 20 "$T/make.out"
"$T/ex/make/sentiment" selftest > "$T/mst.out" 2>&1
check "its trainer passes selftest" grep -qx PASS "$T/mst.out"
cmake --build "$T/cb" > /dev/null 2>&1   # back to gru { 8 }
"$T/cb/classify" < "$T/tokens" > "$T/cmake-probs" 2>&1
"$T/ex/make/classify" < "$T/tokens" > "$T/make-probs" 2>&1
check "the Makefile project's classify prints what the CMake one prints" cmp -s "$T/make-probs" "$T/cmake-probs" ||
  paste "$T/make-probs" "$T/cmake-probs"
check "... and the same weights were trained" cmp -s "$T/ex/make/sentiment.safetensors" "$T/cb/sentiment.safetensors"
finish
