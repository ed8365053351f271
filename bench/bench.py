#!/usr/bin/python3
"""bench.py — seconds per training epoch: rnnc's generated trainer vs the interpreter
(`rnnc SPEC --interpret`, the reference runtime) vs PyTorch, on the same data, in the
same run, one thread each; plus inference throughput for the lstm spec.

Run from the repository root with Debian's Python (it has torch and numpy):

    /usr/bin/python3 bench/bench.py            # the full run (make bench)
    /usr/bin/python3 bench/bench.py --quick    # a smoke run: 2 reps, 4000 sequences

What is timed (see bench/README.md):
  * generated / interpreter: the trainer's own `fit --json` "seconds" of the epoch
    (progress.c: from the start of the first batch to the end of the last one; with
    --validation-split 0 and no --val-x it contains no validation pass). One fresh
    process per repetition, `--epochs 1`, shuffled with --seed REP.
  * PyTorch: time.perf_counter() around one epoch loop (shuffle, gather, forward,
    BCEWithLogitsLoss, backward, RMSprop step, running loss/accuracy), after an
    untimed warm-up of a few batches; a fresh model and optimizer every repetition.
  Runs are interleaved round-robin (spec by spec, rotating which contender goes
  first) because the machine is shared and noisy; the table reports medians.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

SPECS = ["simplernn", "lstm", "lstm_dropout", "lstm2", "gru"]
VOCAB, T, EMB, UNITS, BATCH = 500, 100, 16, 8, 64
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- data ----------------------------------------------------------------------------

def make_data(n, seed):
    """n x T int32 token ids in [0, VOCAB), Zipf-like (p(k) ~ 1/(k+2)^1.1), and float32
    0/1 labels that depend weakly on the tokens (so training is not pure noise)."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(VOCAB, dtype=np.float64)
    p = 1.0 / (ranks + 2.0) ** 1.1
    p /= p.sum()
    x = rng.choice(VOCAB, size=(n, T), p=p).astype(np.int32)
    pos_words = (x % 7 == 3).sum(axis=1) - (x % 7 == 5).sum(axis=1)
    y = ((pos_words + rng.normal(0, 2.0, size=n)) > 0).astype(np.float32)
    return x, y


# ---- machine ---------------------------------------------------------------------------

def machine_info():
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k == "model name" and model == "unknown":
                    model = v.strip()
                elif k == "flags" and not flags:
                    flags = set(v.split())
    except OSError:
        pass
    try:
        cc = subprocess.run([os.environ.get("CC", "clang"), "--version"], capture_output=True, text=True).stdout
        cc = cc.splitlines()[0] if cc else "?"
    except OSError:
        cc = "?"
    hyp = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Hypervisor vendor:"):
                hyp = line.split(":", 1)[1].strip()
            if line.startswith("CPU family:"):
                model_family = line.split(":", 1)[1].strip()
                model += f" (family {model_family})"
    except OSError:
        pass
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "hypervisor": hyp or None,
        "avx2": "avx2" in flags,
        "fma": "fma" in flags,
        "avx512f": "avx512f" in flags,
        "kernel": platform.release(),
        "cc": cc,
        "cflags": os.environ.get("CFLAGS", "(rnnc default: -O3 -march=native)"),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(),
        "loadavg_start": os.getloadavg(),
    }


# ---- building the generated trainers ----------------------------------------------------

def build_trainers(rnnc, specs, outdir, notes):
    """build/rnnc specs/X.lua -o build/bench/X. If the build tree's runtime cannot
    compile generated code (e.g. a header missing from build/include), retry once with
    RNNC_RUNTIME_DIR pointing at a staged copy of librnnrt.a and every runtime/*.h, and
    say so in the results."""
    env = dict(os.environ)
    staged = None
    exes = {}
    for s in specs:
        exe = os.path.join(outdir, s)
        cmd = [rnnc, os.path.join(ROOT, "specs", s + ".lua"), "-o", exe]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0 and staged is None:
            staged = os.path.join(outdir, "runtime-staged")
            shutil.rmtree(staged, ignore_errors=True)
            os.makedirs(os.path.join(staged, "lib"))
            os.makedirs(os.path.join(staged, "include"))
            shutil.copy(os.path.join(os.path.dirname(rnnc), "librnnrt.a"), os.path.join(staged, "lib"))
            for h in sorted(os.listdir(os.path.join(ROOT, "runtime"))):
                if h.endswith(".h"):
                    shutil.copy(os.path.join(ROOT, "runtime", h), os.path.join(staged, "include"))
            first_err = (r.stderr.strip().splitlines() or ["?"])
            note = ("the build tree's runtime could not compile generated code (" + " / ".join(first_err[:3])[:300]
                    + "); built with RNNC_RUNTIME_DIR = a staged copy of librnnrt.a + runtime/*.h")
            log("bench: NOTE: " + note)
            notes.append(note)
            env["RNNC_RUNTIME_DIR"] = staged
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} failed:\n{r.stderr}")
        exes[s] = exe
    return exes


# ---- running the C trainers -------------------------------------------------------------

def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_fit(cmd, workdir):
    """Runs a `fit ... --json` command; returns (epoch seconds from its JSON, JSON row,
    CPU seconds (user + sys) of the whole process)."""
    c0 = children_cpu()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    cpu = children_cpu() - c0
    if r.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {r.returncode}:\n{r.stderr}")
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    if not rows:
        sys.exit(f"bench: no JSON epoch line from {' '.join(cmd)}:\n{r.stdout}\n{r.stderr}")
    return rows[-1]["seconds"], rows[-1], cpu


def fit_args(x, y, seed, ckpt):
    return ["fit", "--train-x", x, "--train-y", y, "--epochs", "1", "--json", "--validation-split", "0",
            "--seed", str(seed), "--checkpoint", ckpt]


# ---- PyTorch ----------------------------------------------------------------------------

class KerasLike(nn.Module):
    """Embedding(500,16) -> [Dropout(p) -> RNN(8)] x layers -> last h -> Linear(8,1) (logit).
    Dropout on each recurrent layer's input sequence, element-wise per (sample, step,
    feature): what tf.keras 2.x LSTM(dropout=p) does on its fused path (KERAS_SEMANTICS §4a)."""

    def __init__(self, kind, layers=1, dropout=0.0):
        super().__init__()
        cls = {"simplernn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.emb = nn.Embedding(VOCAB, EMB)
        self.rnns = nn.ModuleList([cls(EMB if i == 0 else UNITS, UNITS, batch_first=True) for i in range(layers)])
        self.drop = nn.Dropout(dropout) if dropout > 0 else None
        self.fc = nn.Linear(UNITS, 1)

    def forward(self, x):
        h = self.emb(x)
        for rnn in self.rnns:
            if self.drop is not None:
                h = self.drop(h)
            h, _ = rnn(h)
        return self.fc(h[:, -1, :]).squeeze(1)


TORCH_MODELS = {
    "simplernn": ("simplernn", 1, 0.0),
    "lstm": ("lstm", 1, 0.0),
    "lstm_dropout": ("lstm", 1, 0.3),
    "lstm2": ("lstm", 2, 0.3),
    "gru": ("gru", 1, 0.0),
}


def torch_model(spec, seed):
    torch.manual_seed(seed)
    kind, layers, p = TORCH_MODELS[spec]
    m = KerasLike(kind, layers, p)
    # Keras RMSprop(1e-4): rho 0.9, eps 1e-7 (Keras puts eps inside the root, PyTorch
    # outside; irrelevant for timing).
    opt = torch.optim.RMSprop(m.parameters(), lr=1e-4, alpha=0.9, eps=1e-7)
    return m, opt


def torch_epoch(m, opt, X, Y, seed, limit_batches=None):
    """One training epoch; returns (seconds, loss, accuracy). Timed: shuffle, gather,
    forward, loss, backward, step and the running loss/accuracy, like the C trainer."""
    lossf = nn.BCEWithLogitsLoss()
    n = X.shape[0]
    g = torch.Generator().manual_seed(seed)
    m.train()
    t0, c0 = time.perf_counter(), time.process_time()
    perm = torch.randperm(n, generator=g)
    sum_loss, correct, seen = 0.0, 0, 0
    for b, start in enumerate(range(0, n, BATCH)):
        if limit_batches is not None and b >= limit_batches:
            break
        idx = perm[start:start + BATCH]
        xb, yb = X[idx], Y[idx]
        opt.zero_grad(set_to_none=True)
        z = m(xb)
        loss = lossf(z, yb)
        loss.backward()
        opt.step()
        nb = idx.shape[0]
        sum_loss += loss.item() * nb
        correct += int(((z > 0) == (yb > 0.5)).sum())
        seen += nb
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dt, sum_loss / seen, correct / seen, cpu


def torch_infer(m, X, batch):
    m.eval()
    t0 = time.perf_counter()
    outs = []
    with torch.no_grad():
        for start in range(0, X.shape[0], batch):
            outs.append(m(X[start:start + batch]))
    dt = time.perf_counter() - t0
    return dt, torch.cat(outs)


# ---- safetensors -> PyTorch (for the inference cross-check) ------------------------------

def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[base + a:base + b], dtype="<f4").reshape(t["shape"]).copy()
    return out


def load_lstm_weights(m, w):
    """KERAS_SEMANTICS §1: weight_ih = K^T, weight_hh = R^T, bias_ih = b, bias_hh = 0."""
    with torch.no_grad():
        m.emb.weight.copy_(torch.from_numpy(w["embedding/embeddings"]))
        r = m.rnns[0]
        r.weight_ih_l0.copy_(torch.from_numpy(w["lstm/kernel"].T))
        r.weight_hh_l0.copy_(torch.from_numpy(w["lstm/recurrent_kernel"].T))
        r.bias_ih_l0.copy_(torch.from_numpy(w["lstm/bias"]))
        r.bias_hh_l0.zero_()
        m.fc.weight.copy_(torch.from_numpy(w["dense/kernel"].T))
        m.fc.bias.copy_(torch.from_numpy(w["dense/bias"]))


# ---- helpers ------------------------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, nd=3):
    return "—" if x is None or x != x else f"{x:.{nd}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="timed epochs per contender and spec (default 5; --quick: 2)")
    ap.add_argument("--n", type=int, default=20000, help="training sequences (default 20000; --quick: 4000)")
    ap.add_argument("--interp-n", type=int, default=None,
                    help="sequences for the interpreter (default: same as --n); its time is scaled to --n")
    ap.add_argument("--interp-reps", type=int, default=None, help="interpreter repetitions (default: --reps)")
    ap.add_argument("--specs", default=",".join(SPECS), help="comma-separated subset of " + ",".join(SPECS))
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 reps, 4000 sequences")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build directory holding rnnc")
    ap.add_argument("--seed", type=int, default=1234, help="data seed")
    ap.add_argument("--no-infer", action="store_true", help="skip the inference measurement")
    args = ap.parse_args()
    if args.quick:
        if "--reps" not in sys.argv:
            args.reps = 2
        if "--n" not in sys.argv:
            args.n = 4000
    interp_n = min(args.interp_n or args.n, args.n)
    interp_reps = args.interp_reps or args.reps
    specs = [s for s in args.specs.split(",") if s]
    for s in specs:
        if s not in SPECS:
            sys.exit(f"bench: unknown spec {s!r} (known: {', '.join(SPECS)})")
    if args.reps < 1 or args.n < BATCH:
        sys.exit("bench: --reps must be >= 1 and --n >= 64")

    build = os.path.abspath(args.build)
    rnnc = os.path.join(build, "rnnc")
    if not os.access(rnnc, os.X_OK):
        sys.exit(f"bench: {rnnc} not found; run `make all` first")
    outdir = os.path.join(build, "bench")
    os.makedirs(outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="rnnc-bench-", dir=outdir)
    notes = []
    info = machine_info()
    try:
        import hashlib
        with open(rnnc, "rb") as f:
            info["rnnc_sha256"] = hashlib.sha256(f.read()).hexdigest()[:16]
        info["git"] = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                     text=True).stdout.strip() or None
    except OSError:
        pass
    log(f"bench: {info['cpu']}, {info['logical_cpus']} CPUs, avx2={info['avx2']} fma={info['fma']}, "
        f"torch {info['torch']} ({info['torch_threads']} thread), load {info['loadavg_start']}")

    # Data, once: the training set and, for the interpreter, its first interp_n rows.
    x, y = make_data(args.n, args.seed)
    paths = {k: os.path.join(work, k + ".npy") for k in ("x", "y", "ix", "iy", "x64", "y64")}
    np.save(paths["x"], x)
    np.save(paths["y"], y)
    np.save(paths["ix"], x[:interp_n])
    np.save(paths["iy"], y[:interp_n])
    np.save(paths["x64"], x[:BATCH])
    np.save(paths["y64"], y[:BATCH])
    X, Y = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y)
    scale = args.n / interp_n
    if interp_n != args.n:
        notes.append(f"the interpreter trained on the first {interp_n} of the {args.n} sequences; "
                     f"its seconds are scaled by {scale:g}")

    log("bench: building the generated trainers ...")
    exes = build_trainers(rnnc, specs, outdir, notes)

    # PyTorch warm-up (untimed): a few batches of every model.
    for s in specs:
        m, opt = torch_model(s, 0)
        torch_epoch(m, opt, X, Y, 0, limit_batches=5)

    # CPU time of a trainer process that loads the same data and trains one batch: the
    # start-up cost subtracted from the C trainers' process CPU time (the CPU table).
    def startup_cpu(cmd_prefix, x_path, y_path, s):
        cmd = cmd_prefix + fit_args(x_path, y_path, 0, os.path.join(work, f"ck-{s}-startup.safetensors"))
        return min(run_fit(cmd, work)[2] for _ in range(3))
    np.save(os.path.join(work, "sx.npy"), x[:BATCH])
    np.save(os.path.join(work, "sy.npy"), y[:BATCH])
    startup = {}
    for s in specs:
        # Reading and checking the full .npy (8 MB) costs a little more than one batch's,
        # so the C trainers' CPU figures keep that (a few ms): conservative for them.
        startup[s] = {
            "generated": startup_cpu([exes[s]], os.path.join(work, "sx.npy"), os.path.join(work, "sy.npy"), s),
            "interpreter": startup_cpu([rnnc, os.path.join(ROOT, "specs", s + ".lua"), "--interpret"],
                                       os.path.join(work, "sx.npy"), os.path.join(work, "sy.npy"), s),
        }

    times = {s: {"generated": [], "interpreter": [], "pytorch": []} for s in specs}
    cpus = {s: {"generated": [], "interpreter": [], "pytorch": []} for s in specs}
    extra = {s: {"generated_loss": [], "interpreter_loss": [], "pytorch_loss": []} for s in specs}
    contenders = ["generated", "interpreter", "pytorch"]
    for rep in range(args.reps):
        for si, s in enumerate(specs):
            k = (rep + si) % len(contenders)
            for c in contenders[k:] + contenders[:k]:      # rotate who goes first
                ck = os.path.join(work, f"ck-{s}-{c}.safetensors")
                if c == "generated":
                    sec, row, cpu = run_fit([exes[s]] + fit_args(paths["x"], paths["y"], rep, ck), work)
                    times[s][c].append(sec)
                    cpus[s][c].append(cpu - startup[s][c])
                    extra[s]["generated_loss"].append(row["loss"])
                elif c == "interpreter":
                    if rep >= interp_reps:
                        continue
                    cmd = [rnnc, os.path.join(ROOT, "specs", s + ".lua"), "--interpret"] + \
                        fit_args(paths["ix"], paths["iy"], rep, ck)
                    sec, row, cpu = run_fit(cmd, work)
                    times[s][c].append(sec * scale)
                    cpus[s][c].append((cpu - startup[s][c]) * scale)
                    extra[s]["interpreter_loss"].append(row["loss"])
                else:
                    m, opt = torch_model(s, rep)
                    sec, loss, _, cpu = torch_epoch(m, opt, X, Y, rep)
                    times[s][c].append(sec)
                    cpus[s][c].append(cpu)
                    extra[s]["pytorch_loss"].append(loss)
            log(f"bench: rep {rep + 1}/{args.reps} {s:13s} gen {times[s]['generated'][-1]:.3f}s  "
                f"interp {fmt(times[s]['interpreter'][-1] if times[s]['interpreter'] else None)}s  "
                f"torch {times[s]['pytorch'][-1]:.3f}s")

    train = {}
    for s in specs:
        g, i, p = (med(times[s][c]) for c in contenders)
        train[s] = {
            "generated_s_per_epoch": g, "interpreter_s_per_epoch": i, "pytorch_s_per_epoch": p,
            "pytorch_over_generated": p / g, "interpreter_over_generated": i / g,
            "generated_samples_per_s": args.n / g, "pytorch_samples_per_s": args.n / p,
            "runs": times[s],
            "cpu_s_per_epoch": {c: med(cpus[s][c]) for c in contenders},
            "cpu_runs": cpus[s],
            "startup_cpu_s": startup[s],
            "first_epoch_loss_median": {k: med(v) for k, v in extra[s].items()},
        }

    # ---- inference (lstm) ----
    infer = None
    if not args.no_infer and "lstm" in specs:
        log("bench: inference (lstm) ...")
        wpath = os.path.join(work, "lstm-weights.safetensors")
        short = min(2000, args.n)
        np.save(os.path.join(work, "wx.npy"), x[:short])
        np.save(os.path.join(work, "wy.npy"), y[:short])
        run_fit([exes["lstm"], "fit", "--train-x", os.path.join(work, "wx.npy"), "--train-y",
                 os.path.join(work, "wy.npy"), "--epochs", "1", "--json", "--validation-split", "0",
                 "--checkpoint", os.path.join(work, "ck-w.safetensors"), "--save-weights", wpath], work)
        m, _ = torch_model("lstm", 0)
        load_lstm_weights(m, read_safetensors(wpath))
        batches = [BATCH, 1000]
        res = {b: {"generated_wall": [], "generated_startup": [], "interpreter_wall": [], "pytorch": []} for b in batches}
        gen_eval = None
        interp_eval = None
        torch_eval = {}
        for rep in range(args.reps):
            for b in batches:
                ev = ["evaluate", "--weights", wpath, "--json", "--batch-size", str(b)]
                t0 = time.perf_counter()
                r = subprocess.run([exes["lstm"]] + ev + ["--x", paths["x"], "--y", paths["y"]],
                                   capture_output=True, text=True, cwd=work)
                res[b]["generated_wall"].append(time.perf_counter() - t0)
                if r.returncode:
                    sys.exit(f"bench: evaluate failed:\n{r.stderr}")
                gen_eval = json.loads(r.stdout)
                # The same process on one batch: start-up, weight and .npy loading.
                t0 = time.perf_counter()
                subprocess.run([exes["lstm"]] + ev + ["--x", paths["x64"], "--y", paths["y64"]],
                               capture_output=True, text=True, cwd=work, check=True)
                res[b]["generated_startup"].append(time.perf_counter() - t0)
                if b == BATCH and rep < interp_reps:
                    t0 = time.perf_counter()
                    r = subprocess.run([rnnc, os.path.join(ROOT, "specs", "lstm.lua"), "--interpret"] + ev +
                                       ["--x", paths["ix"], "--y", paths["iy"]], capture_output=True, text=True,
                                       cwd=work, check=True)
                    res[b]["interpreter_wall"].append((time.perf_counter() - t0) * scale)
                    interp_eval = json.loads(r.stdout)
                dt, z = torch_infer(m, X, b)
                res[b]["pytorch"].append(dt)
                lz = float(nn.functional.binary_cross_entropy_with_logits(z, Y))
                acc = float(((z > 0) == (Y > 0.5)).float().mean())
                torch_eval = {"loss": lz, "accuracy": acc}
        infer = {"n": args.n, "batches": {}}
        for b in batches:
            gw, gs, pt = med(res[b]["generated_wall"]), med(res[b]["generated_startup"]), med(res[b]["pytorch"])
            gc = max(gw - gs, 1e-9)
            d = {
                "generated_samples_per_s_wall": args.n / gw,
                "generated_samples_per_s": args.n / gc,
                "generated_startup_s": gs,
                "pytorch_samples_per_s": args.n / pt,
                "generated_over_pytorch": (args.n / gc) / (args.n / pt),
                "runs": res[b],
            }
            if res[b]["interpreter_wall"]:
                iw = med(res[b]["interpreter_wall"])
                d["interpreter_samples_per_s_wall"] = args.n / iw
            infer["batches"][str(b)] = d
        infer["check"] = {"generated": gen_eval, "pytorch_same_weights": torch_eval, "interpreter": interp_eval}

    info["loadavg_end"] = os.getloadavg()
    results = {
        "what": "seconds per training epoch (median), one thread each, same data",
        "n_train": args.n, "interp_n": interp_n, "timesteps": T, "vocab": VOCAB, "batch_size": BATCH,
        "reps": args.reps, "interp_reps": min(interp_reps, args.reps), "quick": args.quick,
        "machine": info, "notes": notes, "train": train, "inference_lstm": infer,
    }

    # ---- report ----
    print()
    print(f"rnnc benchmark: {args.n} sequences x {T} steps, batch {BATCH}, 1 epoch, median of {args.reps} "
          f"(interpreter: {min(interp_reps, args.reps)}), one thread each")
    print(f"machine: {info['cpu']}, {info['logical_cpus']} logical CPUs"
          f"{', ' + info['hypervisor'] + ' guest' if info['hypervisor'] else ''}; "
          f"avx2 {'yes' if info['avx2'] else 'no'}, fma {'yes' if info['fma'] else 'no'}, "
          f"avx512f {'yes' if info['avx512f'] else 'no'}; {info['cc']}; torch {info['torch']}; "
          f"load avg {info['loadavg_start'][0]:.2f} -> {info['loadavg_end'][0]:.2f}")
    for n in notes:
        print("note: " + n)
    print()
    print("| spec | generated s/epoch | interpreter s/epoch | pytorch s/epoch | pytorch/generated | interpreter/generated |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in specs:
        r = train[s]
        print(f"| {s} | {fmt(r['generated_s_per_epoch'])} | {fmt(r['interpreter_s_per_epoch'])} | "
              f"{fmt(r['pytorch_s_per_epoch'])} | {fmt(r['pytorch_over_generated'], 2)} | "
              f"{fmt(r['interpreter_over_generated'], 2)} |")
    print()
    print("CPU seconds (user + sys) per epoch, medians (C trainers: whole process minus a one-batch run "
          "of the same process; PyTorch: time.process_time() around the epoch):")
    print()
    print("| spec | generated CPU s | interpreter CPU s | pytorch CPU s | pytorch/generated | interpreter/generated |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in specs:
        r = train[s]["cpu_s_per_epoch"]
        print(f"| {s} | {fmt(r['generated'])} | {fmt(r['interpreter'])} | {fmt(r['pytorch'])} | "
              f"{fmt(r['pytorch'] / r['generated'], 2)} | {fmt(r['interpreter'] / r['generated'], 2)} |")
    if infer:
        print()
        print(f"Inference, lstm, {args.n} sequences (generated: `evaluate` process wall time minus the same "
              f"process on one batch; PyTorch: torch.no_grad() forward):")
        print()
        print("| batch | generated samples/s | generated incl. start-up | interpreter incl. start-up | "
              "pytorch samples/s | generated/pytorch |")
        print("|---:|---:|---:|---:|---:|---:|")
        for b, d in infer["batches"].items():
            print(f"| {b} | {d['generated_samples_per_s']:.0f} | {d['generated_samples_per_s_wall']:.0f} | "
                  f"{fmt(d.get('interpreter_samples_per_s_wall'), 0)} | {d['pytorch_samples_per_s']:.0f} | "
                  f"{d['generated_over_pytorch']:.2f} |")
        c = infer["check"]
        print()
        print(f"same weights, same data: generated loss {c['generated']['loss']:.6f} acc {c['generated']['accuracy']:.4f}; "
              f"pytorch loss {c['pytorch_same_weights']['loss']:.6f} acc {c['pytorch_same_weights']['accuracy']:.4f}")

    out = os.path.join(outdir, "results.json")
    with open(out + ".tmp", "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    os.replace(out + ".tmp", out)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
