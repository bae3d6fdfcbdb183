//! Running a pipeline's checks: on a whole body at once, or piece by piece as salsa queries.
//!
//! The queries, for a pipeline the parser put together from pieces ([`crate::PipelinePieces`]):
//! - [`piece_summary`]: what one piece declares, memoized by the piece's text;
//! - [`pipeline_scope`]: the summaries put together (re-made after every edit of the file, but
//!   equal, and so not invalidating what reads it, unless a declaration changed);
//! - [`piece_scope`]: what one piece reads of that scope (re-made when a declaration changed, but
//!   equal unless a name the piece reads means something else now);
//! - [`check_piece`]: one piece checked against its piece scope, by the piece's text (and how many
//!   pieces of the same text come before it, not its place: a piece added above renumbers none);
//! - [`piece_effects`], [`pipeline_effects`]: what the pieces found out, compared for equality, so
//!   that [`pipeline_global`] runs again only when a reference, a dependency or a use changed.
//!
//! [`check_pipeline`] puts the diagnostics of all of them in their place in the file.

use std::sync::Arc;

use kfl_diagnostics::{Diagnostic, Span};
use kfl_syntax::ast;
use kfl_syntax::chunk::ChunkTree;

use super::global::{head_params, Global};
use super::piece_scope::PieceScope;
use super::scope::{
    resolve as resolve_at, summarize, At, BodyScope, PieceSummary, PipelineScope, Starts, TaskBlock, PIECES_PER_BLOCK,
};
use super::{PieceChecker, PieceEffects};
use crate::check::{place, Checker};
use crate::{parse_chunk, parse_outline, Chunk, Db, SourceFile};

/// One pipeline of a file, by its place among the file's items.
#[salsa::interned(debug)]
pub(crate) struct PipelineKey<'db> {
    #[returns(copy)]
    file: SourceFile,
    #[returns(copy)]
    item: u32,
}

/// One piece of a pipeline's body: its text, and how many pieces of the same text come before it
/// (not its place among the pieces: a piece added above would make every later one new).
#[salsa::interned(debug)]
pub(crate) struct PieceKey<'db> {
    #[returns(copy)]
    pipeline: PipelineKey<'db>,
    #[returns(copy)]
    chunk: Chunk<'db>,
    #[returns(copy)]
    occurrence: u32,
}

/// The keys of a pipeline's pieces, in order.
#[salsa::tracked(returns(ref))]
fn piece_keys<'db>(db: &'db dyn Db, key: PipelineKey<'db>) -> Option<Vec<PieceKey<'db>>> {
    let pieces = pieces_of(db, key)?;
    let mut seen: rustc_hash::FxHashMap<Chunk<'db>, u32> = rustc_hash::FxHashMap::default();
    seen.reserve(pieces.statements.len());
    let keys = pieces.statements.iter().map(|&(_, chunk)| {
        let occurrence = seen.entry(chunk).or_insert(0);
        *occurrence += 1;
        PieceKey::new(db, key, chunk, *occurrence - 1)
    });
    Some(keys.collect())
}

/// What one piece's checks produced: diagnostics with spans relative to the piece (placeholders
/// for spans elsewhere, see [`Checker::at`]) and effects.
#[derive(PartialEq, Eq, Debug)]
pub(crate) struct Checked {
    pub diagnostics: Vec<Diagnostic>,
    pub foreign: Vec<At>,
    pub effects: Arc<PieceEffects>,
}

/// Checks a pipeline and puts its diagnostics in `checker`. Piece by piece, through the queries,
/// when the parser put it together from pieces; otherwise the whole body at once.
pub(crate) fn check_pipeline(checker: &mut Checker<'_>, item: u32) {
    let db = checker.db;
    let file = checker.file;
    let pieces = parse_outline(db, file).pipelines.iter().find(|p| p.item == item);
    let Some(pieces) = pieces else {
        // Not in pieces (its head or end did not parse): the whole tree's recovery of it.
        if let Some(ast::Item::Pipeline(pipeline)) = crate::parse(db, file).file.items.get(item as usize) {
            check_whole(checker, pipeline);
        }
        return;
    };
    let key = PipelineKey::new(db, file, item);
    let offsets: Vec<u32> = pieces.statements.iter().map(|(offset, _)| *offset).collect();
    // The spans of places named by diagnostics, from the pieces' current summaries (looked up only
    // if a diagnostic names a place elsewhere).
    let summaries = std::cell::OnceCell::new();
    let resolve = |at: &At| -> Option<Span> {
        let body = pipeline_body(db, key).as_ref()?;
        let summaries = summaries.get_or_init(|| {
            pieces.statements.iter().map(|&(_, chunk)| piece_summary(db, chunk).as_deref()).collect::<Option<Vec<_>>>()
        });
        resolve_at(at, body, summaries.as_deref()?, &offsets, pieces.head.0)
    };
    if let Some(global) = pipeline_global(db, key) {
        let by = pieces.head.0;
        checker.out.extend(global.diagnostics.iter().map(|d| place(d.clone(), &global.foreign, by, &resolve)));
        checker.used_imports.extend(global.effects.used_imports.iter().copied());
    }
    let keys = piece_keys(db, key).as_deref().unwrap_or_default();
    for (&(by, _), &piece) in pieces.statements.iter().zip(keys) {
        let Some(checked) = check_piece(db, piece) else { continue };
        checker.out.extend(checked.diagnostics.iter().map(|d| place(d.clone(), &checked.foreign, by, &resolve)));
        checker.used_imports.extend(checked.effects.used_imports.iter().copied());
    }
}

/// The same checks on a whole body, whose spans are the file's: one piece at offset 0.
fn check_whole(checker: &mut Checker<'_>, pipeline: &ast::Pipeline) {
    let db = checker.db;
    let file = checker.file;
    let text = file.text(db);
    let summary = summarize(&pipeline.body, text);
    let params = head_params(&mut Checker::for_piece(db, file), &pipeline.params);
    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let summary = Arc::new(summary);
    let block = Arc::new(TaskBlock::new([&*summary]));
    let broken = !pipeline.broken.is_empty();
    let body = BodyScope::new(pipeline.name.text.clone(), &names, vec![summary.clone()], vec![block], broken);
    let scope = Arc::new(PipelineScope::new(params, Arc::new(body)));
    let resolve = |at: &At| resolve_at(at, &scope.body, &[&summary], &[0], 0);
    let mut piece = Checker::for_piece(db, file);
    let piece_scope = PieceScope::new(&scope, &summary, || Some(Starts::default()));
    let effects = PieceChecker::new(&mut piece, &piece_scope, text).run(&pipeline.body);
    let mut global = Checker::for_piece(db, file);
    Global::new(&mut global, &scope, &[&effects]).run(&pipeline.params);
    for c in [piece, global] {
        let foreign = c.foreign.unwrap_or_default();
        checker.out.extend(c.out.into_iter().map(|d| place(d, &foreign, 0, &resolve)));
        checker.used_imports.extend(c.used_imports);
    }
}

/// The pieces of the pipeline `key` names.
fn pieces_of<'db>(db: &'db dyn Db, key: PipelineKey<'db>) -> Option<&'db crate::PipelinePieces<'db>> {
    parse_outline(db, key.file(db)).pipelines.iter().find(|p| p.item == key.item(db))
}

/// A run of consecutive pieces of statements (see [`TaskBlock`]).
#[salsa::interned(debug)]
pub(crate) struct Run<'db> {
    #[returns(ref)]
    chunks: Vec<Chunk<'db>>,
}

/// The names of the tasks of a run of pieces: made again only for the run an edit touched.
#[salsa::tracked(returns(ref))]
fn task_block<'db>(db: &'db dyn Db, run: Run<'db>) -> Option<Arc<TaskBlock>> {
    let mut summaries = Vec::with_capacity(run.chunks(db).len());
    for &chunk in run.chunks(db) {
        summaries.push(piece_summary(db, chunk).as_deref()?);
    }
    Some(Arc::new(TaskBlock::new(summaries)))
}

/// What a piece of statements declares.
#[salsa::tracked(returns(ref))]
pub(crate) fn piece_summary<'db>(db: &'db dyn Db, chunk: Chunk<'db>) -> Option<Arc<PieceSummary>> {
    let parsed = parse_chunk(db, chunk).as_ref()?;
    let ChunkTree::Statements(stmts) = &parsed.tree else { return None };
    Some(Arc::new(summarize(stmts, chunk.text(db))))
}

/// The pipeline's head: its name and parameters (spans relative to the head).
fn head<'db>(db: &'db dyn Db, key: PipelineKey<'db>) -> Option<&'db kfl_syntax::chunk::PipelineHead> {
    let chunk = (*pipeline_head(db, key))?;
    match &parse_chunk(db, chunk).as_ref()?.tree {
        ChunkTree::PipelineHead(head) => Some(head),
        _ => None,
    }
}

/// The piece that holds the pipeline's head (the same piece for as long as its text is the same).
#[salsa::tracked]
fn pipeline_head<'db>(db: &'db dyn Db, key: PipelineKey<'db>) -> Option<Chunk<'db>> {
    let pieces = pieces_of(db, key)?;
    Some(pieces.head.1)
}

/// What the pipeline's body declares: the summaries of its pieces put together. Re-made after every
/// edit of the file (the list of pieces changed), but equal unless a declaration changed.
#[salsa::tracked(returns(ref))]
pub(crate) fn pipeline_body<'db>(db: &'db dyn Db, key: PipelineKey<'db>) -> Option<Arc<BodyScope>> {
    let head = head(db, key)?;
    let pieces = pieces_of(db, key)?;
    let mut summaries = Vec::with_capacity(pieces.statements.len());
    for &(_, chunk) in &pieces.statements {
        summaries.push(piece_summary(db, chunk).clone()?);
    }
    let mut blocks = Vec::with_capacity(pieces.statements.len() / PIECES_PER_BLOCK + 1);
    for run in pieces.statements.chunks(PIECES_PER_BLOCK) {
        blocks.push(task_block(db, Run::new(db, run.iter().map(|(_, chunk)| *chunk).collect::<Vec<_>>())).clone()?);
    }
    let mut names: Vec<&str> = Vec::new();
    for param in &head.params {
        if !names.contains(&param.name.text.as_str()) {
            names.push(&param.name.text);
        }
    }
    Some(Arc::new(BodyScope::new(head.name.text.clone(), &names, summaries, blocks, pieces.broken)))
}

/// The body's declarations and the parameters with their types.
#[salsa::tracked(returns(ref))]
pub(crate) fn pipeline_scope<'db>(db: &'db dyn Db, key: PipelineKey<'db>) -> Option<Arc<PipelineScope>> {
    let head = head(db, key)?;
    let body = pipeline_body(db, key).clone()?;
    let params = head_params(&mut Checker::for_piece(db, key.file(db)), &head.params);
    Some(Arc::new(PipelineScope::new(params, body)))
}

/// What a piece reads of the rest of its pipeline: made again whenever a declaration of the
/// pipeline changed, but equal (and so not invalidating the piece's checks) unless the meaning of a
/// name the piece reads changed.
#[salsa::tracked(returns(ref))]
pub(crate) fn piece_scope<'db>(db: &'db dyn Db, key: PieceKey<'db>) -> Option<Arc<PieceScope>> {
    let scope = pipeline_scope(db, key.pipeline(db)).as_ref()?;
    let summary = piece_summary(db, key.chunk(db)).as_ref()?;
    // Where the piece is, only when a name is declared both here and in another piece.
    let starts = || {
        let keys = piece_keys(db, key.pipeline(db)).as_ref()?;
        let ordinal = keys.iter().position(|k| *k == key)?;
        scope.starts.get(ordinal).copied()
    };
    Some(Arc::new(PieceScope::new(scope, summary, starts)))
}

#[salsa::tracked(returns(ref))]
pub(crate) fn check_piece<'db>(db: &'db dyn Db, key: PieceKey<'db>) -> Option<Arc<Checked>> {
    let scope = piece_scope(db, key).as_ref()?;
    let chunk = key.chunk(db);
    let ChunkTree::Statements(stmts) = &parse_chunk(db, chunk).as_ref()?.tree else { return None };
    let mut c = Checker::for_piece(db, key.pipeline(db).file(db));
    let effects = PieceChecker::new(&mut c, scope, chunk.text(db)).run(stmts);
    Some(Arc::new(Checked { diagnostics: c.out, foreign: c.foreign.unwrap_or_default(), effects: Arc::new(effects) }))
}

/// A piece's effects alone: equal after an edit that changed only the piece's diagnostics.
#[salsa::tracked(returns(ref))]
pub(crate) fn piece_effects<'db>(db: &'db dyn Db, key: PieceKey<'db>) -> Option<Arc<PieceEffects>> {
    check_piece(db, key).as_ref().map(|c| c.effects.clone())
}

/// The effects of every piece of a pipeline, in order.
#[salsa::tracked(returns(ref))]
pub(crate) fn pipeline_effects<'db>(db: &'db dyn Db, key: PipelineKey<'db>) -> Option<Vec<Arc<PieceEffects>>> {
    let keys = piece_keys(db, key).as_ref()?;
    let mut out = Vec::with_capacity(keys.len());
    for &piece in keys {
        out.push(piece_effects(db, piece).clone()?);
    }
    Some(out)
}

/// The checks that need the whole pipeline. Spans are relative to the head.
#[salsa::tracked(returns(ref))]
pub(crate) fn pipeline_global<'db>(db: &'db dyn Db, key: PipelineKey<'db>) -> Option<Arc<Checked>> {
    let scope = pipeline_scope(db, key).as_ref()?;
    let effects = pipeline_effects(db, key).as_ref()?;
    let head = head(db, key)?;
    let mut c = Checker::for_piece(db, key.file(db));
    let all: Vec<&PieceEffects> = effects.iter().map(|e| &**e).collect();
    Global::new(&mut c, scope, &all).run(&head.params);
    let used_imports = {
        let mut used: Vec<SourceFile> = c.used_imports.iter().copied().collect();
        used.sort_unstable_by_key(salsa::plumbing::AsId::as_id);
        used
    };
    Some(Arc::new(Checked {
        diagnostics: c.out,
        foreign: c.foreign.unwrap_or_default(),
        effects: Arc::new(PieceEffects { used_imports, ..PieceEffects::default() }),
    }))
}
