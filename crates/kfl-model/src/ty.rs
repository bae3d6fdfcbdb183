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

/// Artifact types meant to be looked at in a UI rather than read by another task: an unread output of
/// one of these is never a warning.
pub const DISPLAY_ARTIFACTS: [&str; 5] =
    ["Metrics", "ClassificationMetrics", "SlicedClassificationMetrics", "HTML", "Markdown"];

/// The names of the parameter types (`List` and `Map` take one type argument).
pub const PARAMETER_TYPES: [&str; 6] = ["String", "Int", "Float", "Bool", "List", "Map"];

/// A resolved type: what the checker infers and what the model carries (one type for both).
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
    /// The type of something that already has an error (the checker reported why), or of an empty
    /// list's elements: it fits everywhere, so one mistake is reported once.
    Unknown,
}

/// An artifact type: its name, the file that declares it (`None` for a built-in one) and the
/// built-in type it is or extends (`Checkpoint` → `Model`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ArtifactTy {
    pub name: Arc<str>,
    pub file: Option<Arc<str>>,
    pub builtin: Arc<str>,
}

impl ArtifactTy {
    /// A built-in artifact type (`Dataset`, `Model`, …).
    pub fn builtin(name: &str) -> ArtifactTy {
        let name: Arc<str> = name.into();
        ArtifactTy { name: name.clone(), file: None, builtin: name }
    }

    /// `Artifact`, the type every artifact type extends.
    pub fn is_root(&self) -> bool {
        self.file.is_none() && &*self.name == "Artifact"
    }
}

impl Ty {
    pub fn is_artifact(&self) -> bool {
        matches!(self, Ty::Artifact(_))
    }

    /// Artifacts, or lists or maps of them.
    pub fn contains_artifact(&self) -> bool {
        match self {
            Ty::Artifact(_) => true,
            Ty::List(inner) | Ty::Map(inner) => inner.contains_artifact(),
            _ => false,
        }
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Ty::Unknown)
    }

    /// One of the built-in [`DISPLAY_ARTIFACTS`] (not a type declared in a file).
    pub fn is_display_artifact(&self) -> bool {
        matches!(self, Ty::Artifact(a) if a.file.is_none() && DISPLAY_ARTIFACTS.contains(&&*a.name))
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
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
