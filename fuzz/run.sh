#!/usr/bin/env bash
# Short coverage-guided fuzzing of every target, on stable Rust and without cargo-fuzz: what CI runs
# after smoke.sh (tests/run-all.sh).
#
#   1. builds the targets instrumented for libFuzzer with the stable flags `cargo fuzz -s none`
#      passes (SanitizerCoverage as an LLVM pass, no sanitizer), into their own target folder so the
#      plain build of smoke.sh is not invalidated;
#   2. runs each target for FUZZ_SECONDS (default 30) on its committed corpus, fuzz/corpus/<target>/,
#      with the KFL dictionary; new inputs go to a temporary folder, so a run changes nothing
#      committed (FUZZ_MERGE=1 merges the new inputs that add coverage into the corpus, minimised:
#      commit the result);
#   3. exits non-zero if any target crashes, panics, hangs (10 s per input) or runs out of memory;
#      the input is kept in fuzz/artifacts/<target>/ and its path printed (minimise it, add it to
#      fuzz/regressions/<target>/, fix the bug: see README.md).
#
# FUZZ_TARGETS="parse_check lsp_framing" runs only those. Set CARGO_TARGET_DIR to share a build cache.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-30}
read -r -a targets <<<"${FUZZ_TARGETS:-parse_check parse_fmt_parse check_lower_emit lsp_framing import_roots}"
triple=$(rustc -vV | sed -n 's/^host: //p')
target_dir="${CARGO_TARGET_DIR:-$here/target}/fuzz-instrumented"

# With --target, RUSTFLAGS reach only the targets' code, not build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
echo "fuzz: building ${targets[*]} (instrumented, release)"
cargo build --manifest-path "$here/Cargo.toml" --release --target "$triple" --target-dir "$target_dir" \
    --quiet $(printf -- '--bin %s ' "${targets[@]}")
bin_dir="$target_dir/$triple/release"

failed=0
for target in "${targets[@]}"; do
    corpus="$here/corpus/$target"
    mkdir -p "$corpus" "$here/artifacts/$target"
    new=$(mktemp -d)
    log=$(mktemp)
    status=0
    "$bin_dir/$target" "$new" "$corpus" -dict="$here/kfl.dict" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$here/artifacts/$target/" \
        >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    found=$(find "$new" -type f | wc -l)
    if [ "$status" -ne 0 ]; then
        failed=$((failed + 1))
        echo "FAIL $target (exit $status):"
        grep -a -E 'panicked at|ERROR: libFuzzer|Test unit written to|SUMMARY' "$log" | head -8 | cut -c1-240 | sed 's/^/    /'
    else
        echo "fuzz: $target ok: ${runs:-?} runs in ${seconds}s, corpus $(find "$corpus" -type f | wc -l) + $found new"
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$status" -eq 0 ]; then
        "$bin_dir/$target" -merge=1 "$corpus" "$new" -max_len=8192 >/dev/null 2>&1
        echo "fuzz: $target corpus now $(find "$corpus" -type f | wc -l) inputs"
    fi
    rm -rf "$new" "$log"
done

if [ "$failed" -ne 0 ]; then
    echo "fuzz: $failed target(s) failed; the inputs are in fuzz/artifacts/"
    exit 1
fi
echo "fuzz: ok"
