#!/usr/bin/env bash
# `kflc images` against real engines, offline: the base image is made locally
# (../shared/tools/container-testenv image python), packages come from a wheel this script writes
# (--find-links, --no-index), images are built with buildah and podman, pushed to a local OCI
# registry on 127.0.0.1, and the pushed digest is read back from the registry and pulled again.
# What is missing is installed first (container-testenv setup, apt-get install buildah); a step that
# cannot run fails the suite. Last line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
kflc=${KFLC:-$CARGO_TARGET_DIR/debug/kflc}
testenv=$root/../shared/tools/container-testenv
[[ -x $testenv ]] || testenv=/work/shared/tools/container-testenv
tools=$(dirname "$testenv")

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { # check NAME COMMAND...: passes when the command succeeds
  local name=$1
  shift
  if "$@"; then ok "$name"; else fail "$name"; fi
}

if [[ ! -x $kflc ]]; then
  cargo build -p kflc --no-default-features --quiet || { echo "FAIL kflc does not build"; exit 1; }
fi
"$testenv" setup >/dev/null 2>&1 || { echo "FAIL container-testenv setup"; exit 1; }
if ! command -v buildah >/dev/null; then
  apt-get install -y -qq buildah >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq buildah >/dev/null; } ||
    { echo "FAIL buildah cannot be installed"; exit 1; }
fi
"$testenv" image python --also-tag python:3.11-slim >/dev/null 2>"$CARGO_TARGET_DIR/images-python.log" ||
  { echo "FAIL the python image cannot be made (see $CARGO_TARGET_DIR/images-python.log)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kfl-images-test.XXXXXX")
registry_dir=""
silent_pid=""
tags=()
cleanup() {
  [[ -n $silent_pid ]] && kill "$silent_pid" 2>/dev/null
  [[ -n $registry_dir ]] && "$testenv" registry stop "$registry_dir" >/dev/null 2>&1
  for tag in "${tags[@]}"; do podman rmi -f "$tag" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

mkdir wheels
# kfldemo 1.0 and 2.0, and a stand-in for the kfp runtime the images carry for the KFP target.
python3 "$root/tests/images/make-wheel.py" wheels 1.0 && python3 "$root/tests/images/make-wheel.py" wheels 2.0 &&
  python3 "$root/tests/images/make-wheel.py" wheels 2.17.3 kfp ||
  { echo "FAIL cannot write the test wheels"; exit 1; }

# Two components share one environment (same base, same pins in another order); a third pins
# another version. `plain` installs nothing and needs no image.
cat >p.kfl <<'KFL'
component make_rows {
    packages = ["kfldemo==1.0"]
    output n: Int
    python """
        import kfldemo
        n = kfldemo.ANSWER
    """
}

component double {
    input n: Int
    packages = [" kfldemo==1.0", "kfldemo==1.0"]
    output m: Int
    python """
        import kfldemo
        m = n * 2
    """
}

component newer {
    input m: Int
    packages = ["kfldemo==2.0"]
    python """
        import kfldemo
        print(m, kfldemo.VERSION)
    """
}

component plain {
    input m: Int
    python """
        print(m)
    """
}

pipeline p() {
    a = make_rows()
    b = double(n: a.n)
    newer(m: b.m)
    plain(m: b.m)
}
KFL

# 1. Containerfiles only: one per environment, byte-identical when written again, no engine needed.
"$kflc" images build p.kfl --dockerfile-only -o ctx >listing.txt 2>err.txt
check "--dockerfile-only writes one context per distinct environment (2 for 3 components)" \
  test "$(find ctx -name Containerfile | wc -l)" = 2
first=$(cd ctx && find . -type f | sort | xargs sha256sum)
"$kflc" images build p.kfl --dockerfile-only -o ctx >/dev/null 2>&1
check "a second --dockerfile-only writes byte-identical files" test "$first" = "$(cd ctx && find . -type f | sort | xargs sha256sum)"
check "the shared environment lists both components" grep -q $'\tmake_rows,double$\|\tdouble,make_rows$' listing.txt
check "no lock is written without a build" test ! -e kfl.lock
# A file with two pipelines: every pipeline's environments, or one pipeline's with --pipeline.
sed -n '/^pipeline p()/q;p' p.kfl >two.kfl
printf 'pipeline first() {\n    a = make_rows()\n    double(n: a.n)\n}\n\npipeline second() {\n    newer(m: 3)\n}\n' >>two.kfl
check "two pipelines: both pipelines' environments without --pipeline" \
  test "$("$kflc" images build two.kfl --dockerfile-only -o ctx-two 2>/dev/null | wc -l)" = 2
check "two pipelines: --pipeline second has one environment" \
  test "$("$kflc" images build two.kfl --pipeline second --dockerfile-only -o ctx-two 2>/dev/null | cut -f3)" = newer

# 2. No engine on PATH: --dockerfile-only still works, a build says how to build.
mkdir bin
for tool in sh env python3; do ln -s "$(command -v $tool)" bin/$tool; done
PATH=$work/bin "$kflc" images build p.kfl -o ctx-noengine --dockerfile-only >/dev/null 2>&1
check "--dockerfile-only works with no engine" test -f "$(find ctx-noengine -name Containerfile | head -1)"
PATH=$work/bin "$kflc" images build p.kfl -o ctx-noengine >out.txt 2>&1
status=$?
check "no engine: exit 1" test $status = 1
check "no engine: E0605" grep -q '^error\[E0605\]: no container engine here' out.txt
check "no engine: the error says how to build" grep -q "buildah bud --layers --timestamp 0 -t localhost/kfl-env:" out.txt

# 3. Build with buildah, offline.
t0=$(date +%s.%N)
"$kflc" images build p.kfl -o ctx --engine buildah --find-links wheels --no-index >out.txt 2>&1
status=$?
echo "     first build: $(echo "$(date +%s.%N) - $t0" | bc) s"
check "buildah builds the 2 environments" test $status = 0 -a "$(grep -c '^built ' out.txt)" = 2 || cat out.txt
check "the lock has 2 environments" test "$(grep -c '"hash"' kfl.lock)" = 2
mapfile -t images < <(grep '"image"' kfl.lock | sed 's/.*"image": "\(.*\)",/\1/')
tags+=("${images[@]}")
shared=$(python3 -c 'import json,sys; print(next(e["image"] for e in json.load(open("kfl.lock"))["environments"] if len(e["components"]) == 2))')
newer=$(python3 -c 'import json,sys; print(next(e["image"] for e in json.load(open("kfl.lock"))["environments"] if len(e["components"]) == 1))')
check "the shared image has kfldemo 1.0 installed" test "$(podman run --rm --network none --pull=never "$shared" python3 -c 'import kfldemo; print(kfldemo.VERSION)')" = 1.0
check "the other image has kfldemo 2.0" test "$(podman run --rm --network none --pull=never "$newer" python3 -c 'import kfldemo; print(kfldemo.VERSION)')" = 2.0
check "the kfp runtime is in the image (its own layer)" test "$(podman run --rm --network none --pull=never "$shared" python3 -c 'import kfp; print(kfp.VERSION)')" = 2.17.3
check "scripts and wheels stay out of the image" test "$(podman run --rm --network none --pull=never "$shared" ls /kfl)" = requirements.txt
labels=$(podman image inspect --format '{{json .Labels}}' "$shared")
check "OCI labels: source, components, version, content hash" python3 -c '
import json, sys
labels = json.loads(sys.argv[1])
assert labels["dev.kfl.source"] == "p.kfl", labels
assert labels["dev.kfl.components"] == "p.kfl:double,p.kfl:make_rows", labels
assert labels["dev.kfl.version"], labels
assert labels["dev.kfl.env.hash"].startswith("sha256:" + sys.argv[2].rsplit(":", 1)[1]), labels
' "$labels" "$shared"

# 4. Unchanged rebuild: a no-op, under a second, nothing rewritten.
lock_before=$(sha256sum kfl.lock)
stamp_before=$(stat -c %Y.%N kfl.lock ctx/*/Containerfile | sha256sum)
t0=$(date +%s%N)
"$kflc" images build p.kfl -o ctx --engine buildah --find-links wheels --no-index >out.txt 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
echo "     unchanged rebuild: ${ms} ms"
check "an unchanged rebuild builds nothing" grep -q "2 environments, 0 built" out.txt
check "an unchanged rebuild takes under a second (${ms} ms)" test "$ms" -lt 1000
check "an unchanged rebuild leaves the lock and the Containerfiles untouched" \
  test "$lock_before$stamp_before" = "$(sha256sum kfl.lock)$(stat -c %Y.%N kfl.lock ctx/*/Containerfile | sha256sum)"

# 5. podman builds the same Containerfile too.
"$kflc" images build p.kfl -o ctx-podman --images podman.lock --engine podman --find-links wheels --no-index --no-kfp >out.txt 2>&1
check "podman builds the environments as well (--no-kfp)" test $? = 0 -a "$(grep -c '"hash"' podman.lock)" = 2 || cat out.txt
for t in $(grep '"image"' podman.lock | sed 's/.*"image": "\(.*\)",/\1/'); do tags+=("$t"); done

# 5b. Reproducible images: each environment built again from its context with the engine's layer
# cache off (`--no-cache`, otherwise the very command kflc runs) has the image id the lock records.
rebuilt_same() { # ENGINE LOCK CTX: every environment of LOCK, rebuilt from CTX/<hash>, has its id
  local engine=$1 lock=$2 ctx=$3 image id hash again n=0
  while read -r image id; do
    hash=${image##*:}
    again=localhost/kfl-images-test-rebuilt:$hash-$$
    tags+=("$again")
    if [[ $engine == buildah ]]; then
      buildah bud --layers --timestamp 0 --no-cache --network none -f "$ctx/$hash/Containerfile" -t "$again" "$ctx/$hash" >rebuild.txt 2>&1 &&
        [[ $(buildah inspect --type image --format '{{.FromImageID}}' "$again") == "$id" ]] || { tail -5 rebuild.txt; return 1; }
    else
      podman build --layers --timestamp 0 --no-cache --network none -f "$ctx/$hash/Containerfile" -t "$again" "$ctx/$hash" >rebuild.txt 2>&1 &&
        [[ $(podman image inspect --format '{{.Id}}' "$again") == "$id" ]] || { tail -5 rebuild.txt; return 1; }
    fi
    # Only a second name of the same image: removing it leaves the image to its own tag.
    podman rmi "$again" >/dev/null 2>&1
    n=$((n + 1))
  done < <(python3 -c 'import json, sys; [print(e["image"], e["id"]) for e in json.load(open(sys.argv[1]))["environments"]]' "$lock")
  [[ $n == 2 ]]
}
check "buildah: both environments rebuilt without the layer cache have the locked image ids" rebuilt_same buildah kfl.lock ctx
check "podman: both environments rebuilt without the layer cache have the locked image ids" rebuilt_same podman podman.lock ctx-podman
"$kflc" build p.kfl --target kfp -o kfp-nokfp.yaml --images podman.lock 2>err.txt
check "kfp with a --no-kfp lock: kfp installed at start, the packages not" \
  bash -c 'grep -q "pip install.*kfp==2.17.3" kfp-nokfp.yaml && ! grep -q "pip install.*kfldemo" kfp-nokfp.yaml' 

# 6. kflc build with the lock: the built images, no pip install of the packages at pod start.
"$kflc" build p.kfl --target argo -o wf.yaml 2>err.txt
check "argo with the lock: the built images" test "$(grep -c "image: $shared" wf.yaml)" = 2 -a "$(grep -c "image: $newer" wf.yaml)" = 1
check "argo with the lock: no packages to install at start" bash -c '! grep -A1 "name: KFL_PACKAGES" wf.yaml | grep -q kfldemo'
check "argo with the lock passes argo-lint" "$tools/argo-lint" wf.yaml
"$kflc" build p.kfl --target kfp -o kfp.yaml 2>err.txt
check "kfp with the lock: the built images" test "$(grep -c "image: $shared" kfp.yaml)" = 2
check "kfp with the lock: no pip install of the packages" bash -c '! grep -q "pip install.*kfldemo" kfp.yaml'
check "kfp with the lock: pip runs only for the component without an image (plain)" \
  test "$(grep -c "pip install" kfp.yaml)" = 1
check "kfp with the lock passes kfp-validate" bash -c "'$tools/kfp-validate' kfp.yaml >/dev/null"
"$kflc" build p.kfl --target argo -o wf-nolock.yaml --images /dev/null 2>/dev/null
check "an empty --images file is refused (E0602), never a fallback" test $? = 2

# kflc run with the lock: the python components with packages run in their images (podman).
"$kflc" run p.kfl --images kfl.lock --root runs >out.txt 2>&1
status=$?
check "kflc run --images: the pipeline runs" test $status = 0 || cat out.txt
check "kflc run --images: \`newer\` ran in its image (kfldemo 2.0, which this machine does not have)" \
  bash -c 'grep -qx "84 2.0" runs/runs/latest/newer/stdout.log && ! python3 -c "import kfldemo" 2>/dev/null'
# --isolation container finds kfl.lock beside the file, as `kflc build` does.
"$kflc" run p.kfl --isolation container --no-cache --root runs-c >out-c.txt 2>&1
status=$?
check "kflc run --isolation container uses kfl.lock beside the file" \
  bash -c "test $status = 0 && grep -qx '84 2.0' runs-c/runs/latest/newer/stdout.log"
[[ $status == 0 ]] || tail -20 out-c.txt

# 7. A changed pin makes the lock stale: a coded error naming the component.
sed 's/packages = \["kfldemo==2.0"\]/packages = ["kfldemo==2.1"]/' p.kfl >p2.kfl
cp kfl.lock p2.lock
sed -i 's/"p.kfl:/"p2.kfl:/' p2.lock
"$kflc" build p2.kfl --target argo --images p2.lock >/dev/null 2>err.txt
status=$?
check "stale lock: exit 2" test $status = 2
check "stale lock: E0601 names the component and the change" \
  grep -q 'error\[E0601\]: the image of `newer` in p2.lock is stale' err.txt
check "stale lock: the change is shown" grep -q "adds kfldemo==2.1; drops kfldemo==2.0" err.txt

# 8. Push to a local registry; the digest the registry serves is the lock's; pull it back.
eval "$("$testenv" registry start)"
registry_dir=$KFL_REGISTRY_DIR
t0=$(date +%s)
"$kflc" images build p.kfl -o ctx --engine buildah --find-links wheels --no-index --push "$KFL_REGISTRY" >out.txt 2>&1
check "push to $KFL_REGISTRY ($(($(date +%s) - t0)) s)" test $? = 0 || cat out.txt
mapfile -t pushed < <(python3 -c 'import json; [print(e["image"], e["digest"]) for e in json.load(open("kfl.lock"))["environments"]]')
check "both environments were pushed" test "${#pushed[@]}" = 2
for entry in "${pushed[@]}"; do
  read -r image digest <<<"$entry"
  tags+=("$image")
  repo_tag=${image#*/}
  served=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$KFL_REGISTRY/v2/${repo_tag%%:*}/manifests/${repo_tag##*:}" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest" {print $2}')
  check "the registry serves $repo_tag by the digest in the lock" test -n "$digest" -a "$served" = "$digest"
done
t0=$(date +%s%N)
"$kflc" images build p.kfl -o ctx --engine buildah --find-links wheels --no-index --push "$KFL_REGISTRY" >out.txt 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
check "an unchanged pushed rebuild is a no-op, under a second (${ms} ms)" bash -c "grep -q '2 environments, 0 built' out.txt && test $ms -lt 1000"
"$kflc" images list p.kfl >list.txt 2>&1
check "images list: both environments built and pushed, with their components" \
  test "$(grep -c $'\tyes\tsha256:' list.txt)" = 2 -a "$(grep -c $'\tdouble,make_rows$' list.txt)" = 1 || cat list.txt
read -r image digest <<<"${pushed[0]}"
podman rmi "$image" >/dev/null 2>&1
podman pull -q --tls-verify=false "$image@$digest" >/dev/null 2>err.txt
tags+=("$image@$digest")
# The image may be here under another name (builds are reproducible: same content, same image), so
# what is checked is that the pull recorded the registry's name for it by that digest.
check "pulled back by digest" bash -c "podman image inspect --format '{{json .RepoDigests}}' '$image@$digest' | grep -qF '\"${image%:*}@$digest\"'"
"$kflc" build p.kfl --target argo -o wf.yaml 2>/dev/null
check "argo with the pushed lock runs images by digest" grep -q "image: $image@$digest" wf.yaml

# 9. A registry that never answers: a time limit, exit 1, the lock untouched.
python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' >port.txt &
silent_pid=$!
for _ in $(seq 50); do [[ -s port.txt ]] && break; sleep 0.1; done
lock_before=$(sha256sum kfl.lock)
t0=$(date +%s)
"$kflc" images build p.kfl -o ctx --engine buildah --find-links wheels --no-index --push "127.0.0.1:$(cat port.txt)" --timeout 5 >out.txt 2>&1
status=$?
took=$(($(date +%s) - t0))
check "a silent registry: exit 1 after the time limit (${took} s)" test $status = 1 -a $took -lt 30
# E0607 when the push is stopped; on a loaded machine the 5 s can run out while the image is still
# being built from the layer cache, which is E0606.
check "a silent registry: the error says it was stopped ($(grep -o '^error\[E060[67]\]' out.txt))" \
  grep -q "^error\\[E060[67]\\]: .*did not finish within 5 s" out.txt
check "a silent registry: the lock is untouched" test "$lock_before" = "$(sha256sum kfl.lock)"
for t in $(grep -o "127.0.0.1:$(cat port.txt)/kfl-env:[0-9a-f]*" out.txt | sort -u); do tags+=("$t"); done

# A registry that refuses the connection: the engine's cause, exit 1, the lock untouched.
"$kflc" images build p.kfl -o ctx --engine buildah --find-links wheels --no-index --push 127.0.0.1:1 --timeout 60 >out.txt 2>&1
status=$?
check "a registry that refuses: exit 1, E0607 'could not push', the lock untouched" \
  bash -c "test $status = 1 && grep -q '^error\[E0607\]: buildah could not push 127.0.0.1:1/kfl-env:' out.txt && test '$lock_before' = \"\$(sha256sum kfl.lock)\""
for t in $(grep -o "127.0.0.1:1/kfl-env:[0-9a-f]*" out.txt | sort -u); do tags+=("$t"); done

# 10. A base image that is not here and cannot be pulled; pins.
sed 's/packages = \["kfldemo==2.0"\]/image = "localhost\/kfl-no-such-image:1"\n    packages = ["kfldemo==2.0"]/' p.kfl >p3.kfl
cp kfl.lock p3.lock
"$kflc" images build p3.kfl -o ctx3 --images p3.lock --engine buildah --find-links wheels --no-index --timeout 60 >out.txt 2>&1
status=$?
check "a missing base image: exit 1, the engine's cause shown, no lock written" \
  test $status = 1 -a "$(sha256sum <p3.lock)" = "$(sha256sum <kfl.lock)"
grep -q '^error\[E0606\]: buildah could not build' out.txt || { fail "a missing base image: E0606 and the message"; cat out.txt; }

# The engine gone between choosing it and building (a buildah that answers the probe, then is
# removed): E0605, not a failed build; exit 1, no lock.
mkdir vanish
ln -s "$(command -v sh)" vanish/sh
printf '#!/bin/sh\n%s -f "$0"\nexec %s "$@"\n' "$(command -v rm)" "$(command -v buildah)" >vanish/buildah
chmod +x vanish/buildah
PATH=$work/vanish "$kflc" images build p.kfl -o ctx-vanish --images vanish.lock --engine buildah --find-links wheels --no-index >out.txt 2>&1
status=$?
check "an engine gone mid-build: exit 1, E0605 'could not be started', no lock" \
  bash -c "test $status = 1 && grep -q '^error\[E0605\]: buildah could not build .*it could not be started' out.txt && test ! -e vanish.lock" ||
  cat out.txt
sed 's/"kfldemo==2.0"/"kfldemo"/' p.kfl >p4.kfl
"$kflc" images build p4.kfl -o ctx4 --images p4.lock --require-pins >out.txt 2>&1
status=$?
check "--require-pins: an unpinned package is an error, nothing built" \
  test $status = 1 -a ! -e p4.lock
check "--require-pins: W0013 names the package and the component" grep -q 'error\[W0013\]: package `kfldemo` of `newer` is not pinned' out.txt
"$kflc" images build p4.kfl -o ctx4 --dockerfile-only >/dev/null 2>out.txt
check "without --require-pins an unpinned package is a warning" grep -q 'warning\[W0013\]' out.txt

# A package pip would not read as one requirement: E0507 from the checker, before any build.
sed 's/"kfldemo==2.0"/"--index-url=http:\/\/mirror.invalid\/simple"/' p.kfl >p5.kfl
"$kflc" images build p5.kfl -o ctx5 --images p5.lock >out.txt 2>&1
status=$?
check "a pip option as a package: E0507, exit 1, nothing written" \
  bash -c "test $status = 1 && grep -q '^E0507' out.txt && test ! -e p5.lock && test ! -e ctx5"

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
