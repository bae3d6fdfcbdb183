//! Writes the Workflow of every example pipeline into a folder, as JSON and as YAML, each with a
//! concrete `metadata.name` (server-side apply cannot use `generateName`). `tests/apiserver.sh`
//! applies them.
//!
//! `cargo run -p kfl-argo --example emit -- OUT_DIR [EXAMPLES_DIR]`

use std::path::{Path, PathBuf};

use kfl_argo::{workflow, ArgoOptions};
use kfl_check::Database;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().ok_or("usage: emit OUT_DIR [EXAMPLES_DIR]")?);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let examples = args.next().map(PathBuf::from).unwrap_or_else(|| root.join("examples"));
    std::fs::create_dir_all(&out)?;
    let mut db = Database::default();
    let mut paths = Vec::new();
    let mut stack = vec![examples.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kfl") {
                let rel = path.strip_prefix(&examples)?.to_string_lossy().to_string();
                db.set_file(&rel, std::fs::read_to_string(&path)?);
                paths.push(rel);
            }
        }
    }
    paths.sort();
    let mut written = 0;
    for path in &paths {
        let file = db.file(path).ok_or("file vanished")?;
        let parse = kfl_check::parse(&db, file);
        for item in &parse.file.items {
            let kfl_syntax::ast::Item::Pipeline(p) = item else { continue };
            let dag = kfl_project::lower(&db, file, Some(&p.name.text))?;
            let name: String = format!("kfl-{}", dag.k8s_name).chars().take(63).collect();
            let options = ArgoOptions { name: Some(name.trim_end_matches('-').to_string()), ..ArgoOptions::default() };
            let wf = workflow(&dag, &options)?;
            let stem = path.trim_end_matches(".kfl").replace('/', "__");
            let target = out.join(format!("{stem}__{}.json", p.name.text));
            std::fs::write(&target, serde_json::to_string_pretty(&wf)?)?;
            std::fs::write(target.with_extension("yaml"), kfl_argo::to_yaml(&wf))?;
            written += 1;
        }
    }
    eprintln!("wrote {written} workflows to {}", out.display());
    Ok(())
}
