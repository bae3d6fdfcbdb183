//! Pass-through tasks: a pipeline output that is a parameter or a constant, or a loop item passed
//! on by a called pipeline, has no producing task, which is all a `DagOutputsSpec` can select; a
//! generated task (one component per parameter type, one shared executor) copies the value into an
//! output parameter so the DAG can select it.

use kfl_dag::ParamType;
use serde_json::{json, Map, Value as Json};

use super::{k8s_like, Arg, Compiler};
use crate::executor::{passthrough_executor, PASSTHROUGH_VALUE};
use crate::spec::{ComponentSpec, TaskSpec};
use crate::types::ChannelType;

impl Compiler<'_> {
    /// A `kfl-passthrough` task in the DAG of `scope` that copies `arg` into its output `value`,
    /// named `name` unless a task has that name.
    pub(super) fn passthrough_task(&mut self, scope: usize, name: &str, ty: ParamType, arg: &Arg) -> String {
        let component = self.passthrough_component(ty);
        let base = k8s_like(name).unwrap_or_else(|| "kfl-passthrough".to_string());
        let key = kfl_dag::unique_name(&base, self.used_keys());
        let mut spec = TaskSpec {
            caching: Some(true),
            component: format!("comp-{component}"),
            name: key.clone(),
            ..TaskSpec::default()
        };
        spec.parameters.insert(PASSTHROUGH_VALUE.to_string(), arg.clone());
        self.scopes[scope].tasks.push((key.clone(), spec));
        key
    }

    /// The `kfl-passthrough` component of values of type `ty`, named after it
    /// (`kfl-passthrough-int`, …, or the next free name if a user component has it). They all run
    /// one executor, `exec-kfl-passthrough`: only their declared types differ.
    pub(super) fn passthrough_component(&mut self, ty: ParamType) -> String {
        if let Some((_, name)) = self.passthrough_components.iter().find(|(t, _)| *t == ty) {
            return name.clone();
        }
        if self.passthrough_executor.is_none() {
            self.passthrough_executor = Some(kfl_dag::unique_name("kfl-passthrough", &mut self.used_components));
        }
        let type_name = match ty {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
            ParamType::List => "list",
            ParamType::Map => "map",
        };
        let name = kfl_dag::unique_name(&format!("kfl-passthrough-{type_name}"), &mut self.used_components);
        self.passthrough_components.push((ty, name.clone()));
        name
    }

    /// The `kfl-passthrough` components and their one executor.
    pub(super) fn passthrough_definitions(
        &self,
        components: &mut std::collections::BTreeMap<String, ComponentSpec>,
        executors: &mut Map<String, Json>,
    ) {
        let Some(executor) = &self.passthrough_executor else { return };
        executors.insert(format!("exec-{executor}"), passthrough_executor());
        for (ty, name) in &self.passthrough_components {
            let definition = Json::Object(ChannelType::Param(*ty).definition());
            let io = json!({ "parameters": { PASSTHROUGH_VALUE: definition } });
            let spec = json!({
                "executorLabel": format!("exec-{executor}"),
                "inputDefinitions": io,
                "outputDefinitions": io,
            });
            components.insert(format!("comp-{name}"), ComponentSpec::Json(spec));
        }
    }
}
