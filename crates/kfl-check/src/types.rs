//! Types: the parameter types, artifact types with subtyping, and the rules for passing a value of
//! one type where another is expected.

use std::fmt;

use crate::items::{lookup, Export, Found};
use crate::{Db, SourceFile};

pub use kfl_model::ty::BUILTIN_ARTIFACTS;

/// Artifact types meant to be looked at in a UI rather than read by another task: an unread output of
/// one of these is never a warning.
pub const DISPLAY_ARTIFACTS: [&str; 5] =
    ["Metrics", "ClassificationMetrics", "SlicedClassificationMetrics", "HTML", "Markdown"];

pub const PARAMETER_TYPES: [&str; 6] = ["String", "Int", "Float", "Bool", "List", "Map"];

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
    /// The type of something that already has an error, or of an empty list's elements: it fits
    /// everywhere, so one mistake is reported once.
    Unknown,
}

/// An artifact type: a built-in one (`file: None`) or one declared in a file.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ArtifactTy {
    pub name: String,
    pub file: Option<SourceFile>,
}

impl ArtifactTy {
    pub fn builtin(name: &str) -> ArtifactTy {
        ArtifactTy { name: name.to_string(), file: None }
    }
    pub fn is_root(&self) -> bool {
        self.file.is_none() && self.name == "Artifact"
    }
}

impl Ty {
    pub fn is_artifact(&self) -> bool {
        matches!(self, Ty::Artifact(_))
    }
    /// Artifacts, or lists of them.
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
    pub fn is_display_artifact(&self) -> bool {
        matches!(self, Ty::Artifact(a) if a.file.is_none() && DISPLAY_ARTIFACTS.contains(&a.name.as_str()))
    }
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
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

/// The direct base of an artifact type; `None` for `Artifact` itself or when the base cannot be found.
pub fn artifact_base(db: &dyn Db, ty: &ArtifactTy) -> Option<ArtifactTy> {
    let Some(file) = ty.file else {
        return (!ty.is_root()).then(|| ArtifactTy::builtin("Artifact"));
    };
    let exports = crate::items::file_exports(db, file);
    let Some(Export::Artifact { base }) = exports.items.get(&ty.name) else {
        return None;
    };
    let Some(base) = base else {
        return Some(ArtifactTy::builtin("Artifact"));
    };
    resolve_artifact_name(db, file, base)
}

/// Finds the artifact type a name means in a file: a built-in one or one declared there or imported.
pub fn resolve_artifact_name(db: &dyn Db, file: SourceFile, name: &str) -> Option<ArtifactTy> {
    match lookup(db, file, name) {
        Found::One(owner, Export::Artifact { .. }) => Some(ArtifactTy { name: name.to_string(), file: Some(owner) }),
        Found::None if BUILTIN_ARTIFACTS.contains(&name) => Some(ArtifactTy::builtin(name)),
        _ => None,
    }
}

/// Whether an artifact of type `sub` may be passed where `sup` is expected.
pub fn is_artifact_subtype(db: &dyn Db, sub: &ArtifactTy, sup: &ArtifactTy) -> bool {
    if sup.is_root() || sub == sup {
        return true;
    }
    let mut current = sub.clone();
    // Artifact types can be declared in a cycle (E0209); the bound keeps this walk finite.
    for _ in 0..64 {
        match artifact_base(db, &current) {
            Some(base) if &base == sup => return true,
            Some(base) => current = base,
            None => return false,
        }
    }
    false
}

/// Whether a value of type `from` may be passed where `to` is expected (an Int widens to Float).
pub fn is_assignable(db: &dyn Db, from: &Ty, to: &Ty) -> bool {
    match (from, to) {
        (Ty::Unknown, _) | (_, Ty::Unknown) => true,
        (Ty::Int, Ty::Float) => true,
        (Ty::List(a), Ty::List(b)) | (Ty::Map(a), Ty::Map(b)) => is_assignable(db, a, b),
        (Ty::Struct(fields), Ty::Map(value)) => fields.iter().all(|(_, ty)| is_assignable(db, ty, value)),
        (Ty::Map(_), Ty::Struct(_)) => false,
        (Ty::Struct(a), Ty::Struct(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|((na, ta), (nb, tb))| na == nb && is_assignable(db, ta, tb))
        }
        (Ty::Artifact(a), Ty::Artifact(b)) => is_artifact_subtype(db, a, b),
        (a, b) => a == b,
    }
}

/// The type two values share, for the elements of one list: equal types, or Float for Int and Float.
pub fn unify(a: &Ty, b: &Ty) -> Option<Ty> {
    match (a, b) {
        (Ty::Unknown, other) | (other, Ty::Unknown) => Some(other.clone()),
        (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Some(Ty::Float),
        (Ty::List(x), Ty::List(y)) => unify(x, y).map(|t| Ty::List(Box::new(t))),
        (Ty::Struct(x), Ty::Struct(y)) if x.len() == y.len() => {
            let mut fields = Vec::with_capacity(x.len());
            for ((nx, tx), (ny, ty)) in x.iter().zip(y) {
                if nx != ny {
                    return None;
                }
                fields.push((nx.clone(), unify(tx, ty)?));
            }
            Some(Ty::Struct(fields))
        }
        (a, b) if a == b => Some(a.clone()),
        _ => None,
    }
}

/// Whether two values of these types can be compared with `==`, `<` and the like.
pub fn is_comparable(a: &Ty, b: &Ty, ordering: bool) -> bool {
    match (a, b) {
        (Ty::Unknown, _) | (_, Ty::Unknown) => true,
        (Ty::Artifact(_), _) | (_, Ty::Artifact(_)) => false,
        (x, y) if x.is_numeric() && y.is_numeric() => true,
        // Conditions become CEL (Kubeflow) and Argo expressions: both compare strings and Bools for
        // equality, and only numbers by order. Lists and maps are not compared.
        (Ty::String, Ty::String) | (Ty::Bool, Ty::Bool) => !ordering,
        _ => false,
    }
}
