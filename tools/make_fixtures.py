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
    layer kind=KIND name=NAME explicit_name=0|1 units=U [input_dim=V input_length=T [mask_zero=1]]
          activation=ACT dropout=R recurrent_dropout=R return_sequences=0|1
          unit_forget_bias=0|1 reset_after=0|1 dropout_mask=per_step|per_sequence
          [go_backwards=1] [wrapped=KIND wrapped_name=NAME explicit_wrapped_name=0|1
          merge_mode=concat|sum|mul|ave]
          (one line per layer, embedding first, all on one line; a bidirectional
          layer carries the options of the layer it wraps)
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
    mask/<layer>/dropout_backward, mask/<layer>/recurrent_dropout_backward
                            a bidirectional layer's backward half's masks (its
                            forward half's are the two above)
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
    A bidirectional layer's backward half draws its masks as layer 256 + index
        (RNN_RNG_BACKWARD_HALF), its forward half as the layer itself.

The embedding's mask (mask_zero=1) follows Keras 2's backend.rnn with a mask
(docs/keras-semantics.md, Masking); PyTorch has no masking, so a masked layer runs the
hand cells step by step, each step's states torch.where(mask, new, previous), its output
the previous one at a masked step (0 in a Bidirectional with return_sequences); the
GlobalAveragePooling1D mean is over the unmasked steps. Such a case's batch has a row of
padding only, one without padding, and rows padded after, before and between tokens.

go_backwards and bidirectional follow Keras 2 (docs/keras-semantics.md): a go_backwards
layer runs over the input reversed in time and returns its states in the order it ran
them; a bidirectional layer runs the wrapped layer and a copy with go_backwards flipped,
flips the copy's sequence back (with return_sequences) and merges the two. Wherever
PyTorch can, the two halves run as one torch.nn module with bidirectional=True, whose
reverse direction PyTorch aligns with time; the hand path (flips and hand cells, Keras's
formulation) is checked against it on those cases.
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
RNG_BACKWARD_HALF = 256


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
DSL = {"embedding", "simple_rnn", "lstm", "gru", "dense", "dropout", "bidirectional", "conv1d", "max_pooling1d",
       "average_pooling1d", "global_max_pooling1d", "global_average_pooling1d", "flatten", "activation",
       "spatial_dropout1d"}
POOLS = {"max_pooling1d", "average_pooling1d"}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def L(kind, **kw):
    assert kind in DSL
    d = dict(kind=kind, units=0, activation=None, dropout=0.0, recurrent_dropout=0.0,
             return_sequences=0, unit_forget_bias=1, reset_after=1, dropout_mask="per_step",
             go_backwards=0, name=None, rate=None, kernel_size=0, strides=0, padding="valid", dilation_rate=1,
             use_bias=1, pool_size=0)
    if kind == "bidirectional":   # the wrapped layer's options are the wrapper's
        inner = kw.pop("layer")
        d.update({k: v for k, v in inner.items() if k not in ("kind", "name")})
        d.update(wrapped=inner["kind"], wrapped_name=inner["name"], merge_mode=kw.pop("merge_mode", "concat"))
    d.update(kw)
    if d["activation"] is None:
        d["activation"] = "tanh" if kind == "simple_rnn" else "linear"
    if kind in ("dropout", "spatial_dropout1d"):
        d["dropout"] = d.pop("rate")
    if kind == "conv1d" and not d["strides"]:
        d["strides"] = 1
    if kind in POOLS and not d["strides"]:
        d["strides"] = d["pool_size"]            # Keras: strides=None means pool_size
    return d


def window(l, steps):
    """A conv1d's or pooling layer's output steps and its zero steps before and after the
    input (TensorFlow's VALID and SAME, Keras's causal; docs/keras-semantics.md, Conv1D)."""
    size = l["kernel_size"] or l["pool_size"]
    d = l["dilation_rate"] if l["kind"] == "conv1d" else 1
    span, s = (size - 1) * d + 1, l["strides"]
    if l["padding"] == "valid":
        assert steps >= span
        return (steps - span) // s + 1, 0, 0
    out = (steps + s - 1) // s
    if l["padding"] == "causal":
        return out, span - 1, 0
    total = max((out - 1) * s + span - steps, 0)
    return out, total // 2, total - total // 2


def cell_kind(l):
    """The recurrent kind a layer runs (a bidirectional layer: the one it wraps), or None."""
    return l["wrapped"] if l["kind"] == "bidirectional" else l["kind"] if l["kind"] in GATES else None


def assign_names(layers):
    """Keras-style names: per kind, counting only unnamed layers (as arch.c does); the
    layer a bidirectional wraps is counted just before its wrapper."""
    count = {}

    def next_name(kind):
        c = count.get(kind, 0)
        count[kind] = c + 1
        return kind if c == 0 else "%s_%d" % (kind, c)
    for l in layers:
        if l["kind"] == "bidirectional":
            l["explicit_wrapped_name"] = 1 if l["wrapped_name"] else 0
            if not l["wrapped_name"]:
                l["wrapped_name"] = next_name(l["wrapped"])
        l["explicit_name"] = 1 if l["name"] else 0
        if not l["name"]:
            l["name"] = next_name(l["kind"])


def scopes(l):
    """Where a recurrent layer's tensors are: "lstm", or a bidirectional layer's halves
    "bidirectional/forward_lstm" and "bidirectional/backward_lstm"."""
    if l["kind"] != "bidirectional":
        return [l["name"]]
    return ["%s/%s_%s" % (l["name"], half, l["wrapped_name"]) for half in ("forward", "backward")]


def layout(case):
    """Shapes and the Keras tensors (name, shape) in order."""
    layers = case["layers"]
    assign_names(layers)
    emb = layers[0]
    assert emb["kind"] == "embedding"
    T = emb["input_length"]
    tensors = [("%s/embeddings" % emb["name"], (emb["input_dim"], emb["units"]))]
    seq, feat, steps = True, emb["units"], T
    for l in layers[1:]:
        l["in_features"], l["in_seq"], l["steps"] = feat, seq, steps
        k = l["kind"]
        if cell_kind(l):
            assert seq
            ck = cell_kind(l)
            G, U = GATES[ck], l["units"]
            for sc in scopes(l):
                tensors.append(("%s/kernel" % sc, (feat, G * U)))
                tensors.append(("%s/recurrent_kernel" % sc, (U, G * U)))
                if ck == "gru" and l["reset_after"]:
                    tensors.append(("%s/bias" % sc, (2, 3 * U)))
                else:
                    tensors.append(("%s/bias" % sc, (G * U,)))
            seq = bool(l["return_sequences"])
            feat = 2 * U if k == "bidirectional" and l["merge_mode"] == "concat" else U
        elif k == "dense":   # on a sequence: the kernel at every step
            tensors.append(("%s/kernel" % l["name"], (feat, l["units"])))
            tensors.append(("%s/bias" % l["name"], (l["units"],)))
            feat = l["units"]
        elif k == "conv1d":
            assert seq
            tensors.append(("%s/kernel" % l["name"], (l["kernel_size"], feat, l["units"])))
            if l["use_bias"]:
                tensors.append(("%s/bias" % l["name"], (l["units"],)))
            steps, feat = window(l, steps)[0], l["units"]
        elif k in POOLS:
            assert seq
            steps = window(l, steps)[0]
        elif k in ("global_max_pooling1d", "global_average_pooling1d"):
            assert seq
            seq = False
        elif k == "flatten":
            feat, seq = feat * steps if seq else feat, False
        elif k in ("dropout", "activation", "spatial_dropout1d"):
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
    "softmax": lambda x: torch.softmax(x, dim=-1),   # over the features of each step or vector
}


def run_window_layer(l, x, W):
    """conv1d and pooling with torch.nn.functional on x [n,T,C] (channels last, Keras's
    layout) moved to PyTorch's [n,C,T], the padding TensorFlow's, written out with F.pad:
    zeros for a convolution, -inf for a maximum; a SAME mean divides by the steps inside
    the sequence (TensorFlow's), counted by pooling a padded tensor of ones.
    Keras's conv1d kernel [k, in, out] is PyTorch's weight [out, in, k]."""
    F = torch.nn.functional
    _, left, right = window(l, x.shape[1])
    xt = x.transpose(1, 2)
    if l["kind"] == "conv1d":
        w = W[l["name"] + "/kernel"].permute(2, 1, 0)
        b = W[l["name"] + "/bias"] if l["use_bias"] else None
        y = F.conv1d(F.pad(xt, (left, right)), w, b, stride=l["strides"], dilation=l["dilation_rate"])
        return ACT[l["activation"]](y.transpose(1, 2))
    p, s = l["pool_size"], l["strides"]
    if l["kind"] == "max_pooling1d":
        y = F.max_pool1d(F.pad(xt, (left, right), value=-float("inf")), p, s)
    else:
        sums = F.avg_pool1d(F.pad(xt, (left, right)), p, s) * p
        counts = F.avg_pool1d(F.pad(torch.ones_like(xt[:1, :1]), (left, right)), p, s) * p
        y = sums / counts
    return y.transpose(1, 2)


def reorder_zrh_to_rzh(w, U, axis):
    """Keras GRU blocks [z | r | h] along axis -> PyTorch (r, z, n)."""
    z, r, h = torch.split(w, U, dim=axis)
    return torch.cat([r, z, h], dim=axis)


def run_module(l, x, weights):
    """Run the layer with torch.nn.LSTM / GRU / RNN; weights is [(K, R, b)] for one
    direction, or two for bidirectional=True (the second the reverse direction, whose
    outputs PyTorch aligns with time). The module's parameters are fresh leaves set from
    the Keras weights (docs/keras-semantics.md, PyTorch weight mappings); returns the
    output [n,T,U] (or [n,T,2U]), the final states [directions,n,U], the parameters and
    a function that maps their gradients back to Keras-layout gradients of each (K, R, b)."""
    k, U, F = l["kind"], l["units"], l["in_features"]
    both = len(weights) == 2
    if k == "lstm":
        mod = torch.nn.LSTM(F, U, batch_first=True, bidirectional=both)
    elif k == "gru":
        assert l["reset_after"]
        mod = torch.nn.GRU(F, U, batch_first=True, bidirectional=both)
    else:
        mod = torch.nn.RNN(F, U, nonlinearity=l["activation"], batch_first=True, bidirectional=both)
    mod = mod.double()
    params = []
    for d, (K, R, b) in enumerate(weights):
        if k == "gru":
            w_ih = reorder_zrh_to_rzh(K, U, 1).t()
            w_hh = reorder_zrh_to_rzh(R, U, 1).t()
            b_ih = reorder_zrh_to_rzh(b[0], U, 0)
            b_hh = reorder_zrh_to_rzh(b[1], U, 0)
        else:
            w_ih, w_hh, b_ih, b_hh = K.t(), R.t(), b, torch.zeros_like(b)
        sfx = "_l0_reverse" if d else "_l0"
        mine = [getattr(mod, "weight_ih" + sfx), getattr(mod, "weight_hh" + sfx), getattr(mod, "bias_ih" + sfx),
                getattr(mod, "bias_hh" + sfx)]
        with torch.no_grad():
            for p, v in zip(mine, (w_ih, w_hh, b_ih, b_hh)):
                p.copy_(v)
        params += mine
    out, state = mod(x)
    h_n = state[0] if k == "lstm" else state

    def one_to_keras(g_ih, g_hh, gb_ih, gb_hh):
        if k == "gru":
            back = lambda w, axis: torch.cat(  # (r, z, n) -> [z | r | h]
                [torch.narrow(w, axis, U, U), torch.narrow(w, axis, 0, U),
                 torch.narrow(w, axis, 2 * U, U)], dim=axis)
            return back(g_ih.t(), 1), back(g_hh.t(), 1), torch.stack([back(gb_ih, 0), back(gb_hh, 0)])
        # One Keras bias feeds both torch biases (bias_hh is the constant 0 in the
        # mapping): its gradient equals either of them.
        assert torch.allclose(gb_ih, gb_hh, rtol=0, atol=1e-14)
        return g_ih.t(), g_hh.t(), gb_ih

    def to_keras(*g):
        return [gi for d in range(len(weights)) for gi in one_to_keras(*g[4 * d:4 * d + 4])]
    return out, h_n, params, to_keras


def run_hand(l, x, K, R, b, rmask, smask=None, zero_output=False):
    """Hand-written cell, straight from the Keras formulas (row-vector convention).
    rmask: recurrent dropout mask [n,U] or None. smask: the embedding's mask [n,T] of
    bools in the order the steps run, or None: as Keras 2's backend.rnn with a mask, a
    masked step keeps the states (torch.where of the new and the previous ones) and
    outputs the previous output, or 0 with zero_output (Bidirectional with
    return_sequences forces zero_output_for_mask)."""
    k, U = l["kind"], l["units"]
    n, T, _ = x.shape
    h = torch.zeros(n, U)
    c = torch.zeros(n, U)
    outs = []
    xp = x @ K  # [n,T,G*U]
    for t in range(T):
        h_prev, c_prev = h, c
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
        if smask is not None:
            keep = smask[:, t:t + 1]
            h, c = torch.where(keep, h, h_prev), torch.where(keep, c, c_prev)
            outs.append(torch.where(keep, h, torch.zeros_like(h)) if zero_output else h)
        else:
            outs.append(h)
    return torch.stack(outs, dim=1)


def has_module(l, rmask):
    """Is there a torch.nn module for the layer (l: its cell's view)? A bidirectional
    layer needs one with bidirectional=True, which runs its forward half from the first
    step: not when it wraps a go_backwards layer (Keras 2 then swaps the halves' ways)."""
    if rmask is not None or (l["wrapper"] and l["go_backwards"]):
        return False
    if l["kind"] == "gru":
        return bool(l["reset_after"])
    if l["kind"] == "simple_rnn":
        return l["activation"] in ("tanh", "relu")
    return True


def merge(mode, y, yb):
    """Bidirectional's merge_mode (Keras 2, Bidirectional.call)."""
    if mode == "concat":
        return torch.cat([y, yb], dim=-1)
    if mode == "sum":
        return y + yb
    if mode == "mul":
        return y * yb
    assert mode == "ave"
    return (y + yb) / 2


def run_recurrent(l, x, W, M, use_modules, module_maps, leaves, smask=None):
    """A recurrent or bidirectional layer on x [n,T,F] as Keras 2 runs it; returns its
    output. A direction that goes backwards reads x reversed in time and yields its
    states in the order it ran them; a bidirectional layer flips its backward half's
    sequence back (return_sequences) and merges. smask [n,T]: the embedding's mask
    (mask_zero), reversed with the input for a direction that goes backwards; torch.nn
    modules take no mask, so a masked layer runs the hand cells."""
    cell = dict(l, kind=cell_kind(l), wrapper=l["kind"] == "bidirectional")
    halves = scopes(l)
    suffix = ["", "_backward"]
    ways = [l["go_backwards"], 1 - l["go_backwards"]][:len(halves)]
    xs, rms, wts = [], [], []
    for h, sc in enumerate(halves):
        dm = M.get("mask/%s/dropout%s" % (l["name"], suffix[h]))
        xs.append(x * dm if dm is not None else x)
        rms.append(M.get("mask/%s/recurrent_dropout%s" % (l["name"], suffix[h])))
        wts.append((W[sc + "/kernel"], W[sc + "/recurrent_kernel"], W[sc + "/bias"]))
    names = [sc + t for sc in halves for t in ("/kernel", "/recurrent_kernel", "/bias")]
    rs = l["return_sequences"]
    if smask is not None:
        zero = len(halves) == 2 and bool(rs)
        outs = [run_hand(cell, torch.flip(xs[h], [1]) if ways[h] else xs[h], *wts[h], rms[h],
                         torch.flip(smask, [1]) if ways[h] else smask, zero) for h in range(len(halves))]
        if len(halves) == 1:
            return outs[0] if rs else outs[0][:, -1]
        y, yb = outs
        return merge(l["merge_mode"], y if rs else y[:, -1], torch.flip(yb, [1]) if rs else yb[:, -1])
    if use_modules and has_module(cell, rms[0]) and (len(halves) == 1 or has_module(cell, rms[1])):
        if len(halves) == 2 and (xs[0] is not xs[1]):
            # two inputs (each half its own dropout mask): one module per half
            outs = []
            for h in range(2):
                seq, h_n, params, to_keras = run_module(cell, torch.flip(xs[h], [1]) if ways[h] else xs[h], [wts[h]])
                module_maps.append((tuple(names[3 * h:3 * h + 3]), params, to_keras))
                leaves.extend(params)
                outs.append(seq)
            y, yb = outs
            y = y if rs else y[:, -1]
            yb = torch.flip(yb, [1]) if rs else yb[:, -1]
            return merge(l["merge_mode"], y, yb)
        xin = torch.flip(xs[0], [1]) if ways[0] else xs[0]
        seq, h_n, params, to_keras = run_module(cell, xin, wts)
        module_maps.append((tuple(names), params, to_keras))
        leaves.extend(params)
        if len(halves) == 1:
            return seq if rs else seq[:, -1]
        U = l["units"]
        y, yb = (seq[..., :U], seq[..., U:]) if rs else (h_n[0], h_n[1])
        return merge(l["merge_mode"], y, yb)
    outs = [run_hand(cell, torch.flip(xs[h], [1]) if ways[h] else xs[h], *wts[h], rms[h]) for h in range(len(halves))]
    if len(halves) == 1:
        return outs[0] if rs else outs[0][:, -1]
    y, yb = outs
    y = y if rs else y[:, -1]
    yb = torch.flip(yb, [1]) if rs else yb[:, -1]
    return merge(l["merge_mode"], y, yb)


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
        halves = range(2 if k == "bidirectional" else 1) if cell_kind(l) else []
        for h in halves:   # a backward half draws as layer RNG_BACKWARD_HALF + li
            layer, sfx = (RNG_BACKWARD_HALF + li, "_backward") if h else (li, "")
            if l["dropout"] > 0:
                per_seq = cell_kind(l) == "simple_rnn" or l["dropout_mask"] == "per_sequence"
                masks["mask/%s/dropout%s" % (l["name"], sfx)] = dropout_mask(
                    d["seed"], RNG_DROPOUT, layer, d["epoch"], rows, l["dropout"], l["in_features"],
                    1 if per_seq else l["steps"])
            if l["recurrent_dropout"] > 0:
                masks["mask/%s/recurrent_dropout%s" % (l["name"], sfx)] = dropout_mask(
                    d["seed"], RNG_RECURRENT_DROPOUT, layer, d["epoch"], rows, l["recurrent_dropout"],
                    l["units"], 0)
        if k == "dropout" and l["dropout"] > 0:
            masks["mask/%s/dropout" % l["name"]] = dropout_mask(
                d["seed"], RNG_DROPOUT, li, d["epoch"], rows, l["dropout"], l["in_features"],
                l["steps"] if l["in_seq"] else 0)
        if k == "spatial_dropout1d" and l["dropout"] > 0:   # [n,1,F]: one element per channel for every step
            masks["mask/%s/dropout" % l["name"]] = dropout_mask(
                d["seed"], RNG_DROPOUT, li, d["epoch"], rows, l["dropout"], l["in_features"], 1)
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
    # the embedding's mask (Keras's Embedding.compute_mask: tokens != 0), which reaches
    # every layer after it here (the cases end it where Keras does)
    smask = tokens != 0 if layers[0].get("mask_zero") else None
    leaves = list(W.values())
    module_maps = []   # (keras names, module params, to_keras)
    logits = None
    for li, l in enumerate(layers[1:], start=1):
        k, nm = l["kind"], l["name"]
        if cell_kind(l):
            x = run_recurrent(l, x, W, M, use_modules, module_maps, leaves, smask)
        elif k == "dense":
            z = x @ W[nm + "/kernel"] + W[nm + "/bias"]
            if li == len(layers) - 1:
                logits = z
            else:
                x = ACT[l["activation"]](z)
        elif k in ("dropout", "spatial_dropout1d"):
            dm = M.get("mask/%s/dropout" % nm)
            if dm is not None:
                x = x * dm
        elif k == "conv1d" or k in POOLS:
            x = run_window_layer(l, x, W)
        elif k == "global_max_pooling1d":
            x = torch.max(x, dim=1).values
        elif k == "global_average_pooling1d" and smask is not None and l["in_seq"]:
            # Keras: sum(x * mask) / sum(mask) over the steps; a row of padding only gives 0
            # here (rnnc's choice, docs/keras-semantics.md, Masking), where Keras gives NaN
            m = smask.to(x.dtype)[:, :, None]
            x = (x * m).sum(dim=1) / torch.clamp(m.sum(dim=1), min=1.0)
        elif k == "global_average_pooling1d":
            x = torch.mean(x, dim=1)
        elif k == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif k == "activation":   # the output layer: its input is the logits
            if li == len(layers) - 1:
                logits = x
            else:
                x = ACT[l["activation"]](x)
    out_layer = layers[-1]
    labels = torch.tensor(case["labels"])
    # each sample's loss times its weight, summed and divided by the batch size (Keras's
    # SUM_OVER_BATCH_SIZE; docs/keras-semantics.md, Losses and Sample weights)
    sw = torch.tensor(case["sample_weights"]) if case.get("sample_weights") is not None else None
    reduce = (lambda per: torch.mean(per * sw)) if sw is not None else torch.mean
    if case["loss"] == "binary_crossentropy":
        assert out_layer["activation"] == "sigmoid"
        z = logits if case["n_outputs"] > 1 else logits[:, 0]
        # max(z,0) - z*y + log1p(exp(-|z|)), averaged over the outputs (Keras: the mean
        # over the last axis), then over the batch
        per = torch.clamp(z, min=0) - z * labels + torch.log1p(torch.exp(-torch.abs(z)))
        loss = reduce(per.mean(dim=1) if case["n_outputs"] > 1 else per)
        probs = torch.sigmoid(logits)
        if case["n_outputs"] == 1:
            correct = int(((probs[:, 0] > 0.5) == (labels > 0.5)).sum())
        else:   # "accuracy" of a multi-label output: Keras's categorical_accuracy
            correct = int((probs.argmax(dim=1) == labels.argmax(dim=1)).sum())
    elif case["loss"] == "categorical_crossentropy":
        assert out_layer["activation"] == "softmax"
        logp = torch.log_softmax(logits, dim=1)
        loss = reduce(-(labels * logp).sum(dim=1))
        probs = torch.softmax(logits, dim=1)
        correct = int((probs.argmax(dim=1) == labels.argmax(dim=1)).sum())
    else:
        assert out_layer["activation"] == "softmax"
        lab = labels.long()
        logp = torch.log_softmax(logits, dim=1)
        picked = logp.gather(1, lab[:, None])[:, 0]
        loss = reduce(-picked) if sw is not None else -torch.mean(picked)
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
             clipnorm=0.0, global_clipnorm=0.0, clipvalue=0.0, steps=3, embedding_clip="per_lookup",
             schedule=None)
    d.update(kw)
    return d


def rate(o, iterations):
    """The learning rate after `iterations` steps: Keras's schedules
    (keras/optimizers/schedules/learning_rate_schedule.py), or the constant."""
    s = o["schedule"]
    if s is None:
        return o["learning_rate"]
    k = s["kind"]
    if k in ("exponential_decay", "inverse_time_decay"):
        p = iterations / s["decay_steps"]
        if s.get("staircase"):
            p = np.floor(p)
        if k == "exponential_decay":
            return s["initial_learning_rate"] * s["decay_rate"] ** p
        return s["initial_learning_rate"] / (1 + s["decay_rate"] * p)
    if k == "piecewise_constant_decay":
        for b, v in zip(s["boundaries"], s["values"]):
            if iterations <= b:
                return v
        return s["values"][-1]
    assert k == "cosine_decay"
    done = min(iterations, s["decay_steps"]) / s["decay_steps"]
    return s["initial_learning_rate"] * ((1 - s.get("alpha", 0.0)) * 0.5 * (1 + np.cos(np.pi * done)) + s.get("alpha", 0.0))


def schedule_fields(s):
    """The schedule as the fixture's optimizer record writes it."""
    if s is None:
        return []
    f = ["schedule=" + s["kind"]]
    if s["kind"] == "piecewise_constant_decay":
        f += ["boundaries=" + ",".join(kv(float(b)) for b in s["boundaries"]),
              "values=" + ",".join(kv(float(v)) for v in s["values"])]
    else:
        f += ["initial_learning_rate=" + kv(float(s["initial_learning_rate"])),
              "decay_steps=" + kv(float(s["decay_steps"]))]
        if s["kind"] == "cosine_decay":
            f.append("alpha=" + kv(float(s.get("alpha", 0.0))))
        else:
            f += ["decay_rate=" + kv(float(s["decay_rate"])), "staircase=%d" % s.get("staircase", 0)]
    return f


def frozen_names(case):
    """The tensors of layers with trainable = false (Keras hands the optimizer only the
    trainable variables: they are neither clipped nor updated)."""
    names = set()
    for l in case["layers"]:
        if l.get("frozen"):
            names |= {n for n, _ in case["tensors"] if n.split("/")[0] == l["name"]}
    return names


def clip_per_lookup(case, o, grads, input_grad):
    """Keras's clipping with an embedding (docs/keras-semantics.md, Gradient clipping):
    the embedding's gradient is one row per lookup (IndexedSlices, the rows of d loss / d
    embedding output), clipped before the rows of repeated tokens are summed into its
    table; the other tensors as clip_gradients clips them; frozen tensors left out."""
    frozen = frozen_names(case)
    emb = "%s/embeddings" % case["layers"][0]["name"]
    g = {k: torch.tensor(v) for k, v in grads.items() if k not in frozen}
    rows = torch.tensor(input_grad).reshape(-1, case["E"])          # [n*T, E], one per lookup
    table = emb in g
    g.pop(emb, None)
    if o["clipnorm"] > 0:
        c = o["clipnorm"]
        g = {k: v * c / torch.clamp(torch.linalg.norm(v.reshape(-1)), min=c) for k, v in g.items()}
        rows = rows * c / torch.clamp(torch.linalg.norm(rows.reshape(-1)), min=c)
    elif o["global_clipnorm"] > 0:
        c = o["global_clipnorm"]
        gn = torch.sqrt(sum(torch.sum(v * v) for v in g.values()) + (torch.sum(rows * rows) if table else 0))
        g = {k: v * c / torch.clamp(gn, min=c) for k, v in g.items()}
        rows = rows * c / torch.clamp(gn, min=c)
    elif o["clipvalue"] > 0:
        c = o["clipvalue"]
        g = {k: torch.clamp(v, -c, c) for k, v in g.items()}
        rows = torch.clamp(rows, -c, c)
    if table:   # the clipped rows summed into the table (tf.IndexedSlices, deduplicated)
        t = torch.zeros(grads[emb].shape)
        t.index_add_(0, torch.tensor(case["tokens"]).reshape(-1), rows)
        g[emb] = t
    return g


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
    for step in range(1, o["steps"] + 1):
        lr = rate(o, step - 1)   # Keras: the schedule at optimizer.iterations, before the update
        _, _, grads, input_grad, _ = forward_backward(case, {k: v.numpy() for k, v in w.items()}, masks)
        if o["embedding_clip"] == "per_lookup":
            g = clip_per_lookup(case, o, grads, input_grad)
        else:
            frozen = frozen_names(case)
            g = clip_gradients(o, {k: v for k, v in grads.items() if k not in frozen})
        for name in w:
            if name not in g:   # a frozen tensor
                continue
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


def EMB(V, E, T=7, mask_zero=0):
    return L("embedding", units=E, input_dim=V, input_length=T, mask_zero=mask_zero)


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
    # go_backwards: the input reversed, the states in the order they ran (torch modules).
    dict(name="go_backwards", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(12, 5), L("lstm", units=6, go_backwards=1, return_sequences=1),
                 L("gru", units=4, go_backwards=1, return_sequences=1),
                 L("simple_rnn", units=5, go_backwards=1), SIG()],
         optimizers=[O_ADAM]),
    dict(name="go_backwards_dropout", loss="sparse_categorical_crossentropy", dropout=TRAIN,
         layers=[EMB(10, 5), L("lstm", units=5, go_backwards=1, dropout=0.3, recurrent_dropout=0.2,
                               return_sequences=1),
                 L("gru", units=4, go_backwards=1, reset_after=0, dropout=0.25, dropout_mask="per_sequence"),
                 SOFT(3)],
         optimizers=[O_RMS]),
    # Bidirectional: torch.nn modules with bidirectional=True (PyTorch aligns the reverse
    # direction with time, as Keras's flip does); imdb_bidirectional2 in small.
    dict(name="bidirectional_lstm_concat", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(13, 6), L("bidirectional", layer=L("lstm", units=5, return_sequences=1)),
                 L("bidirectional", layer=L("lstm", units=4)), SIG()],
         optimizers=[O_ADAM]),
    dict(name="bidirectional_sum_mul", loss="sparse_categorical_crossentropy", dropout=EVAL,
         layers=[EMB(11, 4), L("bidirectional", layer=L("gru", units=5, return_sequences=1), merge_mode="sum"),
                 L("bidirectional", layer=L("simple_rnn", units=4, name="encoder"), merge_mode="mul"),
                 SOFT(3)],
         optimizers=[O_SGD]),
    dict(name="bidirectional_ave_hand_cells", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(10, 5), L("bidirectional", layer=L("gru", units=4, reset_after=0, return_sequences=1),
                               merge_mode="ave"),
                 L("bidirectional", layer=L("simple_rnn", units=3, activation="sigmoid"), merge_mode="ave"), SIG()],
         optimizers=[O_RMS]),
    # Each half its own masks; Keras 2 flips go_backwards for the backward half.
    dict(name="bidirectional_dropout", loss="binary_crossentropy", dropout=TRAIN,
         layers=[EMB(11, 5), L("bidirectional", layer=L("lstm", units=4, dropout=0.3, recurrent_dropout=0.2,
                                                         return_sequences=1)),
                 L("bidirectional", layer=L("gru", units=3, dropout=0.25), merge_mode="mul"),
                 L("dropout", rate=0.5), SIG()],
         optimizers=[O_ADAM]),
    # Conv1D as torch.nn.functional.conv1d (Keras's kernel [k, in, out] is PyTorch's [out,
    # in, k]) with TensorFlow's padding written out; max and average pooling as
    # F.max_pool1d / F.avg_pool1d; Keras's imdb_cnn.py, imdb_cnn_lstm.py and
    # imdb_fasttext.py in small.
    dict(name="conv_valid_global_max", loss="binary_crossentropy", dropout=TRAIN,
         layers=[EMB(13, 5, T=9), L("dropout", rate=0.2), L("conv1d", units=6, kernel_size=3, activation="relu"),
                 L("global_max_pooling1d"), L("dense", units=5), L("dropout", rate=0.3), L("activation", activation="relu"),
                 L("dense", units=1), L("activation", activation="sigmoid")],
         optimizers=[O_ADAM]),
    dict(name="conv_max_pooling_lstm", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(20, 6, T=12), L("conv1d", units=5, kernel_size=3, activation="relu"),
                 L("max_pooling1d", pool_size=4), L("lstm", units=4), L("dense", units=1),
                 L("activation", activation="sigmoid")],
         optimizers=[O_ADAM]),
    dict(name="conv_paddings_strides_dilation", loss="sparse_categorical_crossentropy", dropout=EVAL,
         layers=[EMB(15, 4, T=11),
                 L("conv1d", units=5, kernel_size=4, padding="same", strides=2, activation="tanh"),
                 L("conv1d", units=3, kernel_size=2, padding="causal", dilation_rate=2, use_bias=0, activation="sigmoid"),
                 L("conv1d", units=4, kernel_size=3, padding="same", dilation_rate=3),
                 L("average_pooling1d", pool_size=2, padding="same"), L("flatten"), SOFT(3)],
         optimizers=[O_RMS]),
    dict(name="pooling_same_and_overlapping", loss="binary_crossentropy", dropout=TRAIN,
         layers=[EMB(12, 5, T=10), L("spatial_dropout1d", rate=0.4),
                 L("max_pooling1d", pool_size=3, strides=2, padding="same"),
                 L("average_pooling1d", pool_size=3, strides=2, padding="same"),
                 L("dense", units=4, activation="relu"), L("activation", activation="softmax"),
                 L("global_average_pooling1d"), SIG()],
         optimizers=[O_SGD]),
    dict(name="fasttext_activation_head", loss="sparse_categorical_crossentropy", dropout=EVAL,
         layers=[EMB(17, 4, T=6), L("global_average_pooling1d"), L("dense", units=3), L("activation", activation="softmax")],
         optimizers=[O_MOM]),
    dict(name="bidirectional_of_go_backwards", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(9, 4), L("bidirectional", layer=L("lstm", units=5, go_backwards=1, return_sequences=1),
                              merge_mode="sum"),
                 L("bidirectional", layer=L("gru", units=3, go_backwards=1)), SIG()],
         optimizers=[O_RMS]),
    # Training controls (docs/keras-semantics.md: Losses, Sample weights, Learning-rate
    # schedules, Gradient clipping, trainable = false). Multi-label: 3 sigmoid outputs,
    # [n, 3] labels, the loss the mean over the outputs, weighted samples.
    dict(name="multi_label_weighted", loss="binary_crossentropy", dropout=EVAL, weighted=True, fractional_labels=True,
         layers=[EMB(9, 4), L("gru", units=5), L("dense", units=3, activation="sigmoid")],
         optimizers=[O_ADAM, OPT("rmsprop_exponential_staircase", "rmsprop", schedule=dict(
             kind="exponential_decay", initial_learning_rate=0.02, decay_steps=2, decay_rate=0.5, staircase=1))]),
    dict(name="categorical_onehot_weighted", loss="categorical_crossentropy", dropout=TRAIN, weighted=True,
         layers=[EMB(10, 5), L("lstm", units=4, dropout=0.2), SOFT(4)],
         optimizers=[OPT("sgd_piecewise", "sgd", momentum=0.5, schedule=dict(
                         kind="piecewise_constant_decay", boundaries=[0, 1], values=[0.5, 0.2, 0.05])),
                     OPT("adam_inverse_time", "adam", schedule=dict(
                         kind="inverse_time_decay", initial_learning_rate=0.05, decay_steps=1, decay_rate=0.7)),
                     OPT("rmsprop_cosine", "rmsprop", schedule=dict(
                         kind="cosine_decay", initial_learning_rate=0.03, decay_steps=2, alpha=0.1))]),
    # Keras's clipping of an embedding: per lookup (the rows of repeated tokens clipped
    # before they are summed), against the summed table of PyTorch's clip_grad_norm_.
    dict(name="embedding_clipping", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(4, 6, T=9), L("lstm", units=5), SIG()],
         optimizers=[OPT("clipnorm_per_lookup", "sgd", learning_rate=0.5, clipnorm=0.05),
                     OPT("clipnorm_summed", "sgd", learning_rate=0.5, clipnorm=0.05, embedding_clip="summed"),
                     OPT("global_per_lookup", "adam", global_clipnorm=0.05),
                     OPT("global_summed", "adam", global_clipnorm=0.05, embedding_clip="summed"),
                     OPT("clipvalue_per_lookup", "sgd", learning_rate=0.5, momentum=0.9, clipvalue=0.004),
                     OPT("clipvalue_summed", "sgd", learning_rate=0.5, momentum=0.9, clipvalue=0.004,
                         embedding_clip="summed")]),
    # trainable = false: a frozen embedding (as pretrained vectors are) and a frozen dense
    # layer take no step and count in no norm.
    # The embedding's mask (mask_zero): rows of padding only, none, after, before and
    # between the tokens; every kind, go_backwards, return_sequences, dropout, a
    # bidirectional layer's zero outputs, Dense on a sequence and GlobalAveragePooling1D.
    dict(name="masked_lstm_gru_stack", loss="binary_crossentropy", dropout=TRAIN,
         layers=[EMB(12, 5, mask_zero=1), L("lstm", units=5, dropout=0.2, recurrent_dropout=0.3, return_sequences=1),
                 L("gru", units=4, go_backwards=1), SIG()],
         optimizers=[O_RMS]),
    dict(name="masked_simple_rnn_gru_before", loss="sparse_categorical_crossentropy", dropout=EVAL,
         layers=[EMB(10, 4, mask_zero=1), L("simple_rnn", units=5, go_backwards=1, return_sequences=1),
                 L("gru", units=4, reset_after=0), SOFT(3)],
         optimizers=[O_ADAM]),
    dict(name="masked_bidirectional_sequences", loss="binary_crossentropy", dropout=EVAL,
         layers=[EMB(11, 4, mask_zero=1), L("bidirectional", layer=L("lstm", units=4, return_sequences=1), merge_mode="mul"),
                 L("bidirectional", layer=L("gru", units=3, go_backwards=1, return_sequences=1)),
                 L("lstm", units=3), SIG()],
         optimizers=[O_RMS]),
    dict(name="masked_dense_sequence_global_average", loss="binary_crossentropy", dropout=TRAIN,
         layers=[EMB(10, 5, mask_zero=1), L("dropout", rate=0.2), L("dense", units=4, activation="tanh"),
                 L("simple_rnn", units=4, return_sequences=1), L("global_average_pooling1d"), SIG()],
         optimizers=[O_SGD]),
    dict(name="frozen_layers", loss="sparse_categorical_crossentropy", dropout=EVAL,
         layers=[L("embedding", units=5, input_dim=8, input_length=6, frozen=1), L("lstm", units=4),
                 L("dense", units=5, activation="tanh", frozen=1), SOFT(3)],
         optimizers=[OPT("adam_global_clipnorm", "adam", global_clipnorm=0.05), O_RMS]),
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
    if case["layers"][0].get("mask_zero"):   # ... or masked: padding only, none, after, before, between
        tokens[tokens == 0] = 1
        tokens[0, :] = 0
        tokens[2, T // 2:] = 0
        tokens[3, :T - 2] = 0
        tokens[4, 1::2] = 0
    case["tokens"] = tokens
    K = case["n_outputs"]
    if case["loss"] == "binary_crossentropy" and K > 1:   # multi-label: [n, K] 0/1
        labels = rng.randint(0, 2, size=(n, K)).astype(np.float64)
        if case.get("fractional_labels"):
            labels[1, 0] = 0.25
    elif case["loss"] == "binary_crossentropy":
        labels = rng.randint(0, 2, size=n).astype(np.float64)
        if case.get("fractional_labels"):
            labels[1] = 0.25
            labels[3] = 0.75
    elif case["loss"] == "categorical_crossentropy":   # one-hot rows
        labels = np.eye(K)[rng.randint(0, K, size=n)]
    else:
        labels = rng.randint(0, K, size=n).astype(np.float64)
    case["labels"] = labels
    if case.get("weighted"):   # sample weights, float32-exact
        case["sample_weights"] = rng.uniform(0.25, 2.0, size=n).astype(np.float32).astype(np.float64)
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
            if l.get("mask_zero"):
                fields.append("mask_zero=1")
        fields += ["activation=" + l["activation"], "dropout=" + kv(float(l["dropout"])),
                   "recurrent_dropout=" + kv(float(l["recurrent_dropout"])),
                   "return_sequences=%d" % l["return_sequences"],
                   "unit_forget_bias=%d" % l["unit_forget_bias"], "reset_after=%d" % l["reset_after"],
                   "dropout_mask=" + l["dropout_mask"]]
        if l["go_backwards"]:
            fields.append("go_backwards=1")
        if l.get("frozen"):
            fields.append("trainable=0")
        if l["kind"] == "conv1d":
            fields += ["kernel_size=%d" % l["kernel_size"], "strides=%d" % l["strides"], "padding=" + l["padding"],
                       "dilation_rate=%d" % l["dilation_rate"], "use_bias=%d" % l["use_bias"]]
        if l["kind"] in POOLS:
            fields += ["pool_size=%d" % l["pool_size"], "strides=%d" % l["strides"], "padding=" + l["padding"]]
        if l["kind"] == "bidirectional":
            fields += ["wrapped=" + l["wrapped"], "wrapped_name=" + l["wrapped_name"],
                       "explicit_wrapped_name=%d" % l["explicit_wrapped_name"], "merge_mode=" + l["merge_mode"]]
        lines.append("layer " + " ".join(fields))
    lines.append("batch n=%d max_batch=%d" % (n, case.get("max_batch", MAX_BATCH)))
    lines.append("dropout training=%d seed=%d epoch=%d rows=%d" % (
        d["training"], d["seed"], d["epoch"], 0 if d["rows"] is None else 1))
    lines.append("loss_value " + fmt(loss))
    lines.append("correct %d" % correct)
    for o in case["optimizers"]:
        lines.append("optimizer " + " ".join(["%s=%s" % (k, kv(o[k])) for k in (
            "label", "kind", "learning_rate", "rho", "epsilon", "epsilon_outside", "beta_1",
            "beta_2", "momentum", "nesterov", "clipnorm", "global_clipnorm", "clipvalue", "steps")] +
            (["embedding_clip=summed"] if o["embedding_clip"] == "summed" else []) + schedule_fields(o["schedule"])))
    lines += tensor_lines("tokens", tokens)
    lines += tensor_lines("labels", labels)
    if case.get("sample_weights") is not None:
        lines += tensor_lines("sample_weights", case["sample_weights"])
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
