//! Prints the KFP YAML of a pipeline: `cargo run -p kfl-kfp --example kfp_yaml -- FILE.kfl [PIPELINE]`.
//! Files the pipeline imports are read from disk relative to the current directory. (`kflc build
//! --target kfp` is the real command; this is a stand-in for trying the backend on its own.)

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: kfp_yaml FILE.kfl [PIPELINE]");
        return ExitCode::from(2);
    };
    let mut db = kfl_check::Database::default();
    // Load every .kfl under the file's directory tree so that imports resolve.
    let root = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "kfl") {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    db.set_file(&p.strip_prefix(".").unwrap_or(&p).to_string_lossy(), text);
                }
            }
        }
    }
    let Some(file) = db.file(&Path::new(path).to_string_lossy()) else {
        eprintln!("cannot read {path}");
        return ExitCode::FAILURE;
    };
    match kfl_project::lower(&db, file, args.get(1).map(String::as_str)) {
        Ok(dag) => {
            print!("{}", kfl_kfp::to_yaml(&dag, &kfl_kfp::KfpOptions::default()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
