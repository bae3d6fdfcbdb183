//! Records the git commit `kflc --version` prints, as `KFLC_COMMIT`.
//!
//! In order: the `KFLC_COMMIT` environment variable (a packager's override); `git rev-parse HEAD` when
//! the sources are a git checkout (a clone, a worktree, `cargo install --path .`); the file
//! `crates/kflc/COMMIT`, which `git archive` fills in (`export-subst` in `.gitattributes`), so a
//! source tarball made by `git archive` or a forge's "download source" still knows its commit;
//! `.cargo_vcs_info.json`, which `cargo package` writes (a crate installed from a registry);
//! otherwise `unknown`. (No `-dirty` mark: the script reruns when HEAD moves, not on every edit, so
//! such a mark would go stale.)

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=KFLC_COMMIT");
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let root = Path::new(&root);
    let commit_file = root.join("crates/kflc/COMMIT");
    println!("cargo:rerun-if-changed={}", commit_file.display());

    let commit = std::env::var("KFLC_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| from_git(root))
        .or_else(|| from_archive(&commit_file))
        .or_else(|| from_cargo_vcs_info(&root.join(".cargo_vcs_info.json")))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=KFLC_COMMIT={}", commit.trim());
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").arg("-C").arg(root).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8(output.stdout).ok()?.trim().to_string())
}

fn from_git(root: &Path) -> Option<String> {
    // Only when `root` is the top of the checkout: a crate unpacked inside some other repository
    // (cargo's registry cache in a dotfiles repository, say) must not take that repository's commit.
    let top = git(root, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != root.canonicalize().ok()? {
        return None;
    }
    let commit = git(root, &["rev-parse", "--short=12", "HEAD"])?;
    // Rebuild when HEAD moves: HEAD itself, the branch it names, and the packed refs.
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(root, &["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={}", root.join(p).display());
        }
    }
    if let Some(branch) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(root, &["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={}", root.join(p).display());
        }
    }
    Some(commit)
}

fn from_archive(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let commit = text.trim();
    // Outside an archive the file still holds git's placeholder.
    if commit.is_empty() || commit.contains('$') {
        return None;
    }
    Some(commit.chars().take(12).collect())
}

/// `{"git": {"sha1": "…"}, …}`: read without a JSON parser (build scripts keep no dependencies).
fn from_cargo_vcs_info(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let after = &text[text.find("\"sha1\"")? + "\"sha1\"".len()..];
    let start = after.find('"')? + 1;
    let len = after[start..].find('"')?;
    let sha = &after[start..start + len];
    if sha.is_empty() || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(sha.chars().take(12).collect())
}
