//! The scheduler's state machine, without IO: which task instances exist (one per loop iteration),
//! what state each is in, and which may start now. Loops are expanded lazily, when the list they go
//! over is known; conditions are evaluated on actual values; a failure skips what depends on it.
//!
//! A pass costs what changed, not the size of the pipeline: a task whose instances all ended is
//! never looked at again, one that waits for a producer's instance only once that producer changed
//! (`touched`), one that is ready but waits for room only while there is room. A pass that starts
//! nothing while nothing runs looks at every task, so a missed wake-up can delay, never lose, a task.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use kfl_dag::{CompareOp, Condition, GroupKind, LoopItems, Operand, Source, Trigger};
use serde::Serialize;
use serde_json::Value as Json;

use crate::plan::Plan;
use crate::resources::{Budget, Free, Grant};

/// A task and its iteration indices (one per enclosing loop, outermost first).
pub type InstanceKey = (usize, Vec<usize>);

/// An artifact produced by a task.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ArtifactRef {
    pub path: PathBuf,
    pub uri: String,
    /// The content hash (sha256 of the file, or of a folder's names and contents).
    pub hash: String,
    pub metadata: Json,
}

/// What a finished task produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Outputs {
    pub parameters: BTreeMap<String, Json>,
    pub artifacts: BTreeMap<String, ArtifactRef>,
}

/// The value given to one input of a task.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    Parameter(Json),
    Artifact(ArtifactRef),
    ArtifactList(Vec<ArtifactRef>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Waiting,
    Running,
    Succeeded,
    /// Succeeded by reusing the outputs of an earlier run.
    Cached,
    /// Succeeded in the run being resumed (`--resume`), and kept.
    Kept,
    Failed,
    /// Its condition was false (or it needed a task whose condition was false): not a failure.
    SkippedCondition,
    /// Something it depends on failed.
    SkippedUpstream,
    Cancelled,
}

impl Status {
    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Waiting | Status::Running)
    }
    pub fn succeeded(self) -> bool {
        matches!(self, Status::Succeeded | Status::Cached | Status::Kept)
    }
    pub fn label(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Cached => "cached",
            // What it was in the run: readers of run records (`kflc ui`) know no other word.
            Status::Kept => "succeeded",
            Status::Failed => "failed",
            Status::SkippedCondition => "skipped",
            Status::SkippedUpstream => "not run",
            Status::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    pub status: Status,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    pub outputs: Outputs,
    pub started: Option<std::time::Instant>,
    pub elapsed: Option<std::time::Duration>,
    pub attempts: u32,
    pub cache_key: Option<String>,
    /// The last lines of its logs, when it failed.
    pub log_tail: Vec<String>,
    /// What it was given while it runs (given back when it finishes).
    pub grant: Option<Grant>,
}

/// An instance that succeeded in the run being resumed: it is kept, not run again, as long as its
/// cache key (its component's definition and its inputs) is still the same.
#[derive(Clone, Debug)]
pub struct Kept {
    pub cache_key: String,
    pub outputs: Outputs,
}

/// A task instance that may start now, with its inputs resolved.
#[derive(Clone, Debug)]
pub struct Job {
    pub key: InstanceKey,
    pub name: String,
    pub inputs: Vec<(String, Resolved)>,
    /// The devices, variables and limits it was given.
    pub grant: Grant,
}

/// A change the scheduler made on its own (a skip), for the progress view.
#[derive(Clone, Debug)]
pub struct Skip {
    pub name: String,
    pub status: Status,
    pub reason: String,
}

#[derive(Clone, Debug)]
enum LoopState {
    Items(Vec<Json>),
    Unavailable(String),
}

/// The instances of a task below a prefix of iteration indices that are known so far.
struct Expansion {
    instances: Vec<Vec<usize>>,
    /// Some loop list is not known yet.
    pending: bool,
    /// Some loop list will never be known (its producer did not succeed).
    unavailable: Option<String>,
}

enum Readiness {
    /// An instance of a producer it waits for has not ended (or does not exist yet).
    NotYet,
    /// A loop list that decides which producer instances it waits for is not known yet.
    Pending,
    Skip(Status, String),
    Run,
}

pub struct Scheduler {
    pub plan: Arc<Plan>,
    pub instances: BTreeMap<InstanceKey, Instance>,
    loops: HashMap<(usize, Vec<usize>), LoopState>,
    /// Per loop and outer iteration: the iterations that have started and not finished.
    active_iterations: HashMap<(usize, Vec<usize>), BTreeSet<usize>>,
    pub running: usize,
    pub parallelism: usize,
    pub cancelled: bool,
    /// What is left of the run's budget.
    free: Free,
    /// Instances of the run being resumed that succeeded there.
    pub kept: HashMap<InstanceKey, Kept>,
    /// Per task: every instance ended and no more can appear (never looked at again).
    settled: Vec<bool>,
    /// Per task: the last pass found it waiting for producers' instances only.
    blocked: Vec<bool>,
    /// Per task: the last pass found an instance ready that did not start for want of room.
    needs_room: Vec<bool>,
    /// Per task: an instance of a task it depends on ended since the task was last looked at.
    touched: Vec<bool>,
    /// Per task: the tasks that depend on it.
    consumers: Vec<Vec<usize>>,
}

impl Scheduler {
    pub fn new(plan: Arc<Plan>, parallelism: usize, budget: &Budget) -> Scheduler {
        Scheduler {
            instances: BTreeMap::new(),
            loops: HashMap::new(),
            active_iterations: HashMap::new(),
            running: 0,
            parallelism: parallelism.max(1),
            cancelled: false,
            free: Free::new(budget),
            kept: HashMap::new(),
            settled: vec![false; plan_len(&plan)],
            blocked: vec![false; plan_len(&plan)],
            needs_room: vec![false; plan_len(&plan)],
            touched: vec![false; plan_len(&plan)],
            consumers: consumers_of(&plan),
            plan,
        }
    }

    /// Records that an instance of `task` ended: what depends on it is looked at again.
    fn touch_consumers(&mut self, task: usize) {
        for &consumer in &self.consumers[task] {
            self.touched[consumer] = true;
        }
    }

    /// Creates the instances that became known, skips those that cannot run, and returns those that
    /// may start now (marked running).
    pub fn schedule(&mut self) -> (Vec<Job>, Vec<Skip>) {
        let (mut jobs, mut skips) = self.pass(false);
        if jobs.is_empty() && self.running == 0 && !self.cancelled {
            // Nothing runs and nothing started: look at every task before the run may end.
            let (more_jobs, more_skips) = self.pass(true);
            jobs.extend(more_jobs);
            skips.extend(more_skips);
        }
        (jobs, skips)
    }

    /// One pass over the tasks in producer-first order; `all`: every task not settled, whatever
    /// the last pass found.
    fn pass(&mut self, all: bool) -> (Vec<Job>, Vec<Skip>) {
        let mut jobs = Vec::new();
        let mut skips = Vec::new();
        // The first ready task that does not fit holds what it needs: later (smaller) tasks may
        // start only in what is left beside it, so a large task is not starved by small ones.
        let mut held: Option<crate::resources::Request> = None;
        self.retire_iterations();
        let plan = Arc::clone(&self.plan);
        for &task in &plan.order {
            if self.settled[task] {
                continue;
            }
            let touched = std::mem::take(&mut self.touched[task]);
            let room = self.running < self.parallelism;
            if !all && !touched && (self.blocked[task] || self.needs_room[task] && !room) {
                continue;
            }
            let expansion = self.expand(task, &[]);
            // What this pass finds about the task (`pending`: it cannot be blocked).
            let mut pending = expansion.pending;
            let mut waiting = false;
            let mut needs_room = false;
            for iteration in expansion.instances {
                let key = (task, iteration);
                let status = match self.instances.get(&key) {
                    Some(instance) => instance.status,
                    None => {
                        let name = plan.instance_name(task, &key.1);
                        self.instances.insert(key.clone(), new_instance(name));
                        Status::Waiting
                    }
                };
                if status == Status::Running {
                    waiting = true;
                }
                if status != Status::Waiting || self.cancelled {
                    continue;
                }
                waiting = true;
                match self.readiness(task, &key.1) {
                    Readiness::NotYet => {}
                    Readiness::Pending => pending = true,
                    Readiness::Skip(status, reason) => {
                        if let Some(instance) = self.instances.get_mut(&key) {
                            instance.status = status;
                            instance.reason = Some(reason.clone());
                            skips.push(Skip { name: instance.name.clone(), status, reason });
                        }
                        self.touch_consumers(task);
                    }
                    Readiness::Run => {
                        if self.keep(&key, &mut skips) {
                            self.touch_consumers(task);
                            continue;
                        }
                        if self.running >= self.parallelism || !self.iterations_allow(task, &key.1) {
                            needs_room = true;
                            continue;
                        }
                        // Checked before claiming, so that a task waiting for room costs no input
                        // resolution on every pass.
                        let request = &plan.tasks[task].request;
                        if !self.free.fits_beside(request, held.as_ref()) {
                            if held.is_none() {
                                held = Some(*request);
                            }
                            needs_room = true;
                            continue;
                        }
                        match self.resolve_inputs(task, &key.1) {
                            Ok(inputs) => {
                                let Some(grant) = self.free.try_claim(&plan.tasks[task].request) else {
                                    needs_room = true;
                                    continue;
                                };
                                self.claim_iterations(task, &key.1);
                                self.running += 1;
                                if let Some(instance) = self.instances.get_mut(&key) {
                                    instance.status = Status::Running;
                                    instance.started = Some(std::time::Instant::now());
                                    instance.grant = Some(grant.clone());
                                    jobs.push(Job { key: key.clone(), name: instance.name.clone(), inputs, grant });
                                }
                            }
                            Err(reason) => {
                                if let Some(instance) = self.instances.get_mut(&key) {
                                    instance.status = Status::SkippedUpstream;
                                    instance.reason = Some(reason.clone());
                                    skips.push(Skip {
                                        name: instance.name.clone(),
                                        status: Status::SkippedUpstream,
                                        reason,
                                    });
                                }
                                self.touch_consumers(task);
                            }
                        }
                    }
                }
            }
            // After a cancel nothing starts: the flags only matter while the run goes on.
            self.settled[task] = !pending && !waiting;
            self.needs_room[task] = needs_room;
            self.blocked[task] = waiting && !pending && !needs_room;
        }
        (jobs, skips)
    }

    /// Records the end of a running instance, and gives back what it was granted.
    pub fn finish(&mut self, key: &InstanceKey, update: impl FnOnce(&mut Instance)) {
        if let Some(instance) = self.instances.get_mut(key) {
            if instance.status == Status::Running {
                self.running = self.running.saturating_sub(1);
            }
            if let Some(grant) = instance.grant.take() {
                self.free.release(&grant);
            }
            update(instance);
            // Its own other instances may wait for this one (a loop's `parallel N`).
            self.touched[key.0] = true;
            self.touch_consumers(key.0);
        }
    }

    /// Marks an instance of the resumed run as kept when it succeeded there and would do the same
    /// work now (same cache key: same component, settings and inputs). A changed parameter or an
    /// upstream task that ran again with another result changes the key, and the task runs.
    fn keep(&mut self, key: &InstanceKey, skips: &mut Vec<Skip>) -> bool {
        if !self.kept.contains_key(key) {
            return false;
        }
        let Ok(inputs) = self.resolve_inputs(key.0, &key.1) else { return false };
        let Some(kept) = self.kept.get(key) else { return false };
        let plan = &self.plan;
        let node = plan.tasks[key.0].node;
        let now = crate::cache::cache_key(plan.dag.component_of(node), &plan.dag.graph[node].settings, &inputs);
        if now != kept.cache_key {
            self.kept.remove(key);
            return false;
        }
        let Some(kept) = self.kept.remove(key) else { return false };
        let Some(instance) = self.instances.get_mut(key) else { return false };
        instance.status = Status::Kept;
        instance.outputs = kept.outputs;
        instance.cache_key = Some(kept.cache_key);
        let reason = "kept: it succeeded in the run being resumed".to_string();
        instance.reason = Some(reason.clone());
        skips.push(Skip { name: instance.name.clone(), status: Status::Kept, reason });
        true
    }

    /// Whether anything failed or was cancelled.
    pub fn failed(&self) -> bool {
        self.instances.values().any(|i| matches!(i.status, Status::Failed | Status::Cancelled))
    }

    /// Tasks of which no instance ever existed (their loop list never became known).
    pub fn never_created(&self) -> Vec<String> {
        let plan = &self.plan;
        (0..plan.tasks.len())
            .filter(|t| !self.instances.keys().any(|(task, _)| task == t))
            .filter(|t| {
                // A loop over an empty list creates no instance, and that is not worth a mention.
                let loops = &plan.tasks[*t].loops;
                !loops.iter().any(|g| {
                    self.loops
                        .iter()
                        .any(|((lg, _), s)| lg == g && matches!(s, LoopState::Items(items) if items.is_empty()))
                })
            })
            .map(|t| plan.dag.graph[plan.tasks[t].node].name.clone())
            .collect()
    }

    fn expand(&mut self, task: usize, prefix: &[usize]) -> Expansion {
        let mut out = Expansion { instances: Vec::new(), pending: false, unavailable: None };
        let loops = self.plan.tasks[task].loops.clone();
        let mut current = prefix.to_vec();
        self.expand_into(&loops, &mut current, &mut out);
        out
    }

    fn expand_into(&mut self, loops: &[usize], current: &mut Vec<usize>, out: &mut Expansion) {
        if current.len() >= loops.len() {
            out.instances.push(current.clone());
            return;
        }
        let g = loops[current.len()];
        match self.loop_items(g, current) {
            None => out.pending = true,
            Some(LoopState::Unavailable(reason)) => {
                out.unavailable.get_or_insert(reason);
            }
            Some(LoopState::Items(items)) => {
                for i in 0..items.len() {
                    current.push(i);
                    self.expand_into(loops, current, out);
                    current.pop();
                }
            }
        }
    }

    /// The items of loop `g` for the outer iterations `prefix`; `None` while they are not known.
    fn loop_items(&mut self, g: usize, prefix: &[usize]) -> Option<LoopState> {
        let key = (g, prefix.to_vec());
        if let Some(state) = self.loops.get(&key) {
            return Some(state.clone());
        }
        let plan = Arc::clone(&self.plan);
        let GroupKind::Loop { items, var, .. } = &plan.dag.groups[g].kind else {
            return Some(LoopState::Unavailable("not a loop".into()));
        };
        let state = match items {
            LoopItems::Values(values) => LoopState::Items(values.iter().map(|v| v.to_json()).collect()),
            LoopItems::Param(p) => match plan.params.get(p) {
                Some(Json::Array(items)) => LoopState::Items(items.clone()),
                _ => LoopState::Unavailable(format!("the loop over `{p}` needs a list")),
            },
            LoopItems::Output { task, output } => {
                let producer = task.index();
                let depth = plan.tasks[producer].loops.len().min(prefix.len());
                let expansion = self.expand(producer, &prefix[..depth]);
                if expansion.pending {
                    return None;
                }
                let producer_name = &plan.dag.graph[*task].name;
                match expansion.instances.first().and_then(|iv| self.instances.get(&(producer, iv.clone()))) {
                    None => LoopState::Unavailable(format!("`{producer_name}` did not run")),
                    Some(instance) if !instance.status.is_terminal() => return None,
                    Some(instance) if instance.status.succeeded() => match instance.outputs.parameters.get(output) {
                        Some(Json::Array(items)) => LoopState::Items(items.clone()),
                        _ => LoopState::Unavailable(format!(
                            "`for {var}` needs a list, and `{producer_name}.{output}` is not one"
                        )),
                    },
                    Some(_) => LoopState::Unavailable(format!("`{producer_name}` did not succeed")),
                }
            }
        };
        self.loops.insert(key, state.clone());
        Some(state)
    }

    fn status_of(&self, key: &InstanceKey) -> Option<Status> {
        self.instances.get(key).map(|i| i.status)
    }

    fn readiness(&mut self, task: usize, iteration: &[usize]) -> Readiness {
        let plan = Arc::clone(&self.plan);
        let task_plan = &plan.tasks[task];
        let mut failed: Option<String> = None;
        let mut condition_skipped: Option<String> = None;
        let mut data_missing: Option<String> = None;
        for dep in &task_plan.dependencies {
            let common = plan.common_loops(task, dep.producer);
            let expansion = self.expand(dep.producer, &iteration[..common.min(iteration.len())]);
            if expansion.pending {
                return Readiness::Pending;
            }
            let producer_name = &plan.dag.graph[plan.tasks[dep.producer].node].name;
            for iv in &expansion.instances {
                let Some(status) = self.status_of(&(dep.producer, iv.clone())) else { return Readiness::NotYet };
                if !status.is_terminal() {
                    return Readiness::NotYet;
                }
                let name = plan.instance_name(dep.producer, iv);
                match status {
                    Status::Succeeded | Status::Cached | Status::Kept => {}
                    Status::SkippedCondition => {
                        if dep.data {
                            condition_skipped.get_or_insert(format!("`{name}` was skipped"));
                            data_missing.get_or_insert(format!("`{name}` was skipped"));
                        }
                    }
                    _ => {
                        failed.get_or_insert(format!("`{name}` {}", status_phrase(status)));
                        if dep.data {
                            data_missing.get_or_insert(format!("`{name}` {}", status_phrase(status)));
                        }
                    }
                }
            }
            if let Some(reason) = expansion.unavailable {
                failed.get_or_insert(format!("`{producer_name}` never ran: {reason}"));
                if dep.data {
                    data_missing.get_or_insert(reason);
                }
            }
        }
        for &g in &task_plan.conditions {
            let GroupKind::Condition { condition, .. } = &plan.dag.groups[g].kind else { continue };
            match self.evaluate(condition, task, iteration) {
                Ok(true) => {}
                Ok(false) => return Readiness::Skip(Status::SkippedCondition, "its condition is false".into()),
                Err(reason) => {
                    return Readiness::Skip(
                        Status::SkippedUpstream,
                        format!("its condition cannot be evaluated: {reason}"),
                    )
                }
            }
        }
        match task_plan.trigger {
            Trigger::AllSucceeded => {
                if let Some(reason) = failed {
                    Readiness::Skip(Status::SkippedUpstream, reason)
                } else if let Some(reason) = condition_skipped {
                    Readiness::Skip(Status::SkippedCondition, reason)
                } else {
                    Readiness::Run
                }
            }
            Trigger::AllDone => match data_missing {
                Some(reason) => Readiness::Skip(Status::SkippedUpstream, format!("an input is unavailable: {reason}")),
                None => Readiness::Run,
            },
        }
    }

    /// The instance of `producer` that a task instance reads (the producer is in no loop the task
    /// has left).
    fn producer_outputs(&self, task: usize, iteration: &[usize], producer: usize) -> Result<&Outputs, String> {
        let plan = &self.plan;
        let common = plan.common_loops(task, producer).min(iteration.len());
        let key = (producer, iteration[..common].to_vec());
        let name = plan.instance_name(producer, &key.1);
        match self.instances.get(&key) {
            Some(instance) if instance.status.succeeded() => Ok(&instance.outputs),
            Some(instance) => Err(format!("`{name}` {}", status_phrase(instance.status))),
            None => Err(format!("`{name}` did not run")),
        }
    }

    fn loop_item(&self, g: usize, field: Option<&str>, task: usize, iteration: &[usize]) -> Result<Json, String> {
        let loops = &self.plan.tasks[task].loops;
        let depth = loops.iter().position(|l| *l == g).ok_or("the loop variable is used outside its loop")?;
        let index = *iteration.get(depth).ok_or("no iteration")?;
        let Some(LoopState::Items(items)) = self.loops.get(&(g, iteration[..depth].to_vec())) else {
            return Err("the loop list is unknown".into());
        };
        let item = items.get(index).cloned().ok_or("no such item")?;
        match field {
            None => Ok(item),
            Some(field) => item.get(field).cloned().ok_or_else(|| format!("the loop item has no field `{field}`")),
        }
    }

    fn operand(&self, operand: &Operand, task: usize, iteration: &[usize]) -> Result<Json, String> {
        match operand {
            Operand::Value(v) => Ok(v.to_json()),
            Operand::Param(p) => self.plan.params.get(p).cloned().ok_or_else(|| format!("no parameter `{p}`")),
            Operand::Output { task: producer, output } => {
                let outputs = self.producer_outputs(task, iteration, producer.index())?;
                outputs.parameters.get(output).cloned().ok_or_else(|| format!("no output `{output}`"))
            }
            Operand::LoopItem { group, field } => self.loop_item(*group, field.as_deref(), task, iteration),
        }
    }

    fn evaluate(&self, condition: &Condition, task: usize, iteration: &[usize]) -> Result<bool, String> {
        Ok(match condition {
            Condition::Is(operand) => truthy(&self.operand(operand, task, iteration)?),
            Condition::Compare(op, a, b) => {
                compare(*op, &self.operand(a, task, iteration)?, &self.operand(b, task, iteration)?)
            }
            Condition::And(a, b) => self.evaluate(a, task, iteration)? && self.evaluate(b, task, iteration)?,
            Condition::Or(a, b) => self.evaluate(a, task, iteration)? || self.evaluate(b, task, iteration)?,
            Condition::Not(a) => !self.evaluate(a, task, iteration)?,
        })
    }

    fn resolve_inputs(&mut self, task: usize, iteration: &[usize]) -> Result<Vec<(String, Resolved)>, String> {
        let plan = Arc::clone(&self.plan);
        let node = plan.tasks[task].node;
        let task_def = &plan.dag.graph[node];
        let component = plan.dag.component_of(node);
        let mut out = Vec::with_capacity(component.inputs.len());
        for input in &component.inputs {
            let source = task_def.args.iter().find(|(name, _)| *name == input.name).map(|(_, s)| s);
            let resolved = match source {
                None => match &input.default {
                    Some(v) => Resolved::Parameter(v.to_json()),
                    None if input.ty.is_artifact() => {
                        return Err(format!("the artifact input `{}` is not given", input.name))
                    }
                    None => Resolved::Parameter(Json::Null),
                },
                Some(source) => self.resolve_source(source, task, iteration)?,
            };
            out.push((input.name.clone(), resolved));
        }
        Ok(out)
    }

    /// The value of a source for one task instance (also used for the pipeline's outputs).
    pub fn resolve_source(&mut self, source: &Source, task: usize, iteration: &[usize]) -> Result<Resolved, String> {
        let plan = Arc::clone(&self.plan);
        match source {
            Source::Value(v) => Ok(Resolved::Parameter(v.to_json())),
            Source::Param(p) => {
                plan.params.get(p).cloned().map(Resolved::Parameter).ok_or_else(|| format!("no parameter `{p}`"))
            }
            Source::LoopItem { group, field } => {
                self.loop_item(*group, field.as_deref(), task, iteration).map(Resolved::Parameter)
            }
            Source::Output { task: producer, output } => {
                let outputs = self.producer_outputs(task, iteration, producer.index())?;
                if let Some(a) = outputs.artifacts.get(output) {
                    Ok(Resolved::Artifact(a.clone()))
                } else if let Some(p) = outputs.parameters.get(output) {
                    Ok(Resolved::Parameter(p.clone()))
                } else {
                    Err(format!("`{}` has no output `{output}`", plan.dag.graph[*producer].name))
                }
            }
            Source::Collected { task: producer, output, .. } => {
                let producer = producer.index();
                let common = plan.common_loops(task, producer).min(iteration.len());
                self.collected(producer, &iteration[..common], output, true)
            }
        }
    }

    /// An output of `producer` over the iterations of the loops it is in below the outer iterations
    /// `prefix`: a list per loop left, outermost first (a list of lists for a loop in a loop), in
    /// iteration order. Iterations skipped by a condition contribute nothing. `strict`: an
    /// iteration that did not succeed is an error (for a task's input), not left out (for the
    /// pipeline's outputs once the run is over).
    fn collected(&mut self, producer: usize, prefix: &[usize], output: &str, strict: bool) -> Result<Resolved, String> {
        let plan = Arc::clone(&self.plan);
        let expansion = self.expand(producer, prefix);
        if let Some(reason) = expansion.unavailable.filter(|_| strict) {
            return Err(reason);
        }
        let producer_name = &plan.dag.graph[plan.tasks[producer].node].name;
        let is_artifact = plan.dag.components[plan.dag.graph[plan.tasks[producer].node].component]
            .outputs
            .iter()
            .any(|o| o.name == *output && o.ty.is_artifact());
        let loops = plan.tasks[producer].loops.clone();
        if is_artifact && loops.len() > prefix.len() + 1 {
            return Err(format!(
                "collecting the artifact `{producer_name}.{output}` out of a loop nested in another loop (a list of \
                 lists of artifacts) is not supported; collect it inside the outer loop"
            ));
        }
        let mut parameters = BTreeMap::new();
        let mut artifacts = Vec::new();
        for iv in expansion.instances {
            let name = plan.instance_name(producer, &iv);
            let Some(instance) = self.instances.get(&(producer, iv.clone())) else {
                if strict {
                    return Err(format!("`{name}` did not run"));
                }
                continue;
            };
            if !instance.status.succeeded() {
                // A skipped iteration (its condition was false) contributes nothing, as on the cluster.
                if instance.status == Status::SkippedCondition || !strict {
                    continue;
                }
                return Err(format!("`{name}` {}", status_phrase(instance.status)));
            }
            if is_artifact {
                match instance.outputs.artifacts.get(output) {
                    Some(a) => artifacts.push(a.clone()),
                    None if strict => return Err(format!("`{name}` has no `{output}`")),
                    None => {}
                }
            } else {
                parameters.insert(iv, instance.outputs.parameters.get(output).cloned().unwrap_or(Json::Null));
            }
        }
        if is_artifact {
            return Ok(Resolved::ArtifactList(artifacts));
        }
        let mut current = prefix.to_vec();
        Ok(Resolved::Parameter(self.nest(&loops, &mut current, &parameters)))
    }

    /// The values of the iterations below `current`, one list per loop from `current`'s depth on.
    fn nest(&mut self, loops: &[usize], current: &mut Vec<usize>, values: &BTreeMap<Vec<usize>, Json>) -> Json {
        if current.len() + 1 >= loops.len() {
            let inside = values.iter().filter(|(iv, _)| iv.starts_with(current)).map(|(_, v)| v.clone());
            return Json::Array(inside.collect());
        }
        let count = match self.loop_items(loops[current.len()], current) {
            Some(LoopState::Items(items)) => items.len(),
            _ => 0,
        };
        let mut lists = Vec::with_capacity(count);
        for i in 0..count {
            current.push(i);
            lists.push(self.nest(loops, current, values));
            current.pop();
        }
        Json::Array(lists)
    }

    /// Whether the loops' `parallel N` limits let this instance start.
    fn iterations_allow(&self, task: usize, iteration: &[usize]) -> bool {
        let plan = &self.plan;
        for (depth, g) in plan.tasks[task].loops.iter().enumerate() {
            let GroupKind::Loop { parallelism: Some(limit), .. } = plan.dag.groups[*g].kind else { continue };
            let Some(active) = self.active_iterations.get(&(*g, iteration[..depth].to_vec())) else { continue };
            if !active.contains(&iteration[depth]) && active.len() >= limit.max(1) as usize {
                return false;
            }
        }
        true
    }

    fn claim_iterations(&mut self, task: usize, iteration: &[usize]) {
        let plan = Arc::clone(&self.plan);
        for (depth, g) in plan.tasks[task].loops.iter().enumerate() {
            if let GroupKind::Loop { parallelism: Some(_), .. } = plan.dag.groups[*g].kind {
                self.active_iterations.entry((*g, iteration[..depth].to_vec())).or_default().insert(iteration[depth]);
            }
        }
    }

    /// Forgets the iterations all of whose tasks have finished, so that others may start.
    fn retire_iterations(&mut self) {
        let keys: Vec<(usize, Vec<usize>)> = self.active_iterations.keys().cloned().collect();
        for key in keys {
            let active: Vec<usize> =
                self.active_iterations.get(&key).map(|s| s.iter().copied().collect()).unwrap_or_default();
            for i in active {
                let mut prefix = key.1.clone();
                prefix.push(i);
                if self.iteration_done(key.0, &prefix) {
                    if let Some(set) = self.active_iterations.get_mut(&key) {
                        set.remove(&i);
                    }
                }
            }
        }
    }

    fn iteration_done(&mut self, g: usize, prefix: &[usize]) -> bool {
        let tasks = self.plan.loop_tasks.get(&g).cloned().unwrap_or_default();
        for task in tasks {
            let expansion = self.expand(task, prefix);
            if expansion.pending {
                return false;
            }
            for iv in expansion.instances {
                if !self.status_of(&(task, iv)).is_some_and(Status::is_terminal) {
                    return false;
                }
            }
        }
        true
    }

    /// The pipeline's outputs, once the run is over.
    pub fn pipeline_outputs(&mut self) -> BTreeMap<String, Result<Resolved, String>> {
        let plan = Arc::clone(&self.plan);
        let mut out = BTreeMap::new();
        for output in &plan.dag.outputs {
            // Pipeline outputs are read from outside every loop: use a task-less context.
            let resolved = match &output.source {
                Source::Output { task, output: name } => {
                    let key = (task.index(), Vec::new());
                    match self.instances.get(&key) {
                        Some(i) if i.status.succeeded() => i
                            .outputs
                            .artifacts
                            .get(name)
                            .cloned()
                            .map(Resolved::Artifact)
                            .or_else(|| i.outputs.parameters.get(name).cloned().map(Resolved::Parameter))
                            .ok_or_else(|| format!("no output `{name}`")),
                        Some(i) => Err(format!("`{}` {}", i.name, status_phrase(i.status))),
                        None => Err(format!("`{}` did not run", plan.dag.graph[*task].name)),
                    }
                }
                Source::Collected { task, .. } => {
                    let producer = task.index();
                    // Collect at the top level: the outermost loop of the producer.
                    self.resolve_source_top(&output.source, producer)
                }
                other => self.resolve_source_top(other, usize::MAX),
            };
            out.insert(output.name.clone(), resolved);
        }
        out
    }

    fn resolve_source_top(&mut self, source: &Source, producer: usize) -> Result<Resolved, String> {
        match source {
            Source::Collected { output, .. } if producer != usize::MAX => self.collected(producer, &[], output, false),
            Source::Value(v) => Ok(Resolved::Parameter(v.to_json())),
            Source::Param(p) => {
                self.plan.params.get(p).cloned().map(Resolved::Parameter).ok_or_else(|| format!("no parameter `{p}`"))
            }
            _ => Err("not available outside its loop".into()),
        }
    }
}

fn plan_len(plan: &Plan) -> usize {
    plan.tasks.len()
}

/// For each task, the tasks that list it among their dependencies.
fn consumers_of(plan: &Plan) -> Vec<Vec<usize>> {
    let mut consumers = vec![Vec::new(); plan.tasks.len()];
    for (task, task_plan) in plan.tasks.iter().enumerate() {
        for dep in &task_plan.dependencies {
            if let Some(list) = consumers.get_mut(dep.producer) {
                list.push(task);
            }
        }
    }
    consumers
}

fn new_instance(name: String) -> Instance {
    Instance {
        name,
        status: Status::Waiting,
        reason: None,
        outputs: Outputs::default(),
        started: None,
        elapsed: None,
        attempts: 0,
        cache_key: None,
        log_tail: Vec::new(),
        grant: None,
    }
}

fn status_phrase(status: Status) -> &'static str {
    match status {
        Status::Failed => "failed",
        Status::Cancelled => "was cancelled",
        Status::SkippedUpstream => "did not run",
        Status::SkippedCondition => "was skipped",
        _ => "did not finish",
    }
}

fn truthy(value: &Json) -> bool {
    match value {
        Json::Bool(b) => *b,
        Json::String(s) => s == "true" || s == "True",
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::Null => false,
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

/// Compares two values as the cluster's condition language does: numbers as numbers, strings as
/// strings, anything else only for equality.
pub fn compare(op: CompareOp, a: &Json, b: &Json) -> bool {
    use std::cmp::Ordering;
    let ordering = match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64().zip(y.as_f64()).and_then(|(x, y)| x.partial_cmp(&y)),
        (Json::String(x), Json::String(y)) => Some(x.cmp(y)),
        (Json::Bool(x), Json::Bool(y)) => Some(x.cmp(y)),
        // A number compared with its text (a String parameter holding "3").
        (Json::Number(x), Json::String(y)) => {
            x.as_f64().zip(y.trim().parse::<f64>().ok()).and_then(|(x, y)| x.partial_cmp(&y))
        }
        (Json::String(x), Json::Number(y)) => {
            x.trim().parse::<f64>().ok().zip(y.as_f64()).and_then(|(x, y)| x.partial_cmp(&y))
        }
        _ => (a == b).then_some(Ordering::Equal),
    };
    match op {
        CompareOp::Eq => ordering == Some(Ordering::Equal),
        CompareOp::Ne => ordering != Some(Ordering::Equal),
        CompareOp::Lt => ordering == Some(Ordering::Less),
        CompareOp::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        CompareOp::Gt => ordering == Some(Ordering::Greater),
        CompareOp::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn comparisons_follow_the_values() {
        assert!(compare(CompareOp::Ge, &json!(0.9), &json!(0.8)));
        assert!(compare(CompareOp::Lt, &json!(1), &json!(1.5)));
        assert!(compare(CompareOp::Eq, &json!("a"), &json!("a")));
        assert!(compare(CompareOp::Ne, &json!([1]), &json!([2])));
        assert!(!compare(CompareOp::Lt, &json!([1]), &json!([2])));
    }
}
