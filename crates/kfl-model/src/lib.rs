//! KFL's semantic model: what the checker resolved about a project, as plain data that lowering,
//! the backends, the local runner and the cluster client read instead of the syntax tree.
//!
//! The checker (`kfl-check`) produces it in salsa queries; nothing here knows how. Everything below
//! the checker depends on this crate and never on `kfl-syntax` or `kfl-check`.
//!
//! Invariants:
//! - No syntax and no IO: this crate depends on `kfl-diagnostics` (for spans) and nothing of the
//!   front end; it parses no KFL text.
//! - Resolved: a name in a pipeline body is an [`item::Expr`] that says what it is (a parameter, a
//!   task's output, a loop variable); a task's callee is an [`item::ItemId`] of a component or a
//!   pipeline; a type is a [`ty::Ty`] with artifact types resolved to the built-in type they extend.
//! - Evaluated: settings hold typed values ([`units::Cpu`], [`units::Memory`], [`units::Duration`],
//!   counts, booleans), literals hold [`value::Value`]s.
//! - Every item carries an [`Origin`] (file and byte span), so whatever is made from it can point
//!   back at the source without re-parsing.
//! - One field table ([`fields::FIELDS`]): every setting of components, tasks and calls of pipelines
//!   is a row there with its name, type, places and docs; the checker, the editor and the backends
//!   read the rows instead of keeping lists of their own.

pub mod fields;
pub mod item;
pub mod k8s;
pub mod settings;
pub mod ty;
pub mod units;
pub mod value;

use std::sync::Arc;

pub use kfl_diagnostics::Span;

/// Where something was declared: a file of the project (its normalized path) and a byte span in it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Origin {
    pub file: Arc<str>,
    pub span: Span,
}

impl Origin {
    pub fn new(file: Arc<str>, span: Span) -> Origin {
        Origin { file, span }
    }
}
