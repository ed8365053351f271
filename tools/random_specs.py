#!/usr/bin/env python3
"""random_specs.py — random valid rnnc specs for the code generator's property test.

    python3 tools/random_specs.py SEED N OUTDIR

writes OUTDIR/p000_<name>.lua ... OUTDIR/p<N-1>_<name>.lua: N random, valid specs,
a pure function of SEED (Python's random.Random(SEED); standard library only). Each
spec starts with comment lines that tests/property.sh reads:

    -- property: seed SEED, spec I
    -- rnnc-options: --unroll none          (the options for `rnnc SPEC -o X.c`)

What varies (sizes biased toward small, so a spec compiles in about a second):
  - embedding: input_dim 1..300 (often the edge values 1, 2, 3), output_dim 1..40,
    input_length 1..40 (mostly 3..12);
  - 1..3 stacked recurrent layers: simple_rnn (tanh, relu, sigmoid, linear), lstm
    (unit_forget_bias on/off), gru (reset_after true/false); units 1..40; dropout,
    recurrent_dropout, dropout_mask per_step/per_sequence (lstm, gru) each on or off;
    return_sequences set where the stack needs it; optional names;
  - optional standalone dropout layers between layers, optional hidden dense layers
    (every activation, softmax included);
  - the head: dense 1 sigmoid + binary_crossentropy or dense K>=2 softmax +
    sparse_categorical_crossentropy; metrics accuracy or none;
  - optimizer rmsprop (epsilon_outside on/off) / adam / sgd (momentum, nesterov), with
    at most one of clipnorm, global_clipnorm, clipvalue; fit batch_size 1..70, seed,
    validation_split, shuffle; callbacks (checkpoint, early stopping, csv) or none;
  - the unroll mode, chosen by position so every run covers every code path:
    I % 4 == 1: --unroll none;  I % 10 == 3: --unroll full (input_length forced to
    1..6, units kept small);  I % 10 == 7: --unroll-budget 16;  I % 10 == 9: a budget
    between the kernel sizes (some kernels straight-line, some loops); else default.
"""
import os
import random
import sys

RNN_KINDS = ("simple_rnn", "lstm", "gru")
SIMPLE_ACTS = ("tanh", "relu", "sigmoid", "linear")
DENSE_ACTS = ("linear", "sigmoid", "tanh", "relu", "softmax")
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def small_size(r, lo=1, hi=40):
    """A size in [lo, hi], biased toward small values (compile time)."""
    u = r.random()
    if u < 0.15:
        v = r.choice((1, 2, 3))
    elif u < 0.65:
        v = r.randint(1, 8)
    elif u < 0.92:
        v = r.randint(9, 20)
    else:
        v = r.randint(21, 40)
    return max(lo, min(hi, v))


def rate(r):
    """A dropout rate in (0, 1), sometimes near the ends."""
    return r.choice((0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 0.9, round(r.uniform(0.01, 0.95), 3)))


def fmt(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, str):
        return '"%s"' % x
    if isinstance(x, float):
        return repr(x)
    return str(x)


def table(positional, kw):
    parts = [fmt(p) for p in positional] + ["%s = %s" % (k, fmt(v)) for k, v in kw]
    return "{ " + ", ".join(parts) + " }"


class Namer:
    def __init__(self, r):
        self.r = r
        self.used = set()

    def maybe(self, kind):
        """An optional explicit name (unique, a C identifier), or None."""
        if self.r.random() < 0.25:
            n = "%s_%s%d" % (self.r.choice(("my", "x", "L", "layer")), kind, len(self.used))
            self.used.add(n)
            return n
        return None


def make_spec(r, seed, index):
    # ---- unroll mode, by position -----------------------------------------------------
    if index % 4 == 1:
        mode = "none"
    elif index % 10 == 3:
        mode = "full"
    elif index % 10 == 7:
        mode = "budget16"
    elif index % 10 == 9:
        mode = "budget_mid"
    else:
        mode = "default"
    full = mode == "full"

    def size(lo=1, hi=40):
        return small_size(r, lo, min(hi, 12) if full else hi)

    namer = Namer(r)
    lines = []
    kernels = []   # (F + U) * G of each recurrent layer, for the mid budget

    # ---- embedding ----------------------------------------------------------------
    u = r.random()
    if u < 0.2:
        input_dim = r.choice((1, 2, 3))
    elif u < 0.3:
        input_dim = r.choice((299, 300))
    else:
        input_dim = r.randint(1, 300)
    emb_dim = size()
    if full:
        T = r.randint(1, 6)
    else:
        u = r.random()
        if u < 0.75:
            T = r.randint(3, 12)
        elif u < 0.9:
            T = r.choice((1, 2))
        else:
            T = r.randint(13, 40)
    kw = [("input_length", T)]
    n = namer.maybe("emb")
    if n:
        kw.append(("name", n))
    lines.append("embedding " + table([input_dim, emb_dim], kw))

    def maybe_dropout_layer(p):
        if r.random() < p:
            kw = []
            n = namer.maybe("drop")
            if n:
                kw.append(("name", n))
            lines.append("dropout " + table([rate(r)], kw))

    maybe_dropout_layer(0.2)

    # ---- recurrent stack ----------------------------------------------------------
    n_rnn = r.choice((1, 1, 1, 2, 2, 3))
    F = emb_dim
    for i in range(n_rnn):
        kind = r.choice(RNN_KINDS)
        units = size()
        # Compile time: a kernel of up to --unroll-budget (default 4096) multiply-adds
        # becomes straight-line code, and one near 4096 takes clang ~30 s at -O1. Keep
        # the unrolled kernels small ((F + U) * G * U <= 1200) except in one spec of 10;
        # the loop modes take any size.
        if mode in ("default", "full", "budget_mid") and r.random() < 0.9:
            while (F + units) * GATES[kind] * units > 1200 and units > 1:
                units = max(1, units * 2 // 3)
        kw = []
        if kind == "simple_rnn":
            act = r.choice(SIMPLE_ACTS)
            if act != "tanh" or r.random() < 0.5:
                kw.append(("activation", act))
        if r.random() < 0.4:
            kw.append(("dropout", rate(r)))
        if r.random() < 0.4:
            kw.append(("recurrent_dropout", rate(r)))
        last = i == n_rnn - 1
        if not last:
            kw.append(("return_sequences", True))
        elif r.random() < 0.3:
            kw.append(("return_sequences", False))
        if kind in ("lstm", "gru") and r.random() < 0.5:
            kw.append(("dropout_mask", r.choice(("per_step", "per_sequence"))))
        if kind == "lstm" and r.random() < 0.3:
            kw.append(("unit_forget_bias", r.random() < 0.5))
        if kind == "gru" and r.random() < 0.6:
            kw.append(("reset_after", r.random() < 0.5))
        n = namer.maybe(kind)
        if n:
            kw.append(("name", n))
        r.shuffle(kw)
        lines.append("%s %s" % (kind, table([units], kw)))
        kernels.append((F + units) * GATES[kind])
        F = units
        maybe_dropout_layer(0.2)

    # ---- hidden dense layers --------------------------------------------------------
    for _ in range(r.choice((0, 0, 0, 1, 1, 2))):
        units = size(hi=24)
        kw = [("activation", r.choice(DENSE_ACTS))]
        n = namer.maybe("dense")
        if n:
            kw.append(("name", n))
        lines.append("dense " + table([units], kw))
        maybe_dropout_layer(0.25)

    # ---- head, loss, optimizer --------------------------------------------------------
    binary = r.random() < 0.5
    if binary:
        lines.append('dense { 1, activation = "sigmoid" }')
        loss = "binary_crossentropy"
    else:
        K = r.choice((2, 2, 3, 4, 5, r.randint(2, 12)))
        lines.append('dense { %d, activation = "softmax" }' % K)
        loss = "sparse_categorical_crossentropy"

    opt = r.choice(("rmsprop", "adam", "sgd"))
    okw = []
    # Adam and RMSprop at a large rate turn float rounding of near-zero gradients into
    # ~1e-5 weight differences (g / sqrt(v) is about sign(g)): keep their rates small.
    if r.random() < 0.7:
        okw.append(("learning_rate", r.choice((1e-4, 1e-3, 1e-2, 0.05) if opt == "sgd" else (1e-4, 3e-4, 1e-3))))
    if opt == "rmsprop":
        if r.random() < 0.3:
            okw.append(("rho", r.choice((0.8, 0.95))))
        if r.random() < 0.4:
            okw.append(("epsilon_outside", r.random() < 0.5))
    elif opt == "adam":
        if r.random() < 0.3:
            okw.append(("beta_1", r.choice((0.5, 0.8))))
            okw.append(("beta_2", r.choice((0.99, 0.9))))
    else:
        if r.random() < 0.6:
            okw.append(("momentum", r.choice((0.5, 0.9))))
            if r.random() < 0.5:
                okw.append(("nesterov", True))
    clip = r.choice((None, None, "clipnorm", "global_clipnorm", "clipvalue"))
    if clip:
        okw.append((clip, r.choice((0.01, 0.1, 1.0))))
    metrics = r.random() < 0.6

    name = "p%03d_%s" % (index, "_".join(l.split()[0][:4] for l in lines if not l.startswith(("embedding", "dense {"))) or "x")
    name = name[:60]

    if mode == "none":
        opts = "--unroll none"
    elif mode == "full":
        opts = "--unroll full"
    elif mode == "budget16":
        opts = "--unroll-budget 16"
    elif mode == "budget_mid":
        lo, hi = min(kernels), max(kernels)
        opts = "--unroll-budget %d" % (max(1, (lo + hi) // 2) if hi > lo else max(1, lo - 1))
    else:
        opts = ""

    out = []
    out.append("-- property: seed %d, spec %d" % (seed, index))
    out.append("-- rnnc-options: %s" % opts)
    out.append('return sequential "%s" {' % name)
    for l in lines:
        out.append("  %s," % l)
    out.append("")
    out.append("  compile = {")
    out.append("    optimizer = %s %s," % (opt, table([], okw)))
    out.append('    loss = "%s",' % loss)
    if metrics:
        out.append('    metrics = { "%s" },' % r.choice(("accuracy", "accuracy", "acc")))
    out.append("  },")
    fit = "epochs = %d, batch_size = %d, seed = %d" % (r.randint(1, 3), r.randint(1, 70), r.randint(0, 1000))
    if r.random() < 0.3:
        fit += ", validation_split = %s" % r.choice((0.1, 0.2, 0.5))
    if r.random() < 0.2:
        fit += ", shuffle = false"
    callbacks = []   # none in half the specs (the generated code's empty list too)
    if r.random() < 0.5:
        monitors = ["val_loss", "loss"] + (["val_accuracy", "accuracy"] if metrics else [])
        for cb in r.sample(("model_checkpoint", "early_stopping", "csv_logger"), r.randint(1, 3)):
            if cb == "model_checkpoint":
                kw = [("monitor", r.choice(monitors))] if r.random() < 0.5 else []
                if r.random() < 0.5:
                    kw.append(("save_best_only", True))
                callbacks.append("model_checkpoint " + table(["ckpt-%s.safetensors" % name], kw))
            elif cb == "early_stopping":
                kw = [("patience", r.randint(0, 3))]
                if r.random() < 0.5:
                    kw.append(("monitor", r.choice(monitors)))
                if r.random() < 0.4:
                    kw.append(("restore_best_weights", True))
                if r.random() < 0.2:
                    kw.append(("min_delta", 0.001))
                callbacks.append("early_stopping " + table([], kw))
            else:
                callbacks.append("csv_logger " + table(["log-%s.csv" % name], []))
    if callbacks:
        out.append("  fit = {")
        out.append("    %s," % fit)
        out.append("    callbacks = { %s }," % ", ".join(callbacks))
        out.append("  },")
    else:
        out.append("  fit = { %s }," % fit)
    out.append("}")
    return name, "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: random_specs.py SEED N OUTDIR\n")
        return 2
    seed, n, outdir = int(argv[1]), int(argv[2]), argv[3]
    os.makedirs(outdir, exist_ok=True)
    r = random.Random(seed)
    for i in range(n):
        name, text = make_spec(r, seed, i)
        with open(os.path.join(outdir, name + ".lua"), "w") as f:
            f.write(text)
    print("random_specs.py: seed %d, %d specs in %s" % (seed, n, outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
