//! Against a real Kubernetes API server (k8s-testenv: apiextensions-apiserver + etcd, with Argo's
//! Workflow CRD): apply, dry run, re-apply, plan, conflicts, strict validation, a status watch,
//! runs/status/delete, and a cluster without the CRD. Each test uses its own namespace.

mod common;

use std::time::Duration;

use common::{pipeline, render_with_lines, run, shared, TestEnv};
use kfl_cluster::{argo, project, ApplyArgs, DeleteArgs, Pipeline, PlanArgs, RunsArgs, StatusArgs};
use serde_json::{json, Value as Json};

fn apply_args(namespace: &str) -> ApplyArgs {
    ApplyArgs { cluster: shared().cluster(namespace), ..Default::default() }
}

fn small() -> Pipeline {
    pipeline("small.kfl", &[])
}

/// Runs `f` with a client of the shared server (for looking behind kflc's back), on a runtime
/// that lives as long as the client's connection.
fn on<T, F: std::future::Future<Output = T>>(namespace: &str, f: impl FnOnce(kfl_cluster::Cluster) -> F) -> T {
    let args = shared().cluster(namespace);
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(async {
        let c = kfl_cluster::connect::connect(&args).await.expect("connect");
        f(c).await
    })
}

fn workflows(c: &kfl_cluster::Cluster) -> kube::Api<kube::api::DynamicObject> {
    kube::Api::namespaced_with(c.client.clone(), &c.namespace, &argo::workflow_resource())
}

fn get(namespace: &str, name: &str) -> Option<Json> {
    on(namespace, |c| async move { argo::get(&c, name).await }).expect("get")
}

#[test]
fn apply_submits_a_named_labelled_run_under_the_kflc_field_manager() {
    let (code, out, err) = run(|c| kfl_cluster::apply_with(&apply_args("t-apply"), &small(), c));
    assert_eq!(code, 0, "{err}");
    let name = out.trim();
    assert!(name.starts_with("small-training-") && name.len() <= 63, "{name}");
    // The test server has no nodes API: the capacity check warns and the run is still submitted.
    assert!(err.contains("warning: cannot list nodes"), "{err}");
    let live = get("t-apply", name).expect("the run exists");
    assert_eq!(live["metadata"]["labels"]["kfl.dev/run"], name);
    assert_eq!(live["metadata"]["labels"]["kfl.dev/pipeline"], "small-training");
    assert_eq!(live["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kflc");
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["kflc"]);
    // Two applies: two different runs.
    let (_, second, _) = run(|c| kfl_cluster::apply_with(&apply_args("t-apply"), &small(), c));
    assert_ne!(second.trim(), name);
}

#[test]
fn dry_run_server_prints_the_answer_and_persists_nothing() {
    let mut args = apply_args("t-dry");
    args.dry_run_server = true;
    let (code, out, err) = run(|c| kfl_cluster::apply_with(&args, &pipeline("small.kfl", &["rows=42"]), c));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing was persisted"), "{err}");
    assert!(out.contains("kind: Workflow") && out.contains("value: '42'"), "{out}");
    let runs = on("t-dry", |c| async move { argo::list(&c, "app.kubernetes.io/managed-by=kflc").await }).expect("list");
    assert!(runs.is_empty(), "a dry run persisted {runs:?}");
}

#[test]
fn reapply_of_the_same_run_changes_nothing_and_plan_says_so() {
    let mut args = apply_args("t-reapply");
    args.name = Some("small-training-fixed".into());
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args, &small(), c));
    assert_eq!(code, 0, "{err}");
    let first = get("t-reapply", "small-training-fixed").expect("exists");
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args, &small(), c));
    assert_eq!(code, 0, "{err}");
    let second = get("t-reapply", "small-training-fixed").expect("exists");
    assert_eq!(first["metadata"]["resourceVersion"], second["metadata"]["resourceVersion"], "a no-op apply wrote");

    let plan =
        PlanArgs { name: Some("small-training-fixed".into()), timeout: None, cluster: shared().cluster("t-reapply") };
    let (code, out, err) = run(|c| kfl_cluster::plan_with(&plan, &small(), c));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kind: Workflow") && out.contains("changes nothing"), "{out}");
    // A different parameter: the plan shows the changed line.
    let (code, out, err) = run(|c| kfl_cluster::plan_with(&plan, &pipeline("small.kfl", &["rows=7"]), c));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("an apply changes") && out.contains("-      value: '10'") && out.contains("+      value: '7'"),
        "{out}"
    );
    // A new run: the plan is a creation.
    let plan = PlanArgs { name: None, ..plan };
    let (code, out, _) = run(|c| kfl_cluster::plan_with(&plan, &small(), c));
    assert_eq!(code, 0);
    assert!(out.contains("plan: create run `small-training-"), "{out}");
}

#[test]
fn conflict_with_another_field_manager_names_it_and_force_takes_over() {
    let mut args = apply_args("t-conflict");
    args.name = Some("small-training-shared".into());
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args, &small(), c));
    assert_eq!(code, 0, "{err}");
    // Another tool takes .spec.entrypoint over.
    let other = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": { "name": "small-training-shared", "namespace": "t-conflict" },
        "spec": { "entrypoint": "someone-else" },
    });
    on("t-conflict", |c| async move {
        let params = kube::api::PatchParams::apply("other-tool").force();
        workflows(&c).patch("small-training-shared", &params, &kube::api::Patch::Apply(&other)).await
    })
    .expect("the other manager applies");
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args, &small(), c));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("conflict") && err.contains("`other-tool`") && err.contains(".spec.entrypoint"), "{err}");
    assert!(err.contains("--force-conflicts"), "{err}");
    args.force_conflicts = true;
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args, &small(), c));
    assert_eq!(code, 0, "{err}");
    assert_eq!(get("t-conflict", "small-training-shared").expect("exists")["spec"]["entrypoint"], "small-training");
}

#[test]
fn strict_validation_refuses_an_unknown_field_and_points_at_the_component() {
    let small = small();
    let mut workflow = project::workflow(&small.dag, "small-training-strict", "t-strict").expect("workflow");
    let index = workflow["spec"]["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .position(|t| t["name"] == "train")
        .expect("a template for train");
    workflow["spec"]["templates"][index]["container"]["kflUnknownField"] = json!(true);
    let sent = workflow.clone();
    let error = on("t-strict", |c| async move { argo::apply(&c, &sent, false, false).await }).expect_err("refused");
    let error = kfl_cluster::locate(error, &small, &workflow);
    let text = error.to_string();
    assert!(text.contains(&format!(".spec.templates[{index}].container.kflUnknownField")), "{text}");
    assert!(text.contains("small.kfl: component `train` (template `train`)"), "{text}");
    // The place is data (file and span of the declaration); who holds the text renders it.
    let text = render_with_lines(&error);
    assert!(text.contains("small.kfl:17:1: component `train`"), "{text}");
    assert!(get("t-strict", "small-training-strict").is_none());
}

/// Writes `.status` as Argo's controller would (a merge patch by another manager).
fn write_status(namespace: &str, name: &str, status: Json) {
    on(namespace, |c| async move {
        let params = kube::api::PatchParams { field_manager: Some("workflow-controller".into()), ..Default::default() };
        workflows(&c).patch(name, &params, &kube::api::Patch::Merge(json!({ "status": status }))).await
    })
    .expect("write status");
}

fn node(name: &str, display: &str, phase: &str) -> (String, Json) {
    (name.to_string(), json!({ "id": name, "name": name, "displayName": display, "type": "Pod", "phase": phase }))
}

#[test]
fn apply_wait_follows_the_status_until_the_run_ends() {
    for (namespace, end, code_wanted) in [("t-watch-ok", "Succeeded", 0u8), ("t-watch-fail", "Failed", 1u8)] {
        let mut args = apply_args(namespace);
        args.name = Some("small-training-watched".into());
        args.wait = true;
        args.timeout = Some(Duration::from_secs(60));
        let writer = std::thread::spawn(move || {
            // Wait until the run exists, then play the controller.
            for _ in 0..100 {
                if get(namespace, "small-training-watched").is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let nodes = |prep: &str, train: &str| -> Json {
                let (a, na) = node("w-1", "prepared", prep);
                let (b, nb) = node("w-2", "trained", train);
                json!({ a: na, b: nb })
            };
            write_status(
                namespace,
                "small-training-watched",
                json!({ "phase": "Running", "progress": "0/2", "nodes": nodes("Running", "Pending") }),
            );
            std::thread::sleep(Duration::from_millis(300));
            write_status(
                namespace,
                "small-training-watched",
                json!({ "phase": "Running", "progress": "1/2", "nodes": nodes("Succeeded", "Running") }),
            );
            std::thread::sleep(Duration::from_millis(300));
            let last = if end == "Succeeded" { "Succeeded" } else { "Failed" };
            let mut status = json!({ "phase": end, "progress": "2/2", "nodes": nodes("Succeeded", last) });
            if end == "Failed" {
                status["message"] = json!("child 'w-2' failed");
                status["nodes"]["w-2"]["message"] = json!("Error (exit code 1)");
            }
            write_status(namespace, "small-training-watched", status);
        });
        let (code, out, err) = run(|c| kfl_cluster::apply_with(&args, &small(), c));
        writer.join().expect("status writer");
        assert_eq!(code, code_wanted, "{out}\n{err}");
        assert!(out.contains("small-training-watched: Running"), "{out}");
        assert!(out.contains("  prepared: Succeeded") && out.contains(&format!("  trained: {end}")), "{out}");
        assert!(out.contains(&format!("small-training-watched: {end} (2/2)")), "{out}");
        if end == "Failed" {
            assert!(err.contains("ended Failed") && err.contains("trained (Error (exit code 1))"), "{err}");
        }
        // `status` shows the same, once.
        let status = StatusArgs {
            run: "small-training-watched".into(),
            cluster: shared().cluster(namespace),
            ..Default::default()
        };
        let (code, out, _) = run(|c| kfl_cluster::status_with(&status, c));
        assert_eq!(code, 0);
        assert!(out.contains(&format!("phase:     {end}")) && out.contains("trained"), "{out}");
    }
}

#[test]
fn runs_lists_a_pipelines_runs_by_label_and_delete_removes_one() {
    let namespace = "t-runs";
    let mut names = Vec::new();
    for _ in 0..2 {
        let (code, out, err) = run(|c| kfl_cluster::apply_with(&apply_args(namespace), &small(), c));
        assert_eq!(code, 0, "{err}");
        names.push(out.trim().to_string());
    }
    let runs =
        RunsArgs { pipeline: Some("small_training".into()), timeout: None, cluster: shared().cluster(namespace) };
    let (code, out, err) = run(|c| kfl_cluster::runs_with(&runs, c));
    assert_eq!(code, 0, "{err}");
    for n in &names {
        assert!(out.contains(n.as_str()), "{out}");
    }
    let delete = DeleteArgs { run: names[0].clone(), timeout: None, cluster: shared().cluster(namespace) };
    let (code, _, err) = run(|c| kfl_cluster::delete_with(&delete, c));
    assert_eq!(code, 0, "{err}");
    assert!(get(namespace, &names[0]).is_none());
    let (code, _, err) = run(|c| kfl_cluster::delete_with(&delete, c));
    assert_eq!(code, 1);
    assert!(err.contains(&format!("there is no run (Workflow) `{}` in namespace `t-runs`", names[0])), "{err}");
    let status = StatusArgs { run: names[0].clone(), cluster: shared().cluster(namespace), ..Default::default() };
    let (code, _, err) = run(|c| kfl_cluster::status_with(&status, c));
    assert_eq!(code, 1);
    assert!(err.contains("there is no run"), "{err}");
}

#[test]
fn a_cluster_without_the_workflow_crd_is_reported_as_such() {
    let env = TestEnv::start(false);
    let args = ApplyArgs { cluster: env.cluster("t-nocrd"), ..Default::default() };
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args, &small(), c));
    let runs = RunsArgs { pipeline: None, timeout: None, cluster: env.cluster("t-nocrd") };
    let (runs_code, _, runs_err) = run(|c| kfl_cluster::runs_with(&runs, c));
    env.stop();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the Workflow CRD is not installed in this cluster"), "{err}");
    assert_eq!(runs_code, 1);
    assert!(runs_err.contains("the Workflow CRD is not installed"), "{runs_err}");
}
