//! The one way from a request to a file: a run id and a relative path are checked piece by piece
//! (no `..`, no `.`, no empty piece, no absolute path, no backslash, no control character), then the
//! result is resolved with symlinks and must still lie inside the runs folder. Nothing outside the
//! runs root is ever opened.

use std::path::{Path, PathBuf};

/// Why a path is refused (the server answers 404 to all of them, saying nothing about the disk).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    BadPiece,
    Outside,
    Missing,
}

/// Whether `piece` is a plain file or folder name.
pub fn plain_piece(piece: &str) -> bool {
    !piece.is_empty()
        && piece != "."
        && piece != ".."
        && !piece.contains(['/', '\\'])
        && !piece.chars().any(char::is_control)
}

/// `<runs>/<run>/<relative>`, refused unless every piece is plain and the real path (symlinks
/// resolved) is inside the real `runs` folder. `relative` may be empty (the run's folder).
pub fn resolve(runs: &Path, run: &str, relative: &str) -> Result<PathBuf, Refused> {
    if !plain_piece(run) {
        return Err(Refused::BadPiece);
    }
    let mut path = runs.join(run);
    if !relative.is_empty() {
        for piece in relative.split('/') {
            if !plain_piece(piece) {
                return Err(Refused::BadPiece);
            }
            path.push(piece);
        }
    }
    let real_root = runs.canonicalize().map_err(|_| Refused::Missing)?;
    let real = path.canonicalize().map_err(|_| Refused::Missing)?;
    if real.starts_with(&real_root) && real != real_root {
        Ok(real)
    } else {
        Err(Refused::Outside)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kfl-ui-paths-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("runs/r1/t")).expect("mkdir");
        std::fs::write(dir.join("runs/r1/t/stdout.log"), "hi").expect("write");
        std::fs::write(dir.join("secret"), "no").expect("write");
        dir
    }

    #[test]
    fn plain_paths_resolve() {
        let dir = scratch("plain");
        let runs = dir.join("runs");
        assert!(resolve(&runs, "r1", "t/stdout.log").is_ok_and(|p| p.ends_with("r1/t/stdout.log")));
        assert!(resolve(&runs, "r1", "").is_ok());
    }

    #[test]
    fn traversal_pieces_are_refused() {
        let dir = scratch("traversal");
        let runs = dir.join("runs");
        for bad in
            ["../secret", "t/../../../secret", "./t/stdout.log", "t//stdout.log", "/etc/passwd", "t\\x", "t/\u{0}"]
        {
            assert_eq!(resolve(&runs, "r1", bad), Err(Refused::BadPiece), "{bad}");
        }
        for run in ["..", ".", "", "/", "r1/..", "\u{7}"] {
            assert_eq!(resolve(&runs, run, ""), Err(Refused::BadPiece), "{run:?}");
        }
    }

    #[test]
    fn symlinks_pointing_out_are_refused_and_inside_allowed() {
        let dir = scratch("symlinks");
        let runs = dir.join("runs");
        std::os::unix::fs::symlink(dir.join("secret"), runs.join("r1/t/leak")).expect("symlink");
        std::os::unix::fs::symlink("/", runs.join("r1/root")).expect("symlink");
        std::os::unix::fs::symlink("r1", runs.join("latest")).expect("symlink");
        assert_eq!(resolve(&runs, "r1", "t/leak"), Err(Refused::Outside));
        assert_eq!(resolve(&runs, "r1", "root/etc/passwd"), Err(Refused::Outside));
        assert!(resolve(&runs, "latest", "t/stdout.log").is_ok());
        assert_eq!(resolve(&runs, "r1", "t/missing"), Err(Refused::Missing));
    }
}
