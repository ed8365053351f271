#!/usr/bin/env bash
# fuzz_regress.sh — every input in tests/fuzz/regressions/NAME/ (inputs that once
# crashed a fuzz harness) and the seed corpora tests/fuzz/corpus/NAME/ go through the
# same harness entry points (LLVMFuzzerTestOneInput) again, without libFuzzer, built
# like the rest of the suite (with ASan + UBSan under make test-asan): `make fuzz-regress`.
# Run by `make test` (test-shell) from the repository root; BUILD names the build dir.
. "$(dirname "$0")/lib.sh"
make --no-print-directory -s BUILD="$BUILD" fuzz-regress
