#!/usr/bin/env bash
# Tests the `language: rust` pre-commit hooks of .pre-commit-hooks.yaml (kfl-check-rust,
# kfl-fmt-rust) the way a user's repository runs them: a scratch git repository whose
# .pre-commit-config.yaml names this repository (a local path) at a commit, holding a good .kfl
# file, one with a type error and one that is not formatted, and `pre-commit run --files …`.
#
# pre-commit 4.7.0 is installed into a venv cached under ~/.cache/kfl-editors-tests. The hooks have
# `language: rust`: `pre-commit install-hooks` clones the repository into its store and runs the
# real `cargo install --bins --path <clone>` (release mode), once; both `pre-commit run`s then use
# the installed kflc, as a user's commits do. (`pre-commit try-repo` would install afresh for every
# run: it makes a new temporary store each time, and cargo rebuilds every workspace crate of a
# fresh clone, whose files are newer than any earlier build. That was a second release build.)
# CARGO_TARGET_DIR for the install is kept under ~/.cache/kfl-editors-tests (or
# KFL_HOOKS_CARGO_TARGET_DIR) so that the registry crates are compiled once per machine.
#
# The repository's committed HEAD is used; when tracked files have uncommitted changes, a scratch
# clone with those changes committed is used instead (what try-repo does). Untracked files are
# never seen: commit .pre-commit-hooks.yaml before running this.
# KFL_HOOKS_REPO overrides the repository (default: the one holding this script).
# Prints `N passed, M failed` last and exits non-zero on a failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HOOKS_REPO=${KFL_HOOKS_REPO:-$ROOT}
PRE_COMMIT_VERSION=4.7.0
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kfl-editors-tests
VENV=$CACHE/pre-commit-$PRE_COMMIT_VERSION

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

step "tools"
for tool in git cargo python3; do
  command -v "$tool" >/dev/null || { fail "$tool is needed"; finish; }
done
if ! "$VENV/bin/pre-commit" --version 2>/dev/null | grep -q " $PRE_COMMIT_VERSION\$"; then
  echo "installing pre-commit $PRE_COMMIT_VERSION into $VENV"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) >/dev/null
    python3 -m venv "$VENV" || { fail "create a venv"; finish; }
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "pre-commit==$PRE_COMMIT_VERSION" ||
    { fail "pip install pre-commit==$PRE_COMMIT_VERSION"; finish; }
fi
PRE_COMMIT=$VENV/bin/pre-commit
"$PRE_COMMIT" --version
if [[ ! -f $HOOKS_REPO/.pre-commit-hooks.yaml ]]; then
  fail "$HOOKS_REPO has no .pre-commit-hooks.yaml"
  finish
fi
if ! git -C "$HOOKS_REPO" cat-file -e HEAD:.pre-commit-hooks.yaml 2>/dev/null; then
  fail ".pre-commit-hooks.yaml is not committed in $HOOKS_REPO (pre-commit clones the committed state)"
  finish
fi

# The repository's own kflc, to compare what the hook wrote with the canonical layout.
KFLC_FOR_FMT=${KFLC:-${CARGO_TARGET_DIR:-$HOOKS_REPO/target}/debug/kflc}
if [[ ! -x $KFLC_FOR_FMT ]]; then
  (cd "$HOOKS_REPO" && cargo build --quiet --bin kflc) || fail "cargo build --bin kflc"
fi
export CARGO_TARGET_DIR=${KFL_HOOKS_CARGO_TARGET_DIR:-$CACHE/pre-commit-cargo-target}
export CARGO_TERM_COLOR=never
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PRE_COMMIT_HOME=$work/pre-commit-home

# The hooks repository at a commit: HEAD, or a scratch clone with the uncommitted changes to
# tracked files committed.
hooks_repo=$HOOKS_REPO
hooks_rev=$(git -C "$HOOKS_REPO" rev-parse HEAD)
if ! git -C "$HOOKS_REPO" diff --quiet HEAD; then
  echo "note: $HOOKS_REPO has uncommitted changes to tracked files; testing HEAD with them committed"
  hooks_repo=$work/hooks-repo
  if git clone -q "$HOOKS_REPO" "$hooks_repo" &&
    git -C "$HOOKS_REPO" diff --binary HEAD | git -C "$hooks_repo" apply --binary &&
    git -C "$hooks_repo" -c user.email=test@example.com -c user.name=test commit -qam "uncommitted changes"; then
    hooks_rev=$(git -C "$hooks_repo" rev-parse HEAD)
  else
    fail "commit the uncommitted changes of $HOOKS_REPO into a scratch clone"
    finish
  fi
fi

repo=$work/repo
mkdir -p "$repo"
cd "$repo" || exit 1
git init -q
git config user.email test@example.com
git config user.name test

# A correct, formatted file: the formatted examples are checked by the test suite.
cp "$ROOT/examples/simple_training.kfl" good.kfl
# A type error: a String where an Int is expected (E0201).
cat >bad.kfl <<'KFL'
component count_to {
    image = "busybox:1.36"
    input n: Int
    sh "seq $n"
}

pipeline counting() {
    count_to(n: "three")
}
KFL
# Correct but not formatted.
cat >unformatted.kfl <<'KFL'
component   count_to{image="busybox:1.36"
input n:Int=3
   sh "seq $n"}
pipeline counting(){count_to(n:4)}
KFL
echo "not KFL" >notes.txt
cat >.pre-commit-config.yaml <<YAML
repos:
  - repo: $hooks_repo
    rev: $hooks_rev
    hooks:
      - id: kfl-check-rust
      - id: kfl-fmt-rust
YAML
git add .
git commit -qm "test files"

step "pre-commit install-hooks: one cargo install of kflc from the clone (minutes the first time)"
start=$SECONDS
if "$PRE_COMMIT" install-hooks --color never >"$work/out" 2>&1; then
  ok "the language: rust hooks installed with cargo install in $((SECONDS - start)) s"
else
  cat "$work/out"
  fail "pre-commit install-hooks (cargo install of $hooks_repo at $hooks_rev)"
  finish
fi
if ls "$PRE_COMMIT_HOME"/repo*/rustenv-*/bin/kflc >/dev/null 2>&1; then
  ok "cargo install put kflc into the hook's environment: $(cd "$PRE_COMMIT_HOME" && ls repo*/rustenv-*/bin/kflc)"
else
  fail "no kflc in the hook's rustenv"
  ls -R "$PRE_COMMIT_HOME" | head -40
fi

# run_hooks FILE… : runs both hooks on the files, with the output in $work/out.
run_hooks() {
  local start=$SECONDS
  "$PRE_COMMIT" run --color never --files "$@" >"$work/out" 2>&1
  local status=$?
  echo "-- pre-commit run --files $* (exit $status, $((SECONDS - start)) s)"
  sed 's/^/   | /' "$work/out"
  if grep -q 'Installing environment' "$work/out"; then
    fail "pre-commit installed the hooks again"
  fi
  return $status
}

step "both hooks on a correct, formatted file and a file that is not .kfl"
if run_hooks good.kfl notes.txt && grep -q '^kflc check\.*Passed' "$work/out" && grep -q '^kflc fmt\.*Passed' "$work/out"; then
  ok "kfl-check-rust and kfl-fmt-rust pass a correct, formatted file (and are not given notes.txt: files: \\.kfl\$)"
else
  fail "the hooks on a correct file"
  cat "$work/out"
fi

step "both hooks on a file with a type error and an unformatted file"
good_before=$(cat good.kfl)
unformatted_before=$(cat unformatted.kfl)
run_hooks good.kfl bad.kfl unformatted.kfl
if grep -q '^kflc check\.*Failed' "$work/out" && grep -q 'E0201' "$work/out" && grep -q 'bad.kfl' "$work/out"; then
  ok "kfl-check-rust fails on the file with a type error, reporting E0201 in bad.kfl"
else
  fail "kfl-check-rust on a file with a type error"
  cat "$work/out"
fi
if grep -q '^kflc fmt\.*Failed' "$work/out" && grep -q 'files were modified by this hook' "$work/out"; then
  ok "kfl-fmt-rust fails on an unformatted file, as a file modified by the hook"
else
  fail "kfl-fmt-rust on an unformatted file"
  cat "$work/out"
fi
if [[ $(cat good.kfl) == "$good_before" ]]; then
  ok "kfl-fmt-rust left the formatted file alone"
else
  fail "kfl-fmt-rust changed the formatted file"
  git diff good.kfl
fi
if [[ $(cat unformatted.kfl) != "$unformatted_before" ]] && grep -q '^component count_to {$' unformatted.kfl &&
  [[ $(printf '%s' "$unformatted_before" | "$KFLC_FOR_FMT" fmt -) == "$(cat unformatted.kfl)" ]]; then
  ok "kfl-fmt-rust rewrote the unformatted file into the canonical layout"
  sed 's/^/   | /' unformatted.kfl
else
  fail "kfl-fmt-rust did not rewrite the unformatted file into the canonical layout"
  cat unformatted.kfl
fi

finish
