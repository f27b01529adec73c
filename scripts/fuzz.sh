#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/fuzz_targets/ for SECONDS each
# (default 60); exits non-zero if any target finds a crash.
#   scripts/fuzz.sh [SECONDS]
# The committed seeds in fuzz/corpus/<target>/ are read, never written: new
# inputs go to fuzz/target/corpus/<target>/, findings to fuzz/artifacts/<target>/.
set -euo pipefail
secs="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

# The toolchain is stable; cargo-fuzz passes -Z sanitizer flags, which a
# stable rustc accepts with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

targets=()
for f in fuzz_targets/*.rs; do
    [ -e "$f" ] || continue
    targets+=("$(basename "$f" .rs)")
done
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets in fuzz/fuzz_targets/" >&2
    exit 1
fi

failed=()
for t in "${targets[@]}"; do
    echo "== fuzz $t for ${secs}s"
    work="target/corpus/$t"
    mkdir -p "$work" "corpus/$t" "artifacts/$t"
    if ! cargo fuzz run "$t" "$work" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        echo "!! $t: finding, see fuzz/artifacts/$t/" >&2
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz findings in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} target(s) clean"
