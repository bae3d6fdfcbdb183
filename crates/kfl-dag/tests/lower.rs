//! Lowering every example: the graph has the tasks, edges and groups the source says.

use std::path::{Path, PathBuf};

use kfl_check::Database;
use kfl_dag::*;
use kfl_project::lower;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Loads every example into one database (imports resolve by path).
fn examples() -> (Database, Vec<String>) {
    let mut db = Database::default();
    let mut paths = Vec::new();
    let mut stack = vec![root().join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kfl") {
                let rel = path.strip_prefix(root()).expect("inside").to_string_lossy().to_string();
                db.set_file(&rel, std::fs::read_to_string(&path).expect("read"));
                paths.push(rel);
            }
        }
    }
    paths.sort();
    (db, paths)
}

#[test]
fn every_example_pipeline_lowers() {
    let (db, paths) = examples();
    let mut lowered = 0;
    for path in &paths {
        let file = db.file(path).expect("file");
        let parse = kfl_check::parse(&db, file);
        for item in &parse.file.items {
            let kfl_syntax::ast::Item::Pipeline(p) = item else { continue };
            let dag = lower(&db, file, Some(&p.name.text)).unwrap_or_else(|e| panic!("{path} {}: {e}", p.name.text));
            assert!(dag.graph.node_count() > 0, "{path}: no tasks");
            assert!(petgraph::algo::toposort(&dag.graph, None).is_ok(), "{path}: cycle");
            for task in dag.graph.node_weights() {
                assert!(!task.k8s_name.is_empty() && task.k8s_name.len() <= 63, "{}", task.k8s_name);
            }
            lowered += 1;
        }
    }
    assert!(lowered >= 7, "lowered {lowered} pipelines");
}

#[test]
fn the_simple_training_pipeline_has_its_shape() {
    let (db, _) = examples();
    let file = db.file("examples/simple_training.kfl").expect("file");
    let dag = lower(&db, file, None).expect("lowers");
    let names: Vec<&str> = dag.graph.node_weights().map(|t| t.name.as_str()).collect();
    for expected in ["raw", "prep", "trained", "evaluation"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let train = dag.graph.node_indices().find(|n| dag.graph[*n].name == "trained").expect("trained");
    let settings = &dag.graph[train].settings;
    assert_eq!(settings.gpu, Some(1));
    assert_eq!(settings.cpu.map(|c| c.millicores()), Some(8000));
    assert_eq!(settings.memory.map(|m| m.to_k8s()).as_deref(), Some("32Gi"));
    assert!(settings.accelerator.is_some());
    // train reads prep's output: there is a data edge prep → train.
    let prep = dag.graph.node_indices().find(|n| dag.graph[*n].name == "prep").expect("prep");
    assert!(dag.graph.contains_edge(prep, train));
    assert!(dag.groups.iter().any(|g| matches!(g.kind, GroupKind::Condition { .. })));
}

#[test]
fn a_sweep_collects_loop_outputs() {
    let (db, _) = examples();
    let file = db.file("examples/hyperparameter_sweep.kfl").expect("file");
    let dag = lower(&db, file, None).expect("lowers");
    let collected = dag
        .graph
        .node_weights()
        .flat_map(|t| t.args.iter())
        .filter(|(_, s)| matches!(s, Source::Collected { .. }))
        .count();
    assert!(collected >= 1, "fan-in arguments are Collected");
    let loop_group = dag.groups.iter().find(|g| matches!(g.kind, GroupKind::Loop { .. })).expect("a loop");
    let GroupKind::Loop { items: LoopItems::Values(values), parallelism, .. } = &loop_group.kind else {
        panic!("literal loop")
    };
    assert_eq!(values.len(), 3);
    assert_eq!(*parallelism, Some(2));
}

#[test]
fn errors_stop_lowering() {
    let mut db = Database::default();
    let file = db.set_file("bad.kfl", "pipeline p() { x = nope() }".to_string());
    assert!(matches!(lower(&db, file, None), Err(LowerError::HasErrors(_))));
}

/// Settings on a call of a pipeline apply to every task the pipeline contains, over the tasks' and
/// the components' own; `after` orders all of them.
#[test]
fn settings_of_a_pipeline_call_reach_every_task_it_contains() {
    let mut db = Database::default();
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pipeline_call.kfl")).expect("case");
    let file = db.set_file("pipeline_call.kfl", source);
    let dag = lower(&db, file, Some("outer")).expect("lowers");
    let node = |name: &str| dag.graph.node_indices().find(|n| dag.graph[*n].name == name).expect(name);
    let p = node("p");
    for name in ["i.a", "i.b"] {
        let settings = &dag.graph[node(name)].settings;
        assert_eq!(settings.retries, Some(3), "{name}");
        assert_eq!(settings.cache, Some(false), "{name}");
        assert_eq!(settings.timeout.map(|t| t.seconds()), Some(3600), "{name}");
        assert_eq!(settings.cpu.map(|c| c.millicores()), Some(2000), "{name}");
        assert_eq!(settings.memory.map(|m| m.to_k8s()).as_deref(), Some("1Gi"), "{name}");
        assert_eq!(settings.env, vec![("MODE".to_string(), EnvValue::Literal("fast".into()))], "{name}");
        assert!(dag.graph.contains_edge(p, node(name)), "{name} runs after p");
    }
    // The task outside the call keeps its component's settings.
    assert_eq!(dag.graph[p].settings, Settings::default());
}
