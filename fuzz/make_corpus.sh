#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with a starting corpus: the hand-made inputs in fuzz/seeds/, every
# .kfl file of the repository (examples and test cases), and for parse_check the files of
# examples/multi_file joined by NUL bytes (the two-file form: library, NUL, importer).
# The corpus is committed, minimised (`FUZZ_MERGE=1 ./run.sh` adds what a fuzzing run found); run
# this to start it again from the repository's files: it empties fuzz/corpus/ first.
set -euo pipefail
cd "$(dirname "$0")"
root=..
rm -rf corpus
for target in parse_check parse_fmt_parse check_lower_emit import_roots lsp_framing; do
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
# import_roots: main.kfl NUL a.kfl NUL sub/b.kfl NUL sub/c.kfl, importing inside and outside the root.
component='component c {\n    command = ["true"]\n}\n'
i=0
for imports in 'import "a.kfl"' 'import "sub/b.kfl"' 'import "../outside/secret.kfl"' 'import "link.kfl"' \
    'import "../outside.kfl"' 'import "/tmp/x.kfl"' 'import "sub"' 'import "a.kfl"\nimport "a.kfl"'; do
    i=$((i + 1))
    printf "$imports\n\0$component\0import \"../a.kfl\"\n\0import \"b.kfl\"\n" >"corpus/import_roots/imports_$i"
done
# lsp_framing: well-formed frames, and each kind of malformed one.
body='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
printf 'Content-Length: %d\r\n\r\n%s' "${#body}" "$body" >corpus/lsp_framing/one
printf 'Content-Length: 5\r\n\r\n%s' "$body" >corpus/lsp_framing/too_short
printf 'Content-Length: 500\r\n\r\n%sContent-Length: %d\r\n\r\n%s' "$body" "${#body}" "$body" >corpus/lsp_framing/too_long
printf 'Content-Length: many\r\n\r\n{}' >corpus/lsp_framing/not_a_number
printf 'garbage\r\nContent-Type: x\r\nContent-Length: 2\r\n\r\n{}' >corpus/lsp_framing/garbage_first
for target in corpus/*; do echo "corpus: $(ls "$target" | wc -l) inputs for ${target#corpus/}"; done
