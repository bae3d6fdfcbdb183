//! Components: inputs and outputs (names, types, defaults), their fields (`image`, `packages`,
//! `description`, …) and their body, which is one script or a container command.

use rustc_hash::FxHashMap as HashMap;

use kfl_diagnostics::{Code, Diagnostic, Label, Span};
use kfl_syntax::ast::{self, ExprKind, Ident};

use crate::check::helpers::strip_parens;
use crate::check::Checker;
use crate::k8s;
use crate::types::{is_assignable, Ty};

impl Checker<'_> {
    pub(super) fn check_component(&mut self, component: &ast::Component) {
        let mut names: HashMap<&str, (Span, &'static str)> = HashMap::default();
        let mut inputs: Vec<(&ast::Param, Ty)> = Vec::new();
        let mut outputs: Vec<(&ast::OutputSig, Ty)> = Vec::new();
        let mut scripts: Vec<&ast::Script> = Vec::new();
        let mut fields: Vec<&ast::Field> = Vec::new();
        let mut field_names: Vec<&Ident> = Vec::new();
        for member in &component.members {
            let (name, kind) = match &member.kind {
                ast::MemberKind::Input(p) => (&p.name, "input"),
                ast::MemberKind::Output(o) => (&o.name, "output"),
                ast::MemberKind::Script(s) => {
                    scripts.push(s);
                    continue;
                }
                ast::MemberKind::Block(b) => {
                    field_names.push(&b.name);
                    if !self.check_block(b) {
                        self.unknown_block(&b.name, "a component");
                    }
                    continue;
                }
                ast::MemberKind::Field(f) => {
                    field_names.push(&f.name);
                    fields.push(f);
                    continue;
                }
            };
            if let Some((first, first_kind)) = names.get(name.text.as_str()) {
                self.push(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        name.span,
                        format!("`{}` is declared twice in `{}`", name.text, component.name.text),
                    )
                    .label(format!("{kind} declared again here"))
                    .secondary(Label::new(*first, format!("first declared here as an {first_kind}")))
                    .help("inputs and outputs of one component need distinct names"),
                );
                continue;
            }
            names.insert(&name.text, (name.span, kind));
            match &member.kind {
                ast::MemberKind::Input(p) => {
                    let ty = self.resolve_type(&p.ty);
                    self.check_default(p, &ty);
                    inputs.push((p, ty));
                }
                ast::MemberKind::Output(o) => {
                    let ty = self.resolve_type(&o.ty);
                    if matches!(&ty, Ty::List(inner) | Ty::Map(inner) if inner.contains_artifact()) {
                        self.push(
                            Diagnostic::new(Code::UnsupportedOutputType, o.ty.span, format!("a component cannot output `{ty}`"))
                                .label("unsupported output type")
                                .help("a component outputs parameters or single artifacts; to collect many artifacts, run the component in a `for` loop and read its output after the loop"),
                        );
                    }
                    outputs.push((o, ty));
                }
                _ => {}
            }
        }
        self.check_duplicate_fields(field_names);

        let command = fields.iter().find(|f| f.name.text == "command").copied();
        let args = fields.iter().find(|f| f.name.text == "args").copied();
        let image = fields.iter().find(|f| f.name.text == "image").copied();
        for field in &fields {
            match field.name.text.as_str() {
                "image" => self.check_image(field),
                "description" => {
                    let ty = self.literal_ty(&field.value);
                    self.expect_type(&field.value, &ty, &Ty::String, "`description`");
                }
                "packages" => self.check_packages(field, &scripts),
                "command" | "args" => self.check_command(field, &inputs, &outputs, &scripts),
                _ if self.check_common_field(field) => {}
                _ => self.unknown_field(&field.name, kfl_model::fields::Place::Component),
            }
        }

        // The body: one script, or a container command.
        let container = command.or(args);
        match (scripts.as_slice(), container) {
            ([], None) => self.push(
                Diagnostic::new(
                    Code::MissingBody,
                    component.name.span,
                    format!("component `{}` has no body", component.name.text),
                )
                .label("neither a script nor a command")
                .help("add `python \"\"\"…\"\"\"`, `sh \"\"\"…\"\"\"`, or `image` and `command = [...]`"),
            ),
            ([_, second, ..], _) => self.push(
                Diagnostic::new(
                    Code::ConflictingBody,
                    second.lang_span,
                    format!("component `{}` has more than one script", component.name.text),
                )
                .label("second script")
                .secondary(Label::new(scripts[0].lang_span, "first script"))
                .help("a component runs one script; split the work into two components"),
            ),
            ([script], Some(field)) => self.push(
                Diagnostic::new(
                    Code::ConflictingBody,
                    field.name.span,
                    format!("component `{}` has both a script and a command", component.name.text),
                )
                .label(format!("`{}` of a container component", field.name.text))
                .secondary(Label::new(script.lang_span, "script"))
                .help("use either a script or `command`/`args`, not both"),
            ),
            ([script], None) => self.check_script_mentions(script, &inputs, &outputs),
            ([], Some(_)) => {
                if image.is_none() {
                    self.push(
                        Diagnostic::new(
                            Code::MissingImage,
                            component.name.span,
                            format!("container component `{}` has no image", component.name.text),
                        )
                        .label("no `image`")
                        .help("add `image = \"registry/name:tag\"`: a command runs in a container image"),
                    );
                }
            }
        }
    }

    pub(super) fn check_default(&mut self, param: &ast::Param, ty: &Ty) {
        let Some(default) = &param.default else {
            return;
        };
        if ty.contains_artifact() {
            self.push(
                Diagnostic::new(
                    Code::ArtifactDefault,
                    default.span,
                    format!("artifact input `{}` cannot have a default", param.name.text),
                )
                .label("default of an artifact")
                .help("artifacts come from other tasks; remove the default and pass the artifact in"),
            );
            return;
        }
        let actual = self.literal_ty(default);
        if is_assignable(self.db, &actual, ty) {
            self.check_lossy(default, ty);
        } else {
            self.push(
                Diagnostic::new(
                    Code::DefaultTypeMismatch,
                    default.span,
                    format!("the default of `{}` is {actual}, not {ty}", param.name.text),
                )
                .label(format!("this is {actual}"))
                .secondary(Label::new(param.ty.span, format!("declared as {ty}")))
                .help(format!("write a default of type {ty}")),
            );
        }
    }

    fn check_image(&mut self, field: &ast::Field) {
        let ExprKind::Str(s) = &strip_parens(&field.value).kind else {
            let ty = self.literal_ty(&field.value);
            self.expect_type(&field.value, &ty, &Ty::String, "`image`");
            return;
        };
        match k8s::check_image(&s.value) {
            Err(why) => self.push(
                Diagnostic::new(Code::InvalidImage, s.span, format!("`{}` is not a valid image reference", s.value))
                    .label(why)
                    .help("write `registry/repository:tag`, e.g. `python:3.11-slim` or `ghcr.io/acme/trainer:1.4.2`"),
            ),
            Ok(image) if image.is_unpinned() => self.push(
                Diagnostic::new(Code::UnpinnedImage, s.span, format!("image `{}` is not pinned to a version", s.value))
                    .label("no tag, or `latest`")
                    .help("pin a tag or digest, e.g. `python:3.11-slim`, so runs are reproducible and cache keys mean something"),
            ),
            Ok(_) => {}
        }
    }

    fn check_packages(&mut self, field: &ast::Field, scripts: &[&ast::Script]) {
        if !scripts.iter().any(|s| s.lang == ast::ScriptLang::Python) {
            self.push(
                Diagnostic::new(
                    Code::FieldNotAllowedHere,
                    field.name.span,
                    "`packages` only applies to python scripts",
                )
                .label("not a python component")
                .help("install packages in the image of a container or sh component instead"),
            );
            return;
        }
        let ty = self.literal_ty(&field.value);
        if !self.expect_type(&field.value, &ty, &Ty::List(Box::new(Ty::String)), "`packages`") {
            return;
        }
        if let ExprKind::List(items) = &strip_parens(&field.value).kind {
            for item in items {
                if let ExprKind::Str(s) = &item.kind {
                    if let Some(reason) = k8s::package_problem(&s.value) {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidPackage,
                                s.span,
                                format!("package `{}` {reason}", kfl_diagnostics::escape_control(&s.value)),
                            )
                            .label("not a requirement pip reads")
                            .help("write one requirement, a name and a version, e.g. `pandas==2.2.3`"),
                        );
                    } else if !k8s::package_is_pinned(&s.value) {
                        self.push(
                            Diagnostic::new(
                                Code::UnpinnedPackage,
                                s.span,
                                format!("package `{}` is not pinned", s.value),
                            )
                            .label("no `==` version")
                            .help(format!(
                                "pin it, e.g. `{}==1.2.3`, so every run installs the same code",
                                s.value.trim()
                            )),
                        );
                    }
                }
            }
        }
    }
}
