//! `kflc logs RUN [--task NAME]`: the logs of a run's pods through the core API. Argo labels a
//! run's pods `workflows.argoproj.io/workflow=<run>` and annotates each with its node name
//! (`<run>.<task>`, `<run>.for-loop-1(0:…).<task>`); the task is its last segment.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};

use crate::connect::Cluster;
use crate::error::{ClusterError, Op};
use crate::{fail, Console, LogsArgs};

pub const WORKFLOW_LABEL: &str = "workflows.argoproj.io/workflow";
pub const NODE_NAME_ANNOTATION: &str = "workflows.argoproj.io/node-name";

/// The task of an Argo node name: its last `.` segment without a loop's `(…)` suffix.
pub fn task_of_node(node_name: &str) -> &str {
    let last = node_name.rsplit('.').next().unwrap_or(node_name);
    last.split('(').next().unwrap_or(last)
}

pub async fn logs_on(cluster: &Cluster, args: &LogsArgs, console: &mut Console<'_>) -> u8 {
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let selector = format!("{WORKFLOW_LABEL}={}", args.run);
    let pods = match api.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => list.items,
        Err(e) => {
            let op = Op::new("list", "pods", Some(&cluster.namespace), None);
            return fail(console, &ClusterError::from_kube(e, &op, &cluster.server));
        }
    };
    let mut found: Vec<(String, String)> = pods
        .iter()
        .filter_map(|p| {
            let name = p.metadata.name.clone()?;
            let node = p.metadata.annotations.as_ref().and_then(|a| a.get(NODE_NAME_ANNOTATION)).cloned();
            Some((task_of_node(node.as_deref().unwrap_or(&name)).to_string(), name))
        })
        .collect();
    found.sort();
    if found.is_empty() {
        let _ = writeln!(
            console.err,
            "error: run `{}` has no pods in namespace `{}` (not started yet, or already cleaned up)",
            args.run, cluster.namespace
        );
        return 1;
    }
    let wanted = args.task.as_ref().map(|t| {
        let k8s = kfl_model::k8s::k8s_name(t).map(|n| n.as_str().to_string()).unwrap_or_else(|_| t.clone());
        (t.clone(), k8s)
    });
    let selected: Vec<&(String, String)> =
        found.iter().filter(|(task, _)| wanted.as_ref().is_none_or(|(t, k)| task == t || task == k)).collect();
    if selected.is_empty() {
        let mut tasks: Vec<&str> = found.iter().map(|(t, _)| t.as_str()).collect();
        tasks.dedup();
        let _ = writeln!(
            console.err,
            "error: run `{}` has no pod for task `{}`; its tasks with pods: {}",
            args.run,
            args.task.as_deref().unwrap_or_default(),
            tasks.join(", ")
        );
        return 1;
    }
    let several = selected.len() > 1;
    for (task, pod) in selected {
        let params = LogParams { container: Some("main".to_string()), ..Default::default() };
        match api.logs(pod, &params).await {
            Ok(text) => {
                if several {
                    let _ = writeln!(console.out, "==> {task} ({pod}) <==");
                }
                let _ = write!(console.out, "{text}");
                if !text.is_empty() && !text.ends_with('\n') {
                    let _ = writeln!(console.out);
                }
            }
            Err(e) => {
                let op = Op::new("get", "pods/log", Some(&cluster.namespace), Some(pod));
                return fail(console, &ClusterError::from_kube(e, &op, &cluster.server));
            }
        }
    }
    0
}
