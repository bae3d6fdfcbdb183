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

#[test]
fn an_edit_rechecks_only_what_depends_on_it() {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = log.clone();
    let mut db = Database::with_event_callback(move |event| {
        if let salsa::EventKind::WillExecute { database_key } = event.kind {
            let text = format!("{database_key:?}");
            if text.starts_with("check_file") {
                sink.lock().expect("log").push(text);
            }
        }
    });
    db.set_file("lib.kfl", LIB.to_string());
    db.set_file("a.kfl", pipeline("a", "s3://a"));
    db.set_file("b.kfl", pipeline("b", "s3://b"));
    assert_eq!(recheck(&db, &log).len(), 3, "a cold check runs every file");

    // An edit inside one pipeline: only that file is checked again.
    db.set_file("a.kfl", pipeline("a", "s3://a-changed"));
    assert_eq!(recheck(&db, &log).len(), 1);

    // An edit in the library that leaves every signature alone (a script line): only the library.
    db.set_file("lib.kfl", LIB.replace("url)", "url.strip())"));
    assert_eq!(recheck(&db, &log).len(), 1);

    // Moving the library's text down (every span changes, no signature does): only the library.
    db.set_file("lib.kfl", format!("// a comment\n\n{}", LIB.replace("url)", "url.strip())")));
    assert_eq!(recheck(&db, &log).len(), 1);

    // A signature change: everything that imports the library is checked again.
    db.set_file("lib.kfl", LIB.replace("input url: String", "input url: String = \"s3://default\""));
    assert_eq!(recheck(&db, &log).len(), 3);
}
