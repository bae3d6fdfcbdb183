//! A pipeline task as a DAG task: its template and its arguments (parameters, artifacts, URIs,
//! artifact keys, collected lists), and where its own artifacts go.

use kfl_dag::{GroupKind, IoType, ParamType, Source};
use petgraph::graph::NodeIndex;
use serde_json::{json, Map, Value as Json};

use crate::emit::Emitter;
use crate::scopes::{Member, Scope};
use crate::text::{expr_str, literal_text};
use crate::values::{Local, Val};
use crate::ArgoError;

impl<'a> Emitter<'a> {
    /// The DAG task of a pipeline task (without `depends` and `when`).
    pub(crate) fn dag_task(&mut self, scope: Scope, node: NodeIndex) -> Result<Json, ArgoError> {
        let dag = self.dag;
        let task = &dag.graph[node];
        let component = &dag.components[task.component];
        let mut params = Vec::new();
        let mut artifacts = Vec::new();
        for input in &component.inputs {
            let source = task.args.iter().find(|(n, _)| *n == input.name).map(|(_, s)| s);
            let Some(source) = source else {
                if input.ty.is_artifact() {
                    return Err(ArgoError::Unsupported(format!(
                        "task `{}` leaves its artifact input `{}` unset",
                        task.name, input.name
                    )));
                }
                continue;
            };
            let what = format!("the argument `{}` of task `{}`", input.name, task.name);
            match (&input.ty, source) {
                (IoType::Parameter(_), source) => {
                    let value = self.param_argument(scope, source, &what)?;
                    params.push(json!({ "name": input.name, "value": value }));
                }
                (IoType::Artifact { .. }, Source::Output { task: producer, output }) => {
                    let from = self.resolve(&Val::Artifact { task: *producer, output: output.clone() }, scope)?;
                    artifacts.push(json!({ "name": input.name, "from": from.tag() }));
                    let uri = self.resolve(&Val::Uri { task: *producer, output: output.clone() }, scope)?;
                    params.push(json!({ "name": format!("kfl-uri-{}", input.name), "value": uri.tag() }));
                }
                (IoType::ArtifactList { .. }, Source::Collected { task: producer, output, group }) => {
                    let key = Val::FanInKey { task: *producer, output: output.clone(), group: *group };
                    let key = self.resolve(&key, scope)?;
                    params.push(json!({ "name": format!("kfl-key-{}", input.name), "value": key.tag() }));
                    let uris = Val::CollectedUris { task: *producer, output: output.clone(), group: *group };
                    let uris = self.resolve(&uris, scope)?;
                    params.push(json!({ "name": format!("kfl-uri-{}", input.name), "value": uris.tag() }));
                }
                (IoType::Artifact { .. }, other) => {
                    return Err(ArgoError::Unsupported(format!(
                        "{what} is one artifact, but it is given {}",
                        self.describe_source(other)
                    )));
                }
                (IoType::ArtifactList { .. }, other) => {
                    return Err(ArgoError::Unsupported(format!(
                        "{what} is a list of artifacts, but it is given {}",
                        self.describe_source(other)
                    )));
                }
            }
        }
        // Where this task's artifacts go.
        for output in &component.outputs {
            if output.ty.is_artifact() {
                let key = match scope {
                    Scope::Loop(_) => format!(
                        "{{{{inputs.parameters.kfl-scope}}}}/{}/{}/{{{{inputs.parameters.kfl-index}}}}",
                        task.k8s_name, output.name
                    ),
                    Scope::Root | Scope::Exit => format!("{}/{}/{}", self.scope_key(scope), task.k8s_name, output.name),
                };
                params.push(json!({ "name": format!("kfl-key-{}", output.name), "value": key }));
            }
        }
        let template = self.component_template(node)?;
        let mut arguments = Map::new();
        if !params.is_empty() {
            arguments.insert("parameters".into(), Json::Array(params));
        }
        if !artifacts.is_empty() {
            arguments.insert("artifacts".into(), Json::Array(artifacts));
        }
        let mut out = Map::new();
        out.insert("name".into(), Json::String(self.member_name(scope, Member::Task(node))));
        out.insert("template".into(), Json::String(template));
        if !arguments.is_empty() {
            out.insert("arguments".into(), Json::Object(arguments));
        }
        Ok(Json::Object(out))
    }

    /// Where a value comes from, in the words of the pipeline's source.
    pub(crate) fn describe_source(&self, source: &Source) -> String {
        match source {
            Source::Value(v) => format!("the literal `{}`", v.to_plain_string()),
            Source::Param(p) => format!("the pipeline parameter `{p}`"),
            Source::Output { task, output } => format!("the output `{}.{output}`", self.dag.graph[*task].name),
            Source::LoopItem { group, field } => {
                let var = match &self.dag.groups[*group].kind {
                    GroupKind::Loop { var, .. } => var.as_str(),
                    _ => "item",
                };
                match field {
                    Some(field) => format!("the loop variable `{var}.{field}`"),
                    None => format!("the loop variable `{var}`"),
                }
            }
            Source::Collected { task, output, .. } => {
                format!("the output `{}.{output}` collected over a loop", self.dag.graph[*task].name)
            }
        }
    }

    /// A parameter argument's value.
    pub(crate) fn param_argument(&mut self, scope: Scope, source: &Source, what: &str) -> Result<String, ArgoError> {
        Ok(match source {
            Source::Value(v) => literal_text(v, what)?,
            Source::Param(p) => Local::WorkflowParam(p.clone()).tag(),
            Source::Output { task, output } => {
                self.resolve(&Val::Param { task: *task, output: output.clone() }, scope)?.tag()
            }
            Source::LoopItem { group, field } => {
                let item = self.resolve(&Val::LoopVar { group: *group }, scope)?;
                match field {
                    None => item.tag(),
                    Some(field) => format!("{{{{=fromJSON({})[{}]}}}}", item.expr()?, expr_str(field)),
                }
            }
            Source::Collected { task, output, group } => {
                let ty = self.dag.components[self.dag.graph[*task].component]
                    .outputs
                    .iter()
                    .find(|o| o.name == *output)
                    .map(|o| o.ty.clone());
                if ty.as_ref().is_some_and(IoType::is_artifact) {
                    return Err(self.nested_artifacts(*task, output));
                }
                let list =
                    self.resolve(&Val::Collected { task: *task, output: output.clone(), group: *group }, scope)?;
                let convert = match ty {
                    Some(IoType::Parameter(ParamType::Int)) => Some("asInt(#)"),
                    Some(IoType::Parameter(ParamType::Float)) => Some("asFloat(#)"),
                    Some(IoType::Parameter(ParamType::Bool)) => Some("# == 'true'"),
                    _ => None,
                };
                match convert {
                    Some(convert) => {
                        // One `map` per loop left: a list of lists converts its innermost items.
                        let mut convert = convert.to_string();
                        for _ in 1..self.collected_depth(*task, *group) {
                            convert = format!("map(#, {convert})");
                        }
                        format!("{{{{=toJson(map(fromJSON({}), {convert}))}}}}", list.expr()?)
                    }
                    None => list.tag(),
                }
            }
        })
    }
}
