//! Types as the checker resolved them: parameter types, and artifact types with the built-in type
//! each one extends.

use std::fmt;
use std::sync::Arc;

/// The built-in artifact types. Every one of them extends `Artifact`.
pub const BUILTIN_ARTIFACTS: [&str; 8] = [
    "Artifact",
    "Dataset",
    "Model",
    "Metrics",
    "ClassificationMetrics",
    "SlicedClassificationMetrics",
    "HTML",
    "Markdown",
];

/// A resolved type.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Ty {
    String,
    Int,
    Float,
    Bool,
    List(Box<Ty>),
    /// A map with string keys.
    Map(Box<Ty>),
    /// A record, as made by a map literal with fixed keys (`{lr: 0.1, batch: 32}`).
    Struct(Vec<(String, Ty)>),
    Artifact(ArtifactTy),
    /// Could not be resolved (the checker reported why); fits everywhere.
    Unknown,
}

/// An artifact type: its name, the file that declares it (`None` for a built-in one) and the
/// built-in type it is or extends (`Checkpoint` → `Model`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ArtifactTy {
    pub name: String,
    pub file: Option<Arc<str>>,
    pub builtin: String,
}

impl Ty {
    pub fn is_artifact(&self) -> bool {
        matches!(self, Ty::Artifact(_))
    }

    /// The artifact type of an artifact or of a (nested) list of artifacts.
    pub fn artifact(&self) -> Option<&ArtifactTy> {
        match self {
            Ty::Artifact(a) => Some(a),
            Ty::List(inner) => inner.artifact(),
            _ => None,
        }
    }

    /// `List<self>`.
    pub fn list_of(self) -> Ty {
        Ty::List(Box::new(self))
    }

    /// The element type of a list (`Unknown` for anything else).
    pub fn element(&self) -> Ty {
        match self {
            Ty::List(inner) => (**inner).clone(),
            _ => Ty::Unknown,
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::String => f.write_str("String"),
            Ty::Int => f.write_str("Int"),
            Ty::Float => f.write_str("Float"),
            Ty::Bool => f.write_str("Bool"),
            Ty::List(inner) => write!(f, "List<{inner}>"),
            Ty::Map(inner) => write!(f, "Map<{inner}>"),
            Ty::Struct(fields) => {
                f.write_str("{")?;
                for (i, (name, ty)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}: {ty}")?;
                }
                f.write_str("}")
            }
            Ty::Artifact(a) => f.write_str(&a.name),
            Ty::Unknown => f.write_str("unknown"),
        }
    }
}
