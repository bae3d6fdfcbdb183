#!/usr/bin/env bash
# CI smoke test of the fuzz targets, on stable Rust and without cargo-fuzz:
#   1. builds the targets with a plain `cargo build` (libfuzzer-sys links libFuzzer's `main`; without
#      coverage instrumentation the binaries cannot explore, but they run the files they are given);
#   2. runs every input under fuzz/regressions/ (crashes found earlier, kept so they stay fixed),
#      fuzz/seeds/, and every .kfl file of the repository through each target.
# Exits non-zero if the build fails or any input makes a target panic.
#
# Set CARGO_TARGET_DIR to share a build cache; otherwise fuzz/target/ is used.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
targets=(parse_check parse_fmt_parse check_lower_emit lsp_framing import_roots)

echo "smoke: building ${targets[*]}"
cargo build --manifest-path "$here/Cargo.toml" --bins --quiet
bin_dir="${CARGO_TARGET_DIR:-$here/target}/debug"

inputs=()
while IFS= read -r -d '' file; do
    inputs+=("$file")
done < <(
    find "$here/regressions" "$here/seeds" -type f ! -name '.*' -print0
    find "$root/examples" "$root/tests" "$root/crates" -name '*.kfl' -not -path '*/target/*' -print0
)

failed=0
for target in "${targets[@]}"; do
    count=0
    for input in "${inputs[@]}"; do
        count=$((count + 1))
        # A libFuzzer binary given files runs each once and exits non-zero if one crashes.
        status=0
        output=$("$bin_dir/$target" "$input" 2>&1) || status=$?
        if [ "$status" -ne 0 ]; then
            failed=$((failed + 1))
            if [ "$status" -gt 128 ]; then
                # No panic message: killed by a signal, most often SIGSEGV from a stack overflow.
                echo "FAIL $target ${input#"$root"/}: killed by signal $((status - 128))"
            else
                echo "FAIL $target ${input#"$root"/}"
                echo "$output" | grep -a -A2 'panicked at' | head -6 | cut -c1-200 | sed 's/^/    /'
            fi
        fi
    done
    echo "smoke: $target ran $count inputs"
done

if [ "$failed" -ne 0 ]; then
    echo "smoke: $failed failing runs (reproduce: $bin_dir/<target> <input>)"
    exit 1
fi
echo "smoke: ok"
