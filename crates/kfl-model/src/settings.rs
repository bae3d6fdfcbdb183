//! Settings as values: each entry a component or task writes is a [`Setting`] (a row of the field
//! table, its key for blocks with free keys, its evaluated value and where it was written), and
//! [`Settings`] is what a task ends up with once the entries of its component, its own block and
//! the calls of pipelines around it are applied in that order.

use std::collections::BTreeMap;

use crate::fields::{Effect, FieldSpec};
use crate::units::{Cpu, Duration, Memory};
use crate::Origin;

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum EnvValue {
    Literal(String),
    Secret { name: String, key: String },
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
    pub toleration_seconds: Option<i64>,
}

/// The evaluated value of one setting.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SettingValue {
    Cpu(Cpu),
    Memory(Memory),
    Count(u32),
    Duration(Duration),
    Bool(bool),
    Text(String),
    Env(EnvValue),
    Tolerations(Vec<Toleration>),
}

/// One entry as written: `retries = 3`, `resources { cpu = 2 }`, `env { HF_TOKEN = secret(…) }`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Setting {
    pub field: &'static FieldSpec,
    /// The key of an entry of a block with free keys (`HF_TOKEN`, a label key).
    pub key: Option<String>,
    pub value: SettingValue,
    pub origin: Origin,
}

/// Resources and runtime settings of one task: its component's, with the task's and the enclosing
/// pipeline calls' entries applied over them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Settings {
    pub cpu: Option<Cpu>,
    pub cpu_limit: Option<Cpu>,
    pub memory: Option<Memory>,
    pub memory_limit: Option<Memory>,
    pub gpu: Option<u32>,
    pub accelerator: Option<String>,
    pub env: Vec<(String, EnvValue)>,
    pub node_selector: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    pub retries: Option<u32>,
    pub timeout: Option<Duration>,
    /// `None`: caching on (the default).
    pub cache: Option<bool>,
    /// Container resources other than CPU and memory, by their Kubernetes name
    /// (`ephemeral-storage`): what a row of the field table with [`Effect::Resource`] sets.
    pub resources: BTreeMap<&'static str, ResourceAmount>,
}

/// A request and a limit of one container resource, as Kubernetes quantities (`10Gi`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ResourceAmount {
    pub request: Option<String>,
    pub limit: Option<String>,
}

impl Settings {
    /// Applies one entry: a later entry replaces an earlier one of the same field (and key).
    /// Entries that are not settings of a task (`image`, `after`, …) change nothing.
    pub fn apply(&mut self, setting: &Setting) {
        let key = setting.key.clone().unwrap_or_default();
        match (setting.field.effect, &setting.value) {
            (Effect::Resource { resource: "cpu", request, .. }, SettingValue::Cpu(cpu)) => {
                if request {
                    self.cpu = Some(*cpu);
                } else {
                    self.cpu_limit = Some(*cpu);
                }
            }
            (Effect::Resource { resource: "memory", request, .. }, SettingValue::Memory(memory)) => {
                if request {
                    self.memory = Some(*memory);
                } else {
                    self.memory_limit = Some(*memory);
                }
            }
            (Effect::Resource { resource, request, limit }, value) => {
                let quantity = match value {
                    SettingValue::Cpu(cpu) => cpu.to_k8s(),
                    SettingValue::Memory(memory) => memory.to_k8s(),
                    SettingValue::Count(n) => n.to_string(),
                    _ => return,
                };
                let amount = self.resources.entry(resource).or_default();
                if request {
                    amount.request = Some(quantity.clone());
                }
                if limit {
                    amount.limit = Some(quantity);
                }
            }
            (Effect::Gpu, SettingValue::Count(n)) => self.gpu = Some(*n),
            (Effect::Accelerator, SettingValue::Text(text)) => self.accelerator = Some(text.clone()),
            (Effect::Retries, SettingValue::Count(n)) => self.retries = Some(*n),
            (Effect::Timeout, SettingValue::Duration(d)) => self.timeout = Some(*d),
            (Effect::Cache, SettingValue::Bool(b)) => self.cache = Some(*b),
            (Effect::Tolerations, SettingValue::Tolerations(list)) => self.tolerations = list.clone(),
            (Effect::Env, SettingValue::Env(value)) => {
                self.env.retain(|(k, _)| *k != key);
                self.env.push((key, value.clone()));
            }
            (Effect::NodeSelector, SettingValue::Text(text)) => {
                self.node_selector.insert(key, text.clone());
            }
            (Effect::PodLabels, SettingValue::Text(text)) => {
                self.labels.insert(key, text.clone());
            }
            (Effect::PodAnnotations, SettingValue::Text(text)) => {
                self.annotations.insert(key, text.clone());
            }
            _ => {}
        }
    }

    pub fn apply_all<'a>(&mut self, settings: impl IntoIterator<Item = &'a Setting>) {
        for setting in settings {
            self.apply(setting);
        }
    }
}
