#!/usr/bin/env bash
# Runs a KFL pipeline with the kfp SDK's local runner (kfp.local.SubprocessRunner), in the virtual
# environment ../shared/tools/kfp-validate makes (KFP_VALIDATE_VENV, default ~/.cache/kfl-kfp-venv):
#
#   crates/kfl-kfp/tests/kfp_local_run.sh examples/quickstart.kfl [PIPELINE] [NAME=JSON ...]
#
# from the repository root. Arguments are pipeline parameters, their values as JSON
# (`min_accuracy=0.99`, `mode='"full"'`). The local runner only runs Python script components;
# pipelines with `sh` or container components need KFP itself (or kfp's DockerRunner).
# KFL_LOCAL_VENV=1 runs each task in a fresh virtual environment (slow, but packages a component
# installs stay out of the validator's environment); the default reuses that environment.
set -euo pipefail
file=${1:?usage: kfp_local_run.sh FILE.kfl [PIPELINE] [NAME=JSON ...]}
shift
pipeline=()
if [[ $# -gt 0 && $1 != *=* ]]; then pipeline=("$1"); shift; fi
venv=${KFP_VALIDATE_VENV:-$HOME/.cache/kfl-kfp-venv}
[[ -x $venv/bin/python ]] || ../shared/tools/kfp-validate /dev/null >/dev/null 2>&1 || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run --quiet -p kfl-kfp --example kfp_yaml -- "$file" "${pipeline[@]}" > "$work/pipeline.yaml"
"$venv/bin/python" - "$work" "$@" <<'PY'
import json, os, sys
from kfp import local
from kfp.components import load_component_from_file

work, args = sys.argv[1], sys.argv[2:]
arguments = {k: json.loads(v) for k, v in (a.split("=", 1) for a in args)}
local.init(runner=local.SubprocessRunner(use_venv=os.environ.get("KFL_LOCAL_VENV") == "1"),
           pipeline_root=os.path.join(work, "outputs"))
pipeline = load_component_from_file(os.path.join(work, "pipeline.yaml"))
task = pipeline(**arguments)
for name, value in task.outputs.items():
    print(f"output {name}: {value}")
PY
