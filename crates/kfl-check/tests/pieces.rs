//! A pipeline is checked piece by piece in the language server's database (salsa queries per run
//! of statements) and as a whole in the CLI's (`Database::one_shot`). Both must report exactly the
//! same diagnostics, spans and labels included: on every case and example, on thousands of edited
//! variants of them (checked one after the other in the same database, as an editor would), and
//! on long generated pipelines whose references cross many pieces.

mod common;

#[path = "../benches/generate/mod.rs"]
mod generate;

use std::path::Path;

use kfl_check::{check_file, Database};
use kfl_diagnostics::Diagnostic;

use common::workspace_root;

/// Every `.kfl` file under `dir`, by path relative to the workspace root, with its text.
fn kfl_files(root: &Path, dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read folder") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "kfl") {
                let text = std::fs::read_to_string(&p).expect("read");
                out.push((p.strip_prefix(root).expect("inside").to_string_lossy().replace('\\', "/"), text));
            }
        }
    }
    out.sort();
    out
}

/// The whole-body answer for every file of the project.
fn whole(files: &[(String, String)]) -> Vec<Vec<Diagnostic>> {
    let mut db = Database::one_shot();
    for (path, text) in files {
        db.set_file(path, text.clone());
    }
    files.iter().map(|(path, _)| check_file(&db, db.file(path).expect("file")).to_vec()).collect()
}

/// Sets the files in the (long-lived) piece-by-piece database and compares each file's answer.
/// Returns how many pipelines were checked piece by piece.
fn agree(db: &mut Database, files: &[(String, String)], what: &str) -> usize {
    agree_counting(db, files, what).0
}

/// [`agree`], also counting the pipelines in pieces with statements that did not parse.
fn agree_counting(db: &mut Database, files: &[(String, String)], what: &str) -> (usize, usize) {
    for (path, text) in files {
        db.set_file(path, text.clone());
    }
    let expected = whole(files);
    let (mut pieced, mut broken) = (0, 0);
    for ((path, _), expected) in files.iter().zip(expected) {
        let file = db.file(path).expect("file");
        let actual = check_file(db, file).to_vec();
        assert!(actual == expected, "{what}: {path} differs\npieces: {actual:#?}\nwhole: {expected:#?}");
        let (all, with_errors) = kfl_check::pipelines_checked_in_pieces(db, file);
        pieced += all;
        broken += with_errors;
    }
    (pieced, broken)
}

#[test]
fn cases_and_examples_check_the_same_in_pieces() {
    let root = workspace_root();
    let mut pieced = 0;
    let mut projects: Vec<Vec<(String, String)>> = vec![kfl_files(&root, &root.join("examples"))];
    let cases = ["tests/check", "tests/diagnostics"].into_iter().flat_map(|dir| {
        std::fs::read_dir(root.join(dir)).expect("a folder of cases").map(|e| e.expect("entry").path())
    });
    for path in cases {
        if path.is_dir() {
            projects.push(kfl_files(&root, &path));
        } else if path.extension().is_some_and(|e| e == "kfl") {
            let text = std::fs::read_to_string(&path).expect("read");
            projects.push(vec![(path.strip_prefix(&root).expect("inside").to_string_lossy().into_owned(), text)]);
        }
    }
    for files in &projects {
        pieced += agree(&mut Database::default(), files, "as written");
    }
    assert!(pieced > 20, "only {pieced} pipelines were checked in pieces");
}

/// Edits that change what is declared and referenced, not only the text: names, lines repeated or
/// removed, new tasks, loops and branches, and broken syntax.
const INSERTS: [&str; 16] = [
    "x",
    "_2",
    "\n",
    " ",
    "}",
    "\"",
    "\n    t = a()\n",
    "\n    extra = train(data: raw.data)\n",
    "\n    if p > 1 {\n    }\n",
    "\n    for i in [1, 2] {\n        u = a(n: i)\n    }\n",
    "\n    output o = t.model\n",
    "\n    finally {\n    }\n",
    "\n    description = \"d\"\n",
    ".out",
    "(",
    "after = [t]",
];

fn edit(text: &str, next: &mut impl FnMut(usize) -> usize) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    match next(4) {
        // Repeat a line (a task declared twice, an output twice, …).
        0 if !lines.is_empty() => {
            let i = next(lines.len());
            let mut out: Vec<&str> = lines.clone();
            out.insert(i, lines[i]);
            out.concat()
        }
        // Remove a line.
        1 if !lines.is_empty() => {
            let i = next(lines.len());
            let mut out = lines.clone();
            out.remove(i);
            out.concat()
        }
        _ => {
            let at = next(text.len() + 1);
            let Some(at) = (at..=text.len()).find(|&i| text.is_char_boundary(i)) else { return text.to_string() };
            let remove = next(3);
            let end = (at + remove..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            format!("{}{}{}", &text[..at], INSERTS[next(INSERTS.len())], &text[end..])
        }
    }
}

/// An edit of whole lines: one repeated, one removed, or a statement inserted before one.
fn edit_lines(text: &str, next: &mut impl FnMut(usize) -> usize) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let i = next(lines.len());
    let mut out = lines.clone();
    match next(3) {
        0 => out.insert(i, lines[i]),
        1 => {
            out.remove(i);
        }
        _ => out.insert(i, &INSERTS[6 + next(7)][1..]),
    }
    out.concat()
}

fn rng() -> impl FnMut(usize) -> usize {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    }
}

#[test]
fn edited_files_check_the_same_in_pieces() {
    let root = workspace_root();
    let mut next = rng();
    let mut files = kfl_files(&root, &root.join("tests/check"));
    files.extend(kfl_files(&root, &root.join("tests/diagnostics")));
    files.extend(kfl_files(&root, &root.join("examples")));
    files.retain(|(_, text)| text.contains("pipeline") && text.len() < 20_000);
    let mut variants = 0;
    let (mut pieced, mut broken) = (0, 0);
    for (path, text) in &files {
        // One database per file, edited again and again as in an editor; the rest of its
        // project is left out (imports then fail the same way in both).
        let mut db = Database::default();
        let mut current = text.clone();
        for round in 0..24 {
            // Every eighth round starts over from the file as written.
            current = if round % 8 == 7 { text.clone() } else { edit(&current, &mut next) };
            let (all, with_errors) =
                agree_counting(&mut db, &[(path.clone(), current.clone())], &format!("{path} edit {round}"));
            pieced += all;
            broken += with_errors;
            variants += 1;
        }
    }
    assert!(variants > 500, "only {variants} variants");
    assert!(pieced > variants / 2, "only {pieced} of {variants} variants were checked in pieces");
    assert!(broken > variants / 10, "only {broken} of {variants} variants had statements that did not parse");
}

/// A long pipeline (about 200 pieces) whose tasks read tasks many pieces away, edited at random
/// places.
#[test]
fn long_pipelines_check_the_same_in_pieces() {
    let mut next = rng();
    // Enough pieces for several blocks of task names (`PIECES_PER_BLOCK`).
    let original = generate::single_file(3000);
    let mut text = original.clone();
    let mut db = Database::default();
    let mut pieced = agree(&mut db, &[("g.kfl".to_string(), text.clone())], "generated");
    for round in 0..80 {
        // Half the edits on top of the last, half on the text as generated; most of whole lines.
        let base = if round % 2 == 0 { &original } else { &text };
        text = if round % 3 == 0 { edit(base, &mut next) } else { edit_lines(base, &mut next) };
        pieced += agree(&mut db, &[("g.kfl".to_string(), text.clone())], &format!("generated, edit {round}"));
    }
    assert!(pieced > 25, "only {pieced} checks were made in pieces");
}

/// What the editor completes after `task.`: the outputs found through the pieces
/// (`model::task_outputs_at`) are those of the file's model, for every task of every pipeline of
/// the examples and cases.
#[test]
fn task_outputs_through_the_pieces_are_the_model_s() {
    use kfl_check::model::{file_model, task_outputs_at};
    use kfl_model::item::{Callee, Stmt, Task};

    fn tasks<'m>(stmts: &'m [Stmt], out: &mut Vec<&'m Task>) {
        for stmt in stmts {
            match stmt {
                Stmt::Task(t) => out.push(t),
                Stmt::If(i) => i.branches.iter().for_each(|b| tasks(&b.body, out)),
                Stmt::For(l) => tasks(&l.body, out),
                Stmt::Finally(f) => tasks(&f.body, out),
            }
        }
    }

    let root = workspace_root();
    let mut files = kfl_files(&root, &root.join("examples"));
    files.extend(kfl_files(&root, &root.join("tests/check")));
    let mut db = Database::default();
    for (path, text) in &files {
        db.set_file(path, text.clone());
    }
    let mut answered = 0;
    for (path, _) in &files {
        let file = db.file(path).expect("file");
        let model = file_model(&db, file);
        for pipeline in &model.pipelines {
            let mut all = Vec::new();
            tasks(&pipeline.body, &mut all);
            for task in &all {
                let Some((callee, outputs)) =
                    task_outputs_at(&db, file, pipeline.origin.span.start as usize, &task.name)
                else {
                    continue;
                };
                answered += 1;
                // The model's answer: the first task of that name, its callee's outputs.
                let first = all.iter().find(|t| t.name == task.name).expect("itself at least");
                let Callee::Component(id) = &first.callee else { panic!("{path}: `{}` calls a pipeline", task.name) };
                let owner = db.file(&id.file).expect("the callee's file");
                let component =
                    file_model(&db, owner).components.iter().find(|c| c.id == *id).cloned().expect("the component");
                let expected: Vec<_> = component.outputs.iter().map(|o| (o.name.clone(), o.ty.clone())).collect();
                assert_eq!((callee.as_str(), &outputs), (id.name.as_str(), &expected), "{path}: task `{}`", task.name);
            }
        }
    }
    assert!(answered > 100, "only {answered} tasks were answered through the pieces");
}
