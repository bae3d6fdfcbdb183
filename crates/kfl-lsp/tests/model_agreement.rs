//! The editor and the build agree: what hover, inlay hints and completion show is read from the
//! same model that `kflc build` lowers, checked on every example and on the field table.

use std::path::{Path, PathBuf};

use kfl_check::model::{file_model, program};
use kfl_check::{Database, SourceFile};
use kfl_lsp::convert::{ClientSupport, UriMap};
use kfl_lsp::features::{completion, hover, Ctx};
use kfl_lsp::lookup;
use kfl_model::fields::{self, Place};
use tower_lsp_server::ls_types::HoverContents;

fn kfl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            kfl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "kfl") {
            out.push(path);
        }
    }
}

/// Every example file, loaded into one database (imports between them resolve).
fn examples() -> (Database, Vec<SourceFile>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut paths = Vec::new();
    kfl_files(&root, &mut paths);
    paths.sort();
    assert!(paths.len() >= 5, "the examples were not found under {}", root.display());
    let mut db = Database::default();
    let files = paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            db.set_file(&p.to_string_lossy(), text)
        })
        .collect();
    (db, files)
}

fn hover_text(ctx: &Ctx<'_>, offset: usize) -> String {
    match hover::hover(ctx, offset).map(|h| h.contents) {
        Some(HoverContents::Markup(m)) => m.value,
        other => panic!("no markup hover at {offset}: {other:?}"),
    }
}

#[test]
fn hover_on_a_pipeline_output_shows_the_type_the_lowered_dag_has() {
    let (db, files) = examples();
    let uris = UriMap::default();
    let support = ClientSupport { markdown_hover: true, ..ClientSupport::default() };
    let mut checked = 0;
    for file in files {
        for pipeline in &file_model(&db, file).pipelines {
            let Ok(program) = program(&db, file, Some(&pipeline.id.name)) else { continue };
            let dag = kfl_dag::lower(&program).expect("an example lowers");
            let ctx = Ctx::new(&db, file, &uris, support);
            for output in &pipeline.outputs {
                let built = dag.outputs.iter().find(|o| o.name == output.name).expect("the dag has the output");
                let shown = output.ty.clone();
                assert_eq!(kfl_dag::io_type(&shown), built.ty, "{}.{}", pipeline.id.name, output.name);
                let text = hover_text(&ctx, output.name_span.start as usize + 1);
                assert!(text.contains(&format!("output {}: {shown}", output.name)), "{text}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "only {checked} pipeline outputs were compared");
}

#[test]
fn hover_on_a_task_output_reference_shows_the_callee_output_of_the_model() {
    let (db, files) = examples();
    let uris = UriMap::default();
    let support = ClientSupport { markdown_hover: true, ..ClientSupport::default() };
    let mut checked = 0;
    for file in files {
        let ctx = Ctx::new(&db, file, &uris, support);
        for pipeline in &file_model(&db, file).pipelines {
            for task in pipeline.tasks() {
                for arg in &task.args {
                    let kfl_model::item::ExprKind::Output { task: read, output } = &arg.value.kind else { continue };
                    let Some(&span) = arg.value.parts.get(1) else { continue };
                    let source = lookup::find_task(pipeline, read).expect("the task read is in the model");
                    let callee = lookup::callee_item(&db, &source.callee).expect("its callee is in the model");
                    let (_, ty) = callee.outputs().into_iter().find(|(n, _)| n == output).expect("the output");
                    let text = hover_text(&ctx, span.start as usize);
                    assert!(text.contains(&format!("output {output}: {ty}")), "{text}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 5, "only {checked} task outputs were compared");
}

/// Completion labels at the `|` of a text.
fn labels(text: &str) -> Vec<String> {
    let offset = text.find('|').expect("a cursor mark");
    let mut db = Database::default();
    let file = db.set_file("/p/main.kfl", text.replacen('|', "", 1));
    let uris = UriMap::default();
    let ctx = Ctx::new(&db, file, &uris, ClientSupport::default());
    completion::completion(&ctx, offset).into_iter().map(|i| i.label).collect()
}

const ITEMS: &str = "component train {\n    image = \"python:3.11\"\n    input n: Int\n    output model: Model\n    sh \"echo $n > $model\"\n}\n\npipeline inner(n: Int) {\n    t = train(n: n)\n    output model = t.model\n}\n\n";

#[test]
fn settings_completion_is_the_field_table_rows_allowed_in_the_place() {
    let expected = |place: Place| -> Vec<String> {
        let mut rows: Vec<String> = fields::fields_in(place).map(|f| f.name.to_string()).collect();
        rows.extend(fields::block_names().into_iter().map(str::to_string));
        rows
    };
    let task = labels(&format!("{ITEMS}pipeline p() {{\n    t = train(n: 1) {{\n        |\n    }}\n}}\n"));
    assert_eq!(task, expected(Place::Task));
    let call = labels(&format!("{ITEMS}pipeline p() {{\n    c = inner(n: 1) {{\n        |\n    }}\n}}\n"));
    assert_eq!(call, expected(Place::PipelineCall));
    assert!(!call.contains(&"display_name".to_string()), "display_name is not allowed on a call of a pipeline");
    let component = labels("component c {\n    |\n}\n");
    let rows = expected(Place::Component);
    assert!(rows.iter().all(|r| component.contains(r)), "{component:?}");
    let resources = labels("component c {\n    resources { cpu = 1, | }\n}\n");
    let entries: Vec<String> =
        fields::entries_of("resources").map(|f| f.name.to_string()).filter(|n| n != "cpu").collect();
    assert_eq!(resources, entries);
}

#[test]
fn completion_after_a_task_lists_the_callee_outputs_of_the_model() {
    let got = labels(&format!("{ITEMS}pipeline p() {{\n    c = inner(n: 1)\n    x = c.|\n}}\n"));
    assert_eq!(got, vec!["model".to_string()]);
}

#[test]
fn definitions_from_the_model_land_on_the_declared_names() {
    use kfl_lsp::features::navigation::model_definition;
    let (db, files) = examples();
    let text_at = |path: &str, span: kfl_diagnostics::Span| -> String {
        let file = lookup::file_of(&db, path).expect("a project file");
        file.text(&db)[span.range()].to_string()
    };
    let mut checked = 0;
    for file in files {
        for pipeline in &file_model(&db, file).pipelines {
            for task in pipeline.tasks() {
                let at = lookup::model_at(&db, file, task.callee_span.start as usize).expect("the callee");
                let (path, span) = model_definition(&db, at).expect("the callee is declared");
                assert_eq!(text_at(path, span), text_at(&pipeline.id.file, task.callee_span));
                for arg in &task.args {
                    let at = lookup::model_at(&db, file, arg.name_span.start as usize).expect("the argument");
                    assert!(matches!(at, lookup::At::ArgName { .. }), "{at:?}");
                    let (path, span) = model_definition(&db, at).expect("the input is declared");
                    assert_eq!(text_at(path, span), arg.name);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} arguments were followed");
}

/// References and rename read the model: every name the model binds in a pipeline body is, in the
/// index that find-references and rename read, the symbol the model bound it to, and renaming a
/// pipeline parameter edits exactly the places the model reads it (and its declaration).
#[test]
fn references_and_rename_follow_the_models_bindings() {
    use kfl_lsp::index::{file_index, references, Symbol};
    use kfl_model::item::{Expr, ExprKind, Stmt};

    fn exprs<'m>(stmts: &'m [Stmt], out: &mut Vec<&'m Expr>) {
        for stmt in stmts {
            match stmt {
                Stmt::Task(t) => out.extend(t.args.iter().map(|a| &a.value)),
                Stmt::If(i) => {
                    for b in &i.branches {
                        out.extend(&b.cond);
                        exprs(&b.body, out);
                    }
                }
                Stmt::For(l) => {
                    out.push(&l.items);
                    exprs(&l.body, out);
                }
                Stmt::Finally(f) => exprs(&f.body, out),
            }
        }
    }
    fn leaves<'m>(e: &'m Expr, out: &mut Vec<&'m Expr>) {
        match &e.kind {
            ExprKind::Not(a) => leaves(a, out),
            ExprKind::And(a, b) | ExprKind::Or(a, b) | ExprKind::Compare(_, a, b) => {
                leaves(a, out);
                leaves(b, out);
            }
            _ => out.push(e),
        }
    }

    let (db, files) = examples();
    let mut params_checked = 0;
    let mut outputs_checked = 0;
    for file in files {
        let index = file_index(&db, file);
        for pipeline in &file_model(&db, file).pipelines {
            let mut all = Vec::new();
            exprs(&pipeline.body, &mut all);
            all.extend(pipeline.outputs.iter().map(|o| &o.value));
            let mut reads = Vec::new();
            all.into_iter().for_each(|e| leaves(e, &mut reads));
            for expr in reads {
                let Some(&head) = expr.parts.first() else { continue };
                let found = index.at(head.start as usize).map(|o| o.symbol.clone());
                match &expr.kind {
                    ExprKind::Param(name) => {
                        let expected = Symbol::Input { file, owner: pipeline.id.name.clone(), name: name.clone() };
                        assert_eq!(found, Some(expected), "{}: parameter read at {head:?}", file.path(&db));
                        params_checked += 1;
                    }
                    ExprKind::Output { task, output } => {
                        let expected = Symbol::Task { file, pipeline: pipeline.id.name.clone(), name: task.clone() };
                        assert_eq!(found, Some(expected), "{}: task read at {head:?}", file.path(&db));
                        let part = expr.parts[1];
                        match index.at(part.start as usize).map(|o| &o.symbol) {
                            Some(Symbol::Output { name, .. }) => assert_eq!(name, output),
                            other => panic!("{}: output read at {part:?} is {other:?}", file.path(&db)),
                        }
                        outputs_checked += 1;
                    }
                    _ => {}
                }
            }
            // Renaming a parameter edits its declaration and every read the model has of it.
            for param in &pipeline.params {
                let symbol = Symbol::Input { file, owner: pipeline.id.name.clone(), name: param.name.clone() };
                let mut edited: Vec<u32> = references(&db, &symbol)
                    .into_iter()
                    .filter(|(f, _)| *f == file)
                    .map(|(_, o)| o.span.start)
                    .collect();
                edited.sort_unstable();
                assert!(edited.contains(&param.name_span.start), "{}: {} declared", file.path(&db), param.name);
                assert!(edited.iter().all(|&at| file.text(&db)[at as usize..].starts_with(param.name.as_str())));
            }
        }
    }
    assert!(params_checked > 5 && outputs_checked > 20, "{params_checked} parameters, {outputs_checked} outputs");
}
