//! The importer (`kfl_project::load_project`) never panics and never reads a file outside the import
//! roots, whatever the files of a project import.
//!
//! The input is UTF-8 (anything else is skipped); NUL bytes split it into up to four files,
//! `project/main.kfl`, `project/a.kfl`, `project/sub/b.kfl` and `project/sub/c.kfl`, written to a
//! folder of this process (`project/` holds a `kfl.toml`, so it is the project root). Beside the
//! project lie `outside/secret.kfl`, `outside.kfl` and a link `project/link.kfl` to the secret: a
//! file outside the root, reached by a relative path, an absolute path or a link. `main.kfl` is
//! loaded; the secret's text must be in no file of the database, whatever was imported.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const SECRET: &str = "kfl-fuzz-secret-outside-the-root";
const NAMES: [&str; 4] = ["main.kfl", "a.kfl", "sub/b.kfl", "sub/c.kfl"];

/// The folder of this process, made once.
fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("kfl-fuzz-import-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("project/sub")).expect("project");
        std::fs::create_dir_all(base.join("outside")).expect("outside");
        std::fs::write(base.join("project/kfl.toml"), "").expect("marker");
        let secret = format!("component leaked {{\n    command = [\"{SECRET}\"]\n}}\n");
        std::fs::write(base.join("outside/secret.kfl"), &secret).expect("secret");
        std::fs::write(base.join("outside.kfl"), &secret).expect("secret");
        std::os::unix::fs::symlink(base.join("outside/secret.kfl"), base.join("project/link.kfl")).expect("link");
        base
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let project = base().join("project");
    let mut parts = text.splitn(NAMES.len(), '\0');
    for name in NAMES {
        std::fs::write(project.join(name), parts.next().unwrap_or_default()).expect("write");
    }
    let Ok(loaded) = kfl_project::load_project(&[project.join("main.kfl")], &[]) else {
        return;
    };
    // (Unless the input holds the secret itself: the fuzzer may learn it from this comparison.)
    if !text.contains(SECRET) {
        for file in loaded.db.files() {
            let read = file.text(&loaded.db);
            assert!(!read.contains(SECRET), "{} was read from outside the root", file.path(&loaded.db));
        }
    }
    // Checking the loaded project must not panic either.
    for file in &loaded.files {
        let _ = kfl_check::check_file(&loaded.db, *file);
    }
});
