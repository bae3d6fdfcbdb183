//! Emitting speed: a generated 100- and 1,000-task pipeline lowered to a DAG, then written as an Argo
//! `Workflow` and as a KFP `PipelineSpec`, both as YAML. The goal: both targets of the 1,000-task
//! pipeline in under 100 ms (`emit_both/tasks/1000`).
//!
//! Run: `cargo bench -p kfl-argo --bench emit -- --warm-up-time 1 --measurement-time 3`.
//!
//! Figures on a loaded 2-core machine (medians of two runs, ms), before and after the YAML writer
//! `kfl-yaml` and building the JSON values without copying them:
//!
//! | group | 100 tasks | 1,000 tasks |
//! |---|---|---|
//! | `emit_argo` | 4.7–5.1 → 1.3–2.0 | 52–62 → 13–16 |
//! | `emit_kfp` | 5.9–8.1 → 1.3–1.8 | 64–69 → 18–19 |
//! | `emit_both` | 12.6–17.3 → 2.9–3.4 | 166–171 → 36–39 |
//!
//! What is left of `emit_both/tasks/1000` is mostly building and dropping the `serde_json` values
//! (about three quarters: allocation is a large part) and writing them (about a fifth).
//!
//! Groups:
//! - `lower`: a cold database → parse, check, lower (`kfl_dag::lower`);
//! - `emit_argo`: `kfl_argo::workflow` + `kfl_argo::to_yaml` of the lowered DAG;
//! - `emit_kfp`: `kfl_kfp::to_yaml` of the lowered DAG;
//! - `emit_both`: both of the above;
//! - `end_to_end`: the text of the file → both YAML documents (what `kflc build` does twice, minus IO).
//!
//! The pipelines come from kfl-check's benchmark generator (`kfl-check/benches/generate/mod.rs`):
//! segments of ten tasks with chains, fan-out, a `for` loop with fan-in, an `if`/`else`, `after` and a
//! chain through the segments, calling eight components (python, sh and container forms, with
//! resources, secrets, node selectors and tolerations).

#[path = "../../kfl-check/benches/generate/mod.rs"]
mod generate;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kfl_argo::ArgoOptions;
use kfl_check::Database;
use kfl_dag::Dag;
use kfl_kfp::KfpOptions;

const SIZES: [usize; 2] = [100, 1_000];
const PATH: &str = "generated.kfl";

fn lower(text: &str) -> Dag {
    let mut db = Database::default();
    let file = db.set_file(PATH, text.to_string());
    match kfl_project::lower(&db, file, None) {
        Ok(dag) => dag,
        Err(kfl_dag::LowerError::HasErrors(errors)) => panic!("the generated pipeline has errors: {errors:#?}"),
        Err(e) => panic!("the generated pipeline does not lower: {e}"),
    }
}

fn argo(dag: &Dag, options: &ArgoOptions) -> String {
    let workflow = kfl_argo::workflow(dag, options).expect("the generated pipeline has an Argo Workflow");
    kfl_argo::to_yaml(&workflow)
}

fn kfp(dag: &Dag, options: &KfpOptions) -> String {
    kfl_kfp::to_yaml(dag, options)
}

/// The generated text and its lowered DAG; prints the sizes of the outputs once, as a sanity check.
fn inputs(tasks: usize) -> (String, Dag) {
    let text = generate::single_file(tasks);
    let dag = lower(&text);
    let (a, k) = (argo(&dag, &ArgoOptions::default()), kfp(&dag, &KfpOptions::default()));
    eprintln!(
        "{tasks} task statements: {} DAG nodes; Argo YAML {} KiB, KFP YAML {} KiB",
        dag.graph.node_count(),
        a.len() / 1024,
        k.len() / 1024
    );
    (text, dag)
}

fn benches(c: &mut Criterion) {
    let argo_options = ArgoOptions::default();
    let kfp_options = KfpOptions::default();
    let cases: Vec<(usize, String, Dag)> = SIZES
        .iter()
        .map(|&tasks| {
            let (text, dag) = inputs(tasks);
            (tasks, text, dag)
        })
        .collect();

    let mut group = c.benchmark_group("lower");
    group.sample_size(10);
    for (tasks, text, _) in &cases {
        group.throughput(Throughput::Elements(*tasks as u64));
        group.bench_with_input(BenchmarkId::new("tasks", tasks), text, |b, text| b.iter(|| black_box(lower(text))));
    }
    group.finish();

    let mut group = c.benchmark_group("emit_argo");
    group.sample_size(10);
    for (tasks, _, dag) in &cases {
        group.throughput(Throughput::Elements(*tasks as u64));
        group.bench_with_input(BenchmarkId::new("tasks", tasks), dag, |b, dag| {
            b.iter(|| black_box(argo(dag, &argo_options).len()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("emit_kfp");
    group.sample_size(10);
    for (tasks, _, dag) in &cases {
        group.throughput(Throughput::Elements(*tasks as u64));
        group.bench_with_input(BenchmarkId::new("tasks", tasks), dag, |b, dag| {
            b.iter(|| black_box(kfp(dag, &kfp_options).len()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("emit_both");
    group.sample_size(10);
    for (tasks, _, dag) in &cases {
        group.throughput(Throughput::Elements(*tasks as u64));
        group.bench_with_input(BenchmarkId::new("tasks", tasks), dag, |b, dag| {
            b.iter(|| black_box(argo(dag, &argo_options).len() + kfp(dag, &kfp_options).len()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("end_to_end");
    group.sample_size(10);
    for (tasks, text, _) in &cases {
        group.throughput(Throughput::Elements(*tasks as u64));
        group.bench_with_input(BenchmarkId::new("tasks", tasks), text, |b, text| {
            b.iter(|| {
                let dag = lower(text);
                black_box(argo(&dag, &argo_options).len() + kfp(&dag, &kfp_options).len())
            })
        });
    }
    group.finish();
}

criterion_group!(emit, benches);
criterion_main!(emit);
