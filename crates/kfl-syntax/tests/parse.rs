use kfl_syntax::ast::*;
use kfl_syntax::parse;

const SKETCH: &str = r#"
/// Loads raw data, drops bad rows, and saves the result.
component preprocess_data {
    image    = "python:3.11-slim"
    packages = ["pandas==2.2.3"]

    input  raw_data:       Dataset
    input  min_value:      Float = 0.0
    output processed_data: Dataset
    output rows:           Int

    resources { cpu = 2, memory = 4Gi }

    python """
        import pandas as pd
        df = pd.read_csv(raw_data.path)
        rows = len(df)
    """
}

component train_model {
    image = "ghcr.io/acme/trainer:1.4.2"
    input  training_data: Dataset
    input  epochs: Int = 10
    output model:   Model
    output metrics: Metrics
    command = ["python", "-m", "trainer"]
    args    = ["--data", training_data.path, "--epochs", epochs,
               "--out", model.path, "--metrics", metrics.path]
}

pipeline simple_training(data_path: String, epochs: Int = 10) {
    description = "Preprocesses data and trains a model."

    raw   = import_data(source_url: data_path)
    prep  = preprocess_data(raw_data: raw.dataset)
    train = train_model(training_data: prep.processed_data, epochs: epochs) {
        resources { cpu = 8, memory = 32Gi, gpu = 1, accelerator = "nvidia-tesla-a100" }
        retries = 2
        timeout = 6h
    }
    eval = evaluate(model: train.model, data: prep.processed_data)

    if eval.accuracy >= 0.9 and not (eval.loss > 1) {
        deploy(model: train.model)
    } else if eval.accuracy > 0.5 {
        notify(message: "meh")
    } else {
        notify(message: "accuracy below target")
    }

    for shard in [0, 1, 2, 3] parallel 2 {
        score(model: train.model, shard: shard)
    }

    finally { cleanup() }

    output model = train.model
}
"#;

#[test]
fn parses_the_sketch() {
    let parse = parse(SKETCH);
    assert!(parse.errors.is_empty(), "{:#?}", parse.errors);
    assert_eq!(parse.file.items.len(), 3);
    let Item::Component(c) = &parse.file.items[0] else { panic!("not a component") };
    assert_eq!(c.name.text, "preprocess_data");
    assert_eq!(c.doc.text().as_deref(), Some("Loads raw data, drops bad rows, and saves the result."));
    assert_eq!(c.members.len(), 8);
    let MemberKind::Script(script) = &c.members[7].kind else { panic!("not a script") };
    assert_eq!(script.source.value, "import pandas as pd\ndf = pd.read_csv(raw_data.path)\nrows = len(df)\n");
    let Item::Pipeline(p) = &parse.file.items[2] else { panic!("not a pipeline") };
    assert_eq!(p.params.len(), 2);
    assert_eq!(p.body.len(), 9);
    let StmtKind::Task(t) = &p.body[3].kind else { panic!("not a task") };
    assert_eq!(t.binding.as_ref().map(|b| b.text.as_str()), Some("train"));
    assert_eq!(t.overrides.as_ref().map(|o| o.members.len()), Some(3));
    let StmtKind::If(i) = &p.body[5].kind else { panic!("not an if") };
    assert!(matches!(i.cond.kind, ExprKind::Binary(BinaryOp::And, ..)));
    assert!(matches!(i.otherwise, Some(Else::If(_))));
    let StmtKind::For(f) = &p.body[6].kind else { panic!("not a for") };
    assert_eq!(f.var.text, "shard");
    assert!(matches!(p.body[7].kind, StmtKind::Finally(_)));
    assert!(matches!(p.body[8].kind, StmtKind::Output(_)));
}

#[test]
fn numbers_keep_their_units() {
    let parse = parse("component c { resources { cpu = 500m, memory = 1.5Gi } timeout = 1h30m retries = -1 x = 1e3 }");
    assert!(parse.errors.is_empty(), "{:#?}", parse.errors);
    let Item::Component(c) = &parse.file.items[0] else { panic!() };
    let MemberKind::Block(b) = &c.members[0].kind else { panic!() };
    let ExprKind::Number(n) = &b.entries[1].value.kind else { panic!() };
    assert_eq!((n.value.as_str(), n.unit.as_deref()), ("1.5", Some("Gi")));
    let MemberKind::Field(f) = &c.members[1].kind else { panic!() };
    let ExprKind::Number(n) = &f.value.kind else { panic!() };
    assert_eq!((n.value.as_str(), n.unit.as_deref()), ("1", Some("h30m")));
    let MemberKind::Field(f) = &c.members[3].kind else { panic!() };
    let ExprKind::Number(n) = &f.value.kind else { panic!() };
    assert_eq!((n.value.as_str(), n.unit.as_deref()), ("1e3", None));
}

#[test]
fn a_broken_item_does_not_hide_the_next_one() {
    let text = "component a {\n  image = \n}\n\ncomponent b { input x Int }\n\npipeline p() { a() }\n";
    let parse = parse(text);
    assert_eq!(parse.errors.len(), 2, "{:#?}", parse.errors);
    assert!(parse.errors.iter().all(|e| e.code == kfl_diagnostics::Code::SyntaxError));
    assert_eq!(parse.file.items.len(), 1);
    for e in &parse.errors {
        eprintln!("{} at {:?}: {}", e.code, e.primary.span, e.message);
    }
    let second = &parse.errors[1];
    assert_eq!(&text[second.primary.span.range()], "Int");
}

#[test]
fn unterminated_and_escape_errors() {
    let parse = parse("component a { image = \"abc\n }\ncomponent b { image = \"a\\qb\" }");
    let codes: Vec<_> = parse.errors.iter().map(|e| e.code.id()).collect();
    assert_eq!(codes, vec!["E0002", "E0003"]);
}

#[test]
fn never_panics_on_odd_input() {
    for text in [
        "",
        "{",
        "}",
        "component",
        "pipeline p(",
        "\"",
        "\"\"\"",
        "component x { python \"\"\"",
        "é ü 漢字",
        "component c { a = [1, 2",
        "//",
        "///",
    ] {
        let _ = parse(text);
    }
}

#[test]
fn a_doc_comment_that_documents_nothing_is_an_error() {
    for text in ["/// lonely\n", "// plain\n/// lonely", "artifact A\n/// trailing\n"] {
        let p = parse(text);
        assert_eq!(p.errors.len(), 1, "{text:?}: {:?}", p.errors);
        assert_eq!(p.errors[0].message, "a doc comment must stand before what it documents", "{text:?}");
        assert_eq!(p.errors[0].code, kfl_diagnostics::Code::SyntaxError);
        assert_eq!(kfl_syntax::parse_whole(text).errors, p.errors, "{text:?}");
    }
}

#[test]
fn a_byte_order_mark_is_a_blank_between_a_doc_comment_and_its_item() {
    let text = "artifact S\n/// a\n\u{FEFF}artifact T\n";
    let p = parse(text);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p, kfl_syntax::parse_whole(text));
    let Item::Artifact(t) = &p.file.items[1] else { panic!("{:?}", p.file.items) };
    assert_eq!(t.doc.lines, vec!["a".to_string()]);
}

#[test]
fn a_doc_comment_spans_its_text() {
    let text = "/// one\n/// two  \ncomponent c {\n  /// three\n  input a: Int\n}\n";
    let p = parse(text);
    let Item::Component(c) = &p.file.items[0] else { panic!() };
    assert_eq!(c.doc.span.map(|s| &text[s.range()]), Some("/// one\n/// two"));
    assert_eq!(c.members[0].doc.span.map(|s| &text[s.range()]), Some("/// three"));
}

#[test]
fn an_unterminated_script_is_reported_at_its_quotes_and_the_rest_of_the_file_still_parses() {
    // A 2,000-line file: a script left open on line 3, forty components with scripts after it,
    // and a real syntax error near the end.
    let mut text =
        String::from("component broken {\n    image = \"python:3.11\"\n    python \"\"\"\n        print(1)\n}\n\n");
    for i in 0..40 {
        text.push_str(&format!(
            "/// Step {i}.\ncomponent step_{i} {{\n    image = \"python:3.11\"\n    input x: Int\n"
        ));
        for _ in 0..40 {
            text.push_str("    // filler\n");
        }
        text.push_str("    python \"\"\"\n        print(x)\n    \"\"\"\n}\n\n");
    }
    let bad_line = text.lines().count() + 2;
    text.push_str("component last {\n    image = = \"x\"\n}\n");
    assert!(text.lines().count() > 1_900);
    let p = parse(&text);
    let lines: Vec<(kfl_diagnostics::Code, usize)> =
        p.errors.iter().map(|e| (e.code, text[..e.primary.span.start as usize].lines().count())).collect();
    assert_eq!(
        lines,
        vec![(kfl_diagnostics::Code::UnterminatedString, 3), (kfl_diagnostics::Code::SyntaxError, bad_line)],
        "{:?}",
        p.errors
    );
    let names: Vec<&str> = p.file.items.iter().filter_map(|i| i.name()).map(|n| n.text.as_str()).collect();
    assert_eq!(names.len(), 40, "{names:?}");
    assert_eq!(p, kfl_syntax::parse_whole(&text));
}
