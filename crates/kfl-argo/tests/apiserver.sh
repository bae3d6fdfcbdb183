#!/usr/bin/env bash
# The real check: a real Kubernetes API server with Argo's Workflow CRD accepts every example's
# Workflow under strict field validation, and reads its YAML as the same Workflow as its JSON.
#
#   crates/kfl-argo/tests/apiserver.sh [DIR]
#
# DIR holds Workflow JSON files, each with a metadata.name, and optionally the same Workflows as
# YAML (NAME.yaml beside NAME.json; default: both generated now with
# `cargo run -p kfl-argo --example emit`). Starts ../shared/tools/k8s-testenv (building it the
# first time, ~4.5 min), installs the Argo CRD, server-side-applies each file with
# dryRun=All&fieldValidation=Strict&fieldManager=kflc and expects HTTP 200 (the server answers an
# apply with an unknown or mistyped field with 500); the `spec`, labels and annotations the server
# answers for a YAML file must be those it answered for its JSON file. Last line: "N passed, M failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
testenv=${KFL_TESTENV_TOOL:-$repo/../shared/tools/k8s-testenv}
namespace=kfl-test
[[ -x $testenv ]] || { echo "k8s-testenv not found at $testenv (set KFL_TESTENV_TOOL)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kfl-argo-apiserver.XXXXXX")
cleanup() {
  if [[ -n ${KFL_TESTENV_DIR:-} ]]; then "$testenv" stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

dir=${1:-}
if [[ -z $dir ]]; then
  dir=$work/workflows
  (cd "$repo" && cargo run --quiet -p kfl-argo --example emit -- "$dir")
fi
shopt -s nullglob
files=("$dir"/*.json "$dir"/*.yaml)
((${#files[@]} > 0)) || { echo "no Workflow files in $dir" >&2; exit 2; }

"$testenv" build >&2
export KFL_TESTENV_WATCH_PID=$$
# A start can fail on a busy machine (a port taken between choosing and binding it): try again.
for attempt in 1 2 3; do
  if env_text=$("$testenv" start); then break; fi
  ((attempt < 3)) || { echo "k8s-testenv did not start" >&2; exit 2; }
  sleep 2
done
eval "$env_text"
"$testenv" install-argo-crd >&2

# The client credentials of the generated kubeconfig, for curl.
field() { sed -n "s/^ *$1: *//p" "$KUBECONFIG" | head -n 1; }
server=$(field server)
field certificate-authority-data | base64 -d >"$work/ca.crt"
field client-certificate-data | base64 -d >"$work/client.crt"
field client-key-data | base64 -d >"$work/client.key"
[[ -n $server && -s $work/ca.crt && -s $work/client.crt && -s $work/client.key ]] ||
  { echo "cannot read the credentials from $KUBECONFIG" >&2; exit 2; }

apply() { # FILE → the HTTP status of a dry-run, strict server-side apply
  local name url
  # The name of a YAML file's Workflow is read from its JSON twin.
  name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["name"])' "${1%.*}.json")
  url="$server/apis/argoproj.io/v1alpha1/namespaces/$namespace/workflows/$name?dryRun=All&fieldValidation=Strict&fieldManager=kflc&force=true"
  curl --silent --show-error --output "$work/response.json" --write-out '%{http_code}' \
    --cacert "$work/ca.crt" --cert "$work/client.crt" --key "$work/client.key" \
    -X PATCH -H 'Content-Type: application/apply-patch+yaml' --data-binary "@$1" "$url" || echo 000
}
message() {
  python3 -c 'import json,sys
try:
    print("     " + json.load(open(sys.argv[1])).get("message", "")[:3000])
except Exception as e:
    print("     (no JSON answer: %s)" % e)' "$work/response.json"
}

# The `spec`, labels and annotations of the server's answer, as canonical JSON.
answered_spec() {
  python3 -c 'import json,sys
w = json.load(open(sys.argv[1]))
m = w["metadata"]
print(json.dumps([w["spec"], m.get("labels"), m.get("annotations")], sort_keys=True))' "$work/response.json"
}

mkdir -p "$work/specs"
passed=0
failed=0
# 200 (an existing object) or 201 (a new one): accepted.
for file in "${files[@]}"; do
  code=$(apply "$file")
  base=$(basename "$file")
  if [[ $code == 200 || $code == 201 ]]; then
    answered_spec >"$work/specs/$base"
    twin=$work/specs/${base%.yaml}.json
    if [[ $file == *.yaml ]] && ! cmp -s "$work/specs/$base" "$twin"; then
      failed=$((failed + 1))
      echo "FAIL $base: the server reads the YAML as another Workflow than the JSON"
      diff <(python3 -m json.tool "$twin") <(python3 -m json.tool "$work/specs/$base") | head -40 || true
      continue
    fi
    passed=$((passed + 1))
    echo "ok   $base (HTTP $code)"
  else
    failed=$((failed + 1))
    echo "FAIL $(basename "$file"): HTTP $code"
    message
  fi
done
# The control: the same check refuses a Workflow with one unknown field.
python3 -c 'import json,sys
w = json.load(open(sys.argv[1]))
w["spec"]["templates"][0]["kflUnknownField"] = True
json.dump(w, open(sys.argv[2], "w"))' "${files[0]}" "$work/unknown-field.json"
code=$(apply "$work/unknown-field.json")
if [[ $code == 200 || $code == 201 ]]; then
  failed=$((failed + 1))
  echo "FAIL control: a Workflow with an unknown field was accepted (HTTP $code): the check is not strict"
else
  passed=$((passed + 1))
  echo "ok   control: a Workflow with an unknown field is refused (HTTP $code)"
fi
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
