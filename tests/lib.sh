# shellcheck shell=bash disable=SC2034  # the variables are the tests'
# lib.sh — what every shell test shares; each test sources it first, from the
# repository root (as `make test` runs them):  . "$(dirname "$0")/lib.sh"
#
#   BUILD ROOT RNNC SAN  the build dir (BUILD, default build), the repository root, the
#                        rnnc under test, the sanitizer flags `make test-asan` exports
#   RNNC_MARCH           exported as native (unless set): trainers are built once for
#                        this machine, not once per x86-64 level; the tests of the
#                        default build itself (build_exe.sh, shipping.sh) unset it
#   ok                   count a passed check
#   bad WHAT             count a failed one and print "FAIL: WHAT"; returns 1, so
#                        `check ... || cat LOG` shows the log of a failure
#   check WHAT CMD...    ok if CMD succeeds, else bad WHAT
#   tmpdir               T = a new /tmp/rnnc-NAME-XXXXXX, removed at exit (a test
#                        that replaces the EXIT trap removes T itself)
#   keep_tmp             keep T at exit (a failed test's work, for a look)
#   finish [NOTE]        print "NAME: P passed, F failed [NOTE]"; returns 0 only if
#                        nothing failed and something passed: the test's last command
if [ "${BASH_SOURCE[0]}" = "$0" ]; then echo "lib.sh: source it from a test, do not run it" >&2; exit 1; fi
set -u
TEST=$(basename "$0" .sh)
BUILD=${BUILD:-build}
SAN=${SAN:-}
ROOT=$(pwd)
RNNC="$ROOT/$BUILD/rnnc"
export RNNC_MARCH=${RNNC_MARCH-native}
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; return 1; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

KEEP_T=""
tmpdir() {
  T=$(mktemp -d "/tmp/rnnc-$TEST-XXXXXX") || { echo "$TEST.sh: mktemp failed"; exit 1; }
  trap rm_tmp EXIT
}
rm_tmp() { [ -n "$KEEP_T" ] || rm -rf "$T"; }
keep_tmp() { KEEP_T=1; }

finish() {
  echo "$TEST.sh: $pass passed, $fail failed${1:+ $1}"
  [ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
}
