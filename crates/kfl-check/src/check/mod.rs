//! The checks of one file: items, imports, artifact types, components and pipelines.
//!
//! [`check`] walks the items of a file with one `Checker`, which holds what the checks share (the
//! diagnostics so far, the imports used, resolved signature types). Each job lives in its module:
//!
//! - `items_and_imports`: duplicate and built-in names, imports
//! - `type_names`: written types and artifact declarations
//! - `literals`: literal values and their types
//! - `components`: components, their inputs, outputs and fields
//! - `scripts`: container commands and scripts
//! - `settings`: fields and blocks shared by components and tasks
//! - `resources`: the `resources` block, quantities and `accelerator`
//! - `pipeline`: pipelines, tasks, expressions, the graph and unused results
//! - `helpers`: small shared helpers

mod components;
mod helpers;
mod items_and_imports;
mod literals;
mod pipeline;
mod resources;
mod scripts;
mod settings;
mod type_names;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;

use kfl_diagnostics::{Code, Diagnostic, Label, Span};
use kfl_syntax::ast::{self, Ident};

use crate::items::{self, lookup, Found};
use crate::types::Ty;
use crate::{parse_outline, Db, SourceFile};

use pipeline::scope::At;

pub(crate) use pipeline::pieces::{pipeline_body, PipelineKey};
pub(crate) use pipeline::scope::{BodyScope, ScopeId};

pub fn check(db: &dyn Db, file: SourceFile) -> Vec<Diagnostic> {
    // The outline: a pipeline put together from pieces is checked piece by piece, without its
    // statements ever being put in one tree.
    let parse = &parse_outline(db, file).parse;
    let mut checker = Checker::new(db, file);
    checker.check_items(&parse.file);
    checker.check_imports(&parse.file);
    for (index, item) in parse.file.items.iter().enumerate() {
        match item {
            ast::Item::Import(_) => {}
            ast::Item::Artifact(a) => checker.check_artifact(a),
            ast::Item::Component(c) => checker.check_component(c),
            ast::Item::Pipeline(_) => pipeline::pieces::check_pipeline(&mut checker, index as u32),
        }
    }
    // What did not parse may have used an import.
    let has_broken_parts = !parse.broken_items.is_empty()
        || parse.file.items.iter().any(|item| matches!(item, ast::Item::Pipeline(p) if !p.broken.is_empty()));
    if !has_broken_parts {
        checker.check_unused_imports();
    }
    checker.out
}

pub(crate) struct Checker<'db> {
    db: &'db dyn Db,
    file: SourceFile,
    path: Arc<str>,
    out: Vec<Diagnostic>,
    /// Imported files from which this file uses at least one name.
    used_imports: HashSet<SourceFile>,
    /// The component's `resources` entries while a task's `resources` block is checked.
    resource_base: Vec<ast::KvEntry>,
    /// Resolved types of inputs and outputs of signatures, by the signature part's address (it
    /// lives in salsa's memo for all of `'db`): a long pipeline calls the same components again and
    /// again, and resolving a type name looks through the file's imports.
    signature_types: HashMap<usize, Ty>,
    /// `Some` while a piece of a pipeline is checked: spans are then relative to the piece, and a
    /// span anywhere else (another piece, the pipeline's head, an item of the file) is written as a
    /// placeholder, [`FOREIGN`] plus its index here, which [`place`] resolves.
    foreign: Option<Vec<At>>,
}

/// The bit that marks a placeholder span (see [`Checker::at`]). No file checked is 2 GiB long.
pub(crate) const FOREIGN: u32 = 1 << 31;

impl<'db> Checker<'db> {
    fn new(db: &'db dyn Db, file: SourceFile) -> Self {
        Checker {
            db,
            file,
            path: file.path(db).clone(),
            out: Vec::new(),
            used_imports: HashSet::default(),
            resource_base: Vec::new(),
            signature_types: HashMap::default(),
            foreign: None,
        }
    }

    /// A checker for one piece of a pipeline (see [`Checker::foreign`]).
    pub(crate) fn for_piece(db: &'db dyn Db, file: SourceFile) -> Self {
        Checker { foreign: Some(Vec::new()), ..Checker::new(db, file) }
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.out.push(diagnostic);
    }

    /// A span somewhere else than the piece being checked.
    pub(crate) fn at(&mut self, at: At) -> Span {
        match &mut self.foreign {
            Some(foreign) => {
                let index = FOREIGN | foreign.len() as u32;
                foreign.push(at);
                Span { start: index, end: index }
            }
            // The file's own checks name only spans of the file.
            None => match at {
                At::File(span) | At::Head(span) => span,
                _ => Span::default(),
            },
        }
    }

    fn label_in(&mut self, owner: SourceFile, span: Span, message: impl Into<String>) -> Label {
        if owner == self.file {
            Label::new(self.at(At::File(span)), message)
        } else {
            Label::in_file(owner.path(self.db).clone(), span, message)
        }
    }

    /// The span of an item's name in the file that declares it (read only to label an error).
    fn item_name_span(&self, owner: SourceFile, name: &str) -> Option<Span> {
        items::item_name_spans(self.db, owner).get(name).copied()
    }

    /// [`items::input_ty`], remembered for this check.
    fn input_ty(&mut self, owner: SourceFile, input: &'db items::InputSig) -> Ty {
        let key = std::ptr::from_ref(input) as usize;
        let db = self.db;
        self.signature_types.entry(key).or_insert_with(|| items::input_ty(db, owner, input)).clone()
    }

    /// [`items::output_ty`], remembered for this check.
    fn output_ty(&mut self, owner: SourceFile, output: &'db items::OutputSigE) -> Ty {
        let key = std::ptr::from_ref(output) as usize;
        let db = self.db;
        self.signature_types.entry(key).or_insert_with(|| items::output_ty(db, owner, output)).clone()
    }

    fn lookup(&mut self, name: &str) -> Found<'db> {
        let found = lookup(self.db, self.file, name);
        if let Found::One(owner, _) = &found {
            if *owner != self.file {
                self.used_imports.insert(*owner);
            }
        }
        found
    }

    fn ambiguous(&mut self, name: &Ident, owners: &[SourceFile]) {
        let mut d = Diagnostic::new(
            Code::AmbiguousName,
            name.span,
            format!("`{}` is defined in more than one imported file", name.text),
        )
        .label("ambiguous name")
        .help("rename one of the definitions, or import only one of the files");
        for &owner in owners {
            self.used_imports.insert(owner);
            if let Some(span) = self.item_name_span(owner, &name.text) {
                d = d.secondary(self.label_in(owner, span, "defined here"));
            }
        }
        self.push(d);
    }
}

/// Puts a diagnostic of a piece in its place in the file: a span of the piece moves by the piece's
/// offset `by`, a placeholder becomes the span of the place it stands for (`resolve`), a label in
/// another file stays.
pub(crate) fn place(mut d: Diagnostic, foreign: &[At], by: u32, resolve: &impl Fn(&At) -> Option<Span>) -> Diagnostic {
    let fix = |span: Span| -> Span {
        if span.start & FOREIGN != 0 {
            let at = foreign.get((span.start & !FOREIGN) as usize);
            return at.and_then(resolve).unwrap_or(Span { start: by, end: by });
        }
        Span { start: span.start.saturating_add(by), end: span.end.saturating_add(by) }
    };
    d.primary.span = fix(d.primary.span);
    for label in d.secondary.iter_mut().filter(|l| l.path.is_none()) {
        label.span = fix(label.span);
    }
    d
}
