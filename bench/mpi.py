#!/usr/bin/env python3
"""bench/mpi.py -- data-parallel training on this machine: seconds per epoch of one
process (--threads 1), two threads (--threads 2) and two MPI ranks of one thread each
(mpirun -n 2), for lstm2 and large_lstm (an LSTM of 128 units), interleaved, medians;
then the exchange of one step alone (bench/mpi_exchange.c) at each model's size.

    python3 bench/mpi.py [--build build] [--rounds 3]

Needs Open MPI (make deps). Prints a table for bench/README.md, "Many machines".
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_btl_tcp_if_include="lo", OMPI_MCA_oob_tcp_if_include="lo")
# (spec, data arguments, epochs, record bytes of one lane block as the trainer exchanges it)
MODELS = [
    ("lstm2", ["--builtin-train", "20000", "--builtin-val", "5000"], 3),
    ("large_lstm", ["--builtin-train", "5000", "--builtin-val", "1000"], 2),
]


def epochs(cmd, env=ENV):
    """Seconds of every epoch after the first (fit --json), and the exchange line if any."""
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    secs = [json.loads(l)["seconds"] for l in out.stdout.splitlines() if l.startswith("{")]
    stats = [l for l in out.stderr.splitlines() if "exchanges" in l and l.startswith("rank 0 ")]
    return secs[1:], stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    rnnc = os.path.abspath(os.path.join(a.build, "rnnc"))
    work = tempfile.mkdtemp(prefix="rnnc-bench-mpi-")
    ex = os.path.join(work, "mpi_exchange")
    subprocess.run(["mpicc", "-O2", "-std=c17", os.path.join(os.path.dirname(__file__), "mpi_exchange.c"), "-o", ex],
                   check=True)
    for spec, data, n_epochs in MODELS:
        src = os.path.join(os.path.dirname(__file__), "..", "specs", spec + ".lua")
        plain, par = os.path.join(work, spec), os.path.join(work, spec + "-mpi")
        subprocess.run([rnnc, src, "-o", plain], check=True)
        subprocess.run([rnnc, src, "-o", par, "--mpi"], check=True)
        fit = ["fit", *data, "--epochs", str(n_epochs), "--json", "--seed", "1"]
        runs = {
            "one process": [plain, *fit, "--threads", "1"],
            "--threads 2": [plain, *fit, "--threads", "2"],
            "mpirun -n 2": ["mpirun", "-n", "2", "-x", "RNN_MPI_STATS=1", par, *fit, "--threads", "1"],
        }
        times = {k: [] for k in runs}
        stats = []
        for _ in range(a.rounds):
            for k, cmd in runs.items():
                s, st = epochs(cmd)
                times[k] += s
                stats += st
        one = statistics.median(times["one process"])
        print(f"{spec}: seconds per epoch (median of {len(times['one process'])} epochs)")
        for k, v in times.items():
            m = statistics.median(v)
            print(f"  {k:12s} {m:8.3f}  {one / m:5.2f}x")
        for s in stats[-1:]:
            print("  " + s)
        # the exchange alone at this model's size: bytes per lane block from the trainer's stats
        per_step = float(stats[-1].split(", ")[1].split(" bytes")[0]) if stats else 0
        blocks = 64 // 16
        rec = int(per_step / blocks) if per_step else 0
        if rec:
            out = subprocess.run(["mpirun", "-n", "2", ex, str(rec), str(blocks), "300"], env=ENV,
                                 capture_output=True, text=True, check=True)
            print("  the exchange alone, 2 ranks:\n" + "".join("    " + l + "\n" for l in out.stdout.splitlines()))
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
