#!/usr/bin/env bash
# Manual interoperability check of lt-wire against the reference libtorrent
# (python bindings), loopback only, each run bounded by timeouts.
#   outgoing: our fetch_piece (MSE rc4, MSE plaintext, no MSE) against a libtorrent seed
#   incoming: libtorrent downloads a whole torrent from our serve_file (MSE rc4, plaintext)
# Usage: crates/wire/interop/run.sh [path/to/reference/python]
set -euo pipefail
PY=${1:-/work/main/.venv-ref/bin/python}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
export INTEROP_DIR=$(mktemp -d)
trap 'rm -rf "$INTEROP_DIR"' EXIT
cargo build -q -p lt-wire --example fetch_piece --example serve_file --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/debug/examples"
pass=0; fail=0
check() { if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $*"; fi; }
fetch() { # seed-mode client-mode
  local info args
  "$PY" -W ignore "$HERE/seed.py" "$1" > "$INTEROP_DIR/info" 2>/dev/null &
  local pid=$!
  for _ in $(seq 300); do [ -s "$INTEROP_DIR/info" ] && break; sleep 0.1; done
  info=$(head -1 "$INTEROP_DIR/info")
  args=$(python3 -c "import json,sys; i=json.loads(sys.argv[1]); print('127.0.0.1:%d %s %d %d %s %d'%(i['port'],i['ih'],i['piece_len'],i['total'],i['p0'],i['meta']))" "$info")
  # shellcheck disable=SC2086
  timeout 30 "$BIN/fetch_piece" $args "$2"; local rc=$?
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  return $rc
}
serve() { timeout 80 "$PY" -W ignore "$HERE/leech.py" "$1" "$BIN/serve_file" | tee "$INTEROP_DIR/out"; grep -q "DATA MATCH True" "$INTEROP_DIR/out"; }
check fetch rc4 rc4
check fetch mseplain plaintext
check fetch plaintext none
check serve rc4
check serve plaintext
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
