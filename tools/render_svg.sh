#!/bin/sh
# render_svg.sh — rasterize an SVG with Debian's headless Chromium, to eyeball figures
# such as the training-history plot (a manual check, not a test).
#   tools/render_svg.sh IN.svg OUT.png [WIDTH HEIGHT]
# WIDTH x HEIGHT default to the SVG's width/height attributes. Chromium runs with a
# throw-away profile and every network-facing feature off: it only reads one file.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 IN.svg OUT.png [WIDTH HEIGHT]" >&2
  exit 2
fi
in=$1
out=$2
[ -r "$in" ] || { echo "$0: cannot read $in" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "$0: chromium not found (apt-get install -y --no-install-recommends chromium)" >&2; exit 1; }

# The figure's own size, from the first width="..." height="..." on the <svg> element.
svg_attr() {
  tr '\n' ' ' <"$in" | sed -n "s/.*<svg[^>]* $1=\"\([0-9.]*\)\".*/\1/p" | cut -d. -f1
}
w=${3:-$(svg_attr width)}
h=${4:-$(svg_attr height)}
[ -n "$w" ] && [ -n "$h" ] || { echo "$0: no width/height on <svg>; pass WIDTH HEIGHT" >&2; exit 1; }

# Chromium wants absolute paths for both the page and the screenshot.
abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$(pwd)" "$1" ;; esac; }
in_abs=$(abs "$in")
out_abs=$(abs "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT INT TERM
rm -f "$out_abs"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile" --screenshot="$out_abs" \
  --window-size="$w,$h" "file://$in_abs" >/dev/null 2>&1 || true
# Chromium's exit status is not reliable in headless mode; the file is.
[ -s "$out_abs" ] || { echo "$0: chromium produced no $out" >&2; exit 1; }
echo "$out (${w}x$h)"
