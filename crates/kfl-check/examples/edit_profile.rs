//! Profiling aid: one-line edits of a generated 50,000-task pipeline, timed phase by phase
//! (`cargo run --release -p kfl-check --example edit_profile -- [TASKS] [EDITS]`). Run it under
//! `perf stat` or `perf record` to see where an edit's time goes; the benchmark is `benches/check.rs`.

#[path = "../benches/generate/mod.rs"]
mod generate;

use std::time::Instant;

use kfl_check::{check_file, parse, Database};

/// kflc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let tasks: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let edits: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let text = generate::single_file(tasks);
    // KFL_EDIT=declare: a task is added and removed again (the pipeline's scope changes, so every
    // piece of it is checked again); otherwise an argument is edited.
    // KFL_EDIT=distinct: every edit gives a text not seen before (memory over a long session).
    let distinct = std::env::var_os("KFL_EDIT").is_some_and(|v| v == "distinct");
    let variants: Vec<String> = if std::env::var_os("KFL_EDIT").is_some_and(|v| v == "declare") {
        let at = text.find("    load_0 = ").expect("a generated pipeline");
        let added = format!("{}    extra = load_data(source: \"gs://x\", seed: seed)\n{}", &text[..at], &text[at..]);
        vec![added, text.clone()]
    } else {
        (0..2).map(|v| generate::edit_pipeline_string(&text, v)).collect()
    };
    let mut db = Database::default();
    let file = db.set_file("generated.kfl", text.clone());
    let cold = Instant::now();
    let n = check_file(&db, file).len();
    println!("cold check: {:.1} ms ({n} diagnostics)", cold.elapsed().as_secs_f64() * 1e3);
    let (mut set, mut parsed, mut checked) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..edits {
        let t0 = Instant::now();
        let next = if distinct { generate::edit_pipeline_string(&text, round) } else { variants[round % 2].clone() };
        db.set_file("generated.kfl", next);
        let t1 = Instant::now();
        std::hint::black_box(check_file(&db, file).len());
        let t2 = Instant::now();
        // What the editor's other features read: the whole tree (KFL_TREE=0 leaves it out).
        if std::env::var_os("KFL_TREE").is_none_or(|v| v != "0") {
            std::hint::black_box(parse(&db, file).file.items.len());
        }
        let t3 = Instant::now();
        set.push(t1 - t0);
        parsed.push(t2 - t1);
        checked.push(t3 - t2);
    }
    let median = |mut v: Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    println!(
        "per edit (median of {edits}): set {:.2} ms, check_file {:.2} ms, then the whole tree {:.2} ms",
        median(set),
        median(parsed),
        median(checked)
    );
}
