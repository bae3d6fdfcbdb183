//! Types: the parameter types, artifact types with subtyping, and the rules for passing a value of
//! one type where another is expected.

use crate::items::{lookup, Export, Found};
use crate::{Db, SourceFile};

pub use kfl_model::ty::{ArtifactTy, Ty, BUILTIN_ARTIFACTS, DISPLAY_ARTIFACTS, PARAMETER_TYPES};

/// The artifact type `name` declared in `owner`, with the built-in type it extends.
pub fn declared_artifact(db: &dyn Db, name: &str, owner: SourceFile) -> ArtifactTy {
    ArtifactTy { name: name.into(), file: Some(owner.path(db).clone()), builtin: builtin_of(db, name, owner).into() }
}

/// The built-in artifact type the type `name` declared in `owner` extends, through its chain of
/// bases; `Artifact` when the chain breaks or loops (E0209: the bound keeps the walk finite).
fn builtin_of(db: &dyn Db, name: &str, owner: SourceFile) -> String {
    let (mut name, mut owner) = (name.to_string(), owner);
    for _ in 0..64 {
        let exports = crate::items::file_exports(db, owner);
        let Some(Export::Artifact { base: Some(base) }) = exports.items.get(&name) else {
            break;
        };
        match lookup(db, owner, base) {
            Found::One(file, Export::Artifact { .. }) => (name, owner) = (base.clone(), file),
            Found::None if BUILTIN_ARTIFACTS.contains(&base.as_str()) => return base.clone(),
            _ => break,
        }
    }
    "Artifact".to_string()
}

/// The file an artifact type was declared in (`None` for a built-in type, or a file no longer known).
fn declaring_file(db: &dyn Db, ty: &ArtifactTy) -> Option<SourceFile> {
    ty.file.as_ref().and_then(|path| db.project().files(db).get(path).copied())
}

/// The direct base of an artifact type; `None` for `Artifact` itself or when the base cannot be found.
pub fn artifact_base(db: &dyn Db, ty: &ArtifactTy) -> Option<ArtifactTy> {
    if ty.file.is_none() {
        return (!ty.is_root()).then(|| ArtifactTy::builtin("Artifact"));
    }
    let file = declaring_file(db, ty)?;
    let exports = crate::items::file_exports(db, file);
    let Some(Export::Artifact { base }) = exports.items.get(&*ty.name) else {
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
        Found::One(owner, Export::Artifact { .. }) => Some(declared_artifact(db, name, owner)),
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
