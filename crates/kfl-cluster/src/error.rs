//! Failures a person can act on: every API error is classified with what was being done (verb,
//! resource, namespace), so the message can say which permission is missing or what to install.

use std::fmt;

use kfl_model::Origin;

/// What a request was doing, for error messages (`patch` `workflows.argoproj.io` in `ml`).
#[derive(Clone, Debug)]
pub struct Op {
    pub verb: &'static str,
    /// The resource with its group, as RBAC names it: `workflows.argoproj.io`, `nodes`, `pods/log`.
    pub resource: &'static str,
    /// `None` for cluster-scoped resources.
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Op {
    pub fn new(verb: &'static str, resource: &'static str, namespace: Option<&str>, name: Option<&str>) -> Op {
        Op { verb, resource, namespace: namespace.map(str::to_string), name: name.map(str::to_string) }
    }

    fn scope(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("in namespace `{ns}`"),
            None => "(cluster-wide)".to_string(),
        }
    }
}

/// A place in the `.kfl` source, as data: the declaration's [`Origin`] (file and byte span) and
/// what is declared there (`component `train` (template `train`)`, `task `trained``). The caller
/// that loaded the texts turns it into a line and an excerpt (`kflc` renders it with miette).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceRef {
    pub origin: Origin,
    pub what: String,
}

/// One field the server refused, and where it comes from in the `.kfl` source when known.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The field path as the server wrote it (`.spec.templates[0].container.foo`).
    pub field: String,
    pub message: String,
    /// The component or task the path leads to.
    pub origin: Option<SourceRef>,
}

#[derive(Debug)]
pub enum ClusterError {
    /// No kubeconfig and not inside a cluster.
    NoKubeconfig(String),
    /// The kubeconfig is unreadable, or names a context/cluster/user that is not in it.
    Kubeconfig(String),
    Unreachable {
        server: String,
        detail: String,
    },
    Unauthorized {
        server: String,
        message: String,
    },
    Forbidden {
        op: Op,
        message: String,
    },
    /// 404 on the workflows collection itself.
    CrdMissing {
        namespace: String,
    },
    NotFound {
        op: Op,
    },
    /// 409 on apply: fields owned by other field managers.
    Conflict {
        managers: Vec<String>,
        fields: Vec<String>,
        message: String,
    },
    /// The server refused the object (schema, strict field validation).
    Invalid {
        message: String,
        fields: Vec<FieldError>,
    },
    /// Anything else the API answered.
    Api {
        op: Op,
        code: u16,
        message: String,
    },
    /// The server did not answer within the limit (`--timeout`): it accepted no connection, or
    /// took it and never answered.
    TimedOut {
        server: String,
        /// What was being done, e.g. `submitting run `x``.
        doing: String,
        limit: std::time::Duration,
    },
    Other(String),
}

impl ClusterError {
    /// 1: the cluster refused or the run failed; 2: could not talk to the cluster at all.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClusterError::NoKubeconfig(_) | ClusterError::Kubeconfig(_) | ClusterError::Unreachable { .. } => 2,
            _ => 1,
        }
    }

    /// The places in the `.kfl` source this error points at.
    pub fn source_refs(&self) -> Vec<&SourceRef> {
        match self {
            ClusterError::Invalid { fields, .. } => fields.iter().filter_map(|f| f.origin.as_ref()).collect(),
            _ => Vec::new(),
        }
    }

    /// Classifies a kube error for the request `op` sent to `server`.
    pub fn from_kube(error: kube::Error, op: &Op, server: &str) -> ClusterError {
        match error {
            kube::Error::Api(status) => Self::from_status(*status, op, server),
            kube::Error::HyperError(e) => ClusterError::Unreachable { server: server.to_string(), detail: chain(&e) },
            kube::Error::Service(e) => ClusterError::Unreachable { server: server.to_string(), detail: chain(&*e) },
            other => ClusterError::Other(format!("{} {}: {}", op.verb, op.resource, chain(&other))),
        }
    }

    pub fn from_status(status: kube::core::Status, op: &Op, server: &str) -> ClusterError {
        let message = status.message.clone();
        match status.code {
            401 => ClusterError::Unauthorized { server: server.to_string(), message },
            403 => ClusterError::Forbidden { op: op.clone(), message },
            404 => {
                let names_object = status.reason == "NotFound"
                    && status.details.as_ref().is_some_and(|d| !d.name.is_empty())
                    && op.verb != "patch";
                if op.resource == "workflows.argoproj.io" && !names_object {
                    ClusterError::CrdMissing { namespace: op.namespace.clone().unwrap_or_default() }
                } else {
                    ClusterError::NotFound { op: op.clone() }
                }
            }
            409 if op.verb == "patch" => {
                let causes = status.details.as_ref().map(|d| d.causes.clone()).unwrap_or_default();
                let mut managers: Vec<String> = Vec::new();
                let mut fields = Vec::new();
                for cause in &causes {
                    if let Some(m) = quoted(&cause.message) {
                        if !managers.contains(&m) {
                            managers.push(m);
                        }
                    }
                    if !cause.field.is_empty() {
                        fields.push(cause.field.clone());
                    }
                }
                if managers.is_empty() {
                    managers.extend(quoted(&message));
                }
                if fields.is_empty() {
                    fields = message.lines().filter_map(|l| l.trim().strip_prefix("- ")).map(str::to_string).collect();
                }
                ClusterError::Conflict { managers, fields, message }
            }
            // 422 (invalid), 400 (strict POST/PUT) and 500 (an apply patch with an unknown or
            // mistyped field: "failed to create typed patch object").
            400 | 422 | 500
                if status.code != 500 || message.contains("typed patch") || message.contains("field not declared") =>
            {
                let mut fields: Vec<FieldError> = status
                    .details
                    .as_ref()
                    .map(|d| d.causes.iter())
                    .into_iter()
                    .flatten()
                    .filter(|c| !c.field.is_empty())
                    .map(|c| FieldError { field: c.field.clone(), message: c.message.clone(), origin: None })
                    .collect();
                if fields.is_empty() {
                    fields = field_errors_in(&message);
                }
                ClusterError::Invalid { message, fields }
            }
            code => ClusterError::Api { op: op.clone(), code, message },
        }
    }
}

/// The first `"…"`-quoted text.
fn quoted(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_string())
}

/// `.spec.templates[0].foo: field not declared in schema` pieces of a server message.
pub fn field_errors_in(message: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    for piece in message.split(['\n', ',']).flat_map(|p| p.split("): ").last()) {
        let piece = piece.trim().trim_start_matches(['[', '-', ' ']);
        let Some((field, rest)) = piece.split_once(": ") else { continue };
        let field = field.trim();
        let is_path = (field.starts_with(".spec") || field.starts_with("spec.") || field.starts_with(".metadata"))
            && !field.contains(' ');
        if is_path {
            out.push(FieldError { field: field.to_string(), message: rest.trim().to_string(), origin: None });
        }
    }
    out
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::NoKubeconfig(detail) => write!(
                f,
                "no Kubernetes configuration found ({detail}); set KUBECONFIG or --kubeconfig to a kubeconfig file, \
                 create ~/.kube/config, or run inside a cluster"
            ),
            ClusterError::Kubeconfig(detail) => write!(f, "cannot use the kubeconfig: {detail}"),
            ClusterError::Unreachable { server, detail } => write!(
                f,
                "cannot reach the Kubernetes API server at {server}: {detail}; check that the cluster is running \
                 and that the kubeconfig context (--context) points at it"
            ),
            ClusterError::Unauthorized { server, message } => write!(
                f,
                "the API server at {server} did not accept the credentials (401 Unauthorized: {message}); \
                 refresh them (log in again) or choose another --context"
            ),
            ClusterError::Forbidden { op, message } => write!(
                f,
                "permission denied: kflc needs `{}` on `{}` {} (403 Forbidden: {message}); ask for a Role granting it, \
                 or use another --namespace/--context",
                op.verb,
                op.resource,
                op.scope()
            ),
            ClusterError::CrdMissing { namespace } => write!(
                f,
                "the Workflow CRD is not installed in this cluster (404 on workflows.argoproj.io/v1alpha1 in \
                 namespace `{namespace}`); install Argo Workflows, or use --backend kfp"
            ),
            ClusterError::NotFound { op } => match &op.name {
                Some(name) => write!(f, "there is no {} `{name}` {}", resource_noun(op.resource), op.scope()),
                None => write!(f, "{} not found {}", op.resource, op.scope()),
            },
            ClusterError::Conflict { managers, fields, .. } => {
                let who = if managers.is_empty() {
                    "another field manager".to_string()
                } else {
                    managers.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
                };
                write!(f, "conflict: fields of this run are owned by {who}, not by `kflc`")?;
                if !fields.is_empty() {
                    write!(f, ": {}", fields.join(", "))?;
                }
                write!(f, "; re-run with --force-conflicts to take them over, or leave them to {who}")
            }
            ClusterError::Invalid { message, fields } => {
                if fields.is_empty() {
                    return write!(f, "the API server refused the Workflow: {message}");
                }
                write!(f, "the API server refused the Workflow ({} field error(s)):", fields.len())?;
                for e in fields {
                    write!(f, "\n  {}: {}", e.field, e.message)?;
                    if let Some(at) = &e.origin {
                        write!(f, "\n    --> {}: {}", at.origin.file, at.what)?;
                    }
                }
                Ok(())
            }
            ClusterError::Api { op, code, message } => {
                write!(f, "{} {} {} failed (HTTP {code}): {message}", op.verb, op.resource, op.scope())
            }
            ClusterError::TimedOut { server, doing, limit } => write!(
                f,
                "no answer from {server} within {} ({doing}); check that the server is up and that this is \
                 its address, or allow more time with --timeout SECONDS",
                seconds(*limit)
            ),
            ClusterError::Other(message) => f.write_str(message),
        }
    }
}

/// `30 s`, `1.5 s`.
pub fn seconds(limit: std::time::Duration) -> String {
    format!("{} s", limit.as_secs_f64())
}

fn resource_noun(resource: &str) -> &str {
    match resource {
        "workflows.argoproj.io" => "run (Workflow)",
        "pods" => "pod",
        other => other,
    }
}

impl std::error::Error for ClusterError {}
