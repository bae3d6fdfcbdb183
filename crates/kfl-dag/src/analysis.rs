//! What a pipeline costs, before it runs: how many tasks, its longest chain of dependencies, and
//! the most CPU, memory and GPUs it can request at one time. `kflc build --summary` prints it.
//!
//! # The order
//!
//! Task `u` comes before task `v` when `v` depends on `u`, directly or transitively, through the
//! graph's data and ordering edges. The tasks of `finally` come after every other task of the
//! pipeline (or called pipeline) that holds the `finally`: an exit handler runs once the body has
//! ended, so it is never concurrent with the body. That is modelled with one zero-weight barrier
//! per `finally` that every body task precedes and that precedes every task of the `finally`.
//!
//! # Peaks
//!
//! A peak is the largest total request of a set of tasks that can all run at once "if everything
//! that can run in parallel does": tasks no two of which depend on each other, i.e. an antichain
//! of the order, of maximum weight. It is computed exactly, by weighted Dilworth: the minimum flow
//! that puts at least a task's weight through the task, along the order, from a source to a sink
//! (see [`max_weight_antichain`]), with Dinic's algorithm for the maximum flow.
//!
//! Refinements of the plain antichain:
//! - **Loops.** A task inside loops weighs its request × the iterations that may run at once:
//!   for each enclosing loop, `min(item count, parallel)`. A loop over a parameter or a task's
//!   output has an unknown item count: it counts `parallel` if set (the most that can run at once),
//!   else one iteration, and the peak is then flagged [`Peak::lower_bound`]. Counting all the
//!   iterations of a loop at the same step is the worst case: iterations that are at different
//!   steps never add up to more.
//! - **Branches.** Tasks in different branches of one `if`/`else` never both run, so the peak is
//!   the heaviest antichain holding tasks of at most one branch of each `if`. That problem is
//!   NP-hard in general (maximum independent set reduces to it), so it is solved in two steps:
//!   1. An `if` whose branches can be put one after the other without ordering anything else is
//!      ordered so (a zero-weight link after each branch and before the next): this is exact when
//!      every task outside the `if` that an earlier branch's task depends on directly is already
//!      before every task of the later branches, and every task outside that depends directly
//!      on a later branch's task is already after every task of the earlier branches, which
//!      is the usual shape (the branches hang off the tasks the condition reads). Branch orders
//!      tried: source order, and reversed for two branches.
//!   2. The other `if`s go to a best-first branch and bound: the antichain without the rule is an
//!      upper bound; when it mixes branches of an `if`, solve again once per branch with the
//!      other branches' tasks weighing nothing. Dropping all but the heaviest branch of each
//!      mixed `if` from an antichain gives a feasible one, which prunes. The first mix-free
//!      answer, or a feasible one as heavy as every open bound, is the peak. The search may
//!      run [`BRANCH_SEARCH_WORK`] / (network size) flows (at least [`BRANCH_SEARCH_MIN_FLOWS`]);
//!      past that, the best feasible antichain seen is reported, flagged as a lower bound.
//!
//!   Ordering every `if`'s branches one after the other regardless would be wrong: it would also
//!   order the tasks one branch depends on before the other branch.
//! - Tasks of an `if` that runs inside a loop may take different branches in different
//!   iterations; all the iterations taking the same (best) branch is again the worst case.
//! - A task with no request for a resource weighs nothing for it.
//!
//! # Critical path
//!
//! The longest chain of the order. If every task has a `timeout`, it is weighted by timeouts: a
//! task counts its timeout × the rounds its loops need (`ceil(items / parallel)`; one when the
//! count is unknown, flagged), so the length is an upper bound on the pipeline's run time
//! (retries aside). Otherwise, when any task has no timeout, no duration can be bounded and the
//! chain is weighted by task count. Ties go to the chain that ends, then runs, through the lowest
//! node indices.
//!
//! Pure: no IO.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fmt::Write;

use kfl_model::units::{Cpu, Duration, Memory};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::model::*;

/// The search over `if` branches may run this many maximum flows divided by the network's size
/// (items plus edges): some 6,000 flows for a pipeline of 50 tasks.
pub const BRANCH_SEARCH_WORK: usize = 1_000_000;
/// ... and at least this many.
pub const BRANCH_SEARCH_MIN_FLOWS: usize = 8;

/// A pipeline's size and what it can request at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Tasks in the graph, each loop body counted once.
    pub task_count: usize,
    /// Tasks with every loop expanded to its iterations (a loop over a list known only at run
    /// time counted once).
    pub task_count_expanded: u64,
    /// True when some loop's item count is unknown, so [`Summary::task_count_expanded`] may be
    /// higher at run time.
    pub task_count_expanded_is_lower_bound: bool,
    /// Distinct components the tasks run.
    pub components: usize,
    /// The longest dependency chain, first task first (see the module documentation).
    pub critical_path: Vec<NodeIndex>,
    pub critical_path_length: PathLength,
    pub peak_cpu_millicores: Peak,
    pub peak_memory_bytes: Peak,
    pub peak_gpus: Peak,
}

/// What the critical path's length counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathLength {
    /// Tasks on the path (some task of the pipeline has no timeout).
    Tasks(usize),
    /// Sum of the timeouts on the path, loops' rounds included: a bound on the run time.
    /// `lower_bound` when a loop's item count is unknown.
    Timeouts { seconds: u64, lower_bound: bool },
}

/// The most of one resource that the pipeline's tasks can request at the same time.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Peak {
    /// Millicores, bytes or GPUs.
    pub amount: u64,
    /// The tasks that reach it together, in node order (those that request none left out).
    pub tasks: Vec<PeakTask>,
    /// True when the real peak may be higher: a loop whose item count is only known at run time
    /// has no `parallel`, or the search over `if` branches ran out of work (see the module
    /// documentation).
    pub lower_bound: bool,
}

/// One task of a peak, with how many of its loop iterations run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeakTask {
    pub task: NodeIndex,
    pub copies: u64,
}

/// Sizes, critical path and peak resources of a pipeline.
pub fn summarize(dag: &Dag) -> Summary {
    let model = Model::new(dag);
    let task_count = dag.graph.node_count();
    let request =
        |f: &dyn Fn(&Settings) -> u64| -> Vec<u64> { dag.graph.node_weights().map(|t| f(&t.settings)).collect() };
    let cpu = request(&|s| s.cpu.map_or(0, Cpu::millicores));
    let memory = request(&|s| s.memory.map_or(0, Memory::bytes));
    let gpus = request(&|s| u64::from(s.gpu.unwrap_or(0)));
    let (critical_path, critical_path_length) = critical_path(dag, &model);
    Summary {
        task_count,
        task_count_expanded: model.expanded.iter().fold(0u64, |sum, n| sum.saturating_add(*n)),
        task_count_expanded_is_lower_bound: model.expanded_lower_bound,
        components: dag.components.len(),
        critical_path,
        critical_path_length,
        peak_cpu_millicores: peak(&model, &cpu),
        peak_memory_bytes: peak(&model, &memory),
        peak_gpus: peak(&model, &gpus),
    }
}

/// The order, the loops' multiplicities and the `if`s, as plain indices.
struct Model {
    tasks: usize,
    /// Tasks, then one barrier per `finally`, then links between the branches of ordered `if`s.
    items: usize,
    /// `u` before `v`; the order is their transitive closure.
    edges: Vec<(usize, usize)>,
    /// How many of `edges` are dependencies (the rest order branches, which is no dependency
    /// for the critical path).
    dependency_edges: usize,
    /// Per task: copies that may run at once, and whether an unknown loop count made it a guess.
    copies: Vec<u64>,
    copies_lower_bound: Vec<bool>,
    /// Per task: iterations in all.
    expanded: Vec<u64>,
    expanded_lower_bound: bool,
    /// Per task: rounds its loops need, and whether one of them was a guess.
    rounds: Vec<u64>,
    rounds_lower_bound: Vec<bool>,
    /// Per `if` statement: its branches' groups that hold tasks. In group order, so outer `if`s
    /// come first.
    ifs: Vec<Vec<usize>>,
    /// Per task: the `if`s left to the search that it is inside, with the branch (group) it is in.
    branches: Vec<Vec<(usize, usize)>>,
}

struct LoopFigures {
    concurrent: u64,
    concurrent_known: bool,
    count: Option<u64>,
    rounds: u64,
    rounds_known: bool,
}

fn loop_figures(items: &LoopItems, parallelism: Option<u32>) -> LoopFigures {
    let count = match items {
        LoopItems::Values(values) => Some(values.len() as u64),
        LoopItems::Param(_) | LoopItems::Output { .. } => None,
    };
    let parallel = parallelism.filter(|p| *p > 0).map(u64::from);
    let (concurrent, concurrent_known) = match (count, parallel) {
        (Some(n), Some(p)) => (n.min(p), true),
        (Some(n), None) => (n, true),
        (None, Some(p)) => (p, true),
        (None, None) => (1, false),
    };
    let (rounds, rounds_known) = match (count, parallel) {
        (Some(n), Some(p)) => (n.div_ceil(p), true),
        (_, None) => (1, true),
        (None, Some(_)) => (1, false),
    };
    LoopFigures { concurrent, concurrent_known, count, rounds, rounds_known }
}

impl Model {
    fn new(dag: &Dag) -> Model {
        let tasks = dag.graph.node_count();
        let chains: Vec<Vec<usize>> = dag.graph.node_indices().map(|n| valid_chain(dag, dag.task(n).group)).collect();
        let mut model = Model {
            tasks,
            items: tasks,
            edges: dag
                .graph
                .edge_references()
                .filter(|e| e.source() != e.target())
                .map(|e| (e.source().index(), e.target().index()))
                .collect(),
            dependency_edges: 0,
            copies: vec![1; tasks],
            copies_lower_bound: vec![false; tasks],
            expanded: vec![1; tasks],
            expanded_lower_bound: false,
            rounds: vec![1; tasks],
            rounds_lower_bound: vec![false; tasks],
            ifs: Vec::new(),
            branches: vec![Vec::new(); tasks],
        };
        // Branches of one `if` share their parent and the statement's offset.
        let mut if_ids: BTreeMap<(Option<usize>, usize), usize> = BTreeMap::new();
        let mut if_of_group: BTreeMap<usize, usize> = BTreeMap::new();
        for (g, group) in dag.groups.iter().enumerate() {
            if let GroupKind::Condition { of_if, .. } = group.kind {
                let id = *if_ids.entry((group.parent, of_if)).or_insert_with(|| {
                    model.ifs.push(Vec::new());
                    model.ifs.len() - 1
                });
                model.ifs[id].push(g);
                if_of_group.insert(g, id);
            }
        }
        for (t, chain) in chains.iter().enumerate() {
            for &g in chain {
                match &dag.groups[g].kind {
                    GroupKind::Loop { items, parallelism, .. } => {
                        let figures = loop_figures(items, *parallelism);
                        model.copies[t] = model.copies[t].saturating_mul(figures.concurrent);
                        model.copies_lower_bound[t] |= !figures.concurrent_known;
                        model.expanded[t] = model.expanded[t].saturating_mul(figures.count.unwrap_or(1));
                        model.expanded_lower_bound |= figures.count.is_none();
                        model.rounds[t] = model.rounds[t].saturating_mul(figures.rounds);
                        model.rounds_lower_bound[t] |= !figures.rounds_known;
                    }
                    GroupKind::Condition { .. } => {
                        if let Some(&id) = if_of_group.get(&g) {
                            model.branches[t].push((id, g));
                        }
                    }
                    GroupKind::ExitHandler | GroupKind::SubPipeline { .. } => {}
                }
            }
        }
        // `finally`: after every other task of the pipeline or called pipeline that holds it.
        for (g, group) in dag.groups.iter().enumerate() {
            if !matches!(group.kind, GroupKind::ExitHandler) {
                continue;
            }
            let barrier = model.items;
            model.items += 1;
            for (t, chain) in chains.iter().enumerate() {
                if chain.contains(&g) {
                    model.edges.push((barrier, t));
                } else if group.parent.is_none_or(|p| chain.contains(&p)) {
                    model.edges.push((t, barrier));
                }
            }
        }
        model.dependency_edges = model.edges.len();
        // Each `if`'s branches' tasks, nested ones included; branches without tasks never matter.
        let mut branch_tasks: Vec<BTreeMap<usize, Vec<usize>>> = vec![BTreeMap::new(); model.ifs.len()];
        for (t, memberships) in model.branches.iter().enumerate() {
            for &(id, g) in memberships {
                branch_tasks[id].entry(g).or_default().push(t);
            }
        }
        let mut searched = vec![false; model.ifs.len()];
        let mut order = Order::new(model.items, &model.edges);
        for (id, branches) in branch_tasks.into_iter().enumerate() {
            model.ifs[id] = branches.keys().copied().collect();
            let branches: Vec<Vec<usize>> = branches.into_values().collect();
            if branches.len() < 2 {
                continue;
            }
            let chained = if order.can_chain(&branches) {
                Some(branches)
            } else {
                let reversed: Vec<Vec<usize>> = branches.into_iter().rev().collect();
                (reversed.len() == 2 && order.can_chain(&reversed)).then_some(reversed)
            };
            searched[id] = chained.is_none();
            if let Some(branches) = chained {
                for pair in branches.windows(2) {
                    let link = model.items;
                    model.items += 1;
                    order.add_item();
                    for &t in &pair[0] {
                        model.edges.push((t, link));
                        order.add_edge(t, link);
                    }
                    for &t in &pair[1] {
                        model.edges.push((link, t));
                        order.add_edge(link, t);
                    }
                }
            }
        }
        for memberships in &mut model.branches {
            memberships.retain(|(id, _)| searched[*id]);
        }
        model
    }

    /// Task weights with the tasks of branches other than those chosen weighing nothing.
    fn weights(&self, base: &[u64], choices: &BTreeMap<usize, usize>) -> Vec<u64> {
        let mut weights = vec![0; self.items];
        for t in 0..self.tasks {
            let excluded = self.branches[t].iter().any(|(id, g)| choices.get(id).is_some_and(|c| c != g));
            if !excluded {
                weights[t] = base[t].saturating_mul(self.copies[t]);
            }
        }
        weights
    }

    /// The outermost `if` whose branches the antichain mixes.
    fn first_mix(&self, antichain: &[usize]) -> Option<usize> {
        let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
        let mut mixed: Option<usize> = None;
        for &t in antichain {
            for &(id, g) in &self.branches[t] {
                match seen.get(&id) {
                    Some(first) if *first != g => mixed = Some(mixed.map_or(id, |m| m.min(id))),
                    Some(_) => {}
                    None => {
                        seen.insert(id, g);
                    }
                }
            }
        }
        mixed
    }

    /// The antichain without its mixes: for each mixed `if`, outermost first, only the heaviest
    /// branch's tasks stay.
    fn unmix(&self, antichain: &[usize], weights: &[u64]) -> Vec<usize> {
        let mut kept = antichain.to_vec();
        for id in 0..self.ifs.len() {
            let mut totals: BTreeMap<usize, u128> = BTreeMap::new();
            for &t in &kept {
                if let Some((_, g)) = self.branches[t].iter().find(|(i, _)| *i == id) {
                    *totals.entry(*g).or_insert(0) += u128::from(weights[t]);
                }
            }
            if totals.len() < 2 {
                continue;
            }
            let best = totals.iter().max_by_key(|(g, total)| (**total, Reverse(**g))).map(|(g, _)| *g);
            kept.retain(|t| self.branches[*t].iter().all(|(i, g)| *i != id || Some(*g) == best));
        }
        kept
    }
}

/// The order as adjacency lists, for the check that an `if`'s branches can be chained, with
/// scratch marks reused across searches (a pipeline may have thousands of `if`s).
struct Order {
    successors: Vec<Vec<usize>>,
    predecessors: Vec<Vec<usize>>,
    /// Per item: the branch it is in during a check, or `usize::MAX`.
    position: Vec<usize>,
    visited: Vec<u32>,
    wanted: Vec<u32>,
    generation: u32,
}

impl Order {
    fn new(items: usize, edges: &[(usize, usize)]) -> Order {
        let mut order = Order {
            successors: vec![Vec::new(); items],
            predecessors: vec![Vec::new(); items],
            position: vec![usize::MAX; items],
            visited: vec![0; items],
            wanted: vec![0; items],
            generation: 0,
        };
        for &(u, v) in edges {
            order.add_edge(u, v);
        }
        order
    }

    fn add_item(&mut self) {
        self.successors.push(Vec::new());
        self.predecessors.push(Vec::new());
        self.position.push(usize::MAX);
        self.visited.push(0);
        self.wanted.push(0);
    }

    fn add_edge(&mut self, u: usize, v: usize) {
        self.successors[u].push(v);
        self.predecessors[v].push(u);
    }

    /// Whether putting the branches (lists of tasks) one after the other orders nothing else (see
    /// the module documentation).
    fn can_chain(&mut self, branches: &[Vec<usize>]) -> bool {
        for (i, branch) in branches.iter().enumerate() {
            for &t in branch {
                self.position[t] = i;
            }
        }
        let result = self.check_chain(branches);
        for &t in branches.iter().flatten() {
            self.position[t] = usize::MAX;
        }
        result
    }

    fn check_chain(&mut self, branches: &[Vec<usize>]) -> bool {
        let inside = |order: &Order, v: usize| order.position[v] != usize::MAX;
        // No dependency runs from a later branch to an earlier one.
        for &t in branches.iter().flatten() {
            if self.successors[t].iter().any(|&s| inside(self, s) && self.position[s] < self.position[t]) {
                return false;
            }
        }
        for j in 1..branches.len() {
            // What an earlier branch depends on from outside comes before every task of this one
            // (checking this branch's first tasks is enough).
            let mut entries: Vec<usize> = branches[..j]
                .iter()
                .flatten()
                .flat_map(|&t| self.predecessors[t].iter().copied())
                .filter(|&x| !inside(self, x))
                .collect();
            entries.sort_unstable();
            entries.dedup();
            if !entries.is_empty() {
                let firsts: Vec<usize> = branches[j]
                    .iter()
                    .copied()
                    .filter(|&t| self.predecessors[t].iter().all(|&p| self.position[p] != j))
                    .collect();
                for first in firsts {
                    if !self.ancestors_include(first, &entries) {
                        return false;
                    }
                }
            }
            // What depends on this branch from outside comes after every task of the earlier ones.
            let mut exits: Vec<usize> = branches[j]
                .iter()
                .flat_map(|&t| self.successors[t].iter().copied())
                .filter(|&s| !inside(self, s))
                .collect();
            exits.sort_unstable();
            exits.dedup();
            let earlier: Vec<usize> = branches[..j].iter().flatten().copied().collect();
            for exit in exits {
                if !self.ancestors_include(exit, &earlier) {
                    return false;
                }
            }
        }
        true
    }

    /// Whether every item of `wanted` comes before `start`; stops as soon as all are found.
    fn ancestors_include(&mut self, start: usize, wanted: &[usize]) -> bool {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.visited.fill(0);
            self.wanted.fill(0);
            self.generation = 1;
        }
        let generation = self.generation;
        let mut missing = 0;
        for &w in wanted {
            if self.wanted[w] != generation {
                self.wanted[w] = generation;
                missing += 1;
            }
        }
        let mut stack = vec![start];
        while missing > 0 {
            let Some(v) = stack.pop() else { return false };
            for i in 0..self.predecessors[v].len() {
                let p = self.predecessors[v][i];
                if self.visited[p] != generation {
                    self.visited[p] = generation;
                    if self.wanted[p] == generation {
                        missing -= 1;
                    }
                    stack.push(p);
                }
            }
        }
        true
    }
}

/// The groups around a task, outermost first, ignoring indices out of range and parent cycles.
fn valid_chain(dag: &Dag, group: Option<usize>) -> Vec<usize> {
    let mut chain = Vec::new();
    let mut current = group.filter(|g| *g < dag.groups.len());
    while let Some(g) = current {
        if chain.contains(&g) {
            break;
        }
        chain.push(g);
        current = dag.groups[g].parent.filter(|p| *p < dag.groups.len());
    }
    chain.reverse();
    chain
}

fn peak(model: &Model, base: &[u64]) -> Peak {
    let unknown_loop = (0..model.tasks).any(|t| base[t] > 0 && model.copies_lower_bound[t]);
    let (amount, antichain, complete) = search_branches(model, base);
    Peak {
        amount: u64::try_from(amount).unwrap_or(u64::MAX),
        tasks: antichain.into_iter().map(|t| PeakTask { task: NodeIndex::new(t), copies: model.copies[t] }).collect(),
        lower_bound: unknown_loop || !complete,
    }
}

/// Best-first branch and bound over the `if`s whose branches the antichain mixes. Returns the
/// amount, the antichain and whether the search finished.
fn search_branches(model: &Model, base: &[u64]) -> (u128, Vec<usize>, bool) {
    let flow_limit = (BRANCH_SEARCH_WORK / (model.items + model.edges.len()).max(1)).max(BRANCH_SEARCH_MIN_FLOWS);
    let solve = |choices: &BTreeMap<usize, usize>| {
        max_weight_antichain(model.items, &model.edges, &model.weights(base, choices))
    };
    // Open nodes: branch choices and the antichain under them, by bound (then first made first).
    let mut nodes: Vec<(BTreeMap<usize, usize>, Vec<usize>)> = Vec::new();
    let mut queue: BinaryHeap<(u128, Reverse<usize>)> = BinaryHeap::new();
    let (amount, antichain) = solve(&BTreeMap::new());
    let mut flows = 1;
    queue.push((amount, Reverse(0)));
    nodes.push((BTreeMap::new(), antichain));
    let mut best: Option<(u128, Vec<usize>)> = None;
    while let Some((bound, Reverse(id))) = queue.pop() {
        if let Some((amount, antichain)) = best.as_ref().filter(|(amount, _)| *amount >= bound) {
            return (*amount, antichain.clone(), true);
        }
        let (choices, antichain) = std::mem::take(&mut nodes[id]);
        let Some(mixed) = model.first_mix(&antichain) else {
            return (bound, antichain, true);
        };
        let weights = model.weights(base, &choices);
        let unmixed = model.unmix(&antichain, &weights);
        let unmixed_amount: u128 = unmixed.iter().map(|t| u128::from(weights[*t])).sum();
        if best.as_ref().is_none_or(|(amount, _)| unmixed_amount > *amount) {
            best = Some((unmixed_amount, unmixed));
        }
        if flows + model.ifs[mixed].len() > flow_limit {
            let (amount, antichain) = best.unwrap_or_default();
            return (amount, antichain, false);
        }
        for &g in &model.ifs[mixed] {
            let mut next = choices.clone();
            next.insert(mixed, g);
            let (amount, antichain) = solve(&next);
            flows += 1;
            if best.as_ref().is_none_or(|(best, _)| amount > *best) {
                queue.push((amount, Reverse(nodes.len())));
                nodes.push((next, antichain));
            }
        }
    }
    let (amount, antichain) = best.unwrap_or_default();
    (amount, antichain, true)
}

/// The maximum weight antichain of the partial order generated by `edges` on `0..items` (`u`
/// before `v` for each `(u, v)`, transitively): its weight and its items of positive weight, in
/// increasing order. `edges` must not form a cycle; out-of-range items and self-loops are ignored.
///
/// Weighted Dilworth: the weight equals the minimum flow from `s` to `t` in the network where
/// each item `v` is an edge `in_v → out_v` that must carry at least `weights[v]`, with unbounded
/// edges `s → in_v`, `out_v → t` and `out_u → in_v` for each `(u, v)`. Sending each item's weight
/// along its own path is feasible; the minimum is that total less a maximum flow from `t` back
/// to `s` in the residual network, which is what is computed here (Dinic). The antichain is read
/// off the minimum cut: the items whose `out` is reachable from `t` in the final residual network
/// and whose `in` is not. (An unbounded `in_v → out_v` edge means an item `v` reached at `in_v` is
/// reached at `out_v` too, and an unbounded `out_u → in_v` edge means no item after a counted one
/// is counted: the counted items form an antichain, and their weight is the cut's.)
pub fn max_weight_antichain(items: usize, edges: &[(usize, usize)], weights: &[u64]) -> (u128, Vec<usize>) {
    let weight = |v: usize| weights.get(v).copied().unwrap_or(0);
    // Network nodes: 0 = t (the reverse flow's source), 1 = s (its sink), 2 + 2v = out_v, 3 + 2v = in_v.
    let out = |v: usize| 2 + 2 * v;
    let inn = |v: usize| 3 + 2 * v;
    let mut network = Network::builder(2 + 2 * items, 3 * items + edges.len());
    let mut total: u128 = 0;
    for v in 0..items {
        let w = u128::from(weight(v));
        if w > 0 {
            network.add_edge(0, out(v), w);
            network.add_edge(inn(v), 1, w);
            total += w;
        }
        network.add_edge(inn(v), out(v), INFINITE);
    }
    for &(u, v) in edges {
        if u < items && v < items && u != v {
            network.add_edge(out(u), inn(v), INFINITE);
        }
    }
    let mut network = network.build();
    let reduced = network.max_flow(0, 1);
    let reachable = network.reachable_from(0);
    let antichain: Vec<usize> =
        (0..items).filter(|&v| weight(v) > 0 && reachable[out(v)] && !reachable[inn(v)]).collect();
    (total - reduced, antichain)
}

const INFINITE: u128 = u128::MAX / 4;

/// A flow network for Dinic's algorithm; an edge's reverse is the edge index xor 1. Built edge by
/// edge, then frozen into arrays (one allocation per array, not per node).
struct Network {
    /// Edges leaving node `u`: `outgoing[start[u]..start[u + 1]]`.
    start: Vec<usize>,
    outgoing: Vec<usize>,
    to: Vec<usize>,
    capacity: Vec<u128>,
}

struct NetworkBuilder {
    nodes: usize,
    to: Vec<usize>,
    capacity: Vec<u128>,
}

impl NetworkBuilder {
    fn add_edge(&mut self, from: usize, to: usize, capacity: u128) {
        self.to.extend([to, from]);
        self.capacity.extend([capacity, 0]);
    }

    fn build(self) -> Network {
        let mut start = vec![0; self.nodes + 1];
        // The tail of edge `e` is the head of its reverse.
        for e in 0..self.to.len() {
            start[self.to[e ^ 1] + 1] += 1;
        }
        for u in 0..self.nodes {
            start[u + 1] += start[u];
        }
        let mut fill = start.clone();
        let mut outgoing = vec![0; self.to.len()];
        for e in 0..self.to.len() {
            let from = self.to[e ^ 1];
            outgoing[fill[from]] = e;
            fill[from] += 1;
        }
        Network { start, outgoing, to: self.to, capacity: self.capacity }
    }
}

impl Network {
    fn builder(nodes: usize, edges: usize) -> NetworkBuilder {
        NetworkBuilder { nodes, to: Vec::with_capacity(2 * edges), capacity: Vec::with_capacity(2 * edges) }
    }

    fn edges_from(&self, u: usize) -> &[usize] {
        &self.outgoing[self.start[u]..self.start[u + 1]]
    }

    fn levels(&self, source: usize) -> Vec<usize> {
        let mut level = vec![usize::MAX; self.start.len() - 1];
        level[source] = 0;
        let mut queue = VecDeque::from([source]);
        while let Some(u) = queue.pop_front() {
            for &e in self.edges_from(u) {
                let v = self.to[e];
                if self.capacity[e] > 0 && level[v] == usize::MAX {
                    level[v] = level[u] + 1;
                    queue.push_back(v);
                }
            }
        }
        level
    }

    fn reachable_from(&self, source: usize) -> Vec<bool> {
        self.levels(source).into_iter().map(|l| l != usize::MAX).collect()
    }

    fn max_flow(&mut self, source: usize, sink: usize) -> u128 {
        let mut flow = 0;
        loop {
            let mut level = self.levels(source);
            if level[sink] == usize::MAX {
                return flow;
            }
            let mut next = self.start[..self.start.len() - 1].to_vec();
            flow += self.blocking_flow(source, sink, &mut level, &mut next);
        }
    }

    /// One phase of Dinic, with an explicit stack (chains of thousands of tasks are deep).
    fn blocking_flow(&mut self, source: usize, sink: usize, level: &mut [usize], next: &mut [usize]) -> u128 {
        let mut flow = 0;
        let mut path: Vec<usize> = Vec::new();
        let mut u = source;
        loop {
            if u == sink {
                let pushed = path.iter().map(|&e| self.capacity[e]).min().unwrap_or(0);
                for &e in &path {
                    self.capacity[e] -= pushed;
                    self.capacity[e ^ 1] += pushed;
                }
                flow += pushed;
                // Back to the tail of the first saturated edge.
                let saturated = path.iter().position(|&e| self.capacity[e] == 0).unwrap_or(0);
                path.truncate(saturated);
                u = path.last().map_or(source, |&e| self.to[e]);
                continue;
            }
            let mut advanced = false;
            while next[u] < self.start[u + 1] {
                let e = self.outgoing[next[u]];
                let v = self.to[e];
                if self.capacity[e] > 0 && level[v] == level[u] + 1 {
                    path.push(e);
                    u = v;
                    advanced = true;
                    break;
                }
                next[u] += 1;
            }
            if !advanced {
                // A dead end: never visit it again in this phase.
                level[u] = usize::MAX;
                match path.pop() {
                    Some(e) => {
                        u = self.to[e ^ 1];
                        next[u] += 1;
                    }
                    None => return flow,
                }
            }
        }
    }
}

fn critical_path(dag: &Dag, model: &Model) -> (Vec<NodeIndex>, PathLength) {
    let by_timeout = model.tasks > 0 && dag.graph.node_weights().all(|t| t.settings.timeout.is_some());
    let mut weight = vec![0u64; model.items];
    for (t, task) in dag.graph.node_weights().enumerate() {
        weight[t] = if by_timeout {
            task.settings.timeout.map_or(0, Duration::seconds).saturating_mul(model.rounds[t])
        } else {
            1
        };
    }
    let mut successors = vec![Vec::new(); model.items];
    let mut indegree = vec![0usize; model.items];
    for &(u, v) in &model.edges[..model.dependency_edges] {
        successors[u].push(v);
        indegree[v] += 1;
    }
    // Kahn's algorithm, lowest index first; the best predecessor is the longest, then the lowest.
    let mut ready: BinaryHeap<Reverse<usize>> = (0..model.items).filter(|v| indegree[*v] == 0).map(Reverse).collect();
    let mut into = vec![0u64; model.items];
    let mut predecessor: Vec<Option<usize>> = vec![None; model.items];
    let mut length = vec![0u64; model.items];
    while let Some(Reverse(v)) = ready.pop() {
        length[v] = into[v].saturating_add(weight[v]);
        for &w in &successors[v] {
            let better = match predecessor[w] {
                None => true,
                Some(p) => length[v] > into[w] || (length[v] == into[w] && v < p),
            };
            if better {
                into[w] = length[v];
                predecessor[w] = Some(v);
            }
            indegree[w] -= 1;
            if indegree[w] == 0 {
                ready.push(Reverse(w));
            }
        }
    }
    let end = (0..model.tasks).max_by_key(|v| (length[*v], Reverse(*v)));
    let mut path = Vec::new();
    let mut current = end;
    while let Some(v) = current {
        if path.len() > model.items {
            break;
        }
        if v < model.tasks {
            path.push(v);
        }
        current = predecessor[v];
    }
    path.reverse();
    let total = end.map_or(0, |v| length[v]);
    let path_length = if by_timeout {
        PathLength::Timeouts { seconds: total, lower_bound: path.iter().any(|t| model.rounds_lower_bound[*t]) }
    } else {
        PathLength::Tasks(path.len())
    };
    (path.into_iter().map(NodeIndex::new).collect(), path_length)
}

/// The summary as a two-column text table, for `kflc build --summary`.
pub fn render_summary(summary: &Summary, dag: &Dag) -> String {
    let name = |index: NodeIndex| dag.graph.node_weight(index).map_or_else(|| "?".to_string(), |t| t.name.clone());
    let mut rows: Vec<(String, String)> = Vec::new();
    rows.push(("pipeline".into(), dag.name.clone()));
    rows.push(("tasks".into(), summary.task_count.to_string()));
    rows.push((
        "tasks, loops expanded".into(),
        format!(
            "{}{}",
            if summary.task_count_expanded_is_lower_bound { "at least " } else { "" },
            summary.task_count_expanded
        ),
    ));
    rows.push(("components".into(), summary.components.to_string()));
    let path: Vec<String> = summary.critical_path.iter().map(|t| name(*t)).collect();
    let length = match summary.critical_path_length {
        PathLength::Tasks(1) => "1 task".to_string(),
        PathLength::Tasks(n) => format!("{n} tasks"),
        PathLength::Timeouts { seconds, lower_bound } => format!(
            "{}{} of timeouts",
            if lower_bound { "at least " } else { "" },
            Duration::from_seconds(seconds).map_or_else(|| "0s".to_string(), |d| d.to_string())
        ),
    };
    rows.push(("critical path".into(), format!("{length}: {}", path.join(" → "))));
    type Format = fn(u64) -> String;
    let peaks: [(&str, &Peak, Format); 3] = [
        ("peak cpu", &summary.peak_cpu_millicores, |n| Cpu::from_millicores(n).map_or("0".into(), |c| c.to_k8s())),
        ("peak memory", &summary.peak_memory_bytes, |n| Memory::from_bytes(n).map_or("0".into(), |m| m.to_k8s())),
        ("peak gpus", &summary.peak_gpus, |n| n.to_string()),
    ];
    let amounts: Vec<String> = peaks
        .iter()
        .map(|(_, peak, format)| format!("{}{}", if peak.lower_bound { "≥ " } else { "" }, format(peak.amount)))
        .collect();
    let amount_width = amounts.iter().map(|a| a.chars().count()).max().unwrap_or(0);
    for ((label, peak, _), amount) in peaks.iter().zip(&amounts) {
        const SHOWN: usize = 8;
        let mut tasks: Vec<String> = peak
            .tasks
            .iter()
            .take(SHOWN)
            .map(|t| if t.copies == 1 { name(t.task) } else { format!("{} × {}", t.copies, name(t.task)) })
            .collect();
        if peak.tasks.len() > SHOWN {
            tasks.push(format!("and {} more", peak.tasks.len() - SHOWN));
        }
        let padding = amount_width - amount.chars().count();
        let value = format!("{amount}{}  {}", " ".repeat(padding), tasks.join(", "));
        rows.push(((*label).to_string(), value.trim_end().to_string()));
    }
    let width = rows.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (label, value) in rows {
        let _ = writeln!(out, "{label:<width$}  {value}");
    }
    out
}
