#!/usr/bin/env bash
# Idempotent set-up of everything the tests need besides our module:
#  - the reference libtorrent wheel in its own virtualenv (.venv-ref), the
#    oracle for differential tests and a real peer for interop tests;
#  - Python test dependencies.
# Safe to run again: each step checks before it acts.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

REF_VERSION="${LT_REF_VERSION:-2.1.1}"
if ! .venv-ref/bin/python -c "import libtorrent, sys; sys.exit(0 if libtorrent.__version__.startswith('$REF_VERSION') else 1)" 2>/dev/null; then
    echo "setup: creating .venv-ref with libtorrent==$REF_VERSION"
    rm -rf .venv-ref
    python3 -m venv .venv-ref
    .venv-ref/bin/pip install -q --disable-pip-version-check "libtorrent==$REF_VERSION"
fi

python3 -c "import pytest" 2>/dev/null || pip install -q pytest
