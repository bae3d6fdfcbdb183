//! Workflows on the Kubernetes API: server-side apply, get, list, delete, watch.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value as Json;

use crate::connect::Cluster;
use crate::error::{ClusterError, Op};

/// The field manager of everything kflc applies.
pub const FIELD_MANAGER: &str = "kflc";
pub const RESOURCE: &str = "workflows.argoproj.io";

/// Argo's Workflow, named without discovery (which the test API server, and some proxies, lack).
pub fn workflow_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Workflow"), "workflows")
}

fn api(cluster: &Cluster) -> Api<DynamicObject> {
    Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &workflow_resource())
}

fn op(cluster: &Cluster, verb: &'static str, name: Option<&str>) -> Op {
    Op::new(verb, RESOURCE, Some(&cluster.namespace), name)
}

fn to_json(object: &DynamicObject) -> Json {
    serde_json::to_value(object).unwrap_or(Json::Null)
}

/// Server-side apply under [`FIELD_MANAGER`] with strict field validation; with `dry_run`, nothing
/// is persisted (dryRun=All) and the answer is what the server would have stored.
pub async fn apply(cluster: &Cluster, workflow: &Json, dry_run: bool, force: bool) -> Result<Json, ClusterError> {
    let name = workflow.pointer("/metadata/name").and_then(Json::as_str).unwrap_or_default();
    let mut params = PatchParams::apply(FIELD_MANAGER).validation_strict();
    if dry_run {
        params = params.dry_run();
    }
    if force {
        params = params.force();
    }
    api(cluster)
        .patch(name, &params, &Patch::Apply(workflow))
        .await
        .map(|o| to_json(&o))
        .map_err(|e| ClusterError::from_kube(e, &op(cluster, "patch", Some(name)), &cluster.server))
}

pub async fn get(cluster: &Cluster, name: &str) -> Result<Option<Json>, ClusterError> {
    match api(cluster).get(name).await {
        Ok(o) => Ok(Some(to_json(&o))),
        Err(e) => match ClusterError::from_kube(e, &op(cluster, "get", Some(name)), &cluster.server) {
            ClusterError::NotFound { .. } => Ok(None),
            other => Err(other),
        },
    }
}

/// Runs whose labels match `selector`, oldest first.
pub async fn list(cluster: &Cluster, selector: &str) -> Result<Vec<Json>, ClusterError> {
    let list = api(cluster)
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| ClusterError::from_kube(e, &op(cluster, "list", None), &cluster.server))?;
    let mut runs: Vec<Json> = list.items.iter().map(to_json).collect();
    runs.sort_by_key(|r| {
        (
            r.pointer("/metadata/creationTimestamp").and_then(Json::as_str).unwrap_or_default().to_string(),
            name_of(r).to_string(),
        )
    });
    Ok(runs)
}

pub async fn delete(cluster: &Cluster, name: &str) -> Result<(), ClusterError> {
    api(cluster)
        .delete(name, &DeleteParams::background())
        .await
        .map(|_| ())
        .map_err(|e| ClusterError::from_kube(e, &op(cluster, "delete", Some(name)), &cluster.server))
}

pub fn name_of(object: &Json) -> &str {
    object.pointer("/metadata/name").and_then(Json::as_str).unwrap_or_default()
}

pub fn phase_of(object: &Json) -> &str {
    object.pointer("/status/phase").and_then(Json::as_str).filter(|p| !p.is_empty()).unwrap_or("Pending")
}

pub fn is_finished(phase: &str) -> bool {
    matches!(phase, "Succeeded" | "Failed" | "Error")
}

/// The tasks of a run from `.status.nodes`: display name → (phase, message), for pods and skipped tasks.
pub fn task_nodes(object: &Json) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    let Some(nodes) = object.pointer("/status/nodes").and_then(Json::as_object) else { return out };
    for node in nodes.values() {
        let kind = node.get("type").and_then(Json::as_str).unwrap_or_default();
        if !matches!(kind, "Pod" | "Skipped" | "Suspend") {
            continue;
        }
        let name =
            node.get("displayName").or_else(|| node.get("name")).and_then(Json::as_str).unwrap_or_default().to_string();
        let phase = node.get("phase").and_then(Json::as_str).unwrap_or("Pending").to_string();
        let message = node.get("message").and_then(Json::as_str).unwrap_or_default().to_string();
        out.insert(name, (phase, message));
    }
    out
}

/// `2/5` from `.status.progress`, else counted from the task nodes.
pub fn progress_of(object: &Json) -> String {
    if let Some(p) = object.pointer("/status/progress").and_then(Json::as_str) {
        return p.to_string();
    }
    let tasks = task_nodes(object);
    let done = tasks.values().filter(|(p, _)| p == "Succeeded" || p == "Skipped" || p == "Omitted").count();
    if tasks.is_empty() {
        "-".to_string()
    } else {
        format!("{done}/{}", tasks.len())
    }
}

/// `kflc status`: the run's phase, times, message, and each task.
pub fn describe(object: &Json) -> String {
    let get = |p: &str| object.pointer(p).and_then(Json::as_str).unwrap_or("-").to_string();
    let mut out = format!(
        "run:       {}\nnamespace: {}\npipeline:  {}\nphase:     {}\nprogress:  {}\nstarted:   {}\nfinished:  {}\n",
        name_of(object),
        get("/metadata/namespace"),
        get("/metadata/labels/kfl.dev~1pipeline"),
        phase_of(object),
        progress_of(object),
        get("/status/startedAt"),
        get("/status/finishedAt"),
    );
    if let Some(m) = object.pointer("/status/message").and_then(Json::as_str).filter(|m| !m.is_empty()) {
        out.push_str(&format!("message:   {m}\n"));
    }
    let tasks = task_nodes(object);
    if !tasks.is_empty() {
        let width = tasks.keys().map(String::len).max().unwrap_or(4).max(4);
        out.push_str(&format!("\n{:width$}  PHASE      MESSAGE\n", "TASK"));
        for (name, (phase, message)) in &tasks {
            out.push_str(format!("{name:width$}  {phase:9}  {message}").trim_end());
            out.push('\n');
        }
    }
    out
}

/// Follows a run until it ends (or `timeout`), printing the phase and each task's progress as it
/// changes. Returns the final object.
pub async fn wait(
    cluster: &Cluster,
    name: &str,
    out: &mut dyn Write,
    timeout: Option<Duration>,
) -> Result<Json, ClusterError> {
    let follow = follow(cluster, name, out);
    match timeout {
        Some(t) => tokio::time::timeout(t, follow)
            .await
            .map_err(|_| ClusterError::Other(format!("run `{name}` did not finish within {}s", t.as_secs())))?,
        None => follow.await,
    }
}

async fn follow(cluster: &Cluster, name: &str, out: &mut dyn Write) -> Result<Json, ClusterError> {
    let mut last_phase = String::new();
    let mut last_tasks: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut report = |object: &Json, out: &mut dyn Write| {
        let phase = phase_of(object).to_string();
        let tasks = task_nodes(object);
        for (task, (p, message)) in &tasks {
            if last_tasks.get(task).map(|(lp, _)| lp) != Some(p) {
                let message = if message.is_empty() { String::new() } else { format!(": {message}") };
                let _ = writeln!(out, "  {task}: {p}{message}");
            }
        }
        if phase != last_phase {
            let _ = writeln!(out, "{name}: {phase} ({})", progress_of(object));
        }
        last_tasks = tasks;
        last_phase = phase;
        let _ = out.flush();
    };
    loop {
        let Some(object) = get(cluster, name).await? else {
            return Err(ClusterError::NotFound { op: op(cluster, "get", Some(name)) });
        };
        report(&object, out);
        if is_finished(phase_of(&object)) {
            return Ok(object);
        }
        let version = object.pointer("/metadata/resourceVersion").and_then(Json::as_str).unwrap_or("0").to_string();
        let params = WatchParams::default().fields(&format!("metadata.name={name}")).timeout(60);
        let stream = match api(cluster).watch(&params, &version).await {
            Ok(s) => s,
            Err(e) => {
                // A watch refused (e.g. by a proxy) degrades to polling.
                let _ = ClusterError::from_kube(e, &op(cluster, "watch", Some(name)), &cluster.server);
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(WatchEvent::Added(o)) | Ok(WatchEvent::Modified(o)) => {
                    let object = to_json(&o);
                    report(&object, out);
                    if is_finished(phase_of(&object)) {
                        return Ok(object);
                    }
                }
                Ok(WatchEvent::Deleted(_)) => {
                    return Err(ClusterError::Other(format!("run `{name}` was deleted while being watched")));
                }
                Ok(WatchEvent::Bookmark(_)) => {}
                // 410 Gone or a broken stream: get again and watch from there.
                Ok(WatchEvent::Error(_)) | Err(_) => break,
            }
        }
    }
}
