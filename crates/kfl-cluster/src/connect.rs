//! Choosing the cluster the way kubectl does: `--kubeconfig`, else `KUBECONFIG` (a list of files,
//! merged), else `~/.kube/config`, else the in-cluster service account; `--context` picks the
//! context, `--namespace` overrides the context's namespace (else `default`).

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::ClusterError;

/// Where the cluster is: the same flags as kubectl.
#[derive(Clone, Debug, Default)]
pub struct ClusterArgs {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
}

/// A client, the namespace to work in, and the server's URL (for messages).
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
    pub server: String,
}

impl Cluster {
    /// A cluster over any client, e.g. a recorded-response mock in tests.
    pub fn from_client(client: Client, namespace: &str) -> Cluster {
        Cluster { client, namespace: namespace.to_string(), server: "(test client)".to_string() }
    }
}

/// Reads one kubeconfig file; its credentials are noted first (even when it is not valid YAML), so
/// that no message shows them ([`crate::redact`]).
fn read_file(path: &std::path::Path) -> Result<Kubeconfig, kube::config::KubeconfigError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        crate::redact::remember_kubeconfig(&text);
    }
    Kubeconfig::read_from(path)
}

/// The kubeconfig that kubectl would read, or `None` when there is none at all.
fn read_kubeconfig(args: &ClusterArgs) -> Result<Option<Kubeconfig>, ClusterError> {
    let bad = |path: &str, e: kube::config::KubeconfigError| ClusterError::Kubeconfig(format!("{path}: {e}"));
    if let Some(path) = &args.kubeconfig {
        if !path.exists() {
            return Err(ClusterError::NoKubeconfig(format!("--kubeconfig {} does not exist", path.display())));
        }
        return read_file(path).map(Some).map_err(|e| bad(&path.display().to_string(), e));
    }
    if let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let existing: Vec<PathBuf> = std::env::split_paths(&value).filter(|p| p.exists()).collect();
        if existing.is_empty() {
            return Err(ClusterError::NoKubeconfig(format!(
                "KUBECONFIG={} names no existing file",
                value.to_string_lossy()
            )));
        }
        let mut merged: Option<Kubeconfig> = None;
        for path in existing {
            let next = read_file(&path).map_err(|e| bad(&path.display().to_string(), e))?;
            merged = Some(match merged {
                None => next,
                Some(m) => m.merge(next).map_err(|e| bad("KUBECONFIG", e))?,
            });
        }
        return Ok(merged);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).map(|h| h.join(".kube").join("config"));
    match home {
        Some(path) if path.exists() => read_file(&path).map(Some).map_err(|e| bad(&path.display().to_string(), e)),
        _ => Ok(None),
    }
}

/// Connects (lazily: no request is sent yet).
pub async fn connect(args: &ClusterArgs) -> Result<Cluster, ClusterError> {
    let config = match read_kubeconfig(args)? {
        Some(mut kubeconfig) => {
            use std::io::IsTerminal;
            crate::redact::non_interactive_unless_tty(&mut kubeconfig, std::io::stdin().is_terminal());
            if let Some(context) = &args.context {
                if !kubeconfig.contexts.iter().any(|c| &c.name == context) {
                    let known: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
                    return Err(ClusterError::Kubeconfig(format!(
                        "there is no context `{context}`; the kubeconfig has: {}",
                        known.join(", ")
                    )));
                }
            }
            let options = KubeConfigOptions { context: args.context.clone(), ..Default::default() };
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| ClusterError::Kubeconfig(e.to_string()))?
        }
        None => Config::incluster().map_err(|_| {
            ClusterError::NoKubeconfig("no --kubeconfig, no KUBECONFIG, no ~/.kube/config, not in a cluster".into())
        })?,
    };
    let server = config.cluster_url.to_string();
    let namespace = args.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(|e| ClusterError::Kubeconfig(e.to_string()))?;
    Ok(Cluster { client, namespace, server: server.trim_end_matches('/').to_string() })
}
