#!/usr/bin/python3
"""bench.py — the performance table: rnnc's generated trainers vs the interpreter
(`rnnc SPEC --interpret`, the reference runtime) vs PyTorch, on the same data, in the
same run, one thread each; inference; the large model; two threads; the FMA peak and
achieved GFLOP/s; memory, build time and generated size; a summary with targets.

Run from the repository root with Debian's Python (it has torch and numpy):

    /usr/bin/python3 bench/bench.py            # the full run (make bench)
    /usr/bin/python3 bench/bench.py --quick    # a smoke run (about a minute and a half)

What is timed (see bench/README.md):
  * generated / interpreter: the trainer's own `fit --json` "seconds" of the epoch
    (progress.c: from the start of the first batch to the end of the last one; with
    --validation-split 0 and no --val-x it contains no validation pass). One fresh
    process per repetition, shuffled with --seed REP: the interpreter `--epochs 1`, a
    generated trainer `--epochs 6 --threads 1` (its first epoch is the figure).
  * two threads: pairs of such runs, `--threads 1` and `--threads 2`: the repetitions'
    and --thread-reps more, each 2-thread run just after a measure of the hand-off
    between the threads (bench/handoff.c), which tells the VM's quick periods from its
    slow ones.
  * PyTorch: time.perf_counter() around one epoch loop (shuffle, gather, forward,
    BCEWithLogitsLoss, backward, RMSprop step, running loss/accuracy), after an
    untimed warm-up of a few batches; a fresh model and optimizer every repetition.
  Runs are interleaved round-robin (spec by spec, rotating which contender goes
  first) because the machine is shared and noisy; the tables report medians.
The rival runs on the BLAS that Debian's python3-torch loads through libblas.so.3
(OpenBLAS when libopenblas0-pthread is installed: make bench installs it); the header
names the file and warns loudly when it is the netlib reference BLAS.
"""
import json
import os
import sys

# ---- the rival's BLAS environment: before numpy and torch are imported ----------------
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (set on some machines) make OpenBLAS select
# other, slower kernels; OpenBLAS reads them when it is loaded, i.e. at `import numpy` /
# `import torch`, so removing them from os.environ later would change nothing. (Without
# them OpenBLAS picks by CPU model, and may fall back to old kernels on a model it does
# not know: machine_info reports the core it chose, blas_lines warns.) If either is set,
# the script re-executes itself (the same interpreter, options and arguments) with both
# removed, and records what it removed. The generated C trainers use no BLAS, so this
# changes nothing for them. bench/sweep.py imports this module first and gets the same
# treatment (the re-executed script is whatever sys.orig_argv names).
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_REMOVED_MARK = "RNNC_BENCH_OPENBLAS_REMOVED"


def _reexec_without_openblas_vars():
    present = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    if not present or "RNNC_BENCH_OPENBLAS_CORE" in os.environ:   # (set by _choose_openblas_kernels)
        return
    if _REMOVED_MARK in os.environ:      # already re-executed once, and something set them again
        print(f"bench: WARNING: {', '.join(sorted(present))} set again after the re-exec; left as they are",
              file=sys.stderr, flush=True)
        return
    env = dict(os.environ)
    for k in OPENBLAS_VARS:
        env.pop(k, None)
    env[_REMOVED_MARK] = json.dumps(present)
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv)
    print(f"bench: re-executing without {', '.join(sorted(present))} (PyTorch's OpenBLAS picks its kernels "
          "itself)", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + argv[1:], env)


_reexec_without_openblas_vars()
# {name: value} of the variables removed by the re-exec above ({} when none was set)
OPENBLAS_ENV_REMOVED = json.loads(os.environ.pop(_REMOVED_MARK, "{}"))

import argparse  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # PyTorch runs on one thread, its BLAS too

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
# The generated trainers flush subnormal floats to zero, as TensorFlow does
# (runtime/core/fpenv.c); the rival gets the same mode, which can only make it faster
# (bench/README.md).
FLUSH_DENORMAL = torch.set_flush_denormal(True)

SPECS = ["simplernn", "lstm", "lstm_dropout", "lstm2", "gru"]
VOCAB, T, EMB, UNITS, BATCH = 500, 100, 16, 8, 64
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- data ----------------------------------------------------------------------------

def make_data(n, seed, vocab=VOCAB, steps=T):
    """n x steps int32 token ids in [0, vocab), Zipf-like (p(k) ~ 1/(k+2)^1.1), and float32
    0/1 labels that depend weakly on the tokens (so training is not pure noise)."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(vocab, dtype=np.float64)
    p = 1.0 / (ranks + 2.0) ** 1.1
    p /= p.sum()
    x = rng.choice(vocab, size=(n, steps), p=p).astype(np.int32)
    pos_words = (x % 7 == 3).sum(axis=1) - (x % 7 == 5).sum(axis=1)
    y = ((pos_words + rng.normal(0, 2.0, size=n)) > 0).astype(np.float32)
    return x, y


def make_padded_data(n, seed, vocab, steps):
    """Reviews of varied length padded 'pre' with id 0 (Keras's pad_sequences default), for
    a spec with mask_zero: lengths log-normal around 180 words (sigma 0.7, at least 10,
    at most `steps`: like IMDB's, most reviews fill the 200 steps and a third are
    shorter), words Zipf-like in [1, vocab). Returns (x, y, mean length)."""
    x, y = make_data(n, seed, vocab - 1, steps)
    x += 1
    rng = np.random.default_rng(seed + 1)
    lengths = np.clip(np.rint(rng.lognormal(np.log(180.0), 0.7, size=n)), 10, steps).astype(np.int64)
    x[np.arange(steps)[None, :] < (steps - lengths)[:, None]] = 0
    return x, y, float(lengths.mean())


# ---- machine ---------------------------------------------------------------------------

# Debian's netlib reference BLAS (package libblas3) lives here; OpenBLAS's libblas.so.3
# under .../openblas-pthread/ (or openblas-openmp/, openblas-serial/).
REFERENCE_BLAS_DIR = re.compile(r"^/usr/lib/[^/]+/blas/")


def torch_blas():
    """Which BLAS this process's torch runs on: after one matmul, the library files named
    libblas* / libopenblas* mapped into the process (/proc/self/maps, symlinks resolved).
    libtorch_cpu needs libblas.so.3 (Debian's alternative: OpenBLAS's or the netlib
    reference's); its file is "path". For OpenBLAS, its core (the kernels it chose) and
    configuration, asked of the library itself."""
    a = torch.ones(64, 64)
    float((a @ a).sum())
    files = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) < 6:
                    continue
                p = parts[5].strip()
                if os.path.basename(p).startswith(("libblas", "libopenblas")):
                    r = os.path.realpath(p)
                    if r not in files:
                        files.append(r)
    except OSError:
        pass
    blas = next((f for f in files if os.path.basename(f).startswith("libblas")), None) or \
        (files[0] if files else None)
    reference = bool(blas and REFERENCE_BLAS_DIR.match(blas))
    kind = ("none found" if blas is None else "netlib reference BLAS" if reference else
            "OpenBLAS" if "openblas" in blas.lower() else "other")
    info = {"path": blas, "kind": kind, "reference": reference, "files": files,
            "openblas_core": None, "openblas_config": None, "openblas_threads": None}
    lib = next((f for f in files if os.path.basename(f).startswith("libopenblas")), None)
    if lib:
        try:
            import ctypes
            h = ctypes.CDLL(lib)     # already mapped: the same handle
            for key, fn in (("openblas_core", "openblas_get_corename"), ("openblas_config", "openblas_get_config")):
                f = getattr(h, fn)
                f.restype = ctypes.c_char_p
                info[key] = f().decode(errors="replace").strip()
            info["openblas_threads"] = h.openblas_get_num_threads()
        except (OSError, AttributeError):
            pass
    return info


# OpenBLAS cores (openblas_get_corename) whose kernels use AVX-512 / at least AVX2.
OPENBLAS_AVX512_CORES = {"skylakex", "cooperlake", "sapphirerapids"}
OPENBLAS_AVX2_CORES = OPENBLAS_AVX512_CORES | {"haswell", "zen", "excavator"}


def openblas_core_below_isa(info):
    """None when fine, else what the CPU has that OpenBLAS's chosen kernels don't use.
    OpenBLAS (DYNAMIC_ARCH) picks its kernels by CPU model; a model it does not know gets
    a fallback (0.3.21 on a family 6 model 207 Xeon: Prescott, SSE3, ~6x slower sgemm)."""
    core = (info["torch_blas"].get("openblas_core") or "").lower()
    if not core:
        return None
    if info.get("avx512f") and core not in OPENBLAS_AVX512_CORES:
        return "AVX-512"
    if info.get("avx2") and core not in OPENBLAS_AVX2_CORES:
        return "AVX2"
    return None


# ---- the rival's kernels: OpenBLAS's best for this CPU ------------------------------------
# OpenBLAS picks its kernels by CPU model and falls back to old ones on a model it does
# not know (0.3.21 on a family 6 model 207 Xeon: Prescott, SSE3, about 6x slower sgemm
# than its AVX-512 kernels). The rival is PyTorch as a user who looked would run it: when
# OpenBLAS's own choice is below the CPU's instruction set, the script re-executes itself
# with OPENBLAS_CORETYPE naming OpenBLAS's kernels for that instruction set (SkylakeX for
# AVX-512, Haswell for AVX2), checks that a few matrix products are right with them, and
# says so in the header and the results.
_CORE_MARK = "RNNC_BENCH_OPENBLAS_CORE"


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.strip() == "flags":
                    return set(v.split())
    except OSError:
        pass
    return set()


def _isa_core(flags):
    """OpenBLAS's kernels for the CPU's instruction set, with the ISA's name."""
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "SkylakeX", "AVX-512"
    if {"avx2", "fma"} <= flags:
        return "Haswell", "AVX2"
    return None, None


def _products_are_right():
    """float32 products of a few shapes against float64: the largest error relative to the
    largest element, below 1e-5."""
    rng = np.random.default_rng(0)
    for m, k, n in ((64, 512, 2048), (1600, 64, 512), (513, 77, 1000), (3, 5, 7)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        want = a.astype(np.float64) @ b.astype(np.float64)
        got = (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()
        if not np.abs(got - want).max() <= 1e-5 * np.abs(want).max():
            return False
    return True


def _choose_openblas_kernels():
    """Re-executes with the ISA's kernels when OpenBLAS chose older ones; returns what was
    done: {"set": core or None, "detected": OpenBLAS's own choice, "checked": bool}."""
    forced = os.environ.pop(_CORE_MARK, None)
    if forced is not None:
        detected = json.loads(forced)
        if not _products_are_right():
            sys.exit(f"bench: OpenBLAS's {os.environ.get('OPENBLAS_CORETYPE')} kernels give wrong products on this CPU; "
                     "run with RNNC_BENCH_OPENBLAS_OWN_CHOICE=1 to keep OpenBLAS's own choice")
        return {"set": os.environ.get("OPENBLAS_CORETYPE"), "detected": detected, "checked": True}
    b = torch_blas()
    core = b.get("openblas_core")
    want, isa = _isa_core(_cpu_flags())
    below = core and want and openblas_core_below_isa({"torch_blas": b, "avx512f": isa == "AVX-512",
                                                       "avx2": isa in ("AVX-512", "AVX2")})
    if below and os.environ.get("RNNC_BENCH_OPENBLAS_OWN_CHOICE") != "1" and "OPENBLAS_CORETYPE" not in os.environ:
        env = dict(os.environ)
        env["OPENBLAS_CORETYPE"] = want
        env[_CORE_MARK] = json.dumps(core)
        env[_REMOVED_MARK] = json.dumps(OPENBLAS_ENV_REMOVED)
        print(f"bench: OpenBLAS chose its {core} kernels on this {isa} CPU; re-executing with "
              f"OPENBLAS_CORETYPE={want} (its {isa} kernels) for PyTorch", file=sys.stderr, flush=True)
        argv = list(getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv)
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + argv[1:], env)
    return {"set": None, "detected": core, "checked": False}


OPENBLAS_KERNELS = _choose_openblas_kernels()


def blas_lines(info):
    """The header lines about PyTorch's BLAS and the OpenBLAS variables: (lines, warning
    line or None)."""
    b = info["torch_blas"]
    desc = f"{b['path'] or 'no libblas/libopenblas mapped'} ({b['kind']}"
    if b["openblas_core"] and b["kind"] == "OpenBLAS":
        desc += f", core {b['openblas_core']}, {b['openblas_threads']} thread(s)"
    desc += ")"
    rm = info["openblas_env_removed"]
    env = ("removed before torch was loaded (were " + ", ".join(f"{k}={v}" for k, v in sorted(rm.items())) + ")"
           if rm else "not set")
    k = OPENBLAS_KERNELS
    lines = [f"PyTorch's BLAS (libblas.so.3 as loaded, /proc/self/maps): {desc}",
             f"OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the environment: {env}",
             "Subnormal floats: flushed to zero in the generated trainers (as TensorFlow) and in PyTorch "
             f"(torch.set_flush_denormal(True): {'set' if FLUSH_DENORMAL else 'not supported here, so not set'})"]
    if k["set"]:
        lines.append(f"OPENBLAS_CORETYPE={k['set']} set for PyTorch by the benchmark: OpenBLAS's own choice on this CPU "
                     f"was {k['detected']}, below its instruction set; products checked against float64")
    warn = None
    if b["reference"]:
        warn = (f"WARNING: THE RIVAL IS THE SLOW REFERENCE BLAS ({b['path']}): PyTorch's matrix products run on "
                "netlib's unoptimized Fortran, so every PyTorch figure is too slow and every ratio flatters rnnc. "
                "Install libopenblas0-pthread (make bench does) or point the libblas.so.3 alternative at OpenBLAS "
                "(update-alternatives --config libblas.so.3-$(uname -m)-linux-gnu).")
    elif b["kind"] != "OpenBLAS":
        warn = f"WARNING: PyTorch's BLAS is not OpenBLAS: {desc}"
    elif openblas_core_below_isa(info) and not k["set"]:
        warn = (f"WARNING: OPENBLAS RUNS ITS {b['openblas_core'].upper()} KERNELS ON THIS "
                f"{openblas_core_below_isa(info)} CPU: it did not recognise the CPU model and fell back (with "
                "OPENBLAS_CORETYPE unset, as this script runs it), so PyTorch's matrix products run well below this "
                "CPU's BLAS speed, PyTorch's figures are too slow and the ratios flatter rnnc (bench/README.md).")
    return lines, warn


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
    info = {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "hypervisor": hyp or None,
        "avx2": "avx2" in flags,
        "fma": "fma" in flags,
        "avx512f": "avx512f" in flags,
        "kernel": platform.release(),
        "cc": cc,
        "cflags": os.environ.get("CFLAGS", "(rnnc default: -O3, every x86-64 level on x86-64)"),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_blas": torch_blas(),
        "openblas_env_removed": OPENBLAS_ENV_REMOVED, "openblas_kernels": OPENBLAS_KERNELS,
        "loadavg_start": os.getloadavg(),
    }
    info["torch_blas"]["openblas_core_below_cpu_isa"] = openblas_core_below_isa(info)
    return info


# ---- the small C tools -----------------------------------------------------------------

def peak_cflags():
    """Flags for bench/peak.c: its 64-byte GNU C vectors in zmm registers (clang
    -march=native prefers 256-bit vectors on AVX-512 machines), multiply-adds contracted
    into FMAs (gcc does not contract in ISO C mode without -ffp-contract=fast)."""
    f = ["-O3", "-march=native", "-ffp-contract=fast"]
    if platform.machine() in ("x86_64", "amd64", "AMD64"):
        f.append("-mprefer-vector-width=512")
    return f


def build_c_tool(name, flags, outdir, cwd, libs=(), cc=None):
    """Build bench/NAME.c into OUTDIR/NAME with $CC (default clang); return a function
    that runs it in CWD and returns its one line of JSON."""
    cc = cc or os.environ.get("CC", "clang")
    exe = os.path.join(outdir, name)
    r = subprocess.run([cc, "-std=c17"] + flags + [os.path.join(ROOT, "bench", name + ".c")] + list(libs) +
                       ["-o", exe], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"bench: building bench/{name}.c failed:\n{r.stderr}")

    def run():
        rc, out, err, _, _, _ = run_proc([exe], cwd)
        if rc:
            sys.exit(f"bench: {name} failed:\n{err}")
        return json.loads(out)
    return run


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
    return exes, env


# ---- running the C trainers -------------------------------------------------------------

GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_proc(cmd, cwd, env=None):
    """Runs cmd to completion; returns (returncode, stdout, stderr, wall seconds, CPU
    seconds (user + sys, including its waited-for children, e.g. the C compiler under
    rnnc), max RSS in KiB) of that one process, from wait4(2).
    The max RSS comes from GNU time (`/usr/bin/time -f %M`) run in between: a child
    forked straight from this Python process inherits its ~250 MB of torch pages and the
    kernel keeps that high-water mark across exec, so wait4's own ru_maxrss would report
    Python's size, not the trainer's. (Without /usr/bin/time the figure is None.)"""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile("r", suffix=".time") as ft:
        full = [GNU_TIME, "-f", "%M", "-o", ft.name] + cmd if GNU_TIME else cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdout=fo, stderr=fe, cwd=cwd, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(errors="replace"), fe.read().decode(errors="replace")
        rss = None
        if GNU_TIME:
            lines = [ln for ln in ft.read().split() if ln.isdigit()]
            rss = int(lines[-1]) if lines else None
    return p.returncode, out, err, wall, ru.ru_utime + ru.ru_stime, rss


def run_fit_rows(cmd, workdir):
    """Runs a `fit ... --json` command; returns (the JSON rows, one per epoch, each with
    its "seconds" and "cpu_seconds"; the process's max RSS in KiB)."""
    rc, out, err, _, _, rss = run_proc(cmd, workdir)
    if rc != 0:
        sys.exit(f"bench: {' '.join(cmd)} exited {rc}:\n{err}")
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if not rows:
        sys.exit(f"bench: no JSON epoch line from {' '.join(cmd)}:\n{out}\n{err}")
    return rows, rss


def run_fit(cmd, workdir):
    """run_fit_rows for a one-epoch run: (its seconds, its JSON row, max RSS in KiB)."""
    rows, rss = run_fit_rows(cmd, workdir)
    return rows[0]["seconds"], rows[0], rss


# The generated trainers train GEN_EPOCHS epochs per process: the first is the figure
# compared with PyTorch (and the interpreter's first epoch); the last STEADY_EPOCHS give
# the speed-ups in steady state as well: with two threads the first 10-30 ms of a
# process used to run slower at times (gru: 0.055-0.10 s per epoch, then 0.024 s from the
# third or fourth epoch on), because the scheduler woke the worker thread, asleep through
# the data loading, on the CPU of the thread that woke it; under GNU time, as here, in
# about half the runs (core/parallel.c now moves such a worker off that CPU).
GEN_EPOCHS, STEADY_EPOCHS = 6, 3
STEADY = f"epochs {GEN_EPOCHS - STEADY_EPOCHS + 1}-{GEN_EPOCHS}"   # as the tables name them

# A two-thread run counts as one of the VM's slow periods when the hand-off measured just
# before it (bench/handoff.c) is above this: 0.2 us in the quick periods, 0.9 us or more in
# the slow ones, little in between (bench/README.md; bench/periods.sh uses the same line).
SLOW_HANDOFF_US = 0.5


def fit_args(x, y, seed, ckpt, threads=1, save=None, epochs=1):
    a = ["fit", "--train-x", x, "--train-y", y, "--epochs", str(epochs), "--json", "--validation-split", "0",
         "--seed", str(seed), "--checkpoint", ckpt, "--threads", str(threads)]
    if save:
        a += ["--save-weights", save]
    return a


# ---- FLOPs per sample, from the architecture --------------------------------------------

# (kind, input features F, units U, input dropout?) per recurrent layer; bench/README.md
# documents the formula. The data shape (T, vocab, embedding) is per spec too.
ARCH = {
    "simplernn": dict(T=100, vocab=500, emb=16, layers=[("simplernn", 16, 8, False)]),
    "lstm": dict(T=100, vocab=500, emb=16, layers=[("lstm", 16, 8, False)]),
    "lstm_dropout": dict(T=100, vocab=500, emb=16, layers=[("lstm", 16, 8, True)]),
    "lstm2": dict(T=100, vocab=500, emb=16, layers=[("lstm", 16, 8, True), ("lstm", 8, 8, True)]),
    "gru": dict(T=100, vocab=500, emb=16, layers=[("gru", 16, 8, False)]),
    "large_lstm": dict(T=200, vocab=10000, emb=128, layers=[("lstm", 128, 128, False)]),
    # the zoo (ZOO_SPECS): a bidirectional layer counts as its two halves
    "imdb_lstm": dict(T=80, vocab=20000, emb=128, layers=[("lstm", 128, 128, True)]),
    "imdb_bidirectional": dict(T=100, vocab=20000, emb=128, layers=[("lstm", 128, 64, False)] * 2),
    "imdb_bidirectional2": dict(T=200, vocab=20000, emb=128, layers=[("lstm", 128, 64, False)] * 4),
    # the convolution and pooling zoo: ("conv1d", in, filters, kernel_size, output steps,
    # steps a filter's gradient reaches: 1 under a global max pooling, whose backward
    # reaches only the step each filter's maximum came from), ("dense", in, units,
    # steps), a recurrent layer on steps of its own (its fifth field); the pooling
    # layers' and activations' FLOPs are left out; the head is in the list (head=False)
    "imdb_cnn": dict(T=400, vocab=5000, emb=50, head=False,
                     layers=[("conv1d", 50, 250, 3, 398, 1), ("dense", 250, 250, 1), ("dense", 250, 1, 1)]),
    "imdb_cnn_lstm": dict(T=100, vocab=20000, emb=128, head=False,
                          layers=[("conv1d", 128, 64, 5, 96, 96), ("lstm", 64, 70, False, 24), ("dense", 70, 1, 1)]),
    "imdb_fasttext": dict(T=400, vocab=20000, emb=50, head=False, layers=[("dense", 50, 1, 1)]),
    "imdb_flatten": dict(T=20, vocab=10000, emb=8, head=False, layers=[("dense", 160, 1, 1)]),
    # masked: the GRU's steps are the reviews' words (arch_flops' `steps`: the mean length
    # make_padded_data returns), not the 200 padded steps
    "imdb_masked_gru": dict(T=200, vocab=10000, emb=32, masked=True, layers=[("gru", 32, 32, False)]),
}
GATES = {"simplernn": 1, "lstm": 4, "gru": 3}
# element-wise FLOPs per unit and step (an activation counts as 1):
#   simplernn: bias, tanh = 2; lstm: 4 biases, 4 activations, c = f*c + i*g (3), tanh(c),
#   o*tanh(c) = 13; gru (Keras reset_after): 6 biases, z/r sums and sigmoids (4), r*hh,
#   + xh, tanh (3), h = z*h + (1-z)*hh (4) = 17.
ELEMWISE = {"simplernn": 2, "lstm": 13, "gru": 17}
RMSPROP_FLOPS_PER_PARAM = 7   # v = rho v + (1-rho) g^2 (3); w -= lr g / (sqrt(v) + eps) (4)


def arch_flops(spec, batch=BATCH, steps=None):
    """Architectural FLOPs: (training per sample, inference per sample, optimizer per
    batch, parameters, folded?). Training = 3 x forward (backward ~ 2 x forward: the
    data and weight gradients each cost one forward matmul), plus dropout masks, the
    embedding-gradient scatter and the dense head."""
    a = ARCH[spec]
    T, fwd, train, params = a["T"], 0, 0, a["vocab"] * a["emb"]
    for layer in a["layers"]:
        kind = layer[0]
        if kind == "conv1d":   # a product of the kernel_size * in window by the kernel at every output step
            _, C, O, k, steps, grad_steps = layer
            fwd += 2 * steps * k * C * O
            train += 2 * steps * k * C * O + 4 * grad_steps * k * C * O
            params += k * C * O + O
            continue
        if kind == "dense":
            _, F, O, steps = layer
            fwd += 2 * steps * F * O
            train += 6 * steps * F * O
            params += F * O + O
            continue
        _, F, U, drop, *rest = layer
        Tl = rest[0] if rest else steps if a.get("masked") and steps else T
        G = GATES[kind]
        step = 2 * (F + U) * G * U + ELEMWISE[kind] * U
        fwd += Tl * step
        train += 3 * Tl * step + (2 * Tl * F if drop else 0)
        params += (F + U) * G * U + G * U * (2 if kind == "gru" else 1)
    if a.get("head", True):
        U = a["layers"][-1][2]
        head = 2 * U + 2
        params += U + 1
        fwd += head
        train += 3 * head
    train += T * a["emb"]
    first = a["layers"][0]
    folded = first[0] in GATES and not first[3] and a["vocab"] * 2 <= batch * T   # compiler/plan.c's rule
    return train, fwd, RMSPROP_FLOPS_PER_PARAM * params, params, folded


def epoch_flops(spec, n, batch=BATCH, steps=None):
    train, _, opt, _, _ = arch_flops(spec, batch, steps)
    return n * train + -(-n // batch) * opt


# ---- PyTorch ----------------------------------------------------------------------------

class KerasLike(nn.Module):
    """Embedding(500,16) -> [Dropout(p) -> RNN(8)] x layers -> last h -> [Dropout(q)] ->
    Linear(8,1) (logit). Dropout on each recurrent layer's input sequence, element-wise
    per (sample, step, feature): what tf.keras 2.x LSTM(dropout=p) does on its fused path
    (docs/keras-semantics.md, RNN dropout). bidirectional: each RNN is
    Bidirectional(RNN) with merge_mode concat, as one torch module with
    bidirectional=True; the last one's output is its two final states (Keras's y and
    y_rev without return_sequences)."""

    def __init__(self, kind, layers=1, dropout=0.0, vocab=VOCAB, emb=EMB, units=UNITS, bidirectional=False,
                 head_dropout=0.0):
        super().__init__()
        cls = {"simplernn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        width = 2 * units if bidirectional else units
        self.emb = nn.Embedding(vocab, emb)
        self.rnns = nn.ModuleList([cls(emb if i == 0 else width, units, batch_first=True, bidirectional=bidirectional)
                                   for i in range(layers)])
        self.drop = nn.Dropout(dropout) if dropout > 0 else None
        self.head_drop = nn.Dropout(head_dropout) if head_dropout > 0 else None
        self.bidirectional = bidirectional
        self.fc = nn.Linear(width, 1)

    def forward(self, x):
        h = self.emb(x)
        for rnn in self.rnns:
            if self.drop is not None:
                h = self.drop(h)
            h, state = rnn(h)
        if self.bidirectional:
            hn = state[0] if isinstance(state, tuple) else state
            last = torch.cat([hn[-2], hn[-1]], dim=1)
        else:
            last = h[:, -1, :]
        if self.head_drop is not None:
            last = self.head_drop(last)
        return self.fc(last).squeeze(1)


TORCH_MODELS = {
    "simplernn": ("simplernn", 1, 0.0),
    "lstm": ("lstm", 1, 0.0),
    "lstm_dropout": ("lstm", 1, 0.3),
    "lstm2": ("lstm", 2, 0.3),
    "gru": ("gru", 1, 0.0),
    # Embedding(10000, 128) -> LSTM(128) -> Linear(128, 1), sequences of 200
    "large_lstm": ("lstm", 1, 0.0, 10000, 128, 128),
    # the zoo: nn.LSTM has no recurrent dropout, so imdb_lstm's rival drops only its input
    # (less work than the generated trainer's, whose recurrent mask is one multiply a step)
    "imdb_lstm": ("lstm", 1, 0.2, 20000, 128, 128),
    "imdb_bidirectional": ("lstm", 1, 0.0, 20000, 128, 64, True, 0.5),
    "imdb_bidirectional2": ("lstm", 2, 0.0, 20000, 128, 64, True),
}


class ImdbCNN(nn.Module):
    """Keras's imdb_cnn.py: Embedding(5000, 50) -> Dropout(0.2) -> Conv1D(250, 3, relu) ->
    GlobalMaxPooling1D -> Dense(250) -> Dropout(0.2) -> relu -> Dense(1) (the logit; the
    sigmoid is the loss's). nn.Conv1d wants channels first: the [n, T, C] embedding is
    transposed (docs/keras-semantics.md, PyTorch weight mappings)."""

    def __init__(self):
        super().__init__()
        self.emb, self.drop = nn.Embedding(5000, 50), nn.Dropout(0.2)
        self.conv, self.hidden, self.out = nn.Conv1d(50, 250, 3), nn.Linear(250, 250), nn.Linear(250, 1)

    def forward(self, x):
        h = torch.relu(self.conv(self.drop(self.emb(x)).transpose(1, 2))).amax(dim=2)
        return self.out(torch.relu(self.drop(self.hidden(h)))).squeeze(1)


class ImdbCNNLSTM(nn.Module):
    """Keras's imdb_cnn_lstm.py: Embedding(20000, 128) -> Dropout(0.25) -> Conv1D(64, 5,
    relu) -> MaxPooling1D(4) -> LSTM(70) -> Dense(1) (the logit)."""

    def __init__(self):
        super().__init__()
        self.emb, self.drop = nn.Embedding(20000, 128), nn.Dropout(0.25)
        self.conv, self.pool = nn.Conv1d(128, 64, 5), nn.MaxPool1d(4)
        self.lstm, self.out = nn.LSTM(64, 70, batch_first=True), nn.Linear(70, 1)

    def forward(self, x):
        h = self.pool(torch.relu(self.conv(self.drop(self.emb(x)).transpose(1, 2)))).transpose(1, 2)
        h, _ = self.lstm(h)
        return self.out(h[:, -1, :]).squeeze(1)


class ImdbFastText(nn.Module):
    """Keras's imdb_fasttext.py (ngram_range 1): Embedding(20000, 50) ->
    GlobalAveragePooling1D -> Dense(1) (the logit)."""

    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.Embedding(20000, 50), nn.Linear(50, 1)

    def forward(self, x):
        return self.out(self.emb(x).mean(dim=1)).squeeze(1)


class ImdbFlatten(nn.Module):
    """Deep Learning with Python's Embedding(10000, 8) -> Flatten -> Dense(1) (the logit),
    sequences of 20."""

    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.Embedding(10000, 8), nn.Linear(160, 1)

    def forward(self, x):
        return self.out(self.emb(x).flatten(1)).squeeze(1)


class ImdbMaskedGRU(nn.Module):
    """Embedding(10000, 32, mask_zero) -> GRU(32) -> Dense(1) (the logit), on reviews
    padded with id 0. PyTorch's way to skip the padding is a packed sequence: the batch
    comes padded 'post' (the same reviews, words first: MaskedRival), the lengths are
    counted from it, and the GRU runs each review's words alone; its final state is that
    of each review's last word, as Keras's masked GRU gives. nn.GRU is Keras's
    reset_after form."""

    def __init__(self):
        super().__init__()
        self.emb, self.gru, self.out = nn.Embedding(10000, 32), nn.GRU(32, 32, batch_first=True), nn.Linear(32, 1)

    def forward(self, x):
        lengths = (x != 0).sum(dim=1)
        packed = nn.utils.rnn.pack_padded_sequence(self.emb(x), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return self.out(h[-1]).squeeze(1)


def post_padded(x):
    """The 'pre'-padded rows of x with their words moved to the front (PyTorch's packing
    wants the padding at the end); made once, before any timing."""
    out = np.zeros_like(x)
    for i, row in enumerate(x):
        words = row[row != 0]
        out[i, :words.size] = words
    return out


TORCH_MODELS.update({"imdb_cnn": ImdbCNN, "imdb_cnn_lstm": ImdbCNNLSTM, "imdb_fasttext": ImdbFastText,
                     "imdb_flatten": ImdbFlatten, "imdb_masked_gru": ImdbMaskedGRU})

# The text-model zoo: Keras's IMDB examples (specs/imdb_*.lua), each with data of its own
# shape (ARCH), the optimizer and batch size their specs say (Adam and 32 unless listed
# below); one epoch of --zoo-n sequences, the generated trainer on one and on two
# threads, PyTorch on one, interleaved.
ZOO_SPECS = ["imdb_lstm", "imdb_bidirectional", "imdb_bidirectional2", "imdb_cnn", "imdb_cnn_lstm", "imdb_fasttext",
             "imdb_flatten", "imdb_masked_gru"]
ZOO_BATCH = 32
ZOO_BATCHES = {"imdb_cnn_lstm": 30, "imdb_masked_gru": 128}
ZOO_RMSPROP = {"imdb_flatten", "imdb_masked_gru"}   # Keras's RMSprop() defaults: learning rate 1e-3, rho 0.9
ZOO_MASKED = {"imdb_masked_gru"}   # data from make_padded_data
# the small models train on IMDB's whole training set (25000 reviews) unless --zoo-n
# says otherwise: on 2000 their epoch is a few milliseconds, too short to time threads
ZOO_FULL = {"imdb_fasttext", "imdb_flatten", "imdb_masked_gru"}
IMDB_TRAIN = 25000
ZOO_N = 2000   # the others' sequences


def torch_model(spec, seed):
    torch.manual_seed(seed)
    m = KerasLike(*TORCH_MODELS[spec])
    # Keras RMSprop(1e-4): rho 0.9, eps 1e-7 (Keras puts eps inside the root, PyTorch
    # outside; irrelevant for timing).
    opt = torch.optim.RMSprop(m.parameters(), lr=1e-4, alpha=0.9, eps=1e-7)
    return m, opt


def zoo_torch_model(spec, seed):
    """A zoo spec's rival: its model class, or KerasLike; Keras's Adam (learning rate 1e-3,
    epsilon 1e-7) or RMSprop."""
    torch.manual_seed(seed)
    t = TORCH_MODELS[spec]
    m = t() if callable(t) else KerasLike(*t)
    if spec in ZOO_RMSPROP:
        return m, torch.optim.RMSprop(m.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    return m, torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-7)


def torch_epoch(m, opt, X, Y, seed, limit_batches=None, batch=BATCH):
    """One training epoch; returns (seconds, loss, accuracy). Timed: shuffle, gather,
    forward, loss, backward, step and the running loss/accuracy, like the C trainer."""
    lossf = nn.BCEWithLogitsLoss()
    n = X.shape[0]
    g = torch.Generator().manual_seed(seed)
    m.train()
    t0, c0 = time.perf_counter(), time.process_time()
    perm = torch.randperm(n, generator=g)
    sum_loss, correct, seen = 0.0, 0, 0
    for b, start in enumerate(range(0, n, batch)):
        if limit_batches is not None and b >= limit_batches:
            break
        idx = perm[start:start + batch]
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
    t0, c0 = time.perf_counter(), time.process_time()
    outs = []
    with torch.no_grad():
        for start in range(0, X.shape[0], batch):
            outs.append(m(X[start:start + batch]))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dt, torch.cat(outs), cpu


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
    """docs/keras-semantics.md, PyTorch weight mappings: weight_ih = K^T, weight_hh = R^T,
    bias_ih = b, bias_hh = 0."""
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



def ratio(a, b):
    return a / b if a == a and b == b and b > 0 else float("nan")


def met_both(wall, cpu, target):
    """'yes' when the wall and the CPU ratio both reach the target, 'no' when neither
    does, else which one does."""
    w, c = wall >= target, cpu >= target
    return "yes" if w and c else "no" if not (w or c) else ("wall only" if w else "CPU only")


# ---- the zoo --------------------------------------------------------------------------------

def run_zoo(zoo_specs, args, exes, work, run_handoff, handoffs, loads):
    """Each zoo spec on its own data: one epoch of the generated trainer on one thread
    and on two (after a measure of the hand-off), and PyTorch on one, in a rotating
    order, --zoo-reps times. Returns {spec: medians, ratios and every run}."""
    zoo = {}
    for zi, s in enumerate(zoo_specs):
        a = ARCH[s]
        batch = ZOO_BATCHES.get(s, ZOO_BATCH)
        n = args.zoo_n if args.zoo_n is not None else IMDB_TRAIN if s in ZOO_FULL else ZOO_N
        words = None   # a masked spec's mean review length
        if s in ZOO_MASKED:
            zx, zy, words = make_padded_data(n, args.seed + 2 + zi, a["vocab"], a["T"])
        else:
            zx, zy = make_data(n, args.seed + 2 + zi, a["vocab"], a["T"])
        log(f"bench: zoo {s} ({n} x {a['T']}{', masked: %.1f words on average' % words if words else ''}, "
            f"vocab {a['vocab']}, batch {batch}, {'RMSprop' if s in ZOO_RMSPROP else 'Adam'}) ...")
        zp = {k: os.path.join(work, f"zoo-{s}-{k}.npy") for k in ("x", "y")}
        np.save(zp["x"], zx)
        np.save(zp["y"], zy)
        ZX = torch.from_numpy((post_padded(zx) if s in ZOO_MASKED else zx).astype(np.int64))
        ZY = torch.from_numpy(zy)
        m, opt = zoo_torch_model(s, 0)
        torch_epoch(m, opt, ZX, ZY, 0, limit_batches=2, batch=batch)   # warm-up, untimed
        t = {"generated": [], "generated_t2": [], "pytorch": []}
        c = {k: [] for k in t}
        hs = []
        for rep in range(args.zoo_reps):
            order = list(t)
            order = order[rep % 3:] + order[:rep % 3]
            for who in order:
                ck = os.path.join(work, f"ck-zoo-{s}.safetensors")
                if who == "pytorch":
                    m, opt = zoo_torch_model(s, rep)
                    sec, _, _, cpu = torch_epoch(m, opt, ZX, ZY, rep, batch=batch)
                else:
                    nt = 2 if who == "generated_t2" else 1
                    if nt == 2:
                        hs.append(run_handoff())
                        handoffs.append(hs[-1])
                    sec, row, _ = run_fit([exes[s]] + fit_args(zp["x"], zp["y"], rep, ck, nt), work)
                    cpu = row["cpu_seconds"]
                t[who].append(sec)
                c[who].append(cpu)
            loads.append(os.getloadavg()[0])
            log(f"bench: zoo rep {rep + 1}/{args.zoo_reps} {s:20s} gen {t['generated'][-1]:.2f}s  "
                f"gen x2 {t['generated_t2'][-1]:.2f}s  torch {t['pytorch'][-1]:.2f}s")
        g, g2, p = med(t["generated"]), med(t["generated_t2"]), med(t["pytorch"])
        cg, cp = med(c["generated"]), med(c["pytorch"])
        fl = epoch_flops(s, n, batch, words)
        zoo[s] = {"n": n, "reps": args.zoo_reps, "timesteps": a["T"], "vocab": a["vocab"], "batch": batch,
                  "mean_words": words,
                  "generated_s": g, "generated_t2_s": g2, "pytorch_s": p, "generated_cpu_s": cg, "pytorch_cpu_s": cp,
                  "pytorch_over_generated": p / g, "pytorch_over_generated_cpu": ratio(cp, cg),
                  "threads2_speedup": g / g2,
                  "threads2_speedups": [x1 / x2 for x1, x2 in zip(t["generated"], t["generated_t2"])],
                  "handoff_us": hs, "arch_flops_per_epoch": fl, "generated_gflops_wall": fl / g * 1e-9,
                  "generated_gflops_cpu": ratio(fl, cg) * 1e-9, "pytorch_gflops_cpu": ratio(fl, cp) * 1e-9,
                  "runs": t, "cpu_runs": c}
    return zoo


def print_zoo(zoo, args):
    print(f"The zoo: Keras's IMDB examples (their own length, vocabulary, batch size and optimizer), one epoch of "
          f"n sequences, medians of {args.zoo_reps}:")
    print()
    print("| spec | n | T | generated s (1 thread) | CPU s | generated s (2 threads) | 2 threads vs 1 | PyTorch s | "
          "CPU s | PyTorch / generated | (CPU) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s, r in zoo.items():
        T = f"{r['timesteps']} ({r['mean_words']:.0f} words)" if r.get("mean_words") else r["timesteps"]
        print(f"| {s} | {r['n']} | {T} | {r['generated_s']:.3f} | {r['generated_cpu_s']:.3f} | {r['generated_t2_s']:.3f} | "
              f"{r['threads2_speedup']:.2f}x | {r['pytorch_s']:.2f} | {r['pytorch_cpu_s']:.2f} | "
              f"{r['pytorch_over_generated']:.1f}x | {fmt(r['pytorch_over_generated_cpu'], 1)}x |")


def zoo_summary(zoo):
    rows = []
    for s, r in zoo.items():
        rows.append((f"training epoch, {s}, PyTorch / generated (1 thread, {r['reps']} runs)", ">= 5x",
                     f"{r['pytorch_over_generated']:.1f}x wall, {r['pytorch_over_generated_cpu']:.1f}x CPU",
                     met_both(r["pytorch_over_generated"], r["pytorch_over_generated_cpu"], 5)))
        rows.append((f"2 threads vs 1, {s} (wall, {r['reps']} runs)", ">= 1.8x",
                     f"{r['threads2_speedup']:.2f}x (runs: {', '.join('%.2f' % x for x in r['threads2_speedups'])})",
                     "yes" if r["threads2_speedup"] >= 1.8 else "no"))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="timed epochs per contender and spec (default 5; --quick: 2)")
    ap.add_argument("--n", type=int, default=20000, help="training sequences (default 20000; --quick: 4000)")
    ap.add_argument("--interp-n", type=int, default=None,
                    help="sequences for the interpreter (default: same as --n); its time is scaled to --n")
    ap.add_argument("--interp-reps", type=int, default=None, help="interpreter repetitions (default: --reps)")
    ap.add_argument("--specs", default=",".join(SPECS), help="comma-separated subset of " + ",".join(SPECS))
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 reps, 4000 sequences, large_lstm 640 sequences x 2 reps")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build directory holding rnnc")
    ap.add_argument("--seed", type=int, default=1234, help="data seed")
    ap.add_argument("--no-infer", action="store_true", help="skip the inference measurement")
    ap.add_argument("--no-large", action="store_true", help="skip large_lstm")
    ap.add_argument("--large-n", type=int, default=5000, help="large_lstm training sequences (default 5000)")
    ap.add_argument("--large-reps", type=int, default=3, help="large_lstm repetitions (default 3)")
    ap.add_argument("--zoo", default=",".join(ZOO_SPECS), help="comma-separated subset of " + ",".join(ZOO_SPECS))
    ap.add_argument("--no-zoo", action="store_true", help="skip the zoo")
    ap.add_argument("--zoo-n", type=int, default=None,
                    help=f"zoo training sequences for every zoo spec (default {ZOO_N}, and {IMDB_TRAIN} for " + ", ".join(sorted(ZOO_FULL)) +
                         "; --quick: 320 for all)")
    ap.add_argument("--zoo-reps", type=int, default=3, help="zoo repetitions (default 3; --quick: 1)")
    ap.add_argument("--compile-reps", type=int, default=3, help="timed `rnnc -o` builds per spec (default 3)")
    ap.add_argument("--thread-reps", type=int, default=10,
                    help="extra paired runs of the generated trainers, 1 and 2 threads, for the two-thread "
                         "figures (default 10; --quick: 1)")
    args = ap.parse_args()
    if args.quick:
        if "--reps" not in sys.argv:
            args.reps = 2
        if "--n" not in sys.argv:
            args.n = 4000
        if "--large-n" not in sys.argv:
            args.large_n = 640
        if "--large-reps" not in sys.argv:
            args.large_reps = 2
        if "--compile-reps" not in sys.argv:
            args.compile_reps = 1
        if "--thread-reps" not in sys.argv:
            args.thread_reps = 1
        if args.zoo_n is None:
            args.zoo_n = 320
        if "--zoo-reps" not in sys.argv:
            args.zoo_reps = 1
    interp_n = min(args.interp_n or args.n, args.n)
    interp_reps = args.interp_reps or args.reps
    specs = [s for s in args.specs.split(",") if s]
    for s in specs:
        if s not in SPECS:
            sys.exit(f"bench: unknown spec {s!r} (known: {', '.join(SPECS)})")
    if args.reps < 1 or args.n < BATCH or args.large_n < BATCH or args.large_reps < 1 or args.compile_reps < 1 \
            or args.thread_reps < 0:
        sys.exit("bench: --reps, --large-reps, --compile-reps must be >= 1, --thread-reps >= 0 and --n, --large-n >= 64")
    large = not args.no_large
    zoo_specs = [] if args.no_zoo else [z for z in args.zoo.split(",") if z]
    for z in zoo_specs:
        if z not in ZOO_SPECS:
            sys.exit(f"bench: unknown zoo spec {z!r} (known: {', '.join(ZOO_SPECS)})")
    if zoo_specs and ((args.zoo_n is not None and args.zoo_n < ZOO_BATCH) or args.zoo_reps < 1):
        sys.exit(f"bench: --zoo-n must be >= {ZOO_BATCH} and --zoo-reps >= 1")

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
    blines, bwarn = blas_lines(info)
    for ln in blines + ([bwarn] if bwarn else []):
        log("bench: " + ln)
    loads = [os.getloadavg()[0]]

    # ---- the small C tools: bench/peak.c (the FMA peak) and bench/handoff.c (the two
    # threads' hand-off, linked against the build's runtime; on a shared VM it is not
    # constant, bench/README.md, so it is measured just before every two-thread run, and
    # the two-thread figures are given for the quick and the slow periods apart) ----
    bdir = os.path.dirname(rnnc)

    def c_tool(name, flags, libs=()):
        return build_c_tool(name, flags, outdir, work, libs)

    log("bench: FMA peak (bench/peak.c) ...")
    run_peak = c_tool("peak", peak_cflags())
    peaks = [run_peak()]
    handoff_tool = c_tool("handoff", ["-O2", "-I" + os.path.join(bdir, "include")],
                          [os.path.join(bdir, "librnnrt.a"), "-lpthread", "-lm"])

    def run_handoff():
        return handoff_tool()["us_per_job"]
    handoffs = [run_handoff()]

    # Data, once: the training set and, for the interpreter, its first interp_n rows.
    x, y = make_data(args.n, args.seed)
    paths = {k: os.path.join(work, k + ".npy") for k in ("x", "y", "ix", "iy")}
    np.save(paths["x"], x)
    np.save(paths["y"], y)
    np.save(paths["ix"], x[:interp_n])
    np.save(paths["iy"], y[:interp_n])
    X, Y = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y)
    scale = args.n / interp_n
    if interp_n != args.n:
        notes.append(f"the interpreter trained on the first {interp_n} of the {args.n} sequences; "
                     f"its seconds are scaled by {scale:g}")

    log("bench: building the generated trainers ...")
    all_specs = specs + (["large_lstm"] if large else []) + zoo_specs
    exes, build_env = build_trainers(rnnc, all_specs, outdir, notes)

    # ---- compile time and generated size (rnnc + compiler), interleaved over specs ----
    log("bench: compile times ...")
    cdir = os.path.join(work, "compile")
    os.makedirs(cdir)
    comp = {s: {"wall": [], "cpu": []} for s in all_specs}
    csize = {}
    for rep in range(args.compile_reps):
        for s in all_specs:
            cmd = [rnnc, os.path.join(ROOT, "specs", s + ".lua"), "-o", os.path.join(cdir, s)]
            rc, _, err, wall, cpu, _ = run_proc(cmd, work, build_env)
            if rc:
                sys.exit(f"bench: {' '.join(cmd)} failed:\n{err}")
            comp[s]["wall"].append(wall)
            comp[s]["cpu"].append(cpu)
    for s in all_specs:
        cfile = os.path.join(cdir, s + ".c")
        cmd = [rnnc, os.path.join(ROOT, "specs", s + ".lua"), "-o", cfile]
        rc, _, err, wall, cpu, _ = run_proc(cmd, work, build_env)
        if rc:
            sys.exit(f"bench: {' '.join(cmd)} failed:\n{err}")
        csize[s] = {"bytes": os.path.getsize(cfile), "rnnc_only_wall_s": wall, "rnnc_only_cpu_s": cpu}
    compile_res = {s: {"wall_s": med(comp[s]["wall"]), "cpu_s": med(comp[s]["cpu"]), "runs": comp[s], **csize[s]}
                   for s in all_specs}

    # PyTorch warm-up (untimed): a few batches of every model.
    for s in specs:
        m, opt = torch_model(s, 0)
        torch_epoch(m, opt, X, Y, 0, limit_batches=5)

    # CPU time of the C trainers: the epoch's "cpu_seconds" from --json (CPU time of the
    # whole process, every thread, over exactly the span of "seconds"), so start-up and
    # data loading are out of it as they are out of PyTorch's process_time() figure.
    # ---- training: generated (1 and 2 threads), interpreter, PyTorch, interleaved ----
    contenders = ["generated", "generated_t2", "interpreter", "pytorch"]
    times = {s: {c: [] for c in contenders} for s in specs}
    cpus = {s: {c: [] for c in contenders} for s in specs}
    rss = {s: {"generated": [], "generated_t2": []} for s in specs}
    same = {s: [] for s in specs}
    steady = {s: {"generated": [], "generated_t2": []} for s in specs}   # the last epochs, median per run
    # every 1-thread / 2-thread pair of runs, for the two-thread figures: first epoch and
    # steady seconds of each, and the hand-off measured just before the 2-thread run
    pairs = {s: [] for s in specs}
    extra = {s: {"generated_loss": [], "interpreter_loss": [], "pytorch_loss": []} for s in specs}

    def run_generated(s, seed, ck, nt, save):
        """Spec s's generated trainer, GEN_EPOCHS epochs on nt threads; a two-thread run
        right after a measure of the hand-off. Returns (its epoch rows, its max RSS, the
        median seconds of its last STEADY_EPOCHS, the hand-off in us or None)."""
        h = None
        if nt == 2:
            h = run_handoff()
            handoffs.append(h)
        erows, mx = run_fit_rows([exes[s]] + fit_args(paths["x"], paths["y"], seed, ck, nt, save, GEN_EPOCHS), work)
        return erows, mx, med([q["seconds"] for q in erows[-STEADY_EPOCHS:]]), h

    def add_pair(s, w1, w2, handoff, t1, t2, t1_steady, t2_steady):
        """A 1-thread / 2-thread pair of spec s: its saved weights compared, its figures kept."""
        with open(w1, "rb") as f1, open(w2, "rb") as f2:
            same[s].append(f1.read() == f2.read())
        pairs[s].append({"handoff_us": handoff, "t1": t1, "t2": t2, "t1_steady": t1_steady, "t2_steady": t2_steady})
    for rep in range(args.reps):
        for si, s in enumerate(specs):
            k = (rep + si) % len(contenders)
            wts = {}
            for c in contenders[k:] + contenders[:k]:      # rotate who goes first
                ck = os.path.join(work, f"ck-{s}-{c}.safetensors")
                if c in ("generated", "generated_t2"):
                    nt = 1 if c == "generated" else 2
                    wts[c] = os.path.join(work, f"w-{s}-{c}.safetensors")
                    erows, mx, st, h = run_generated(s, rep, ck, nt, wts[c])
                    if nt == 2:
                        h_before = h
                    row = erows[0]
                    times[s][c].append(row["seconds"])
                    cpus[s][c].append(row["cpu_seconds"])
                    steady[s][c].append(st)
                    rss[s][c].append(mx)
                    if c == "generated":
                        extra[s]["generated_loss"].append(row["loss"])
                elif c == "interpreter":
                    if rep >= interp_reps:
                        continue
                    cmd = [rnnc, os.path.join(ROOT, "specs", s + ".lua"), "--interpret"] + \
                        fit_args(paths["ix"], paths["iy"], rep, ck)
                    sec, row, _ = run_fit(cmd, work)
                    times[s][c].append(sec * scale)
                    cpus[s][c].append(row["cpu_seconds"] * scale)
                    extra[s]["interpreter_loss"].append(row["loss"])
                else:
                    m, opt = torch_model(s, rep)
                    sec, loss, _, cpu = torch_epoch(m, opt, X, Y, rep)
                    times[s][c].append(sec)
                    cpus[s][c].append(cpu)
                    extra[s]["pytorch_loss"].append(loss)
            add_pair(s, wts["generated"], wts["generated_t2"], h_before, times[s]["generated"][-1],
                     times[s]["generated_t2"][-1], steady[s]["generated"][-1], steady[s]["generated_t2"][-1])
            loads.append(os.getloadavg()[0])
            log(f"bench: rep {rep + 1}/{args.reps} {s:13s} gen {times[s]['generated'][-1]:.3f}s  "
                f"gen x2 {times[s]['generated_t2'][-1]:.3f}s ({'same' if same[s][-1] else 'DIFFERENT'} weights)  "
                f"interp {fmt(times[s]['interpreter'][-1] if times[s]['interpreter'] else None)}s  "
                f"torch {times[s]['pytorch'][-1]:.3f}s")

    # ---- two threads: more 1-thread / 2-thread pairs of the generated trainers ----
    # (a pair takes seconds, a PyTorch epoch many; the VM's slow periods come and go for
    # minutes, so the two-thread figures need more runs than the PyTorch ratios do)
    for rep in range(args.thread_reps):
        for si, s in enumerate(specs):
            res, w = {}, {}
            for nt in ((1, 2) if (rep + si) % 2 == 0 else (2, 1)):
                w[nt] = os.path.join(work, f"w-{s}-pair{nt}.safetensors")
                erows, _, st, h = run_generated(s, args.reps + rep, os.path.join(work, f"ck-{s}-pair.safetensors"), nt,
                                                w[nt])
                res[nt] = (erows[0]["seconds"], st)
                if nt == 2:
                    h_before = h
            add_pair(s, w[1], w[2], h_before, res[1][0], res[2][0], res[1][1], res[2][1])
            log(f"bench: pair {rep + 1}/{args.thread_reps} {s:13s} 1 thread {res[1][0]:.4f}s  2 threads "
                f"{res[2][0]:.4f}s  hand-off {h_before:.2f} us ({'same' if same[s][-1] else 'DIFFERENT'} weights)")

    def two_threads(ps):
        """The two-thread figures of some pairs: medians and their ratios, first epoch and steady."""
        if not ps:
            return {"runs": 0}
        g, g2 = med([q["t1"] for q in ps]), med([q["t2"] for q in ps])
        st, st2 = med([q["t1_steady"] for q in ps]), med([q["t2_steady"] for q in ps])
        return {"runs": len(ps), "s_1thread": g, "s_2threads": g2, "speedup": ratio(g, g2),
                "speedup_paired_median": med([q["t1"] / q["t2"] for q in ps]),
                "steady_s_1thread": st, "steady_s_2threads": st2, "speedup_steady": ratio(st, st2)}

    train = {}
    for s in specs:
        g, _, i, p = (med(times[s][c]) for c in contenders)
        cg, cp = med(cpus[s]["generated"]), med(cpus[s]["pytorch"])
        fl = epoch_flops(s, args.n)
        train[s] = {
            "generated_s_per_epoch": g, "interpreter_s_per_epoch": i, "pytorch_s_per_epoch": p,
            "pytorch_over_generated": p / g, "interpreter_over_generated": i / g,
            "pytorch_over_generated_cpu": ratio(cp, cg),
            "threads2_weights_identical": all(same[s]), "threads2_weight_comparisons": len(same[s]),
            "steady_runs": steady[s],
            # the two-thread figures over every pair (main loop and --thread-reps), and
            # split by the VM's period at the time of the 2-thread run
            "threads2": {"all": two_threads(pairs[s]),
                         "quick": two_threads([q for q in pairs[s] if q["handoff_us"] <= SLOW_HANDOFF_US]),
                         "slow": two_threads([q for q in pairs[s] if q["handoff_us"] > SLOW_HANDOFF_US]),
                         "pairs": pairs[s]},
            "generated_samples_per_s": args.n / g, "pytorch_samples_per_s": args.n / p,
            "arch_flops_per_epoch": fl,
            "generated_gflops_wall": fl / g * 1e-9, "generated_gflops_cpu": ratio(fl, cg) * 1e-9,
            "pytorch_gflops_cpu": ratio(fl, cp) * 1e-9,
            "max_rss_kib": {c: max((v or [0]), key=lambda q: q or 0) for c, v in rss[s].items()},
            "runs": times[s],
            "cpu_s_per_epoch": {c: med(cpus[s][c]) for c in contenders},
            "cpu_runs": cpus[s],
            "first_epoch_loss_median": {k: med(v) for k, v in extra[s].items()},
        }

    # ---- peak memory: lstm2 `fit` as a user runs it (built-in data, validation, all cores) ----
    mem = None
    if "lstm2" in specs:
        rc, _, err, _, _, mx = run_proc([exes["lstm2"], "fit", "--epochs", "1", "--json", "--checkpoint",
                                         os.path.join(work, "ck-mem.safetensors")], work)
        if rc:
            sys.exit(f"bench: lstm2 fit (built-in data) failed:\n{err}")
        mem = {"builtin_fit_max_rss_kib": mx or 0, "bench_fit_max_rss_kib": max(
            q or 0 for q in rss["lstm2"]["generated"] + rss["lstm2"]["generated_t2"])}

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
        keys = ("generated_wall", "generated_pass", "generated_pass_cpu", "interpreter_wall", "pytorch", "pytorch_cpu")
        res = {b: {k: [] for k in keys} for b in batches}
        gen_eval = None
        interp_eval = None
        torch_eval = {}
        for rep in range(args.reps):
            for b in batches:
                ev = ["evaluate", "--weights", wpath, "--json", "--batch-size", str(b), "--threads", "1"]
                rc, out, err, wall, cpu, _ = run_proc([exes["lstm"]] + ev + ["--x", paths["x"], "--y", paths["y"]],
                                                      work)
                if rc:
                    sys.exit(f"bench: evaluate failed:\n{err}")
                res[b]["generated_wall"].append(wall)
                gen_eval = json.loads(out)
                # The evaluation pass itself, as the trainer times it (no start-up or loading).
                res[b]["generated_pass"].append(gen_eval["seconds"])
                res[b]["generated_pass_cpu"].append(gen_eval["cpu_seconds"])
                if b == BATCH and rep < interp_reps:
                    rc, out, err, wall, _, _ = run_proc([rnnc, os.path.join(ROOT, "specs", "lstm.lua"), "--interpret"]
                                                        + ev + ["--x", paths["ix"], "--y", paths["iy"]], work)
                    if rc:
                        sys.exit(f"bench: interpreter evaluate failed:\n{err}")
                    res[b]["interpreter_wall"].append(wall * scale)
                    interp_eval = json.loads(out)
                dt, z, cpu = torch_infer(m, X, b)
                res[b]["pytorch"].append(dt)
                res[b]["pytorch_cpu"].append(cpu)
                lz = float(nn.functional.binary_cross_entropy_with_logits(z, Y))
                acc = float(((z > 0) == (Y > 0.5)).float().mean())
                torch_eval = {"loss": lz, "accuracy": acc}
        infer = {"n": args.n, "batches": {}}
        _, inf_fwd, _, _, _ = arch_flops("lstm")
        for b in batches:
            gw, pt = med(res[b]["generated_wall"]), med(res[b]["pytorch"])
            gc = max(med(res[b]["generated_pass"]), 1e-9)
            gcpu = max(med(res[b]["generated_pass_cpu"]), 1e-9)
            pcpu = med(res[b]["pytorch_cpu"])
            d = {
                "generated_samples_per_s_wall": args.n / gw,
                "generated_samples_per_s": args.n / gc,
                "generated_samples_per_cpu_s": args.n / gcpu,
                "generated_startup_s": gw - gc,
                "pytorch_samples_per_s": args.n / pt,
                "pytorch_samples_per_cpu_s": args.n / pcpu,
                "generated_over_pytorch": (args.n / gc) / (args.n / pt),
                "generated_over_pytorch_cpu": pcpu / gcpu,
                "generated_gflops_cpu": inf_fwd * args.n / gcpu * 1e-9,
                "runs": res[b],
            }
            if res[b]["interpreter_wall"]:
                iw = med(res[b]["interpreter_wall"])
                d["interpreter_samples_per_s_wall"] = args.n / iw
            infer["batches"][str(b)] = d
        infer["check"] = {"generated": gen_eval, "pytorch_same_weights": torch_eval, "interpreter": interp_eval}

    # ---- large_lstm: generated vs PyTorch, one thread each, interleaved ----
    big = None
    if large:
        a = ARCH["large_lstm"]
        log(f"bench: large_lstm ({args.large_n} x {a['T']}) ...")
        lx, ly = make_data(args.large_n, args.seed + 1, a["vocab"], a["T"])
        lp = {k: os.path.join(work, "large-" + k + ".npy") for k in ("x", "y")}
        np.save(lp["x"], lx)
        np.save(lp["y"], ly)
        LX, LY = torch.from_numpy(lx.astype(np.int64)), torch.from_numpy(ly)
        ck = os.path.join(work, "ck-large.safetensors")
        m, opt = torch_model("large_lstm", 0)
        torch_epoch(m, opt, LX, LY, 0, limit_batches=2)
        lt = {"generated": [], "pytorch": []}
        lc = {"generated": [], "pytorch": []}
        lrss = []
        for rep in range(args.large_reps):
            order = ["generated", "pytorch"] if rep % 2 == 0 else ["pytorch", "generated"]
            for c in order:
                if c == "generated":
                    sec, row, mx = run_fit([exes["large_lstm"]] + fit_args(lp["x"], lp["y"], rep, ck), work)
                    lt[c].append(sec)
                    lc[c].append(row["cpu_seconds"])
                    lrss.append(mx)
                else:
                    m, opt = torch_model("large_lstm", rep)
                    sec, _, _, cpu = torch_epoch(m, opt, LX, LY, rep)
                    lt[c].append(sec)
                    lc[c].append(cpu)
            loads.append(os.getloadavg()[0])
            log(f"bench: large rep {rep + 1}/{args.large_reps} gen {lt['generated'][-1]:.2f}s "
                f"(CPU {lc['generated'][-1]:.2f}s)  torch {lt['pytorch'][-1]:.2f}s (CPU {lc['pytorch'][-1]:.2f}s)")
        g, p = med(lt["generated"]), med(lt["pytorch"])
        cg, cp = med(lc["generated"]), med(lc["pytorch"])
        fl = epoch_flops("large_lstm", args.large_n)
        big = {"n": args.large_n, "reps": args.large_reps, "generated_s": g, "pytorch_s": p,
               "generated_cpu_s": cg, "pytorch_cpu_s": cp, "pytorch_over_generated": p / g,
               "pytorch_over_generated_cpu": ratio(cp, cg), "arch_flops_per_epoch": fl,
               "generated_gflops_wall": fl / g * 1e-9, "generated_gflops_cpu": ratio(fl, cg) * 1e-9,
               "pytorch_gflops_cpu": ratio(fl, cp) * 1e-9, "max_rss_kib": max(q or 0 for q in lrss),
               "runs": lt, "cpu_runs": lc}

    zoo = run_zoo(zoo_specs, args, exes, work, run_handoff, handoffs, loads)

    peaks.append(run_peak())
    peak = max(pk["gflops"] for pk in peaks)

    info["loadavg_end"] = os.getloadavg()
    info["loadavg_samples"] = loads
    ncpu = os.cpu_count() or 1
    if max(loads) > 0.75 * ncpu:
        notes.append(f"the machine was loaded by other processes (1-minute load average {min(loads):.1f}-"
                     f"{max(loads):.1f} on {ncpu} CPUs during the run): wall times are inflated and noisy, "
                     f"the CPU-time figures are the better guide, and the 2-thread speed-ups are pessimistic "
                     f"(the second thread competes for a CPU)")
    results = {
        "what": "seconds per training epoch (median), one thread each, same data; summary",
        "n_train": args.n, "interp_n": interp_n, "timesteps": T, "vocab": VOCAB, "batch_size": BATCH,
        "reps": args.reps, "interp_reps": min(interp_reps, args.reps), "quick": args.quick,
        "machine": info, "pytorch_blas": info["torch_blas"], "openblas_env_removed": OPENBLAS_ENV_REMOVED,
        "notes": notes, "train": train, "inference_lstm": infer, "large_lstm": big, "zoo": zoo,
        "peak": {"gflops": peak, "runs": peaks}, "handoff_us": handoffs, "compile": compile_res, "memory_lstm2": mem,
        "flops_per_sample": {s: dict(zip(("train", "inference", "optimizer_per_batch", "params", "folded"),
                                         arch_flops(s, steps=zoo.get(s, {}).get("mean_words")))) for s in all_specs},
    }

    # ---- report ----
    print()
    print(f"rnnc benchmark: {args.n} sequences x {T} steps, batch {BATCH}, 1 epoch, median of {args.reps} "
          f"(interpreter: {min(interp_reps, args.reps)}), one thread each (C trainers: --threads 1)")
    print(f"machine: {info['cpu']}, {info['logical_cpus']} logical CPUs"
          f"{', ' + info['hypervisor'] + ' guest' if info['hypervisor'] else ''}; "
          f"avx2 {'yes' if info['avx2'] else 'no'}, fma {'yes' if info['fma'] else 'no'}, "
          f"avx512f {'yes' if info['avx512f'] else 'no'}; {info['cc']}; torch {info['torch']}; "
          f"load avg {info['loadavg_start'][0]:.2f} -> {info['loadavg_end'][0]:.2f} "
          f"(samples {min(loads):.2f}-{max(loads):.2f})")
    for ln in blines:
        print(ln)
    if bwarn:
        print()
        print("!" * 100)
        print(bwarn)
        print("!" * 100)
        print()
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
    print("CPU seconds per epoch, medians (C trainers: the epoch's cpu_seconds from --json, the process's "
          "CPU time over the epoch; PyTorch: time.process_time() around the epoch):")
    print()
    print("| spec | generated CPU s | interpreter CPU s | pytorch CPU s | pytorch/generated | interpreter/generated |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in specs:
        r = train[s]["cpu_s_per_epoch"]
        print(f"| {s} | {fmt(r['generated'])} | {fmt(r['interpreter'])} | {fmt(r['pytorch'])} | "
              f"{fmt(ratio(r['pytorch'], r['generated']), 2)} | {fmt(ratio(r['interpreter'], r['generated']), 2)} |")
    print()
    print("Two threads: generated `fit --threads 2` vs `--threads 1` (wall, the trainer's \"seconds\"), same seed, "
          f"{GEN_EPOCHS} epochs per process: the first epoch, and {STEADY} (median per process, then "
          f"median over the runs); every pair of runs: the {args.reps} of the table above and {args.thread_reps} "
          "more; weights after the last epoch compared byte for byte (--save-weights) in every pair:")
    print()
    print(f"| spec | runs | 1 thread s | 2 threads s | speed-up, first epoch | paired median | "
          f"{STEADY}: 1 thread s | 2 threads s | speed-up | weights identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in specs:
        r, a = train[s], train[s]["threads2"]["all"]
        print(f"| {s} | {a['runs']} | {fmt(a['s_1thread'])} | {fmt(a['s_2threads'])} | {fmt(a['speedup'], 2)} | "
              f"{fmt(a['speedup_paired_median'], 2)} | {fmt(a['steady_s_1thread'])} | {fmt(a['steady_s_2threads'])} | "
              f"{fmt(a['speedup_steady'], 2)} | "
              f"{'yes' if r['threads2_weights_identical'] else 'NO'} ({r['threads2_weight_comparisons']} runs) |")
    print()
    print(f"The same pairs split by the VM's period at the time of the 2-thread run: the hand-off between the two "
          f"threads (bench/handoff.c, an empty 4-item rnn_parallel_for) measured just before it, slow above "
          f"{SLOW_HANDOFF_US} us (in this run: median {med(handoffs):.2f} us, range {min(handoffs):.2f}-"
          f"{max(handoffs):.2f} us over {len(handoffs)} samples; about 0.2 us in the quick periods, 0.9 us or more "
          f"in the slow ones, when moving data between the vCPUs is slow; bench/README.md):")
    print()
    print(f"| spec | quick: runs | speed-up, first epoch | {STEADY} | slow: runs | speed-up, first epoch | {STEADY} |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s in specs:
        q, w = train[s]["threads2"]["quick"], train[s]["threads2"]["slow"]
        print(f"| {s} | {q['runs']} | {fmt(q.get('speedup'), 2)} | {fmt(q.get('speedup_steady'), 2)} | "
              f"{w['runs']} | {fmt(w.get('speedup'), 2)} | {fmt(w.get('speedup_steady'), 2)} |")
    if infer:
        print()
        print(f"Inference, lstm, {args.n} sequences, `evaluate --threads 1` (generated: the evaluation pass's "
              f"seconds and cpu_seconds from --json; PyTorch: torch.no_grad() forward):")
        print()
        print("| batch | generated samples/s | generated incl. start-up | interpreter incl. start-up | "
              "pytorch samples/s | generated/pytorch | generated/pytorch (CPU) |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for b, d in infer["batches"].items():
            print(f"| {b} | {d['generated_samples_per_s']:.0f} | {d['generated_samples_per_s_wall']:.0f} | "
                  f"{fmt(d.get('interpreter_samples_per_s_wall'), 0)} | {d['pytorch_samples_per_s']:.0f} | "
                  f"{d['generated_over_pytorch']:.2f} | {d['generated_over_pytorch_cpu']:.2f} |")
        c = infer["check"]
        print()
        print(f"same weights, same data: generated loss {c['generated']['loss']:.6f} acc {c['generated']['accuracy']:.4f}; "
              f"pytorch loss {c['pytorch_same_weights']['loss']:.6f} acc {c['pytorch_same_weights']['accuracy']:.4f}")
    if big:
        print()
        print(f"large_lstm (Embedding 10000x128, LSTM 128, Dense 1): {big['n']} sequences x 200, batch 64, one epoch, "
              f"one thread each, median of {big['reps']}: generated {big['generated_s']:.2f} s "
              f"(CPU {big['generated_cpu_s']:.2f} s, max RSS {big['max_rss_kib'] / 1024:.1f} MiB), "
              f"PyTorch {big['pytorch_s']:.2f} s (CPU {big['pytorch_cpu_s']:.2f} s)")
    if zoo:
        print()
        print_zoo(zoo, args)
    print()
    print(f"Arithmetic: one-core FMA peak (bench/peak.c, fp32, CPU time) {peak:.1f} GFLOP/s "
          f"(per kernel: {peaks[-1]['kernels']}). Architectural FLOPs per epoch (bench/README.md) / CPU seconds:")
    print()
    print("| model | train FLOPs/sample | folded embedding | GFLOP/epoch | generated GFLOP/s (CPU) | "
          "generated GFLOP/s (wall) | % of peak (CPU) | pytorch GFLOP/s (CPU) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    rows = [(s, train[s]) for s in specs] + ([("large_lstm", big)] if big else []) + [(z, zoo[z]) for z in zoo]
    for s, r in rows:
        tr, _, _, _, folded = arch_flops(s, steps=r.get("mean_words"))
        print(f"| {s} | {round(tr)} | {'yes (executed < counted)' if folded else 'no'} | "
              f"{r['arch_flops_per_epoch'] * 1e-9:.2f} | {r['generated_gflops_cpu']:.1f} | "
              f"{r['generated_gflops_wall']:.1f} | {100 * r['generated_gflops_cpu'] / peak:.1f} | "
              f"{r['pytorch_gflops_cpu']:.2f} |")
    print()
    print("Build: `rnnc SPEC -o OUT` (rnnc + clang, rnnc's default flags: -O3, on x86-64 every level), medians of "
          f"{args.compile_reps}; generated C size (`-o OUT.c`):")
    print()
    print("| spec | rnnc + compiler wall s | CPU s | rnnc alone (-o X.c) wall s | generated .c bytes |")
    print("|---|---:|---:|---:|---:|")
    for s in all_specs:
        r = compile_res[s]
        print(f"| {s} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['rnnc_only_wall_s']:.3f} | {r['bytes']} |")
    if mem:
        print()
        print(f"Peak memory, lstm2 `fit`: {mem['bench_fit_max_rss_kib'] / 1024:.1f} MiB max RSS in the benchmark runs "
              f"(20000 x 100 .npy, --threads 1/2); {mem['builtin_fit_max_rss_kib'] / 1024:.1f} MiB for "
              f"`lstm2 fit --epochs 1` (built-in 20000 + 5000 validation, all cores)")

    # ---- the summary ----
    summ = []   # (what, target, measured, met)
    tgt = {"simplernn": 30}
    for s in specs:
        r = train[s]
        t = tgt.get(s, 50)
        summ.append((f"training epoch, {s}, PyTorch / generated (1 thread)", f">= {t}x",
                     f"{r['pytorch_over_generated']:.1f}x wall, {r['pytorch_over_generated_cpu']:.1f}x CPU",
                     met_both(r["pytorch_over_generated"], r["pytorch_over_generated_cpu"], t)))
    if infer:
        d = infer["batches"][str(BATCH)]
        summ.append(("inference lstm, generated / PyTorch no_grad (batch 64)", ">= 30x",
                     f"{d['generated_over_pytorch']:.1f}x wall, {d['generated_over_pytorch_cpu']:.1f}x CPU",
                     met_both(d["generated_over_pytorch"], d["generated_over_pytorch_cpu"], 30)))
    if big:
        summ.append((f"large_lstm epoch ({big['n']} x 200), PyTorch / generated (1 thread)", ">= 1.5x",
                     f"{big['pytorch_over_generated']:.2f}x wall, {big['pytorch_over_generated_cpu']:.2f}x CPU",
                     met_both(big["pytorch_over_generated"], big["pytorch_over_generated_cpu"], 1.5)))
    for s in specs:
        r = train[s]
        a, q = r["threads2"]["all"], r["threads2"]["quick"]
        first_ok, steady_ok = (a["speedup"] or 0) >= 1.8, (a["speedup_steady"] or 0) >= 1.8
        quick_ok = q["runs"] > 0 and (q["speedup"] or 0) >= 1.8 and (q["speedup_steady"] or 0) >= 1.8
        summ.append((f"2 threads vs 1, {s} (wall)", ">= 1.8x, identical weights",
                     f"{fmt(a['speedup'], 2)}x first epoch, {fmt(a['speedup_steady'], 2)}x {STEADY} ({a['runs']} runs; "
                     f"quick periods: {fmt(q.get('speedup'), 2)}x / {fmt(q.get('speedup_steady'), 2)}x, {q['runs']} runs); "
                     f"identical {'yes' if r['threads2_weights_identical'] else 'no'}",
                     "no (weights differ)" if not r["threads2_weights_identical"] else
                     "yes" if first_ok and steady_ok else
                     "in the quick periods only" if quick_ok else
                     f"{STEADY} only" if steady_ok else
                     "first epoch only" if first_ok else "no"))
    summ += zoo_summary(zoo)
    summ.append(("one-core fp32 FMA peak (bench/peak.c)", "—", f"{peak:.1f} GFLOP/s", "—"))
    for s, r in rows:
        summ.append((f"achieved, {s} training (architectural FLOPs / CPU s)", "near the floor",
                     f"{r['generated_gflops_cpu']:.1f} GFLOP/s = {100 * r['generated_gflops_cpu'] / peak:.1f}% of peak",
                     "—"))
    if mem:
        mx = max(mem["bench_fit_max_rss_kib"], mem["builtin_fit_max_rss_kib"]) / 1024
        summ.append(("peak memory, lstm2 fit (max RSS)", "<= 64 MiB", f"{mx:.1f} MiB", "yes" if mx <= 64 else "no"))
    for s in specs + zoo_specs:
        r = compile_res[s]
        summ.append((f"rnnc + compiler, {s}", "<= 5 s", f"{r['wall_s']:.2f} s wall ({r['cpu_s']:.2f} s CPU)",
                     "yes" if r["wall_s"] <= 5 else "no"))
    for s in specs + zoo_specs:
        r = compile_res[s]
        summ.append((f"generated C size, {s}", "<= 1 MB", f"{r['bytes'] / 1e6:.3f} MB",
                     "yes" if r["bytes"] <= 1_000_000 else "no"))
    results["summary"] = [dict(zip(("what", "target", "measured", "met"), row)) for row in summ]
    print()
    print("Summary:")
    print()
    print("| measure | target | measured | met? |")
    print("|---|---|---|---|")
    for row in summ:
        print("| " + " | ".join(row) + " |")

    out = os.path.join(outdir, "results.json")
    with open(out + ".tmp", "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    os.replace(out + ".tmp", out)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
