#!/usr/bin/env bash
# The one command that runs every test (README, .ci/run).
# Builds the Rust code once (release profile, shared by the wheel and cargo test).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

scripts/setup.sh
echo "== build and install the module"
pip install -q --disable-pip-version-check . 
echo "== cargo test"
cargo test --release --workspace --exclude lt-python
echo "== pytest"
python3 -m pytest -q tests
