//! The lowered pipeline: plain data that every backend reads.

pub use kfl_model::item::{Body, CommandPart, CompareOp, ScriptLang};
pub use kfl_model::settings::{EnvValue, Settings, Toleration};
pub use kfl_model::ty::Ty;
pub use kfl_model::value::Value;
use petgraph::graph::{DiGraph, NodeIndex};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ParamType {
    String,
    Int,
    Float,
    Bool,
    List,
    /// Maps and records.
    Map,
}

impl ParamType {
    /// How a constant is passed: its parameter type.
    pub fn of(value: &Value) -> ParamType {
        match value {
            Value::String(_) => ParamType::String,
            Value::Int(_) => ParamType::Int,
            Value::Float(_) => ParamType::Float,
            Value::Bool(_) => ParamType::Bool,
            Value::List(_) => ParamType::List,
            Value::Map(_) => ParamType::Map,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum IoType {
    Parameter(ParamType),
    /// An artifact: its KFL type name and the built-in type it is (or extends), e.g. `Checkpoint` / `Model`.
    Artifact {
        name: String,
        builtin: String,
    },
    /// A list of artifacts (pipeline outputs and inputs fed by a loop's fan-in).
    ArtifactList {
        name: String,
        builtin: String,
    },
}

impl IoType {
    pub fn is_artifact(&self) -> bool {
        !matches!(self, IoType::Parameter(_))
    }
}

#[derive(Clone, PartialEq, Debug)]
pub struct Input {
    pub name: String,
    pub ty: IoType,
    pub default: Option<Value>,
    pub doc: Option<String>,
}

#[derive(Clone, PartialEq, Debug)]
pub struct Output {
    pub name: String,
    pub ty: IoType,
    pub doc: Option<String>,
}

/// What a component does, without the settings a task may override: tasks of one component share it.
#[derive(Clone, PartialEq, Debug)]
pub struct Component {
    pub name: String,
    pub k8s_name: String,
    pub doc: Option<String>,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
    pub image: String,
    pub packages: Vec<String>,
    pub body: Body,
    /// The file that declares it.
    pub source: String,
}

/// Where a task input's value comes from.
#[derive(Clone, PartialEq, Debug)]
pub enum Source {
    Value(Value),
    /// A pipeline parameter.
    Param(String),
    /// An output of another task (an edge of the graph).
    Output {
        task: NodeIndex,
        output: String,
    },
    /// The current item of an enclosing loop, or one field of it.
    LoopItem {
        group: usize,
        field: Option<String>,
    },
    /// An output of a task inside a loop, collected over all iterations into a list (fan-in).
    Collected {
        task: NodeIndex,
        output: String,
        group: usize,
    },
}

/// What must have happened to a task's dependencies before it runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Trigger {
    /// Every dependency succeeded (the default).
    AllSucceeded,
    /// Every dependency finished, whatever its outcome (exit handlers).
    AllDone,
}

#[derive(Clone, PartialEq, Debug)]
pub struct Task {
    pub name: String,
    pub k8s_name: String,
    pub display_name: Option<String>,
    /// Index into [`Dag::components`].
    pub component: usize,
    pub args: Vec<(String, Source)>,
    /// The innermost group (condition, loop, exit handler) the task is in.
    pub group: Option<usize>,
    pub settings: Settings,
    pub trigger: Trigger,
}

/// An edge from a producer to a consumer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Edge {
    /// The consumer reads `output` of the producer (into `input`, or in a condition or loop list).
    Data { output: String, input: Option<String> },
    /// `after`, or the order of an exit handler.
    Order,
}

#[derive(Clone, PartialEq, Debug)]
pub enum Operand {
    Value(Value),
    Param(String),
    Output { task: NodeIndex, output: String },
    LoopItem { group: usize, field: Option<String> },
}

#[derive(Clone, PartialEq, Debug)]
pub enum Condition {
    /// A Bool operand on its own.
    Is(Operand),
    Compare(CompareOp, Operand, Operand),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// The task outputs the condition reads, each once, in order of appearance.
    pub fn outputs(&self) -> Vec<(NodeIndex, String)> {
        fn walk(condition: &Condition, out: &mut Vec<(NodeIndex, String)>) {
            let mut operand = |operand: &Operand| {
                if let Operand::Output { task, output } = operand {
                    if !out.iter().any(|(t, o)| t == task && o == output) {
                        out.push((*task, output.clone()));
                    }
                }
            };
            match condition {
                Condition::Is(a) => operand(a),
                Condition::Compare(_, a, b) => {
                    operand(a);
                    operand(b);
                }
                Condition::And(a, b) | Condition::Or(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Condition::Not(a) => walk(a, out),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

#[derive(Clone, PartialEq, Debug)]
pub enum LoopItems {
    Values(Vec<Value>),
    Param(String),
    Output { task: NodeIndex, output: String },
}

#[derive(Clone, PartialEq, Debug)]
pub enum GroupKind {
    /// One branch of an `if`/`else if`/`else`: its whole condition (earlier branches negated).
    Condition {
        condition: Condition,
        branch: usize,
        of_if: usize,
    },
    Loop {
        var: String,
        items: LoopItems,
        parallelism: Option<u32>,
    },
    /// The tasks of `finally`.
    ExitHandler,
    /// The tasks of a pipeline called as a component (inlined).
    SubPipeline {
        task: String,
        pipeline: String,
    },
}

impl GroupKind {
    /// The task outputs a group reads to decide whether, or how often, its tasks run: its
    /// condition's outputs, or the output its loop iterates over.
    pub fn reads(&self) -> Vec<(NodeIndex, String)> {
        match self {
            GroupKind::Condition { condition, .. } => condition.outputs(),
            GroupKind::Loop { items: LoopItems::Output { task, output }, .. } => vec![(*task, output.clone())],
            _ => Vec::new(),
        }
    }
}

#[derive(Clone, PartialEq, Debug)]
pub struct Group {
    pub kind: GroupKind,
    pub parent: Option<usize>,
    /// A stable name for templates and sub-DAGs: `condition-1`, `for-loop-2`, `exit-handler-1`.
    pub k8s_name: String,
}

#[derive(Clone, PartialEq, Debug)]
pub struct PipelineParam {
    pub name: String,
    pub ty: IoType,
    /// The type as declared, with element types (`List<Int>`), for parsing values given to it.
    pub declared: Ty,
    pub default: Option<Value>,
    pub doc: Option<String>,
}

#[derive(Clone, PartialEq, Debug)]
pub struct PipelineOutput {
    pub name: String,
    pub ty: IoType,
    pub source: Source,
}

/// A checked pipeline, lowered: the one input of every backend.
#[derive(Clone, Debug)]
pub struct Dag {
    pub name: String,
    pub k8s_name: String,
    pub description: Option<String>,
    pub display_name: Option<String>,
    /// The file that declares the pipeline, as given to the database.
    pub source: String,
    pub params: Vec<PipelineParam>,
    pub outputs: Vec<PipelineOutput>,
    /// Each component once, however many tasks run it.
    pub components: Vec<Component>,
    pub graph: DiGraph<Task, Edge>,
    pub groups: Vec<Group>,
}

impl Dag {
    pub fn task(&self, index: NodeIndex) -> &Task {
        &self.graph[index]
    }

    pub fn component_of(&self, index: NodeIndex) -> &Component {
        &self.components[self.graph[index].component]
    }

    /// Groups from the outermost to `group`.
    pub fn group_chain(&self, group: Option<usize>) -> Vec<usize> {
        let mut chain = Vec::new();
        let mut current = group;
        while let Some(g) = current {
            chain.push(g);
            current = self.groups[g].parent;
        }
        chain.reverse();
        chain
    }

    /// Tasks in an order where every task comes after those it depends on.
    pub fn topological_order(&self) -> Vec<NodeIndex> {
        petgraph::algo::toposort(&self.graph, None).unwrap_or_else(|_| self.graph.node_indices().collect())
    }
}
