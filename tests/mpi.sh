#!/usr/bin/env bash
# mpi.sh — data-parallel training under MPI (rnnc --mpi, README "Many machines"): K = 1..4
# ranks end with the plain trainer's weights and history, byte for byte (three specs
# that between them have dropout, every optimizer and the three ways the embedding's
# gradient is summed), with threads, through the chain and over TCP; resume with
# another K; evaluate and predict split; --scatter-data; a killed rank ends the job
# with a message on the others and a checkpoint that resumes bit for bit; a rank with
# other data refuses to start; usage errors.
# Open MPI comes from `make deps` (openmpi-bin, libopenmpi-dev). As root (CI,
# containers) mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1,
# set below. Every rank runs on this machine, over loopback and shared memory.
. "$(dirname "$0")/lib.sh"
tmpdir
cd "$T" || exit 1
if ! command -v mpirun > /dev/null || ! command -v mpicc > /dev/null; then
  bad "mpirun or mpicc is missing (make deps installs openmpi-bin and libopenmpi-dev)"
  finish
  exit
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
# LeakSanitizer (make test-asan): Open MPI's own allocations live until exit. Its
# libraries have no frame pointers and it unloads its components, so leaks are traced by
# the slow unwinder with the components kept loaded, and those in Open MPI suppressed.
printf 'leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\nleak:libpmix.so\nleak:libhwloc.so\nleak:libevent\nleak:mca_\n' > lsan.supp
export OMPI_MCA_mca_base_component_disable_dlclose=1
export LSAN_OPTIONS="suppressions=$T/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
[ -n "$SAN" ] && export CFLAGS="-O1 $SAN" ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
run() { timeout 300 mpirun --oversubscribe "$@"; }   # (the timeout only guards against a hang)

# ---- the specs: lstm2 (dropout, RMSprop; each block's own embedding table), a GRU with
# Adam (the folded embedding), and an LSTM with dropout and Nesterov SGD over a vocabulary
# larger than a block's tokens (the scattered embedding), batches of 48
cp "$ROOT/specs/lstm2.lua" lstm2.lua
cat > gru_adam.lua <<'EOF'
return sequential "gru_adam" {
  embedding { 500, 16, input_length = 100 }, gru { 8 }, dense { 1, activation = "sigmoid" },
  compile = { optimizer = adam { learning_rate = 3e-3 }, loss = "binary_crossentropy", metrics = { "accuracy" } },
  fit = { epochs = 2, batch_size = 64, validation_split = 0.2 },
}
EOF
cat > sgd_wide.lua <<'EOF'
return sequential "sgd_wide" {
  embedding { 3000, 8, input_length = 20 }, lstm { 8, dropout = 0.2 }, dense { 1, activation = "sigmoid" },
  compile = { optimizer = sgd { learning_rate = 0.05, momentum = 0.9, nesterov = true }, loss = "binary_crossentropy",
              metrics = { "accuracy" } },
  fit = { epochs = 2, batch_size = 48 },
}
EOF
for s in lstm2 gru_adam sgd_wide; do
  "$RNNC" $s.lua -o $s > build.out 2>&1 && "$RNNC" $s.lua -o $s-mpi --mpi >> build.out 2>&1
  check "$s: plain and --mpi trainers build" test $? -eq 0 || cat build.out
done
check "a plain trainer does not link MPI" test "$(nm lstm2 | grep -c ' MPI_')" -eq 0
check "an --mpi trainer does" test "$(nm lstm2-mpi | grep -c ' U MPI_Iallgatherv')" -eq 1

DATA=(--builtin-train 300 --builtin-val 100 --seed 3 --learning-rate 0.003)
for s in lstm2 gru_adam sgd_wide; do
  ./$s fit "${DATA[@]}" --epochs 2 --save-weights $s-one.st --history $s-one.csv --quiet > /dev/null 2>&1
  check "$s: the plain run" test $? -eq 0
  for K in 1 2 3 4; do
    run -n $K ./$s-mpi fit "${DATA[@]}" --epochs 2 --save-weights $s-$K.st --history $s-$K.csv > $s-$K.out 2>&1
    check "$s: $K ranks exit 0" test $? -eq 0 || cat $s-$K.out
    check "$s: $K ranks end with the plain run's weights, bit for bit" cmp -s $s-one.st $s-$K.st
    check "$s: $K ranks write the plain run's history" cmp -s $s-one.csv $s-$K.csv
  done
done
check "rank 0 alone prints the epochs" test "$(grep -c '^Epoch 2/2' lstm2-4.out)" -eq 1
check "the note on ranks without rows (48 rows: 3 blocks, 4 ranks)" \
  grep -q "a batch of 48 has 3 lane blocks of 16 rows, and 4 ranks share them: 1 rank will wait" sgd_wide-4.out

# ---- threads and ranks together, the chain instead of the allgather, TCP over loopback
run -n 2 ./lstm2-mpi fit "${DATA[@]}" --epochs 2 --threads 2 --save-weights t2.st --quiet > t2.out 2>&1
check "2 ranks x 2 threads: the plain run's weights" cmp -s lstm2-one.st t2.st || cat t2.out
run -n 3 -x RNN_MPI_CHAIN=1 ./gru_adam-mpi fit "${DATA[@]}" --epochs 2 --save-weights chain.st --quiet > chain.out 2>&1
check "3 ranks through the chain: the plain run's weights" cmp -s gru_adam-one.st chain.st || cat chain.out
run -n 2 --mca btl self,tcp ./sgd_wide-mpi fit "${DATA[@]}" --epochs 2 --save-weights tcp.st --quiet > tcp.out 2>&1
check "2 ranks over TCP: the plain run's weights" cmp -s sgd_wide-one.st tcp.st || cat tcp.out

# ---- resume with another number of ranks: 2 epochs on 2 ranks, 2 more on 3 = 4 on one
./lstm2 fit "${DATA[@]}" --epochs 4 --checkpoint p4.ck --save-weights p4.st --quiet > /dev/null 2>&1
run -n 2 ./lstm2-mpi fit "${DATA[@]}" --epochs 2 --checkpoint r.ck --quiet > r1.out 2>&1
run -n 3 ./lstm2-mpi fit "${DATA[@]}" --epochs 4 --checkpoint r.ck --resume r.ck --save-weights r.st --quiet > r2.out 2>&1
check "resume on 3 ranks of a 2-rank checkpoint exits 0" test $? -eq 0 || cat r1.out r2.out
check "... and ends with the plain 4-epoch weights, bit for bit" cmp -s p4.st r.st

# ---- evaluate and predict split their batches: the plain trainer's numbers
EV=(--weights lstm2-one.st --builtin-val 100 --batch-size 16 --threads 1 --json)
./lstm2 evaluate "${EV[@]}" 2> /dev/null | sed 's/, "seconds".*//' > ev-one.txt
run -n 3 ./lstm2-mpi evaluate "${EV[@]}" 2> /dev/null | sed 's/, "seconds".*//' > ev-3.txt
check "evaluate on 3 ranks: the plain loss and accuracy, to the last digit" cmp -s ev-one.txt ev-3.txt
check "... which are numbers" grep -q '"loss": 0\.[0-9]*, "accuracy": 0\.[0-9]*, "samples": 100' ev-one.txt

# ---- text data: --scatter-data sends rank 0's data and vocabulary; the others read nothing
awk 'BEGIN { srand(7); for (i = 0; i < 200; i++) { y = i % 2; s = y ? "good fine great" : "bad dull awful";
      printf "%d\t", y; for (j = 0; j < 30; j++) printf "%s ", (rand() < 0.2 ? s : "word" int(rand() * 40)); print "" } }' > train.tsv
TX=(--seed 3 --epochs 2 --learning-rate 0.003 --validation-split 0.2)
./lstm2 fit --train-text train.tsv "${TX[@]}" --save-weights text-one.st --quiet > /dev/null 2>&1
# rank 0 gets the file, the others a path that does not exist
cat > pick.sh <<'EOF'
#!/bin/sh
r=${OMPI_COMM_WORLD_RANK:-0}; prog=$1; shift
if [ "$r" = 0 ]; then exec "$prog" "$@" --train-text train.tsv; else exec "$prog" "$@" --train-text nowhere.tsv; fi
EOF
chmod +x pick.sh
run -n 3 ./pick.sh ./lstm2-mpi fit "${TX[@]}" --scatter-data --save-weights text-3.st --quiet > sc.out 2>&1
check "--scatter-data on 3 ranks exits 0" test $? -eq 0 || cat sc.out
check "... with the plain run's weights (rank 0's vocabulary), bit for bit" cmp -s text-one.st text-3.st
printf 'a good great film\nbad and dull\n' > texts.txt
./lstm2 predict --weights text-one.st --text texts.txt --text-unit line --batch-size 1 --threads 1 > pr-one.txt 2>&1
run -n 2 ./lstm2-mpi predict --weights text-one.st --text texts.txt --text-unit line --batch-size 1 --threads 1 > pr-2.txt 2>&1
check "predict on 2 ranks: the plain probabilities, in order" cmp -s pr-one.txt pr-2.txt
check "... two of them" test "$(grep -c '^0\.[0-9]*$' pr-2.txt)" -eq 2
run -n 2 ./pick.sh ./lstm2-mpi fit "${TX[@]}" --quiet > nofile.out 2>&1
check "without --scatter-data a rank without the file fails the job" test $? -ne 0
check "... naming the file" grep -q "nowhere.tsv" nofile.out

# ---- a rank with other data refuses to start, and so does every rank
cat > other.sh <<'EOF'
#!/bin/sh
n=300; [ "${OMPI_COMM_WORLD_RANK:-0}" = 2 ] && n=301
exec ./lstm2-mpi fit --builtin-train $n --builtin-val 100 --seed 3 --epochs 2 --save-weights other.st --history other.csv
EOF
chmod +x other.sh
run -n 3 ./other.sh > other.out 2>&1
check "other data on one rank: exit 1" test $? -eq 1 || cat other.out
check "... rank 0 names the rank and the fingerprints" \
  grep -q "^fit: rank 2 of 3 read other training data than rank 0 (fingerprint [0-9a-f]\{16\}, rank 0's [0-9a-f]\{16\}): every rank must read the same data (a shared file system), or give --scatter-data; refusing to start" other.out
check "... once" test "$(grep -c 'refusing to start' other.out)" -eq 1
check "... and nothing was trained or written" test ! -e other.st -a ! -e other.csv -a "$(grep -c '^Epoch' other.out)" -eq 0

# ---- a rank killed mid-epoch: the others stop with a message, the checkpoint resumes
cat > kill.lua <<'EOF'
return sequential "kill" {
  embedding { 500, 16, input_length = 100 }, lstm { 8, dropout = 0.3, return_sequences = true },
  lstm { 8, dropout = 0.3 }, dense { 1, activation = "sigmoid" },
  compile = { optimizer = rmsprop { learning_rate = 3e-3 }, loss = "binary_crossentropy", metrics = { "accuracy" } },
  fit = { epochs = 1000, batch_size = 64 },
}
EOF
"$RNNC" kill.lua -o kill > /dev/null 2>&1 && "$RNNC" kill.lua -o kill-mpi --mpi > /dev/null 2>&1
check "the kill test's trainers build" test $? -eq 0
cat > pid.sh <<'EOF'
#!/bin/sh
echo $$ > pid.${OMPI_COMM_WORLD_RANK:-0}
exec ./kill-mpi fit --builtin-train 4000 --builtin-val 200 --seed 3 --checkpoint k.ck --quiet
EOF
chmod +x pid.sh
run -n 3 ./pid.sh > killed.out 2>&1 &
job=$!
for _ in $(seq 600); do [ -s k.ck ] && [ -s pid.1 ] && break; sleep 0.1; done   # the first epoch's checkpoint
check "the run wrote a checkpoint" test -s k.ck
kill -KILL "$(cat pid.1)"
wait $job
rc=$?
check "the job ends with an error after rank 1 is killed" test $rc -ne 0 || cat killed.out
check "... the other ranks say why they stopped" \
  grep -q "^rank [02] of 3: terminated (SIGTERM) while waiting for the other ranks in the exchange" killed.out
check "... and where to resume" grep -q "Resume from the last checkpoint (epoch [0-9]*) with --resume k.ck" killed.out
done_epochs=$(python3 -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; print(json.loads(f.read(n))["__metadata__"]["epoch"])' k.ck)
check "the checkpoint is whole (epoch $done_epochs)" test "$done_epochs" -ge 1
E=$((done_epochs + 1))
run -n 2 ./kill-mpi fit --builtin-train 4000 --builtin-val 200 --seed 3 --checkpoint k.ck --resume k.ck --epochs $E \
  --save-weights k-resumed.st --quiet > kr.out 2>&1
check "it resumes on 2 ranks" test $? -eq 0 || cat kr.out
./kill fit --builtin-train 4000 --builtin-val 200 --seed 3 --checkpoint k1.ck --epochs $E --save-weights k-one.st --quiet > /dev/null 2>&1
check "... to the plain run's weights after $E epochs, bit for bit" cmp -s k-one.st k-resumed.st

# ---- usage
./lstm2 fit --scatter-data > u1.out 2>&1
check "--scatter-data on a plain trainer: exit 2" test $? -eq 2
check "... says why" grep -q "this trainer runs alone (build it with rnnc --mpi and start it with mpirun)" u1.out
"$RNNC" lstm2.lua --mpi > u2.out 2>&1
check "rnnc --mpi without -o: exit 2" test $? -eq 2
check "... says why" grep -q "rnnc: --mpi goes with -o OUT (a trainer)" u2.out
finish
