#!/usr/bin/python3
"""isa.py — the trainer rnnc builds by default on x86-64 (every level in one program, the
best picked at start-up: README "Shipping") against the same spec built for this machine
alone (--march native), in the same run: is the shippable trainer as fast here?
(make bench-isa)

    /usr/bin/python3 bench/isa.py              # the seed specs and large_lstm
    /usr/bin/python3 bench/isa.py --quick      # a smoke run

Both trainers of a spec come from the same rnnc (BUILD/rnnc), clang, rnnc's default
flags (CC and CFLAGS of the environment are not passed on). They train on the built-in
data, one thread, interleaved exactly as bench/compare.py runs its pairs (every round
runs each spec's pair, the order alternating; figures are the medians of epochs 2..E
per process, then the median over the repetitions of the paired ratios
levels / native); "within 5%" when that ratio is at most 1.05 for wall and for CPU
time. The weight tensors of a pair are compared byte for byte: the copy the default
trainer runs here (x86-64-v4 on an AVX-512 machine, v3 on an AVX2 one) has FMA like
-march=native, so the weights should be identical (rnn_isa.h). Also: rnnc's build time
(wall, the levels' compilers run side by side on the cores) and the executable's size.

Results: a Markdown table on stdout, every run in BUILD/bench/isa.json, progress on stderr.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (run_fit, compare_weights, spread, later, quartiles, clean_env)

ROOT = compare.ROOT
TARGET = 1.05
SIDES = ("native", "levels")
MARCH = {"native": "native", "levels": "all"}


def build(rnnc, spec, exe, march, env):
    t0 = time.perf_counter()
    r = subprocess.run([rnnc, spec, "-o", exe, "--march", march], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        compare.die(f"rnnc {spec} -o {exe} --march {march} failed:\n{r.stderr.strip()}", 1)
    return time.perf_counter() - t0


def kernels(exe):
    """The copy the trainer runs here, from its selftest header ("generated for x86-64-v4")."""
    r = subprocess.run([exe, "selftest"], capture_output=True, text=True)
    head = r.stdout.splitlines()[0] if r.stdout else ""
    return head.split("(", 1)[1].split(")", 1)[0] if "(" in head else "?"


def summarize(runs):
    out = {"reps": len(runs)}
    for key in ("seconds", "cpu_seconds"):
        nat = [compare.later(r["native"][key]) for r in runs]
        lev = [compare.later(r["levels"][key]) for r in runs]
        paired = [b / a for a, b in zip(nat, lev)]
        q1, q3 = compare.quartiles(paired)
        out[key] = {"native": statistics.median(nat), "levels": statistics.median(lev),
                    "paired_ratio": statistics.median(paired), "q1": q1, "q3": q3}
    w, c = out["seconds"]["paired_ratio"], out["cpu_seconds"]["paired_ratio"]
    out["within_5pct"] = w <= TARGET and c <= TARGET
    # the tensors (the metadata holds the run's history, timings aside the same too)
    out["weights_identical"] = sum(r["weights"]["identical"] or not r["weights"].get("tensors_differ", [1])
                                   for r in runs)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build directory (default build/)")
    ap.add_argument("--specs", default=",".join(compare.SPECS), help="comma-separated subset of " + ",".join(compare.SPECS))
    ap.add_argument("--reps", type=int, default=None, help="repetitions per spec (default 9; --quick: 3)")
    ap.add_argument("--n", type=int, default=None, help="built-in training sequences (default 20000; --quick: 4000)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per process, at least 2 (default 4; --quick: 3)")
    ap.add_argument("--large-reps", type=int, default=None, help="large_lstm repetitions (default 5; --quick: 2)")
    ap.add_argument("--large-n", type=int, default=None, help="large_lstm sequences (default 1000; --quick: 200)")
    ap.add_argument("--quick", action="store_true", help="a smoke run")
    args = ap.parse_args()
    q = args.quick
    dflt = lambda v, full, quick: v if v is not None else (quick if q else full)  # noqa: E731
    reps, n, epochs = dflt(args.reps, 9, 3), dflt(args.n, 20000, 4000), dflt(args.epochs, 4, 3)
    lreps, ln = dflt(args.large_reps, 5, 2), dflt(args.large_n, 1000, 200)
    specs = [s for s in args.specs.split(",") if s]
    if any(s not in compare.SPECS for s in specs) or min(reps, lreps, n, ln) < 1 or epochs < 2:
        compare.die("unknown spec, or --reps/--n below 1, or --epochs below 2")

    bdir = os.path.abspath(args.build)
    rnnc = os.path.join(bdir, "rnnc")
    if not os.access(rnnc, os.X_OK):
        compare.die(f"{rnnc} not found; run `make all` first", 1)
    work = os.path.join(bdir, "bench", "isa")
    tmp = os.path.join(work, "tmp")
    os.makedirs(tmp, exist_ok=True)
    env = compare.clean_env("clang", None)

    exes, facts = {}, {}
    for s in specs:
        spec = os.path.join(ROOT, "specs", s + ".lua")
        exes[s], facts[s] = {}, {}
        for side in SIDES:
            exe = os.path.join(work, f"{s}-{side}")
            facts[s][side] = {"build_s": build(rnnc, spec, exe, MARCH[side], env), "bytes": os.path.getsize(exe),
                              "kernels": kernels(exe)}
            exes[s][side] = exe
        compare.log(f"bench-isa: built {s}: native {facts[s]['native']['build_s']:.1f} s, "
                    f"levels {facts[s]['levels']['build_s']:.1f} s (runs {facts[s]['levels']['kernels']})")

    plan = {s: (lreps, ln, 2) if s == compare.LARGE else (reps, n, epochs) for s in specs}
    rounds = max(p[0] for p in plan.values())
    t0 = time.perf_counter()
    runs, loads = compare.interleaved_rounds(specs, plan, SIDES, exes, tmp, 1)

    stats = {s: summarize(runs[s]) for s in specs}
    print(f"isa: every x86-64 level in one trainer (levels) vs --march native, one thread, {rounds} rounds, "
          f"{time.perf_counter() - t0:.0f} s; median s/epoch (epochs 2..E), paired ratio levels/native [quartiles]\n")
    print("| spec | runs here | native s | levels s | wall ratio | CPU ratio | within 5% | weights | build native / levels | size native / levels |")
    print("|---|---|---:|---:|---:|---:|---|---|---:|---:|")
    for s in specs:
        st, f = stats[s], facts[s]
        w, c = st["seconds"], st["cpu_seconds"]
        print(f"| {s} | {f['levels']['kernels']} | {w['native']:.4f} | {w['levels']:.4f} | "
              f"{w['paired_ratio']:.3f} [{w['q1']:.3f}, {w['q3']:.3f}] | {c['paired_ratio']:.3f} [{c['q1']:.3f}, {c['q3']:.3f}] | "
              f"{'yes' if st['within_5pct'] else 'NO'} | {st['weights_identical']}/{st['reps']} identical | "
              f"{f['native']['build_s']:.1f} / {f['levels']['build_s']:.1f} s | "
              f"{f['native']['bytes'] // 1024} / {f['levels']['bytes'] // 1024} KiB |")
    if max(loads) > (os.cpu_count() or 1):
        print(f"\n* note: the machine was busy (1-minute load up to {max(loads):.1f} on {os.cpu_count()} CPUs); "
              "the paired ratios hold up better than the medians")
    out = os.path.join(bdir, "bench", "isa.json")
    with open(out, "w") as fh:
        json.dump({"date": datetime.datetime.now().isoformat(timespec="seconds"),
                   "settings": {"reps": reps, "n": n, "epochs": epochs, "large_reps": lreps, "large_n": ln,
                                "threads": 1, "target_ratio": TARGET},
                   "loadavg_per_round": loads, "specs": {s: {"facts": facts[s], "summary": stats[s], "runs": runs[s]}
                                                         for s in specs}}, fh, indent=1)
    compare.log(f"bench-isa: results in {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    main()
