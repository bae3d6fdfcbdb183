//! Summaries: hand-built pipelines with known answers, a brute-force cross-check of the peaks on
//! random small pipelines, the examples' summary tables, and a pipeline of 10,000 tasks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kfl_check::Database;
use kfl_dag::analysis::{max_weight_antichain, render_summary, summarize, PathLength, Peak, Summary};
use kfl_dag::*;
use kfl_model::units::{Cpu, Duration, Memory};
use kfl_project::lower;
use petgraph::graph::{DiGraph, NodeIndex};

// ---------------------------------------------------------------------------------------------
// Building pipelines by hand
// ---------------------------------------------------------------------------------------------

struct Builder {
    graph: DiGraph<Task, Edge>,
    groups: Vec<Group>,
}

impl Builder {
    fn new() -> Builder {
        Builder { graph: DiGraph::new(), groups: Vec::new() }
    }

    /// A task requesting `cpu` millicores (none for 0).
    fn task(&mut self, name: &str, group: Option<usize>, cpu: u64) -> NodeIndex {
        let settings = Settings { cpu: Cpu::from_millicores(cpu), ..Settings::default() };
        self.graph.add_node(Task {
            name: name.to_string(),
            k8s_name: name.replace('_', "-"),
            display_name: None,
            component: 0,
            args: Vec::new(),
            group,
            settings,
            trigger: Trigger::AllSucceeded,
        })
    }

    fn after(&mut self, producer: NodeIndex, consumer: NodeIndex) {
        self.graph.add_edge(producer, consumer, Edge::Data { output: "out".into(), input: Some("in".into()) });
    }

    fn group(&mut self, kind: GroupKind, parent: Option<usize>) -> usize {
        self.groups.push(Group { kind, parent, k8s_name: format!("group-{}", self.groups.len()) });
        self.groups.len() - 1
    }

    /// The branches of one `if` (told apart by `of_if`), as groups.
    fn branches(&mut self, count: usize, of_if: usize, parent: Option<usize>) -> Vec<usize> {
        (0..count)
            .map(|branch| {
                let condition = Condition::Is(Operand::Param(format!("p{of_if}")));
                self.group(GroupKind::Condition { condition, branch, of_if }, parent)
            })
            .collect()
    }

    fn for_loop(&mut self, items: LoopItems, parallelism: Option<u32>, parent: Option<usize>) -> usize {
        self.group(GroupKind::Loop { var: "x".into(), items, parallelism }, parent)
    }

    fn dag(self) -> Dag {
        Dag {
            name: "handmade".into(),
            k8s_name: "handmade".into(),
            description: None,
            display_name: None,
            source: "handmade.kfl".into(),
            params: Vec::new(),
            outputs: Vec::new(),
            components: vec![Component {
                name: "work".into(),
                k8s_name: "work".into(),
                doc: None,
                inputs: Vec::new(),
                outputs: Vec::new(),
                image: "alpine".into(),
                packages: Vec::new(),
                body: Body::Container { command: Vec::new(), args: Vec::new() },
                source: "handmade.kfl".into(),
            }],
            graph: self.graph,
            groups: self.groups,
        }
    }
}

fn values(n: usize) -> LoopItems {
    LoopItems::Values((0..n as i64).map(Value::Int).collect())
}

/// A peak's amount and task names.
fn cpu_peak(dag: &Dag) -> (u64, Vec<String>, bool) {
    let peak = summarize(dag).peak_cpu_millicores;
    (peak.amount, peak.tasks.iter().map(|t| dag.task(t.task).name.clone()).collect(), peak.lower_bound)
}

fn names(dag: &Dag, tasks: &[NodeIndex]) -> Vec<String> {
    tasks.iter().map(|t| dag.task(*t).name.clone()).collect()
}

// ---------------------------------------------------------------------------------------------
// Known answers
// ---------------------------------------------------------------------------------------------

#[test]
fn a_diamond_peaks_at_its_two_middle_tasks() {
    let mut b = Builder::new();
    let top = b.task("top", None, 1000);
    let left = b.task("left", None, 2000);
    let right = b.task("right", None, 3000);
    let bottom = b.task("bottom", None, 4000);
    b.after(top, left);
    b.after(top, right);
    b.after(left, bottom);
    b.after(right, bottom);
    let dag = b.dag();
    assert_eq!(cpu_peak(&dag), (5000, vec!["left".into(), "right".into()], false));
    let summary = summarize(&dag);
    assert_eq!(summary.task_count, 4);
    assert_eq!(summary.critical_path_length, PathLength::Tasks(3));
    assert_eq!(names(&dag, &summary.critical_path), ["top", "left", "bottom"], "ties go to lower indices");
}

#[test]
fn two_chains_add_their_heaviest_tasks() {
    let mut b = Builder::new();
    let a: Vec<NodeIndex> =
        [1000, 5000, 1000].iter().enumerate().map(|(i, c)| b.task(&format!("a{i}"), None, *c)).collect();
    let c: Vec<NodeIndex> = [4000, 2000].iter().enumerate().map(|(i, m)| b.task(&format!("b{i}"), None, *m)).collect();
    b.after(a[0], a[1]);
    b.after(a[1], a[2]);
    b.after(c[0], c[1]);
    let dag = b.dag();
    assert_eq!(cpu_peak(&dag), (9000, vec!["a1".into(), "b0".into()], false));
}

#[test]
fn a_chain_never_overlaps_itself() {
    // A transitive dependency counts: a0 and a2 never run together although no edge joins them.
    let mut b = Builder::new();
    let a: Vec<NodeIndex> = (0..3).map(|i| b.task(&format!("a{i}"), None, 1000 * (i + 1))).collect();
    b.after(a[0], a[1]);
    b.after(a[1], a[2]);
    assert_eq!(cpu_peak(&b.dag()).0, 3000);
}

#[test]
fn a_fan_out_peaks_at_its_leaves() {
    let mut b = Builder::new();
    let root = b.task("root", None, 3000);
    for i in 0..10 {
        let leaf = b.task(&format!("leaf{i}"), None, 500);
        b.after(root, leaf);
    }
    let (amount, tasks, _) = cpu_peak(&b.dag());
    assert_eq!(amount, 5000);
    assert_eq!(tasks.len(), 10);
}

#[test]
fn tasks_that_request_nothing_are_not_listed() {
    let mut b = Builder::new();
    b.task("idle", None, 0);
    b.task("busy", None, 250);
    let dag = b.dag();
    assert_eq!(cpu_peak(&dag), (250, vec!["busy".into()], false));
    assert_eq!(summarize(&dag).peak_gpus, Peak::default());
}

#[test]
fn branches_of_one_if_never_run_together() {
    let mut b = Builder::new();
    let check = b.task("check", None, 1000);
    let branches = b.branches(2, 10, None);
    let deploy = b.task("deploy", Some(branches[0]), 5000);
    let notify = b.task("notify", Some(branches[1]), 7000);
    b.task("other", None, 1000);
    b.after(check, deploy);
    b.after(check, notify);
    let dag = b.dag();
    // 5 + 7 + 1 without the rule.
    assert_eq!(cpu_peak(&dag), (8000, vec!["notify".into(), "other".into()], false));
}

#[test]
fn a_branch_excludes_the_other_branches_only() {
    // Putting the branches one after the other would also put `slow` (which only `then`
    // depends on) before `otherwise`, and miss that `slow` and `otherwise` can run together.
    let mut b = Builder::new();
    let slow = b.task("slow", None, 4000);
    let branches = b.branches(2, 3, None);
    let then = b.task("then", Some(branches[0]), 1000);
    b.task("otherwise", Some(branches[1]), 5000);
    b.after(slow, then);
    let dag = b.dag();
    assert_eq!(cpu_peak(&dag), (9000, vec!["slow".into(), "otherwise".into()], false));
}

#[test]
fn separate_ifs_and_nested_ifs_each_choose_a_branch() {
    let mut b = Builder::new();
    let first = b.branches(2, 1, None);
    b.task("a", Some(first[0]), 1000);
    b.task("b", Some(first[1]), 2000);
    let second = b.branches(3, 2, None);
    b.task("c", Some(second[0]), 4000);
    let inner = b.branches(2, 5, Some(second[1]));
    b.task("d1", Some(inner[0]), 3000);
    b.task("d2", Some(inner[1]), 3000);
    b.task("d", Some(second[1]), 500);
    b.task("e", Some(second[2]), 1000);
    let dag = b.dag();
    // b (2) + the best of c (4), d + d1 or d2 (3.5), e (1).
    assert_eq!(cpu_peak(&dag), (6000, vec!["b".into(), "c".into()], false));
}

#[test]
fn loops_multiply_by_the_iterations_that_run_at_once() {
    let mut b = Builder::new();
    let five_by_two = b.for_loop(values(5), Some(2), None);
    b.task("limited", Some(five_by_two), 1000);
    let three = b.for_loop(values(3), None, None);
    b.task("all", Some(three), 100);
    let nested = b.for_loop(values(4), None, Some(five_by_two));
    b.task("nested", Some(nested), 10);
    let dag = b.dag();
    let summary = summarize(&dag);
    // 2 × 1000 + 3 × 100 + 2 × 4 × 10.
    assert_eq!(summary.peak_cpu_millicores.amount, 2380);
    let copies: Vec<u64> = summary.peak_cpu_millicores.tasks.iter().map(|t| t.copies).collect();
    assert_eq!(copies, [2, 3, 8]);
    assert!(!summary.peak_cpu_millicores.lower_bound);
    assert_eq!(summary.task_count, 3);
    assert_eq!(summary.task_count_expanded, 5 + 3 + 20);
    assert!(!summary.task_count_expanded_is_lower_bound);
}

#[test]
fn a_loop_over_a_list_known_at_run_time() {
    let mut b = Builder::new();
    let limited = b.for_loop(LoopItems::Param("regions".into()), Some(3), None);
    b.task("limited", Some(limited), 1000);
    let dag = b.dag();
    let summary = summarize(&dag);
    // `parallel 3` caps it, whatever the list: not a lower bound.
    assert_eq!(summary.peak_cpu_millicores.amount, 3000);
    assert!(!summary.peak_cpu_millicores.lower_bound);
    assert!(summary.task_count_expanded_is_lower_bound);

    let mut b = Builder::new();
    let source = b.task("source", None, 0);
    let open = b.for_loop(LoopItems::Output { task: source, output: "files".into() }, None, None);
    b.task("unbounded", Some(open), 1000);
    let dag = b.dag();
    let summary = summarize(&dag);
    assert_eq!(summary.peak_cpu_millicores.amount, 1000);
    assert!(summary.peak_cpu_millicores.lower_bound, "counted once, may be more");
    assert!(!summary.peak_memory_bytes.lower_bound, "requests no memory");
    assert_eq!(summary.task_count_expanded, 2);
    assert!(summary.task_count_expanded_is_lower_bound);
}

#[test]
fn an_empty_loop_list_runs_nothing() {
    let mut b = Builder::new();
    let empty = b.for_loop(values(0), None, None);
    b.task("never", Some(empty), 1000);
    b.task("once", None, 10);
    let dag = b.dag();
    assert_eq!(cpu_peak(&dag), (10, vec!["once".into()], false));
    assert_eq!(summarize(&dag).task_count_expanded, 1);
}

#[test]
fn finally_never_overlaps_the_body() {
    let mut b = Builder::new();
    b.task("a", None, 2000);
    b.task("b", None, 3000);
    let exit = b.group(GroupKind::ExitHandler, None);
    b.task("cleanup", Some(exit), 10_000);
    b.task("notify", Some(exit), 1000);
    let dag = b.dag();
    assert_eq!(cpu_peak(&dag), (11_000, vec!["cleanup".into(), "notify".into()], false));
    let summary = summarize(&dag);
    assert_eq!(names(&dag, &summary.critical_path), ["a", "cleanup"]);
}

#[test]
fn finally_of_a_called_pipeline_follows_that_pipeline_only() {
    let mut b = Builder::new();
    let outside = b.task("outside", None, 1000);
    let called = b.group(GroupKind::SubPipeline { task: "sub".into(), pipeline: "inner".into() }, None);
    let body = b.task("sub.body", Some(called), 2000);
    let exit = b.group(GroupKind::ExitHandler, Some(called));
    let cleanup = b.task("sub.cleanup", Some(exit), 4000);
    let dag = b.dag();
    let _ = (outside, body, cleanup);
    assert_eq!(cpu_peak(&dag), (5000, vec!["outside".into(), "sub.cleanup".into()], false));
}

#[test]
fn the_critical_path_counts_timeouts_when_every_task_has_one() {
    let mut b = Builder::new();
    let a = b.task("a", None, 0);
    let quick = b.task("quick", None, 0);
    let slow = b.task("slow", None, 0);
    let end = b.task("end", None, 0);
    let sweep = b.for_loop(values(5), Some(2), None);
    let trial = b.task("trial", Some(sweep), 0);
    b.after(a, quick);
    b.after(quick, end);
    b.after(a, slow);
    b.after(slow, end);
    let mut dag = b.dag();
    let minutes = [(a, 1), (quick, 1), (slow, 30), (end, 1), (trial, 20)];
    // Without every timeout: the longest chain by task count (lowest indices on a tie).
    assert_eq!(summarize(&dag).critical_path_length, PathLength::Tasks(3));
    assert_eq!(names(&dag, &summarize(&dag).critical_path), ["a", "quick", "end"]);
    for (task, m) in minutes {
        dag.graph[task].settings.timeout = Duration::from_seconds(60 * m);
    }
    let summary = summarize(&dag);
    // The sweep needs three rounds of 20 minutes: longer than a → slow → end (32 minutes).
    assert_eq!(summary.critical_path_length, PathLength::Timeouts { seconds: 3600, lower_bound: false });
    assert_eq!(names(&dag, &summary.critical_path), ["trial"]);
    dag.graph[trial].settings.timeout = Duration::from_seconds(60 * 5);
    let summary = summarize(&dag);
    assert_eq!(summary.critical_path_length, PathLength::Timeouts { seconds: 32 * 60, lower_bound: false });
    assert_eq!(names(&dag, &summary.critical_path), ["a", "slow", "end"]);
}

#[test]
fn an_empty_pipeline_summarizes_to_nothing() {
    let dag = Builder::new().dag();
    let summary = summarize(&dag);
    assert_eq!(summary.task_count, 0);
    assert!(summary.critical_path.is_empty());
    assert_eq!(summary.peak_cpu_millicores, Peak::default());
    assert!(render_summary(&summary, &dag).contains("0 tasks"));
}

#[test]
fn memory_and_gpus_peak_separately() {
    let mut b = Builder::new();
    let a = b.task("a", None, 1000);
    let g = b.task("g", None, 0);
    let m = b.task("m", None, 0);
    b.after(a, g);
    let mut dag = b.dag();
    dag.graph[g].settings.gpu = Some(2);
    dag.graph[m].settings.memory = Memory::from_bytes(1 << 30);
    dag.graph[a].settings.memory = Memory::from_bytes(1 << 29);
    let summary = summarize(&dag);
    assert_eq!(summary.peak_gpus.amount, 2);
    assert_eq!(summary.peak_memory_bytes.amount, (1 << 30) + (1 << 29));
    assert_eq!(summary.peak_cpu_millicores.amount, 1000);
}

// ---------------------------------------------------------------------------------------------
// The flow against brute force
// ---------------------------------------------------------------------------------------------

/// xorshift64*: the same cases on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// `before[u][v]`: `u` comes before `v`, transitively.
fn closure(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<bool>> {
    let mut before = vec![vec![false; n]; n];
    for &(u, v) in edges {
        before[u][v] = true;
    }
    for k in 0..n {
        let through = before[k].clone();
        for row in before.iter_mut() {
            if row[k] {
                for (cell, after) in row.iter_mut().zip(&through) {
                    *cell |= *after;
                }
            }
        }
    }
    before
}

/// The heaviest set of items no two of which are ordered or `conflict`, by trying every set.
fn brute_force(n: usize, before: &[Vec<bool>], conflict: &dyn Fn(usize, usize) -> bool, weights: &[u64]) -> u64 {
    let mut best = 0;
    'sets: for set in 0u32..(1 << n) {
        let members: Vec<usize> = (0..n).filter(|i| set & (1 << i) != 0).collect();
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                if before[i][j] || before[j][i] || conflict(i, j) {
                    continue 'sets;
                }
            }
        }
        best = best.max(members.iter().map(|i| weights[*i]).sum());
    }
    best
}

fn is_free(members: &[usize], before: &[Vec<bool>], conflict: &dyn Fn(usize, usize) -> bool) -> bool {
    members.iter().all(|&i| members.iter().all(|&j| i == j || (!before[i][j] && !conflict(i, j))))
}

#[test]
fn the_flow_finds_the_heaviest_antichain_of_random_orders() {
    let mut random = Random(0x5eed_1234_abcd_0001);
    for case in 0..400 {
        let n = 1 + random.below(12) as usize;
        let density = random.below(60);
        let mut edges = Vec::new();
        for u in 0..n {
            for v in u + 1..n {
                if random.chance(density) {
                    edges.push((u, v));
                }
            }
        }
        let weights: Vec<u64> = (0..n).map(|_| if random.chance(20) { 0 } else { random.below(10) }).collect();
        let before = closure(n, &edges);
        let expected = brute_force(n, &before, &|_, _| false, &weights);
        let (amount, antichain) = max_weight_antichain(n, &edges, &weights);
        assert_eq!(amount, u128::from(expected), "case {case}: {edges:?} {weights:?}");
        assert!(is_free(&antichain, &before, &|_, _| false), "case {case}: {antichain:?} is not an antichain");
        assert_eq!(antichain.iter().map(|i| u128::from(weights[*i])).sum::<u128>(), amount, "case {case}");
    }
}

/// A random pipeline of at most 12 tasks with `if`s (nested too), loops and maybe a `finally`.
fn random_pipeline(random: &mut Random) -> Dag {
    let mut b = Builder::new();
    let n = 1 + random.below(12) as usize;
    // Places a task can be in: top level, or a group.
    let mut places: Vec<Option<usize>> = vec![None];
    let ifs = random.below(4) as usize;
    for i in 0..ifs {
        let parent = places[random.below(places.len() as u64) as usize];
        let count = 2 + random.below(2) as usize;
        places.extend(b.branches(count, 100 + i, parent).into_iter().map(Some));
    }
    if random.chance(40) {
        let parent = places[random.below(places.len() as u64) as usize];
        let parallelism = random.chance(50).then(|| 1 + random.below(3) as u32);
        places.push(Some(b.for_loop(values(random.below(4) as usize), parallelism, parent)));
    }
    let exit = random.chance(30).then(|| b.group(GroupKind::ExitHandler, None));
    let mut tasks = Vec::new();
    for i in 0..n {
        let group = match exit {
            Some(exit) if i + 2 > n && n > 1 => Some(exit),
            _ => places[random.below(places.len() as u64) as usize],
        };
        let cpu = if random.chance(15) { 0 } else { 1 + random.below(9) };
        tasks.push(b.task(&format!("t{i}"), group, cpu));
    }
    let density = random.below(40);
    for u in 0..n {
        for v in u + 1..n {
            if random.chance(density) {
                b.after(tasks[u], tasks[v]);
            }
        }
    }
    b.dag()
}

/// What the analysis documents, written out plainly: the order with `finally` after the body, the
/// branches of one `if` in conflict, requests times the iterations that run at once.
type Conflict<'a> = Box<dyn Fn(usize, usize) -> bool + 'a>;

fn plain_semantics(dag: &Dag) -> (Vec<Vec<bool>>, Conflict<'_>, Vec<u64>) {
    let n = dag.graph.node_count();
    let chain = |t: usize| dag.group_chain(dag.task(NodeIndex::new(t)).group);
    let in_exit = |t: usize| chain(t).iter().any(|g| matches!(dag.groups[*g].kind, GroupKind::ExitHandler));
    let mut edges: Vec<(usize, usize)> = dag
        .graph
        .edge_indices()
        .filter_map(|e| dag.graph.edge_endpoints(e))
        .map(|(a, b)| (a.index(), b.index()))
        .collect();
    for u in 0..n {
        for v in 0..n {
            if !in_exit(u) && in_exit(v) {
                edges.push((u, v));
            }
        }
    }
    let before = closure(n, &edges);
    let conflict = move |a: usize, b: usize| {
        let (ca, cb) = (chain(a), chain(b));
        ca.iter().any(|&x| {
            cb.iter().any(|&y| {
                x != y
                    && dag.groups[x].parent == dag.groups[y].parent
                    && matches!((&dag.groups[x].kind, &dag.groups[y].kind),
                        (GroupKind::Condition { of_if: i, .. }, GroupKind::Condition { of_if: j, .. }) if i == j)
            })
        })
    };
    let weights = (0..n)
        .map(|t| {
            let copies: u64 = chain(t)
                .iter()
                .map(|g| match &dag.groups[*g].kind {
                    GroupKind::Loop { items: LoopItems::Values(v), parallelism, .. } => {
                        parallelism.map_or(v.len() as u64, |p| (v.len() as u64).min(u64::from(p)))
                    }
                    _ => 1,
                })
                .product();
            dag.task(NodeIndex::new(t)).settings.cpu.map_or(0, Cpu::millicores) * copies
        })
        .collect();
    (before, Box::new(conflict), weights)
}

#[test]
fn peaks_match_brute_force_on_random_pipelines() {
    let mut random = Random(0x0ddb_a11c_0ffe_e007);
    let mut with_conflicts = 0;
    for case in 0..500 {
        let dag = random_pipeline(&mut random);
        let n = dag.graph.node_count();
        let (before, conflict, weights) = plain_semantics(&dag);
        let expected = brute_force(n, &before, &*conflict, &weights);
        let unconstrained = brute_force(n, &before, &|_, _| false, &weights);
        if unconstrained != expected {
            with_conflicts += 1;
        }
        let peak = summarize(&dag).peak_cpu_millicores;
        assert!(!peak.lower_bound, "case {case}: small searches finish");
        assert_eq!(peak.amount, expected, "case {case}: {dag:#?}");
        let members: Vec<usize> = peak.tasks.iter().map(|t| t.task.index()).collect();
        assert!(is_free(&members, &before, &*conflict), "case {case}: {members:?} can't run together");
        assert_eq!(members.iter().map(|t| weights[*t]).sum::<u64>(), peak.amount, "case {case}");
    }
    assert!(with_conflicts >= 40, "the cases exercise exclusive branches: {with_conflicts}");
}

// ---------------------------------------------------------------------------------------------
// Examples and scale
// ---------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(path: &str, pipeline: &str) -> Dag {
    let mut db = Database::default();
    let mut stack = vec![root().join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples") {
            let file = entry.expect("entry").path();
            if file.is_dir() {
                stack.push(file);
            } else if file.extension().is_some_and(|e| e == "kfl") {
                let rel = file.strip_prefix(root()).expect("inside").to_string_lossy().to_string();
                db.set_file(&rel, std::fs::read_to_string(&file).expect("read"));
            }
        }
    }
    let file = db.file(path).expect("file");
    lower(&db, file, Some(pipeline)).unwrap_or_else(|e| panic!("{path} {pipeline}: {e}"))
}

const EXAMPLES: [(&str, &str); 8] = [
    ("examples/simple_training.kfl", "simple_training"),
    ("examples/hyperparameter_sweep.kfl", "hyperparameter_sweep"),
    ("examples/exit_handler.kfl", "nightly_retrain"),
    ("examples/nested_pipelines.kfl", "prepare_features"),
    ("examples/nested_pipelines.kfl", "daily_scoring"),
    ("examples/quickstart.kfl", "quickstart"),
    ("examples/sklearn_training.kfl", "sklearn_training"),
    ("examples/multi_file/pipeline.kfl", "churn_training"),
];

#[test]
fn every_example_summary() {
    for (path, pipeline) in EXAMPLES {
        let dag = example(path, pipeline);
        let summary = summarize(&dag);
        insta::assert_snapshot!(format!("summary_{pipeline}"), render_summary(&summary, &dag));
    }
}

#[test]
fn the_simple_training_summary() {
    let dag = example("examples/simple_training.kfl", "simple_training");
    let summary = summarize(&dag);
    let trained = dag.graph.node_indices().find(|n| dag.task(*n).name == "trained").expect("trained");
    assert_eq!(summary.peak_gpus.amount, 1);
    assert_eq!(summary.peak_gpus.tasks.iter().map(|t| t.task).collect::<Vec<_>>(), [trained]);
    assert_eq!(summary.peak_cpu_millicores.amount, 8000);
    assert_eq!(names(&dag, &summary.critical_path), ["raw", "prep", "trained", "evaluation", "deploy_model"]);
}

#[test]
fn the_sweep_counts_its_trials() {
    let dag = example("examples/hyperparameter_sweep.kfl", "hyperparameter_sweep");
    let summary: Summary = summarize(&dag);
    assert_eq!(summary.task_count, 4);
    assert_eq!(summary.task_count_expanded, 6);
    let trial = summary.peak_cpu_millicores.tasks.iter().find(|t| dag.task(t.task).name == "trial");
    assert_eq!(trial.map(|t| t.copies), Some(2), "{summary:?}");
}

/// A pipeline of `n` tasks in layers, each depending on a few of the tasks just before it, with
/// `if`s and loops sprinkled in.
fn large_pipeline(n: usize, random: &mut Random) -> Dag {
    let mut b = Builder::new();
    let mut tasks = Vec::new();
    let mut current: Option<usize> = None;
    for i in 0..n {
        if i % 500 == 0 {
            current = match random.below(3) {
                0 => None,
                1 => Some(b.for_loop(values(1 + random.below(8) as usize), Some(4), None)),
                _ => Some(b.branches(2, i, None)[0]),
            };
        }
        let task = b.task(&format!("t{i}"), current, 100 + random.below(4000));
        for _ in 0..random.below(4) {
            if i > 0 {
                let back = 1 + random.below(40.min(i as u64)) as usize;
                b.after(tasks[i - back], task);
            }
        }
        tasks.push(task);
    }
    b.dag()
}

#[test]
fn ten_thousand_tasks_summarize() {
    let mut random = Random(0x1234_5678_9abc_def1);
    let dag = large_pipeline(10_000, &mut random);
    let summary = summarize(&dag);
    assert_eq!(summary.task_count, 10_000);
    assert!(summary.peak_cpu_millicores.amount >= 4000);
    assert!(!summary.critical_path.is_empty());

    // A single chain: the deepest order there is.
    let mut b = Builder::new();
    let mut previous = None;
    for i in 0..10_000u64 {
        let task = b.task(&format!("c{i}"), None, 1 + (i * 7919) % 5000);
        if let Some(p) = previous {
            b.after(p, task);
        }
        previous = Some(task);
    }
    let chain = b.dag();
    let summary = summarize(&chain);
    assert_eq!(summary.peak_cpu_millicores.tasks.len(), 1);
    assert_eq!(summary.critical_path.len(), 10_000);

    // Four hundred if/else blocks of five tasks a branch, one in ten with branches that also read
    // unrelated earlier tasks (so it is searched, not ordered), and a `finally`.
    let mut b = Builder::new();
    let mut producers: Vec<NodeIndex> = Vec::new();
    let mut branch_tasks: Vec<NodeIndex> = Vec::new();
    for block in 0..400 {
        let producer = b.task(&format!("check{block}"), None, 100);
        if let Some(previous) = producers.last() {
            b.after(*previous, producer);
        }
        let branches = b.branches(2, block, None);
        for (side, branch) in branches.into_iter().enumerate() {
            for i in 0..5 {
                let task = b.task(&format!("b{block}.{side}.{i}"), Some(branch), 100 + random.below(1000));
                b.after(producer, task);
                if block % 10 == 5 && i == 0 {
                    b.after(branch_tasks[random.below(branch_tasks.len() as u64) as usize], task);
                }
                branch_tasks.push(task);
            }
        }
        producers.push(producer);
    }
    let exit = b.group(GroupKind::ExitHandler, None);
    b.task("cleanup", Some(exit), 1);
    let blocks = b.dag();
    let summary = summarize(&blocks);
    assert_eq!(summary.task_count, 4401);
    assert!(summary.peak_cpu_millicores.amount > 0);

    // No edges at all: every task at once.
    let mut b = Builder::new();
    for i in 0..10_000 {
        b.task(&format!("w{i}"), None, 1);
    }
    assert_eq!(summarize(&b.dag()).peak_cpu_millicores.amount, 10_000);
}

#[test]
fn the_branch_search_gives_up_with_a_lower_bound() {
    // Twenty ifs of two branches, each branch's task after a different shared task: every
    // choice matters, far more than the search may try.
    let mut b = Builder::new();
    let shared: Vec<NodeIndex> = (0..21).map(|i| b.task(&format!("s{i}"), None, 1000)).collect();
    for i in 0..20 {
        let branches = b.branches(2, i, None);
        let left = b.task(&format!("l{i}"), Some(branches[0]), 1500);
        let right = b.task(&format!("r{i}"), Some(branches[1]), 1500);
        b.after(shared[i], left);
        b.after(shared[i + 1], right);
    }
    let dag = b.dag();
    let peak = summarize(&dag).peak_cpu_millicores;
    let members: BTreeSet<usize> = peak.tasks.iter().map(|t| t.task.index()).collect();
    assert!(peak.lower_bound);
    // Whatever it reports can run together and adds up.
    let (before, conflict, weights) = plain_semantics(&dag);
    let members: Vec<usize> = members.into_iter().collect();
    assert!(is_free(&members, &before, &*conflict));
    assert_eq!(members.iter().map(|t| weights[*t]).sum::<u64>(), peak.amount);
    // One branch task per `if` can always run together: 30 cores.
    assert!(peak.amount >= 30_000, "{}", peak.amount);
}
