//! Before submitting: can any node ever run each task? A task whose CPU, memory, GPU count or
//! accelerator/node-selector labels no node offers is an error naming the task and what is
//! missing. When nodes cannot be listed (no permission, or an API server without core APIs) the
//! check is skipped with a warning. Taints and current usage are not considered: the check only
//! finds tasks that could never be scheduled.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

use crate::connect::Cluster;
use crate::error::{ClusterError, Op};

pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

pub enum Outcome {
    Fits,
    /// The check could not be made: a warning.
    Unknown(String),
    /// One message per task that no node could run.
    DoesNotFit(Vec<String>),
}

/// What one node offers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeOffer {
    pub name: String,
    pub millicores: u64,
    pub memory_bytes: u64,
    pub gpus: u64,
    pub labels: BTreeMap<String, String>,
}

/// What one task asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Need {
    pub task: String,
    pub millicores: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub gpus: Option<u64>,
    /// Labels the node must carry (the accelerator label and the node selector).
    pub labels: BTreeMap<String, String>,
}

pub async fn check(cluster: &Cluster, dag: &kfl_dag::Dag) -> Outcome {
    let needs = needs(dag, &kfl_argo::ArgoOptions::default().accelerator_label);
    let api: Api<Node> = Api::all(cluster.client.clone());
    let nodes = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => {
            let e = ClusterError::from_kube(e, &Op::new("list", "nodes", None, None), &cluster.server);
            return Outcome::Unknown(format!("cannot list nodes, so the capacity check was skipped: {e}"));
        }
    };
    let offers: Vec<NodeOffer> = nodes.iter().map(offer).collect();
    if offers.is_empty() {
        return Outcome::Unknown("the cluster lists no nodes (autoscaling?), so the capacity check was skipped".into());
    }
    let problems: Vec<String> = needs.iter().filter_map(|n| unschedulable(n, &offers)).collect();
    if problems.is_empty() {
        Outcome::Fits
    } else {
        Outcome::DoesNotFit(problems)
    }
}

pub fn needs(dag: &kfl_dag::Dag, accelerator_label: &str) -> Vec<Need> {
    let mut out = Vec::new();
    for index in dag.topological_order() {
        let task = dag.task(index);
        let s = &task.settings;
        let mut labels = s.node_selector.clone();
        if let Some(accelerator) = &s.accelerator {
            labels.insert(accelerator_label.to_string(), accelerator.clone());
        }
        out.push(Need {
            task: task.name.clone(),
            millicores: s.cpu.map(|c| c.millicores()),
            memory_bytes: s.memory.map(|m| m.bytes()),
            gpus: s.gpu.filter(|g| *g > 0).map(u64::from),
            labels,
        });
    }
    out
}

pub fn offer(node: &Node) -> NodeOffer {
    let alloc =
        node.status.as_ref().and_then(|s| s.allocatable.clone().or_else(|| s.capacity.clone())).unwrap_or_default();
    let q = |key: &str| alloc.get(key).map(|q| q.0.clone()).unwrap_or_default();
    NodeOffer {
        name: node.metadata.name.clone().unwrap_or_default(),
        millicores: parse_cpu(&q("cpu")).unwrap_or(0),
        memory_bytes: parse_memory(&q("memory")).unwrap_or(0),
        gpus: parse_memory(&q(GPU_RESOURCE)).unwrap_or(0),
        labels: node.metadata.labels.clone().unwrap_or_default(),
    }
}

/// Why no node can run `need`, or `None` if one can.
pub fn unschedulable(need: &Need, offers: &[NodeOffer]) -> Option<String> {
    let fits_cpu = |o: &NodeOffer| need.millicores.is_none_or(|m| o.millicores >= m);
    let fits_mem = |o: &NodeOffer| need.memory_bytes.is_none_or(|m| o.memory_bytes >= m);
    let fits_gpu = |o: &NodeOffer| need.gpus.is_none_or(|g| o.gpus >= g);
    let fits_labels = |o: &NodeOffer| need.labels.iter().all(|(k, v)| o.labels.get(k) == Some(v));
    if offers.iter().any(|o| fits_cpu(o) && fits_mem(o) && fits_gpu(o) && fits_labels(o)) {
        return None;
    }
    let mut missing = Vec::new();
    if !offers.iter().any(fits_cpu) {
        let most = offers.iter().map(|o| o.millicores).max().unwrap_or(0);
        missing.push(format!(
            "CPU {} (the largest node has {})",
            cpu_text(need.millicores.unwrap_or(0)),
            cpu_text(most)
        ));
    }
    if !offers.iter().any(fits_mem) {
        let most = offers.iter().map(|o| o.memory_bytes).max().unwrap_or(0);
        missing.push(format!(
            "memory {} (the largest node has {})",
            memory_text(need.memory_bytes.unwrap_or(0)),
            memory_text(most)
        ));
    }
    if !offers.iter().any(fits_gpu) {
        let most = offers.iter().map(|o| o.gpus).max().unwrap_or(0);
        missing.push(format!("{} GPU(s) (the most on one node is {most})", need.gpus.unwrap_or(0)));
    }
    for (k, v) in &need.labels {
        if !offers.iter().any(|o| o.labels.get(k) == Some(v)) {
            missing.push(format!("a node labelled {k}={v} (none is)"));
        }
    }
    if missing.is_empty() {
        missing.push("all of its requests together on one node (each exists, but never on the same node)".into());
    }
    Some(format!("task `{}` cannot run on any node: it needs {}", need.task, missing.join(", ")))
}

fn cpu_text(m: u64) -> String {
    if m.is_multiple_of(1000) {
        format!("{}", m / 1000)
    } else {
        format!("{m}m")
    }
}

fn memory_text(b: u64) -> String {
    const GI: u64 = 1 << 30;
    const MI: u64 = 1 << 20;
    if b >= GI {
        format!("{:.1}Gi", b as f64 / GI as f64)
    } else {
        format!("{}Mi", b / MI)
    }
}

/// A Kubernetes CPU quantity in millicores: `4`, `3500m`, `0.5`.
pub fn parse_cpu(q: &str) -> Option<u64> {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse().ok();
    }
    q.parse::<f64>().ok().map(|c| (c * 1000.0).round() as u64)
}

/// A Kubernetes quantity as a whole number: `16Gi`, `16384Ki`, `1e9`, `500M`, `4`.
pub fn parse_memory(q: &str) -> Option<u64> {
    let q = q.trim();
    const UNITS: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (unit, factor) in UNITS {
        if let Some(n) = q.strip_suffix(unit) {
            return n.parse::<f64>().ok().map(|n| (n * factor).round() as u64);
        }
    }
    if let Some(n) = q.strip_suffix('m') {
        return n.parse::<f64>().ok().map(|n| (n / 1000.0).ceil() as u64);
    }
    q.parse::<f64>().ok().map(|n| n.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu("3500m"), Some(3500));
        assert_eq!(parse_cpu("4"), Some(4000));
        assert_eq!(parse_cpu("0.5"), Some(500));
        assert_eq!(parse_memory("16Gi"), Some(16 << 30));
        assert_eq!(parse_memory("16384Ki"), Some(16 << 20));
        assert_eq!(parse_memory("1e9"), Some(1_000_000_000));
        assert_eq!(parse_memory("2"), Some(2));
    }

    #[test]
    fn a_task_no_node_fits_names_what_is_missing() {
        let node =
            NodeOffer { name: "n1".into(), millicores: 4000, memory_bytes: 16 << 30, gpus: 0, ..Default::default() };
        let need = Need { task: "train".into(), millicores: Some(2000), gpus: Some(1), ..Default::default() };
        let why = unschedulable(&need, std::slice::from_ref(&node)).expect("does not fit");
        assert!(why.contains("task `train`") && why.contains("1 GPU(s)"), "{why}");
        let small = Need { task: "prep".into(), millicores: Some(500), ..Default::default() };
        assert_eq!(unschedulable(&small, &[node]), None);
    }
}
