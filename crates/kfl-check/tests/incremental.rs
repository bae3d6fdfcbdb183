//! Editing one file re-checks only what depends on it: salsa's events show which `check_file`
//! queries run again after an edit.

use std::sync::{Arc, Mutex};

use kfl_check::{check_file, Database};

const LIB: &str = r#"
component train {
    image = "python:3.11-slim"
    input data: Dataset
    output model: Model
    python """
        open(model.path, "w").write(open(data.path).read())
    """
}

component load {
    input url: String
    output data: Dataset
    python """
        open(data.path, "w").write(url)
    """
}
"#;

fn pipeline(name: &str, url: &str) -> String {
    format!(
        "import \"lib.kfl\"\n\npipeline {name}() {{\n    raw = load(url: \"{url}\")\n    t = train(data: raw.data)\n    output model = t.model\n}}\n"
    )
}

/// A database that logs each execution of the query named `query`, and the log.
fn logging(query: &'static str) -> (Database, Arc<Mutex<Vec<String>>>) {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = log.clone();
    let db = Database::with_event_callback(move |event| {
        if let salsa::EventKind::WillExecute { database_key } = event.kind {
            let text = format!("{database_key:?}");
            if query.split('|').any(|q| text.starts_with(q)) {
                sink.lock().expect("log").push(text);
            }
        }
    });
    (db, log)
}

/// Runs `check_file` on every file and returns the paths whose check actually ran.
fn recheck(db: &Database, log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    log.lock().expect("log").clear();
    for file in db.files() {
        let diagnostics = check_file(db, file);
        assert!(diagnostics.is_empty(), "{}: {diagnostics:?}", file.path(db));
    }
    let mut ran: Vec<String> = log.lock().expect("log").clone();
    ran.sort();
    ran
}

/// How many `check_file` and `check_piece` queries ran.
fn counts(ran: &[String]) -> (usize, usize) {
    let files = ran.iter().filter(|q| q.starts_with("check_file")).count();
    (files, ran.len() - files)
}

#[test]
fn an_edit_rechecks_only_what_depends_on_it() {
    let (mut db, log) = logging("check_file|check_piece");
    db.set_file("lib.kfl", LIB.to_string());
    db.set_file("a.kfl", pipeline("a", "s3://a"));
    db.set_file("b.kfl", pipeline("b", "s3://b"));
    // A cold check runs every file, and the one piece of statements of each pipeline.
    assert_eq!(counts(&recheck(&db, &log)), (3, 2));

    // An edit inside one pipeline: only that file and its piece are checked again.
    db.set_file("a.kfl", pipeline("a", "s3://a-changed"));
    assert_eq!(counts(&recheck(&db, &log)), (1, 1));

    // An edit in the library that leaves every signature alone (a script line): only the library.
    db.set_file("lib.kfl", LIB.replace("url)", "url.strip())"));
    assert_eq!(counts(&recheck(&db, &log)), (1, 0));

    // Moving the library's text down (every span changes, no signature does): only the library.
    db.set_file("lib.kfl", format!("// a comment\n\n{}", LIB.replace("url)", "url.strip())")));
    assert_eq!(counts(&recheck(&db, &log)), (1, 0));

    // A signature change: the pieces that call the library are checked again; their files'
    // diagnostics are put together again only if a piece's changed (here none did).
    db.set_file("lib.kfl", LIB.replace("input url: String", "input url: String = \"s3://default\""));
    assert_eq!(counts(&recheck(&db, &log)), (1, 2));

    // A signature change that makes an error: the file that has it is put together again.
    db.set_file("lib.kfl", LIB.replace("input url: String", "input url: Int"));
    log.lock().expect("log").clear();
    let a = db.file("a.kfl").expect("a.kfl");
    assert_eq!(check_file(&db, a).len(), 1, "{:?}", check_file(&db, a));
    let ran: Vec<String> = log.lock().expect("log").clone();
    assert_eq!(counts(&ran), (1, 1), "{ran:?}");
}

/// A long pipeline and an edit in one of its statements: only that statement is parsed again, the
/// rest of the file comes from salsa's memo of each piece (`kfl_syntax::chunk`).
#[test]
fn an_edit_reparses_only_the_piece_it_touched() {
    let (mut db, log) = logging("parse_chunk");
    let statements: Vec<String> = (1..200).map(|i| format!("    t{i} = train(data: raw.data)\n")).collect();
    let text = |edited: &str| {
        format!(
            "{LIB}\npipeline p() {{\n    raw = load(url: \"{edited}\")\n{}    output model = t1.model\n}}\n",
            statements.concat()
        )
    };
    let parsed = |db: &Database, log: &Arc<Mutex<Vec<String>>>| {
        log.lock().expect("log").clear();
        let file = db.file("p.kfl").expect("the file");
        // Unused tasks are warned about; nothing else.
        assert!(check_file(db, file).iter().all(|d| d.code.info().id == "W0002"), "{:?}", check_file(db, file).first());
        log.lock().expect("log").len()
    };
    let parsed_raw = |db: &Database, log: &Arc<Mutex<Vec<String>>>| {
        log.lock().expect("log").clear();
        let file = db.file("p.kfl").expect("the file");
        let _ = check_file(db, file);
        log.lock().expect("log").len()
    };
    db.set_file("p.kfl", text("s3://a"));
    // Two components, the pipeline's head and end, and the 201 statements in groups of about 16
    // (cut where a statement's text says so, `kfl_syntax::chunk`).
    let cold = parsed(&db, &log);
    assert!((2 + 2 + 201 / 64..=2 + 2 + 201 / 4).contains(&cold), "{cold} pieces");

    // A one-character edit: one piece.
    db.set_file("p.kfl", text("s3://b"));
    assert_eq!(parsed(&db, &log), 1);

    // Typing a longer URL moves every later piece, which are still not parsed again.
    db.set_file("p.kfl", text("s3://bucket/with/a/longer/path"));
    assert_eq!(parsed(&db, &log), 1);
    let file = db.file("p.kfl").expect("the file");
    let parse = kfl_check::parse(&db, file);
    assert_eq!(**parse, kfl_syntax::parse_whole(file.text(&db)), "the pieces are put where they belong");

    // A syntax error: only that piece is parsed again (and fails), then each statement of it on
    // its own; the rest of the pipeline is still there and checked, so the warnings about unused
    // tasks are gone (the broken statement may have used them) and the syntax error is the only
    // diagnostic.
    db.set_file("p.kfl", text("s3://b\" \"c"));
    log.lock().expect("log").clear();
    let file = db.file("p.kfl").expect("the file");
    let _ = check_file(&db, file);
    let broken_group = log.lock().expect("log").len();
    assert!((2..=1 + 64).contains(&broken_group), "{broken_group} pieces");
    // Typing on in the broken statement: the group and that statement, nothing else.
    db.set_file("p.kfl", text("s3://b\" \"cd"));
    assert_eq!(parsed_raw(&db, &log), 2);
    db.set_file("p.kfl", text("s3://b\" \"c"));
    let file = db.file("p.kfl").expect("the file");
    let diagnostics = check_file(&db, file);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code.info().id).collect();
    assert_eq!(codes, ["E0001"], "{diagnostics:#?}");
    let parse = kfl_check::parse(&db, file);
    let Some(kfl_syntax::ast::Item::Pipeline(p)) = parse.file.items.last() else { panic!("no pipeline") };
    assert_eq!((p.body.len(), p.broken.len()), (200, 1));
}

/// The CLI's one-shot database (no memo per chunk, chunks of a clean file not scanned again) gives
/// the parse and the diagnostics the language server's memoizing database gives: on every example,
/// and on a file whose unterminated script makes its chunks unclean.
#[test]
fn a_one_shot_database_parses_and_checks_as_the_memoizing_one() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut texts: Vec<(String, String)> = std::fs::read_dir(examples)
        .expect("examples")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "kfl").then(|| (path.display().to_string(), std::fs::read_to_string(&path).ok()))
        })
        .filter_map(|(name, text)| Some((name, text?)))
        .collect();
    assert!(texts.len() >= 5, "the examples are found");
    texts.push(("unterminated.kfl".into(), format!("{LIB}\ncomponent bad {{\n    python \"\"\"\n        x = 1\n}}\n")));
    texts.push((
        "broken-statement.kfl".into(),
        format!("{LIB}\n{}", pipeline("p", "u").replace("t = train", "t = = train")),
    ));
    for (name, text) in texts {
        let mut memo = Database::default();
        let mut once = Database::one_shot();
        let a = memo.set_file(&name, text.clone());
        let b = once.set_file(&name, text);
        assert_eq!(kfl_check::parse(&memo, a).file, kfl_check::parse(&once, b).file, "{name}");
        assert_eq!(kfl_check::parse(&memo, a).errors, kfl_check::parse(&once, b).errors, "{name}");
        assert_eq!(check_file(&memo, a), check_file(&once, b), "{name}");
    }
}

/// Changing an argument of any statement of a long pipeline re-checks that statement's piece and
/// nothing else: the pieces keep their bounds (they are cut by what each statement declares and
/// calls, not by its arguments), so no later piece is renumbered and checked again.
#[test]
fn an_argument_edit_rechecks_one_piece() {
    let (mut db, log) = logging("check_piece");
    let text = |urls: &[String]| {
        let mut out = format!("{LIB}\npipeline p() {{\n");
        for (i, url) in urls.iter().enumerate() {
            out.push_str(&format!("    raw{i} = load(url: \"{url}\")\n    t{i} = train(data: raw{i}.data)\n"));
            out.push_str(&format!("    output model{i} = t{i}.model\n"));
        }
        out.push_str("}\n");
        out
    };
    let mut urls: Vec<String> = (0..300).map(|i| format!("s3://bucket/{i}")).collect();
    db.set_file("p.kfl", text(&urls));
    let file = db.file("p.kfl").expect("the file");
    assert!(check_file(&db, file).is_empty(), "{:?}", check_file(&db, file).first());
    assert_eq!(kfl_check::pipelines_checked_in_pieces(&db, file), (1, 0));
    for edited in (0..300).step_by(7) {
        for value in ["s3://x", "s3://y/z", "gs://another/longer/path"] {
            urls[edited] = value.to_string();
            db.set_file("p.kfl", text(&urls));
            log.lock().expect("log").clear();
            assert!(check_file(&db, file).is_empty());
            let ran = log.lock().expect("log").clone();
            assert_eq!(ran.len(), 1, "statement {edited} set to {value}: {ran:?} checked again");
        }
    }
}

/// Adding, removing or renaming a task of a long pipeline changes what the pipeline declares; the
/// pieces checked again are those whose text changed and those that read the name whose meaning
/// changed, not every piece (nothing a piece's check sees is numbered in the order of the body).
#[test]
fn a_declaration_edit_rechecks_the_pieces_that_read_it() {
    let (mut db, log) = logging("check_piece");
    let text = |top: &str, renamed: &str| {
        let mut out = format!("{LIB}\npipeline p() {{\n{top}");
        for i in 0..300 {
            let name = if i == 150 { renamed.to_string() } else { format!("t{i}") };
            out.push_str(&format!(
                "    raw{i} = load(url: \"s3://bucket/{i}\")\n    {name} = train(data: raw{i}.data)\n"
            ));
        }
        // Every task is read at the end, far from where it is declared.
        for i in 0..300 {
            out.push_str(&format!("    output model{i} = t{i}.model\n"));
        }
        out.push_str("}\n");
        out
    };
    let check = |db: &mut Database, text: String| {
        db.set_file("p.kfl", text.clone());
        log.lock().expect("log").clear();
        let file = db.file("p.kfl").expect("the file");
        let diagnostics = check_file(db, file).to_vec();
        let mut once = Database::one_shot();
        let whole = once.set_file("p.kfl", text);
        assert_eq!(diagnostics, check_file(&once, whole).to_vec(), "the pieces check as the whole does");
        let ran = log.lock().expect("log").len();
        let mut codes: Vec<&str> = diagnostics.iter().map(|d| d.code.info().id).collect();
        codes.sort_unstable();
        (ran, codes)
    };
    let (cold, codes) = check(&mut db, text("", "t150"));
    assert!(cold > 30 && codes.is_empty(), "{cold} pieces, {codes:?}");

    // A task added above every other: its piece (perhaps cut in two), not the ones below.
    let added = "    extra = load(url: \"s3://extra\")\n";
    let (ran, codes) = check(&mut db, text(added, "t150"));
    assert!((1..=3).contains(&ran), "{ran} pieces checked again");
    assert_eq!(codes, ["W0002"], "the new task's results are not used");
    // Typing its name, letter by letter.
    for typed in ["e", "ex", "ext", "extr"] {
        let (ran, _) = check(&mut db, text(&added.replace("extra", typed), "t150"));
        assert!((1..=3).contains(&ran), "`{typed}`: {ran} pieces checked again");
    }
    // And removing it again.
    let (ran, codes) = check(&mut db, text("", "t150"));
    assert!((1..=3).contains(&ran) && codes.is_empty(), "{ran} pieces checked again, {codes:?}");

    // Renaming a task: its piece, and the piece far below that reads the old name, now unknown.
    let (ran, codes) = check(&mut db, text("", "t150_renamed"));
    assert!((2..=4).contains(&ran), "{ran} pieces checked again");
    assert_eq!(codes, ["E0102", "W0002"], "the old name is unknown, the new task unused");
    // Naming it back makes the reader's reference good again: the reader is checked again; the
    // task's piece has its text of before, and salsa still has its check.
    let (ran, codes) = check(&mut db, text("", "t150"));
    assert!((1..=4).contains(&ran) && codes.is_empty(), "{ran} pieces checked again, {codes:?}");
}
