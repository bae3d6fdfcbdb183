//! Written types and artifact declarations: resolving a type name through the file's imports
//! (unknown names, wrong arities) and the base of an `artifact` declaration (cycles, non-artifacts).

use kfl_diagnostics::{Code, Diagnostic};
use kfl_syntax::ast;

use crate::check::helpers::{help_did_you_mean, HelpIfNone};
use crate::check::Checker;
use crate::items::{self, visible_names, Export, Found};
use crate::types::{self, ArtifactTy, Ty, BUILTIN_ARTIFACTS, PARAMETER_TYPES};

impl Checker<'_> {
    /// Resolves a written type, reporting unknown names and wrong arities at their spans.
    pub(super) fn resolve_type(&mut self, ty: &ast::TypeExpr) -> Ty {
        let arity = |this: &mut Self, expected: usize| -> bool {
            if ty.args.len() == expected {
                return true;
            }
            let message = match expected {
                0 => format!("`{}` takes no type arguments", ty.name.text),
                _ => format!("`{}` takes {expected} type argument, found {}", ty.name.text, ty.args.len()),
            };
            let help = match ty.name.text.as_str() {
                "List" => "write `List<T>`, for example `List<Float>`",
                "Map" => "write `Map<T>` for a map from strings to T, for example `Map<Int>`",
                _ => "remove the `<…>`",
            };
            this.push(
                Diagnostic::new(Code::WrongTypeArity, ty.span, message)
                    .label("wrong number of type arguments")
                    .help(help),
            );
            false
        };
        match ty.name.text.as_str() {
            "String" => {
                if arity(self, 0) {
                    Ty::String
                } else {
                    Ty::Unknown
                }
            }
            "Int" => {
                if arity(self, 0) {
                    Ty::Int
                } else {
                    Ty::Unknown
                }
            }
            "Float" => {
                if arity(self, 0) {
                    Ty::Float
                } else {
                    Ty::Unknown
                }
            }
            "Bool" => {
                if arity(self, 0) {
                    Ty::Bool
                } else {
                    Ty::Unknown
                }
            }
            "List" | "Map" => {
                if !arity(self, 1) {
                    return Ty::Unknown;
                }
                let inner = Box::new(self.resolve_type(&ty.args[0]));
                if ty.name.text == "List" {
                    Ty::List(inner)
                } else {
                    Ty::Map(inner)
                }
            }
            name => match self.lookup(name) {
                Found::One(owner, Export::Artifact { .. }) => {
                    if arity(self, 0) {
                        Ty::Artifact(types::declared_artifact(self.db, name, owner))
                    } else {
                        Ty::Unknown
                    }
                }
                Found::None if BUILTIN_ARTIFACTS.contains(&name) => {
                    if arity(self, 0) {
                        Ty::Artifact(ArtifactTy::builtin(name))
                    } else {
                        Ty::Unknown
                    }
                }
                Found::Ambiguous(owners) => {
                    self.ambiguous(&ty.name, &owners);
                    Ty::Unknown
                }
                Found::One(_, export) => {
                    self.push(
                        Diagnostic::new(
                            Code::UnknownType,
                            ty.name.span,
                            format!("`{name}` is {}, not a type", export.kind_name()),
                        )
                        .label("not a type")
                        .help("types are String, Int, Float, Bool, List<T>, Map<T> and artifact types"),
                    );
                    Ty::Unknown
                }
                Found::None if items::is_broken_item(self.db, self.file, name) => Ty::Unknown,
                Found::None => {
                    let visible = visible_names(self.db, self.file);
                    let artifacts =
                        visible.iter().filter(|(_, e)| matches!(e, Export::Artifact { .. })).map(|(n, _)| *n);
                    let candidates: Vec<&str> =
                        PARAMETER_TYPES.iter().copied().chain(BUILTIN_ARTIFACTS).chain(artifacts).collect();
                    let help = help_did_you_mean(name, candidates.iter().copied()).unwrap_or_else(|| {
                        "types are String, Int, Float, Bool, List<T>, Map<T>, the artifact types (Dataset, Model, …) and those declared with `artifact`".to_string()
                    });
                    self.push(
                        Diagnostic::new(Code::UnknownType, ty.name.span, format!("unknown type `{name}`"))
                            .label("no such type")
                            .help(help),
                    );
                    Ty::Unknown
                }
            },
        }
    }

    pub(super) fn check_artifact(&mut self, artifact: &ast::ArtifactDecl) {
        let Some(base) = &artifact.base else { return };
        match self.lookup(&base.text) {
            Found::One(owner, Export::Artifact { .. }) => {
                // Walk up the chain; coming back to this type is a cycle.
                let this = types::declared_artifact(self.db, &artifact.name.text, self.file);
                let mut current = types::declared_artifact(self.db, &base.text, owner);
                for _ in 0..64 {
                    if current == this {
                        self.push(
                            Diagnostic::new(Code::ArtifactCycle, base.span, format!("artifact type `{}` extends itself", artifact.name.text))
                                .label("this leads back to the type being declared")
                                .help("let one of the types extend a built-in artifact type such as `Model` or `Dataset`"),
                        );
                        return;
                    }
                    match types::artifact_base(self.db, &current) {
                        Some(next) => current = next,
                        None => return,
                    }
                }
            }
            Found::None if BUILTIN_ARTIFACTS.contains(&base.text.as_str()) => {}
            Found::Ambiguous(owners) => self.ambiguous(base, &owners),
            Found::One(_, export) => self.push(
                Diagnostic::new(Code::InvalidArtifactBase, base.span, format!("`{}` is {}, not an artifact type", base.text, export.kind_name()))
                    .label("not an artifact type")
                    .help("an artifact type extends `Artifact`, `Dataset`, `Model`, `Metrics`, … or another declared artifact type"),
            ),
            Found::None if PARAMETER_TYPES.contains(&base.text.as_str()) => self.push(
                Diagnostic::new(Code::InvalidArtifactBase, base.span, format!("`{}` is a parameter type, not an artifact type", base.text))
                    .label("not an artifact type")
                    .help("an artifact type extends `Artifact`, `Dataset`, `Model`, `Metrics`, … or another declared artifact type"),
            ),
            Found::None if items::is_broken_item(self.db, self.file, &base.text) => {}
            Found::None => {
                let visible = visible_names(self.db, self.file);
                let artifacts = visible.iter().filter(|(_, e)| matches!(e, Export::Artifact { .. })).map(|(n, _)| *n);
                let candidates: Vec<&str> = BUILTIN_ARTIFACTS.iter().copied().chain(artifacts).collect();
                self.push(
                    Diagnostic::new(Code::UnknownType, base.span, format!("unknown artifact type `{}`", base.text))
                        .label("no such type")
                        .maybe_help(help_did_you_mean(&base.text, candidates.iter().copied()))
                        .help_if_none("an artifact type extends `Artifact`, `Dataset`, `Model`, `Metrics`, … or another declared artifact type"),
                );
            }
        }
    }
}
