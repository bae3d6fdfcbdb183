//! KFL semantics on a salsa database: name resolution across files, types, units, and every check
//! the language promises before anything runs.
//!
//! Invariants:
//! - Pure: no IO. The inputs are [`SourceFile`]s (a path and a text) collected in one [`Project`];
//!   whoever owns the world (the CLI, the language server) reads files and sets the inputs. A
//!   database that lives through edits also keeps each text's scan and cut
//!   ([`kfl_syntax::chunk::Plan`]) as an input beside it, always the plan of that text, which
//!   [`Database::set_file`] makes from the old one so that a keystroke does not scan the file.
//! - Checking never panics and never stops at the first problem: [`check_file`] returns every
//!   diagnostic of one file, each with a permanent code and a span into that file.
//! - Incremental: a file's own checks read other files only through [`items::file_exports`], which
//!   holds names and signatures without spans, so an edit that changes no signature re-checks only
//!   the edited file. Spans of other files are read only to label an error.
//! - Two products: diagnostics ([`check_file`]) and the semantic model ([`model::file_model`],
//!   [`model::program`]), which is what lowering, the backends and the runner read.
//! - Diagnostics never need the whole tree of a long pipeline: they read the file's outline
//!   (`parse_outline`: the parse with the statements of pipelines in pieces left out) and check
//!   such a pipeline piece by piece (`check::pipeline`), so an edit inside one statement re-checks
//!   that statement's piece, and the pipeline-wide checks only when a reference or use changed. A
//!   piece reads only what the names it reads mean: an edit that declares something else (a task
//!   added, renamed) re-checks the pieces that read a changed name, and the pipeline-wide checks.
//!   The one-shot database checks every pipeline whole; `tests/pieces.rs` holds both to the same
//!   diagnostics. The whole tree ([`parse`]) is made when the model or an editor feature asks.
//! - No salsa cycles: imports are read one level deep per query, and import cycles are found by an
//!   explicit walk and reported as E0115.

pub mod check;
pub mod items;
pub mod model;
pub mod types;

/// Pure helpers the model owns; re-exported under their old paths.
pub use kfl_model::{k8s, units};

use std::collections::BTreeMap;
use std::sync::Arc;

use kfl_diagnostics::Diagnostic;

pub use items::{file_exports, Export, Exports};
pub use types::Ty;

/// One `.kfl` file: its normalized path (`/` separators) and its text.
#[salsa::input(debug)]
pub struct SourceFile {
    #[returns(ref)]
    pub path: Arc<str>,
    #[returns(ref)]
    pub text: String,
    /// The text's scan and cut ([`kfl_syntax::chunk::Plan`]), kept beside it by a database that
    /// memoizes chunks ([`Db::memoize_chunks`]): [`Database::set_file`] makes the new one from the
    /// old one, cutting again only around the edit. Always the plan of `text` when present.
    #[returns(ref)]
    pub plan: Option<Arc<kfl_syntax::chunk::Plan>>,
}

/// Every file the project knows, by normalized path.
#[salsa::input(debug)]
pub struct Project {
    #[returns(ref)]
    pub files: BTreeMap<Arc<str>, SourceFile>,
    /// Imported paths that whoever reads the files refused to read (outside the project root, not
    /// a regular file, too large, not UTF-8): the checker reports them at the import with this code.
    #[returns(ref)]
    pub refused: BTreeMap<Arc<str>, Refusal>,
}

/// Why an imported path was not read: a code and a message that never quotes the file's content.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Refusal {
    pub code: kfl_diagnostics::Code,
    pub message: String,
}

/// Whether an import path may name a file at all: only `.kfl` files are imported (E0125). The
/// reader of files asks this before it opens one, so nothing else is ever read through an import.
pub fn is_importable_name(path: &str) -> bool {
    path.ends_with(".kfl")
}

#[salsa::db]
pub trait Db: salsa::Database {
    fn project(&self) -> Project;

    /// Whether [`parse`] memoizes each chunk of a file by its text. A database that lives through
    /// edits (the language server's) wants it; one that checks each file once (the CLI's) does not
    /// pay for hashing and storing every chunk. Fixed for the database's lifetime.
    fn memoize_chunks(&self) -> bool {
        true
    }
}

/// The database the CLI, the language server and the tests share.
#[salsa::db]
#[derive(Clone)]
pub struct Database {
    storage: salsa::Storage<Self>,
    /// Set once, right after the storage is made (a salsa input needs a database to be created in).
    project: Option<Project>,
    /// See [`Db::memoize_chunks`].
    memoize_chunks: bool,
}

impl Default for Database {
    fn default() -> Self {
        Database::with_storage(salsa::Storage::default())
    }
}

impl Database {
    fn with_storage(storage: salsa::Storage<Self>) -> Self {
        let mut db = Database { storage, project: None, memoize_chunks: true };
        db.project = Some(Project::new(&db, BTreeMap::new(), BTreeMap::new()));
        db
    }

    /// A database for checking files once, as the CLI does: the same answers, without the memo
    /// that makes re-parsing after an edit cheap ([`Db::memoize_chunks`]).
    pub fn one_shot() -> Self {
        Database { memoize_chunks: false, ..Database::default() }
    }

    /// A database that reports every salsa event (for tests of what is recomputed, and tracing).
    pub fn with_event_callback(callback: impl Fn(salsa::Event) + Send + Sync + 'static) -> Self {
        Database::with_storage(salsa::Storage::new(Some(Box::new(callback))))
    }
}

#[salsa::db]
impl salsa::Database for Database {}

#[salsa::db]
impl Db for Database {
    fn project(&self) -> Project {
        #[allow(clippy::expect_used)]
        self.project.expect("the project input is created with the database")
    }

    fn memoize_chunks(&self) -> bool {
        self.memoize_chunks
    }
}

impl Database {
    /// Adds a file, or changes its text if the path is known. Returns the file.
    pub fn set_file(&mut self, path: &str, text: String) -> SourceFile {
        use salsa::Setter;
        let path = normalize_path(path);
        if let Some(file) = self.project().files(self).get(&*path).copied() {
            if file.text(self) != &text {
                let plan = self.memoize_chunks.then(|| {
                    Arc::new(match file.plan(self) {
                        Some(old) => kfl_syntax::chunk::replan(file.text(self), old, &text),
                        None => kfl_syntax::chunk::plan(&text),
                    })
                });
                file.set_text(self).to(text);
                file.set_plan(self).to(plan);
            }
            return file;
        }
        let plan = self.memoize_chunks.then(|| Arc::new(kfl_syntax::chunk::plan(&text)));
        let file = SourceFile::new(self, path.clone(), text, plan);
        let mut files = self.project().files(self).clone();
        files.insert(path, file);
        self.project().set_files(self).to(files);
        file
    }

    /// Records that an imported path was not read, and why; the importing file reports it.
    pub fn refuse_file(&mut self, path: &str, refusal: Refusal) {
        use salsa::Setter;
        let path = normalize_path(path);
        if self.project().refused(self).get(&*path) == Some(&refusal) {
            return;
        }
        let mut refused = self.project().refused(self).clone();
        refused.insert(path, refusal);
        self.project().set_refused(self).to(refused);
    }

    pub fn remove_file(&mut self, path: &str) {
        use salsa::Setter;
        let path = normalize_path(path);
        let mut files = self.project().files(self).clone();
        if files.remove(&*path).is_some() {
            self.project().set_files(self).to(files);
        }
    }

    pub fn file(&self, path: &str) -> Option<SourceFile> {
        self.project().files(self).get(&*normalize_path(path)).copied()
    }

    pub fn files(&self) -> Vec<SourceFile> {
        self.project().files(self).values().copied().collect()
    }
}

/// The parse of one file: its tree, its syntax errors and its comments.
///
/// The file is parsed piece by piece ([`kfl_syntax::chunk`]) and each piece is memoized by its text,
/// so an edit re-parses only the piece it touched: one statement of a long pipeline, one component.
/// The scan and cut come from the file's plan, which [`Database::set_file`] keeps up to date by
/// cutting again only around the edit.
#[salsa::tracked(returns(ref), no_eq)]
pub fn parse(db: &dyn Db, file: SourceFile) -> Arc<kfl_syntax::Parse> {
    if !db.memoize_chunks() {
        // The outline is the whole tree then.
        return parse_outline(db, file).parse.clone();
    }
    let text = file.text(db);
    let parse_chunk = |kind, text: &str, clean| parse_chunk(db, Chunk::new(db, kind, text, clean)).clone();
    Arc::new(match file.plan(db) {
        Some(plan) => kfl_syntax::chunk::parse_with_plan(text, plan, parse_chunk),
        None => kfl_syntax::chunk::parse_with(text, parse_chunk),
    })
}

/// A file's parse without the statements of the pipelines put together from pieces, and those
/// pieces: what the checks need, and they check such a pipeline piece by piece
/// ([`check::check`]). Its items, comments and syntax errors are those of [`parse`]; without a
/// memo of chunks ([`Db::memoize_chunks`]) it is [`parse`] itself and no pipeline is in pieces.
#[salsa::tracked(returns(ref), no_eq)]
pub(crate) fn parse_outline<'db>(db: &'db dyn Db, file: SourceFile) -> ParsedFile<'db> {
    let text = file.text(db);
    if !db.memoize_chunks() {
        return ParsedFile { parse: Arc::new(kfl_syntax::parse(text)), pipelines: Vec::new() };
    }
    // Every piece asked for, in order: its offset, kind, memo key and whether it parsed.
    let mut asked: Vec<(u32, kfl_syntax::chunk::ChunkKind, Chunk<'db>, bool)> = Vec::new();
    let parse_chunk = |kind, piece: &str, clean| {
        let chunk = Chunk::new(db, kind, piece, clean);
        let hollow = hollow_chunk(db, chunk).clone();
        // Pieces are slices of the text: their place is the distance from its start.
        if let Some(offset) = (piece.as_ptr() as usize).checked_sub(text.as_ptr() as usize) {
            if offset <= text.len() {
                asked.push((offset as u32, kind, chunk, hollow.is_some()));
            }
        }
        hollow
    };
    let parse = match file.plan(db) {
        Some(plan) => kfl_syntax::chunk::parse_with_plan(text, plan, parse_chunk),
        None => kfl_syntax::chunk::parse_with(text, parse_chunk),
    };
    let pipelines = pipeline_pieces(&parse, &asked);
    ParsedFile { parse: Arc::new(parse), pipelines }
}

/// A chunk's parse with its statements left out (their errors kept), for [`parse_outline`].
#[salsa::tracked(returns(ref))]
fn hollow_chunk<'db>(db: &'db dyn Db, chunk: Chunk<'db>) -> Option<Arc<kfl_syntax::chunk::ChunkParse>> {
    use kfl_syntax::chunk::{ChunkParse, ChunkTree};
    let parsed = parse_chunk(db, chunk).as_ref()?;
    Some(match &parsed.tree {
        ChunkTree::Statements(_) => {
            Arc::new(ChunkParse { tree: ChunkTree::Statements(Vec::new()), errors: parsed.errors.clone() })
        }
        _ => parsed.clone(),
    })
}

/// A file's outline and the pieces its pipelines were put together from.
#[derive(salsa::SalsaValue)]
pub(crate) struct ParsedFile<'db> {
    pub parse: Arc<kfl_syntax::Parse>,
    /// The pipelines put together from pieces, whose statements are left out of `parse`.
    pub pipelines: Vec<PipelinePieces<'db>>,
}

/// The pieces of one pipeline: its head and its runs of statements, each with its offset in the file.
#[derive(Clone, PartialEq, Eq, Debug, salsa::SalsaValue)]
pub(crate) struct PipelinePieces<'db> {
    /// The pipeline's place among the file's items.
    pub item: u32,
    pub head: (u32, Chunk<'db>),
    /// The pieces that parsed (a statement that did not is left out, and reported).
    pub statements: Vec<(u32, Chunk<'db>)>,
    /// Statements did not parse.
    pub broken: bool,
}

/// The pieces each pipeline of `parse` was put together from (its head and end parsed).
fn pipeline_pieces<'db>(
    parse: &kfl_syntax::Parse,
    asked: &[(u32, kfl_syntax::chunk::ChunkKind, Chunk<'db>, bool)],
) -> Vec<PipelinePieces<'db>> {
    use kfl_syntax::chunk::ChunkKind;
    let mut out = Vec::new();
    let mut cursor = 0;
    for (item, it) in parse.file.items.iter().enumerate() {
        let kfl_syntax::ast::Item::Pipeline(p) = it else { continue };
        let (start, end) = (p.span.start, p.span.end.saturating_sub(1));
        // The pieces come in the order of the text.
        while cursor < asked.len() && asked[cursor].0 < start {
            cursor += 1;
        }
        let Some(&(offset, ChunkKind::PipelineHead, head, true)) = asked.get(cursor) else { continue };
        if offset != start {
            continue;
        }
        let mut statements = Vec::new();
        let mut closed = false;
        while let Some(&(offset, kind, chunk, ok)) = asked.get(cursor + 1) {
            cursor += 1;
            match kind {
                ChunkKind::Statements if ok && offset < end => statements.push((offset, chunk)),
                ChunkKind::Statements => {}
                ChunkKind::PipelineEnd => {
                    closed = ok && offset == end;
                    break;
                }
                ChunkKind::Item | ChunkKind::PipelineHead => break,
            }
        }
        if closed {
            let broken = !p.broken.is_empty();
            out.push(PipelinePieces { item: item as u32, head: (start, head), statements, broken });
        }
    }
    out
}

/// A piece of a file, interned by its kind and text (and whether the file around it was clean, see
/// [`kfl_syntax::chunk::parse_clean_chunk`]): the same text is parsed once.
#[salsa::interned(debug)]
pub(crate) struct Chunk<'db> {
    kind: kfl_syntax::chunk::ChunkKind,
    #[returns(ref)]
    text: String,
    clean: bool,
}

#[salsa::tracked(returns(ref))]
pub(crate) fn parse_chunk<'db>(db: &'db dyn Db, chunk: Chunk<'db>) -> Option<Arc<kfl_syntax::chunk::ChunkParse>> {
    parse_chunk_text(*chunk.kind(db), chunk.text(db), *chunk.clean(db))
}

fn parse_chunk_text(
    kind: kfl_syntax::chunk::ChunkKind,
    text: &str,
    clean: bool,
) -> Option<Arc<kfl_syntax::chunk::ChunkParse>> {
    let parse = if clean {
        kfl_syntax::chunk::parse_clean_chunk(kind, text)
    } else {
        kfl_syntax::chunk::parse_chunk(kind, text)
    };
    parse.map(Arc::new)
}

/// How many pipelines of `file` the database checks piece by piece, and how many of those have
/// statements that did not parse (for the tests that hold the piece-by-piece checks to the
/// whole-body ones).
#[doc(hidden)]
pub fn pipelines_checked_in_pieces(db: &dyn Db, file: SourceFile) -> (usize, usize) {
    let pipelines = &parse_outline(db, file).pipelines;
    (pipelines.len(), pipelines.iter().filter(|p| p.broken).count())
}

/// Every diagnostic of one file, sorted by position.
#[salsa::tracked(returns(ref))]
pub fn check_file(db: &dyn Db, file: SourceFile) -> Arc<Vec<Diagnostic>> {
    let mut diagnostics = parse_outline(db, file).parse.errors.clone();
    diagnostics.extend(check::check(db, file));
    kfl_diagnostics::sort(&mut diagnostics);
    diagnostics.dedup();
    Arc::new(diagnostics)
}

/// A path with `/` separators and without `.` or `..` segments (as far as they can be resolved).
pub fn normalize_path(path: &str) -> Arc<str> {
    let path = path.replace('\\', "/");
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}").into()
    } else {
        joined.into()
    }
}

/// The path an import names, relative to the importing file's folder.
pub fn resolve_import_path(importer: &str, relative: &str) -> Arc<str> {
    if relative.starts_with('/') {
        return normalize_path(relative);
    }
    match importer.rfind('/') {
        Some(slash) => normalize_path(&format!("{}/{relative}", &importer[..slash])),
        None => normalize_path(relative),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize() {
        assert_eq!(&*normalize_path("a/./b/../c.kfl"), "a/c.kfl");
        assert_eq!(&*normalize_path("/x/../../y.kfl"), "/y.kfl");
        assert_eq!(&*normalize_path("../y.kfl"), "../y.kfl");
        assert_eq!(&*resolve_import_path("p/main.kfl", "components/a.kfl"), "p/components/a.kfl");
        assert_eq!(&*resolve_import_path("main.kfl", "../lib.kfl"), "../lib.kfl");
    }

    #[test]
    fn a_file_edited_again_and_again_keeps_the_plan_and_the_parse_of_its_text() {
        let mut text = String::from("component a { image = \"x\" }\npipeline p() {\n");
        for i in 0..200 {
            text.push_str(&format!("    t{i} = a()\n"));
        }
        text.push_str("}\n");
        let mut db = Database::default();
        let file = db.set_file("p.kfl", text.clone());
        let edits = [
            ("t50 = a()", "t50 = a(x: 1)"),
            ("t50 = a(x: 1)", "t50 = a(x: "),
            ("t50 = a(x: ", "t50 = a()"),
            ("}\n", ""),
        ];
        for (from, to) in edits {
            text = text.replacen(from, to, 1);
            db.set_file("p.kfl", text.clone());
            assert_eq!(file.plan(&db).as_deref(), Some(&kfl_syntax::chunk::plan(&text)));
            assert_eq!(**parse(&db, file), kfl_syntax::parse(&text));
        }
        // The database of the CLI keeps no plan.
        let mut once = Database::one_shot();
        let file = once.set_file("p.kfl", text.clone());
        assert_eq!(file.plan(&once), &None);
        assert_eq!(**parse(&once, file), kfl_syntax::parse(&text));
    }
}
