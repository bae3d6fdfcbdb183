//! Drawings of every example pipeline (snapshots, both formats), checked for structure: Mermaid
//! by a small parser here (its own parser needs a browser), DOT by `tests/graphviz.sh`, which
//! runs Graphviz over the DOT snapshots.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kfl_check::Database;
use kfl_dag::render::{condition_text, dot, group_title, mermaid};
use kfl_dag::*;
use kfl_project::lower;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every example file in one database (imports resolve by path), with its pipelines' names.
fn examples() -> (Database, Vec<(String, String)>) {
    let mut db = Database::default();
    let mut paths = Vec::new();
    let mut stack = vec![root().join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kfl") {
                let rel = path.strip_prefix(root()).expect("inside").to_string_lossy().to_string();
                db.set_file(&rel, std::fs::read_to_string(&path).expect("read"));
                paths.push(rel);
            }
        }
    }
    paths.sort();
    let mut pipelines = Vec::new();
    for path in paths {
        let file = db.file(&path).expect("file");
        for item in &kfl_check::parse(&db, file).file.items {
            if let kfl_syntax::ast::Item::Pipeline(p) = item {
                pipelines.push((path.clone(), p.name.text.clone()));
            }
        }
    }
    (db, pipelines)
}

fn every_example_dag() -> Vec<Dag> {
    let (db, pipelines) = examples();
    assert!(pipelines.len() >= 7, "{pipelines:?}");
    pipelines
        .iter()
        .map(|(path, name)| {
            let file = db.file(path).expect("file");
            lower(&db, file, Some(name)).unwrap_or_else(|e| panic!("{path} {name}: {e}"))
        })
        .collect()
}

#[test]
fn every_example_as_mermaid() {
    for dag in every_example_dag() {
        let text = mermaid(&dag);
        if let Err(problem) = check_mermaid(&text) {
            panic!("{}: {problem}\n{text}", dag.name);
        }
        insta::assert_snapshot!(format!("{}_mermaid", dag.name), text);
    }
}

#[test]
fn every_example_as_dot() {
    for dag in every_example_dag() {
        let text = dot(&dag);
        if let Err(problem) = check_dot(&text) {
            panic!("{}: {problem}\n{text}", dag.name);
        }
        insta::assert_snapshot!(format!("{}_dot", dag.name), text);
    }
}

#[test]
fn drawing_twice_gives_the_same_text() {
    for dag in every_example_dag() {
        assert_eq!(mermaid(&dag), mermaid(&dag.clone()));
        assert_eq!(dot(&dag), dot(&dag.clone()));
    }
}

#[test]
fn every_task_and_every_edge_is_drawn() {
    for dag in every_example_dag() {
        let text = mermaid(&dag);
        for node in dag.graph.node_indices() {
            assert!(text.contains(&format!("n{}[\"", node.index())), "{}: task {}", dag.name, node.index());
        }
        let drawn = |from: usize, to: &str| {
            text.lines().any(|l| l.trim_start().starts_with(&format!("n{from} -")) && l.ends_with(&format!(" {to}")))
        };
        for edge in dag.graph.edge_references() {
            let (from, to) = (edge.source().index(), edge.target().index());
            match edge.weight() {
                // A condition or a loop list reads it: drawn to the box of a group around `to`.
                Edge::Data { input: None, .. } => {
                    let chain = dag.group_chain(dag.task(edge.target()).group);
                    assert!(chain.iter().any(|g| drawn(from, &format!("g{g}"))), "{}: {from} → box of {to}", dag.name);
                }
                _ => assert!(drawn(from, &format!("n{to}")), "{}: edge {from} → {to}", dag.name),
            }
        }
    }
}

#[test]
fn titles_read_like_the_source() {
    let dags = every_example_dag();
    let titles = |name: &str| -> Vec<String> {
        let dag = dags.iter().find(|d| d.name == name).expect("example");
        (0..dag.groups.len()).map(|g| group_title(dag, g)).collect()
    };
    assert_eq!(titles("simple_training"), ["if evaluation.accuracy >= min_accuracy", "else"]);
    assert_eq!(titles("hyperparameter_sweep"), ["for lr in [0.001, 0.01, 0.1] (parallel 2)"]);
    assert_eq!(titles("nightly_retrain"), ["finally"]);
    let scoring = titles("daily_scoring");
    assert!(scoring.contains(&"prep = prepare_features(…)".to_string()), "{scoring:?}");
    assert!(scoring.contains(&"for region in regions (parallel 3)".to_string()), "{scoring:?}");
    assert!(scoring.contains(&"else".to_string()), "{scoring:?}");
    assert!(
        scoring.contains(
            &"if (prep.validation.passed and prep.extracted.rows > 0 and prep.validation.outlier_fraction <= max_outliers) or force"
                .to_string()
        ),
        "{scoring:?}"
    );
    assert!(
        scoring.contains(&"else if not prep.validation.passed or prep.extracted.rows == 0".to_string()),
        "{scoring:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Hand-built pipelines: escaping and conditions
// ---------------------------------------------------------------------------------------------

fn component(name: &str) -> Component {
    Component {
        name: name.to_string(),
        k8s_name: name.replace('_', "-"),
        doc: None,
        inputs: Vec::new(),
        outputs: Vec::new(),
        image: "alpine".to_string(),
        packages: Vec::new(),
        body: Body::Container { command: Vec::new(), args: Vec::new() },
        source: "test.kfl".to_string(),
    }
}

fn task(name: &str, component: usize, group: Option<usize>) -> Task {
    Task {
        name: name.to_string(),
        k8s_name: name.to_string(),
        display_name: None,
        component,
        args: Vec::new(),
        group,
        settings: Settings::default(),
        trigger: Trigger::AllSucceeded,
    }
}

fn dag(name: &str, components: Vec<Component>, graph: DiGraph<Task, Edge>, groups: Vec<Group>) -> Dag {
    Dag {
        name: name.to_string(),
        k8s_name: name.to_string(),
        description: None,
        display_name: None,
        source: "test.kfl".to_string(),
        params: Vec::new(),
        outputs: Vec::new(),
        components,
        graph,
        groups,
    }
}

const NASTY: &str = "say \"hi\" <b>&amp; #quot; `x` a|b\\n\nnext";

/// A pipeline whose names and literals hold every character either format treats specially.
fn nasty_dag() -> Dag {
    let mut graph = DiGraph::new();
    let a = graph.add_node(task("first \"task\" <a> & #1", 0, None));
    let mut b_task = task("second|task", 1, Some(0));
    b_task.settings.gpu = Some(2);
    b_task.args.push(("in".to_string(), Source::Output { task: a, output: "out\"put".to_string() }));
    let b = graph.add_node(b_task);
    let c = graph.add_node(task("end", 0, Some(1)));
    graph.add_edge(a, b, Edge::Data { output: "out\"put".to_string(), input: Some("in<1>".to_string()) });
    graph.add_edge(a, b, Edge::Data { output: "flag".to_string(), input: None });
    graph.add_edge(b, c, Edge::Order);
    let condition = Condition::Compare(
        CompareOp::Ne,
        Operand::Output { task: a, output: "flag".to_string() },
        Operand::Value(Value::String(NASTY.to_string())),
    );
    let groups = vec![
        Group { kind: GroupKind::Condition { condition, branch: 0, of_if: 7 }, parent: None, k8s_name: "c-1".into() },
        Group {
            kind: GroupKind::Loop {
                var: "x".to_string(),
                items: LoopItems::Values(vec![Value::String("a\"b".into()), Value::Float(1.0), Value::Int(2)]),
                parallelism: None,
            },
            parent: Some(0),
            k8s_name: "for-loop-1".into(),
        },
    ];
    dag("nasty \"pipeline\"\n", vec![component("comp<&>"), component("second|task")], graph, groups)
}

#[test]
fn mermaid_escapes_every_special_character() {
    let dag = nasty_dag();
    let text = mermaid(&dag);
    check_mermaid(&text).unwrap_or_else(|problem| panic!("{problem}\n{text}"));
    insta::assert_snapshot!("nasty_mermaid", text);
    assert!(text.contains("#quot;"), "{text}");
    assert!(text.contains("#35;quot;"), "a literal `#quot;` stays literal: {text}");
    assert!(text.contains("2 GPUs"), "{text}");
}

#[test]
fn dot_escapes_every_special_character() {
    let dag = nasty_dag();
    let text = dot(&dag);
    check_dot(&text).unwrap_or_else(|problem| panic!("{problem}\n{text}"));
    insta::assert_snapshot!("nasty_dot", text);
    assert!(text.contains(r#"first \"task\" &lt;a&gt; &amp; #1"#), "{text}");
    assert!(text.contains("&amp;amp;"), "a literal `&amp;` stays literal: {text}");
}

#[test]
fn conditions_print_with_the_parentheses_they_need() {
    let dag = nasty_dag();
    let a = NodeIndex::new(0);
    let is = |name: &str| Box::new(Condition::Is(Operand::Param(name.to_string())));
    let out = Operand::Output { task: a, output: "rows".to_string() };
    let cases: Vec<(Condition, &str)> = vec![
        (Condition::And(Box::new(Condition::Or(is("a"), is("b"))), is("c")), "(a or b) and c"),
        (Condition::Or(Box::new(Condition::And(is("a"), is("b"))), is("c")), "(a and b) or c"),
        (Condition::Or(is("a"), Box::new(Condition::Not(is("b")))), "a or not b"),
        (Condition::Or(is("a"), Box::new(Condition::Or(is("b"), is("c")))), "a or (b or c)"),
        (Condition::Not(Box::new(Condition::And(is("a"), is("b")))), "not (a and b)"),
        (Condition::Not(is("a")), "not a"),
        (Condition::Not(Box::new(Condition::Not(is("a")))), "not not a"),
        (
            Condition::Compare(CompareOp::Gt, out.clone(), Operand::Value(Value::Float(0.5))),
            "first \"task\" <a> & #1.rows > 0.5",
        ),
        (
            Condition::Compare(CompareOp::Le, out, Operand::Value(Value::Float(2.0))),
            "first \"task\" <a> & #1.rows <= 2.0",
        ),
        (
            Condition::Compare(
                CompareOp::Eq,
                Operand::LoopItem { group: 1, field: Some("name".into()) },
                Operand::Value(Value::String("a\"b\n".into())),
            ),
            r#"x.name == "a\"b\n""#,
        ),
    ];
    for (condition, expected) in cases {
        assert_eq!(condition_text(&dag, &condition), expected);
    }
}

#[test]
fn else_if_and_else_branches_show_their_own_condition() {
    let (c0, c1) = (Condition::Is(Operand::Param("a".into())), Condition::Is(Operand::Param("b".into())));
    let not = |c: &Condition| Box::new(Condition::Not(Box::new(c.clone())));
    let branches = [c0.clone(), Condition::And(not(&c0), Box::new(c1.clone())), Condition::And(not(&c0), not(&c1))];
    let mut graph = DiGraph::new();
    for branch in 0..3 {
        graph.add_node(task(&format!("t{branch}"), 0, Some(branch)));
    }
    let groups = branches
        .iter()
        .enumerate()
        .map(|(branch, condition)| Group {
            kind: GroupKind::Condition { condition: condition.clone(), branch, of_if: 3 },
            parent: None,
            k8s_name: format!("condition-{branch}"),
        })
        .collect();
    let dag = dag("branches", vec![component("c")], graph, groups);
    let titles: Vec<String> = (0..3).map(|g| group_title(&dag, g)).collect();
    assert_eq!(titles, ["if a", "else if b", "else"]);
}

// ---------------------------------------------------------------------------------------------
// Structure checks
// ---------------------------------------------------------------------------------------------

/// Checks the Mermaid this crate writes: the header, balanced `subgraph … end`, quoted labels with
/// nothing Mermaid would read inside, unique ids, and edges only between declared nodes.
fn check_mermaid(text: &str) -> Result<(), String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("flowchart TD") {
        return Err("the first line is not `flowchart TD`".into());
    }
    let mut open: Vec<String> = Vec::new();
    let mut nodes = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut edges = Vec::new();
    for line in lines {
        if line.starts_with("%%") {
            continue;
        }
        if line == "end" {
            open.pop().ok_or("`end` without `subgraph`")?;
        } else if let Some(rest) = line.strip_prefix("subgraph ") {
            let (id, label) = split_declaration(rest)?;
            check_id(id, 'g')?;
            check_label(label)?;
            if !ids.insert(id.to_string()) {
                return Err(format!("`{id}` declared twice"));
            }
            open.push(id.to_string());
        } else if line.contains(" -->|") || line.contains(" -.->|") {
            let (from, rest) = line.split_once(' ').ok_or("edge")?;
            let rest = rest.strip_prefix("-->").or_else(|| rest.strip_prefix("-.->")).ok_or("arrow")?;
            let rest = rest.strip_prefix("|\"").ok_or(format!("edge label missing: {line}"))?;
            let (label, to) = rest.rsplit_once("\"| ").ok_or(format!("edge label not closed: {line}"))?;
            check_label(label)?;
            check_id(from, 'n')?;
            check_id(to, 'n').or_else(|_| check_id(to, 'g'))?;
            edges.push((from.to_string(), to.to_string()));
        } else {
            let (id, label) = split_declaration(line)?;
            check_id(id, 'n')?;
            check_label(label)?;
            if !ids.insert(id.to_string()) {
                return Err(format!("`{id}` declared twice"));
            }
            nodes.insert(id.to_string());
        }
    }
    if !open.is_empty() {
        return Err(format!("subgraphs not closed: {open:?}"));
    }
    for (from, to) in edges {
        if !nodes.contains(&from) {
            return Err(format!("edge {from} → {to}: `{from}` is not a declared node"));
        }
        if !ids.contains(&to) {
            return Err(format!("edge {from} → {to}: `{to}` is not a declared node or subgraph"));
        }
    }
    Ok(())
}

/// `id["label"]` → (`id`, `label`).
fn split_declaration(text: &str) -> Result<(&str, &str), String> {
    let (id, rest) = text.split_once("[\"").ok_or(format!("not a declaration: {text}"))?;
    let label = rest.strip_suffix("\"]").ok_or(format!("label not closed: {text}"))?;
    Ok((id, label))
}

fn check_id(id: &str, prefix: char) -> Result<(), String> {
    let digits = id.strip_prefix(prefix).ok_or(format!("id `{id}`"))?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("id `{id}`"));
    }
    Ok(())
}

/// Inside quotes: no `"`, no backtick, no `|`, `<` only in `<br/>`, `>` only there too, and `#` or
/// `&` only in an entity code.
fn check_label(label: &str) -> Result<(), String> {
    let without_breaks = label.replace("<br/>", "\n");
    let mut chars = without_breaks.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' | '`' | '|' | '<' | '>' | '&' => return Err(format!("raw `{c}` in label {label:?}")),
            '#' => {
                let rest = &without_breaks[i + 1..];
                let end = rest.find(';').ok_or(format!("`#` without `;` in {label:?}"))?;
                let code = &rest[..end];
                if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!("bad entity `#{code};` in {label:?}"));
                }
                for _ in 0..=end {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A light DOT check (Graphviz itself runs in `tests/graphviz.sh`): quotes closed, braces balanced
/// outside quotes, only `\"`, `\\` and `\n` escapes.
fn check_dot(text: &str) -> Result<(), String> {
    if !text.starts_with("digraph \"") {
        return Err("not a digraph".into());
    }
    let mut depth = 0i32;
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '\\') => match chars.next() {
                Some('"' | '\\' | 'n') => {}
                other => return Err(format!("escape \\{other:?}")),
            },
            (true, '\n') => return Err("line break inside a string".into()),
            (_, '"') => quoted = !quoted,
            (false, '{') => depth += 1,
            (false, '}') => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced `}`".into());
                }
            }
            _ => {}
        }
    }
    if quoted || depth != 0 {
        return Err(format!("unclosed: quoted {quoted}, depth {depth}"));
    }
    Ok(())
}

#[test]
fn the_mermaid_check_rejects_broken_text() {
    let broken = [
        "graph TD\n",
        "flowchart TD\n    subgraph g0[\"x\"]\n",
        "flowchart TD\n    end\n",
        "flowchart TD\n    n0[\"a\"b\"]\n",
        "flowchart TD\n    n0[\"a\"]\n    n0 -->|\"x\"| n1\n",
        "flowchart TD\n    n0[\"a\"]\n    n0 -->|\"x\"| g0\n",
        "flowchart TD\n    n0[\"a<b\"]\n",
        "flowchart TD\n    n0[\"#x\"]\n",
        "flowchart TD\n    n0[\"a\"]\n    n0[\"b\"]\n",
    ];
    for text in broken {
        assert!(check_mermaid(text).is_err(), "accepted: {text}");
    }
    assert!(check_mermaid("flowchart TD\n    n0[\"a#quot;<br/>b\"]\n    n0 -.->|\"after\"| n0\n").is_ok());
    assert!(
        check_mermaid("flowchart TD\n    subgraph g0[\"x\"]\n    n0[\"a\"]\n    end\n    n0 -->|\"x\"| g0\n").is_ok()
    );
}

#[test]
fn the_dot_check_rejects_broken_text() {
    for text in ["graph {}", "digraph \"x\" {", "digraph \"x\" { a [label=\"\\q\"] }", "digraph \"x\" { \"a }"] {
        assert!(check_dot(text).is_err(), "accepted: {text}");
    }
}
