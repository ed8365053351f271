#!/usr/bin/env bash
# deep.sh — stacks up to the layer limit (README "Limits": 32 layers in all, the
# embedding and the head included) through the whole pipeline. For 26, 30 and 32 layers
# (embedding 50x6, length 5; LSTM(4) with dropout, recurrent_dropout and
# return_sequences, made by a Lua loop; a sigmoid head):
#   rnnc SPEC -o EXE             exit 0, builds the trainer (default CFLAGS: -O3 -march=native)
#   EXE summary                  N - 2 LSTM rows and the parameter total
#   EXE selftest                 exit 0, PASS, no FAIL, a row for the last LSTM
# Selftest judges a gradient tensor against at least 1% of the model's largest gradient,
# and through 30 LSTMs the first layers' gradients are 1e-20 of the head's: selftest
# passes even when lstm/kernel's gradient has the wrong sign. So the 32-layer spec is
# also built with gradcheck.h (below), which compares every gradient tensor of the
# generated code with the reference's relative to the tensor's own scale (worst
# measured 4e-6) and checks that it catches lstm/kernel's gradient off by 1e-4.
# And a 33-layer spec is rejected: exit 1, stderr exactly the one line
# `deep33.lua:9: sequential: the model has more than 32 layers (the limit)`, nothing
# on stdout, no file left beside it.
# Each build takes clang about 7 s; the four run at once. Under SAN (make test-asan)
# the trainers are instrumented like the runtime they link, at -O0: clang -O1 with the
# sanitizers takes about 55 s on the 32-layer file (0.8 MB of C), -O0 about 6 s.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
. "$(dirname "$0")/lib.sh"
tmpdir
if [ -n "$SAN" ]; then export CFLAGS="-O0 $SAN"; fi
DEPTHS="26 30 32"
start=$(date +%s)

# deepN.lua: N layers in all; the head is on line 9
write_spec() {
  local n=$1 k=$(($1 - 2))
  cat > "$T/deep$n.lua" <<EOF
-- deep$n: $n layers in all (embedding, $k LSTMs, dense)
local stack = {}
for i = 1, $k do
  stack[i] = lstm { 4, dropout = 0.2, recurrent_dropout = 0.3, return_sequences = i < $k }
end
return sequential "deep$n" {
  embedding { 50, 6, input_length = 5 },
  stack,
  dense { 1, activation = "sigmoid" },
}
EOF
}

# gradcheck.h, included into a generated file: its main's call of rnn_trainer_main runs
# gradcheck_main instead. For 3 weight seeds and 4 dropout epochs (11 samples, all
# labelled 1, so that no gradient is a sum over the batch of terms that cancel), every
# gradient tensor of the generated code against the reference's: max |a - r| / max |r|
# <= 5e-5. Then the same with the generated lstm/kernel gradient times 1 + 1e-4, which
# must fail.
cat > "$T/gradcheck.h" <<'EOF'
#include "rnnrt.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define GC_N 11
#define GC_TOL 5e-5
/* the worst error over the tensors (NaN if any is NaN), each tensor's row when verbose */
static double gc_run(const rnn_model *m, const rnn_model_ops *ops, const char *faulty, int verbose) {
    const size_t P = m->param_buffer_len;
    const int T = m->timesteps;
    rnn_real *w = calloc(P, sizeof *w), *ga = calloc(P, sizeof *ga), *gr = calloc(P, sizeof *gr);
    int32_t *tok = calloc((size_t)GC_N * (size_t)T, sizeof *tok);
    rnn_real lab[GC_N];
    uint32_t rows[GC_N], x = 12345;
    void *A = ops->create(m, 16), *R = rnn_reference_ops.create(m, 16);
    if (!w || !ga || !gr || !tok || !A || !R) { fprintf(stderr, "gradcheck: out of memory\n"); exit(1); }
    double worst[RNN_MAX_TENSORS] = {0}, scale[RNN_MAX_TENSORS], all = 0;
    for (int k = 0; k < m->n_tensors; k++) scale[k] = INFINITY;
    for (int seed = 1; seed <= 3; seed++) {
        rnn_init_params(m, (uint64_t)seed, w);
        for (int i = 0; i < GC_N * T; i++) x = x * 1103515245u + 12345u, tok[i] = (int32_t)((x >> 16) % (uint32_t)m->vocab);
        for (int b = 0; b < GC_N; b++) lab[b] = 1, rows[b] = (uint32_t)(100 * seed + 7 * b);
        for (uint32_t epoch = 0; epoch < 4; epoch++) {
            const rnn_dropout_ctx c = {.training = 1, .seed = 9, .epoch = epoch, .rows = rows};
            ops->forward(A, w, tok, lab, GC_N, &c, NULL);
            ops->backward(A, w, ga);
            rnn_reference_ops.forward(R, w, tok, lab, GC_N, &c, NULL);
            rnn_reference_ops.backward(R, w, gr);
            for (int k = 0; k < m->n_tensors; k++) {
                const rnn_tensor *t = &m->tensors[k];
                if (faulty && strcmp(t->name, faulty) == 0)
                    for (size_t i = t->offset; i < t->offset + t->size; i++) ga[i] *= (rnn_real)(1 + 1e-4);
                double d = 0, s = 0;
                for (size_t i = t->offset; i < t->offset + t->size; i++) {
                    d = isfinite(ga[i]) && isfinite(gr[i]) ? fmax(d, fabs((double)ga[i] - (double)gr[i])) : NAN;
                    s = fmax(s, fabs((double)gr[i]));
                }
                const double e = isnan(d) ? NAN : s > 0 ? d / s : d > 0 ? INFINITY : 0;
                worst[k] = isnan(e) || isnan(worst[k]) ? NAN : fmax(worst[k], e);
                scale[k] = fmin(scale[k], s);
            }
        }
    }
    for (int k = 0; k < m->n_tensors; k++) {
        if (verbose)
            printf("  %-28s gradient scale >= %.1e  error %.1e%s\n", m->tensors[k].name, scale[k], worst[k],
                   worst[k] <= GC_TOL ? "" : "  FAIL");
        all = isnan(worst[k]) || isnan(all) ? NAN : fmax(all, worst[k]);
    }
    ops->destroy(A), rnn_reference_ops.destroy(R);
    free(w), free(ga), free(gr), free(tok);
    return all;
}
static int gradcheck_main(const rnn_model *m, const rnn_model_ops *ops, const char *program, int argc, char **argv) {
    (void)program, (void)argc, (void)argv;
    printf("gradcheck: model \"%s\", %d tensors, tolerance %g of each tensor's own scale\n", m->name, m->n_tensors, GC_TOL);
    const double e = gc_run(m, ops, NULL, 1);
    const double f = gc_run(m, ops, "lstm/kernel", 0);
    printf("with lstm/kernel's gradient off by 1e-4: error %.1e (%s)\n", f, f > GC_TOL ? "caught" : "NOT CAUGHT");
    const int ok = e <= GC_TOL && f > GC_TOL;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
#define rnn_trainer_main gradcheck_main
EOF

# ---- the trainers and the 32-layer gradient check, built side by side ------------------
for n in $DEPTHS; do
  write_spec "$n"
  mkdir "$T/b$n"
  (cd "$T/b$n" && "$RNNC" "../deep$n.lua" -o "deep$n" > build.out 2>&1; echo $? > build.rc) &
done
mkdir "$T/grad"
(cd "$T/grad" && CFLAGS="${CFLAGS:--O1} -include $T/gradcheck.h" "$RNNC" ../deep32.lua -o gradcheck > build.out 2>&1
 echo $? > build.rc) &
wait

for n in $DEPTHS; do
  d="$T/b$n" k=$((n - 2))
  rc=$(cat "$d/build.rc")
  check "deep$n: rnnc -o exits 0 (got $rc)" test "$rc" -eq 0 || { cat "$d/build.out"; continue; }
  check "deep$n: the trainer exists" test -x "$d/deep$n" || continue

  "$d/deep$n" summary > "$d/summary.out" 2>&1
  check "deep$n: summary exits 0" test $? -eq 0 || cat "$d/summary.out"
  # 300 (embedding) + 176 (the first LSTM, on 6 inputs) + 144 for each other + 5 (head)
  params=$((300 + 176 + (k - 1) * 144 + 5))
  check "deep$n: summary has $k LSTM rows" test "$(grep -c '(LSTM)' "$d/summary.out")" -eq "$k" || cat "$d/summary.out"
  check "deep$n: summary totals $params parameters" grep -q "^Total params: $params " "$d/summary.out" || cat "$d/summary.out"

  "$d/deep$n" selftest > "$d/selftest.out" 2>&1
  rc=$?
  check "deep$n: selftest exits 0 (got $rc)" test "$rc" -eq 0 || cat "$d/selftest.out"
  check "deep$n: selftest PASS" grep -qx PASS "$d/selftest.out"
  check "deep$n: selftest has no FAIL" test "$(grep -c FAIL "$d/selftest.out")" -eq 0
  check "deep$n: selftest of model deep$n (generated)" grep -q "^selftest: model \"deep$n\" (generated\( for x86-64[-v0-9]*\)\{0,1\}) vs reference" "$d/selftest.out"
  check "deep$n: selftest checks the last LSTM, lstm_$((k - 1))" grep -q "^  grad lstm_$((k - 1))/kernel " "$d/selftest.out"
done

rc=$(cat "$T/grad/build.rc")
if check "deep32 with gradcheck.h: rnnc -o exits 0 (got $rc)" test "$rc" -eq 0 || { cat "$T/grad/build.out"; false; }; then
  "$T/grad/gradcheck" > "$T/grad/out" 2>&1
  rc=$?
  check "deep32: every gradient within 5e-5 of its tensor's scale (gradcheck exit $rc)" test "$rc" -eq 0 || cat "$T/grad/out"
  check "deep32: gradcheck PASS" grep -qx PASS "$T/grad/out"
  check "deep32: gradcheck compared all 93 tensors (1 + 30 x 3 + 2)" test "$(grep -c ' gradient scale >= ' "$T/grad/out")" -eq 93
  check "deep32: gradcheck catches lstm/kernel off by 1e-4" grep -q "off by 1e-4: error .* (caught)$" "$T/grad/out"
fi

# ---- one layer past the limit ----------------------------------------------------------
write_spec 33
mkdir "$T/b33"
(cd "$T/b33" && cp ../deep33.lua . && "$RNNC" deep33.lua -o deep33 > out 2> err; echo $? > rc)
check "deep33: exit 1 (got $(cat "$T/b33/rc"))" test "$(cat "$T/b33/rc")" -eq 1
check "deep33: the message" test "$(cat "$T/b33/err")" = "deep33.lua:9: sequential: the model has more than 32 layers (the limit)" \
  || cat "$T/b33/err"
check "deep33: one line" test "$(wc -l < "$T/b33/err")" -eq 1
check "deep33: nothing on stdout" test ! -s "$T/b33/out"
check "deep33: no file written" test "$(cd "$T/b33" && ls -A | tr '\n' ' ')" = "deep33.lua err out rc "

end=$(date +%s)
finish "(depths $DEPTHS and 33; $((end - start)) s)"
