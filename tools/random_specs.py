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
    return_sequences set where the stack needs it; go_backwards; optional names; a
    quarter of them wrapped in bidirectional { ... } (every merge_mode, the default
    concat among them);
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
  - training controls (from their own random stream, so every other draw stays as it
    was): multi-label heads (dense K sigmoid), categorical_crossentropy, metrics auc,
    precision and recall, trainable = false on a layer, a learning-rate schedule,
    embedding_clip = "summed", class_weight, reduce_lr_on_plateau;
  - deep stacks: spec I with I % 20 == 15 (3 of 60) is instead a stack of 8 to 32
    layers in all (32, the limit, in about half), tiny sizes, both dropouts and
    standalone dropout layers, its own unroll mode (see "deep stacks" below).
  - the embedding's mask: mask_zero = true in about a third of the specs whose layers
    all take the mask where it reaches them (from its own stream; see mask_refused).
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
    if isinstance(x, Raw):
        return x.text
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
    rnn_start = len(lines)
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
        if r.random() < 0.2:
            kw.append(("go_backwards", True))
        n = namer.maybe(kind)
        if n:
            kw.append(("name", n))
        r.shuffle(kw)
        text = "%s %s" % (kind, table([units], kw))
        kernels.append((F + units) * GATES[kind])
        F = units
        if r.random() < 0.25:   # both halves share the step functions: no more code
            merge = r.choice((None, "concat", "sum", "mul", "ave"))
            bkw = [("merge_mode", merge)] if merge else []
            n = namer.maybe("bidi")
            if n:
                bkw.append(("name", n))
            text = "bidirectional { %s%s }" % (text, "".join(", %s = %s" % (k, fmt(v)) for k, v in bkw))
            F = 2 * units if merge in (None, "concat") else units
        lines.append(text)
        maybe_dropout_layer(0.2)

    rnn_end = len(lines)

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
    zoo_layers(random.Random("zoo %d %d" % (seed, index)), lines, rnn_start, rnn_end, T, emb_dim, size, namer)

    mr = random.Random("mask %d %d" % (seed, index))
    if mr.random() < 0.35 and mask_refused([line_layer(l) for l in lines[1:]]) is None:
        lines[0] = lines[0][:-2] + ", mask_zero = true }"
    name = "p%03d_%s" % (index, "_".join(l.split()[0][:4] for l in lines if not l.startswith(("embedding", "dense {"))) or "x")
    name = name[:60]
    loss, okw, metric_names, fit_extra, cb_extra, monitors_extra = training_controls(
        random.Random("controls %d %d" % (seed, index)), lines, loss, okw, metrics)

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
        metric_names = ['"%s"' % r.choice(("accuracy", "accuracy", "acc"))] + metric_names
    if metric_names:
        out.append('    metrics = { %s },' % ", ".join(metric_names))
    out.append("  },")
    fit = "epochs = %d, batch_size = %d, seed = %d" % (r.randint(1, 3), r.randint(1, 70), r.randint(0, 1000)) + fit_extra
    if r.random() < 0.3:
        fit += ", validation_split = %s" % r.choice((0.1, 0.2, 0.5))
    if r.random() < 0.2:
        fit += ", shuffle = false"
    callbacks = []   # none in half the specs (the generated code's empty list too)
    if r.random() < 0.5:
        monitors = ["val_loss", "loss"] + (["val_accuracy", "accuracy"] if metrics else []) + monitors_extra
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
    callbacks += cb_extra
    # a second callback of a kind already drawn (each instance keeps its own state), from
    # a stream of its own so that the specs drawn before this stay as they were
    rd = random.Random("second callback %d %d" % (seed, index))
    if callbacks and rd.random() < 0.3:
        monitors = ["val_loss", "loss"] + (["val_accuracy", "accuracy"] if metrics else [])
        if rd.random() < 0.5:
            callbacks.append("model_checkpoint " + table(["ckpt2-%s.safetensors" % name],
                                                         [("monitor", rd.choice(monitors)), ("save_best_only", True)]))
        else:
            callbacks.append("early_stopping " + table([], [("patience", rd.randint(0, 3)),
                                                            ("monitor", rd.choice(monitors))]))
    if callbacks:
        out.append("  fit = {")
        out.append("    %s," % fit)
        out.append("    callbacks = { %s }," % ", ".join(callbacks))
        out.append("  },")
    else:
        out.append("  fit = { %s }," % fit)
    out.append("}")
    return name, "\n".join(out) + "\n"


# ---- the training controls ------------------------------------------------------------------
#
# Drawn from their own random.Random("controls SEED I"), applied to what the spec drew:
# the head (a multi-label sigmoid output, or one-hot labels for a softmax), the metrics
# beyond accuracy, a frozen layer, a schedule as the learning rate (rates as small as the
# constant ones), embedding_clip, class_weight and reduce_lr_on_plateau. Returns the
# loss, the optimizer's keywords, the extra metric names, text to add to fit, extra
# callbacks and the monitors they make possible.

def training_controls(c, lines, loss, okw, metrics):
    head = lines[-1]
    if loss == "binary_crossentropy" and c.random() < 0.25:   # several labels per sample
        K = c.randint(2, 5)
        lines[-1] = head = 'dense { %d, activation = "sigmoid" }' % K
    elif loss != "binary_crossentropy" and c.random() < 0.35:
        loss = "categorical_crossentropy"
    outputs = int(head.split("{")[1].split(",")[0]) if head.startswith("dense {") and "," in head else 1
    extra, monitors = [], []
    if loss != "sparse_categorical_crossentropy" and c.random() < 0.3:
        for m in c.sample(("auc", "precision", "recall"), c.randint(1, 3)):
            extra.append('"%s"' % m)
            monitors += ["val_" + m, m]
    if c.random() < 0.2:   # trainable = false on a layer that has a table
        i = c.randrange(0, len(lines))
        if lines[i].rstrip().endswith("}") and not lines[i].startswith(("dropout", "spatial_dropout1d")):
            body = lines[i].rstrip()[:-1].rstrip()
            lines[i] = body + (" trainable = false }" if body.endswith("{") else ", trainable = false }")
    schedule = None
    if c.random() < 0.25:
        lr = dict(okw).get("learning_rate", 1e-3)
        schedule = c.choice((
            "exponential_decay { %s, %d, 0.9%s }" % (fmt(lr), c.randint(1, 5), c.choice(("", ", staircase = true"))),
            "inverse_time_decay { %s, %d, 0.5 }" % (fmt(lr), c.randint(1, 5)),
            "piecewise_constant_decay { { 1, 3 }, { %s, %s, %s } }" % (fmt(lr), fmt(lr / 2), fmt(lr / 4)),
            "cosine_decay { %s, %d, alpha = 0.1 }" % (fmt(lr), c.randint(1, 6))))
        okw = [kv for kv in okw if kv[0] != "learning_rate"] + [("learning_rate", Raw(schedule))]
    if any(k in ("clipnorm", "global_clipnorm", "clipvalue") for k, _ in okw) and c.random() < 0.3:
        okw = okw + [("embedding_clip", "summed")]
    fit_extra, cbs = "", []
    if c.random() < 0.2:
        classes = outputs if outputs > 1 else 2
        fit_extra = ", class_weight = { %s }" % ", ".join("[%d] = %s" % (k, fmt(c.choice((0.5, 1, 2, 3)))) for k in range(classes))
    if schedule is None and c.random() < 0.15:
        cbs.append("reduce_lr_on_plateau " + table([], [("monitor", c.choice(["val_loss", "loss"] + monitors)),
                                                       ("patience", c.randint(0, 2)), ("factor", 0.5)]))
    return loss, okw, extra, fit_extra, cbs, monitors


# ---- the non-recurrent layers ---------------------------------------------------------------
#
# Four specs in ten (drawn from their own random.Random("zoo SEED I"), so that the shared
# stream, and every spec without them, stays as it was) get layers on the steps after the
# embedding: conv1d (every padding, strides, dilation_rate, activation, with and without a
# bias), max/average_pooling1d (pool sizes 1-4, strides, valid and same), spatial_dropout1d,
# dense and activation at every step; then the recurrent stack, or instead of it an end:
# global_max_pooling1d, global_average_pooling1d or flatten. Three heads in ten, of any
# spec, are Dense then Activation (dense { 1 }, activation { "sigmoid" }).

SEQ_KINDS = ("conv1d", "conv1d", "max_pooling1d", "average_pooling1d", "spatial_dropout1d", "dense", "activation")


def seq_layer(r, namer, steps, F, size):
    """One layer on the steps; returns its line and the steps and features after it."""
    kind = r.choice(SEQ_KINDS)
    pos, kw = [], []
    if kind == "conv1d":
        filters, k = size(hi=24), r.choice((1, 2, 3, 3, 4, 5))
        stride = r.choice((1, 1, 1, 2, 3))
        dil = r.choice((1, 1, 2, 3)) if stride == 1 else 1
        pad = r.choice(("valid", "valid", "same", "causal"))
        span = (k - 1) * dil + 1
        if pad == "valid" and span > steps:
            pad = "same"
        pos = [filters, k]
        if stride != 1 or r.random() < 0.2:
            kw.append(("strides", stride))
        if pad != "valid" or r.random() < 0.2:
            kw.append(("padding", pad))
        if dil != 1:
            kw.append(("dilation_rate", dil))
        if r.random() < 0.7:
            kw.append(("activation", r.choice(DENSE_ACTS)))
        if r.random() < 0.2:
            kw.append(("use_bias", False))
        steps = (steps - span) // stride + 1 if pad == "valid" else (steps + stride - 1) // stride
        F = filters
    elif kind in ("max_pooling1d", "average_pooling1d"):
        p, stride = r.choice((1, 2, 2, 3, 4)), r.choice((None, None, 1, 2, 3))
        pad = r.choice(("valid", "valid", "same"))
        if pad == "valid" and p > steps:
            pad = "same"
        pos = [p]
        if stride:
            kw.append(("strides", stride))
        if pad != "valid" or r.random() < 0.2:
            kw.append(("padding", pad))
        s = stride or p
        steps = (steps - p) // s + 1 if pad == "valid" else (steps + s - 1) // s
    elif kind == "spatial_dropout1d":
        pos = [rate(r)]
    elif kind == "dense":
        F = size(hi=24)
        pos, kw = [F], [("activation", r.choice(DENSE_ACTS))]
    else:
        pos = [r.choice(DENSE_ACTS)]
    n = namer.maybe(kind[:4])
    if n:
        kw.append(("name", n))
    r.shuffle(kw)
    return "%s %s" % (kind, table(pos, kw)), steps, F


def zoo_layers(r, lines, rnn_start, rnn_end, T, F, size, namer):
    """Rewrite lines (the spec's layers) in place: a front of layers on the steps before
    the recurrent stack, or in its place with an end; the head as Dense then Activation."""
    if r.random() < 0.4:
        front, steps = [], T
        for _ in range(r.choice((1, 1, 2, 3))):
            line, steps, F = seq_layer(r, namer, steps, F, size)
            front.append(line)
        end = r.choice(("rnn", "rnn", "global_max_pooling1d", "global_average_pooling1d", "flatten"))
        if end == "rnn":
            lines[rnn_start:rnn_start] = front
        else:
            lines[rnn_start:rnn_end] = front + ["%s { }" % end]
    if r.random() < 0.3:
        head = lines[-1]   # dense { K, activation = "sigmoid" | "softmax" }
        act = "sigmoid" if "sigmoid" in head else "softmax"
        lines[-1:] = ["dense { %s }" % head.split("{ ")[1].split(",")[0], 'activation { "%s" }' % act]


# ---- the embedding's mask -----------------------------------------------------------------
#
# What each layer does with the mask (runtime/model/layout.c, Keras's supports_masking and
# compute_mask): recurrent layers, bidirectional and global_average_pooling1d use it and
# pass it on only with a sequence out; dense, dropout, spatial_dropout1d and activation
# pass it on; every other kind refuses it, an error at its line.

MASK_PASSED = ("dense", "dropout", "spatial_dropout1d", "activation", "block")
MASK_ENDS = RNN_KINDS + ("bidirectional", "global_average_pooling1d")


def mask_refused(layers):
    """The index in layers (kind, return_sequences) after the embedding of the first layer
    that refuses the mask, or None when the mask is used or ends before any does."""
    for i, (kind, seq) in enumerate(layers):
        if kind in MASK_PASSED:
            continue
        if kind not in MASK_ENDS:
            return i
        if kind != "global_average_pooling1d" and seq:
            continue
        return None
    return None


def line_layer(line):
    """(kind, return_sequences) of a layer line of make_spec."""
    return line.split()[0], "return_sequences = true" in line


# ---- deep stacks ------------------------------------------------------------------------
#
# Spec I with I % 20 == DEEP_AT is a deep stack instead: 8 to 32 layers in all (RNN_MAX_LAYERS,
# the embedding and the head counted; 32 in about half of them), drawn from its own
# random.Random("deep SEED I") so that every other spec is the same as without deep ones
# (make_spec still draws spec I's numbers from the shared stream first). Sizes are tiny
# (units 1..4, output_dim 1..6, input_length 1..5): a 32-layer stack of LSTM(4) takes
# clang -O1 about 5 s. Every deep stack has a standalone dropout layer and a recurrent
# layer with both dropout and recurrent_dropout; in about a third the recurrent layers are
# one layer repeated by a Lua loop and spliced in as a table.

DEEP_EVERY, DEEP_AT = 20, 15
MAX_LAYERS = 32


def deep_rnn(rr, kind, units, last, both):
    kw = []
    if kind == "simple_rnn" and rr.random() < 0.5:
        kw.append(("activation", rr.choice(SIMPLE_ACTS)))
    if both or rr.random() < 0.5:
        kw.append(("dropout", rate(rr)))
    if both or rr.random() < 0.5:
        kw.append(("recurrent_dropout", rate(rr)))
    if kind in ("lstm", "gru") and rr.random() < 0.3:
        kw.append(("dropout_mask", rr.choice(("per_step", "per_sequence"))))
    if kind == "gru" and rr.random() < 0.3:
        kw.append(("reset_after", False))
    rr.shuffle(kw)
    if not last:
        kw.append(("return_sequences", True))
    return kind, units, kw


def make_deep_spec(rr, seed, index):
    total = MAX_LAYERS if rr.random() < 0.5 else rr.randint(8, MAX_LAYERS - 1)
    mid = total - 2                                    # between the embedding and the head
    n_dense = rr.choice((0, 0, 1, 2))
    n_drop = rr.randint(1, max(1, mid // 4))
    n_rnn = mid - n_dense - n_drop                     # >= 3
    loop = rr.random() < 0.35
    mode = rr.choice(("default", "default", "none", "budget16"))

    # The layers between the embedding and the head, as Lua entries (kind, count of
    # layers, text); the loop's table is one entry ("stack") of n_rnn layers.
    rnns = []
    if loop:
        kind, units = rr.choice(RNN_KINDS), rr.randint(1, 4)
        body = deep_rnn(rr, kind, units, False, True)
        kw = [kv for kv in body[2] if kv[0] != "return_sequences"] + [("return_sequences", Raw("i < %d" % n_rnn))]
        rnns.append(("stack", n_rnn, "%s %s" % (kind, lua_table([units], kw))))
    else:
        both = rr.randrange(n_rnn)
        for i in range(n_rnn):
            kind, units, kw = deep_rnn(rr, rr.choice(RNN_KINDS), rr.randint(1, 4), i == n_rnn - 1, i == both)
            rnns.append(("layer", 1, "%s %s" % (kind, lua_table([units], kw))))
    entries = rnns + [("layer", 1, "dense " + table([rr.randint(1, 4)], [("activation", rr.choice(DENSE_ACTS))]))
                      for _ in range(n_dense)]
    for _ in range(n_drop):   # anywhere from just after the embedding to just before the head
        entries.insert(rr.randint(0, len(entries)), ("layer", 1, "dropout " + table([rate(rr)], [])))
    assert 2 + sum(e[1] for e in entries) == total <= MAX_LAYERS

    binary = rr.random() < 0.5
    name = "p%03d_deep%d" % (index, total)
    out = ["-- property: seed %d, spec %d (deep: %d layers)" % (seed, index, total),
           "-- rnnc-options: %s" % {"default": "", "none": "--unroll none", "budget16": "--unroll-budget 16"}[mode]]
    if loop:
        out.append("local stack = {}")
        out.append("for i = 1, %d do stack[i] = %s end" % (n_rnn, rnns[0][2]))
    out.append('return sequential "%s" {' % name)
    out.append("  embedding %s," % table([rr.choice((1, 2, 7, 50, 300)), rr.randint(1, 6)],
                                         [("input_length", rr.randint(1, 5))]))
    for kind, _, text in entries:
        out.append("  %s," % ("stack" if kind == "stack" else text))
    if binary:
        out.append('  dense { 1, activation = "sigmoid" },')
    else:
        out.append('  dense { %d, activation = "softmax" },' % rr.randint(2, 5))
    out.append("")
    out.append("  compile = {")
    out.append("    optimizer = %s," % rr.choice(("rmsprop { learning_rate = 1e-4 }", "adam { learning_rate = 3e-4 }",
                                                  "sgd { learning_rate = 0.01, momentum = 0.9 }")))
    out.append('    loss = "%s",' % ("binary_crossentropy" if binary else "sparse_categorical_crossentropy"))
    if rr.random() < 0.5:
        out.append('    metrics = { "accuracy" },')
    out.append("  },")
    out.append("  fit = { epochs = 2, batch_size = %d, seed = %d }," % (rr.randint(1, 40), rr.randint(0, 1000)))
    out.append("}")
    return name, "\n".join(out) + "\n"


def make_valid_spec(r, seed, index):
    name, text = make_spec(r, seed, index)   # always: the shared stream advances the same way
    if index % DEEP_EVERY == DEEP_AT:
        name, text = make_deep_spec(random.Random("deep %d %d" % (seed, index)), seed, index)
    return name, text


# ---- near-valid mode (tests/accepted.sh) ----------------------------------------------
#
#   python3 tools/random_specs.py --near-valid SEED N OUTDIR
#
# writes OUTDIR/n000_<mutation>.lua ...: small valid models (compile in well under a
# second), each then changed by one mutation. Most mutations make the spec invalid (an
# out-of-range or mistyped value, a typo in a keyword or constructor, a broken stack, a
# loss/head mismatch, a bad or duplicate name, two clip options, a Lua syntax or runtime
# error, no model returned, 33 layers, a bidirectional of a layer that is not recurrent
# or with merge_mode "none" or misspelt, ...); some keep it valid (a changed size, a toggled
# option, an extra dropout layer or recurrent layer, a spliced layer table, edge values,
# exactly 32 layers), and a few specs are left unmutated. The header says what to expect:
#
#   -- near-valid: seed SEED, spec I
#   -- mutation: NAME
#   -- expect: accept | reject | reject LINE   (LINE: the SPEC:LINE: of the message)
#   -- rnnc-options: ...
#
# A pure function of SEED; the valid mode above draws its own numbers and is unchanged.


class Raw:
    """Lua source text written as is (0/0, math.huge, ...)."""

    def __init__(self, text):
        self.text = text


def lua(x):
    if isinstance(x, Raw):
        return x.text
    return fmt(x)


def lua_table(positional, kw):
    parts = [lua(p) for p in positional] + ["%s = %s" % (k, lua(v)) for k, v in kw]
    return "{ " + ", ".join(parts) + " }" if parts else "{ }"


def kw_get(kw, key, default=None):
    for k, v in kw:
        if k == key:
            return v
    return default


def kw_set(kw, key, value):
    for i, (k, _) in enumerate(kw):
        if k == key:
            kw[i] = (key, value)
            return
    kw.append((key, value))


def kw_del(kw, key):
    kw[:] = [(k, v) for k, v in kw if k != key]


class Layer:
    def __init__(self, kind, pos, kw, ctor=None):
        self.kind, self.pos, self.kw = kind, pos, kw
        self.ctor = ctor or kind     # the constructor name written (a typo mutates it)
        self.raw = None              # the whole entry's text, when a mutation rewrites it

    def text(self):
        return self.raw if self.raw is not None else "%s %s" % (self.ctor, lua_table(self.pos, self.kw))


class BidiLayer(Layer):
    """A recurrent layer wrapped in bidirectional { ... }: kind, pos and kw are the
    wrapped layer's (mutations of a recurrent layer act on it), merge its merge_mode."""

    def __init__(self, inner, merge):
        Layer.__init__(self, inner.kind, inner.pos, inner.kw, inner.ctor)
        self.merge = merge

    def text(self):
        if self.raw is not None:
            return self.raw
        mm = ", merge_mode = %s" % fmt(self.merge) if self.merge else ""
        return "bidirectional { %s %s%s }" % (self.ctor, lua_table(self.pos, self.kw), mm)


class Model:
    """A spec as data: rendered with one layer per line, so lines are known."""

    def __init__(self):
        self.name = "m"
        self.layers = []
        self.opt = "rmsprop"
        self.okw = []
        self.opt_string = False      # optimizer = "adam"
        self.loss = "binary_crossentropy"
        self.metrics = None
        self.fit = []
        self.callbacks = []          # (ctor, positional, kw)
        self.prelude = []            # lines before `return`
        self.ret = "return"          # "local model =" makes the spec return nothing
        self.splice = None           # (i, j): layers i..j written as one nested table
        self.drop_comma = None       # layer index whose trailing comma is missing
        self.drop_last_brace = False
        self.compile_typo = None     # (good key, typo)

    def rnn_indices(self):
        return [i for i, l in enumerate(self.layers) if l.kind in RNN_KINDS]

    def render(self, header):
        out = list(header) + list(self.prelude)
        lines = {("prelude", i): len(header) + i + 1 for i in range(len(self.prelude))}
        out.append('%s sequential "%s" {' % (self.ret, self.name))
        lines["seq"] = len(out)
        i = 0
        while i < len(self.layers):
            if self.splice and self.splice[0] == i:
                a, b = self.splice
                out.append("  { %s }," % ", ".join(l.text() for l in self.layers[a:b + 1]))
                for k in range(a, b + 1):
                    lines[k] = len(out)
                i = b + 1
                continue
            out.append("  %s%s" % (self.layers[i].text(), "" if self.drop_comma == i else ","))
            lines[i] = len(out)
            i += 1
        out.append("")
        out.append("  compile = {")
        if self.opt_string:
            out.append('    optimizer = "%s",' % self.opt)
        else:
            out.append("    optimizer = %s %s," % (self.opt, lua_table([], self.okw)))
        lines["opt"] = len(out)
        loss_key = "loss"
        if self.compile_typo:
            loss_key = self.compile_typo[1]
        out.append('    %s = "%s",' % (loss_key, self.loss))
        if self.metrics:
            out.append('    metrics = { "%s" },' % self.metrics)
        out.append("  },")
        fit = [(k, v) for k, v in self.fit]
        parts = ["%s = %s" % (k, lua(v)) for k, v in fit]
        if self.callbacks:
            parts.append("callbacks = { %s }" % ", ".join("%s %s" % (c, lua_table(p, kw)) for c, p, kw in self.callbacks))
        out.append("  fit = { %s }," % ", ".join(parts))
        lines["fit"] = len(out)
        if not self.drop_last_brace:
            out.append("}")
        lines["last"] = len(out)
        return "\n".join(out) + "\n", lines


def nv_units(r, hi=16):
    u = r.random()
    if u < 0.2:
        return r.choice((1, 2))
    if u < 0.8 or hi <= 8:
        return r.randint(1, min(8, hi))
    return r.randint(9, hi)


def nv_base(r, full):
    """A small valid model."""
    m = Model()
    input_dim = r.choice((1, 2, 3, 50, 300, r.randint(1, 300)))
    emb = nv_units(r)
    T = r.randint(1, 4) if full else r.choice((1, 2, r.randint(3, 12), r.randint(3, 12)))
    m.layers.append(Layer("embedding", [input_dim, emb], [("input_length", T)]))
    if r.random() < 0.15:
        m.layers.append(Layer("dropout", [rate(r)], []))
    F = emb
    n_rnn = r.choice((1, 1, 2, 2, 3))
    for i in range(n_rnn):
        kind = r.choice(RNN_KINDS)
        units = nv_units(r)
        cap = 400 if full else 1200
        while (F + units) * GATES[kind] * units > cap and units > 1:
            units = max(1, units * 2 // 3)
        kw = []
        if kind == "simple_rnn" and r.random() < 0.5:
            kw.append(("activation", r.choice(SIMPLE_ACTS)))
        if r.random() < 0.3:
            kw.append(("dropout", rate(r)))
        if r.random() < 0.2:
            kw.append(("recurrent_dropout", rate(r)))
        if i < n_rnn - 1:
            kw.append(("return_sequences", True))
        if kind in ("lstm", "gru") and r.random() < 0.3:
            kw.append(("dropout_mask", r.choice(("per_step", "per_sequence"))))
        if kind == "gru" and r.random() < 0.4:
            kw.append(("reset_after", r.random() < 0.5))
        if r.random() < 0.2:
            kw.append(("go_backwards", True))
        r.shuffle(kw)
        if r.random() < 0.2:
            merge = r.choice((None, "concat", "sum", "mul", "ave"))
            m.layers.append(BidiLayer(Layer(kind, [units], kw), merge))
        else:
            m.layers.append(Layer(kind, [units], kw))
        F = units
        if r.random() < 0.15:
            m.layers.append(Layer("dropout", [rate(r)], []))
    if r.random() < 0.3:
        m.layers.append(Layer("dense", [nv_units(r, 12)], [("activation", r.choice(DENSE_ACTS))]))
    if r.random() < 0.5:
        m.layers.append(Layer("dense", [1], [("activation", "sigmoid")]))
        m.loss = "binary_crossentropy"
    else:
        m.layers.append(Layer("dense", [r.choice((2, 3, 5, r.randint(2, 10)))], [("activation", "softmax")]))
        m.loss = "sparse_categorical_crossentropy"
    m.opt = r.choice(("rmsprop", "adam", "sgd"))
    if r.random() < 0.6:
        m.okw.append(("learning_rate", r.choice((1e-4, 3e-4, 1e-3))))
    if r.random() < 0.25:
        m.okw.append((r.choice(("clipnorm", "global_clipnorm", "clipvalue")), r.choice((0.1, 1.0))))
    if r.random() < 0.5:
        m.metrics = r.choice(("accuracy", "acc"))
    m.fit = [("epochs", r.randint(1, 3)), ("batch_size", r.randint(1, 40)), ("seed", r.randint(0, 99))]
    if r.random() < 0.3:
        m.fit.append(("validation_split", r.choice((0.1, 0.2))))
    if r.random() < 0.4:
        m.callbacks.append(("early_stopping", [], [("patience", r.randint(0, 3))]))
    if r.random() < 0.3:
        m.callbacks.append(("model_checkpoint", ["best.safetensors"], [("save_best_only", True)]))
    return m


def head_index(m):
    return len(m.layers) - 1


def typo(r, word):
    """A one-edit misspelling of word (never word itself)."""
    while True:
        i = r.randrange(len(word))
        op = r.choice(("drop", "double", "swap", "case"))
        if op == "drop" and len(word) > 2:
            t = word[:i] + word[i + 1:]
        elif op == "double":
            t = word[:i] + word[i] + word[i:]
        elif op == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
            t = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        elif op == "case" and word[i].isalpha():
            t = word[:i] + word[i].upper() + word[i + 1:]
        else:
            continue
        if t != word and t.strip("_") and not t.startswith(tuple("0123456789")):
            return t


# A mutation returns (expect, target): expect "accept" or "reject"; target a layer index,
# "seq", "opt", "fit", "last" or None (the line of the message is not predicted).

def mut_none(r, m):
    return "accept", None


def mut_units_out_of_range(r, m):
    cands = [i for i, l in enumerate(m.layers) if l.kind in RNN_KINDS or l.kind == "dense"]
    i = r.choice(cands)
    m.layers[i].pos[0] = r.choice((0, -3, 5000, 2.5, Raw("0/0")))
    return "reject", i


def mut_embedding_out_of_range(r, m):
    e = m.layers[0]
    which = r.choice(("input_dim", "output_dim", "input_length"))
    if which == "input_dim":
        e.pos[0] = r.choice((0, -1, 1.5, 2 ** 24 + 1))
    elif which == "output_dim":
        e.pos[1] = r.choice((0, -2, 4097))
    else:
        kw_set(e.kw, "input_length", r.choice((0, -5, 10001, 2.5)))
    return "reject", 0


def mut_input_length_missing(r, m):
    kw_del(m.layers[0].kw, "input_length")
    return "reject", 0


def mut_dropout_out_of_range(r, m):
    bad = r.choice((1, -0.1, Raw("0/0"), 1.5, Raw("math.huge")))
    cands = [i for i, l in enumerate(m.layers) if l.kind in RNN_KINDS or l.kind == "dropout"]
    i = r.choice(cands)
    l = m.layers[i]
    if l.kind == "dropout":
        l.pos[0] = bad
    else:
        kw_set(l.kw, r.choice(("dropout", "recurrent_dropout")), bad)
    return "reject", i


def mut_fit_out_of_range(r, m):
    key, val = r.choice((("batch_size", 0), ("batch_size", 65537), ("batch_size", 2.5), ("batch_size", -1),
                         ("validation_split", 1), ("validation_split", -0.1), ("epochs", 0), ("seed", -1)))
    kw_set(m.fit, key, val)
    return "reject", "seq"


def mut_wrong_type(r, m):
    rnns = m.rnn_indices()
    i = r.choice(rnns)
    l = m.layers[i]
    what = r.choice(("units", "return_sequences", "dropout", "name", "activation"))
    if what == "units":
        l.pos[0] = str(l.pos[0])
    elif what == "return_sequences":
        kw_set(l.kw, "return_sequences", r.choice((1, 0, "true")))
    elif what == "dropout":
        kw_set(l.kw, "dropout", r.choice(("0.2", True)))
    elif what == "name":
        kw_set(l.kw, "name", r.choice((7, True)))
    else:
        h = head_index(m)
        kw_set(m.layers[h].kw, "activation", r.choice((1, True)))
        return "reject", h
    return "reject", i


def mut_unknown_keyword(r, m):
    where = r.choice(("rnn", "rnn", "embedding", "dense", "optimizer", "fit", "compile"))
    if where == "rnn":
        i = r.choice(m.rnn_indices())
        l = m.layers[i]
        key = r.choice(("dropout", "recurrent_dropout", "return_sequences", "units"))
        if key == "units":
            l.kw.append(("unit", l.pos.pop(0)))
        else:
            l.kw.append((typo(r, key), r.choice((0.2, 0.1)) if "dropout" in key else True))
        return "reject", i
    if where == "embedding":
        e = m.layers[0]
        v = kw_get(e.kw, "input_length")
        kw_del(e.kw, "input_length")
        e.kw.append((typo(r, "input_length"), v))
        return "reject", 0
    if where == "dense":
        h = head_index(m)
        l = m.layers[h]
        v = kw_get(l.kw, "activation")
        kw_del(l.kw, "activation")
        l.kw.append((typo(r, "activation"), v))
        return "reject", h
    if where == "optimizer":
        m.opt_string = False
        m.okw.append((typo(r, "learning_rate"), 1e-3))
        return "reject", "opt"
    if where == "fit":
        key = r.choice(("epochs", "batch_size", "shuffle"))
        v = kw_get(m.fit, key, True if key == "shuffle" else 2)
        kw_del(m.fit, key)
        m.fit.append((typo(r, key), v))
        return "reject", "seq"
    m.compile_typo = ("loss", typo(r, "loss"))
    return "reject", "seq"


def mut_unknown_constructor(r, m):
    if r.random() < 0.15:
        m.opt_string = False
        m.opt = typo(r, m.opt)
        return "reject", "opt"
    i = r.randrange(len(m.layers))
    l = m.layers[i]
    l.ctor = r.choice((typo(r, l.kind), l.kind.upper() if l.kind != "simple_rnn" else "SimpleRNN",
                       {"dense": "Dense", "lstm": "LSTM", "gru": "GRU", "embedding": "Embedding",
                        "dropout": "Dropout", "simple_rnn": "simpleRNN"}[l.kind]))
    return "reject", i


def ensure_two_rnns(r, m):
    rnns = m.rnn_indices()
    if len(rnns) < 2:
        last = rnns[-1]
        kw_set(m.layers[last].kw, "return_sequences", True)
        m.layers.insert(last + 1, Layer(r.choice(RNN_KINDS), [nv_units(r, 8)], []))


def mut_missing_return_sequences(r, m):
    ensure_two_rnns(r, m)
    rnns = m.rnn_indices()
    k = r.randrange(len(rnns) - 1)
    l = m.layers[rnns[k]]
    if r.random() < 0.7:
        kw_del(l.kw, "return_sequences")
    else:
        kw_set(l.kw, "return_sequences", False)
    return "reject", rnns[k + 1]


def mut_dense_fed_by_sequence(r, m):
    """The last recurrent layer returns its sequence: a hidden dense layer maps every step
    (valid), and the output layer gets a sequence (rejected at the output layer)."""
    rnns = m.rnn_indices()
    kw_set(m.layers[rnns[-1]].kw, "return_sequences", True)
    return "reject", head_index(m)


def mut_loss_head_mismatch(r, m):
    h = head_index(m)
    head = m.layers[h]
    binary = m.loss == "binary_crossentropy"
    # binary_crossentropy takes any number of sigmoid units (multi-label): its units are
    # never wrong, so a binary head is broken by its loss or its activation only
    what = r.choice(("loss", "activation") if binary else ("loss", "activation", "units"))
    if what == "loss":
        m.loss = "sparse_categorical_crossentropy" if binary else "binary_crossentropy"
    elif what == "activation":
        kw_set(head.kw, "activation", r.choice(("softmax", "linear", "tanh") if binary else ("sigmoid", "linear", "relu")))
    else:
        head.pos[0] = 1
    return "reject", h


def mut_bad_activation(r, m):
    if r.random() < 0.5:
        h = head_index(m)
        kw_set(m.layers[h].kw, "activation", typo(r, kw_get(m.layers[h].kw, "activation")))
        return "reject", h
    i = r.choice(m.rnn_indices())
    l = m.layers[i]
    if l.kind == "simple_rnn":
        kw_set(l.kw, "activation", r.choice(("softmax", "Tanh", "relu6", "")))
    else:
        kw_set(l.kw, "dropout_mask", r.choice(("per_batch", "per-step", "")))
    return "reject", i


def mut_duplicate_names(r, m):
    # a wrapped layer's name is its own (bidirectional/forward_NAME/...): no clash
    a, b = sorted(r.sample([i for i, l in enumerate(m.layers) if not isinstance(l, BidiLayer)], 2))
    nm = r.choice(("enc", "x", "layer1", "out"))
    kw_set(m.layers[a].kw, "name", nm)
    kw_set(m.layers[b].kw, "name", nm)
    return "reject", b


def mut_bad_name(r, m):
    bad = r.choice(("my-lstm", "2fast", "a b", "", "x" * 64, "caf\u00e9", "n.1"))
    if r.random() < 0.25:
        m.name = bad
        return "reject", "seq"
    i = r.randrange(len(m.layers))
    kw_set(m.layers[i].kw, "name", bad)
    return "reject", i


def mut_two_clips(r, m):
    m.opt_string = False
    clips = ["clipnorm", "global_clipnorm", "clipvalue"]
    for c in clips:
        kw_del(m.okw, c)
    for c in r.sample(clips, r.choice((2, 2, 3))):
        m.okw.append((c, r.choice((0.5, 1.0))))
    return "reject", "opt"


def mut_bad_optimizer_value(r, m):
    m.opt_string = False
    key, val = r.choice((("learning_rate", -1e-4), ("learning_rate", 0), ("learning_rate", Raw("0/0")),
                         ("clipnorm", -1), ("learning_rate", "fast")))
    kw_set(m.okw, key, val)
    return "reject", "opt"


def mut_lua_syntax_error(r, m):
    how = r.choice(("comma", "comma", "equals", "brace", "paren"))
    if how == "comma":
        i = r.randrange(len(m.layers) - 1)
        m.drop_comma = i
        return "reject", i + 1
    if how == "brace":
        m.drop_last_brace = True
        return "reject", None
    i = r.randrange(len(m.layers))
    l = m.layers[i]
    if how == "equals":
        l.raw = l.text().replace("{ ", "{ units = = ", 1) if l.kind != "embedding" else l.text().replace("input_length =", "input_length = =")
    else:
        l.raw = l.text() + ")"
    return "reject", i


def mut_runtime_error(r, m):
    how = r.choice(("call", "index", "error"))
    if how == "error":
        m.prelude.append('local function check(x) if x then error("bad model", 2) end end')
        m.prelude.append("check(true)")
        return "reject", None
    m.prelude.append("local helper = nil")
    i = r.randrange(1, len(m.layers))
    l = m.layers[i]
    if how == "call":
        l.raw = "helper %s" % lua_table(l.pos, l.kw)
    else:
        l.pos[0] = Raw("helper.units")
    return "reject", i


def mut_returns_nothing(r, m):
    m.ret = r.choice(("local model =", "local _ ="))
    return "reject", None


def mut_first_not_embedding(r, m):
    del m.layers[0]
    return "reject", 0


def mut_output_not_dense(r, m):
    if m.layers[-2].kind == "dense":
        m.layers[-2].kw = [("activation", "relu")]   # a hidden dense layer as the output
        del m.layers[-1]
        return "reject", len(m.layers) - 1
    del m.layers[-1]
    return "reject", len(m.layers) - 1


def mut_accuracy_monitor_without_metric(r, m):
    m.metrics = None
    cb = r.choice(("early_stopping", "model_checkpoint"))
    kw = [("monitor", r.choice(("val_accuracy", "accuracy")))]
    m.callbacks = [(cb, ["best.safetensors"] if cb == "model_checkpoint" else [], kw)]
    return "reject", "fit"


def mut_bad_callback(r, m):
    how = r.choice(("nopath", "monitor", "mode", "patience"))
    if how == "nopath":
        m.callbacks = [("model_checkpoint", [], [("save_best_only", True)])]
    elif how == "monitor":
        m.callbacks = [("early_stopping", [], [("monitor", typo(r, "val_loss"))])]
    elif how == "mode":
        m.callbacks = [("early_stopping", [], [("mode", "maximum")])]
    else:
        m.callbacks = [("early_stopping", [], [("patience", -1)])]
    return "reject", "fit"


def mut_too_many_positional(r, m):
    i = r.choice(m.rnn_indices())
    m.layers[i].pos.append(0.3)
    return "reject", i


def mut_mask_zero(r, m):
    """mask_zero = true: valid unless a layer that refuses the mask gets it (its line); in
    a model of an odd number of layers a flatten after the embedding refuses it. (No draws
    from r: the specs after this one stay as they were.)"""
    m.layers[0].kw.append(("mask_zero", True))
    if len(m.layers) % 2:
        m.layers.insert(1, Layer("flatten", [], []))
    layers = [(("bidirectional" if isinstance(l, BidiLayer) else l.kind), kw_get(l.kw, "return_sequences", False))
              for l in m.layers[1:]]
    i = mask_refused(layers)
    return ("accept", None) if i is None else ("reject", i + 1)


def nv_input_length(m):
    return kw_get(m.layers[0].kw, "input_length")


def mut_window_too_long(r, m):
    """A conv1d's kernel span or a pooling window longer than the sequence, padding valid."""
    T = nv_input_length(m)
    kind = r.choice(("conv1d", "conv1d", "max_pooling1d", "average_pooling1d"))
    if kind == "conv1d":
        k = r.randint(1, 4) if T > 1 else 2
        d = (T + r.randint(0, 3)) // max(1, k - 1) + 1 if k > 1 else 1
        if (k - 1) * d + 1 <= T:
            k, d = T + 1, 1
        kw = [("dilation_rate", d)] if d > 1 else []
        m.layers.insert(1, Layer("conv1d", [nv_units(r), k], kw))
    else:
        m.layers.insert(1, Layer(kind, [T + r.randint(1, 3)], [("padding", "valid")] if r.random() < 0.5 else []))
    return "reject", 1


def mut_bad_window(r, m):
    """strides > 1 with dilation_rate > 1, a causal pooling, or a size that is not positive."""
    what = r.choice(("strides_dilation", "causal_pool", "zero"))
    if what == "strides_dilation":
        l = Layer("conv1d", [nv_units(r), r.randint(1, 3)], [("strides", r.randint(2, 3)), ("dilation_rate", r.randint(2, 3)),
                                                              ("padding", "same")])
    elif what == "causal_pool":
        l = Layer(r.choice(("max_pooling1d", "average_pooling1d")), [r.randint(1, 3)], [("padding", "causal")])
    else:
        l = r.choice((Layer("conv1d", [0, 2], []), Layer("conv1d", [4, 0], [("padding", "same")]),
                      Layer("conv1d", [4, 1], [("strides", 0)]), Layer("max_pooling1d", [0], []),
                      Layer("average_pooling1d", [2], [("strides", -1)])))
    m.layers.insert(1, l)
    return "reject", 1


def mut_sequence_layer_on_vector(r, m):
    """A layer that reads steps after the last recurrent layer, which returns one vector."""
    last = m.rnn_indices()[-1]
    kw_set(m.layers[last].kw, "return_sequences", False)
    m.layers.insert(last + 1, r.choice((Layer("conv1d", [3, 1], []), Layer("max_pooling1d", [1], []),
                                        Layer("global_average_pooling1d", [], []), Layer("spatial_dropout1d", [0.2], []))))
    return "reject", last + 1


def mut_bad_output_activation(r, m):
    """The head as Dense then Activation, the activation not the loss's, or on a sequence."""
    h = head_index(m)
    head = m.layers[h]
    binary = m.loss == "binary_crossentropy"
    if r.random() < 0.5:
        head.kw = []
        m.layers.insert(h + 1, Layer("activation", [r.choice(("relu", "tanh", "linear", "softmax" if binary else "sigmoid"))], []))
        return "reject", h + 1
    rnns = m.rnn_indices()
    kw_set(m.layers[rnns[-1]].kw, "return_sequences", True)
    del m.layers[rnns[-1] + 1:]
    m.layers.append(Layer("activation", ["sigmoid" if binary else "softmax"], []))
    return "reject", len(m.layers) - 1


def mut_bad_bidirectional(r, m):
    """A wrapper of a layer that is not recurrent, Keras's merge_mode None, a misspelt
    merge_mode, or a go_backwards that is not a boolean."""
    i = r.choice(m.rnn_indices())
    l = m.layers[i]
    what = r.choice(("wrap_dense", "merge_none", "merge_typo", "go_backwards"))
    if what == "wrap_dense":
        l.raw = "bidirectional { %s }" % r.choice(("dense { 4 }", "dropout { 0.5 }", "embedding { 10, 4, input_length = 3 }",
                                                   "bidirectional { lstm { 2 } }", "4"))
    elif what == "go_backwards":
        kw_set(l.kw, "go_backwards", r.choice((1, "true", 0)))
    else:
        m.layers[i] = BidiLayer(l, "none" if what == "merge_none" else typo(r, r.choice(("concat", "sum", "mul", "ave"))))
    return "reject", i


# ---- mutations that keep the spec valid ------------------------------------------------

def mut_resize(r, m):
    what = r.choice(("rnn", "rnn", "embedding", "head"))
    if what == "rnn":
        m.layers[r.choice(m.rnn_indices())].pos[0] = nv_units(r, 12)
    elif what == "embedding":
        e = m.layers[0]
        k = r.randrange(3)
        if k == 0:
            e.pos[0] = r.choice((1, 2, 7, 1000, 2 ** 16))
        elif k == 1:
            e.pos[1] = r.choice((1, 2, 3, 9, 16))
        else:
            kw_set(e.kw, "input_length", r.choice((1, 2, 5, 12)))
    else:
        if m.loss == "sparse_categorical_crossentropy":
            m.layers[-1].pos[0] = r.choice((2, 3, 7, 10))
        else:
            kw_set(m.fit, "batch_size", r.choice((1, 2, 64, 65536)))
    return "accept", None


def mut_toggle_option(r, m):
    i = r.choice(m.rnn_indices())
    l = m.layers[i]
    opts = ["dropout0", "mask", "fit"]
    if i == m.rnn_indices()[-1]:
        opts.append("retseq_false")
    if l.kind == "lstm":
        opts.append("ufb")
    if l.kind == "gru":
        opts.append("reset")
    if l.kind == "simple_rnn":
        opts.append("act")
    what = r.choice(opts)
    if what == "dropout0":
        kw_set(l.kw, r.choice(("dropout", "recurrent_dropout")), r.choice((0, 0.0, 0.5)))
    elif what == "mask":
        if l.kind == "simple_rnn":
            kw_set(l.kw, "recurrent_dropout", 0.25)
        else:
            kw_set(l.kw, "dropout_mask", r.choice(("per_step", "per_sequence")))
            kw_set(l.kw, "dropout", 0.2)
    elif what == "fit":
        kw_set(m.fit, "shuffle", r.random() < 0.5)
        if m.metrics is None:
            m.metrics = r.choice(("accuracy", "binary_accuracy" if m.loss == "binary_crossentropy" else "sparse_categorical_accuracy"))
    elif what == "retseq_false":
        kw_set(l.kw, "return_sequences", False)
    elif what == "ufb":
        kw_set(l.kw, "unit_forget_bias", not kw_get(l.kw, "unit_forget_bias", True))
    elif what == "reset":
        kw_set(l.kw, "reset_after", not kw_get(l.kw, "reset_after", True))
    else:
        kw_set(l.kw, "activation", r.choice(SIMPLE_ACTS))
    return "accept", None


def mut_extra_dropout_layer(r, m):
    i = r.randint(1, len(m.layers) - 1)
    m.layers.insert(i, Layer("dropout", [r.choice((0, 0.1, 0.5, 0.9, rate(r)))], []))
    return "accept", None


def mut_extra_rnn_layer(r, m):
    rnns = m.rnn_indices()
    if len(rnns) >= 3:
        return mut_extra_dropout_layer(r, m)
    last = rnns[-1]
    kw_set(m.layers[last].kw, "return_sequences", True)
    m.layers.insert(last + 1, Layer(r.choice(RNN_KINDS), [nv_units(r, 8)], [("return_sequences", False)]))
    return "accept", None


def mut_valid_names(r, m):
    for i in r.sample(range(len(m.layers)), r.randint(1, len(m.layers))):
        kw_set(m.layers[i].kw, "name", r.choice(("L", "_x", "layer_", "Enc")) + str(i))
    if r.random() < 0.3:
        m.name = r.choice(("_", "M2", "x" * 63))
    return "accept", None


def mut_splice(r, m):
    a = r.randrange(1, len(m.layers) - 1)
    m.splice = (a, min(len(m.layers) - 1, a + r.randint(0, 2)))
    return "accept", None


def mut_zoo_front(r, m):
    """Layers on the steps after the embedding (conv1d, pooling, spatial dropout, dense and
    activation at every step), then the stack as it was or, instead of it, a global
    pooling layer or flatten."""
    T, F = nv_input_length(m), m.layers[0].pos[1]
    size = lambda lo=1, hi=40: nv_units(r, min(hi, 12))
    namer = Namer(r)
    steps, front = T, []
    for _ in range(r.choice((1, 2))):
        line, steps, F = seq_layer(r, namer, steps, F, size)
        kind, rest = line.split(" ", 1)
        front.append(Layer(kind, [], []))
        front[-1].raw = line
    rnns = m.rnn_indices()
    if r.random() < 0.5:
        end = Layer(r.choice(("global_max_pooling1d", "global_average_pooling1d", "flatten")), [], [])
        m.layers[rnns[0]:rnns[-1] + 1] = front + [end]
    else:
        m.layers[rnns[0]:rnns[0]] = front
    return "accept", None


def mut_dense_activation_head(r, m):
    """The head as Dense then Activation (Keras's imdb_cnn.py ends so)."""
    h = head_index(m)
    act = kw_get(m.layers[h].kw, "activation")
    m.layers[h].kw = []
    m.layers.append(Layer("activation", [act], []))
    return "accept", None


def mut_optimizer_variants(r, m):
    what = r.choice(("string", "zero_clip", "other"))
    if what == "string":
        m.opt_string = True
        m.opt = r.choice(("rmsprop", "adam", "sgd"))
    elif what == "zero_clip":
        m.opt_string = False
        for c in ("clipnorm", "global_clipnorm", "clipvalue"):
            kw_del(m.okw, c)
        a, b = r.sample(("clipnorm", "global_clipnorm", "clipvalue"), 2)
        m.okw += [(a, 0), (b, 1.0)]
    else:
        m.opt_string = False
        m.opt = r.choice(("rmsprop", "adam", "sgd"))
        m.okw = [("learning_rate", 1e-3)]
        if m.opt == "sgd":
            m.okw += [("momentum", 0.9), ("nesterov", True)]
        elif m.opt == "rmsprop":
            m.okw.append(("epsilon_outside", True))
    return "accept", None


NV_REJECT = (mut_units_out_of_range, mut_embedding_out_of_range, mut_input_length_missing,
             mut_dropout_out_of_range, mut_fit_out_of_range, mut_wrong_type, mut_unknown_keyword,
             mut_unknown_constructor, mut_missing_return_sequences, mut_dense_fed_by_sequence,
             mut_loss_head_mismatch, mut_bad_activation, mut_duplicate_names, mut_bad_name,
             mut_two_clips, mut_bad_optimizer_value, mut_lua_syntax_error, mut_runtime_error,
             mut_returns_nothing, mut_first_not_embedding, mut_output_not_dense,
             mut_accuracy_monitor_without_metric, mut_bad_callback, mut_too_many_positional,
             mut_mask_zero, mut_bad_bidirectional, mut_window_too_long, mut_bad_window,
             mut_sequence_layer_on_vector, mut_bad_output_activation)
NV_ACCEPT = (mut_resize, mut_toggle_option, mut_extra_dropout_layer, mut_extra_rnn_layer,
             mut_valid_names, mut_splice, mut_optimizer_variants, mut_zoo_front, mut_dense_activation_head)


# ---- the layer limit ---------------------------------------------------------------------
#
# Spec I with I % 40 == NV_DEEP_AT is padded to RNN_MAX_LAYERS + 1 = 33 layers, or a few more
# (rejected, at the 33rd layer's line) when I // 40 is even, and to exactly 32 (accepted)
# when it is odd.
# It is drawn from its own random.Random("near-valid deep SEED I") after spec I's usual
# draws from the shared stream, so every other spec is the same as without it. The padding
# is mostly dropout layers (cheap to build), up to 3 extra recurrent layers, and sometimes
# a run of dropout layers made by a Lua loop and spliced in (its layers carry the loop's
# line). Padding dropout rates are mostly 0 and at most 0.1: twenty stacked dropouts at
# ordinary rates let a signal through for only a few samples, the loss gradient then rests
# on a p - y near 0 for them, and selftest's weight-change check can fail on float noise
# alone (the limit is what these specs test; ordinary specs cover the rates).

NV_DEEP_EVERY, NV_DEEP_AT = 40, 21
PAD_RATES = (0, 0, 0, 0.05, 0.1)


def layer_count(l):
    return getattr(l, "count", 1)


def pad_layers(r, m, total):
    need = total - sum(layer_count(l) for l in m.layers)
    rnns = m.rnn_indices()
    extra = r.randint(0, min(3, need))
    if extra:
        last = rnns[-1]
        kw_set(m.layers[last].kw, "return_sequences", True)
        for k in range(extra):
            kw = [("dropout", r.choice(PAD_RATES))] if r.random() < 0.5 else []
            if r.random() < 0.5:
                kw.append(("recurrent_dropout", r.choice(PAD_RATES)))
            if k < extra - 1:
                kw.append(("return_sequences", True))
            m.layers.insert(last + 1 + k, Layer(r.choice(RNN_KINDS), [nv_units(r, 4)], kw))
    drops = need - extra
    if drops and r.random() < 0.4:
        n = r.randint(1, drops)
        m.prelude += ["local extra = {}", "for i = 1, %d do extra[i] = dropout { %s } end" % (n, r.choice(PAD_RATES))]
        block = Layer("block", [], [])
        block.raw, block.count, block.line_key = "extra", n, ("prelude", len(m.prelude) - 1)
        m.layers.insert(r.randint(1, len(m.layers) - 1), block)
        drops -= n
    for _ in range(drops):   # anywhere after the embedding, before the head
        m.layers.insert(r.randint(1, len(m.layers) - 1), Layer("dropout", [r.choice(PAD_RATES)], []))
    assert sum(layer_count(l) for l in m.layers) == total


def mut_too_many_layers(r, m):
    # 33 layers, whose 33rd is the head; sometimes a few more, so that the 33rd is a
    # padding layer, a recurrent layer or one of a loop's
    pad_layers(r, m, MAX_LAYERS + 1 + r.choice((0, 0, 0, 1, 2, 6)))
    seen = 0
    for i, l in enumerate(m.layers):   # the message points at the 33rd layer's constructor
        seen += layer_count(l)
        if seen > MAX_LAYERS:
            return "reject", getattr(l, "line_key", i)


def mut_layers_at_limit(r, m):
    pad_layers(r, m, MAX_LAYERS)
    return "accept", None


def make_near_valid_spec(r, seed, index):
    full = index % 10 == 3
    m = nv_base(r, full)
    u = r.random()
    if u < 0.12:
        mut = mut_none
    elif u < 0.45:
        mut = r.choice(NV_ACCEPT)
    else:
        mut = r.choice(NV_REJECT)
    expect, target = mut(r, m)
    if index % NV_DEEP_EVERY == NV_DEEP_AT:   # replaces the spec just drawn
        rr = random.Random("near-valid deep %d %d" % (seed, index))
        m = nv_base(rr, full)
        mut = mut_layers_at_limit if (index // NV_DEEP_EVERY) % 2 else mut_too_many_layers
        expect, target = mut(rr, m)
    label = mut.__name__[4:]
    if index % 4 == 1:
        opts = "--unroll none"
    elif full:
        opts = "--unroll full"
    elif index % 10 == 7:
        opts = "--unroll-budget 16"
    else:
        opts = ""
    header = ["-- near-valid: seed %d, spec %d" % (seed, index), "-- mutation: %s" % label,
              "-- expect: %s", "-- rnnc-options: %s" % opts]
    text, lines = m.render(header)
    exp = expect
    if target is not None:
        exp += " %d" % lines[target]
    text = text.replace("-- expect: %s", "-- expect: " + exp, 1)
    return "n%03d_%s" % (index, label), text


def main(argv):
    near = len(argv) > 1 and argv[1] == "--near-valid"
    if near:
        argv = argv[:1] + argv[2:]
    if len(argv) != 4:
        sys.stderr.write("usage: random_specs.py [--near-valid] SEED N OUTDIR\n")
        return 2
    seed, n, outdir = int(argv[1]), int(argv[2]), argv[3]
    os.makedirs(outdir, exist_ok=True)
    r = random.Random(seed)
    for i in range(n):
        name, text = make_near_valid_spec(r, seed, i) if near else make_valid_spec(r, seed, i)
        with open(os.path.join(outdir, name + ".lua"), "w") as f:
            f.write(text)
    print("random_specs.py: seed %d, %d %sspecs in %s" % (seed, n, "near-valid " if near else "", outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
