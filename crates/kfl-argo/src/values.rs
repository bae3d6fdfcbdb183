//! Values across scopes: a value wherever it lives ([`Val`]), as it is named in one scope
//! ([`Local`]), passed into loops as inputs ([`Import`]) and out of them as aggregated outputs for
//! fan-in ([`LoopInfo`]), including a loop inside a loop.

use kfl_dag::GroupKind;
use petgraph::graph::NodeIndex;

use crate::emit::Emitter;
use crate::scopes::{Member, Scope};
use crate::text::expr_str;
use crate::ArgoError;

/// A value as it is named in one scope.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Local {
    WorkflowParam(String),
    TaskParam {
        task: String,
        output: String,
    },
    TaskArtifact {
        task: String,
        output: String,
    },
    InputParam(String),
    InputArtifact(String),
    /// Text with tags in it (artifact keys); only used as an argument value.
    Text(String),
}

impl Local {
    pub(crate) fn tag(&self) -> String {
        match self {
            Local::WorkflowParam(p) => format!("{{{{workflow.parameters.{p}}}}}"),
            Local::TaskParam { task, output } => format!("{{{{tasks.{task}.outputs.parameters.{output}}}}}"),
            Local::TaskArtifact { task, output } => format!("{{{{tasks.{task}.outputs.artifacts.{output}}}}}"),
            Local::InputParam(n) => format!("{{{{inputs.parameters.{n}}}}}"),
            Local::InputArtifact(n) => format!("{{{{inputs.artifacts.{n}}}}}"),
            Local::Text(t) => t.clone(),
        }
    }

    /// The value as an `expr` expression (a string).
    pub(crate) fn expr(&self) -> Result<String, ArgoError> {
        Ok(match self {
            Local::WorkflowParam(p) => format!("workflow.parameters[{}]", expr_str(p)),
            Local::TaskParam { task, output } => {
                format!("tasks[{}].outputs.parameters[{}]", expr_str(task), expr_str(output))
            }
            Local::InputParam(n) => format!("inputs.parameters[{}]", expr_str(n)),
            Local::TaskArtifact { task, output } => {
                return Err(ArgoError::Unsupported(format!(
                    "the artifact `{output}` of task `{task}` in a condition or a field of a loop item"
                )))
            }
            Local::InputArtifact(name) => {
                return Err(ArgoError::Unsupported(format!(
                    "the artifact `{name}` in a condition or a field of a loop item"
                )))
            }
            Local::Text(_) => {
                return Err(ArgoError::Unsupported("an artifact key in a condition or a field of a loop item".into()))
            }
        })
    }
}

/// A value, wherever it lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Val {
    /// A parameter output of a task.
    Param {
        task: NodeIndex,
        output: String,
    },
    Artifact {
        task: NodeIndex,
        output: String,
    },
    /// The URI of an artifact output of a task.
    Uri {
        task: NodeIndex,
        output: String,
    },
    /// The list of a parameter output over a loop's iterations.
    Collected {
        task: NodeIndex,
        output: String,
        group: usize,
    },
    /// The list of an artifact output's URIs over a loop's iterations.
    CollectedUris {
        task: NodeIndex,
        output: String,
        group: usize,
    },
    /// The key prefix under which a loop's iterations store an artifact output.
    FanInKey {
        task: NodeIndex,
        output: String,
        group: usize,
    },
    /// The current item of a loop.
    LoopVar {
        group: usize,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Import {
    pub(crate) name: String,
    pub(crate) artifact: bool,
    /// The value in the loop's parent scope.
    pub(crate) outer: String,
}

#[derive(Default, Debug)]
pub(crate) struct LoopInfo {
    pub(crate) imports: Vec<Import>,
    /// Outputs of the body read after the loop: name and value inside the body.
    pub(crate) exports: Vec<(String, String)>,
}

impl<'a> Emitter<'a> {
    pub(crate) fn home(&self, val: &Val) -> Result<Scope, ArgoError> {
        Ok(match val {
            Val::Param { task, .. } | Val::Artifact { task, .. } | Val::Uri { task, .. } => self.scope_of(*task),
            Val::Collected { group, .. } | Val::CollectedUris { group, .. } | Val::FanInKey { group, .. } => self
                .parent_scope(Scope::Loop(*group))
                .ok_or_else(|| ArgoError::Unsupported("a fan-in from a group that is not a loop".into()))?,
            Val::LoopVar { group } => Scope::Loop(*group),
        })
    }

    pub(crate) fn import_name(&self, val: &Val) -> String {
        let task = |t: &NodeIndex| self.dag.graph[*t].k8s_name.clone();
        match val {
            Val::Param { task: t, output } | Val::Artifact { task: t, output } => format!("{}-{output}", task(t)),
            Val::Uri { task: t, output } => format!("{}-kfl-uri-{output}", task(t)),
            Val::Collected { task: t, output, group } => {
                format!("{}-{}-{output}", self.dag.groups[*group].k8s_name, task(t))
            }
            Val::CollectedUris { task: t, output, group } => {
                format!("{}-{}-kfl-uri-{output}", self.dag.groups[*group].k8s_name, task(t))
            }
            Val::FanInKey { task: t, output, group } => {
                format!("{}-{}-kfl-key-{output}", self.dag.groups[*group].k8s_name, task(t))
            }
            Val::LoopVar { group } => match &self.dag.groups[*group].kind {
                GroupKind::Loop { var, .. } => format!("{}-{var}", self.dag.groups[*group].k8s_name),
                _ => "kfl-item".to_string(),
            },
        }
    }

    /// The loop directly inside loop `group` (no loop between them) that `task` runs in.
    pub(crate) fn loop_inside(&self, group: usize, task: NodeIndex) -> Option<usize> {
        let chain = self.scope_chain(self.scope_of(task));
        let at = chain.iter().position(|s| *s == Scope::Loop(group))?;
        match chain.get(at + 1) {
            Some(Scope::Loop(inner)) => Some(*inner),
            _ => None,
        }
    }

    /// How many loops a collected output is a list over: 1 for a flat list, 2 for a list of lists, …
    pub(crate) fn collected_depth(&self, task: NodeIndex, group: usize) -> usize {
        let chain = self.scope_chain(self.scope_of(task));
        chain.iter().position(|s| *s == Scope::Loop(group)).map_or(1, |at| chain.len() - at)
    }

    pub(crate) fn nested_artifacts(&self, task: NodeIndex, output: &str) -> ArgoError {
        ArgoError::Unsupported(format!(
            "collecting the artifact `{}.{output}` out of a loop nested in another loop (a list of lists of \
             artifacts); collect it inside the outer loop, or pass its URIs as a parameter",
            self.dag.graph[task].name
        ))
    }

    /// The value in its own scope.
    pub(crate) fn local_at_home(&mut self, val: &Val, home: Scope) -> Result<Local, ArgoError> {
        Ok(match val {
            Val::Param { task, output } => {
                Local::TaskParam { task: self.member_name(home, Member::Task(*task)), output: output.clone() }
            }
            Val::Artifact { task, output } => {
                Local::TaskArtifact { task: self.member_name(home, Member::Task(*task)), output: output.clone() }
            }
            Val::Uri { task, output } => Local::TaskParam {
                task: self.member_name(home, Member::Task(*task)),
                output: format!("kfl-uri-{output}"),
            },
            Val::Collected { task, output, group } | Val::CollectedUris { task, output, group } => {
                let body = Scope::Loop(*group);
                let (inner, export) = match val {
                    Val::Collected { .. } if self.scope_of(*task) == body => {
                        (Val::Param { task: *task, output: output.clone() }, output.clone())
                    }
                    // The task runs in a loop inside this one: each iteration of this loop exports
                    // the list the inner loop collected, and Argo's aggregation parses those lists.
                    Val::Collected { .. } => {
                        let inner =
                            self.loop_inside(*group, *task).ok_or_else(|| self.nested_artifacts(*task, output))?;
                        (Val::Collected { task: *task, output: output.clone(), group: inner }, output.clone())
                    }
                    _ if self.scope_of(*task) == body => {
                        (Val::Uri { task: *task, output: output.clone() }, format!("kfl-uri-{output}"))
                    }
                    _ => return Err(self.nested_artifacts(*task, output)),
                };
                let name = format!("{}-{export}", self.dag.graph[*task].k8s_name);
                let inner = self.resolve(&inner, body)?.tag();
                let info = self.loops.entry(*group).or_default();
                if !info.exports.iter().any(|(n, _)| *n == name) {
                    info.exports.push((name.clone(), inner));
                }
                if matches!(val, Val::CollectedUris { .. }) {
                    self.fan_in_producers.insert(*task);
                }
                Local::TaskParam { task: self.member_name(home, Member::Loop(*group)), output: name }
            }
            Val::FanInKey { task, output, group } => {
                if self.scope_of(*task) != Scope::Loop(*group) {
                    return Err(self.nested_artifacts(*task, output));
                }
                self.fan_in_producers.insert(*task);
                Local::Text(format!(
                    "{}/{}/{}/{output}",
                    self.scope_key(home),
                    self.dag.groups[*group].k8s_name,
                    self.dag.graph[*task].k8s_name
                ))
            }
            Val::LoopVar { group } => match &self.dag.groups[*group].kind {
                GroupKind::Loop { var, .. } => Local::InputParam(var.clone()),
                _ => return Err(ArgoError::Unsupported("a loop variable outside a loop".into())),
            },
        })
    }

    /// The value as it is named in `at`, passing it into loops on the way.
    pub(crate) fn resolve(&mut self, val: &Val, at: Scope) -> Result<Local, ArgoError> {
        let home = self.home(val)?;
        if home == at {
            return self.local_at_home(val, home);
        }
        let Scope::Loop(g) = at else {
            return Err(ArgoError::Unsupported(match (at, home) {
                (Scope::Exit, _) => format!(
                    "{} read in the exit handler (an exit handler can read pipeline parameters and literals only)",
                    self.describe_val(val)
                ),
                (_, Scope::Loop(loop_group)) => format!(
                    "{} read outside the loop `for {}` it runs in, as one value",
                    self.describe_val(val),
                    match &self.dag.groups[loop_group].kind {
                        GroupKind::Loop { var, .. } => var.as_str(),
                        _ => "…",
                    }
                ),
                _ => format!("{} read outside the exit handler it runs in", self.describe_val(val)),
            }));
        };
        let parent =
            self.parent_scope(at).ok_or_else(|| ArgoError::Unsupported("a value from outside the pipeline".into()))?;
        let outer = self.resolve(val, parent)?;
        let name = self.import_name(val);
        let artifact = matches!(val, Val::Artifact { .. });
        let info = self.loops.entry(g).or_default();
        if !info.imports.iter().any(|i| i.name == name) {
            info.imports.push(Import { name: name.clone(), artifact, outer: outer.tag() });
        }
        Ok(if artifact { Local::InputArtifact(name) } else { Local::InputParam(name) })
    }

    /// A value in the words of the pipeline's source, for messages.
    pub(crate) fn describe_val(&self, val: &Val) -> String {
        let name = |task: &NodeIndex| self.dag.graph[*task].name.clone();
        match val {
            Val::Param { task, output } | Val::Artifact { task, output } | Val::Uri { task, output } => {
                format!("the output `{}.{output}`", name(task))
            }
            Val::Collected { task, output, .. }
            | Val::CollectedUris { task, output, .. }
            | Val::FanInKey { task, output, .. } => {
                format!("the output `{}.{output}` collected over a loop", name(task))
            }
            Val::LoopVar { group } => match &self.dag.groups[*group].kind {
                GroupKind::Loop { var, .. } => format!("the loop variable `{var}`"),
                _ => "a loop variable".to_string(),
            },
        }
    }
}
