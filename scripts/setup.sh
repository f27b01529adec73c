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

# opentracker: a real BitTorrent tracker for the lt-tracker interop tests
# (crates/tracker/tests/opentracker.rs skips when it is missing).
if ! command -v opentracker >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing opentracker"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
    if $SUDO apt-get install -y -q opentracker >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q opentracker >/dev/null 2>&1; }; then
        # the package enables a system service; the tests start their own
        $SUDO systemctl disable --now opentracker >/dev/null 2>&1 || true
    else
        echo "setup: could not install opentracker; its interop tests will be skipped" >&2
    fi
fi
