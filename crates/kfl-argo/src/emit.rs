//! One emit: the [`Emitter`] that holds what the passes share, the order of the passes (index,
//! names, component templates, DAG tasks, loops innermost first), and the Workflow's `spec` and
//! `metadata` around the templates.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;

use kfl_dag::{Dag, GroupKind, IoType, Source};
use petgraph::graph::NodeIndex;
use serde_json::{json, Map, Value as Json};

use crate::scopes::{Member, Scope};
use crate::text::{literal_text, object};
use crate::values::LoopInfo;
use crate::{ArgoError, ArgoOptions};

/// What the passes of one emit share; every module adds its methods.
pub(crate) struct Emitter<'a> {
    pub(crate) dag: &'a Dag,
    pub(crate) options: &'a ArgoOptions,
    /// The loop groups whose body exports artifacts: their producers are not memoized.
    pub(crate) fan_in_producers: BTreeSet<NodeIndex>,
    pub(crate) loops: BTreeMap<usize, LoopInfo>,
    /// DAG task names, per scope.
    pub(crate) member_names: HashMap<(Scope, Member), String>,
    pub(crate) template_names: BTreeSet<String>,
    /// Component templates: the first task to run each (its component and settings) and whether
    /// it is memoized → template name.
    pub(crate) variants: Vec<(NodeIndex, bool, String)>,
    pub(crate) variant_templates: Vec<Json>,
    /// Scopes whose DAG must not fail fast (nested exit handlers).
    pub(crate) no_fail_fast: BTreeSet<Scope>,
    /// Extra ordering edges (nested exit handlers), with the trigger of the target.
    pub(crate) extra_edges: Vec<(NodeIndex, NodeIndex)>,
    pub(crate) loop_template_names: HashMap<usize, (String, String)>,
    /// Per task (by node index): what stands for it in each scope of its scope chain.
    pub(crate) reps: Vec<Vec<(Scope, Member)>>,
    /// Each scope's members, in the order the tasks run.
    pub(crate) scope_members: HashMap<Scope, Vec<Member>>,
    /// Per loop group: the tasks inside it (at any depth).
    pub(crate) loop_tasks: HashMap<usize, Vec<NodeIndex>>,
    /// Per task (by node index): the sources of the edges into it (graph and extra edges).
    pub(crate) edges_in: Vec<Vec<NodeIndex>>,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(dag: &'a Dag, options: &'a ArgoOptions) -> Self {
        Emitter {
            dag,
            options,
            fan_in_producers: BTreeSet::new(),
            loops: BTreeMap::new(),
            member_names: HashMap::default(),
            template_names: BTreeSet::new(),
            variants: Vec::new(),
            variant_templates: Vec::new(),
            no_fail_fast: BTreeSet::new(),
            extra_edges: Vec::new(),
            loop_template_names: HashMap::default(),
            reps: Vec::new(),
            scope_members: HashMap::default(),
            loop_tasks: HashMap::default(),
            edges_in: Vec::new(),
        }
    }

    pub(crate) fn emit(mut self) -> Result<Json, ArgoError> {
        let dag = self.dag;
        for task in dag.graph.node_weights() {
            for (_, source) in &task.args {
                if let Source::Collected { task: producer, output, .. } = source {
                    let component = &dag.components[dag.graph[*producer].component];
                    if component.outputs.iter().any(|o| o.name == *output && o.ty.is_artifact()) {
                        self.fan_in_producers.insert(*producer);
                    }
                }
            }
        }
        self.add_nested_exit_edges();
        self.index();
        self.assign_member_names();
        let root_name = self.reserve_template(if dag.k8s_name.is_empty() { "pipeline" } else { &dag.k8s_name });
        let has_exit = dag.groups.iter().any(|g| matches!(g.kind, GroupKind::ExitHandler) && g.parent.is_none());
        let exit_name = if has_exit {
            let base = dag
                .groups
                .iter()
                .find(|g| matches!(g.kind, GroupKind::ExitHandler) && g.parent.is_none())
                .map(|g| g.k8s_name.clone())
                .unwrap_or_else(|| "exit-handler".into());
            Some(self.reserve_template(&base))
        } else {
            None
        };
        for (g, group) in dag.groups.iter().enumerate() {
            if matches!(group.kind, GroupKind::Loop { .. }) {
                let wrapper = self.reserve_template(&group.k8s_name);
                let body = self.reserve_template(&format!("{}-body", group.k8s_name));
                self.loop_template_names.insert(g, (wrapper, body));
            }
        }
        // Component templates in source order, so that the first task of a component names its
        // template and later variants are numbered.
        for node in dag.graph.node_indices() {
            self.component_template(node)?;
        }
        // Scopes from the innermost loop outwards: a loop's imports and exports are known before
        // the scope around it emits the task that calls it.
        let mut loop_scopes: Vec<usize> =
            (0..dag.groups.len()).filter(|g| matches!(dag.groups[*g].kind, GroupKind::Loop { .. })).collect();
        loop_scopes.sort_by_key(|g| std::cmp::Reverse(self.scope_chain(Scope::Loop(*g)).len()));
        // Pass 1: every argument, so that imports and exports are complete.
        let mut tasks: HashMap<Scope, Vec<Json>> = HashMap::default();
        let mut scopes: Vec<Scope> = vec![Scope::Root];
        if has_exit {
            scopes.push(Scope::Exit);
        }
        scopes.extend(loop_scopes.iter().map(|g| Scope::Loop(*g)));
        let mut pending: Vec<(Scope, Member)> = Vec::new();
        for scope in &scopes {
            for member in self.members(*scope) {
                pending.push((*scope, member));
            }
        }
        // Task members first, then every condition: they create the loops' imports and exports.
        let mut member_json: HashMap<(Scope, Member), Json> = HashMap::default();
        for (scope, member) in &pending {
            if let Member::Task(t) = member {
                let task = self.dag_task(*scope, *t)?;
                member_json.insert((*scope, *member), task);
            }
        }
        let mut order: HashMap<(Scope, Member), (Option<String>, Option<String>)> = HashMap::default();
        for (scope, member) in &pending {
            let depends = self.depends(*scope, *member);
            let when = self.when(*scope, *member)?;
            order.insert((*scope, *member), (depends, when));
        }
        // Loops, innermost first: a loop task's arguments (its imports) resolve in its parent
        // scope, which may add imports to the loop around it.
        let mut loop_members: Vec<(Scope, usize)> = pending
            .iter()
            .filter_map(|(s, m)| match m {
                Member::Loop(g) => Some((*s, *g)),
                Member::Task(_) => None,
            })
            .collect();
        loop_members.sort_by_key(|(_, g)| std::cmp::Reverse(self.scope_chain(Scope::Loop(*g)).len()));
        let mut loop_templates = Vec::new();
        for (scope, g) in loop_members {
            let (task, templates) = self.loop_task(scope, g)?;
            member_json.insert((scope, Member::Loop(g)), task);
            loop_templates.extend(templates);
        }
        for (key, (depends, when)) in order {
            if let Some(Json::Object(task)) = member_json.get_mut(&key) {
                if let Some(depends) = depends {
                    task.insert("depends".into(), Json::String(depends));
                }
                if let Some(when) = when {
                    task.insert("when".into(), Json::String(when));
                }
            }
        }
        for (scope, member) in &pending {
            if let Some(task) = member_json.remove(&(*scope, *member)) {
                tasks.entry(*scope).or_default().push(task);
            }
        }
        let mut templates = Vec::new();
        templates.push(self.dag_template(&root_name, Scope::Root, tasks.remove(&Scope::Root).unwrap_or_default()));
        if let Some(exit) = &exit_name {
            templates.push(self.dag_template(exit, Scope::Exit, tasks.remove(&Scope::Exit).unwrap_or_default()));
        }
        for g in &loop_scopes {
            let (wrapper, body) = self.loop_template_names.get(g).cloned().unwrap_or_default();
            let scope = Scope::Loop(*g);
            let body_tasks = tasks.remove(&scope).unwrap_or_default();
            let _ = wrapper;
            let mut template = self.dag_template(&body, scope, body_tasks);
            self.loop_body_interface(*g, &mut template);
            loop_templates.push(template);
        }
        templates.extend(loop_templates);
        templates.append(&mut self.variant_templates);
        let mut spec = Map::new();
        spec.insert("entrypoint".into(), Json::String(root_name));
        let mut params = Vec::new();
        for p in &dag.params {
            let IoType::Parameter(_) = p.ty else {
                return Err(ArgoError::Unsupported(format!("the artifact parameter `{}` of the pipeline", p.name)));
            };
            let mut param = Map::new();
            param.insert("name".into(), Json::String(p.name.clone()));
            if let Some(value) = &p.default {
                param.insert("value".into(), Json::String(literal_text(value, &format!("parameter `{}`", p.name))?));
            }
            if let Some(doc) = &p.doc {
                param.insert("description".into(), Json::String(doc.clone()));
            }
            params.push(Json::Object(param));
        }
        if !params.is_empty() {
            spec.insert("arguments".into(), object([("parameters", Json::Array(params))]));
        }
        if let Some(exit) = exit_name {
            spec.insert("onExit".into(), Json::String(exit));
        }
        if let Some(account) = &self.options.service_account {
            spec.insert("serviceAccountName".into(), Json::String(account.clone()));
        }
        if let Some(repository) = &self.options.artifact_repository {
            let mut r = Map::new();
            if let Some(c) = &repository.config_map {
                r.insert("configMap".into(), Json::String(c.clone()));
            }
            if let Some(k) = &repository.key {
                r.insert("key".into(), Json::String(k.clone()));
            }
            spec.insert("artifactRepositoryRef".into(), Json::Object(r));
        }
        spec.insert("podMetadata".into(), json!({ "labels": { "kfl.dev/pipeline": dag.k8s_name } }));
        spec.insert("templates".into(), Json::Array(templates));
        Ok(object([
            ("apiVersion", Json::String("argoproj.io/v1alpha1".into())),
            ("kind", Json::String("Workflow".into())),
            ("metadata", self.metadata()),
            ("spec", Json::Object(spec)),
        ]))
    }

    pub(crate) fn metadata(&self) -> Json {
        let dag = self.dag;
        let mut metadata = Map::new();
        match &self.options.name {
            Some(name) => metadata.insert("name".into(), Json::String(name.clone())),
            None => metadata.insert("generateName".into(), Json::String(format!("{}-", dag.k8s_name))),
        };
        if let Some(namespace) = &self.options.namespace {
            metadata.insert("namespace".into(), Json::String(namespace.clone()));
        }
        metadata.insert(
            "labels".into(),
            json!({ "kfl.dev/pipeline": dag.k8s_name, "app.kubernetes.io/managed-by": "kflc" }),
        );
        let mut annotations = Map::new();
        annotations.insert("kfl.dev/pipeline".into(), Json::String(dag.name.clone()));
        annotations.insert("kfl.dev/source".into(), Json::String(dag.source.clone()));
        if let Some(description) = &dag.description {
            annotations.insert("workflows.argoproj.io/description".into(), Json::String(description.clone()));
        }
        if let Some(title) = &dag.display_name {
            annotations.insert("workflows.argoproj.io/title".into(), Json::String(title.clone()));
        }
        let mut outputs = Map::new();
        for output in &dag.outputs {
            let source = match &output.source {
                Source::Output { task, output } | Source::Collected { task, output, .. } => {
                    json!({ "task": dag.graph[*task].k8s_name, "output": output })
                }
                Source::Param(p) => json!({ "parameter": p }),
                Source::Value(v) => json!({ "value": v.to_json() }),
                Source::LoopItem { .. } => Json::Null,
            };
            outputs.insert(output.name.clone(), source);
        }
        if !outputs.is_empty() {
            annotations.insert("kfl.dev/outputs".into(), Json::String(Json::Object(outputs).to_string()));
        }
        metadata.insert("annotations".into(), Json::Object(annotations));
        Json::Object(metadata)
    }

    pub(crate) fn dag_template(&self, name: &str, scope: Scope, tasks: Vec<Json>) -> Json {
        let mut dag = Map::new();
        dag.insert("tasks".into(), Json::Array(tasks));
        if self.no_fail_fast.contains(&scope) {
            dag.insert("failFast".into(), Json::Bool(false));
        }
        object([("name", Json::String(name.to_string())), ("dag", Json::Object(dag))])
    }
}
