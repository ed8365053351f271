#!/usr/bin/env bash
# fresh_check.sh — `make fresh-check`: the README's two commands on a bare Debian 12.
#
# Builds (or reuses) a minimal Debian 12 root made by Debian's mmdebstrap
# (--variant=apt plus make, git and ca-certificates, nothing else) from the package
# archive the host's apt is configured for, copies the repository's HEAD commit into it
# with git, and runs `make demo` and then `make test` there, each once, as a new user
# would on the first try. Prints one line per command with its result and time; the
# full output of each goes to a log outside the root.
#
# The root is cached as a tarball under ${XDG_CACHE_HOME:-~/.cache}/rnnc, named by a
# hash of everything it is made from; each run unpacks a fresh copy and deletes it at
# the end. Everything runs in a private mount and PID namespace (unshare), so the
# root's mounts (proc, sys, dev) vanish and every process inside is killed whatever
# way this script ends, even by SIGKILL; the copy is removed on every exit path this
# script sees. Needs root (mmdebstrap, chroot and mounts do).
#
# Environment: FRESH_WORKDIR (default /var/tmp) holds the unpacked root (about 2 GB at
# the end); FRESH_KEEP_LOGS=0 deletes the logs too.
set -euo pipefail

top=$(git rev-parse --show-toplevel 2> /dev/null) || { echo "fresh-check: run it from a git clone of rnnc" >&2; exit 2; }
cd "$top"
if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-check: needs root (it builds a Debian root with mmdebstrap, mounts /proc, /sys and /dev in it and chroots there); run: sudo make fresh-check" >&2
  exit 2
fi
tools/deps.sh --check-or-install ${FRESH_PKGS:-mmdebstrap}

# What to test: HEAD, or with --worktree the working tree as it is (tracked files and
# the untracked ones git does not ignore), committed to a dangling commit through a
# temporary index so that neither the index nor a branch changes.
what="commit"
if [ "${1:-}" = "--worktree" ]; then
  idx=$(mktemp)
  cp "$(git rev-parse --git-dir)/index" "$idx"
  GIT_INDEX_FILE=$idx git add -A
  tree=$(GIT_INDEX_FILE=$idx git write-tree)
  rm -f "$idx"
  rev=$(git commit-tree -p HEAD -m "fresh-check: the working tree" "$tree")
  what="the working tree on"
elif [ -n "${1:-}" ]; then
  echo "fresh-check: unknown argument '$1' (only --worktree)" >&2
  exit 2
else
  rev=$(git rev-parse HEAD)
  if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "fresh-check: note: testing commit ${rev:0:12}; uncommitted changes are not included (--worktree includes them)"
  fi
fi

# ---- the cached root -------------------------------------------------------------------
cache=${XDG_CACHE_HOME:-$HOME/.cache}/rnnc
mkdir -p "$cache"
work=$(mktemp -d "${FRESH_WORKDIR:-/var/tmp}/rnnc-fresh-check-XXXXXX")
logs="$work/logs"
root="$work/root"
mkdir -p "$logs" "$root"
ns= ref=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  # unshare kills the namespace's first process when it dies, and with it every other
  if [ -n "${ns:-}" ]; then kill -TERM "$ns" 2> /dev/null; wait "$ns" 2> /dev/null; fi
  if [ -n "${ref:-}" ]; then git update-ref -d "$ref" 2> /dev/null || true; fi
  # The namespace's mounts are gone with its last process; refuse to delete anything
  # that is still a mount point (rm would otherwise walk into the host's /dev).
  if grep -q " $root" /proc/mounts; then
    echo "fresh-check: $root still has mounts; not deleting it" >&2
  else
    rm -rf --one-file-system "$root"
  fi
  if [ "${FRESH_KEEP_LOGS:-1}" = 0 ]; then rm -rf "$work"; else rmdir "$work" 2> /dev/null || true; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The host's archive: its deb822 .sources and one-line .list files for bookworm, and
# the apt settings that decide how it is reached (proxies, date checks of snapshots).
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -qE '^[^#]*bookworm' "$f" && sources+=("$f")
done
if [ ${#sources[@]} -eq 0 ]; then
  echo "fresh-check: the host's apt has no source for Debian 12 (bookworm) in /etc/apt" >&2
  exit 1
fi
aptopts="$work/aptopts"
apt-config dump | grep -E '^Acquire::(https?::Proxy|ftp::Proxy|Check-Valid-Until|Check-Date) ' > "$aptopts" || true
include=make,git,ca-certificates
key=$( (echo "v1 bookworm apt $include"; cat "${sources[@]}" "$aptopts") | sha256sum | cut -c1-16)
tarball="$cache/bookworm-apt-$key.tar"
if [ ! -s "$tarball" ]; then
  echo "fresh-check: building a minimal Debian 12 root with mmdebstrap (cached as $tarball)"
  tmp="$tarball.tmp.$$"
  if ! mmdebstrap --quiet --format=tar --variant=apt --include="$include" --aptopt="$aptopts" bookworm "$tmp" "${sources[@]}" \
        > "$logs/mmdebstrap.log" 2>&1; then
    rm -rf "$tmp"
    echo "fresh-check: mmdebstrap failed; see $logs/mmdebstrap.log" >&2
    tail -n 20 "$logs/mmdebstrap.log" >&2
    exit 1
  fi
  mv "$tmp" "$tarball"
fi
tar -xf "$tarball" -C "$root"

# ---- the commit, as a clone --------------------------------------------------------------
mkdir -p "$root/src/rnnc"
git -C "$root/src/rnnc" init --quiet
ref=refs/fresh-check/$$
git update-ref "$ref" "$rev"
git -C "$root/src/rnnc" fetch --quiet --no-tags "$top" "$ref"
git update-ref -d "$ref"
git -C "$root/src/rnnc" checkout --quiet --detach FETCH_HEAD
echo "fresh-check: $what ${rev:0:12} in a bare Debian 12 root (only apt, make, git, ca-certificates)"

# ---- the two commands ------------------------------------------------------------------------
# One namespace for both, so that the second sees what the first installed; a clean
# environment, as a new user's login would have.
inner='
set -u
mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --rbind /dev "$ROOT/dev"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
status=0
for cmd in "make demo" "make test"; do
  log="$LOGS/$(echo "$cmd" | tr " " -).log"
  if [ $status -ne 0 ]; then
    printf "fresh-check: %-10s not run (the command before it failed)\n" "$cmd"
    continue
  fi
  start=$(date +%s)
  chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c "cd /src/rnnc && $cmd" < /dev/null > "$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    printf "fresh-check: %-10s ok      %4d s\n" "$cmd" $secs
  else
    printf "fresh-check: %-10s FAILED  %4d s (exit %d); the end of %s:\n" "$cmd" $secs $rc "$log"
    tail -n 25 "$log" | sed "s/^/    /"
    status=1
  fi
done
exit $status
'
set +e
ROOT="$root" LOGS="$logs" unshare --mount --propagation private --pid --fork --kill-child sh -c "$inner" &
ns=$!
wait $ns
status=$?
ns=
set -e
echo "fresh-check: logs in $logs"
exit $status
