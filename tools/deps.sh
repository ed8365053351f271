#!/bin/sh
# deps.sh — find the Debian packages rnnc needs that are missing, and install them.
#   tools/deps.sh PKG...                    install what is missing (as root), else print the command
#   tools/deps.sh --check-or-install PKG... the same, silent when nothing is missing
# A package counts as present when dpkg says it is installed.
set -u
quiet=0
if [ "${1:-}" = "--check-or-install" ]; then quiet=1; shift; fi
missing=""
for p in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  [ $quiet -eq 1 ] || echo "deps: all present ($*)"
  exit 0
fi
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && $cmd
  exit $?
fi
echo "deps: missing Debian packages:$missing" >&2
echo "deps: run as root: apt-get update && $cmd" >&2
exit 1
