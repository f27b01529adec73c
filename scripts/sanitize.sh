#!/usr/bin/env bash
# Runs the tests of every crate that contains `unsafe` code under
# AddressSanitizer (and LeakSanitizer) and under valgrind memcheck.
#   scripts/sanitize.sh [asan|valgrind|all]   (default: all)
# Miri needs a nightly toolchain with the miri and rust-src components,
# which this machine does not have; ASan works on the stable toolchain with
# RUSTC_BOOTSTRAP=1 (std itself is not instrumented, our code and its
# dependencies are). The crates are found with grep, so a new `unsafe`
# block elsewhere is picked up.
set -euo pipefail
what="${1:-all}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
host="$(rustc -vV | sed -n 's/^host: //p')"

# Crates (package names) whose sources contain an unsafe block or fn.
crates=()
for dir in crates/*/; do
    if grep -rqE '\bunsafe\s*(\{|fn|impl)' "$dir" --include=*.rs; then
        name="$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$dir/Cargo.toml" | head -1)"
        crates+=("$name")
    fi
done
if [ "${#crates[@]}" -eq 0 ]; then
    echo "no unsafe code in crates/"
    exit 0
fi
echo "== crates with unsafe code: ${crates[*]}"
pkgs=()
for c in "${crates[@]}"; do pkgs+=(-p "$c"); done

if [ "$what" = all ] || [ "$what" = asan ]; then
    echo "== AddressSanitizer: cargo test --lib --tests ${crates[*]}"
    # --target keeps build scripts and proc macros uninstrumented; a
    # separate target dir keeps the instrumented build apart.
    RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
        ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
        cargo test --lib --tests "${pkgs[@]}" --target "$host" --target-dir target/asan
fi

if [ "$what" = all ] || [ "$what" = valgrind ]; then
    if ! command -v valgrind >/dev/null; then
        echo "valgrind not installed" >&2
        exit 1
    fi
    echo "== valgrind memcheck: cargo test --lib --tests ${crates[*]}"
    # The test binaries of a normal debug build, run one test thread at a
    # time under memcheck; any error makes valgrind exit 99.
    bins="$(cargo test --lib --tests "${pkgs[@]}" --no-run --message-format=json 2>/dev/null \
        | python3 -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')"
    for b in $bins; do
        echo "-- $b"
        valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
            --quiet "$b" --test-threads=1 -q
    done
fi
echo "sanitize: clean"
