#!/usr/bin/python3
"""make_fixtures.py — the PyTorch oracle for rnnc's reference runtime and optimizers.

Usage:  /usr/bin/python3 tools/make_fixtures.py tests/fixtures
        (Debian's python3 with python3-torch and python3-numpy; `make fixtures`.)

Writes tests/fixtures/oracle/<case>.txt, one file per case, and removes stale *.txt
files there. Every value is computed in float64 with PyTorch: the layers are
torch.nn.LSTM / GRU / RNN fed with the Keras weights through the mappings of
docs/keras-semantics.md, PyTorch weight mappings, wherever PyTorch has the cell, and
hand-written torch cells where it does not (GRU reset_after=false, SimpleRNN with
recurrent dropout, any recurrent dropout). The hand-written cells are checked against
the torch.nn modules on every case without recurrent dropout (see check_hand_cells).
The output is deterministic: seeded numpy, one torch thread, fixed formatting.

Fixture format (text, version 1). Lines, in this order:

    rnnc-oracle 1
    case NAME
    model loss=binary_crossentropy|sparse_categorical_crossentropy
    layer kind=KIND name=NAME explicit_name=0|1 units=U [input_dim=V input_length=T]
          activation=ACT dropout=R recurrent_dropout=R return_sequences=0|1
          unit_forget_bias=0|1 reset_after=0|1 dropout_mask=per_step|per_sequence
          (one line per layer, embedding first, all on one line)
    batch n=N max_batch=M
    dropout training=0|1 seed=S epoch=E rows=0|1     (rows=0: pass rows = NULL)
    loss_value X
    correct C
    optimizer label=L kind=rmsprop|adam|sgd learning_rate=.. rho=.. epsilon=..
          epsilon_outside=0|1 beta_1=.. beta_2=.. momentum=.. nesterov=0|1
          clipnorm=.. global_clipnorm=.. clipvalue=.. steps=K      (zero or more)
    tensor NAME RANK D0 [D1 [D2]]
    V V V ...       (D0*D1*D2 values, row-major, %.17g, one innermost row per line)
    ...
    end

Floats in key=value pairs use Python's shortest round-trip repr (strtod reads them
exactly). Tensors, all row-major:
    tokens [n,T]            token ids
    labels [n]              0/1 (may be fractional) or class index
    rows [n]                dataset row of each batch entry (only when rows=1)
    weights/<keras name>    initial weights, Keras name and layout; the values are
                            float32-representable so the float build starts from the
                            same weights
    mask/<layer>/dropout    the input-dropout mask the layer applied, [n,T,F] or
                            [n,1,F] (per sequence) or [n,F] (vector), values 0 or
                            1/(1-rate)  (only for training=1 and rate > 0)
    mask/<layer>/recurrent_dropout  [n,U], same values
    probs [n,K]             output probabilities (sigmoid / softmax)
    grads/<keras name>      d loss / d weight, Keras layout
    input_grad [n,T,E]      d loss / d embedding output
    after/<label>/<keras name>  weights after `steps` optimizer steps of `label`, each
                            step on the same batch with the same masks, gradients
                            recomputed at the current weights

Dropout masks follow runtime/rnnrt.h exactly (RNN_RNG_DROPOUT = 3 and
RNN_RNG_RECURRENT_DROPOUT = 4, Philox4x32-10, layer = index in the model's layer list,
the embedding being 0):
    uniform(seed, purpose, layer, epoch, i, j, k):
        key  = philox(ctr={purpose, layer, epoch, 0x726e6e63}, key={seed lo, seed hi})[0:2]
        u32  = philox(ctr={i >> 2, j, k, 0}, key)[i & 3]
        u    = (u32 >> 8) * 2^-24
    an element is kept iff u >= rate and then scaled by 1/(1-rate); k = dataset row.
    LSTM/GRU `dropout`: one mask, shared by all gates, on the layer input; per_step
        element (row, t, f) uses i=f, j=t; per_sequence uses j=0 for every t.
    SimpleRNN `dropout`: always per sequence (j=0).
    `recurrent_dropout`: one mask per (row, unit), i=unit, j=0, purpose 4, multiplied
        into the copy of h_{t-1} that enters the recurrent matmuls (the z*h_{t-1}
        carry of the GRU uses the unmasked state).
    Dropout layer: per (row, t, f) with j=t on a sequence, per (row, f) with j=0 on a
        vector.

The optimizer updates are Keras's (TF >= 2.11 optimizers, see rnnrt.h above
rnn_optimizer_step), written out by hand below; torch.optim is not used (its epsilon
placement differs for RMSprop and Adam). Gradient clipping is Keras 2.11+'s: the first
of clipnorm, global_clipnorm, clipvalue that is set is the only one applied.
"""
import os
import sys
import zlib

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

# ---------------------------------------------------------------------------------
# Philox4x32-10 (port of runtime/core/rng.c, uint64 arithmetic masked to 32 bits)
# ---------------------------------------------------------------------------------
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)

RNG_DROPOUT = 3
RNG_RECURRENT_DROPOUT = 4


def philox4x32(ctr, key):
    """ctr: 4 arrays (broadcastable) of uint32 values, key: 2 arrays. Returns 4 arrays."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) & _MASK32 for c in ctr)
    k0, k1 = (np.asarray(k, dtype=np.uint64) & _MASK32 for k in key)
    for _ in range(10):
        p0 = _M0 * c0          # < 2^64: no wrap-around
        p1 = _M1 * c2
        c0, c1, c2, c3 = (((p1 >> _S32) ^ c1 ^ k0) & _MASK32, p1 & _MASK32,
                          ((p0 >> _S32) ^ c3 ^ k1) & _MASK32, p0 & _MASK32)
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


def _philox_self_test():
    # Random123 known-answer vectors (kat_vectors, philox4x32 10 rounds).
    kats = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
            ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
            ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
             (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for ctr, key, want in kats:
        got = tuple(int(v) for v in philox4x32(ctr, key))
        if got != want:
            raise SystemExit("philox self-test failed: ctr=%s key=%s got %s want %s" % (
                ctr, key, ["%08x" % v for v in got], ["%08x" % v for v in want]))


def rng_stream(seed, purpose, layer, epoch):
    out = philox4x32((purpose, layer, epoch, 0x726E6E63), (seed & 0xFFFFFFFF, seed >> 32))
    return (int(out[0]), int(out[1]))


def rng_uniform(stream, i, j, k):
    """Uniforms at integer arrays i, j, k (broadcast together), as float64."""
    i, j, k = np.broadcast_arrays(np.asarray(i, np.uint64), np.asarray(j, np.uint64),
                                  np.asarray(k, np.uint64))
    words = philox4x32((i >> np.uint64(2), j, k, np.zeros_like(i)), stream)
    sel = (i & np.uint64(3)).astype(np.int64)
    value = np.choose(sel, words)
    return (value >> np.uint64(8)).astype(np.float64) * 2.0 ** -24


def dropout_mask(seed, purpose, layer, epoch, rows, rate, nfeat, steps):
    """Mask [n, steps, nfeat] (steps = T per step, 1 per sequence) or, for steps = 0,
    [n, nfeat] with j = 0."""
    s = rng_stream(seed, purpose, layer, epoch)
    rows = np.asarray(rows, np.uint64)
    if steps == 0:
        u = rng_uniform(s, np.arange(nfeat)[None, :], 0, rows[:, None])
    else:
        u = rng_uniform(s, np.arange(nfeat)[None, None, :], np.arange(steps)[None, :, None],
                        rows[:, None, None])
    return np.where(u >= rate, 1.0 / (1.0 - rate), 0.0)


# ---------------------------------------------------------------------------------
# Model description
# ---------------------------------------------------------------------------------
DSL = {"embedding", "simple_rnn", "lstm", "gru", "dense", "dropout"}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def L(kind, **kw):
    assert kind in DSL
    d = dict(kind=kind, units=0, activation=None, dropout=0.0, recurrent_dropout=0.0,
             return_sequences=0, unit_forget_bias=1, reset_after=1, dropout_mask="per_step",
             name=None, rate=None)
    d.update(kw)
    if d["activation"] is None:
        d["activation"] = "tanh" if kind == "simple_rnn" else "linear"
    if kind == "dropout":
        d["dropout"] = d.pop("rate")
    return d


def assign_names(layers):
    """Keras-style names: per kind, counting only unnamed layers (as arch.c does)."""
    count = {}
    for l in layers:
        l["explicit_name"] = 1 if l["name"] else 0
        if not l["name"]:
            c = count.get(l["kind"], 0)
            count[l["kind"]] = c + 1
            l["name"] = l["kind"] if c == 0 else "%s_%d" % (l["kind"], c)


def layout(case):
    """Shapes and the Keras tensors (name, shape) in order."""
    layers = case["layers"]
    assign_names(layers)
    emb = layers[0]
    assert emb["kind"] == "embedding"
    T = emb["input_length"]
    tensors = [("%s/embeddings" % emb["name"], (emb["input_dim"], emb["units"]))]
    seq, feat = True, emb["units"]
    for l in layers[1:]:
        l["in_features"], l["in_seq"] = feat, seq
        k = l["kind"]
        if k in GATES:
            assert seq
            G, U = GATES[k], l["units"]
            tensors.append(("%s/kernel" % l["name"], (feat, G * U)))
            tensors.append(("%s/recurrent_kernel" % l["name"], (U, G * U)))
            if k == "gru" and l["reset_after"]:
                tensors.append(("%s/bias" % l["name"], (2, 3 * U)))
            else:
                tensors.append(("%s/bias" % l["name"], (G * U,)))
            seq, feat = bool(l["return_sequences"]), U
        elif k == "dense":
            assert not seq
            tensors.append(("%s/kernel" % l["name"], (feat, l["units"])))
            tensors.append(("%s/bias" % l["name"], (l["units"],)))
            feat = l["units"]
        elif k == "dropout":
            pass
        else:
            raise ValueError(k)
    case["T"] = T
    case["E"] = emb["units"]
    case["tensors"] = tensors
    case["n_outputs"] = feat


# ---------------------------------------------------------------------------------
# Forward pass in torch (float64)
# ---------------------------------------------------------------------------------
ACT = {
    "linear": lambda x: x,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
}


def reorder_zrh_to_rzh(w, U, axis):
    """Keras GRU blocks [z | r | h] along axis -> PyTorch (r, z, n)."""
    z, r, h = torch.split(w, U, dim=axis)
    return torch.cat([r, z, h], dim=axis)


def run_module(l, x, K, R, b):
    """Run the layer with torch.nn.LSTM / GRU / RNN. The module's parameters are fresh
    leaves set from the Keras weights (docs/keras-semantics.md, PyTorch weight mappings);
    returns the output sequence [n,T,U] and a function that maps the module's parameter
    gradients back to Keras-layout gradients of (K, R, b)."""
    k, U, F = l["kind"], l["units"], l["in_features"]
    if k == "lstm":
        mod = torch.nn.LSTM(F, U, batch_first=True)
        w_ih, w_hh, b_ih, b_hh = K.t(), R.t(), b, torch.zeros_like(b)
    elif k == "gru":
        assert l["reset_after"]
        mod = torch.nn.GRU(F, U, batch_first=True)
        w_ih = reorder_zrh_to_rzh(K, U, 1).t()
        w_hh = reorder_zrh_to_rzh(R, U, 1).t()
        b_ih = reorder_zrh_to_rzh(b[0], U, 0)
        b_hh = reorder_zrh_to_rzh(b[1], U, 0)
    else:
        mod = torch.nn.RNN(F, U, nonlinearity=l["activation"], batch_first=True)
        w_ih, w_hh, b_ih, b_hh = K.t(), R.t(), b, torch.zeros_like(b)
    mod = mod.double()
    with torch.no_grad():
        mod.weight_ih_l0.copy_(w_ih)
        mod.weight_hh_l0.copy_(w_hh)
        mod.bias_ih_l0.copy_(b_ih)
        mod.bias_hh_l0.copy_(b_hh)
    params = [mod.weight_ih_l0, mod.weight_hh_l0, mod.bias_ih_l0, mod.bias_hh_l0]
    out, _ = mod(x)

    def to_keras(g_ih, g_hh, gb_ih, gb_hh):
        if k == "gru":
            back = lambda w, axis: torch.cat(  # (r, z, n) -> [z | r | h]
                [torch.narrow(w, axis, U, U), torch.narrow(w, axis, 0, U),
                 torch.narrow(w, axis, 2 * U, U)], dim=axis)
            return back(g_ih.t(), 1), back(g_hh.t(), 1), torch.stack([back(gb_ih, 0), back(gb_hh, 0)])
        # One Keras bias feeds both torch biases (bias_hh is the constant 0 in the
        # mapping): its gradient equals either of them.
        assert torch.allclose(gb_ih, gb_hh, rtol=0, atol=1e-14)
        return g_ih.t(), g_hh.t(), gb_ih
    return out, params, to_keras


def run_hand(l, x, K, R, b, rmask):
    """Hand-written cell, straight from the Keras formulas (row-vector convention).
    rmask: recurrent dropout mask [n,U] or None."""
    k, U = l["kind"], l["units"]
    n, T, _ = x.shape
    h = torch.zeros(n, U)
    c = torch.zeros(n, U)
    outs = []
    xp = x @ K  # [n,T,G*U]
    for t in range(T):
        hm = h * rmask if rmask is not None else h
        if k == "simple_rnn":
            h = ACT[l["activation"]](xp[:, t] + b + hm @ R)
        elif k == "lstm":
            z = xp[:, t] + hm @ R + b
            zi, zf, zc, zo = torch.split(z, U, dim=1)
            c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zc)
            h = torch.sigmoid(zo) * torch.tanh(c)
        elif l["reset_after"]:
            xz, xr, xh = torch.split(xp[:, t] + b[0], U, dim=1)
            hz, hr, hh = torch.split(hm @ R + b[1], U, dim=1)
            z = torch.sigmoid(xz + hz)
            r = torch.sigmoid(xr + hr)
            cand = torch.tanh(xh + r * hh)
            h = z * h + (1 - z) * cand
        else:
            xz, xr, xh = torch.split(xp[:, t] + b, U, dim=1)
            hz, hr = torch.split(hm @ R[:, :2 * U], U, dim=1)
            z = torch.sigmoid(xz + hz)
            r = torch.sigmoid(xr + hr)
            cand = torch.tanh(xh + (r * hm) @ R[:, 2 * U:])
            h = z * h + (1 - z) * cand
        outs.append(h)
    return torch.stack(outs, dim=1)


def has_module(l, rmask):
    if rmask is not None:
        return False
    if l["kind"] == "gru":
        return bool(l["reset_after"])
    if l["kind"] == "simple_rnn":
        return l["activation"] in ("tanh", "relu")
    return True


def make_masks(case):
    """All dropout masks of the case as numpy arrays, keyed 'mask/<layer>/<what>'."""
    d = case["dropout"]
    masks = {}
    if not d["training"]:
        return masks
    n, T = case["n"], case["T"]
    rows = d["rows"] if d["rows"] is not None else list(range(n))
    for li, l in enumerate(case["layers"]):
        k = l["kind"]
        if k in GATES and l["dropout"] > 0:
            per_seq = k == "simple_rnn" or l["dropout_mask"] == "per_sequence"
            masks["mask/%s/dropout" % l["name"]] = dropout_mask(
                d["seed"], RNG_DROPOUT, li, d["epoch"], rows, l["dropout"], l["in_features"],
                1 if per_seq else T)
        if k in GATES and l["recurrent_dropout"] > 0:
            masks["mask/%s/recurrent_dropout" % l["name"]] = dropout_mask(
                d["seed"], RNG_RECURRENT_DROPOUT, li, d["epoch"], rows, l["recurrent_dropout"],
                l["units"], 0)
        if k == "dropout" and l["dropout"] > 0:
            masks["mask/%s/dropout" % l["name"]] = dropout_mask(
                d["seed"], RNG_DROPOUT, li, d["epoch"], rows, l["dropout"], l["in_features"],
                T if l["in_seq"] else 0)
    return masks


def forward_backward(case, weights, masks, use_modules=True):
    """weights: dict Keras name -> float64 numpy. Returns (loss, probs, grads dict,
    input_grad, correct) as numpy/float values."""
    W = {name: torch.tensor(weights[name], requires_grad=True) for name, _ in case["tensors"]}
    M = {key: torch.tensor(v) for key, v in masks.items()}
    layers = case["layers"]
    tokens = torch.tensor(case["tokens"], dtype=torch.long)
    emb_out = W["%s/embeddings" % layers[0]["name"]][tokens]      # [n,T,E] gather
    x = emb_out
    leaves = list(W.values())
    module_maps = []   # (keras names, module params, to_keras)
    logits = None
    for li, l in enumerate(layers[1:], start=1):
        k, nm = l["kind"], l["name"]
        if k in GATES:
            dm = M.get("mask/%s/dropout" % nm)
            if dm is not None:
                x = x * dm
            rm = M.get("mask/%s/recurrent_dropout" % nm)
            K, R, b = W[nm + "/kernel"], W[nm + "/recurrent_kernel"], W[nm + "/bias"]
            if use_modules and has_module(l, rm):
                seq, params, to_keras = run_module(l, x, K, R, b)
                module_maps.append(((nm + "/kernel", nm + "/recurrent_kernel", nm + "/bias"),
                                    params, to_keras))
                leaves.extend(params)
            else:
                seq = run_hand(l, x, K, R, b, rm)
            x = seq if l["return_sequences"] else seq[:, -1]
        elif k == "dense":
            z = x @ W[nm + "/kernel"] + W[nm + "/bias"]
            if li == len(layers) - 1:
                logits = z
            else:
                x = ACT[l["activation"]](z)
        elif k == "dropout":
            dm = M.get("mask/%s/dropout" % nm)
            if dm is not None:
                x = x * dm
    out_layer = layers[-1]
    labels = torch.tensor(case["labels"])
    if case["loss"] == "binary_crossentropy":
        assert out_layer["activation"] == "sigmoid" and out_layer["units"] == 1
        z = logits[:, 0]
        # max(z,0) - z*y + log1p(exp(-|z|)), mean over the batch
        # (docs/keras-semantics.md, Losses)
        loss = torch.mean(torch.clamp(z, min=0) - z * labels + torch.log1p(torch.exp(-torch.abs(z))))
        probs = torch.sigmoid(logits)
        correct = int(((probs[:, 0] > 0.5) == (labels > 0.5)).sum())
    else:
        assert out_layer["activation"] == "softmax"
        lab = labels.long()
        logp = torch.log_softmax(logits, dim=1)
        loss = -torch.mean(logp.gather(1, lab[:, None])[:, 0])
        probs = torch.softmax(logits, dim=1)
        correct = int((probs.argmax(dim=1) == lab).sum())
    g = torch.autograd.grad(loss, leaves + [emb_out], allow_unused=True)
    grads_by_leaf = {id(leaf): gi for leaf, gi in zip(leaves, g)}
    grads = {}
    for name, shape in case["tensors"]:
        gi = grads_by_leaf[id(W[name])]
        grads[name] = np.zeros(shape) if gi is None else gi.detach().numpy().copy()
    for names, params, to_keras in module_maps:
        keras_g = to_keras(*[grads_by_leaf[id(p)] for p in params])
        for name, gi in zip(names, keras_g):
            grads[name] = gi.detach().numpy().copy()
    return (float(loss), probs.detach().numpy().copy(), grads,
            g[-1].detach().numpy().copy(), correct)


def check_hand_cells(case, weights, masks):
    """The hand-written cells must agree with torch.nn wherever both exist."""
    ref = forward_backward(case, weights, masks, use_modules=True)
    hand = forward_backward(case, weights, masks, use_modules=False)
    assert abs(ref[0] - hand[0]) <= 1e-12 * max(1.0, abs(ref[0])), (case["name"], ref[0], hand[0])
    assert np.allclose(ref[1], hand[1], rtol=1e-12, atol=1e-14)
    for name in ref[2]:
        assert np.allclose(ref[2][name], hand[2][name], rtol=1e-10, atol=1e-14), (case["name"], name)
    assert np.allclose(ref[3], hand[3], rtol=1e-10, atol=1e-14)
    return ref


# ---------------------------------------------------------------------------------
# Optimizers (Keras formulas, TF >= 2.11 optimizers; rnnrt.h above rnn_optimizer_step)
# ---------------------------------------------------------------------------------
def OPT(label, kind, **kw):
    d = dict(label=label, kind=kind, learning_rate=0.01, rho=0.9, epsilon=1e-7,
             epsilon_outside=0, beta_1=0.9, beta_2=0.999, momentum=0.0, nesterov=0,
             clipnorm=0.0, global_clipnorm=0.0, clipvalue=0.0, steps=3)
    d.update(kw)
    return d


def clip_gradients(o, grads):
    """Keras 2.11+ Optimizer._clip_gradients: clipnorm (tf.clip_by_norm per tensor,
    g*c/max(||g||, c)), else global_clipnorm (tf.clip_by_global_norm, g*c/max(||G||, c)),
    else clipvalue: only the FIRST option that is set applies (the legacy TF <= 2.10
    optimizer chained them, clipvalue first; Keras 2.11+ returns after the first)."""
    g = {k: torch.tensor(v) for k, v in grads.items()}
    if o["clipnorm"] > 0:
        c = o["clipnorm"]
        return {k: v * c / torch.clamp(torch.linalg.norm(v.reshape(-1)), min=c) for k, v in g.items()}
    if o["global_clipnorm"] > 0:
        c = o["global_clipnorm"]
        gn = torch.sqrt(sum(torch.sum(v * v) for v in g.values()))
        return {k: v * c / torch.clamp(gn, min=c) for k, v in g.items()}
    if o["clipvalue"] > 0:
        c = o["clipvalue"]
        return {k: torch.clamp(v, -c, c) for k, v in g.items()}
    return g


def optimizer_run(case, o, weights, masks):
    w = {k: torch.tensor(v) for k, v in weights.items()}
    slots = {k: [torch.zeros_like(v), torch.zeros_like(v)] for k, v in w.items()}
    lr = o["learning_rate"]
    for step in range(1, o["steps"] + 1):
        grads = forward_backward(case, {k: v.numpy() for k, v in w.items()}, masks)[2]
        g = clip_gradients(o, grads)
        for name in w:
            gi, s = g[name], slots[name]
            if o["kind"] == "rmsprop":
                s[0] = o["rho"] * s[0] + (1 - o["rho"]) * gi * gi
                if o["epsilon_outside"]:
                    w[name] = w[name] - lr * gi / (torch.sqrt(s[0]) + o["epsilon"])
                else:
                    w[name] = w[name] - lr * gi / torch.sqrt(s[0] + o["epsilon"])
            elif o["kind"] == "adam":
                b1, b2 = o["beta_1"], o["beta_2"]
                s[0] = s[0] + (gi - s[0]) * (1 - b1)
                s[1] = s[1] + (gi * gi - s[1]) * (1 - b2)
                alpha = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
                w[name] = w[name] - alpha * s[0] / (torch.sqrt(s[1]) + o["epsilon"])
            elif o["kind"] == "sgd":
                if o["momentum"] > 0:
                    s[0] = o["momentum"] * s[0] - lr * gi
                    if o["nesterov"]:
                        w[name] = w[name] + o["momentum"] * s[0] - lr * gi
                    else:
                        w[name] = w[name] + s[0]
                else:
                    w[name] = w[name] - lr * gi
            else:
                raise ValueError(o["kind"])
    return {k: v.numpy() for k, v in w.items()}


# ---------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------
N_BATCH, MAX_BATCH = 5, 8   # the reference is created for MAX_BATCH and run on N_BATCH


def EMB(V, E, T=7):
    return L("embedding", units=E, input_dim=V, input_length=T)


def SIG():
    return L("dense", units=1, activation="sigmoid")


def SOFT(k=4):
    return L("dense", units=k, activation="softmax")


O_RMS = OPT("rmsprop", "rmsprop")
O_RMS_OUT = OPT("rmsprop_eps_outside", "rmsprop", epsilon=1e-3, epsilon_outside=1)
O_ADAM = OPT("adam", "adam")
O_SGD = OPT("sgd", "sgd", learning_rate=0.1)
O_MOM = OPT("sgd_momentum", "sgd", learning_rate=0.1, momentum=0.9)
O_NEST = OPT("sgd_nesterov", "sgd", learning_rate=0.1, momentum=0.9, nesterov=1)
O_RMS_CLIPNORM = OPT("rmsprop_clipnorm", "rmsprop", clipnorm=0.05)
O_ADAM_GLOBAL = OPT("adam_global_clipnorm", "adam", global_clipnorm=0.1)
O_MOM_CLIPVALUE = OPT("sgd_momentum_clipvalue", "sgd", learning_rate=0.1, momentum=0.9,
                      clipvalue=0.01)
O_SGD_CLIPNORM = OPT("sgd_clipnorm", "sgd", learning_rate=0.5, clipnorm=0.02)
# clipnorm and clipvalue together: Keras 2.11+ applies only clipnorm.
O_SGD_CLIPNORM_CLIPVALUE = OPT("sgd_clipnorm_and_clipvalue", "sgd", learning_rate=0.5, clipnorm=0.02,
                               clipvalue=0.001)
O_ALL = [O_RMS, O_RMS_OUT, O_ADAM, O_SGD, O_MOM, O_NEST, O_RMS_CLIPNORM, O_ADAM_GLOBAL,
         O_MOM_CLIPVALUE, O_SGD_CLIPNORM, O_SGD_CLIPNORM_CLIPVALUE]

TRAIN = dict(training=1, seed=20240611, epoch=3, rows=[17, 4, 1023, 8, 65536])
EVAL = dict(training=0, seed=0, epoch=0, rows=None)

CASES = [
    dict(name="simple_rnn_tanh", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(11, 5), L("simple_rnn", units=6), SIG()], optimizers=[O_RMS, O_SGD]),
    dict(name="simple_rnn_relu", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(9, 4), L("simple_rnn", units=5, activation="relu"), SIG()],
         optimizers=[O_RMS_OUT]),
    dict(name="lstm", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(13, 6), L("lstm", units=7), SIG()], optimizers=O_ALL),
    dict(name="gru_reset_after", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(10, 5), L("gru", units=6), SIG()], optimizers=[O_ADAM, O_MOM]),
    dict(name="gru_reset_before", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(10, 7), L("gru", units=5, reset_after=0), SIG()],
         optimizers=[O_RMS, O_NEST]),
    dict(name="lstm2_stack", loss="binary_crossentropy", dropout=EVAL, fractional_labels=True,
         layers=[EMB(12, 5), L("lstm", units=6, return_sequences=1), L("lstm", units=4), SIG()],
         optimizers=[O_RMS_CLIPNORM]),
    dict(name="gru_simple_rnn_stack", loss="sparse_categorical_crossentropy", dropout=EVAL,
         layers=[EMB(11, 4), L("gru", units=5, return_sequences=1),
                 L("simple_rnn", units=3, name="encoder"), SOFT(4)],
         optimizers=[O_ADAM_GLOBAL]),
    # SimpleRNN activations without a torch.nn.RNN equivalent (hand cell only), and a
    # full batch (n == max_batch).
    dict(name="simple_rnn_sigmoid_linear", loss="sparse_categorical_crossentropy", dropout=EVAL,
         max_batch=N_BATCH,
         layers=[EMB(7, 3), L("simple_rnn", units=4, activation="sigmoid", return_sequences=1),
                 L("simple_rnn", units=5, activation="linear"), SOFT(3)],
         optimizers=[O_SGD]),
    dict(name="dense_hidden_softmax", loss="sparse_categorical_crossentropy", dropout=EVAL,
         layers=[EMB(9, 5), L("lstm", units=6), L("dense", units=9, activation="tanh"),
                 L("dense", units=5, activation="relu"), SOFT(4)],
         optimizers=[O_MOM_CLIPVALUE]),
    dict(name="dense_hidden_sigmoid", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(8, 3), L("gru", units=4), L("dense", units=3, activation="sigmoid"),
                 L("dense", units=6, activation="linear"), SIG()],
         optimizers=[O_SGD_CLIPNORM]),
    # The notebook's lstm2 model with dropout 0.3 (per-step masks, tf.keras 2.x).
    dict(name="lstm2_dropout", loss="binary_crossentropy", dropout=TRAIN,
         layers=[EMB(11, 6), L("lstm", units=5, dropout=0.3, return_sequences=1),
                 L("lstm", units=4, dropout=0.3), SIG()],
         optimizers=[O_RMS, O_ADAM]),
    dict(name="lstm2_dropout_eval", loss="binary_crossentropy", dropout=dict(EVAL, seed=20240611, epoch=3),
         layers=[EMB(11, 6), L("lstm", units=5, dropout=0.3, return_sequences=1),
                 L("lstm", units=4, dropout=0.3), SIG()],
         optimizers=[]),
    dict(name="lstm_dropout_per_sequence", loss="binary_crossentropy",
         dropout=dict(TRAIN, rows=None, epoch=0, seed=(7 << 32) | 99),
         layers=[EMB(10, 8), L("lstm", units=5, dropout=0.4, dropout_mask="per_sequence"), SIG()],
         optimizers=[O_RMS]),
    dict(name="gru_dropout", loss="sparse_categorical_crossentropy", dropout=TRAIN,
         layers=[EMB(10, 7), L("gru", units=5, dropout=0.25, return_sequences=1),
                 L("gru", units=4, reset_after=0, dropout=0.5, dropout_mask="per_sequence"), SOFT(4)],
         optimizers=[O_RMS]),
    dict(name="simple_rnn_dropout", loss="binary_crossentropy", dropout=TRAIN,
         layers=[EMB(9, 6), L("simple_rnn", units=5, dropout=0.2, recurrent_dropout=0.3), SIG()],
         optimizers=[O_RMS]),
    dict(name="lstm_recurrent_dropout", loss="binary_crossentropy", dropout=dict(TRAIN, epoch=11),
         layers=[EMB(10, 5), L("lstm", units=6, dropout=0.2, recurrent_dropout=0.4), SIG()],
         optimizers=[O_ADAM]),
    dict(name="gru_recurrent_dropout", loss="binary_crossentropy", dropout=TRAIN,
         layers=[EMB(10, 4), L("gru", units=5, recurrent_dropout=0.35, return_sequences=1),
                 L("gru", units=3, reset_after=0, dropout=0.1, recurrent_dropout=0.45), SIG()],
         optimizers=[O_RMS]),
    dict(name="dropout_layers", loss="binary_crossentropy", dropout=TRAIN,
         layers=[EMB(11, 5), L("dropout", rate=0.2), L("lstm", units=4, return_sequences=1),
                 L("dropout", rate=0.3), L("simple_rnn", units=6, activation="relu"),
                 L("dropout", rate=0.5), L("dense", units=5, activation="tanh"), SIG()],
         optimizers=[O_RMS]),
]

# ---------------------------------------------------------------------------------
# Data and output
# ---------------------------------------------------------------------------------
def make_weights(case, rng):
    w = {}
    for name, shape in case["tensors"]:
        if name.endswith("/embeddings"):
            v = rng.uniform(-1.0, 1.0, size=shape)
        elif name.endswith("/bias"):
            v = rng.uniform(-0.3, 0.3, size=shape)
        else:
            v = rng.uniform(-0.6, 0.6, size=shape)
        w[name] = v.astype(np.float32).astype(np.float64)   # exact in float32
    return w


def fmt(x):
    return "%.17g" % x


def tensor_lines(name, a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        a = a.reshape(1)
    out = ["tensor %s %d %s" % (name, a.ndim, " ".join(str(d) for d in a.shape))]
    rows = a.reshape(-1, a.shape[-1])
    for r in rows:
        out.append(" ".join(fmt(v) for v in r))
    return out


def kv(v):
    if isinstance(v, float):
        return repr(v)
    return str(v)


def build_case(case):
    layout(case)
    rng = np.random.RandomState(zlib.crc32(case["name"].encode()))   # stable when cases are added
    n, T = N_BATCH, case["T"]
    V = case["layers"][0]["input_dim"]
    case["n"] = n
    tokens = rng.randint(0, V, size=(n, T))
    tokens[0, :2] = 0                                  # padding id 0 is an ordinary token
    case["tokens"] = tokens
    K = case["n_outputs"]
    if case["loss"] == "binary_crossentropy":
        labels = rng.randint(0, 2, size=n).astype(np.float64)
        if case.get("fractional_labels"):
            labels[1] = 0.25
            labels[3] = 0.75
    else:
        labels = rng.randint(0, K, size=n).astype(np.float64)
    case["labels"] = labels
    weights = make_weights(case, rng)
    masks = make_masks(case)
    loss, probs, grads, input_grad, correct = check_hand_cells(case, weights, masks)

    d = case["dropout"]
    lines = ["rnnc-oracle 1", "case " + case["name"], "model loss=" + case["loss"]]
    for l in case["layers"]:
        fields = ["kind=" + l["kind"], "name=" + l["name"], "explicit_name=%d" % l["explicit_name"],
                  "units=%d" % l["units"]]
        if l["kind"] == "embedding":
            fields += ["input_dim=%d" % l["input_dim"], "input_length=%d" % l["input_length"]]
        fields += ["activation=" + l["activation"], "dropout=" + kv(float(l["dropout"])),
                   "recurrent_dropout=" + kv(float(l["recurrent_dropout"])),
                   "return_sequences=%d" % l["return_sequences"],
                   "unit_forget_bias=%d" % l["unit_forget_bias"], "reset_after=%d" % l["reset_after"],
                   "dropout_mask=" + l["dropout_mask"]]
        lines.append("layer " + " ".join(fields))
    lines.append("batch n=%d max_batch=%d" % (n, case.get("max_batch", MAX_BATCH)))
    lines.append("dropout training=%d seed=%d epoch=%d rows=%d" % (
        d["training"], d["seed"], d["epoch"], 0 if d["rows"] is None else 1))
    lines.append("loss_value " + fmt(loss))
    lines.append("correct %d" % correct)
    for o in case["optimizers"]:
        lines.append("optimizer " + " ".join("%s=%s" % (k, kv(o[k])) for k in (
            "label", "kind", "learning_rate", "rho", "epsilon", "epsilon_outside", "beta_1",
            "beta_2", "momentum", "nesterov", "clipnorm", "global_clipnorm", "clipvalue", "steps")))
    lines += tensor_lines("tokens", tokens)
    lines += tensor_lines("labels", labels)
    if d["rows"] is not None:
        lines += tensor_lines("rows", d["rows"])
    for name, _ in case["tensors"]:
        lines += tensor_lines("weights/" + name, weights[name])
    for key in sorted(masks):
        lines += tensor_lines(key, masks[key])
    lines += tensor_lines("probs", probs)
    for name, _ in case["tensors"]:
        lines += tensor_lines("grads/" + name, grads[name])
    lines += tensor_lines("input_grad", input_grad)
    for o in case["optimizers"]:
        after = optimizer_run(case, o, weights, masks)
        for name, _ in case["tensors"]:
            lines += tensor_lines("after/%s/%s" % (o["label"], name), after[name])
    lines.append("end")
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s FIXTURE_DIR\n" % argv[0])
        return 2
    _philox_self_test()
    outdir = os.path.join(argv[1], "oracle")
    os.makedirs(outdir, exist_ok=True)
    names = set()
    total = 0
    for case in CASES:
        text = build_case(case)
        path = os.path.join(outdir, case["name"] + ".txt")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        names.add(case["name"] + ".txt")
        total += len(text)
    for f in sorted(os.listdir(outdir)):
        if f.endswith(".txt") and f not in names:
            os.remove(os.path.join(outdir, f))
    print("make_fixtures: %d cases, %d bytes in %s" % (len(CASES), total, outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
