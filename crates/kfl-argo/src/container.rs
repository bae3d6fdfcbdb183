//! Container templates: one per component and effective settings (variants numbered), with the
//! launcher's environment or the container's command, artifact inputs and outputs, resources,
//! Kubernetes settings, retries, deadlines and memoization.

use kfl_dag::{Body, CommandPart, Component, EnvValue, IoType, Settings};
use kfl_launcher::{InputBinding, OutputBinding};
use petgraph::graph::NodeIndex;
use serde_json::{json, Map, Value as Json};

use crate::emit::Emitter;
use crate::text::{expr_str, input_tag, literal_text, no_braces};
use crate::ArgoError;

/// Where input and output files are inside a container.
pub(crate) const INPUTS_DIR: &str = "/tmp/kfl/inputs";
pub(crate) const OUTPUTS_DIR: &str = "/tmp/kfl/outputs";
pub(crate) const PARAMS_DIR: &str = "/tmp/kfl/params";

impl<'a> Emitter<'a> {
    /// The name of the template that runs `node`, creating it (or a variant) the first time.
    pub(crate) fn component_template(&mut self, node: NodeIndex) -> Result<String, ArgoError> {
        let task = &self.dag.graph[node];
        let memoized = task.settings.cache != Some(false) && !self.fan_in_producers.contains(&node);
        let graph = &self.dag.graph;
        let same = |(first, first_memoized, _): &&(NodeIndex, bool, String)| {
            *first_memoized == memoized
                && graph[*first].component == task.component
                && graph[*first].settings == task.settings
        };
        if let Some((_, _, name)) = self.variants.iter().find(same) {
            return Ok(name.clone());
        }
        let component = &self.dag.components[task.component];
        let name = self.reserve_template(&component.k8s_name);
        let template = self.container_template(&name, component, &task.settings, memoized)?;
        self.variants.push((node, memoized, name.clone()));
        self.variant_templates.push(template);
        Ok(name)
    }

    pub(crate) fn container_template(
        &self,
        name: &str,
        component: &Component,
        settings: &Settings,
        memoized: bool,
    ) -> Result<Json, ArgoError> {
        let prefix = self.options.artifact_uri_prefix.trim_end_matches('/');
        let mut in_params = Vec::new();
        let mut in_artifacts = Vec::new();
        let mut bindings = Vec::new();
        let mut memo_inputs = Vec::new();
        for input in &component.inputs {
            match &input.ty {
                IoType::Parameter(_) => {
                    let mut p = Map::new();
                    p.insert("name".into(), Json::String(input.name.clone()));
                    if let Some(default) = &input.default {
                        let what = format!("the default of input `{}` of `{}`", input.name, component.name);
                        p.insert("default".into(), Json::String(literal_text(default, &what)?));
                    }
                    in_params.push(Json::Object(p));
                    bindings.push((input.name.clone(), InputBinding::Text(input_tag(&input.name))));
                    memo_inputs.push(input.name.clone());
                }
                IoType::Artifact { .. } => {
                    let uri = format!("kfl-uri-{}", input.name);
                    in_params.push(json!({ "name": uri }));
                    in_artifacts.push(json!({ "name": input.name, "path": format!("{INPUTS_DIR}/{}", input.name) }));
                    bindings.push((
                        input.name.clone(),
                        InputBinding::Artifact {
                            path: format!("{INPUTS_DIR}/{}/data", input.name),
                            uri: input_tag(&uri),
                        },
                    ));
                    memo_inputs.push(uri);
                }
                IoType::ArtifactList { .. } => {
                    let uri = format!("kfl-uri-{}", input.name);
                    let key = format!("kfl-key-{}", input.name);
                    in_params.push(json!({ "name": key }));
                    in_params.push(json!({ "name": uri }));
                    in_artifacts.push(json!({
                        "name": input.name,
                        "path": format!("{INPUTS_DIR}/{}", input.name),
                        "s3": { "key": input_tag(&key) },
                    }));
                    bindings.push((
                        input.name.clone(),
                        InputBinding::Artifact { path: format!("{INPUTS_DIR}/{}", input.name), uri: input_tag(&uri) },
                    ));
                    memo_inputs.push(uri);
                }
            }
        }
        let mut out_params = Vec::new();
        let mut out_artifacts = Vec::new();
        let mut out_bindings = Vec::new();
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        if !component.outputs.is_empty() {
            volumes.push(json!({ "name": "kfl-params", "emptyDir": {} }));
            mounts.push(json!({ "name": "kfl-params", "mountPath": PARAMS_DIR }));
        }
        for (i, output) in component.outputs.iter().enumerate() {
            match output.ty {
                IoType::Parameter(_) => {
                    let path = format!("{PARAMS_DIR}/{}", output.name);
                    out_params.push(json!({ "name": output.name, "valueFrom": { "path": path } }));
                    out_bindings.push((output.name.clone(), OutputBinding::Parameter { path }));
                }
                IoType::Artifact { .. } | IoType::ArtifactList { .. } => {
                    let key = format!("kfl-key-{}", output.name);
                    in_params.push(json!({ "name": key }));
                    let dir = format!("{OUTPUTS_DIR}/{}", output.name);
                    let volume = format!("kfl-out-{i}");
                    volumes.push(json!({ "name": volume, "emptyDir": {} }));
                    mounts.push(json!({ "name": volume, "mountPath": dir }));
                    out_artifacts.push(json!({
                        "name": output.name,
                        "path": dir,
                        "archive": { "none": {} },
                        "s3": { "key": input_tag(&key) },
                    }));
                    let uri = format!("{prefix}/{}/data", input_tag(&key));
                    // Not a file anyone writes: the default is the value, and a task restored
                    // from the cache reports the URI of the run that made the artifact.
                    out_params.push(json!({
                        "name": format!("kfl-uri-{}", output.name),
                        "valueFrom": { "path": format!("{PARAMS_DIR}/.kfl-uri-{}", output.name), "default": uri },
                    }));
                    out_bindings
                        .push((output.name.clone(), OutputBinding::Artifact { path: format!("{dir}/data"), uri }));
                }
            }
        }
        let mut container = Map::new();
        container.insert("image".into(), Json::String(component.image.clone()));
        let mut env: Vec<Json> = Vec::new();
        match &component.body {
            Body::Script { .. } => {
                let command = kfl_launcher::script_command(component).unwrap_or_default();
                container.insert("command".into(), json!(command));
                for (k, v) in kfl_launcher::env_for(component, &bindings, &out_bindings) {
                    env.push(json!({ "name": k, "value": v }));
                }
            }
            Body::Container { command, args } => {
                let part = |p: &CommandPart| -> Result<String, ArgoError> {
                    Ok(match p {
                        CommandPart::Literal(text) => {
                            no_braces(text, &format!("a command of `{}`", component.name))?;
                            text.clone()
                        }
                        CommandPart::InputValue(n) => input_tag(n),
                        CommandPart::InputPath(n) => match component.inputs.iter().find(|i| i.name == *n) {
                            Some(i) if matches!(i.ty, IoType::ArtifactList { .. }) => format!("{INPUTS_DIR}/{n}"),
                            _ => format!("{INPUTS_DIR}/{n}/data"),
                        },
                        CommandPart::InputUri(n) => input_tag(&format!("kfl-uri-{n}")),
                        CommandPart::OutputPath(n) => format!("{OUTPUTS_DIR}/{n}/data"),
                        CommandPart::OutputUri(n) => format!("{prefix}/{}/data", input_tag(&format!("kfl-key-{n}"))),
                        CommandPart::OutputParameterPath(n) => format!("{PARAMS_DIR}/{n}"),
                    })
                };
                if !command.is_empty() {
                    container.insert("command".into(), json!(command.iter().map(part).collect::<Result<Vec<_>, _>>()?));
                }
                if !args.is_empty() {
                    container.insert("args".into(), json!(args.iter().map(part).collect::<Result<Vec<_>, _>>()?));
                }
            }
        }
        for (k, v) in &settings.env {
            match v {
                EnvValue::Literal(text) => {
                    no_braces(text, &format!("the environment variable `{k}`"))?;
                    env.push(json!({ "name": k, "value": text }));
                }
                EnvValue::Secret { name, key } => {
                    env.push(json!({ "name": k, "valueFrom": { "secretKeyRef": { "name": name, "key": key } } }))
                }
            }
        }
        if !env.is_empty() {
            container.insert("env".into(), Json::Array(env));
        }
        if let Some(resources) = resources(settings) {
            container.insert("resources".into(), resources);
        }
        if !mounts.is_empty() {
            container.insert("volumeMounts".into(), Json::Array(mounts));
        }
        let mut template = Map::new();
        template.insert("name".into(), Json::String(name.to_string()));
        let mut inputs = Map::new();
        if !in_params.is_empty() {
            inputs.insert("parameters".into(), Json::Array(in_params));
        }
        if !in_artifacts.is_empty() {
            inputs.insert("artifacts".into(), Json::Array(in_artifacts));
        }
        if !inputs.is_empty() {
            template.insert("inputs".into(), Json::Object(inputs));
        }
        let mut outputs = Map::new();
        if !out_params.is_empty() {
            outputs.insert("parameters".into(), Json::Array(out_params));
        }
        if !out_artifacts.is_empty() {
            outputs.insert("artifacts".into(), Json::Array(out_artifacts));
        }
        if !outputs.is_empty() {
            template.insert("outputs".into(), Json::Object(outputs));
        }
        let mut labels = Map::new();
        labels.insert("kfl.dev/component".into(), Json::String(component.k8s_name.clone()));
        for (k, v) in &settings.labels {
            labels.insert(k.clone(), Json::String(v.clone()));
        }
        let mut meta = Map::new();
        meta.insert("labels".into(), Json::Object(labels));
        if !settings.annotations.is_empty() {
            meta.insert("annotations".into(), json!(settings.annotations));
        }
        template.insert("metadata".into(), Json::Object(meta));
        let mut selector = settings.node_selector.clone();
        if let Some(accelerator) = &settings.accelerator {
            selector.insert(self.options.accelerator_label.clone(), accelerator.clone());
        }
        if !selector.is_empty() {
            template.insert("nodeSelector".into(), json!(selector));
        }
        if !settings.tolerations.is_empty() {
            let tolerations: Vec<Json> = settings
                .tolerations
                .iter()
                .map(|t| {
                    let mut m = Map::new();
                    for (k, v) in
                        [("key", &t.key), ("operator", &t.operator), ("value", &t.value), ("effect", &t.effect)]
                    {
                        if let Some(v) = v {
                            m.insert(k.into(), Json::String(v.clone()));
                        }
                    }
                    if let Some(s) = t.toleration_seconds {
                        m.insert("tolerationSeconds".into(), json!(s));
                    }
                    Json::Object(m)
                })
                .collect();
            template.insert("tolerations".into(), Json::Array(tolerations));
        }
        if let Some(retries) = settings.retries.filter(|r| *r > 0) {
            template.insert("retryStrategy".into(), json!({ "limit": retries.to_string(), "retryPolicy": "Always" }));
        }
        if let Some(timeout) = settings.timeout {
            template.insert("activeDeadlineSeconds".into(), json!(timeout.seconds()));
        }
        if memoized {
            let values: Vec<String> =
                memo_inputs.iter().map(|n| format!("inputs.parameters[{}]", expr_str(n))).collect();
            let key = format!(
                "kfl-{:016x}-{{{{=sprig.sha256sum(toJson([{}]))}}}}",
                component_hash(component),
                values.join(", ")
            );
            template.insert(
                "memoize".into(),
                json!({
                    "key": key,
                    "maxAge": self.options.cache_max_age,
                    "cache": { "configMap": { "name": self.options.cache_config_map } },
                }),
            );
        }
        if !volumes.is_empty() {
            template.insert("volumes".into(), Json::Array(volumes));
        }
        template.insert("container".into(), Json::Object(container));
        Ok(Json::Object(template))
    }
}

pub(crate) fn resources(settings: &Settings) -> Option<Json> {
    let mut requests = Map::new();
    let mut limits = Map::new();
    if let Some(cpu) = settings.cpu {
        requests.insert("cpu".into(), Json::String(cpu.to_k8s()));
    }
    if let Some(memory) = settings.memory {
        requests.insert("memory".into(), Json::String(memory.to_k8s()));
    }
    if let Some(cpu) = settings.cpu_limit {
        limits.insert("cpu".into(), Json::String(cpu.to_k8s()));
    }
    if let Some(memory) = settings.memory_limit {
        limits.insert("memory".into(), Json::String(memory.to_k8s()));
    }
    if let Some(gpu) = settings.gpu.filter(|g| *g > 0) {
        limits.insert("nvidia.com/gpu".into(), Json::String(gpu.to_string()));
    }
    // Every other container resource of the field table, by its Kubernetes name.
    for (resource, amount) in &settings.resources {
        if let Some(request) = &amount.request {
            requests.insert((*resource).into(), Json::String(request.clone()));
        }
        if let Some(limit) = &amount.limit {
            limits.insert((*resource).into(), Json::String(limit.clone()));
        }
    }
    let mut out = Map::new();
    if !requests.is_empty() {
        out.insert("requests".into(), Json::Object(requests));
    }
    if !limits.is_empty() {
        out.insert("limits".into(), Json::Object(limits));
    }
    (!out.is_empty()).then_some(Json::Object(out))
}

/// A stable hash of what a component does (FNV-1a, 64 bits): part of its cache key.
pub(crate) fn component_hash(component: &Component) -> u64 {
    let text = format!(
        "{}\n{}\n{:?}\n{:?}\n{:?}\n{:?}",
        component.name, component.image, component.packages, component.body, component.inputs, component.outputs
    );
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
