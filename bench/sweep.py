#!/usr/bin/python3
"""sweep.py — rnnc's generated trainers vs PyTorch over model sizes: Embedding(10000, 64)
-> LSTM / GRU / SimpleRNN(H) -> Dense(1, sigmoid), H = 8 ... 512, sequences of 100 tokens,
batch 64, RMSprop(1e-4), binary cross-entropy; one thread each, one epoch, on the same data.

Run from the repository root with Debian's Python (torch, numpy; OpenBLAS):

    /usr/bin/python3 bench/sweep.py            # the full sweep (make bench runs it after bench.py)
    /usr/bin/python3 bench/sweep.py --quick    # a smoke run: 1 rep, less work, H = 8, 128, 512

Per configuration: the spec is written as a .lua file into the work directory (the form
of specs/lstm.lua), built with `rnnc SPEC -o EXE` (wall clock = compile time) and
`rnnc SPEC -o X.c` (generated size); the number of sequences n is chosen so that an
epoch is about --work GFLOP of architectural FLOPs (bench.py's arch_flops):
n = clamp(round_to_64(work / training FLOPs per sample), --min-n, --max-n). Then, --reps
times, interleaved round-robin over the configurations with the order of the
contenders rotating: the generated trainer `fit --threads 1` (and `--threads 2` at
H >= --threads2-min-h), its first epoch's "seconds" and "cpu_seconds" from --json, and
PyTorch's epoch (bench.py's torch_epoch) on the same n sequences. Medians. The FMA peak
(bench/peak.c) is measured before and after; the better counts. Results: a Markdown table
and the targets on stdout, everything in build/bench/sweep.json; progress on stderr.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# First, before numpy and torch: importing bench re-executes this script without
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if either is set (bench.py explains why), then
# loads torch with one thread.
import bench  # noqa: E402
from bench import (ARCH, BATCH, ELEMWISE, GATES, TORCH_MODELS, arch_flops, blas_lines,  # noqa: E402
                   build_c_tool, epoch_flops, fit_args, log, machine_info, make_data, med, peak_cflags, ratio,
                   run_proc, torch_epoch, torch_model)

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = bench.ROOT
KINDS = ["lstm", "gru", "simplernn"]
SIZES = [8, 32, 64, 128, 256, 512]
QUICK_SIZES = [8, 128, 512]
VOCAB, EMB, STEPS = 10000, 64, 100
LAYER = {"lstm": "lstm", "gru": "gru", "simplernn": "simple_rnn"}        # the spec DSL's names
KERAS = {"lstm": "LSTM", "gru": "GRU", "simplernn": "SimpleRNN"}
DEFAULT_WORK, QUICK_WORK = 60.0, 15.0      # GFLOP per epoch
COMPILE_LIMIT_S = 10.0
TARGET_RATIO, TARGET_PEAK_PCT, TARGET_PEAK_MIN_H = 3.0, 50.0, 128
TARGET_SPEEDUP, THREADS2_MIN_H = 1.8, 64


def spec_name(kind, h):
    return f"sweep_{kind}_{h}"


def spec_text(kind, h):
    name = spec_name(kind, h)
    return f"""-- {name}.lua (written by bench/sweep.py): Embedding({VOCAB},{EMB}) -> {KERAS[kind]}({h}) -> Dense(1, sigmoid),
-- sequences of {STEPS} tokens
return sequential "{name}" {{
  embedding {{ {VOCAB}, {EMB}, input_length = {STEPS} }},
  {LAYER[kind]} {{ {h} }},
  dense {{ 1, activation = "sigmoid" }},

  compile = {{
    optimizer = rmsprop {{ learning_rate = 1e-4 }},
    loss = "binary_crossentropy",
    metrics = {{ "accuracy" }},
  }},
  fit = {{
    epochs = 10, batch_size = {BATCH}, validation_split = 0.2,
    callbacks = {{
      model_checkpoint {{ "best-{name}.safetensors", save_best_only = true }},
      early_stopping {{ patience = 3, restore_best_weights = true }},
    }},
  }},
}}
"""


def register(kind, h):
    """bench.py's tables learn the configuration: its architecture (for arch_flops and
    epoch_flops: the same formula as the seed specs) and its PyTorch model (for
    torch_model: Embedding(10000, 64) -> nn.LSTM/GRU/RNN(64, H) -> Linear(H, 1))."""
    assert kind in GATES and kind in ELEMWISE
    name = spec_name(kind, h)
    ARCH[name] = dict(T=STEPS, vocab=VOCAB, emb=EMB, layers=[(kind, EMB, h, False)])
    TORCH_MODELS[name] = (kind, 1, 0.0, VOCAB, EMB, h)
    return name


def choose_n(train_flops, work_gflop, lo, hi):
    """n = clamp(round_to_64(work / training FLOPs per sample), lo, hi)."""
    n = int(round(work_gflop * 1e9 / train_flops / BATCH)) * BATCH
    return max(lo, min(hi, n))


def fmt(x, nd=2):
    return "—" if x is None or x != x else f"{x:.{nd}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run: 1 rep, --work {QUICK_WORK:g}, sizes {','.join(map(str, QUICK_SIZES))}")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    ap.add_argument("--sizes", default=None, help="comma-separated hidden sizes (default "
                    + ",".join(map(str, SIZES)) + "; --quick: " + ",".join(map(str, QUICK_SIZES)) + ")")
    ap.add_argument("--reps", type=int, default=None, help="timed epochs per contender and configuration "
                    "(default 3; --quick: 1)")
    ap.add_argument("--work", type=float, default=None, help="architectural GFLOP per epoch that n is chosen for "
                    f"(default {DEFAULT_WORK:g}; --quick: {QUICK_WORK:g})")
    ap.add_argument("--min-n", type=int, default=640, help="smallest n (default 640)")
    ap.add_argument("--max-n", type=int, default=20000, help="largest n (default 20000)")
    ap.add_argument("--threads2-min-h", type=int, default=THREADS2_MIN_H,
                    help=f"run --threads 2 too from this H on (default {THREADS2_MIN_H}; a huge value: never)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build directory holding rnnc")
    ap.add_argument("--seed", type=int, default=4321, help="data seed")
    args = ap.parse_args()
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    work_gflop = args.work if args.work is not None else (QUICK_WORK if args.quick else DEFAULT_WORK)
    sizes = [int(v) for v in args.sizes.split(",") if v] if args.sizes else (QUICK_SIZES if args.quick else SIZES)
    kinds = [k for k in args.kinds.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            sys.exit(f"sweep: unknown kind {k!r} (known: {', '.join(KINDS)})")
    if reps < 1 or work_gflop <= 0 or args.min_n < BATCH or args.max_n < args.min_n or not sizes \
            or min(sizes) < 1 or not kinds:
        sys.exit("sweep: need --reps >= 1, --work > 0, 64 <= --min-n <= --max-n, sizes >= 1, some kinds")
    min_n, max_n = args.min_n, args.max_n

    build = os.path.abspath(args.build)
    rnnc = os.path.join(build, "rnnc")
    if not os.access(rnnc, os.X_OK):
        sys.exit(f"sweep: {rnnc} not found; run `make all` first")
    outdir = os.path.join(build, "bench")
    os.makedirs(outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="rnnc-sweep-", dir=outdir)
    notes = []
    info = machine_info()
    info["git"] = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                 text=True).stdout.strip() or None
    blines, bwarn = blas_lines(info)
    log(f"sweep: {info['cpu']}, {info['logical_cpus']} CPUs, torch {info['torch']}, load {info['loadavg_start']}")
    for ln in blines + ([bwarn] if bwarn else []):
        log("sweep: " + ln)
    loads = [os.getloadavg()[0]]

    log("sweep: FMA peak (bench/peak.c) ...")
    run_peak = build_c_tool("peak", peak_cflags(), outdir, work)
    peaks = [run_peak()]
    log(f"sweep: peak {peaks[0]['gflops']:.1f} GFLOP/s")

    # ---- the configurations: spec, n, build, size ----
    cfgs = []
    for kind in kinds:
        for h in sizes:
            name = register(kind, h)
            train, _, _, params, folded = arch_flops(name)
            n = choose_n(train, work_gflop, min_n, max_n)
            spec = os.path.join(work, name + ".lua")
            with open(spec, "w") as f:
                f.write(spec_text(kind, h))
            cfgs.append({"kind": kind, "H": h, "name": name, "spec": spec, "n": n, "train_flops_per_sample": train,
                         "params": params, "folded": folded, "epoch_flops": epoch_flops(name, n),
                         "threads2": h >= args.threads2_min_h})
    log("sweep: building " + ", ".join(f"{c['kind']} {c['H']} (n {c['n']})" for c in cfgs) + " ...")
    for c in cfgs:
        exe = os.path.join(work, c["name"])
        cmd = [rnnc, c["spec"], "-o", exe]
        rc, _, err, wall, cpu, _ = run_proc(cmd, work)
        if rc:
            sys.exit(f"sweep: {' '.join(cmd)} failed:\n{err}")
        cfile = exe + ".c"
        rc, _, err, cwall, _, _ = run_proc([rnnc, c["spec"], "-o", cfile], work)
        if rc:
            sys.exit(f"sweep: {rnnc} {c['spec']} -o {cfile} failed:\n{err}")
        c.update(exe=exe, compile_s=wall, compile_cpu_s=cpu, rnnc_only_s=cwall, c_bytes=os.path.getsize(cfile))
        log(f"sweep: built {c['name']}: {wall:.2f} s, {c['c_bytes']} bytes of C"
            + (f"  (over {COMPILE_LIMIT_S:g} s!)" if wall > COMPILE_LIMIT_S else ""))

    # ---- data: one set of the largest n; every configuration trains on its first n ----
    nmax = max(c["n"] for c in cfgs)
    x, y = make_data(nmax, args.seed, VOCAB, STEPS)
    X_all, Y_all = torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y)
    paths = {}
    for n in sorted({c["n"] for c in cfgs}):
        paths[n] = (os.path.join(work, f"x-{n}.npy"), os.path.join(work, f"y-{n}.npy"))
        np.save(paths[n][0], x[:n])
        np.save(paths[n][1], y[:n])

    # PyTorch warm-up (untimed): a batch of every model
    for c in cfgs:
        m, opt = torch_model(c["name"], 0)
        torch_epoch(m, opt, X_all[:c["n"]], Y_all[:c["n"]], 0, limit_batches=1)
    del m, opt

    # ---- the timed epochs: interleaved round-robin, rotating who goes first ----
    runs = {c["name"]: {k: {"wall": [], "cpu": []} for k in ("rnnc", "rnnc_t2", "pytorch")} for c in cfgs}
    losses = {c["name"]: {"rnnc": [], "pytorch": []} for c in cfgs}
    for rep in range(reps):
        for ci, c in enumerate(cfgs):
            name, n = c["name"], c["n"]
            who = ["rnnc", "rnnc_t2", "pytorch"] if c["threads2"] else ["rnnc", "pytorch"]
            k = (rep + ci) % len(who)
            for w in who[k:] + who[:k]:
                if w == "pytorch":
                    m, opt = torch_model(name, rep)
                    sec, loss, _, cpu = torch_epoch(m, opt, X_all[:n], Y_all[:n], rep)
                    del m, opt
                else:
                    nt = 2 if w == "rnnc_t2" else 1
                    ck = os.path.join(work, f"ck-{name}.safetensors")
                    sec, row, _ = bench.run_fit([c["exe"]] + fit_args(paths[n][0], paths[n][1], rep, ck, nt), work)
                    cpu, loss = row["cpu_seconds"], row["loss"]
                runs[name][w]["wall"].append(sec)
                runs[name][w]["cpu"].append(cpu)
                if w in losses[name]:
                    losses[name][w].append(loss)
            loads.append(os.getloadavg()[0])
            r = runs[name]
            log(f"sweep: rep {rep + 1}/{reps} {c['kind']:9s} H {c['H']:3d} n {n:5d}: rnnc {r['rnnc']['wall'][-1]:.3f} s "
                f"(CPU {r['rnnc']['cpu'][-1]:.3f})"
                + (f"  x2 {r['rnnc_t2']['wall'][-1]:.3f} s" if c["threads2"] else "")
                + f"  torch {r['pytorch']['wall'][-1]:.3f} s (CPU {r['pytorch']['cpu'][-1]:.3f})")

    peaks.append(run_peak())
    peak = max(p["gflops"] for p in peaks)
    info["loadavg_end"] = os.getloadavg()
    info["loadavg_samples"] = loads

    # ---- results ----
    rows = []
    for c in cfgs:
        r = runs[c["name"]]
        g, gc = med(r["rnnc"]["wall"]), med(r["rnnc"]["cpu"])
        p, pc = med(r["pytorch"]["wall"]), med(r["pytorch"]["cpu"])
        fl = c["epoch_flops"]
        row = {k: c[k] for k in ("kind", "H", "name", "n", "train_flops_per_sample", "params", "folded",
                                 "epoch_flops", "compile_s", "compile_cpu_s", "rnnc_only_s", "c_bytes")}
        row.update({
            "rnnc_s": g, "rnnc_cpu_s": gc, "pytorch_s": p, "pytorch_cpu_s": pc,
            "ratio_wall": ratio(p, g), "ratio_cpu": ratio(pc, gc),
            "rnnc_gflops": ratio(fl, gc) * 1e-9, "rnnc_gflops_wall": ratio(fl, g) * 1e-9,
            "rnnc_pct_peak": 100 * ratio(fl, gc) * 1e-9 / peak,
            "pytorch_gflops": ratio(fl, pc) * 1e-9, "pytorch_gflops_wall": ratio(fl, p) * 1e-9,
            "pytorch_pct_peak": 100 * ratio(fl, pc) * 1e-9 / peak,
            "threads2_s": med(r["rnnc_t2"]["wall"]) if c["threads2"] else None,
            "threads2_speedup": ratio(g, med(r["rnnc_t2"]["wall"])) if c["threads2"] else None,
            "threads2_speedup_paired_median": med([a / b for a, b in zip(r["rnnc"]["wall"], r["rnnc_t2"]["wall"])])
            if c["threads2"] else None,
            "compile_over_limit": c["compile_s"] > COMPILE_LIMIT_S,
            "runs": r, "first_epoch_loss_median": {k: med(v) for k, v in losses[c["name"]].items()},
        })
        rows.append(row)

    ncpu = os.cpu_count() or 1
    if max(loads) > 0.75 * ncpu:
        notes.append(f"the machine was loaded by other processes (1-minute load average {min(loads):.1f}-"
                     f"{max(loads):.1f} on {ncpu} CPUs during the run): wall times are inflated and noisy, the CPU "
                     "figures (ratio CPU, GFLOP/s) are the better guide, two-thread speed-ups are pessimistic")

    # ---- targets ----
    def worst(rs, key, lowest=True):
        rs = [q for q in rs if q[key] is not None and q[key] == q[key]]
        return (min if lowest else max)(rs, key=lambda q: q[key]) if rs else None

    def label(q):
        return f"{q['kind']} {q['H']}"

    targets = []
    # every row: PyTorch / rnnc >= 3x, wall and CPU
    bad = [q for q in rows if not (q["ratio_wall"] >= TARGET_RATIO and q["ratio_cpu"] >= TARGET_RATIO)]
    w, wc = worst(rows, "ratio_wall"), worst(rows, "ratio_cpu")
    targets.append((f"PyTorch / rnnc >= {TARGET_RATIO:g}x on every row (1 thread, wall and CPU)",
                    f"lowest {w['ratio_wall']:.2f}x wall ({label(w)}), {wc['ratio_cpu']:.2f}x CPU ({label(wc)}); "
                    f"{len(rows) - len(bad)} of {len(rows)} rows reach it"
                    + (" (not: " + ", ".join(f"{label(q)} {q['ratio_wall']:.2f}x/{q['ratio_cpu']:.2f}x" for q in bad)
                       + ")" if bad else ""),
                    not bad))
    big = [q for q in rows if q["H"] >= TARGET_PEAK_MIN_H]
    if big:
        bad = [q for q in big if not q["rnnc_pct_peak"] >= TARGET_PEAK_PCT]
        w = worst(big, "rnnc_pct_peak")
        targets.append((f"rnnc >= {TARGET_PEAK_PCT:g} % of the FMA peak at H >= {TARGET_PEAK_MIN_H} (CPU time)",
                        f"lowest {w['rnnc_pct_peak']:.1f} % ({label(w)}, {w['rnnc_gflops']:.1f} of {peak:.1f} GFLOP/s);"
                        f" {len(big) - len(bad)} of {len(big)} rows reach it"
                        + (" (not: " + ", ".join(f"{label(q)} {q['rnnc_pct_peak']:.1f} %" for q in bad) + ")"
                           if bad else ""),
                        not bad))
    else:
        targets.append((f"rnnc >= {TARGET_PEAK_PCT:g} % of the FMA peak at H >= {TARGET_PEAK_MIN_H}",
                        "no such row in this run", None))
    t2 = [q for q in rows if q["threads2_speedup"] is not None]
    if t2:
        bad = [q for q in t2 if not q["threads2_speedup"] >= TARGET_SPEEDUP]
        w = worst(t2, "threads2_speedup")
        targets.append((f"two threads >= {TARGET_SPEEDUP:g}x at H >= {args.threads2_min_h} (wall, first epoch)",
                        f"lowest {w['threads2_speedup']:.2f}x ({label(w)}); {len(t2) - len(bad)} of {len(t2)} rows "
                        "reach it" + (" (not: " + ", ".join(f"{label(q)} {q['threads2_speedup']:.2f}x" for q in bad)
                                      + ")" if bad else ""),
                        not bad))
    else:
        targets.append((f"two threads >= {TARGET_SPEEDUP:g}x at H >= {args.threads2_min_h}",
                        "no two-thread runs in this run", None))
    w = worst(rows, "compile_s", lowest=False)
    bad = [q for q in rows if q["compile_over_limit"]]
    targets.append((f"compile (rnnc SPEC -o EXE, wall) <= {COMPILE_LIMIT_S:g} s",
                    f"longest {w['compile_s']:.2f} s ({label(w)})"
                    + (" (over: " + ", ".join(f"{label(q)} {q['compile_s']:.1f} s" for q in bad) + ")" if bad else ""),
                    not bad))

    results = {
        "what": "rnnc generated trainer vs PyTorch, one epoch, one thread each, over recurrent layer kinds and sizes",
        "model": f"Embedding({VOCAB}, {EMB}) -> KIND(H) -> Dense(1, sigmoid), {STEPS} steps, batch {BATCH}, "
                 "RMSprop(1e-4), binary cross-entropy",
        "kinds": kinds, "sizes": sizes, "reps": reps, "work_gflop": work_gflop, "min_n": min_n, "max_n": max_n,
        "quick": args.quick, "threads2_min_h": args.threads2_min_h, "seed": args.seed,
        "machine": info, "pytorch_blas": info["torch_blas"], "openblas_env_removed": info["openblas_env_removed"],
        "peak": {"gflops": peak, "runs": peaks}, "notes": notes, "rows": rows,
        "targets": [dict(zip(("target", "measured", "met"), t)) for t in targets],
    }

    # ---- report ----
    print()
    print(f"rnnc size sweep: Embedding({VOCAB}, {EMB}) -> {'/'.join(KERAS[k] for k in kinds)}(H) -> Dense(1, sigmoid), "
          f"{STEPS} steps, batch {BATCH}, RMSprop(1e-4), BCE; one epoch, one thread each, median of {reps} interleaved "
          f"rep(s); n = clamp(round_to_64({work_gflop:g} GFLOP / training FLOPs per sample), {min_n}, {max_n})")
    print(f"CPU: {info['cpu']}, {info['logical_cpus']} logical CPUs"
          f"{', ' + info['hypervisor'] + ' guest' if info['hypervisor'] else ''}; {info['cc']}; git {info['git']}")
    print(f"FMA peak (bench/peak.c, one core, fp32, CPU time): {peak:.1f} GFLOP/s (before {peaks[0]['gflops']:.1f}, "
          f"after {peaks[-1]['gflops']:.1f})")
    print(f"PyTorch: torch {info['torch']}, {info['torch_threads']} thread")
    for ln in blines:
        print(ln)
    print(f"load average (1/5/15 min): start {' '.join(f'{v:.2f}' for v in info['loadavg_start'])}, "
          f"end {' '.join(f'{v:.2f}' for v in info['loadavg_end'])} (samples {min(loads):.2f}-{max(loads):.2f})")
    if bwarn:
        print()
        print("!" * 100)
        print(bwarn)
        print("!" * 100)
    for n in notes:
        print("note: " + n)
    print()
    print("s/epoch: wall, the trainer's \"seconds\" / PyTorch's perf_counter; ratio = PyTorch / rnnc; GFLOP/s = "
          "architectural FLOPs of the epoch (bench.py's arch_flops) / CPU seconds; % = of the FMA peak; "
          "x2 = rnnc --threads 2 speed-up (wall)")
    print()
    print("| kind | H | n | rnnc s/epoch | PyTorch s/epoch | ratio wall | ratio CPU | rnnc GFLOP/s | rnnc % peak | "
          "PyTorch GFLOP/s | PyTorch % peak | x2 speed-up | compile s | generated bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for q in rows:
        print(f"| {q['kind']} | {q['H']} | {q['n']} | {q['rnnc_s']:.3f} | {q['pytorch_s']:.3f} | "
              f"{fmt(q['ratio_wall'])} | {fmt(q['ratio_cpu'])} | {fmt(q['rnnc_gflops'], 1)} | "
              f"{fmt(q['rnnc_pct_peak'], 1)} | {fmt(q['pytorch_gflops'], 1)} | {fmt(q['pytorch_pct_peak'], 1)} | "
              f"{fmt(q['threads2_speedup'])} | {q['compile_s']:.2f}{' (> 10 s!)' if q['compile_over_limit'] else ''} | "
              f"{q['c_bytes']} |")
    print()
    print("Targets:")
    print()
    print("| target | measured | met? |")
    print("|---|---|---|")
    for t, m, ok in targets:
        print(f"| {t} | {m} | {'—' if ok is None else 'met' if ok else 'not met'} |")

    out = os.path.join(outdir, "sweep.json")
    with open(out + ".tmp", "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    os.replace(out + ".tmp", out)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
