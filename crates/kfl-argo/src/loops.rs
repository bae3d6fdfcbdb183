//! Loops: the task that runs a loop in its parent scope, the wrapper template that expands over
//! the items (`withItems` / `withParam`, `parallelism`), and the body template's inputs and
//! exported outputs.

use kfl_dag::{GroupKind, LoopItems};
use serde_json::{json, Map, Value as Json};

use crate::emit::Emitter;
use crate::scopes::{Member, Scope};
use crate::text::{literal_text, object};
use crate::values::{Local, Val};
use crate::ArgoError;

impl<'a> Emitter<'a> {
    /// Inputs and outputs of a loop's body template.
    pub(crate) fn loop_body_interface(&self, g: usize, template: &mut Json) {
        let info = self.loops.get(&g);
        let var = match &self.dag.groups[g].kind {
            GroupKind::Loop { var, .. } => var.clone(),
            _ => "item".to_string(),
        };
        let mut params = vec![json!({ "name": var }), json!({ "name": "kfl-index" }), json!({ "name": "kfl-scope" })];
        let mut artifacts = Vec::new();
        for import in info.map(|i| i.imports.as_slice()).unwrap_or_default() {
            if import.artifact {
                artifacts.push(json!({ "name": import.name }));
            } else {
                params.push(json!({ "name": import.name }));
            }
        }
        let mut inputs = Map::new();
        inputs.insert("parameters".into(), Json::Array(params));
        if !artifacts.is_empty() {
            inputs.insert("artifacts".into(), Json::Array(artifacts));
        }
        if let Json::Object(t) = template {
            t.insert("inputs".into(), Json::Object(inputs));
            let exports: Vec<Json> = info
                .map(|i| i.exports.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|(name, value)| json!({ "name": name, "valueFrom": { "parameter": value } }))
                .collect();
            if !exports.is_empty() {
                t.insert("outputs".into(), object([("parameters", Json::Array(exports))]));
            }
        }
    }

    /// The task in `scope` that runs loop `g`, and the loop's wrapper template.
    pub(crate) fn loop_task(&mut self, scope: Scope, g: usize) -> Result<(Json, Vec<Json>), ArgoError> {
        let (wrapper_name, body_name) = self.loop_template_names.get(&g).cloned().unwrap_or_default();
        let GroupKind::Loop { items, parallelism, .. } = self.dag.groups[g].kind.clone() else {
            return Err(ArgoError::Unsupported("a loop task for a group that is not a loop".into()));
        };
        let loop_k8s = self.dag.groups[g].k8s_name.clone();
        let var = match &self.dag.groups[g].kind {
            GroupKind::Loop { var, .. } => var.clone(),
            _ => String::new(),
        };
        // Arguments of the wrapper task, in the parent scope.
        let mut params = vec![json!({ "name": "kfl-scope", "value": format!("{}/{loop_k8s}", self.scope_key(scope)) })];
        let mut artifacts = Vec::new();
        let items_source = match &items {
            LoopItems::Values(values) => {
                let mut list = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    literal_text(v, "a loop item")?;
                    list.push(Json::String(json!([i, v.to_json()]).to_string()));
                }
                Ok(list)
            }
            LoopItems::Param(p) => Err(Local::WorkflowParam(p.clone())),
            LoopItems::Output { task, output } => {
                Err(self.resolve(&Val::Param { task: *task, output: output.clone() }, scope)?)
            }
        };
        if let Err(list) = &items_source {
            params.push(json!({ "name": "kfl-items", "value": list.tag() }));
        }
        let imports = self.loops.get(&g).map(|i| i.imports.clone()).unwrap_or_default();
        for import in &imports {
            if import.artifact {
                artifacts.push(json!({ "name": import.name, "from": import.outer }));
            } else {
                params.push(json!({ "name": import.name, "value": import.outer }));
            }
        }
        let mut arguments = Map::new();
        arguments.insert("parameters".into(), Json::Array(params));
        if !artifacts.is_empty() {
            arguments.insert("artifacts".into(), Json::Array(artifacts));
        }
        let task = object([
            ("name", Json::String(self.member_name(scope, Member::Loop(g)))),
            ("template", Json::String(wrapper_name.clone())),
            ("arguments", Json::Object(arguments)),
        ]);
        // The wrapper: one task that expands over the items into the body.
        let mut inner_params = vec![
            json!({ "name": var, "value": "{{=fromJSON(item)[1]}}" }),
            json!({ "name": "kfl-index", "value": "{{=fromJSON(item)[0]}}" }),
            json!({ "name": "kfl-scope", "value": "{{inputs.parameters.kfl-scope}}" }),
        ];
        let mut inner_artifacts = Vec::new();
        let mut wrapper_params = vec![json!({ "name": "kfl-scope" })];
        let mut wrapper_artifacts = Vec::new();
        if items_source.is_err() {
            wrapper_params.push(json!({ "name": "kfl-items" }));
        }
        for import in &imports {
            if import.artifact {
                wrapper_artifacts.push(json!({ "name": import.name }));
                inner_artifacts
                    .push(json!({ "name": import.name, "from": format!("{{{{inputs.artifacts.{}}}}}", import.name) }));
            } else {
                wrapper_params.push(json!({ "name": import.name }));
                inner_params.push(
                    json!({ "name": import.name, "value": format!("{{{{inputs.parameters.{}}}}}", import.name) }),
                );
            }
        }
        let mut inner_arguments = Map::new();
        inner_arguments.insert("parameters".into(), Json::Array(inner_params));
        if !inner_artifacts.is_empty() {
            inner_arguments.insert("artifacts".into(), Json::Array(inner_artifacts));
        }
        let mut inner = Map::new();
        inner.insert("name".into(), Json::String("iterations".into()));
        inner.insert("template".into(), Json::String(body_name));
        inner.insert("arguments".into(), Json::Object(inner_arguments));
        match items_source {
            Ok(list) => {
                inner.insert("withItems".into(), Json::Array(list));
            }
            Err(_) => {
                inner.insert(
                    "withParam".into(),
                    Json::String(
                        "{{=toJson(map(fromJSON(inputs.parameters['kfl-items']), toJson([#index, #])))}}".into(),
                    ),
                );
            }
        }
        let mut inputs = Map::new();
        inputs.insert("parameters".into(), Json::Array(wrapper_params));
        if !wrapper_artifacts.is_empty() {
            inputs.insert("artifacts".into(), Json::Array(wrapper_artifacts));
        }
        let mut wrapper = Map::new();
        wrapper.insert("name".into(), Json::String(wrapper_name));
        wrapper.insert("inputs".into(), Json::Object(inputs));
        let exports: Vec<Json> = self
            .loops
            .get(&g)
            .map(|i| i.exports.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|(name, _)| {
                json!({ "name": name, "valueFrom": { "parameter": format!("{{{{tasks.iterations.outputs.parameters.{name}}}}}") } })
            })
            .collect();
        if !exports.is_empty() {
            wrapper.insert("outputs".into(), object([("parameters", Json::Array(exports))]));
        }
        if let Some(n) = parallelism {
            wrapper.insert("parallelism".into(), json!(n));
        }
        wrapper.insert("dag".into(), object([("tasks", Json::Array(vec![Json::Object(inner)]))]));
        Ok((task, vec![Json::Object(wrapper)]))
    }
}
