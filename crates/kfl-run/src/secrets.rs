//! Local values of cluster secrets: `env { X = secret(name: "s", key: "k") }` reads the key `k` of
//! the secret `s` from `--secret s=FOLDER` (a file per key, as Kubernetes mounts a secret) or from
//! `<root>/secrets/s/` (the same layout).
//!
//! Invariants:
//! - A value is read only to hand it to a task's environment; it never appears in a message, a
//!   log line, the run record, a manifest or the cache key (which holds the secret's name and key).
//! - Names and keys are those the checker accepted (DNS names and secret keys): neither can climb
//!   out of the folder (`..`, `/` are refused here too).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The most read from one key.
const VALUE_LIMIT: u64 = 1024 * 1024;

#[derive(Clone, Debug, Default)]
pub struct Secrets {
    /// `--secret NAME=FOLDER`.
    pub given: BTreeMap<String, PathBuf>,
    /// `<root>/secrets`.
    pub dir: PathBuf,
}

impl Secrets {
    /// Parses `--secret NAME=FOLDER` values; the error names the argument, never a value read.
    pub fn new(given: &[String], dir: PathBuf) -> Result<Secrets, String> {
        let mut map = BTreeMap::new();
        for arg in given {
            let Some((name, folder)) = arg.split_once('=') else {
                return Err(format!("--secret takes NAME=FOLDER (a file per key), not `{arg}`"));
            };
            if !safe_part(name) {
                return Err(format!("--secret `{name}`: a secret's name is a Kubernetes name"));
            }
            let folder = PathBuf::from(folder);
            if !folder.is_dir() {
                return Err(format!(
                    "--secret {name}={}: not a folder (a secret is a folder with one file per key, as a pod sees it)",
                    folder.display()
                ));
            }
            map.insert(name.to_string(), folder);
        }
        Ok(Secrets { given: map, dir })
    }

    /// Where the secret `name` is looked for.
    pub fn folder_of(&self, name: &str) -> PathBuf {
        self.given.get(name).cloned().unwrap_or_else(|| self.dir.join(name))
    }

    /// The value of `name`/`key`: `Ok(None)` when there is no such secret or key here.
    pub fn value(&self, name: &str, key: &str) -> Result<Option<String>, String> {
        if !safe_part(name) || !safe_part(key) {
            return Ok(None);
        }
        let path = self.folder_of(name).join(key);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(None);
        }
        // Never the content in the message: only what is wrong with the file.
        let bytes = crate::fsutil::read_regular(&path, VALUE_LIMIT)
            .map_err(|e| format!("the secret {name}/{key} ({}) cannot be read: {e}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("the secret {name}/{key} ({}) is not UTF-8 text", path.display()))?;
        if text.contains('\0') {
            return Err(format!("the secret {name}/{key} ({}) holds a NUL byte", path.display()));
        }
        Ok(Some(text))
    }
}

fn safe_part(part: &str) -> bool {
    !part.is_empty() && part != "." && part != ".." && !part.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_from_given_folders_then_the_root_and_never_into_errors() {
        let dir = std::env::temp_dir().join(format!("kfl-secrets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/db")).expect("mkdir");
        std::fs::create_dir_all(dir.join("given")).expect("mkdir");
        std::fs::write(dir.join("root/db/password"), "from-root").expect("write");
        std::fs::write(dir.join("given/password"), "from-flag").expect("write");
        std::fs::write(dir.join("given/bad"), b"s3cr\xffet").expect("write");
        let arg = format!("api={}", dir.join("given").display());
        let secrets = Secrets::new(&[arg], dir.join("root")).expect("parses");
        assert_eq!(secrets.value("db", "password"), Ok(Some("from-root".into())));
        assert_eq!(secrets.value("api", "password"), Ok(Some("from-flag".into())));
        assert_eq!(secrets.value("api", "missing"), Ok(None));
        assert_eq!(secrets.value("..", "password"), Ok(None));
        assert_eq!(secrets.value("db", "../db/password"), Ok(None));
        let error = secrets.value("api", "bad").expect_err("not UTF-8");
        assert!(!error.contains("s3cr"), "{error}");
        // A FIFO is refused without being opened (opening one would block for ever).
        let made = std::process::Command::new("mkfifo").arg(dir.join("given/pipe")).status().expect("mkfifo");
        assert!(made.success());
        let error = secrets.value("api", "pipe").expect_err("a FIFO");
        assert!(error.contains("not a regular file"), "{error}");
        assert!(Secrets::new(&["nofolder".into()], dir.clone()).is_err());
        assert!(Secrets::new(&[format!("x={}", dir.join("given/password").display())], dir.clone()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
