#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with a starting corpus: the hand-made inputs in fuzz/seeds/, every
# .kfl file of the repository (examples and test cases), and for parse_check the files of
# examples/multi_file joined by NUL bytes (the two-file form: library, NUL, importer).
# The corpus folders are not committed (see .gitignore); run this before a first `cargo fuzz run`.
set -euo pipefail
cd "$(dirname "$0")"
root=..
for target in parse_check parse_fmt_parse; do
    mkdir -p "corpus/$target"
    cp seeds/* "corpus/$target/"
    while IFS= read -r -d '' file; do
        name=$(echo "${file#"$root"/}" | tr '/' '_')
        cp "$file" "corpus/$target/$name"
    done < <(find "$root/examples" "$root/tests" "$root/crates" -name '*.kfl' -not -path '*/target/*' -print0)
done
# Two-file inputs from the multi-file example: each component file as the library of the pipeline.
for lib in "$root"/examples/multi_file/components/*.kfl; do
    out="corpus/parse_check/multi_file_$(basename "$lib" .kfl)_pair"
    { cat "$lib"; printf '\0'; grep -v '^import' "$root/examples/multi_file/pipeline.kfl"; } > "$out"
done
echo "corpus: $(ls corpus/parse_check | wc -l) inputs for parse_check, $(ls corpus/parse_fmt_parse | wc -l) for parse_fmt_parse"
