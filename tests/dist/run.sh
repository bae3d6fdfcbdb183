#!/usr/bin/env bash
# Tests the distribution, from the artifacts `scripts/release` builds (one `dist` build for all):
#   - the release: every artifact is in dist/ with SHA256SUMS and FILE.sha256 files that
#     `sha256sum -c` accepts;
#   - the wheel: under 15 MB, tagged manylinux_2_28 and needing no newer glibc, a stripped binary;
#     installed from the local file into a fresh venv with cargo and rustc removed from PATH (timed:
#     under 5 s), it runs `kflc --version` (version and commit), `kflc check` on every example,
#     `kflc run examples/quickstart.kfl` and an LSP round trip (tests/dist/lsp_smoke.py); a copy
#     tagged for another platform is refused by pip at install time;
#   - pre-commit without Rust: editors/pre-commit, committed to a scratch hooks repository, is used
#     by the real pre-commit in a scratch git repository with PATH stripped of cargo and rustc and
#     pip limited to a local folder (PIP_NO_INDEX) holding the kflc wheel and setuptools: kfl-check
#     and kfl-fmt pass a good file, and fail on a type error and on an unformatted file;
#   - the VS Code extension: the linux-x64 .vsix carries server/kflc (executable, stripped, the
#     wheel's binary), which answers LSP over stdio, and the packaged extension picks it
#     (test/activate.test.js); the universal .vsix carries no server;
#   - the Containerfile: podman builds an image FROM scratch from the binary archive (offline, with
#     ../shared/tools/container-testenv's Debian image as the base) that checks examples/;
#   - `kflc --version` from a source archive without .git: `git archive` writes the commit into
#     crates/kflc/COMMIT and crates/kflc/build.rs reads it;
#   - the crate metadata `cargo publish` needs (offline: cargo metadata and `cargo package --list`).
# Tools: maturin and ziglang (scripts/release installs them under ~/.cache/kfl-dist), pre-commit
# 4.7.0 (the venv tests/editors/pre-commit.sh uses), Node 20 and the extension's npm packages.
# Prints `N passed, M failed` last and exits non-zero on a failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}
PRE_COMMIT_VERSION=4.7.0
PRE_COMMIT_VENV=$CACHE/kfl-editors-tests/pre-commit-$PRE_COMMIT_VERSION
SETUPTOOLS_VERSION=80.9.0
WHEELHOUSE=$CACHE/kfl-dist/wheelhouse-setuptools-$SETUPTOOLS_VERSION

passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
step() { printf '\n== %s ==\n' "$*"; }
finish() {
  echo
  echo "$passed passed, $failed failed"
  [[ $failed == 0 ]]
  exit
}
apt_install() {
  echo "installing $* (apt)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null
}
seconds_since() { python3 -c 'import sys, time; print("%.2f" % (time.time() - float(sys.argv[1])))' "$1"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$ROOT" || exit 1
version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
commit=$(git rev-parse --short=12 HEAD)

step "tools"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm || { fail "install node and npm"; finish; }
fi
command -v readelf >/dev/null || apt_install binutils || fail "install binutils (readelf)"
python3 -m venv "$work/probe" 2>/dev/null || apt_install python3-venv || fail "install python3-venv"
if ! "$PRE_COMMIT_VENV/bin/pre-commit" --version 2>/dev/null | grep -q " $PRE_COMMIT_VERSION\$"; then
  echo "installing pre-commit $PRE_COMMIT_VERSION into $PRE_COMMIT_VENV"
  rm -rf "$PRE_COMMIT_VENV"
  python3 -m venv "$PRE_COMMIT_VENV" &&
    "$PRE_COMMIT_VENV/bin/pip" install --quiet --disable-pip-version-check "pre-commit==$PRE_COMMIT_VERSION" ||
    { fail "pip install pre-commit==$PRE_COMMIT_VERSION"; finish; }
fi
if ! ls "$WHEELHOUSE"/setuptools-"$SETUPTOOLS_VERSION"-*.whl >/dev/null 2>&1; then
  # The hooks package's build backend: pre-commit's `pip install .` needs it, and the test lets pip
  # see only a local folder.
  pip download --quiet --disable-pip-version-check --only-binary :all: --no-deps \
    -d "$WHEELHOUSE" "setuptools==$SETUPTOOLS_VERSION" || { fail "pip download setuptools"; finish; }
fi
# PATH without cargo and rustc: every entry that holds either is dropped.
norust=$(python3 - <<'PY'
import os
keep = [d for d in os.environ["PATH"].split(os.pathsep)
        if d and not any(os.path.exists(os.path.join(d, t)) for t in ("cargo", "rustc", "rustup"))]
print(os.pathsep.join(keep))
PY
)
if PATH=$norust command -v cargo >/dev/null || PATH=$norust command -v rustc >/dev/null; then
  fail "could not remove cargo and rustc from PATH"
  finish
fi
echo "PATH without Rust: $norust"

step "scripts/release"
dist=$work/dist
t0=$(date +%s)
if bash scripts/release --out "$dist" >"$work/release.log" 2>&1; then
  ok "scripts/release built $(ls "$dist" | grep -vc 'sha256\|SHA256SUMS') artifacts in $(($(date +%s) - t0)) s"
else
  tail -40 "$work/release.log"
  fail "scripts/release"
  finish
fi
for f in "kflc-$version-x86_64-unknown-linux-gnu.tar.gz" "kfl-$version-src.tar.gz" "kfl-$version.vsix" \
  "kfl-linux-x64-$version.vsix"; do
  if [[ -s $dist/$f && -s $dist/$f.sha256 ]]; then ok "dist/ holds $f and $f.sha256"; else fail "dist/ lacks $f or its .sha256"; fi
done
if (cd "$dist" && sha256sum --quiet -c SHA256SUMS && for s in *.sha256; do sha256sum --quiet -c "$s" || exit 1; done) &&
  [[ $(wc -l <"$dist/SHA256SUMS") == 5 ]]; then
  ok "sha256sum -c accepts SHA256SUMS (5 artifacts) and every FILE.sha256"
else
  fail "the SHA-256 sums"
fi
if (cd "$dist" && cp "kfl-$version.vsix" tampered && printf x >>tampered && sed "s/kfl-$version.vsix\$/tampered/" \
  "kfl-$version.vsix.sha256" | sha256sum --quiet -c >/dev/null 2>&1); then
  fail "a changed file passes its sum"
else
  ok "a file changed after the release fails sha256sum -c"
fi
rm -f "$dist/tampered"

step "the wheel"
wheel=$(ls "$dist"/kflc-"$version"-*.whl 2>/dev/null | head -1)
if [[ -z $wheel ]]; then fail "no wheel in dist/"; finish; fi
size=$(stat -c %s "$wheel")
size_mb=$(python3 -c "print('%.1f' % ($size / 1e6))")
if ((size < 15000000)); then ok "$(basename "$wheel"): $size_mb MB (limit 15 MB)"; else fail "$(basename "$wheel"): $size_mb MB, over 15 MB"; fi
if [[ ${KFL_RELEASE_NO_ZIG:-} == 1 || $wheel == *manylinux_2_28_x86_64.whl ]]; then
  ok "tagged $(basename "$wheel" | sed 's/.*-none-//; s/\.whl$//')"
else
  fail "the wheel is not tagged manylinux_2_28_x86_64"
fi
mkdir "$work/wheel"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$work/wheel"
wheel_kflc=$work/wheel/kflc-$version.data/scripts/kflc
newest_glibc=$(objdump -T "$wheel_kflc" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
if [[ ${KFL_RELEASE_NO_ZIG:-} == 1 ]] || [[ $(printf '%s\n' "$newest_glibc" GLIBC_2.28 | sort -V | tail -1) == GLIBC_2.28 ]]; then
  ok "the binary needs glibc symbols up to $newest_glibc (manylinux_2_28 allows 2.28)"
else
  fail "the binary needs $newest_glibc, newer than manylinux_2_28 allows"
fi
if readelf -S "$wheel_kflc" | grep -q '\.symtab\|\.debug_'; then
  fail "the wheel's kflc has a symbol table or debug sections"
else
  ok "the wheel's kflc is stripped ($(python3 -c "import os,sys; print('%.1f' % (os.path.getsize(sys.argv[1]) / 1e6))" "$wheel_kflc") MB)"
fi

step "pip install the wheel into a fresh venv, with no Rust on PATH"
venv=$work/venv
python3 -m venv "$venv"
t0=$(date +%s.%N)
if PATH=$norust "$venv/bin/pip" install --quiet --no-index --disable-pip-version-check "$wheel"; then
  took=$(seconds_since "$t0")
  if python3 -c "import sys; sys.exit(float(sys.argv[1]) >= 5)" "$took"; then
    ok "pip install $(basename "$wheel") took $took s (limit 5 s)"
  else
    fail "pip install took $took s, 5 s or more"
  fi
else
  fail "pip install of the wheel"
  finish
fi
export_path=$venv/bin:$norust
kflc=$venv/bin/kflc
got_version=$(PATH=$export_path kflc --version)
if [[ $got_version == "kflc $version (commit $commit)" ]]; then
  ok "kflc --version: $got_version"
else
  fail "kflc --version says '$got_version', expected 'kflc $version (commit $commit)'"
fi
if [[ $(PATH=$export_path command -v kflc) == "$kflc" ]]; then ok "kflc is on the venv's PATH"; else fail "kflc is not the venv's"; fi
n=0
bad=0
while IFS= read -r example; do
  n=$((n + 1))
  if ! PATH=$export_path kflc check "$example" >"$work/check.out" 2>&1; then
    bad=$((bad + 1))
    fail "kflc check $example"
    cat "$work/check.out"
  fi
done < <(find examples -name '*.kfl' | sort)
if ((bad == 0 && n >= 6)); then ok "kflc check passes each of the $n examples"; fi
if (cd "$work" && PATH=$export_path kflc run "$ROOT/examples/quickstart.kfl" --isolation host --root "$work/runs" >"$work/run.out" 2>&1); then
  ok "kflc run examples/quickstart.kfl ($(grep -c . "$work/run.out") lines of output)"
else
  fail "kflc run examples/quickstart.kfl"
  tail -20 "$work/run.out"
fi
if PATH=$export_path "$venv/bin/python" tests/dist/lsp_smoke.py kflc; then
  ok "the wheel's kflc lsp answers initialize and publishes diagnostics"
else
  fail "LSP round trip with the wheel's kflc"
fi
# Bad input: a wheel for a platform it was not built for fails at install time, with pip's message.
other=$work/kflc-$version-py3-none-macosx_11_0_arm64.whl
cp "$wheel" "$other"
if "$venv/bin/pip" install --no-index --disable-pip-version-check "$other" >"$work/other.out" 2>&1; then
  fail "pip installed a wheel tagged macosx_11_0_arm64 on linux"
elif grep -q 'is not a supported wheel on this platform' "$work/other.out"; then
  ok "pip refuses a kflc wheel for another platform: $(grep -o 'ERROR: .*' "$work/other.out" | head -1 | sed "s|$work/||")"
else
  fail "installing a wheel for another platform failed without pip's message"
  cat "$work/other.out"
fi

step "pre-commit hooks from the wheel, with no Rust on PATH"
hooks=$work/kfl-pre-commit
cp -r editors/pre-commit "$hooks"
git -C "$hooks" init -q
git -C "$hooks" add -A
git -C "$hooks" -c user.email=test@example.com -c user.name=test commit -qm hooks
hooks_rev=$(git -C "$hooks" rev-parse HEAD)
mkdir "$work/wheelhouse"
cp "$wheel" "$WHEELHOUSE"/setuptools-*.whl "$work/wheelhouse/"
repo=$work/repo
mkdir "$repo"
cp examples/simple_training.kfl "$repo/good.kfl"
cat >"$repo/bad.kfl" <<'KFL'
component count_to {
    image = "busybox:1.36"
    input n: Int
    sh "seq $n"
}

pipeline counting() {
    count_to(n: "three")
}
KFL
cat >"$repo/unformatted.kfl" <<'KFL'
component   count_to{image="busybox:1.36"
input n:Int=3
   sh "seq $n"}
pipeline counting(){count_to(n:4)}
KFL
echo "not KFL" >"$repo/notes.txt"
cat >"$repo/.pre-commit-config.yaml" <<YAML
repos:
  - repo: $hooks
    rev: $hooks_rev
    hooks:
      - id: kfl-check
      - id: kfl-fmt
YAML
git -C "$repo" init -q
git -C "$repo" add -A
git -C "$repo" -c user.email=test@example.com -c user.name=test commit -qm files
unformatted_before=$(cat "$repo/unformatted.kfl")
pre_commit() { # FILE… : output in $work/pc.out
  (cd "$repo" && PATH=$norust PIP_NO_INDEX=1 PIP_FIND_LINKS=$work/wheelhouse PRE_COMMIT_HOME=$work/pre-commit-home \
    "$PRE_COMMIT_VENV/bin/pre-commit" run --color never --files "$@") >"$work/pc.out" 2>&1
}
t0=$(date +%s.%N)
pre_commit good.kfl notes.txt
status=$?
took=$(seconds_since "$t0")
sed 's/^/   | /' "$work/pc.out"
if [[ $status == 0 ]] && grep -q '^kflc check\.*Passed' "$work/pc.out" && grep -q '^kflc fmt\.*Passed' "$work/pc.out"; then
  ok "kfl-check and kfl-fmt installed from the wheel and passed a good file in $took s (install included)"
else
  fail "the hooks on a good file (exit $status)"
fi
hook_kflc=$(find "$work/pre-commit-home" -path '*/bin/kflc' | head -1)
if [[ -n $hook_kflc ]] && cmp -s "$hook_kflc" "$wheel_kflc"; then
  ok "the hooks' environment holds the wheel's kflc"
else
  fail "the hooks' environment has no kflc from the wheel"
fi
pre_commit good.kfl bad.kfl unformatted.kfl
status=$?
sed 's/^/   | /' "$work/pc.out"
if [[ $status != 0 ]] && grep -q '^kflc check\.*Failed' "$work/pc.out" && grep -q 'E0201' "$work/pc.out" &&
  grep -q 'bad.kfl' "$work/pc.out"; then
  ok "kfl-check fails on the type error, reporting E0201 in bad.kfl"
else
  fail "kfl-check on bad.kfl"
fi
if grep -q '^kflc fmt\.*Failed' "$work/pc.out" && grep -q 'files were modified by this hook' "$work/pc.out" &&
  [[ $(cat "$repo/unformatted.kfl") != "$unformatted_before" ]] && grep -q '^component count_to {$' "$repo/unformatted.kfl" &&
  git -C "$repo" diff --quiet -- good.kfl; then
  ok "kfl-fmt rewrote the unformatted file (and left the good one alone)"
else
  fail "kfl-fmt on unformatted.kfl"
fi

step "the VS Code extension with its own server"
extract() { # VSIX DIR: unzips keeping the Unix modes, as VS Code does when it installs a .vsix
  python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        mode = info.external_attr >> 16
        if mode and not info.is_dir():
            os.chmod(path, mode & 0o777)
PY
}
extract "$dist/kfl-linux-x64-$version.vsix" "$work/vsix"
server=$work/vsix/extension/server/kflc
if [[ -x $server ]]; then ok "the linux-x64 .vsix holds server/kflc, executable"; else fail "the linux-x64 .vsix has no executable server/kflc"; finish; fi
if cmp -s "$server" "$wheel_kflc"; then ok "server/kflc is the wheel's binary"; else fail "server/kflc differs from the wheel's kflc"; fi
if grep -q 'TargetPlatform="linux-x64"' "$work/vsix/extension.vsixmanifest"; then
  ok "the manifest targets linux-x64"
else
  fail "the manifest has no TargetPlatform=\"linux-x64\""
fi
if [[ $("$server" --version) == "kflc $version (commit $commit)" ]]; then ok "server/kflc --version: $("$server" --version)"; else fail "server/kflc --version"; fi
if PATH=$norust python3 tests/dist/lsp_smoke.py "$server"; then
  ok "the bundled server answers LSP over stdio"
else
  fail "LSP round trip with the bundled server"
fi
if (PATH=$norust node editors/vscode/test/activate.test.js "$work/vsix/extension") >"$work/activate.out" 2>&1; then
  sed 's/^/   | /' "$work/activate.out"
  grep -q 'using the kflc bundled with the extension' "$work/activate.out" &&
    ok "the packaged extension picks its bundled server" || fail "the packaged extension did not pick server/kflc"
else
  cat "$work/activate.out"
  fail "editors/vscode/test/activate.test.js on the packaged extension"
fi
extract "$dist/kfl-$version.vsix" "$work/vsix-universal"
if [[ ! -e $work/vsix-universal/extension/server ]] && ! grep -q TargetPlatform "$work/vsix-universal/extension.vsixmanifest"; then
  ok "the universal .vsix carries no server and targets no platform"
else
  fail "the universal .vsix carries a server or a target platform"
fi
echo "sizes: $(cd "$dist" && stat -c '%n %s' ./*.vsix | awk '{printf "%s %.1f MB; ", $1, $2/1e6}')"

step "the Containerfile: an image FROM scratch holding the release archive's kflc"
# ../shared/tools/container-testenv: rootful podman with runc, offline; its local Debian bookworm
# image stands in for debian:bookworm-slim (BASE), so nothing is pulled.
testenv=$ROOT/../shared/tools/container-testenv
if [[ ! -x $testenv ]]; then
  fail "$testenv is needed for the container test"
elif ! "$testenv" setup >"$work/testenv.log" 2>&1 || ! base=$("$testenv" image python 2>>"$work/testenv.log"); then
  tail -5 "$work/testenv.log"
  fail "container-testenv setup and image python"
else
  mkdir "$work/image"
  tar -C "$work/image" -xzf "$dist/kflc-$version-x86_64-unknown-linux-gnu.tar.gz"
  context=$work/image/kflc-$version-x86_64-unknown-linux-gnu
  cp Containerfile "$context/"
  image=localhost/kfl-dist-test-kflc:$$
  if podman build --quiet --network none --pull=never --build-arg "BASE=$base" -t "$image" "$context" >"$work/podman.out" 2>&1; then
    size=$(podman image inspect "$image" --format '{{.Size}}')
    layers=$(podman image inspect "$image" --format '{{len .RootFS.Layers}}')
    ok "podman build of the Containerfile: $(python3 -c "print('%.1f' % ($size / 1e6))") MB, $layers layers"
    if podman run --rm --network none --pull=never -v "$ROOT/examples:/src:ro" -w /src "$image" check . >"$work/podman.out" 2>&1 &&
      grep -q '0 errors' "$work/podman.out"; then
      ok "the image runs kflc check on examples/ as an unprivileged user: $(tail -1 "$work/podman.out")"
    else
      cat "$work/podman.out"
      fail "kflc check in the image"
    fi
    if podman run --rm --network none --pull=never --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
      fail "the image has a shell: it is not FROM scratch"
    else
      ok "the image has no shell (FROM scratch: kflc, the loader and libc only)"
    fi
    podman rmi "$image" >/dev/null 2>&1
  else
    cat "$work/podman.out"
    fail "podman build of the Containerfile"
  fi
fi

step "kflc --version from a source archive without .git"
tar -C "$work" -xzf "$dist/kfl-$version-src.tar.gz"
src=$work/kfl-$version
if [[ $(cat "$src/crates/kflc/COMMIT") == "$(git rev-parse HEAD)" && ! -e $src/.git ]]; then
  ok "git archive wrote the commit into crates/kflc/COMMIT"
else
  fail "crates/kflc/COMMIT in the source archive: $(cat "$src/crates/kflc/COMMIT")"
fi
# The build script alone, run as cargo runs it, in the unpacked archive (which is not in a git repository).
if rustc --edition 2021 -O -o "$work/build-script" crates/kflc/build.rs 2>"$work/rustc.out"; then
  got=$(cd "$work" && CARGO_MANIFEST_DIR=$src "$work/build-script" | grep '^cargo:rustc-env=KFLC_COMMIT=')
  if [[ $got == "cargo:rustc-env=KFLC_COMMIT=$commit" ]]; then ok "build.rs in the archive: $got"; else fail "build.rs in the archive: '$got'"; fi
  mkdir -p "$work/nothing/crates/kflc"
  printf '$Format:%%H$\n' >"$work/nothing/crates/kflc/COMMIT"
  got=$(cd "$work" && CARGO_MANIFEST_DIR=$work/nothing "$work/build-script" | grep '^cargo:rustc-env=KFLC_COMMIT=')
  if [[ $got == "cargo:rustc-env=KFLC_COMMIT=unknown" ]]; then ok "without git or an archived commit: unknown"; else fail "no commit: '$got'"; fi
  printf '{\n  "git": {\n    "sha1": "0123456789abcdef0123456789abcdef01234567"\n  },\n  "path_in_vcs": ""\n}\n' \
    >"$work/nothing/.cargo_vcs_info.json"
  got=$(cd "$work" && CARGO_MANIFEST_DIR=$work/nothing "$work/build-script" | grep '^cargo:rustc-env=KFLC_COMMIT=')
  if [[ $got == "cargo:rustc-env=KFLC_COMMIT=0123456789ab" ]]; then ok "from cargo package's .cargo_vcs_info.json: $got"; else fail ".cargo_vcs_info.json: '$got'"; fi
  got=$(cd "$work" && KFLC_COMMIT=abc123 CARGO_MANIFEST_DIR=$work/nothing "$work/build-script" | grep '^cargo:rustc-env=KFLC_COMMIT=')
  if [[ $got == "cargo:rustc-env=KFLC_COMMIT=abc123" ]]; then ok "KFLC_COMMIT overrides"; else fail "KFLC_COMMIT: '$got'"; fi
else
  cat "$work/rustc.out"
  fail "rustc crates/kflc/build.rs"
fi

step "crate metadata for cargo publish (offline)"
# `cargo publish` of kflc needs every kfl-* crate it depends on published first, so each crate needs
# the metadata. `cargo publish --dry-run` needs the registry's index, so the check is offline:
# cargo metadata for the fields, `cargo package --list` for what goes into the crate.
if python3 - <<'PY'
import json, subprocess, sys
meta = json.loads(subprocess.run(["cargo", "metadata", "--offline", "--no-deps", "--format-version", "1"],
                                 check=True, capture_output=True, text=True).stdout)
bad = 0
for p in sorted(meta["packages"], key=lambda p: p["name"]):
    if p.get("publish") == []:
        print("ok   %s: not published (publish = false)" % p["name"])
        continue
    missing = [k for k in ("description", "license", "repository", "readme") if not p.get(k)]
    for dep in p["dependencies"]:
        if dep.get("path") and dep.get("req", "*") == "*":
            missing.append("a version for the path dependency " + dep["name"])
    print(("ok   " if not missing else "FAIL ") + p["name"] + (": " + ", ".join(missing) if missing else ""))
    bad += bool(missing)
sys.exit(bad)
PY
then ok "every published crate has description, license, repository, readme and versioned path dependencies"; else fail "crate metadata"; fi
if cargo package --list --offline --allow-dirty -p kflc >"$work/package.list" 2>"$work/package.err"; then
  if grep -qx 'crates/kflc/src/main.rs' "$work/package.list" && grep -qx 'crates/kflc/build.rs' "$work/package.list" &&
    grep -qx 'LICENSE' "$work/package.list" && ! grep -q '^crates/kfl-\|^tests/\|^editors/' "$work/package.list"; then
    ok "cargo package --list: $(wc -l <"$work/package.list") files, the binary's sources only"
  else
    fail "cargo package --list"
    cat "$work/package.list"
  fi
else
  fail "cargo package --list --offline"
  cat "$work/package.err"
fi

finish
