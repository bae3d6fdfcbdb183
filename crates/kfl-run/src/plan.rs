//! What the scheduler needs to know about the [`Dag`] before anything runs: each task's loops,
//! conditions and dependencies (the graph's edges plus the implicit ones of exit handlers), in an
//! order where producers come first.

use std::collections::BTreeMap;

use kfl_dag::{Dag, Edge, GroupKind, IoType, ParamType, Trigger};
use petgraph::graph::NodeIndex;
use serde_json::Value as Json;

/// One thing a task waits for.
#[derive(Clone, Debug)]
pub struct Dependency {
    pub producer: usize,
    /// The task reads an output of the producer (it needs the producer to have succeeded), as
    /// opposed to only running after it.
    pub data: bool,
}

/// Static facts about one task.
#[derive(Clone, Debug)]
pub struct TaskPlan {
    pub node: NodeIndex,
    /// The loops the task is in, outermost first: one iteration index per loop names an instance.
    pub loops: Vec<usize>,
    /// The condition groups the task is in, outermost first.
    pub conditions: Vec<usize>,
    pub dependencies: Vec<Dependency>,
    pub trigger: Trigger,
    /// The CPU, memory and GPUs it requests.
    pub request: crate::resources::Request,
}

pub struct Plan {
    pub dag: Dag,
    /// Pipeline parameter values, as JSON.
    pub params: BTreeMap<String, Json>,
    /// Indexed like the graph's nodes.
    pub tasks: Vec<TaskPlan>,
    /// Task indices, producers before consumers.
    pub order: Vec<usize>,
    /// For each loop group: the tasks inside it (at any depth).
    pub loop_tasks: BTreeMap<usize, Vec<usize>>,
}

/// Why a plan cannot be made.
#[derive(Debug)]
pub struct PlanError(pub String);

impl Plan {
    pub fn new(dag: Dag) -> Result<Plan, PlanError> {
        let mut params = BTreeMap::new();
        for p in &dag.params {
            match (&p.default, &p.ty) {
                (Some(v), _) => {
                    params.insert(p.name.clone(), v.to_json());
                }
                (None, IoType::Parameter(_)) => {
                    return Err(PlanError(format!(
                        "the pipeline parameter `{}` has no default; give it with --param {}=…",
                        p.name, p.name
                    )))
                }
                (None, _) => {
                    return Err(PlanError(format!(
                        "the pipeline takes the artifact `{}`, which a local run cannot supply",
                        p.name
                    )))
                }
            }
        }
        let count = dag.graph.node_count();
        let mut tasks = Vec::with_capacity(count);
        for node in dag.graph.node_indices() {
            let task = &dag.graph[node];
            let chain = dag.group_chain(task.group);
            let loops =
                chain.iter().copied().filter(|g| matches!(dag.groups[*g].kind, GroupKind::Loop { .. })).collect();
            let conditions =
                chain.iter().copied().filter(|g| matches!(dag.groups[*g].kind, GroupKind::Condition { .. })).collect();
            let mut dependencies: Vec<Dependency> = Vec::new();
            for edge in dag.graph.edges_directed(node, petgraph::Direction::Incoming) {
                use petgraph::visit::EdgeRef;
                let producer = edge.source().index();
                let data = matches!(edge.weight(), Edge::Data { .. });
                match dependencies.iter_mut().find(|d| d.producer == producer) {
                    Some(existing) => existing.data |= data,
                    None => dependencies.push(Dependency { producer, data }),
                }
            }
            let request = crate::resources::Request::of(&task.settings);
            tasks.push(TaskPlan { node, loops, conditions, dependencies, trigger: task.trigger, request });
        }
        // An exit handler's tasks run after every other task of the scope it closes.
        for node in dag.graph.node_indices() {
            let chain = dag.group_chain(dag.graph[node].group);
            let Some(&exit) = chain.iter().rev().find(|g| matches!(dag.groups[**g].kind, GroupKind::ExitHandler))
            else {
                continue;
            };
            let scope = dag.groups[exit].parent;
            for other in dag.graph.node_indices() {
                let other_chain = dag.group_chain(dag.graph[other].group);
                let in_scope = scope.is_none_or(|s| other_chain.contains(&s));
                if other == node || !in_scope || other_chain.contains(&exit) {
                    continue;
                }
                let deps = &mut tasks[node.index()].dependencies;
                if !deps.iter().any(|d| d.producer == other.index()) {
                    deps.push(Dependency { producer: other.index(), data: false });
                }
            }
        }
        let order = topological_order(&tasks)?;
        let mut loop_tasks: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, task) in tasks.iter().enumerate() {
            for g in &task.loops {
                loop_tasks.entry(*g).or_default().push(i);
            }
        }
        Ok(Plan { dag, params, tasks, order, loop_tasks })
    }

    /// The display name of one instance: the task's name, and its iteration indices if in loops.
    pub fn instance_name(&self, task: usize, iteration: &[usize]) -> String {
        let name = &self.dag.graph[self.tasks[task].node].name;
        if iteration.is_empty() {
            name.clone()
        } else {
            let indices: Vec<String> = iteration.iter().map(usize::to_string).collect();
            format!("{name}@{}", indices.join("."))
        }
    }

    /// How many leading loops two tasks share.
    pub fn common_loops(&self, a: usize, b: usize) -> usize {
        self.tasks[a].loops.iter().zip(&self.tasks[b].loops).take_while(|(x, y)| x == y).count()
    }
}

fn topological_order(tasks: &[TaskPlan]) -> Result<Vec<usize>, PlanError> {
    let mut indegree = vec![0usize; tasks.len()];
    let mut consumers = vec![Vec::new(); tasks.len()];
    for (i, task) in tasks.iter().enumerate() {
        for d in &task.dependencies {
            indegree[i] += 1;
            consumers[d.producer].push(i);
        }
    }
    let mut ready: std::collections::VecDeque<usize> = (0..tasks.len()).filter(|i| indegree[*i] == 0).collect();
    let mut order = Vec::with_capacity(tasks.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &c in &consumers[i] {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.push_back(c);
            }
        }
    }
    if order.len() != tasks.len() {
        return Err(PlanError("the tasks depend on each other in a cycle".into()));
    }
    Ok(order)
}

/// A parameter value read back from a file a program wrote, by the output's declared type: strings as
/// they are, numbers and Bools trimmed, lists and maps as JSON.
pub fn parse_parameter(ty: &IoType, text: &str) -> Result<Json, String> {
    let ty = match ty {
        IoType::Parameter(ty) => *ty,
        _ => return Err("not a parameter".into()),
    };
    let trimmed = text.trim();
    let bad = |expected: &str| format!("expected {expected}, got `{}`", shorten(trimmed));
    match ty {
        ParamType::String => Ok(Json::String(text.strip_suffix('\n').unwrap_or(text).to_string())),
        ParamType::Int => trimmed.parse::<i64>().map(Json::from).map_err(|_| bad("an Int")),
        ParamType::Float => match trimmed.parse::<f64>() {
            Ok(f) => Ok(serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
            Err(_) => Err(bad("a Float")),
        },
        ParamType::Bool => match trimmed {
            "true" | "True" => Ok(Json::Bool(true)),
            "false" | "False" => Ok(Json::Bool(false)),
            _ => Err(bad("`true` or `false`")),
        },
        ParamType::List => match serde_json::from_str::<Json>(trimmed) {
            Ok(v @ Json::Array(_)) => Ok(v),
            _ => Err(bad("a JSON list")),
        },
        ParamType::Map => match serde_json::from_str::<Json>(trimmed) {
            Ok(v @ Json::Object(_)) => Ok(v),
            _ => Err(bad("a JSON object")),
        },
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text.to_string()
    }
}

/// A value as text for a command line: strings as they are, the rest as JSON.
pub fn plain(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}
