#!/usr/bin/env bash
# The layers of the workspace, as `cargo tree` sees them (normal dependencies, transitively):
# - nothing below the checker depends on the syntax or the checker: the DAG, the backends, the
#   local runner and the cluster client read the semantic model (`kfl-model`) only;
# - kube and k8s-openapi (minutes to compile) stay out of everything the core, the language server,
#   the run viewer (kfl-ui) and their tests depend on;
# - kfl-tree-sitter (the tree-sitter grammar) and the core know nothing of each other;
# - kfl-images (environments, Containerfiles, the lock) is pure: no process, no file, no async runtime.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=0
deps() { cargo tree --offline -e normal -p "$1" --prefix none --format '{p}' 2>/dev/null | awk '{print $1}' | sort -u; }
for crate in kfl-model kfl-dag kfl-argo kfl-kfp kfl-launcher kfl-run kfl-cluster kfl-yaml kfl-images kfl-ui; do
  bad=$(deps "$crate" | grep -E '^kfl-(syntax|check|project|fmt|lsp)$' || true)
  if [[ -n "$bad" ]]; then
    echo "FAIL $crate depends on $(echo $bad)"
    failed=1
  else
    echo "ok   $crate: no syntax, no checker"
  fi
done
for crate in kfl-syntax kfl-model kfl-check kfl-dag kfl-argo kfl-kfp kfl-run kfl-lsp kfl-fmt kfl-project kfl-images kfl-ui; do
  bad=$(deps "$crate" | grep -E '^(kube|kube-client|k8s-openapi)$' || true)
  if [[ -n "$bad" ]]; then
    echo "FAIL $crate depends on $(echo $bad)"
    failed=1
  fi
done
# The tree-sitter grammar's crate is an editor artefact with conformance tests: it depends on no
# KFL crate (kfl-syntax only for its tests), and no KFL crate depends on it.
bad=$(deps kfl-tree-sitter | grep -E '^kfl-' | grep -v '^kfl-tree-sitter$' || true)
if [[ -n "$bad" ]]; then
  echo "FAIL kfl-tree-sitter depends on $(echo $bad)"
  failed=1
fi
# The run viewer reads what runs recorded (run.json, manifests), not the compiler's types: it
# depends on no other KFL crate, so a viewer can read runs of another kflc version.
bad=$(deps kfl-ui | grep -E '^kfl-' | grep -v '^kfl-ui$' || true)
if [[ -n "$bad" ]]; then
  echo "FAIL kfl-ui depends on $(echo $bad)"
  failed=1
fi
for crate in kfl-syntax kfl-check kfl-lsp kfl-fmt kfl-project kflc; do
  if deps "$crate" | grep -qx 'kfl-tree-sitter'; then
    echo "FAIL $crate depends on kfl-tree-sitter"
    failed=1
  fi
done
# The images core computes; kflc runs the engines and writes the files.
bad=$(deps kfl-images | grep -E '^(tokio|kfl-run|kfl-project|kfl-cluster|kfl-syntax|kfl-check)$' || true)
if [[ -n "$bad" ]]; then
  echo "FAIL kfl-images depends on $(echo $bad)"
  failed=1
else
  echo "ok   kfl-images: no runtime, no files, no front end"
fi
[[ $failed == 0 ]] && echo "layering: ok"
exit $failed
