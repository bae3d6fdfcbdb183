//! Drawings of a [`Dag`]: Mermaid flowcharts (for Markdown, GitHub and the docs) and Graphviz DOT.
//!
//! Both formats show the same thing:
//! - a node per task, labelled with the task's name, its component's name when that differs, and
//!   the GPUs it requests;
//! - an edge per producer and consumer pair, labelled with what flows (`output → input`, one line
//!   each; `(fan-in)` when the consumer collects the output over a loop's iterations), or `after`
//!   for ordering edges;
//! - an edge from a task to a condition's or a loop's box when the condition or the loop list
//!   reads one of its outputs (`accuracy → if`, `files → for`), once per box rather than once per
//!   task inside as the graph records it (DOT draws it to the box's first task, clipped at the box);
//! - a box per group (condition branch, loop, `finally`, called pipeline), nested as the groups
//!   nest, titled with source-like text (`if evaluation.accuracy >= min_accuracy`, `else`,
//!   `for lr in [0.001, 0.01, 0.1] (parallel 2)`, `finally`, `prep = prepare_features(…)`).
//!
//! The output is deterministic: node ids come from node indices (`n0`, `n1`, …), group ids from
//! group indices (`g0`, …), and everything is listed in index order. Groups with no task inside
//! are left out. Labels are escaped for each format, so any name or string literal is safe.

use std::collections::BTreeMap;
use std::fmt::Write;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::model::*;

/// A Mermaid flowchart (`flowchart TD`) of the pipeline.
pub fn mermaid(dag: &Dag) -> String {
    let layout = Layout::new(dag);
    let mut out = String::new();
    out.push_str("flowchart TD\n");
    let _ = writeln!(out, "    %% pipeline {}", dag.name.replace(['\n', '\r'], " ").trim_end());
    mermaid_scope(dag, &layout, None, 1, &mut out);
    for edge in edges(dag, &layout) {
        let arrow = if edge.data { "-->" } else { "-.->" };
        let to = match edge.to {
            Target::Task(task) => format!("n{}", task.index()),
            Target::Group(group) => format!("g{group}"),
        };
        let _ =
            writeln!(out, "    n{} {arrow}|\"{}\"| {to}", edge.from.index(), mermaid_escape(&edge.labels.join("\n")),);
    }
    out
}

fn mermaid_scope(dag: &Dag, layout: &Layout, group: Option<usize>, depth: usize, out: &mut String) {
    let indent = "    ".repeat(depth);
    for task in layout.tasks_in(group) {
        let _ = writeln!(out, "{indent}n{}[\"{}\"]", task.index(), mermaid_escape(&task_label(dag, task)));
    }
    for child in layout.groups_in(group) {
        let _ = writeln!(out, "{indent}subgraph g{child}[\"{}\"]", mermaid_escape(&group_title(dag, child)));
        mermaid_scope(dag, layout, Some(child), depth + 1, out);
        let _ = writeln!(out, "{indent}end");
    }
}

/// Text for a Mermaid quoted label (`"…"`): entity codes for everything Mermaid or HTML would
/// read, `<br/>` for line breaks.
pub fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '|' => out.push_str("#124;"),
            '\n' => out.push_str("<br/>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A Graphviz DOT digraph of the pipeline, groups as `cluster_` subgraphs.
pub fn dot(dag: &Dag) -> String {
    let layout = Layout::new(dag);
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&dag.name));
    out.push_str("    rankdir=TB;\n    compound=true;\n");
    out.push_str("    node [shape=box, style=rounded];\n");
    out.push_str("    edge [fontsize=10];\n");
    dot_scope(dag, &layout, None, 1, &mut out);
    for edge in edges(dag, &layout) {
        let style = if edge.data { "" } else { ", style=dashed" };
        let (to, head) = match edge.to {
            Target::Task(task) => (task, String::new()),
            Target::Group(group) => match layout.first_task[group] {
                Some(task) => (task, format!(", lhead=cluster_g{group}")),
                None => continue,
            },
        };
        let _ = writeln!(
            out,
            "    n{} -> n{} [label=\"{}\"{style}{head}];",
            edge.from.index(),
            to.index(),
            dot_escape(&edge.labels.join("\n"))
        );
    }
    out.push_str("}\n");
    out
}

fn dot_scope(dag: &Dag, layout: &Layout, group: Option<usize>, depth: usize, out: &mut String) {
    let indent = "    ".repeat(depth);
    for task in layout.tasks_in(group) {
        let _ = writeln!(out, "{indent}n{} [label=\"{}\"];", task.index(), dot_escape(&task_label(dag, task)));
    }
    for child in layout.groups_in(group) {
        let style = match dag.groups[child].kind {
            GroupKind::Condition { .. } => "dashed",
            GroupKind::Loop { .. } => "rounded",
            GroupKind::ExitHandler => "dotted",
            GroupKind::SubPipeline { .. } => "solid",
        };
        let _ = writeln!(out, "{indent}subgraph cluster_g{child} {{");
        let _ = writeln!(out, "{indent}    label=\"{}\";", dot_escape(&group_title(dag, child)));
        let _ = writeln!(out, "{indent}    style={style};");
        dot_scope(dag, layout, Some(child), depth + 1, out);
        let _ = writeln!(out, "{indent}}}");
    }
}

/// Text for a DOT quoted string: backslash escapes for `"`, `\` and line breaks, HTML entities for
/// `&`, `<` and `>` (Graphviz decodes entities in every label).
pub fn dot_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A task's label, unescaped: its name, its component's name if different, its GPUs.
fn task_label(dag: &Dag, index: NodeIndex) -> String {
    let task = dag.task(index);
    let component = &dag.component_of(index).name;
    let mut label = task.name.clone();
    if *component != task.name {
        label.push('\n');
        label.push_str(component);
    }
    match task.settings.gpu {
        Some(0) | None => {}
        Some(1) => label.push_str("\n1 GPU"),
        Some(n) => {
            let _ = write!(label, "\n{n} GPUs");
        }
    }
    label
}

/// Which tasks and groups each group holds directly, groups with no task left out.
struct Layout {
    tasks: BTreeMap<Option<usize>, Vec<NodeIndex>>,
    groups: BTreeMap<Option<usize>, Vec<usize>>,
    /// Per group: whether it holds a task, directly or not, so it is drawn.
    shown: Vec<bool>,
    /// Per group: the lowest task inside it, where DOT points an edge to the box.
    first_task: Vec<Option<NodeIndex>>,
}

impl Layout {
    fn new(dag: &Dag) -> Layout {
        let mut tasks: BTreeMap<Option<usize>, Vec<NodeIndex>> = BTreeMap::new();
        let mut occupied = vec![false; dag.groups.len()];
        let mut first_task = vec![None; dag.groups.len()];
        for index in dag.graph.node_indices() {
            let group = dag.task(index).group.filter(|g| *g < dag.groups.len());
            tasks.entry(group).or_default().push(index);
            // Every group around a task shows; a parent cycle (never lowered) stops the walk.
            let mut current = group;
            let mut steps = 0;
            while let Some(g) = current {
                if occupied[g] || steps > dag.groups.len() {
                    break;
                }
                occupied[g] = true;
                first_task[g] = Some(index);
                current = dag.groups[g].parent.filter(|p| *p < dag.groups.len());
                steps += 1;
            }
        }
        let mut groups: BTreeMap<Option<usize>, Vec<usize>> = BTreeMap::new();
        for (g, group) in dag.groups.iter().enumerate() {
            if occupied[g] && group.parent != Some(g) {
                groups.entry(group.parent.filter(|p| *p < dag.groups.len())).or_default().push(g);
            }
        }
        Layout { tasks, groups, shown: occupied, first_task }
    }

    fn tasks_in(&self, group: Option<usize>) -> impl Iterator<Item = NodeIndex> + '_ {
        self.tasks.get(&group).into_iter().flatten().copied()
    }

    fn groups_in(&self, group: Option<usize>) -> impl Iterator<Item = usize> + '_ {
        self.groups.get(&group).into_iter().flatten().copied()
    }
}

/// What an edge points at: a task, or a group whose condition or loop list reads an output.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Task(NodeIndex),
    Group(usize),
}

/// All the edges between one producer and one consumer, merged.
struct DrawnEdge {
    from: NodeIndex,
    to: Target,
    /// Whether any of them carries data (else they are all ordering edges).
    data: bool,
    labels: Vec<String>,
}

/// Edges between tasks, and from a task to each shown group whose condition or loop list reads
/// one of its outputs (drawn once to the box rather than to every task inside, which is how the
/// graph records them).
fn edges(dag: &Dag, layout: &Layout) -> Vec<DrawnEdge> {
    let mut merged: BTreeMap<(usize, Target), DrawnEdge> = BTreeMap::new();
    let mut add = |from: NodeIndex, to: Target, data: bool, label: String| {
        let entry =
            merged.entry((from.index(), to)).or_insert_with(|| DrawnEdge { from, to, data: false, labels: Vec::new() });
        entry.data |= data;
        if !entry.labels.contains(&label) {
            entry.labels.push(label);
        }
    };
    for edge in dag.graph.edge_references() {
        let (from, to) = (edge.source(), edge.target());
        match edge.weight() {
            Edge::Order => add(from, Target::Task(to), false, "after".to_string()),
            Edge::Data { output, input: Some(input) } => {
                let collected = dag.task(to).args.iter().any(|(name, source)| {
                    name == input && matches!(source, Source::Collected { task, .. } if *task == from)
                });
                let label =
                    if collected { format!("{output} → {input} (fan-in)") } else { format!("{output} → {input}") };
                add(from, Target::Task(to), true, label);
            }
            // Drawn from the groups below.
            Edge::Data { input: None, .. } => {}
        }
    }
    for (g, group) in dag.groups.iter().enumerate() {
        if !layout.shown[g] {
            continue;
        }
        let reader = match &group.kind {
            GroupKind::Condition { .. } => "if",
            GroupKind::Loop { items: LoopItems::Output { .. }, .. } => "for",
            _ => continue,
        };
        for (task, output) in group.kind.reads() {
            if task.index() < dag.graph.node_count() {
                add(task, Target::Group(g), true, format!("{output} → {reader}"));
            }
        }
    }
    merged.into_values().collect()
}

/// A group's title as source-like text: `if …`, `else if …`, `else`, `for x in … (parallel n)`,
/// `finally`, `task = pipeline(…)`.
pub fn group_title(dag: &Dag, group: usize) -> String {
    match &dag.groups[group].kind {
        GroupKind::Condition { condition, branch, .. } => branch_title(dag, condition, *branch),
        GroupKind::Loop { var, items, parallelism } => {
            let items = match items {
                LoopItems::Values(values) => value_text(&Value::List(values.clone())),
                LoopItems::Param(name) => name.clone(),
                LoopItems::Output { task, output } => format!("{}.{output}", task_name(dag, *task)),
            };
            match parallelism {
                Some(p) => format!("for {var} in {items} (parallel {p})"),
                None => format!("for {var} in {items}"),
            }
        }
        GroupKind::ExitHandler => "finally".to_string(),
        GroupKind::SubPipeline { task, pipeline } => format!("{task} = {pipeline}(…)"),
    }
}

/// Branch `branch` of an `if` holds its own condition behind the negations of the earlier ones:
/// `not c0 and (not c1 and … own)`, or only the negations for an `else`.
fn branch_title(dag: &Dag, whole: &Condition, branch: usize) -> String {
    if branch == 0 {
        return format!("if {}", condition_text(dag, whole));
    }
    let mut rest = whole;
    for _ in 1..branch {
        match rest {
            Condition::And(first, next) if matches!(**first, Condition::Not(_)) => rest = next,
            _ => return format!("if {}", condition_text(dag, whole)),
        }
    }
    match rest {
        Condition::And(first, own) if matches!(**first, Condition::Not(_)) => {
            format!("else if {}", condition_text(dag, own))
        }
        Condition::Not(_) => "else".to_string(),
        _ => format!("if {}", condition_text(dag, whole)),
    }
}

/// A condition as KFL source: `(prep.rows > 0 and ready) or not force`, parenthesised where needed
/// and around `and` inside `or`.
pub fn condition_text(dag: &Dag, condition: &Condition) -> String {
    condition_with_precedence(dag, condition, 0)
}

/// Precedence: `or` 1, `and` 2, `not` 3, comparisons and operands 4.
fn condition_with_precedence(dag: &Dag, condition: &Condition, outer: u8) -> String {
    let (own, text) = match condition {
        // `and` inside `or` needs no parentheses, but reads better with them.
        Condition::Or(a, b) => {
            let side = |c: &Condition, outer| match c {
                Condition::And(..) => format!("({})", condition_with_precedence(dag, c, 0)),
                _ => condition_with_precedence(dag, c, outer),
            };
            (1, format!("{} or {}", side(a, 1), side(b, 2)))
        }
        Condition::And(a, b) => {
            (2, format!("{} and {}", condition_with_precedence(dag, a, 2), condition_with_precedence(dag, b, 3)))
        }
        Condition::Not(a) => (3, format!("not {}", condition_with_precedence(dag, a, 3))),
        Condition::Compare(op, a, b) => {
            (4, format!("{} {} {}", operand_text(dag, a), op.symbol(), operand_text(dag, b)))
        }
        Condition::Is(a) => (4, operand_text(dag, a)),
    };
    if own < outer {
        format!("({text})")
    } else {
        text
    }
}

/// An operand as KFL source: a literal, a parameter, `task.output`, or the loop variable.
pub fn operand_text(dag: &Dag, operand: &Operand) -> String {
    match operand {
        Operand::Value(value) => value_text(value),
        Operand::Param(name) => name.clone(),
        Operand::Output { task, output } => format!("{}.{output}", task_name(dag, *task)),
        Operand::LoopItem { group, field } => {
            let var = match dag.groups.get(*group).map(|g| &g.kind) {
                Some(GroupKind::Loop { var, .. }) => var.clone(),
                _ => "item".to_string(),
            };
            match field {
                Some(field) => format!("{var}.{field}"),
                None => var,
            }
        }
    }
}

fn task_name(dag: &Dag, task: NodeIndex) -> String {
    dag.graph.node_weight(task).map_or_else(|| format!("task{}", task.index()), |t| t.name.clone())
}

/// A value as a KFL literal: `"text"` (escaped), `10`, `0.5`, `1.0`, `true`, `[…]`, `{key: …}`.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.1}"),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::List(items) => format!("[{}]", items.iter().map(value_text).collect::<Vec<_>>().join(", ")),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries.iter().map(|(k, v)| format!("{k}: {}", value_text(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}
