//! What the test API server cannot serve (nodes, pods, logs, RBAC refusals), against recorded API
//! responses (a tower-test mock service in place of the HTTP connection); failures that need no
//! server at all (no kubeconfig, an unreachable server); and where a refused field comes from in
//! the source. (A pipeline with errors never reaches this crate: `kflc` refuses it first, see
//! `tests/cli.rs` at the workspace root.)

mod common;

use std::path::PathBuf;

use common::{pipeline, pipeline_of, render_with_lines, run};
use http::{Request, Response};
use kfl_cluster::{project, ApplyArgs, Cluster, ClusterArgs, ClusterError, Console, LogsArgs};
use kube::client::Body;
use serde_json::{json, Value as Json};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn mock_cluster() -> (Cluster, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Cluster::from_client(kube::Client::new(service, "ml"), "ml"), handle)
}

/// Answers the next request with `status` and `body` and returns "METHOD path?query".
async fn answer(handle: &mut Handle, status: u16, body: Json) -> String {
    let (request, respond) = handle.next_request().await.expect("a request");
    let line = format!("{} {}", request.method(), request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""));
    let bytes = serde_json::to_vec(&body).expect("json");
    respond.send_response(Response::builder().status(status).body(Body::from(bytes)).expect("response"));
    line
}

fn status(code: u16, reason: &str, message: &str) -> Json {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code })
}

fn node(name: &str, cpu: &str, memory: &str, gpus: Option<&str>, labels: Json) -> Json {
    let mut allocatable = json!({ "cpu": cpu, "memory": memory });
    if let Some(g) = gpus {
        allocatable["nvidia.com/gpu"] = json!(g);
    }
    json!({ "metadata": { "name": name, "labels": labels }, "status": { "allocatable": allocatable } })
}

fn nodes(items: Vec<Json>) -> Json {
    json!({ "kind": "NodeList", "apiVersion": "v1", "metadata": { "resourceVersion": "1" }, "items": items })
}

async fn apply(cluster: &Cluster, args: &ApplyArgs) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let small = pipeline("small.kfl", &[]);
    let code = kfl_cluster::apply_on(cluster, args, &small, &mut Console::new(&mut out, &mut err)).await;
    (code, String::from_utf8_lossy(&out).to_string(), String::from_utf8_lossy(&err).to_string())
}

fn small() -> ApplyArgs {
    ApplyArgs { name: Some("small-training-rec".into()), ..Default::default() }
}

#[tokio::test]
async fn recorded_403_responses_name_the_missing_permission() {
    let (cluster, mut handle) = mock_cluster();
    let server = tokio::spawn(async move {
        let first = answer(
            &mut handle,
            403,
            status(
                403,
                "Forbidden",
                "nodes is forbidden: User \"ci\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
            ),
        )
        .await;
        let second = answer(&mut handle, 403, status(403, "Forbidden", "workflows.argoproj.io \"small-training-rec\" is forbidden: User \"ci\" cannot patch resource \"workflows\" in API group \"argoproj.io\" in the namespace \"ml\"")).await;
        (first, second)
    });
    let (code, _, err) = apply(&cluster, &small()).await;
    let (first, second) = server.await.expect("server");
    assert!(first.starts_with("GET /api/v1/nodes"), "{first}");
    assert!(
        second.starts_with("PATCH /apis/argoproj.io/v1alpha1/namespaces/ml/workflows/small-training-rec?"),
        "{second}"
    );
    assert!(second.contains("fieldManager=kflc") && second.contains("fieldValidation=Strict"), "{second}");
    assert_eq!(code, 1, "{err}");
    // Nodes that cannot be listed: a warning, and the run is still sent.
    assert!(err.contains("warning: cannot list nodes, so the capacity check was skipped: permission denied: kflc needs `list` on `nodes` (cluster-wide)"), "{err}");
    assert!(
        err.contains("error: permission denied: kflc needs `patch` on `workflows.argoproj.io` in namespace `ml`"),
        "{err}"
    );
}

#[tokio::test]
async fn recorded_401_says_the_credentials_were_refused() {
    let (cluster, mut handle) = mock_cluster();
    let server =
        tokio::spawn(async move { answer(&mut handle, 401, status(401, "Unauthorized", "Unauthorized")).await });
    let mut out = Vec::new();
    let mut err = Vec::new();
    let args = kfl_cluster::StatusArgs { run: "x".into(), ..Default::default() };
    let code = kfl_cluster::status_on(&cluster, &args, &mut Console::new(&mut out, &mut err)).await;
    server.await.expect("server");
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, 1);
    assert!(err.contains("did not accept the credentials (401 Unauthorized"), "{err}");
}

#[tokio::test]
async fn recorded_nodes_refuse_a_task_that_no_node_could_ever_fit() {
    let (cluster, mut handle) = mock_cluster();
    let server = tokio::spawn(async move {
        let cpu_only = node("cpu-1", "4", "16Gi", None, json!({ "kubernetes.io/os": "linux" }));
        answer(&mut handle, 200, nodes(vec![cpu_only])).await
    });
    let (code, _, err) = apply(&cluster, &small()).await;
    server.await.expect("server");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("task `trained` cannot run on any node: it needs 1 GPU(s) (the most on one node is 0), a node labelled cloud.google.com/gke-accelerator=nvidia-tesla-a100 (none is)"), "{err}");
    assert!(err.contains("nothing was submitted"), "{err}");
    assert!(!err.contains("task `prepared`"), "{err}");
}

#[tokio::test]
async fn recorded_nodes_with_a_fitting_gpu_node_let_the_run_through() {
    let (cluster, mut handle) = mock_cluster();
    let server = tokio::spawn(async move {
        let gpu =
            node("gpu-1", "8", "64Gi", Some("1"), json!({ "cloud.google.com/gke-accelerator": "nvidia-tesla-a100" }));
        let small = node("cpu-1", "1", "1Gi", None, json!({}));
        answer(&mut handle, 200, nodes(vec![small, gpu])).await;
        let (request, respond) = handle.next_request().await.expect("the apply");
        let body = http_body_util::BodyExt::collect(request.into_body()).await.expect("body").to_bytes();
        let mut object: Json = serde_json::from_slice(&body).expect("json");
        object["metadata"]["uid"] = json!("u-1");
        respond.send_response(
            Response::builder()
                .status(201)
                .body(Body::from(serde_json::to_vec(&object).expect("json")))
                .expect("response"),
        );
    });
    let (code, out, err) = apply(&cluster, &small()).await;
    server.await.expect("server");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "small-training-rec");
    assert!(!err.contains("warning"), "{err}");
}

fn pod(name: &str, node_name: &str) -> Json {
    json!({ "metadata": { "name": name, "annotations": { "workflows.argoproj.io/node-name": node_name },
                          "labels": { "workflows.argoproj.io/workflow": "run-1" } } })
}

#[tokio::test]
async fn recorded_pod_logs_of_one_task_come_from_its_pod() {
    let (cluster, mut handle) = mock_cluster();
    let server = tokio::spawn(async move {
        let pods = json!({ "kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
            pod("run-1-prepare-111", "run-1.prepared"),
            pod("run-1-train-222", "run-1.trained"),
        ]});
        let list = answer(&mut handle, 200, pods).await;
        let (request, respond) = handle.next_request().await.expect("the log request");
        let line = request.uri().to_string();
        respond.send_response(
            Response::builder().status(200).body(Body::from(b"epoch 1\nscore 0.2\n".to_vec())).expect("response"),
        );
        (list, line)
    });
    let mut out = Vec::new();
    let mut err = Vec::new();
    let args = LogsArgs { run: "run-1".into(), task: Some("trained".into()), ..Default::default() };
    let code = kfl_cluster::logs::logs_on(&cluster, &args, &mut Console::new(&mut out, &mut err)).await;
    let (list, line) = server.await.expect("server");
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    assert!(
        list.contains("/api/v1/namespaces/ml/pods?")
            && list.contains("labelSelector=workflows.argoproj.io%2Fworkflow%3Drun-1"),
        "{list}"
    );
    assert!(
        line.contains("/api/v1/namespaces/ml/pods/run-1-train-222/log?") && line.contains("container=main"),
        "{line}"
    );
    assert_eq!(String::from_utf8_lossy(&out), "epoch 1\nscore 0.2\n");
}

#[tokio::test]
async fn recorded_pod_list_without_the_task_names_the_tasks_it_has() {
    let (cluster, mut handle) = mock_cluster();
    let server = tokio::spawn(async move {
        let pods = json!({ "kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [ pod("run-1-prepare-111", "run-1.prepared") ]});
        answer(&mut handle, 200, pods).await
    });
    let mut out = Vec::new();
    let mut err = Vec::new();
    let args = LogsArgs { run: "run-1".into(), task: Some("evaluate".into()), ..Default::default() };
    let code = kfl_cluster::logs::logs_on(&cluster, &args, &mut Console::new(&mut out, &mut err)).await;
    server.await.expect("server");
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, 1);
    assert!(err.contains("has no pod for task `evaluate`; its tasks with pods: prepared"), "{err}");
}

// Failures that need no server.

fn unreachable_kubeconfig(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\n\
         contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n    namespace: team\ncurrent-context: ctx\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .expect("write kubeconfig");
    path
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kfl-cluster-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn no_kubeconfig_says_how_to_configure_one() {
    let args = ApplyArgs {
        cluster: ClusterArgs { kubeconfig: Some("/nonexistent/kubeconfig".into()), ..Default::default() },
        ..Default::default()
    };
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args, &pipeline("small.kfl", &[]), c));
    assert_eq!(code, 2);
    assert!(err.contains("no Kubernetes configuration found") && err.contains("KUBECONFIG"), "{err}");
}

#[test]
fn an_unreachable_server_and_an_unknown_context_are_named() {
    let dir = temp_dir("unreachable");
    let kubeconfig = unreachable_kubeconfig(&dir);
    let args = ApplyArgs {
        skip_capacity_check: true,
        cluster: ClusterArgs { kubeconfig: Some(kubeconfig.clone()), ..Default::default() },
        ..Default::default()
    };
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args, &pipeline("small.kfl", &[]), c));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot reach the Kubernetes API server at https://127.0.0.1:1"), "{err}");
    let args = ApplyArgs { cluster: ClusterArgs { context: Some("prod".into()), ..args.cluster.clone() }, ..args };
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args, &pipeline("small.kfl", &[]), c));
    assert_eq!(code, 2);
    assert!(err.contains("there is no context `prod`; the kubeconfig has: ctx"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The server's error for `field` of the Workflow, located in the source of `pipeline`.
fn refused(pipeline: &kfl_cluster::Pipeline, workflow: &Json, field: &str) -> ClusterError {
    let error = ClusterError::Invalid {
        message: format!("{field}: field not declared in schema"),
        fields: kfl_cluster::error::field_errors_in(&format!("{field}: field not declared in schema")),
    };
    kfl_cluster::locate(error, pipeline, workflow)
}

#[test]
fn a_refused_field_points_at_the_task_or_component_that_made_it_even_in_a_called_pipeline() {
    let nested = pipeline_of("nested.kfl", Some("outer"), &[]);
    let workflow = project::workflow(&nested.dag, "outer-1", "ml").expect("workflow");
    let templates = workflow["spec"]["templates"].as_array().expect("templates");
    let dag_index = templates.iter().position(|t| t.get("dag").is_some()).expect("a DAG template");
    let tasks = templates[dag_index]["dag"]["tasks"].as_array().expect("tasks");
    // Every task of the DAG, the called pipeline's too, has the statement that declares it.
    let file = common::fixture("nested.kfl");
    let text = std::fs::read_to_string(&file).expect("fixture");
    for (i, task) in tasks.iter().enumerate() {
        let error = refused(&nested, &workflow, &format!(".spec.templates[{dag_index}].dag.tasks[{i}].kflUnknown"));
        let at = error.source_refs();
        assert_eq!(at.len(), 1, "{task}: {error}");
        let statement = &text[at[0].origin.span.range()];
        let name = task["name"].as_str().expect("name");
        let (expected, what) = match name {
            "prep-prepared" => ("prepared = prepare(rows: rows)", "task `prep.prepared`"),
            "prep-doubled" => ("doubled  = prepare(rows: prepared.count)", "task `prep.doubled`"),
            "last" => ("last = prepare(rows: prep.count)", "task `last`"),
            other => panic!("unexpected task {other}"),
        };
        assert_eq!((statement, at[0].what.as_str()), (expected, what));
        assert!(at[0].origin.file.ends_with("nested.kfl"), "{:?}", at[0].origin);
    }
    // A container template: the component, with its file and line for who holds the text.
    let index = templates.iter().position(|t| t["name"] == "prepare").expect("the component's template");
    let error = refused(&nested, &workflow, &format!(".spec.templates[{index}].container.kflUnknown"));
    let rendered = render_with_lines(&error);
    assert!(rendered.contains("nested.kfl:3:1: component `prepare` (template `prepare`)"), "{rendered}");
    // Without origins the error is the same, only with no place.
    let bare = kfl_cluster::Pipeline::new(nested.dag.clone());
    let error = refused(&bare, &workflow, &format!(".spec.templates[{index}].container.kflUnknown"));
    assert!(error.source_refs().is_empty() && error.to_string().contains("container.kflUnknown"), "{error}");
}

/// `apply` builds its Workflow through the Argo backend: one Kubernetes cannot store (over
/// 1.5 MiB) is refused before anything is sent, as `kflc build --target argo` refuses it.
#[test]
fn a_workflow_too_large_to_store_is_refused_before_it_is_sent() {
    let mut big = pipeline_of("nested.kfl", Some("outer"), &[]);
    assert!(project::workflow(&big.dag, "outer-1", "ml").is_ok());
    let description = "x".repeat(2 * 1024 * 1024);
    big.dag.description = Some(description);
    let error = project::workflow(&big.dag, "outer-1", "ml").expect_err("refused");
    assert!(error.to_string().contains("too large for Argo Workflows"), "{error}");
}
