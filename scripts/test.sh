#!/usr/bin/env bash
# The one command that runs every test (README, .ci/run):
#   formatting and lints, Rust unit/integration tests, the Python test suite
#   (differential tests against the reference module, interop with real
#   clients), and a short run of every fuzz target.
# The Rust code is compiled once in the release profile, shared by the wheel
# and `cargo test --release` (clippy adds a check-only pass).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}"

scripts/setup.sh

echo "== build and install the module"
pip install -q --disable-pip-version-check .

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -q -- -D warnings

echo "== cargo test"
cargo test --release --workspace --exclude lt-python

echo "== pytest"
python3 -m pytest -q tests

if [ "$FUZZ_SECONDS" -gt 0 ]; then
    echo "== fuzz (${FUZZ_SECONDS}s per target)"
    scripts/fuzz.sh "$FUZZ_SECONDS"
fi
