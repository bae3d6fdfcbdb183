//! KFL's one DAG: a checked pipeline's semantic model (`kfl-model`) lowered into a petgraph graph of tasks, typed data edges and
//! ordering edges, with the groups that conditions, loops, exit handlers and called pipelines form.
//! It is the only input every backend (Argo, Kubeflow, the local runner) reads.
//!
//! Invariants:
//! - Only pipelines without errors are lowered: a [`kfl_model::item::Program`] is only made for a
//!   project without errors (`kfl_check::model::program` refuses otherwise), so every name in a
//!   [`Dag`] resolves and the graph has no cycle.
//! - No syntax: lowering reads the semantic model (`kfl-model`) only; this crate depends on neither
//!   `kfl-syntax` nor `kfl-check`.
//! - Each component appears once in [`Dag::components`], however many tasks run it.
//! - A task's [`model::Settings`] are the component's defaults with the task's overrides applied.
//! - Pipelines called as tasks are inlined: their tasks are named `caller.inner` and sit in a
//!   [`model::GroupKind::SubPipeline`] group.
//! - Pure: no IO.
//!
//! Backends implement [`backend::Backend`]: see that module for what adding a target takes.

pub mod analysis;
pub mod backend;
pub mod lower;
pub mod model;
pub mod params;
pub mod render;

pub use kfl_model::ty::BUILTIN_ARTIFACTS;
pub use lower::{io_type, lower, LowerError};
pub use model::*;

/// The image of a python script component that names none.
pub const DEFAULT_PYTHON_IMAGE: &str = "python:3.11-slim";
/// The image of an sh script component that names none.
pub const DEFAULT_SH_IMAGE: &str = "alpine:3.20";

/// `base`, or `base-2`, `base-3`, …: the first not yet in `used`, which it joins. Backends name
/// templates and components with it.
pub fn unique_name(base: &str, used: &mut std::collections::BTreeSet<String>) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while used.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    used.insert(name.clone());
    name
}
