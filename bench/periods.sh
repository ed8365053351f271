#!/usr/bin/env bash
# periods.sh — two-thread epochs split by the VM's period at the time of each run.
#
# The hand-off between two threads (bench/handoff.c) is 0.2 us in a quick period of the
# VM and about 0.9 us in a slow one, for minutes at a time; a two-thread epoch run in a
# slow period is much slower (bench/README.md, "The VM's slow periods, measured"). This
# script runs ROUNDS rounds of: the hand-off microbenchmark, then each TRAINER for
# 6 epochs with --threads 2 on X.npy / Y.npy; and prints, per trainer and per period
# (slow: hand-off > 0.5 us), the number of runs and the medians of the first epoch and
# of epochs 4-6. Compare two builds of a spec by naming both: they alternate.
#
#   make bench                      # builds build/bench/handoff and the seed trainers
#   bash bench/periods.sh 100 x.npy y.npy build/bench/lstm_dropout /tmp/other/lstm_dropout
#
# (x.npy, y.npy: any training set, e.g. bench.make_data(20000, 1) saved with numpy.)
set -u
if [ $# -lt 4 ]; then
  echo "usage: bash bench/periods.sh ROUNDS X.npy Y.npy TRAINER..." >&2
  exit 2
fi
ROUNDS=$1 X=$2 Y=$3
shift 3
HANDOFF=${HANDOFF:-build/bench/handoff}
[ -x "$HANDOFF" ] || { echo "periods.sh: $HANDOFF not built (make bench builds it)" >&2; exit 2; }
for r in $(seq "$ROUNDS"); do
  h=$("$HANDOFF" | sed -n 's/.*"us_per_job": *\([0-9.]*\).*/\1/p')
  for t in "$@"; do
    s=$("$t" fit --train-x "$X" --train-y "$Y" --epochs 6 --validation-split 0 --threads 2 --json 2>/dev/null |
        sed -n 's/.*"seconds": *\([0-9.]*\).*/\1/p' | tr '\n' ' ')
    echo "$h $t $s"
  done
done | /usr/bin/python3 -c '
import statistics, sys
runs = {}
for line in sys.stdin:
    f = line.split()
    if len(f) < 8:
        continue  # a failed run: fewer than 6 epochs
    period = "slow" if float(f[0]) > 0.5 else "quick"
    e = [float(x) for x in f[2:8]]
    runs.setdefault((f[1], period), []).append((e[0], statistics.median(e[3:])))
print("| trainer | period | runs | first epoch s | epochs 4-6 s |")
print("|---|---|---:|---:|---:|")
for (t, period), v in sorted(runs.items()):
    print("| %s | %s | %d | %.4f | %.4f |" % (t, period, len(v), statistics.median(a for a, _ in v),
                                           statistics.median(b for _, b in v)))
'
