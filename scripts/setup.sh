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

# Other BitTorrent implementations and a real tracker for the interop tests
# (tests/interop, crates/tracker/tests/opentracker.rs): Debian packages,
# installed only when missing, with one `apt-get update` at most.
need_pkgs=()
command -v opentracker >/dev/null 2>&1 || need_pkgs+=(opentracker)
command -v transmission-cli >/dev/null 2>&1 || need_pkgs+=(transmission-cli)
command -v aria2c >/dev/null 2>&1 || need_pkgs+=(aria2)
command -v qbittorrent-nox >/dev/null 2>&1 || need_pkgs+=(qbittorrent-nox)
command -v stdbuf >/dev/null 2>&1 || need_pkgs+=(coreutils)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${need_pkgs[*]}"
        SUDO=""
        [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
        export DEBIAN_FRONTEND=noninteractive
        if ! $SUDO apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null 2>&1; then
            $SUDO apt-get update -q >/dev/null 2>&1 || true
            $SUDO apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null \
                || echo "setup: could not install ${need_pkgs[*]}; the interop tests will fail" >&2
        fi
        # the packages may enable system services; the tests start their own
        for svc in opentracker transmission-daemon qbittorrent-nox; do
            $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
        done
    else
        echo "setup: no apt-get; install ${need_pkgs[*]} for the interop tests" >&2
    fi
fi
