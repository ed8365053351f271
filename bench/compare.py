#!/usr/bin/python3
"""compare.py — the generated trainers of the working tree against those of another git
revision, in the same run: does a change cost performance? (make bench-compare)

    /usr/bin/python3 bench/compare.py                     # BASE=HEAD: uncommitted changes vs the last commit
    /usr/bin/python3 bench/compare.py --base origin/main  # any revision: a branch, tag, HEAD~3, a hash
    /usr/bin/python3 bench/compare.py --quick             # a smoke run (a minute or two)

The base revision is exported with `git archive` into BUILD/bench/compare/base-SHA/src
and built there with its own Makefile (`make all`; the user's working tree and index
are never touched; the build is reused while SHA stays the same, and only the 3 most
recently used base builds are kept). The current tree is the normal BUILD (the make
target runs `make all` first). Each spec of specs/ is then built by both rnnc's with
clang and rnnc's default flags for one build for this machine (-O3 -march=native, RNNC_MARCH=native; CC and CFLAGS of the environment
are not passed on unless --cc / --cflags say so), and both trainers train on the
built-in data set, one thread:

    TRAINER fit --builtin-train N --builtin-val 0 --seed S --epochs E --json --threads 1
                --checkpoint TMP --save-weights W

for --reps repetitions per spec (seed S = --seed + repetition). The runs are interleaved:
every round runs each spec's pair, base then current or current then base in turn,
so that the machine's drift hits both alike. Figures: the JSON "seconds" (wall) and
"cpu_seconds" of each epoch; per process the median of epochs 2..E (the first epoch is
reported apart); over the repetitions the median. The ratio current / base is the
median of the per-repetition ratios (the two runs of a pair ran back to back), with its
quartiles; "within 3%" when it is at most 1.03 for wall and for CPU time. The two W files of a pair are compared byte for byte
(`cmp`); when they differ, the tensors are compared too, to tell changed weights from
changed metadata (e.g. rnnc_version).

Results: a Markdown table on stdout, every run in BUILD/bench/compare.json, progress on
stderr. Standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = ["simplernn", "lstm", "lstm_dropout", "lstm2", "gru", "large_lstm"]
LARGE = "large_lstm"
TARGET = 1.03          # current / base at most this: "within 3%"
KEEP_BASES = 3         # base builds kept under BUILD/bench/compare

# Make and compiler settings of the caller that must not leak into the base's build or
# into rnnc's compiler invocation (the make target's command line reaches a child make
# through MAKEFLAGS: `make bench-compare BASE=x BUILD=y` would set BUILD in the base's
# make too).
SCRUB_ENV = ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS", "MAKEFILES",
             "CC", "CFLAGS", "CPPFLAGS", "LDFLAGS", "OPT", "SAN", "BUILD", "RNNC_RUNTIME_DIR"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def die(msg, code=2):
    print(f"bench-compare: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def clean_env(cc, cflags):
    env = {k: v for k, v in os.environ.items() if k not in SCRUB_ENV}
    env["CC"] = cc
    # one build for this machine on both sides: a revision from before the x86-64 levels
    # builds that way by default, and the levels' own cost is bench/isa.py's to measure
    env["RNNC_MARCH"] = "native"
    if cflags is not None:
        env["CFLAGS"] = cflags
    return env


def git(*args, check=True):
    r = subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        die(f"git {' '.join(args)} failed: {r.stderr.strip()}")
    return r


# ---- revisions --------------------------------------------------------------------------

def resolve_base(rev):
    if rev.startswith("-"):
        die(f"BASE={rev!r} is not a valid git revision")
    r = git("rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}", check=False)
    if r.returncode != 0 or not r.stdout.strip():
        die(f"BASE={rev!r} is not a valid git revision of {ROOT} "
            "(give a commit: HEAD, HEAD~1, main, origin/main, a tag or a commit hash)")
    sha = r.stdout.strip()
    subject = git("log", "-1", "--format=%h %s", sha).stdout.strip()
    return sha, subject


def current_state():
    head = git("rev-parse", "HEAD", check=False).stdout.strip() or None
    desc = git("describe", "--always", "--dirty", check=False).stdout.strip() or "?"
    status = git("status", "--porcelain", "--untracked-files=normal", check=False).stdout.splitlines()
    return {"head": head, "describe": desc, "changes": [ln for ln in status if ln.strip()]}


# ---- building ---------------------------------------------------------------------------

def prune_bases(workroot, keep_dir):
    dirs = []
    for name in os.listdir(workroot):
        p = os.path.join(workroot, name)
        if name.startswith("base-") and os.path.isdir(p) and p != keep_dir:
            dirs.append((os.path.getmtime(p), p))
    for _, p in sorted(dirs, reverse=True)[KEEP_BASES - 1:]:
        log(f"bench-compare: removing the old base build {os.path.relpath(p, ROOT)}")
        shutil.rmtree(p, ignore_errors=True)


def build_base(sha, workroot, env, jobs):
    """Exports revision sha with git archive into workroot/base-SHA12/src and runs its
    `make all` there; returns the path of its rnnc. Reused while a stamp says it built."""
    d = os.path.join(workroot, "base-" + sha[:12])
    src = os.path.join(d, "src")
    rnnc = os.path.join(src, "build", "rnnc")
    stamp = os.path.join(d, "built")
    if os.path.exists(stamp) and os.access(rnnc, os.X_OK) and \
            os.path.exists(os.path.join(src, "build", "librnnrt.a")):
        with open(stamp) as f:
            if f.read().strip() == sha:
                os.utime(d)
                log(f"bench-compare: reusing the base build {os.path.relpath(d, ROOT)}")
                prune_bases(workroot, d)
                return rnnc, True
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(src)
    log(f"bench-compare: exporting {sha[:12]} into {os.path.relpath(src, ROOT)} (git archive)")
    arch = subprocess.Popen(["git", "-C", ROOT, "archive", "--format=tar", sha], stdout=subprocess.PIPE)
    tar = subprocess.run(["tar", "-x", "-C", src], stdin=arch.stdout)
    arch.stdout.close()
    if arch.wait() != 0 or tar.returncode != 0:
        die(f"git archive {sha[:12]} | tar -x failed")
    log(f"bench-compare: building the base (make -j{jobs} all; log in {os.path.relpath(d, ROOT)}/build.log)")
    t0 = time.perf_counter()
    with open(os.path.join(d, "build.log"), "w") as lf:
        r = subprocess.run(["make", "-C", src, f"-j{jobs}", "all"], stdout=lf, stderr=subprocess.STDOUT, env=env)
    if r.returncode != 0 or not os.access(rnnc, os.X_OK):
        with open(os.path.join(d, "build.log")) as lf:
            tail = "".join(lf.readlines()[-15:])
        die(f"building the base revision {sha[:12]} failed (exit {r.returncode}); last lines of "
            f"{os.path.relpath(d, ROOT)}/build.log:\n{tail}", 1)
    with open(stamp, "w") as f:
        f.write(sha + "\n")
    log(f"bench-compare: base built in {time.perf_counter() - t0:.0f} s")
    prune_bases(workroot, d)
    return rnnc, False


def rnnc_build(rnnc, spec_path, out, env):
    """rnnc SPEC -o OUT (the trainer) and rnnc SPEC -o OUT.c (the generated C, compared
    between the two sides). Returns None or the error text."""
    for o in (out, out + ".c"):
        r = subprocess.run([rnnc, spec_path, "-o", o], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            return (r.stderr or r.stdout).strip() or f"exit {r.returncode}"
    return None


def build_trainers(specs, rnnc_base, rnnc_cur, base_src, rundir, env, notes):
    """Both trainers of every spec, from the current tree's specs/X.lua (the same model on
    both sides); when the base's rnnc rejects it (a spec-language change), from the
    base's own specs/X.lua, with a note. Returns {spec: {side: exe}}, the spec facts."""
    exes, facts = {}, {}
    for s in specs:
        cur_spec = os.path.join(ROOT, "specs", s + ".lua")
        base_spec_own = os.path.join(base_src, "specs", s + ".lua")
        f = {"spec_same": None, "base_spec": "current"}
        if os.path.exists(base_spec_own):
            with open(cur_spec, "rb") as a, open(base_spec_own, "rb") as b:
                f["spec_same"] = a.read() == b.read()
            if not f["spec_same"]:
                notes.append(f"specs/{s}.lua differs between the base and the working tree; both trainers "
                             "are built from the working tree's")
        t0 = time.perf_counter()
        cur_exe = os.path.join(rundir, "current", s)
        err = rnnc_build(rnnc_cur, cur_spec, cur_exe, env)
        if err:
            die(f"the current rnnc could not build specs/{s}.lua:\n{err}", 1)
        base_exe = os.path.join(rundir, "base", s)
        err = rnnc_build(rnnc_base, cur_spec, base_exe, env)
        if err:
            if not os.path.exists(base_spec_own):
                die(f"the base rnnc could not build specs/{s}.lua, and the base has no specs/{s}.lua:\n{err}", 1)
            err2 = rnnc_build(rnnc_base, base_spec_own, base_exe, env)
            if err2:
                die(f"the base rnnc could not build specs/{s}.lua (neither the working tree's nor its own):\n{err2}", 1)
            f["base_spec"] = "base"
            notes.append(f"{s}: the base rnnc rejected the working tree's specs/{s}.lua ({err.splitlines()[0][:120]}); "
                         "its trainer is built from the base's own specs/{s}.lua".replace("{s}", s))
        with open(cur_exe + ".c", "rb") as a, open(base_exe + ".c", "rb") as b:
            f["generated_c_same"] = a.read() == b.read()
        log(f"bench-compare: built {s} (both sides, {time.perf_counter() - t0:.1f} s); generated C "
            + ("identical" if f["generated_c_same"] else "differs"))
        exes[s] = {"base": base_exe, "current": cur_exe}
        facts[s] = f
    return exes, facts


# ---- running ----------------------------------------------------------------------------

def run_fit(exe, n, epochs, seed, wfile, tmpdir):
    cmd = [exe, "fit", "--builtin-train", str(n), "--builtin-val", "0", "--seed", str(seed),
           "--epochs", str(epochs), "--json", "--threads", "1",
           "--checkpoint", os.path.join(tmpdir, "checkpoint.safetensors"), "--save-weights", wfile]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmpdir)
    if r.returncode != 0:
        die(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr.strip()}", 1)
    rows = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    if len(rows) != epochs or any("seconds" not in x or "cpu_seconds" not in x for x in rows):
        die(f"{' '.join(cmd)}: expected {epochs} JSON epoch lines with \"seconds\" and \"cpu_seconds\", got:\n"
            f"{r.stdout.strip()[:2000]}", 1)
    return {"seconds": [x["seconds"] for x in rows], "cpu_seconds": [x["cpu_seconds"] for x in rows],
            "loss": rows[-1].get("loss")}


def safetensors_parts(path):
    """(metadata dict, {tensor name: raw bytes}) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    base = 8 + hlen
    meta = header.pop("__metadata__", {}) or {}
    tensors = {k: (v.get("dtype"), tuple(v.get("shape", ())),
                   raw[base + v["data_offsets"][0]:base + v["data_offsets"][1]]) for k, v in header.items()}
    return meta, tensors


def compare_weights(a, b):
    """cmp the two files; when they differ, say whether the tensors or only the metadata do."""
    if subprocess.run(["cmp", "-s", a, b]).returncode == 0:
        return {"identical": True}
    try:
        ma, ta = safetensors_parts(a)
        mb, tb = safetensors_parts(b)
    except (OSError, ValueError, KeyError, struct.error) as e:
        return {"identical": False, "detail": f"unreadable: {e}"}
    diff_t = sorted(k for k in set(ta) | set(tb) if ta.get(k) != tb.get(k))
    diff_m = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
    return {"identical": False, "tensors_differ": diff_t, "metadata_differ": diff_m}


def spread(reps, rounds):
    """The rounds (of `rounds`) in which a spec with `reps` repetitions runs, evenly spread."""
    return [r for r in range(rounds) if (r + 1) * reps // rounds > r * reps // rounds]


def later(v):
    return statistics.median(v[1:])


def interleaved_rounds(specs, plan, sides, exes, tmp, first_seed):
    """The pairs of runs of every spec, round-robin: round r runs each spec whose turn it is
    (spread), both sides of a pair alternately first, the k-th pair of a spec with seed
    first_seed + k. plan: {spec: (reps, n, epochs)}; exes: {spec: {side: exe}}. Returns
    {spec: [{side: fit, "weights": cmp, "seed", "first", "load"}]} and the 1-minute load
    of each round; logs a line per round."""
    rounds = max(p[0] for p in plan.values())
    slots = {s: set(spread(plan[s][0], rounds)) for s in specs}
    runs, loads = {s: [] for s in specs}, []
    for rnd in range(rounds):
        loads.append(os.getloadavg()[0])
        line = []
        for s in specs:
            if rnd not in slots[s]:
                continue
            k = len(runs[s])
            _, sn, sepochs = plan[s]
            seed = first_seed + k
            order = sides if k % 2 == 0 else sides[::-1]
            res, wfiles = {}, {}
            for side in order:
                wfiles[side] = os.path.join(tmp, f"{s}-{side}.safetensors")
                res[side] = run_fit(exes[s][side], sn, sepochs, seed, wfiles[side], tmp)
            res["weights"] = compare_weights(wfiles[sides[0]], wfiles[sides[1]])
            res.update(seed=seed, first=order[0], load=loads[-1])
            runs[s].append(res)
            line.append(f"{s} {later(res[sides[0]]['seconds']):.4f}/{later(res[sides[1]]['seconds']):.4f}"
                        + ("" if res["weights"]["identical"] else " (w!)"))
        log(f"  round {rnd + 1}/{rounds} (load {loads[-1]:.2f}) {sides[0]}/{sides[1]} s/epoch: " + ", ".join(line))
    return runs, loads


def quartiles(v):
    if len(v) < 2:
        return v[0], v[0]
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[0], q[2]


def summarize(runs):
    """runs: list of {"base": fit, "current": fit, "weights": cmp}. The figures of one spec."""
    out = {"reps": len(runs)}
    for key in ("seconds", "cpu_seconds"):
        for part, f in (("later", later), ("first", lambda v: v[0])):
            b = [f(r["base"][key]) for r in runs]
            c = [f(r["current"][key]) for r in runs]
            mb, mc = statistics.median(b), statistics.median(c)
            paired = [y / x for x, y in zip(b, c)]
            q1, q3 = quartiles(paired)
            out[f"{part}_{key}"] = {"base": mb, "current": mc, "ratio": mc / mb,
                                    "paired_ratio": statistics.median(paired), "paired_q1": q1, "paired_q3": q3}
    # the verdict: the paired ratios (each pair ran back to back, so the machine's drift
    # cancels; the ratio of the two medians is kept in the JSON too)
    w = out["later_seconds"]["paired_ratio"]
    c = out["later_cpu_seconds"]["paired_ratio"]
    out["within_3pct"] = ("yes" if w <= TARGET and c <= TARGET else
                          "wall only" if w <= TARGET else "CPU only" if c <= TARGET else "no")
    same = sum(1 for r in runs if r["weights"]["identical"])
    out["weights_identical_runs"] = same
    if same == len(runs):
        out["weights"] = "weights identical"
    else:
        tens = sorted({t for r in runs for t in r["weights"].get("tensors_differ", [])})
        meta = sorted({m for r in runs for m in r["weights"].get("metadata_differ", [])})
        what = (f"tensors: {', '.join(tens)}" if tens else "tensors identical") + \
               (f"; metadata: {', '.join(meta)}" if meta else "")
        out["weights"] = f"weights differ ({len(runs) - same} of {len(runs)} runs; {what})"
    return out


# ---- main -------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="HEAD",
                    help="the git revision to compare against (default HEAD: the uncommitted changes vs the "
                         "last commit; e.g. HEAD~1, origin/main, a tag, a commit hash)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="the current tree's build directory (default build/); the work goes to BUILD/bench/compare")
    ap.add_argument("--specs", default=",".join(SPECS), help="comma-separated subset of " + ",".join(SPECS))
    ap.add_argument("--reps", type=int, default=None, help="repetitions per spec (default 15; --quick: 5)")
    ap.add_argument("--n", type=int, default=None, help="built-in training sequences (default 20000; --quick: 4000)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per process, at least 2 (default 5; --quick: 3)")
    ap.add_argument("--large-reps", type=int, default=None, help="large_lstm repetitions (default 5; --quick: 2)")
    ap.add_argument("--large-n", type=int, default=None, help="large_lstm sequences (default 1000; --quick: 200)")
    ap.add_argument("--large-epochs", type=int, default=None, help="large_lstm epochs per process (default 3; --quick: 2)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the first repetition (default 1; then 2, 3, ...)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 5 reps of 4000 x 3 epochs, large_lstm 2 reps of 200 x 2 epochs")
    ap.add_argument("--cc", default="clang", help="the compiler rnnc uses for both trainers (default clang)")
    ap.add_argument("--cflags", default=None,
                    help="CFLAGS for both trainers (default: unset, rnnc's -O3 with --march native)")
    ap.add_argument("--no-make", action="store_true", help="do not run `make all` for the current tree first")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a spec is not within 3%%")
    args = ap.parse_args()

    q = args.quick
    dflt = lambda v, full, quick: v if v is not None else (quick if q else full)  # noqa: E731
    reps, n, epochs = dflt(args.reps, 15, 5), dflt(args.n, 20000, 4000), dflt(args.epochs, 5, 3)
    lreps, ln, lepochs = dflt(args.large_reps, 5, 2), dflt(args.large_n, 1000, 200), dflt(args.large_epochs, 3, 2)
    specs = [s for s in args.specs.split(",") if s]
    for s in specs:
        if s not in SPECS:
            die(f"unknown spec {s!r} (known: {', '.join(SPECS)})")
    if min(reps, lreps, n, ln) < 1 or min(epochs, lepochs) < 2:
        die("--reps, --large-reps, --n, --large-n must be >= 1 and --epochs, --large-epochs >= 2")
    if shutil.which(args.cc) is None:
        die(f"compiler {args.cc!r} not found")

    t_start = time.perf_counter()
    sha, subject = resolve_base(args.base)
    cur = current_state()
    build = os.path.abspath(args.build)
    env = clean_env(args.cc, args.cflags)
    jobs = os.cpu_count() or 2

    if not args.no_make:
        log(f"bench-compare: make all (the current tree, {os.path.relpath(build, ROOT)}/)")
        r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "-s", f"BUILD={build}", "all"],
                           env={k: v for k, v in os.environ.items()
                                if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")})
        if r.returncode != 0:
            die("`make all` of the current tree failed", 1)
    rnnc_cur = os.path.join(build, "rnnc")
    if not os.access(rnnc_cur, os.X_OK):
        die(f"{rnnc_cur} not found; run `make all` first", 1)

    workroot = os.path.join(build, "bench", "compare")
    os.makedirs(workroot, exist_ok=True)
    rnnc_base, reused = build_base(sha, workroot, env, jobs)
    base_src = os.path.dirname(os.path.dirname(rnnc_base))

    rundir = os.path.join(workroot, "run")
    shutil.rmtree(rundir, ignore_errors=True)
    for sub in ("base", "current", "tmp"):
        os.makedirs(os.path.join(rundir, sub))
    notes = []
    exes, facts = build_trainers(specs, rnnc_base, rnnc_cur, base_src, rundir, env, notes)
    t_runs = time.perf_counter()

    plan = {s: (lreps, ln, lepochs) if s == LARGE else (reps, n, epochs) for s in specs}
    rounds = max(p[0] for p in plan.values())
    tmp = os.path.join(rundir, "tmp")
    log(f"bench-compare: {rounds} rounds, one thread; "
        + ", ".join(f"{s} {p[0]} x ({p[1]} seq. x {p[2]} epochs)" for s, p in plan.items()))
    runs, loads = interleaved_rounds(specs, plan, ("base", "current"), exes, tmp, args.seed)
    elapsed = time.perf_counter() - t_start

    stats = {s: summarize(runs[s]) for s in specs}
    dirty = len(cur["changes"])
    cur_desc = f"the working tree ({cur['describe']}" + (f", {dirty} changed or untracked paths)" if dirty else ", clean)")
    if cur["head"] == sha and not dirty:
        notes.append("the working tree is clean and BASE is HEAD: both sides build the same source, so the "
                     "ratios show the noise of this machine")

    # ---- the table ----
    print(f"## bench-compare: current vs base\n")
    print(f"* base: `{args.base}` = {subject} (`{os.path.relpath(base_src, ROOT)}`"
          + (", reused build" if reused else "") + ")")
    print(f"* current: {cur_desc}, `{os.path.relpath(build, ROOT)}/rnnc`")
    print(f"* trainers: {args.cc} " + (f"CFLAGS='{args.cflags}'" if args.cflags is not None
                                       else "-O3 -march=native (rnnc's default, RNNC_MARCH=native)")
          + "; `fit --builtin-train N --builtin-val 0 --seed S --epochs E --json --threads 1`")
    print(f"* {reps} repetitions per spec ({n} sequences x {epochs} epochs)"
          + (f", {LARGE} {lreps} ({ln} sequences x {lepochs} epochs — fewer, smaller: it is slow)"
             if LARGE in specs else "")
          + "; seeds " + f"{args.seed}..{args.seed + max(reps, lreps) - 1}"
          + "; base and current interleaved, alternately first; medians")
    print("* s/epoch = median over the repetitions of each process's median of epochs 2..E (wall seconds);"
          " current/base = median [quartiles] of the per-repetition ratios, wall, epochs 2..E; CPU = the same"
          " for cpu_seconds; first epoch = the same for the first epoch (wall); within 3% = wall and CPU"
          f" ratio <= {TARGET}")
    print(f"* 1-minute load average {min(loads):.2f}–{max(loads):.2f} on {os.cpu_count()} CPUs; "
          f"{elapsed / 60:.1f} min ({(time.perf_counter() - t_runs) / 60:.1f} min of runs)\n")
    print("| spec | reps | base s/epoch | current s/epoch | current/base [IQR] | CPU current/base "
          "| first epoch | within 3%? | generated C | weights |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in specs:
        st, w, c, fst = stats[s], stats[s]["later_seconds"], stats[s]["later_cpu_seconds"], stats[s]["first_seconds"]
        print(f"| {s} | {st['reps']} | {w['base']:.4f} | {w['current']:.4f} "
              f"| {w['paired_ratio']:.3f} [{w['paired_q1']:.3f}, {w['paired_q3']:.3f}] | {c['paired_ratio']:.3f} "
              f"| {fst['paired_ratio']:.3f} | {st['within_3pct']} "
              f"| {'identical' if facts[s]['generated_c_same'] else 'differs'} | {st['weights']} |")
    all_ok = all(stats[s]["within_3pct"] == "yes" for s in specs)
    print()
    print("within 3% (wall and CPU) for every spec: " + ("yes" if all_ok else "NO: " + ", ".join(
        f"{s} ({stats[s]['within_3pct']})" for s in specs if stats[s]["within_3pct"] != "yes")))
    if max(loads) > (os.cpu_count() or 1):
        notes.append(f"the machine was busy (1-minute load up to {max(loads):.1f} on {os.cpu_count()} CPUs): the wall "
                     "figures are unreliable, the CPU ones less so; rerun when it is quieter, or with more --reps")
    for nt in notes:
        print(f"* note: {nt}")

    out = os.path.join(build, "bench", "compare.json")
    with open(out, "w") as f:
        json.dump({
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "base": {"rev": args.base, "sha": sha, "subject": subject, "src": base_src, "reused_build": reused},
            "current": dict(cur, build=build),
            "settings": {"reps": reps, "n": n, "epochs": epochs, "large_reps": lreps, "large_n": ln,
                         "large_epochs": lepochs, "seed": args.seed, "cc": args.cc,
                         "cflags": args.cflags if args.cflags is not None else "(rnnc default, RNNC_MARCH=native: -O3 -march=native)",
                         "threads": 1, "target_ratio": TARGET, "quick": q},
            "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "loadavg_per_round": loads},
            "seconds_total": elapsed,
            "specs": {s: {"facts": facts[s], "summary": stats[s], "runs": runs[s]} for s in specs},
            "all_within_3pct": all_ok,
            "notes": notes,
        }, f, indent=1)
    log(f"bench-compare: results in {os.path.relpath(out, ROOT)}")
    shutil.rmtree(tmp, ignore_errors=True)
    if args.strict and not all_ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
