//! Checking speed: a cold check of one big pipeline, and a project of many files checked cold and
//! re-checked after a one-line edit (where salsa should redo only what the edit touches), and a
//! one-line edit in a pipeline of 5,000 and 50,000 tasks (what the language server does on a
//! keystroke: set the text, check the file; the parse alone beside it).
//!
//! Run: `cargo bench -p kfl-check --bench check -- --warm-up-time 1 --measurement-time 3`.
//! The programs come from `generate/mod.rs` and check with no diagnostic (asserted at setup).

mod generate;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use kfl_check::{check_file, Database};

/// Pipeline files in the project benchmarks (plus one components library).
const PROJECT_PIPELINES: usize = 19;
/// Task statements per pipeline file in the project benchmarks.
const PROJECT_TASKS: usize = 150;

fn assert_clean(db: &Database) {
    for file in db.files() {
        let diagnostics = check_file(db, file);
        assert!(diagnostics.is_empty(), "the generated {} does not check clean: {:#?}", file.path(db), diagnostics);
    }
}

/// Checks every file; returns the number of diagnostics (zero) so that nothing is optimised away.
fn check_all(db: &Database) -> usize {
    db.files().into_iter().map(|file| check_file(db, file).len()).sum()
}

fn cold_single_file(c: &mut Criterion) {
    let mut group = c.benchmark_group("cold_check");
    group.sample_size(10);
    for tasks in [100, 1_000, 10_000] {
        let text = generate::single_file(tasks);
        let mut db = Database::default();
        db.set_file("generated.kfl", text.clone());
        assert_clean(&db);
        group.throughput(Throughput::Elements(tasks as u64));
        group.bench_with_input(BenchmarkId::new("tasks", tasks), &text, |b, text| {
            b.iter_batched(
                || text.clone(),
                |text| {
                    let mut db = Database::default();
                    let file = db.set_file("generated.kfl", text);
                    black_box(check_file(&db, file).len());
                    // Dropped outside the measurement.
                    db
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Parsing alone (no database), to tell how a cold check splits between parsing and checking.
fn parse_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_only");
    group.sample_size(10);
    for tasks in [1_000, 10_000] {
        let text = generate::single_file(tasks);
        group.throughput(Throughput::Elements(tasks as u64));
        group.bench_with_input(BenchmarkId::new("tasks", tasks), &text, |b, text| {
            b.iter(|| black_box(kfl_syntax::parse(text)))
        });
    }
    group.finish();
}

fn project(c: &mut Criterion) {
    let files = generate::multi_file(PROJECT_PIPELINES, PROJECT_TASKS);
    let new_db = |files: &[(String, String)]| {
        let mut db = Database::default();
        for (path, text) in files {
            db.set_file(path, text.clone());
        }
        db
    };

    let mut group = c.benchmark_group(format!("project_{}x{}_tasks", PROJECT_PIPELINES, PROJECT_TASKS));
    group.sample_size(10);

    let db = new_db(&files);
    assert_clean(&db);
    drop(db);
    group.bench_function("cold", |b| {
        b.iter_batched(
            || files.clone(),
            |files| {
                let db = new_db(&files);
                black_box(check_all(&db));
                db
            },
            BatchSize::PerIteration,
        )
    });

    // Everything already checked: what a re-check costs when nothing changed.
    let db = new_db(&files);
    check_all(&db);
    group.bench_function("recheck_unchanged", |b| b.iter(|| black_box(check_all(&db))));
    drop(db);

    // A one-line edit of a string argument in one pipeline file: only that file is checked again.
    let (edited_path, edited_text) = &files[1];
    let variants: Vec<String> = (0..2).map(|v| generate::edit_pipeline_string(edited_text, v)).collect();
    let mut db = new_db(&files);
    for variant in &variants {
        db.set_file(edited_path, variant.clone());
        assert_clean(&db);
    }
    let mut round = 0usize;
    group.bench_function("recheck_after_pipeline_edit", |b| {
        b.iter_batched(
            || {
                round += 1;
                variants[round % 2].clone()
            },
            |text| {
                db.set_file(edited_path, text);
                black_box(check_all(&db))
            },
            BatchSize::PerIteration,
        )
    });
    drop(db);

    // A one-line edit inside a component's script in the library: no signature changes, so the
    // pipeline files are not checked again (early cut-off on `file_exports`).
    let library = &files[0].1;
    let variants: Vec<String> = (0..2).map(|v| generate::edit_library_script(library, v)).collect();
    let mut db = new_db(&files);
    for variant in &variants {
        db.set_file(generate::LIBRARY_PATH, variant.clone());
        assert_clean(&db);
    }
    let mut round = 0usize;
    group.bench_function("recheck_after_library_script_edit", |b| {
        b.iter_batched(
            || {
                round += 1;
                variants[round % 2].clone()
            },
            |text| {
                db.set_file(generate::LIBRARY_PATH, text);
                black_box(check_all(&db))
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// A one-line edit in one long pipeline, then the file's diagnostics (and, beside it, its parse):
/// the language server's keystroke on a big file, in-process.
fn edit_in_long_pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("edit_in_long_pipeline");
    group.sample_size(10);
    for tasks in [5_000, 50_000] {
        let text = generate::single_file(tasks);
        let variants: Vec<String> = (0..2).map(|v| generate::edit_pipeline_string(&text, v)).collect();
        for (what, check) in [("check_file", true), ("parse", false)] {
            let mut db = Database::default();
            let file = db.set_file("generated.kfl", text.clone());
            assert_clean(&db);
            let mut round = 0usize;
            group.bench_function(BenchmarkId::new(what, tasks), |b| {
                b.iter_batched(
                    || {
                        round += 1;
                        variants[round % 2].clone()
                    },
                    |edited| {
                        db.set_file("generated.kfl", edited);
                        if check {
                            black_box(check_file(&db, file).len());
                        } else {
                            black_box(kfl_check::parse(&db, file).file.items.len());
                        }
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, cold_single_file, parse_only, project, edit_in_long_pipeline);
criterion_main!(benches);

/// kflc's allocator: freeing the memo of a large parse costs several times more with the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
