//! The checks of one file: items, imports, artifact types, components and pipelines.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kfl_diagnostics::{did_you_mean, Code, Diagnostic, Label, Span};
use kfl_syntax::ast::{self, Expr, ExprKind, Ident};

use crate::items::{self, file_exports, file_imports, imported_files, lookup, visible_names, Export, Found};
use crate::types::{self, is_assignable, is_comparable, unify, ArtifactTy, Ty, BUILTIN_ARTIFACTS, PARAMETER_TYPES};
use crate::units::{self, UnitError};
use crate::{k8s, parse, Db, SourceFile};

pub fn check(db: &dyn Db, file: SourceFile) -> Vec<Diagnostic> {
    let parse = parse(db, file);
    let mut checker = Checker {
        db,
        file,
        path: file.path(db).clone(),
        out: Vec::new(),
        used_imports: HashSet::new(),
        resource_base: Vec::new(),
        signature_types: HashMap::new(),
    };
    checker.check_items(&parse.file);
    checker.check_imports(&parse.file);
    for item in &parse.file.items {
        match item {
            ast::Item::Import(_) => {}
            ast::Item::Artifact(a) => checker.check_artifact(a),
            ast::Item::Component(c) => checker.check_component(c),
            ast::Item::Pipeline(p) => PipelineChecker::new(&mut checker, p).run(),
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
}

/// The fields every component and task may set, beside the blocks.
const COMPONENT_FIELDS: [&str; 9] =
    ["image", "packages", "command", "args", "description", "retries", "timeout", "cache", "tolerations"];
const TASK_FIELDS: [&str; 6] = ["retries", "timeout", "cache", "tolerations", "after", "display_name"];
const PIPELINE_FIELDS: [&str; 2] = ["description", "display_name"];
const BLOCKS: [&str; 5] = ["resources", "env", "node_selector", "labels", "annotations"];
const RESOURCES: [&str; 6] = ["cpu", "memory", "gpu", "accelerator", "cpu_limit", "memory_limit"];
const ARTIFACT_PROPERTIES: [&str; 3] = ["path", "uri", "metadata"];

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `text` as a whole word (not as part of a longer name).
fn mentions(text: &str, word: &str) -> bool {
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let start = from + found;
        let end = start + word.len();
        let before_ok = !text[..start].chars().next_back().is_some_and(is_ident_char);
        let after_ok = !text[end..].chars().next().is_some_and(is_ident_char);
        if before_ok && after_ok {
            return true;
        }
        from = end;
    }
    false
}

fn help_did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

fn unit_error_code(error: &UnitError) -> Code {
    match error {
        UnitError::WrongUnit { .. } => Code::WrongUnit,
        UnitError::MissingUnit { .. } => Code::MissingUnit,
        UnitError::NonPositive { .. } | UnitError::Negative { .. } => Code::NonPositiveResource,
        UnitError::NotWhole { .. } => Code::InvalidGpuCount,
        UnitError::Malformed { .. } | UnitError::UnknownUnit { .. } | UnitError::SubSecondUnit { .. } => {
            Code::InvalidQuantity
        }
    }
}

/// The literal value of an expression, if it is a literal without references.
fn is_constant(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Str(_) | ExprKind::Number(_) | ExprKind::Bool(_) => true,
        ExprKind::List(items) => items.iter().all(is_constant),
        ExprKind::Map(entries) => entries.iter().all(|e| is_constant(&e.value)),
        ExprKind::Not(inner) | ExprKind::Paren(inner) => is_constant(inner),
        ExprKind::Binary(_, _, a, b) => is_constant(a) && is_constant(b),
        ExprKind::Path(_) | ExprKind::Field(..) | ExprKind::Call(_) => false,
    }
}

fn strip_parens(expr: &Expr) -> &Expr {
    match &expr.kind {
        ExprKind::Paren(inner) => strip_parens(inner),
        _ => expr,
    }
}

impl<'db> Checker<'db> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.out.push(diagnostic);
    }

    fn label_in(&self, owner: SourceFile, span: Span, message: impl Into<String>) -> Label {
        if owner == self.file {
            Label::new(span, message)
        } else {
            Label::in_file(owner.path(self.db).clone(), span, message)
        }
    }

    /// The span of an item's name in the file that declares it (read only to label an error).
    fn item_name_span(&self, owner: SourceFile, name: &str) -> Option<Span> {
        parse(self.db, owner).file.items.iter().find_map(|item| item.name().filter(|n| n.text == name).map(|n| n.span))
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

    // ---------------------------------------------------------------------------------------------
    // Items and imports

    fn check_items(&mut self, file: &ast::File) {
        let mut seen: HashMap<&str, &Ident> = HashMap::new();
        for item in &file.items {
            let Some(name) = item.name() else { continue };
            if let Some(first) = seen.get(name.text.as_str()) {
                self.push(
                    Diagnostic::new(Code::DuplicateItem, name.span, format!("`{}` is defined twice", name.text))
                        .label("defined again here")
                        .secondary(Label::new(first.span, "first defined here"))
                        .help("rename one of them"),
                );
                continue;
            }
            seen.insert(&name.text, name);
            let is_artifact = matches!(item, ast::Item::Artifact(_));
            if BUILTIN_ARTIFACTS.contains(&name.text.as_str())
                || PARAMETER_TYPES.contains(&name.text.as_str())
                || name.text == "secret"
            {
                self.push(
                    Diagnostic::new(
                        Code::DuplicateItem,
                        name.span,
                        format!("`{}` is already a built-in name", name.text),
                    )
                    .label("shadows a built-in")
                    .help("choose another name"),
                );
                continue;
            }
            if !is_artifact {
                self.check_k8s_name(name, "component and pipeline names");
            }
        }
    }

    fn check_k8s_name(&mut self, name: &Ident, what: &str) {
        if let Err(error) = k8s::k8s_name(&name.text) {
            let mut d = Diagnostic::new(
                Code::InvalidK8sName,
                name.span,
                format!("`{}` cannot become a Kubernetes name: {error}", name.text),
            )
            .label("not a valid DNS-1123 label once `_` becomes `-`");
            d = d.help(match error.suggestion() {
                Some(s) => format!("{what} become Kubernetes names; try `{}`", s.as_str().replace('-', "_")),
                None => format!("{what} become Kubernetes names: lowercase letters, digits and `_`, starting with a letter, at most 63 characters"),
            });
            self.push(d);
        }
    }

    fn check_imports(&mut self, file: &ast::File) {
        let imports = file_imports(self.db, self.file);
        let project_paths: Vec<Arc<str>> = self.db.project().files(self.db).keys().cloned().collect();
        let mut seen: HashMap<SourceFile, Span> = HashMap::new();
        for import in imports {
            if let Some(target) = import.file {
                if let Some(first) = seen.get(&target) {
                    self.push(
                        Diagnostic::new(
                            Code::UnusedImport,
                            import.span,
                            format!("`{}` is already imported", import.path),
                        )
                        .label("imported again here")
                        .secondary(Label::new(*first, "first imported here"))
                        .help("remove this import"),
                    );
                    continue;
                }
                seen.insert(target, import.span);
            }
            match import.file {
                None => {
                    let candidates: Vec<&str> = project_paths.iter().map(|p| &**p).collect();
                    let help = help_did_you_mean(&import.path, candidates.iter().copied()).unwrap_or_else(|| {
                        "paths are relative to the importing file; a module path `a.b` means `a/b.kfl`".to_string()
                    });
                    self.push(
                        Diagnostic::new(Code::ImportNotFound, import.span, format!("cannot find `{}`", import.path))
                            .label("no such file")
                            .help(help),
                    );
                }
                Some(target) if target == self.file => self.push(
                    Diagnostic::new(Code::ImportCycle, import.span, "a file imports itself")
                        .label("this is the file itself")
                        .help("remove this import"),
                ),
                Some(target) => {
                    if let Some(chain) = import_cycle(self.db, self.file, target) {
                        let names: Vec<String> = chain.iter().map(|f| f.path(self.db).to_string()).collect();
                        self.push(
                            Diagnostic::new(Code::ImportCycle, import.span, "files import each other in a cycle")
                                .label(format!("cycle: {} → {}", self.path, names.join(" → ")))
                                .help("move what both files need into a third file that imports neither"),
                        );
                    }
                }
            }
        }
        // Names declared in two imported files are reported where they are used; names declared
        // here and imported too simply shadow the import.
        let _ = file;
    }

    fn check_unused_imports(&mut self) {
        let imports = file_imports(self.db, self.file);
        let mut reported = HashSet::new();
        for import in imports {
            let Some(target) = import.file else { continue };
            if target == self.file || self.used_imports.contains(&target) || !reported.insert(target) {
                continue;
            }
            if file_exports(self.db, target).items.is_empty() {
                continue;
            }
            self.push(
                Diagnostic::new(Code::UnusedImport, import.span, format!("nothing from `{}` is used", import.path))
                    .label("unused import")
                    .help("remove the import"),
            );
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Types

    /// Resolves a written type, reporting unknown names and wrong arities at their spans.
    fn resolve_type(&mut self, ty: &ast::TypeExpr) -> Ty {
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
                        Ty::Artifact(ArtifactTy { name: name.to_string(), file: Some(owner) })
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

    fn check_artifact(&mut self, artifact: &ast::ArtifactDecl) {
        let Some(base) = &artifact.base else { return };
        match self.lookup(&base.text) {
            Found::One(owner, Export::Artifact { .. }) => {
                // Walk up the chain; coming back to this type is a cycle.
                let this = ArtifactTy { name: artifact.name.text.clone(), file: Some(self.file) };
                let mut current = ArtifactTy { name: base.text.clone(), file: Some(owner) };
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

    // ---------------------------------------------------------------------------------------------
    // Literal values

    /// The type of a literal number; reports overflow and units where no quantity is expected.
    fn number_ty(&mut self, n: &ast::NumberLit, span: Span) -> Ty {
        if let Some(unit) = &n.unit {
            self.push(
                Diagnostic::new(
                    Code::WrongUnit,
                    span,
                    format!("`{}{unit}` has a unit, but a plain number is expected here", n.value),
                )
                .label("unit not allowed here")
                .help("units are for resources (cpu, memory, gpu) and durations (timeout); write the plain number"),
            );
            return Ty::Unknown;
        }
        if n.is_integer() {
            if n.value.parse::<i64>().is_err() {
                self.push(
                    Diagnostic::new(
                        Code::InvalidNumber,
                        span,
                        format!("`{}` does not fit in a 64-bit integer", n.value),
                    )
                    .label("out of range")
                    .help("integers range from -9223372036854775808 to 9223372036854775807"),
                );
                return Ty::Unknown;
            }
            Ty::Int
        } else {
            match n.value.parse::<f64>() {
                Ok(v) if v.is_finite() => Ty::Float,
                _ => {
                    self.push(
                        Diagnostic::new(Code::InvalidNumber, span, format!("`{}` is not a finite number", n.value))
                            .label("out of range")
                            .help("use a smaller exponent"),
                    );
                    Ty::Unknown
                }
            }
        }
    }

    /// Types a literal (no references): the kind of value component fields and defaults take.
    fn literal_ty(&mut self, expr: &Expr) -> Ty {
        match &expr.kind {
            ExprKind::Str(_) => Ty::String,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Number(n) => self.number_ty(n, expr.span),
            ExprKind::Paren(inner) => self.literal_ty(inner),
            ExprKind::List(items) => {
                let tys: Vec<Ty> = items.iter().map(|e| self.literal_ty(e)).collect();
                self.list_ty(items, &tys)
            }
            ExprKind::Map(entries) => {
                let tys: Vec<Ty> = entries.iter().map(|e| self.literal_ty(&e.value)).collect();
                self.map_ty(entries, tys)
            }
            ExprKind::Path(parts) => {
                let first = &parts[0];
                self.push(
                    Diagnostic::new(Code::UnresolvedName, first.span, format!("`{}` cannot be used here", first.text))
                        .label("only literal values are allowed here")
                        .help("write a literal value such as a string, a number, a list or a map"),
                );
                Ty::Unknown
            }
            ExprKind::Call(call) => {
                self.call_in_expression(call);
                Ty::Unknown
            }
            ExprKind::Field(..) | ExprKind::Not(_) | ExprKind::Binary(..) => {
                self.push(
                    Diagnostic::new(Code::FieldTypeMismatch, expr.span, "expected a literal value")
                        .label("not a literal")
                        .help("write a literal value such as a string, a number, a list or a map"),
                );
                Ty::Unknown
            }
        }
    }

    fn list_ty(&mut self, items: &[Expr], tys: &[Ty]) -> Ty {
        let mut elem = Ty::Unknown;
        for (item, ty) in items.iter().zip(tys) {
            match unify(&elem, ty) {
                Some(t) => elem = t,
                None => {
                    self.push(
                        Diagnostic::new(
                            Code::MixedList,
                            item.span,
                            format!("this element has type {ty}, but the list holds {elem}"),
                        )
                        .label(format!("{ty}"))
                        .secondary(Label::new(items[0].span, format!("the first element has type {}", tys[0])))
                        .help("all elements of a list have one type"),
                    );
                    return Ty::List(Box::new(Ty::Unknown));
                }
            }
        }
        Ty::List(Box::new(elem))
    }

    fn map_ty(&mut self, entries: &[ast::MapEntry], tys: Vec<Ty>) -> Ty {
        if entries.iter().all(|e| matches!(e.key, ast::Key::Ident(_))) && !entries.is_empty() {
            let mut fields: Vec<(String, Ty)> = entries.iter().map(|e| e.key.text().to_string()).zip(tys).collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            fields.dedup_by(|a, b| a.0 == b.0);
            return Ty::Struct(fields);
        }
        let mut value = Ty::Unknown;
        for (entry, ty) in entries.iter().zip(&tys) {
            match unify(&value, ty) {
                Some(t) => value = t,
                None => {
                    self.push(
                        Diagnostic::new(
                            Code::MixedList,
                            entry.value.span,
                            format!("this value has type {ty}, but the map holds {value}"),
                        )
                        .label(format!("{ty}"))
                        .help("all values of a map have one type"),
                    );
                    return Ty::Map(Box::new(Ty::Unknown));
                }
            }
        }
        Ty::Map(Box::new(value))
    }

    fn call_in_expression(&mut self, call: &ast::Call) {
        let help = if call.callee.text == "secret" {
            "`secret(name: …, key: …)` is only allowed as a value in an `env` block"
        } else {
            "bind the task to a name on its own line, `t = component(…)`, and pass `t.output`"
        };
        self.push(
            Diagnostic::new(
                Code::CallInExpression,
                call.span,
                format!("`{}(…)` cannot be called inside an expression", call.callee.text),
            )
            .label("call inside an expression")
            .help(help),
        );
    }

    fn expect_type(&mut self, expr: &Expr, actual: &Ty, expected: &Ty, what: &str) -> bool {
        if is_assignable(self.db, actual, expected) {
            self.check_lossy(expr, expected);
            return true;
        }
        self.push(
            Diagnostic::new(Code::FieldTypeMismatch, expr.span, format!("{what} expects {expected}, found {actual}"))
                .label(format!("this is {actual}"))
                .help(format!("write a value of type {expected}")),
        );
        false
    }

    /// An Int literal passed as a Float must be exactly representable.
    fn check_lossy(&mut self, expr: &Expr, expected: &Ty) {
        if *expected != Ty::Float {
            return;
        }
        if let ExprKind::Number(n) = &strip_parens(expr).kind {
            if n.is_integer() && n.unit.is_none() {
                if let Ok(v) = n.value.parse::<i64>() {
                    if v.unsigned_abs() > (1u64 << 53) {
                        self.push(
                            Diagnostic::new(Code::LossyIntToFloat, expr.span, format!("`{}` cannot be passed as a Float exactly", n.value))
                                .label("too large for a Float")
                                .help("integers above 2^53 lose digits as Float; pass a Float literal (with a `.`) if rounding is fine"),
                        );
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Fields and blocks shared by components and tasks

    /// Checks a field every component and task may set. Returns false if the name is not one of them.
    fn check_common_field(&mut self, field: &ast::Field) -> bool {
        match field.name.text.as_str() {
            "retries" => {
                let ty = self.literal_ty(&field.value);
                if self.expect_type(&field.value, &ty, &Ty::Int, "`retries`") {
                    if let ExprKind::Number(n) = &strip_parens(&field.value).kind {
                        let ok = n.value.parse::<i64>().is_ok_and(|v| (0..=100).contains(&v));
                        if !ok {
                            self.push(
                                Diagnostic::new(Code::InvalidRetries, field.value.span, format!("`retries = {}` is out of range", n.value))
                                    .label("not from 0 to 100")
                                    .help("retries counts how often a failed task is tried again: a whole number from 0 to 100"),
                            );
                        }
                    }
                }
            }
            "timeout" => self.check_quantity(&field.value, units::QuantityKind::Duration),
            "cache" => {
                let ty = self.literal_ty(&field.value);
                self.expect_type(&field.value, &ty, &Ty::Bool, "`cache`");
            }
            "tolerations" => self.check_tolerations(&field.value),
            _ => return false,
        }
        true
    }

    fn check_tolerations(&mut self, value: &Expr) {
        let ExprKind::List(items) = &strip_parens(value).kind else {
            self.push(
                Diagnostic::new(Code::FieldTypeMismatch, value.span, "`tolerations` expects a list of maps")
                    .label("not a list")
                    .help("write `tolerations = [{key: \"nvidia.com/gpu\", operator: \"Exists\", effect: \"NoSchedule\"}]`"),
            );
            return;
        };
        const KEYS: [&str; 5] = ["key", "operator", "value", "effect", "toleration_seconds"];
        for item in items {
            let ExprKind::Map(entries) = &strip_parens(item).kind else {
                self.push(
                    Diagnostic::new(Code::FieldTypeMismatch, item.span, "a toleration is a map")
                        .label("not a map")
                        .help("write `{key: \"nvidia.com/gpu\", operator: \"Exists\", effect: \"NoSchedule\"}`"),
                );
                continue;
            };
            for entry in entries {
                let key = entry.key.text();
                if !KEYS.contains(&key) {
                    self.push(
                        Diagnostic::new(
                            Code::UnknownField,
                            entry.key.span(),
                            format!("a toleration has no field `{key}`"),
                        )
                        .label("unknown field")
                        .maybe_help(help_did_you_mean(key, KEYS))
                        .help_if_none("a toleration has `key`, `operator`, `value`, `effect` and `toleration_seconds`"),
                    );
                    continue;
                }
                let ty = self.literal_ty(&entry.value);
                let expected = if key == "toleration_seconds" { Ty::Int } else { Ty::String };
                self.expect_type(&entry.value, &ty, &expected, &format!("`{key}`"));
            }
        }
    }

    fn check_quantity(&mut self, value: &Expr, kind: units::QuantityKind) {
        let value = strip_parens(value);
        let ExprKind::Number(n) = &value.kind else {
            let ty = self.literal_ty(value);
            if !ty.is_unknown() {
                self.push(
                    Diagnostic::new(
                        Code::FieldTypeMismatch,
                        value.span,
                        format!("expected a {}, found {ty}", kind.human_name()),
                    )
                    .label(format!("not a {}", kind.human_name()))
                    .help(kind.how_to_write()),
                );
            }
            return;
        };
        let unit = n.unit.as_deref();
        let result = match kind {
            units::QuantityKind::Cpu => units::parse_cpu(&n.value, unit).map(|_| ()),
            units::QuantityKind::Memory => match units::parse_memory(&n.value, unit) {
                Ok(m) if m.without_unit() => {
                    self.push(
                        Diagnostic::new(
                            Code::MemoryWithoutUnit,
                            value.span,
                            format!("`{}` means {} bytes", n.value, n.value),
                        )
                        .label("no unit: bytes")
                        .help(format!("write a unit: `{}Mi` or `{}Gi`", n.value, n.value)),
                    );
                    Ok(())
                }
                other => other.map(|_| ()),
            },
            units::QuantityKind::Gpu => units::parse_gpu(&n.value, unit).map(|_| ()),
            units::QuantityKind::Duration => units::parse_duration(&n.value, unit).map(|_| ()),
        };
        if let Err(error) = result {
            self.push(
                Diagnostic::new(unit_error_code(&error), value.span, error.to_string())
                    .label(format!("not a valid {}", kind.human_name()))
                    .help(error.help()),
            );
        }
    }

    /// Checks a `name { … }` block. Returns false if the block name is unknown.
    fn check_block(&mut self, block: &ast::KvBlock) -> bool {
        let mut seen: HashMap<String, Span> = HashMap::new();
        for entry in &block.entries {
            let key = entry.key.text();
            if let Some(first) = seen.get(key) {
                self.push(
                    Diagnostic::new(
                        Code::DuplicateField,
                        entry.key.span(),
                        format!("`{key}` is set twice in `{}`", block.name.text),
                    )
                    .label("set again here")
                    .secondary(Label::new(*first, "first set here"))
                    .help("remove one of them"),
                );
                continue;
            }
            seen.insert(key.to_string(), entry.key.span());
        }
        match block.name.text.as_str() {
            "resources" => self.check_resources(block),
            "env" => {
                for entry in &block.entries {
                    if let Err(why) = k8s::check_env_name(entry.key.text()) {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidEnvName,
                                entry.key.span(),
                                format!("`{}` is not a valid environment variable name", entry.key.text()),
                            )
                            .label(why)
                            .help("use letters, digits and `_`, not starting with a digit, e.g. `HF_TOKEN`"),
                        );
                    }
                    match &strip_parens(&entry.value).kind {
                        ExprKind::Call(call) if call.callee.text == "secret" => self.check_secret(call),
                        _ => {
                            let ty = self.literal_ty(&entry.value);
                            if !matches!(ty, Ty::String | Ty::Int | Ty::Float | Ty::Bool | Ty::Unknown) {
                                self.push(
                                    Diagnostic::new(
                                        Code::FieldTypeMismatch,
                                        entry.value.span,
                                        format!("an environment variable is a string, found {ty}"),
                                    )
                                    .label("not a string")
                                    .help("write a string, or `secret(name: \"…\", key: \"…\")`"),
                                );
                            }
                        }
                    }
                }
            }
            "node_selector" | "labels" | "annotations" => {
                for entry in &block.entries {
                    if let Err(why) = k8s::check_label_key(entry.key.text()) {
                        self.push(
                            Diagnostic::new(Code::InvalidLabelKey, entry.key.span(), format!("`{}` is not a valid Kubernetes label key", entry.key.text()))
                                .label(why)
                                .help("a key is an optional DNS subdomain prefix and `/`, then a name of letters, digits, `-`, `_` and `.`, e.g. `cloud.google.com/gke-nodepool`"),
                        );
                    }
                    let ty = self.literal_ty(&entry.value);
                    if !matches!(ty, Ty::String | Ty::Unknown) {
                        self.push(
                            Diagnostic::new(
                                Code::FieldTypeMismatch,
                                entry.value.span,
                                format!("`{}` values are strings, found {ty}", block.name.text),
                            )
                            .label("not a string")
                            .help("quote the value"),
                        );
                    } else if block.name.text != "annotations" {
                        // The backends read the value through parentheses too.
                        if let ExprKind::Str(s) = &strip_parens(&entry.value).kind {
                            if let Err(why) = k8s::check_label_value(&s.value) {
                                self.push(
                                    Diagnostic::new(Code::InvalidLabelValue, s.span, format!("`{}` is not a valid Kubernetes label value", s.value))
                                        .label(why)
                                        .help("a label value has at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"),
                                );
                            }
                        }
                    }
                }
            }
            _ => return false,
        }
        true
    }

    fn check_secret(&mut self, call: &ast::Call) {
        let mut has = HashSet::new();
        for (position, arg) in call.args.iter().enumerate() {
            let Some(name) = &arg.name else {
                let which = ["name", "key"].get(position).copied();
                self.push(
                    Diagnostic::new(Code::PositionalArgument, arg.span, "arguments of `secret` must be named")
                        .label("unnamed argument")
                        .help(match which {
                            Some(w) => format!("name it: `{w}: …`"),
                            None => "write `secret(name: \"my-secret\", key: \"token\")`".to_string(),
                        }),
                );
                // Count it where it stands, so the call is not also reported as missing it.
                if let Some(w) = which {
                    has.insert(w);
                }
                continue;
            };
            if name.text != "name" && name.text != "key" {
                self.push(
                    Diagnostic::new(
                        Code::UnknownArgument,
                        name.span,
                        format!("`secret` has no argument `{}`", name.text),
                    )
                    .label("unknown argument")
                    .maybe_help(help_did_you_mean(&name.text, ["name", "key"]))
                    .help_if_none("`secret` takes `name` (the Kubernetes secret) and `key` (the entry in it)"),
                );
                continue;
            }
            has.insert(name.text.as_str());
            let ty = self.literal_ty(&arg.value);
            self.expect_type(&arg.value, &ty, &Ty::String, &format!("`{}`", name.text));
        }
        let missing: Vec<&str> = ["name", "key"].into_iter().filter(|n| !has.contains(n)).collect();
        if !missing.is_empty() {
            self.push(
                Diagnostic::new(
                    Code::MissingArgument,
                    call.callee.span,
                    format!("`secret` needs `{}`", missing.join("` and `")),
                )
                .label("missing arguments")
                .help("write `secret(name: \"my-secret\", key: \"token\")`"),
            );
        }
    }

    fn check_resources(&mut self, block: &ast::KvBlock) {
        let mut cpu = None;
        let mut cpu_limit = None;
        let mut memory = None;
        let mut memory_limit = None;
        let mut gpu: Option<u32> = None;
        let mut accelerator = None;
        // A task's block overrides the component's entry by entry: start from the component's values.
        let base = std::mem::take(&mut self.resource_base);
        let number_of = |e: &ast::KvEntry| match &strip_parens(&e.value).kind {
            ExprKind::Number(n) => Some(n.clone()),
            _ => None,
        };
        let mut gpu_present = block.entries.iter().chain(&base).any(|e| e.key.text() == "gpu");
        for entry in base.iter().filter(|b| !block.entries.iter().any(|e| e.key.text() == b.key.text())) {
            let Some(n) = number_of(entry) else { continue };
            let span = entry.value.span;
            let unit = n.unit.as_deref();
            match entry.key.text() {
                "cpu" => cpu = units::parse_cpu(&n.value, unit).ok().map(|c| (c, span)),
                "cpu_limit" => cpu_limit = units::parse_cpu(&n.value, unit).ok().map(|c| (c, span)),
                "memory" => memory = units::parse_memory(&n.value, unit).ok().map(|m| (m, span)),
                "memory_limit" => memory_limit = units::parse_memory(&n.value, unit).ok().map(|m| (m, span)),
                "gpu" => gpu = units::parse_gpu(&n.value, unit).ok(),
                _ => {}
            }
        }
        if gpu_present && gpu.is_none() && !block.entries.iter().any(|e| e.key.text() == "gpu") {
            gpu_present = base.iter().any(|e| e.key.text() == "gpu" && number_of(e).is_some());
        }
        for entry in &block.entries {
            let key = entry.key.text();
            let value = strip_parens(&entry.value);
            let number = match &value.kind {
                ExprKind::Number(n) => Some(n),
                _ => None,
            };
            match key {
                "cpu" | "cpu_limit" => {
                    self.check_quantity(value, units::QuantityKind::Cpu);
                    let parsed = number.and_then(|n| units::parse_cpu(&n.value, n.unit.as_deref()).ok());
                    if key == "cpu" {
                        cpu = parsed.map(|c| (c, value.span))
                    } else {
                        cpu_limit = parsed.map(|c| (c, value.span))
                    }
                }
                "memory" | "memory_limit" => {
                    self.check_quantity(value, units::QuantityKind::Memory);
                    let parsed = number.and_then(|n| units::parse_memory(&n.value, n.unit.as_deref()).ok());
                    if key == "memory" {
                        memory = parsed.map(|m| (m, value.span))
                    } else {
                        memory_limit = parsed.map(|m| (m, value.span))
                    }
                }
                "gpu" => {
                    self.check_quantity(value, units::QuantityKind::Gpu);
                    gpu = number.and_then(|n| units::parse_gpu(&n.value, n.unit.as_deref()).ok());
                }
                "accelerator" => {
                    let ty = self.literal_ty(value);
                    if self.expect_type(value, &ty, &Ty::String, "`accelerator`") {
                        if let ExprKind::Str(s) = &value.kind {
                            self.check_accelerator(s);
                        }
                    }
                    accelerator = Some(entry.key.span());
                }
                _ => {
                    self.push(
                        Diagnostic::new(Code::UnknownResource, entry.key.span(), format!("unknown resource `{key}`"))
                            .label("not a resource KFL knows")
                            .maybe_help(help_did_you_mean(key, RESOURCES))
                            .help_if_none("resources are cpu, memory, gpu, accelerator, cpu_limit and memory_limit"),
                    );
                }
            }
        }
        if let (Some((request, request_span)), Some((limit, limit_span))) = (cpu, cpu_limit) {
            if limit < request {
                self.push(
                    Diagnostic::new(
                        Code::LimitBelowRequest,
                        limit_span,
                        format!("the CPU limit {limit} is below the request {request}"),
                    )
                    .label("limit below request")
                    .secondary(Label::new(request_span, "requested here"))
                    .help("raise `cpu_limit` to at least `cpu`, or lower `cpu`"),
                );
            }
        }
        if let (Some((request, request_span)), Some((limit, limit_span))) = (memory, memory_limit) {
            if limit < request {
                self.push(
                    Diagnostic::new(
                        Code::LimitBelowRequest,
                        limit_span,
                        format!("the memory limit {limit} is below the request {request}"),
                    )
                    .label("limit below request")
                    .secondary(Label::new(request_span, "requested here"))
                    .help("raise `memory_limit` to at least `memory`, or lower `memory`"),
                );
            }
        }
        // An invalid `gpu` entry has its own error; only a missing or zero one makes this warning.
        let gpu_invalid = gpu_present && gpu.is_none();
        if let (Some(span), true) = (accelerator, gpu.unwrap_or(0) == 0 && !gpu_invalid) {
            self.push(
                Diagnostic::new(Code::AcceleratorWithoutGpu, span, "an accelerator is named but no GPU is requested")
                    .label("no `gpu` in this block")
                    .help("add `gpu = 1` (or more), or remove `accelerator`"),
            );
        }
    }

    /// `accelerator` becomes the value of the node label that selects the kind of GPU (the
    /// backends put it in the node selector), so it must be a valid label value.
    fn check_accelerator(&mut self, s: &ast::StrLit) {
        let Err(why) = k8s::check_label_value(&s.value) else { return };
        let help = if s.value.contains('/') {
            "`accelerator` is not a resource name: the GPU resource is requested with `gpu = N`, and `accelerator` names the node label value of the GPU kind, such as `nvidia-tesla-a100` or `nvidia-l4`".to_string()
        } else {
            "`accelerator` names the node label value of the GPU kind, such as `nvidia-tesla-a100`: at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit".to_string()
        };
        self.push(
            Diagnostic::new(
                Code::InvalidLabelValue,
                s.span,
                format!("`{}` is not a valid accelerator: it becomes a node label value", s.value),
            )
            .label(why)
            .help(help),
        );
    }

    fn check_duplicate_fields<'a>(&mut self, names: impl IntoIterator<Item = &'a Ident>) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for name in names {
            if let Some(first) = seen.get(name.text.as_str()) {
                self.push(
                    Diagnostic::new(Code::DuplicateField, name.span, format!("`{}` is set twice", name.text))
                        .label("set again here")
                        .secondary(Label::new(*first, "first set here"))
                        .help("remove one of them"),
                );
            } else {
                seen.insert(&name.text, name.span);
            }
        }
    }

    fn unknown_field(&mut self, name: &Ident, allowed: &[&str], what: &str) {
        let candidates: Vec<&str> = allowed.iter().copied().chain(BLOCKS).collect();
        self.push(
            Diagnostic::new(Code::UnknownField, name.span, format!("{what} has no field `{}`", name.text))
                .label("unknown field")
                .maybe_help(help_did_you_mean(&name.text, candidates.iter().copied()))
                .help_if_none(format!("{what} sets {}, and the blocks {}", allowed.join(", "), BLOCKS.join(", "))),
        );
    }

    fn unknown_block(&mut self, name: &Ident, what: &str) {
        self.push(
            Diagnostic::new(Code::UnknownField, name.span, format!("{what} has no block `{}`", name.text))
                .label("unknown block")
                .maybe_help(help_did_you_mean(&name.text, BLOCKS))
                .help_if_none(format!("the blocks are {}", BLOCKS.join(", "))),
        );
    }

    // ---------------------------------------------------------------------------------------------
    // Components

    fn check_component(&mut self, component: &ast::Component) {
        let mut names: HashMap<&str, (Span, &'static str)> = HashMap::new();
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
                _ => self.unknown_field(&field.name, &COMPONENT_FIELDS, "a component"),
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

    fn check_default(&mut self, param: &ast::Param, ty: &Ty) {
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
                    if !k8s::package_is_pinned(&s.value) {
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

    fn check_command(
        &mut self,
        field: &ast::Field,
        inputs: &[(&ast::Param, Ty)],
        outputs: &[(&ast::OutputSig, Ty)],
        scripts: &[&ast::Script],
    ) {
        let _ = scripts;
        let ExprKind::List(items) = &strip_parens(&field.value).kind else {
            self.push(
                Diagnostic::new(
                    Code::FieldTypeMismatch,
                    field.value.span,
                    format!("`{}` expects a list", field.name.text),
                )
                .label("not a list")
                .help(format!("write `{} = [\"python\", \"-m\", \"train\"]`", field.name.text)),
            );
            return;
        };
        let names: Vec<&str> = inputs
            .iter()
            .map(|(p, _)| p.name.text.as_str())
            .chain(outputs.iter().map(|(o, _)| o.name.text.as_str()))
            .collect();
        for item in items {
            match &strip_parens(item).kind {
                ExprKind::Str(_) | ExprKind::Number(_) | ExprKind::Bool(_) => {}
                ExprKind::Path(parts) => self.check_placeholder(parts, inputs, outputs, &names),
                ExprKind::Call(call) => self.call_in_expression(call),
                _ => self.push(
                    Diagnostic::new(
                        Code::FieldTypeMismatch,
                        item.span,
                        format!("`{}` holds strings, numbers and placeholders", field.name.text),
                    )
                    .label("not a string, number or placeholder")
                    .help("write a string, an input's name, or `artifact.path`"),
                ),
            }
        }
    }

    fn check_placeholder(
        &mut self,
        parts: &[Ident],
        inputs: &[(&ast::Param, Ty)],
        outputs: &[(&ast::OutputSig, Ty)],
        names: &[&str],
    ) {
        let head = &parts[0];
        let input = inputs.iter().find(|(p, _)| p.name.text == head.text);
        let output = outputs.iter().find(|(o, _)| o.name.text == head.text);
        let (ty, is_output) = match (input, output) {
            (Some((_, ty)), _) => (ty, false),
            (None, Some((_, ty))) => (ty, true),
            (None, None) => {
                self.push(
                    Diagnostic::new(
                        Code::UnresolvedName,
                        head.span,
                        format!("`{}` is not an input or output of this component", head.text),
                    )
                    .label("unknown name")
                    .maybe_help(help_did_you_mean(&head.text, names.iter().copied()))
                    .help_if_none("a command may refer to the component's inputs and outputs; quote literal text"),
                );
                return;
            }
        };
        let property = parts.get(1);
        match (ty.is_artifact(), is_output, property) {
            (true, _, None) => self.push(
                Diagnostic::new(
                    Code::BareArtifactInCommand,
                    head.span,
                    format!("artifact `{}` needs `.path` or `.uri` here", head.text),
                )
                .label("an artifact, not a string")
                .help(format!(
                    "write `{}.path` for a local file path or `{}.uri` for its storage URI",
                    head.text, head.text
                )),
            ),
            (false, true, None) => self.push(
                Diagnostic::new(
                    Code::BareArtifactInCommand,
                    head.span,
                    format!("output parameter `{}` needs `.path` here", head.text),
                )
                .label("an output, not a value")
                .help(format!("write `{}.path`: the container writes the value into that file", head.text)),
            ),
            (true, _, Some(prop)) if ["path", "uri"].contains(&prop.text.as_str()) => {}
            (false, true, Some(prop)) if prop.text == "path" => {}
            (false, false, None) => {}
            (_, _, Some(prop)) => {
                let allowed: &[&str] = match (ty.is_artifact(), is_output) {
                    (true, _) => &["path", "uri"],
                    (false, true) => &["path"],
                    (false, false) => &[],
                };
                let help = if allowed.is_empty() {
                    format!("`{}` is a parameter and stands for its value; write just `{}`", head.text, head.text)
                } else {
                    help_did_you_mean(&prop.text, allowed.iter().copied()).unwrap_or_else(|| {
                        format!(
                            "in a command, `{}` has {}",
                            head.text,
                            allowed.iter().map(|a| format!("`.{a}`")).collect::<Vec<_>>().join(" and ")
                        )
                    })
                };
                self.push(
                    Diagnostic::new(
                        Code::UnknownArtifactProperty,
                        prop.span,
                        format!("`{}` has no property `{}` here", head.text, prop.text),
                    )
                    .label("unknown property")
                    .help(help),
                );
            }
        }
        if let Some(extra) = parts.get(2) {
            self.push(
                Diagnostic::new(
                    Code::UnknownArtifactProperty,
                    extra.span,
                    format!("`{}` has no property `{}`", parts[1].text, extra.text),
                )
                .label("unknown property")
                .help("a placeholder is `name`, `name.path` or `name.uri`"),
            );
        }
    }

    fn check_script_mentions(
        &mut self,
        script: &ast::Script,
        inputs: &[(&ast::Param, Ty)],
        outputs: &[(&ast::OutputSig, Ty)],
    ) {
        let text = &script.source.value;
        for (input, _) in inputs {
            if !mentions(text, &input.name.text) {
                self.push(
                    Diagnostic::new(
                        Code::UnusedInput,
                        input.name.span,
                        format!("the script never mentions input `{}`", input.name.text),
                    )
                    .label("unused input")
                    .secondary(Label::new(script.lang_span, "in this script"))
                    .help("use it in the script, or remove the input"),
                );
            }
        }
        for (output, ty) in outputs {
            if !mentions(text, &output.name.text) {
                let how = match (script.lang, ty.is_artifact()) {
                    (ast::ScriptLang::Python, true) => {
                        format!("write the artifact to `{}.path`", output.name.text)
                    }
                    (ast::ScriptLang::Python, false) => {
                        format!("assign it: `{} = …`", output.name.text)
                    }
                    (ast::ScriptLang::Sh, _) => {
                        format!("write it to the file at `\"${}\"`", output.name.text)
                    }
                };
                self.push(
                    Diagnostic::new(
                        Code::OutputNotSet,
                        output.name.span,
                        format!("the script never sets output `{}`", output.name.text),
                    )
                    .label("never set")
                    .secondary(Label::new(script.lang_span, "in this script"))
                    .help(how),
                );
            }
        }
    }
}

/// The chain of files from `start` back to `origin`, if `start` (imported by `origin`) leads back.
fn import_cycle(db: &dyn Db, origin: SourceFile, start: SourceFile) -> Option<Vec<SourceFile>> {
    let mut stack: Vec<(SourceFile, Vec<SourceFile>)> = vec![(start, vec![start])];
    let mut seen = HashSet::new();
    while let Some((file, chain)) = stack.pop() {
        if !seen.insert(file) {
            continue;
        }
        for &next in imported_files(db, file) {
            if next == origin {
                let mut chain = chain.clone();
                chain.push(origin);
                return Some(chain);
            }
            let mut longer = chain.clone();
            longer.push(next);
            stack.push((next, longer));
        }
    }
    None
}

/// A name declared a second time: the primary label at the repeat, a secondary at the first.
fn declared_twice(code: Code, again: Span, first: Span, message: String) -> Diagnostic {
    Diagnostic::new(code, again, message)
        .label("declared again here")
        .secondary(Label::new(first, "first declared here"))
        .help("rename or remove one of them")
}

trait HelpIfNone {
    fn help_if_none(self, help: impl Into<String>) -> Self;
}

impl HelpIfNone for Diagnostic {
    fn help_if_none(self, help: impl Into<String>) -> Self {
        if self.help.is_some() {
            self
        } else {
            self.help(help)
        }
    }
}

// =================================================================================================
// Pipelines

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scope {
    Loop(usize),
    Branch(usize),
}

struct TaskInfo<'a, 'db> {
    name: &'a Ident,
    stmt: &'a ast::TaskStmt,
    scopes: Vec<Scope>,
    callee: Option<(SourceFile, &'db Export)>,
    /// Output name → read somewhere.
    outputs_read: HashMap<String, bool>,
    named_in_after: bool,
    /// A reference to this task had an error: its unused-result warnings would only add noise.
    had_bad_reference: bool,
    deps: Vec<(usize, Span)>,
}

struct LoopInfo<'a> {
    var: &'a Ident,
    elem: Ty,
    used: bool,
}

struct PipelineChecker<'c, 'a, 'db> {
    c: &'c mut Checker<'db>,
    pipeline: &'a ast::Pipeline,
    params: Vec<(&'a ast::Param, Ty, bool)>,
    tasks: Vec<TaskInfo<'a, 'db>>,
    task_index: HashMap<&'a str, usize>,
    loops: Vec<LoopInfo<'a>>,
    /// Current nesting while walking the body.
    scopes: Vec<Scope>,
    /// Tasks whose outputs the expression being checked reads go here.
    current_task: Option<usize>,
    /// Tasks read by the conditions and loop lists that enclose the current statement.
    enclosing_deps: Vec<(usize, Span)>,
    branch_count: usize,
}

impl<'c, 'a, 'db> PipelineChecker<'c, 'a, 'db> {
    fn new(c: &'c mut Checker<'db>, pipeline: &'a ast::Pipeline) -> Self {
        PipelineChecker {
            c,
            pipeline,
            params: Vec::new(),
            tasks: Vec::new(),
            task_index: HashMap::new(),
            loops: Vec::new(),
            scopes: Vec::new(),
            current_task: None,
            enclosing_deps: Vec::new(),
            branch_count: 0,
        }
    }

    fn run(mut self) {
        self.check_params();
        // First pass: every task and loop, so that references may point forward.
        let mut finally_seen: Option<Span> = None;
        self.collect(&self.pipeline.body, true, &mut finally_seen);
        self.scopes.clear();
        self.branch_count = 0;
        let mut loop_counter = 0;
        let mut task_counter = 0;
        self.walk(&self.pipeline.body, &mut loop_counter, &mut task_counter);
        self.check_outputs();
        self.check_graph();
        self.check_recursion();
        // A statement that did not parse may have used what looks unused.
        if !self.has_broken_statements() {
            self.check_unused();
        }
    }

    /// Whether statements of the body did not parse (each has its syntax error). Names they might
    /// have declared are not reported as missing, and nothing is reported as unused.
    fn has_broken_statements(&self) -> bool {
        !self.pipeline.broken.is_empty()
    }

    fn check_params(&mut self) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for param in &self.pipeline.params {
            if let Some(first) = seen.get(param.name.text.as_str()) {
                self.c.push(declared_twice(
                    Code::DuplicateParameter,
                    param.name.span,
                    *first,
                    format!("parameter `{}` is declared twice", param.name.text),
                ));
                continue;
            }
            seen.insert(&param.name.text, param.name.span);
            let ty = self.c.resolve_type(&param.ty);
            self.c.check_default(param, &ty);
            self.params.push((param, ty, false));
        }
    }

    fn collect(&mut self, stmts: &'a [ast::Stmt], top: bool, finally_seen: &mut Option<Span>) {
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(t) => {
                    let name = t.binding.as_ref().unwrap_or(&t.call.callee);
                    if let Some(&first) = self.task_index.get(name.text.as_str()) {
                        let first_span = self.tasks[first].name.span;
                        let help = if t.binding.is_none() {
                            format!("bind the task to a new name: `{}_2 = {}(…)`", name.text, name.text)
                        } else {
                            "rename one of the tasks".to_string()
                        };
                        self.c.push(
                            Diagnostic::new(
                                Code::DuplicateTask,
                                name.span,
                                format!("a task named `{}` already exists in `{}`", name.text, self.pipeline.name.text),
                            )
                            .label("task declared again here")
                            .secondary(Label::new(first_span, "first task of that name"))
                            .help(help),
                        );
                        // Still check it, under its own entry, so its mistakes are reported; which of
                        // the two a reference means is unclear, so neither gets unused warnings.
                        self.tasks[first].had_bad_reference = true;
                    } else if let Some((param, _, _)) = self.params.iter().find(|(p, _, _)| p.name.text == name.text) {
                        self.c.push(
                            Diagnostic::new(
                                Code::DuplicateTask,
                                name.span,
                                format!("task `{}` has the same name as a parameter", name.text),
                            )
                            .label("task named like a parameter")
                            .secondary(Label::new(param.name.span, "the parameter"))
                            .help("rename the task: a reference to this name would mean the parameter"),
                        );
                    } else {
                        self.task_index.insert(&name.text, self.tasks.len());
                    }
                    let duplicate = self.task_index.get(name.text.as_str()) != Some(&self.tasks.len());
                    self.tasks.push(TaskInfo {
                        name,
                        stmt: t,
                        scopes: self.scopes.clone(),
                        callee: None,
                        outputs_read: HashMap::new(),
                        named_in_after: false,
                        had_bad_reference: duplicate,
                        deps: Vec::new(),
                    });
                }
                ast::StmtKind::If(i) => {
                    // Each branch is a scope of its own.
                    for block in i.blocks() {
                        self.scopes.push(Scope::Branch(self.branch_count));
                        self.branch_count += 1;
                        self.collect(&block.stmts, false, finally_seen);
                        self.scopes.pop();
                    }
                }
                ast::StmtKind::For(f) => {
                    self.scopes.push(Scope::Loop(self.loops.len()));
                    self.loops.push(LoopInfo { var: &f.var, elem: Ty::Unknown, used: false });
                    self.collect(&f.body.stmts, false, finally_seen);
                    self.scopes.pop();
                }
                ast::StmtKind::Finally(block) => {
                    let keyword_start = match stmt.doc.span {
                        Some(doc) => {
                            let text = self.c.file.text(self.c.db);
                            let from = doc.end as usize;
                            text.get(from..)
                                .and_then(|rest| rest.find("finally"))
                                .map_or(stmt.span.start as usize, |i| from + i)
                        }
                        None => stmt.span.start as usize,
                    };
                    let finally_span = Span::new(keyword_start, keyword_start + "finally".len());
                    if !top {
                        self.c.push(
                            Diagnostic::new(Code::MisplacedFinally, finally_span, "`finally` must be at the top level of a pipeline")
                                .label("inside a condition or loop")
                                .help("move the `finally` block out to the pipeline's body: it runs once, when the whole pipeline ends"),
                        );
                    } else if let Some(first) = finally_seen {
                        self.c.push(
                            Diagnostic::new(Code::MisplacedFinally, finally_span, "a pipeline has one `finally` block")
                                .label("second `finally`")
                                .secondary(Label::new(*first, "first `finally`"))
                                .help("merge both blocks into one"),
                        );
                    } else {
                        *finally_seen = Some(finally_span);
                    }
                    self.collect(&block.stmts, false, finally_seen);
                }
                ast::StmtKind::Field(f) if !top => self.c.push(
                    Diagnostic::new(
                        Code::UnknownField,
                        f.name.span,
                        format!("`{}` cannot be set inside a block", f.name.text),
                    )
                    .label("field inside a condition or loop")
                    .help("pipeline fields belong at the top of the pipeline; a task is written `name = component(…)`"),
                ),
                ast::StmtKind::Output(o) if !top => self.c.push(
                    Diagnostic::new(Code::UnknownField, o.name.span, "`output` belongs at the top level of a pipeline")
                        .label("output inside a condition or loop")
                        .help("declare pipeline outputs in the pipeline's body, outside `if`, `for` and `finally`"),
                ),
                ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => {}
            }
        }
    }

    fn walk(&mut self, stmts: &'a [ast::Stmt], loop_counter: &mut usize, task_counter: &mut usize) {
        let mut field_names = Vec::new();
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(_) => {
                    let index = *task_counter;
                    *task_counter += 1;
                    self.check_task(index);
                }
                ast::StmtKind::Field(f) => {
                    if self.scopes.is_empty() {
                        field_names.push(&f.name);
                        if PIPELINE_FIELDS.contains(&f.name.text.as_str()) {
                            let ty = self.c.literal_ty(&f.value);
                            self.c.expect_type(&f.value, &ty, &Ty::String, &format!("`{}`", f.name.text));
                        } else {
                            self.c.unknown_field(&f.name, &PIPELINE_FIELDS, "a pipeline");
                        }
                    }
                }
                ast::StmtKind::If(i) => {
                    let mut current = Some(i);
                    let pushed = self.enclosing_deps.len();
                    while let Some(i) = current {
                        self.check_condition(&i.cond);
                        self.scopes.push(Scope::Branch(self.branch_count));
                        self.branch_count += 1;
                        self.walk(&i.then.stmts, loop_counter, task_counter);
                        self.scopes.pop();
                        current = match &i.otherwise {
                            Some(ast::Else::If(next)) => Some(next),
                            Some(ast::Else::Block(b)) => {
                                self.scopes.push(Scope::Branch(self.branch_count));
                                self.branch_count += 1;
                                self.walk(&b.stmts, loop_counter, task_counter);
                                self.scopes.pop();
                                None
                            }
                            None => None,
                        };
                    }
                    self.enclosing_deps.truncate(pushed);
                }
                ast::StmtKind::For(f) => {
                    let index = *loop_counter;
                    *loop_counter += 1;
                    let pushed = self.enclosing_deps.len();
                    self.check_loop_header(f, index);
                    self.scopes.push(Scope::Loop(index));
                    self.walk(&f.body.stmts, loop_counter, task_counter);
                    self.scopes.pop();
                    self.enclosing_deps.truncate(pushed);
                    if !self.loops[index].used {
                        self.c.push(
                            Diagnostic::new(
                                Code::UnusedLoopVariable,
                                f.var.span,
                                format!("loop variable `{}` is never used", f.var.text),
                            )
                            .label("unused")
                            .help(format!(
                                "pass `{}` to a task in the loop; name it `_{}` if each iteration really ignores it",
                                f.var.text, f.var.text
                            )),
                        );
                    }
                }
                ast::StmtKind::Finally(block) => self.walk(&block.stmts, loop_counter, task_counter),
                ast::StmtKind::Output(_) => {}
            }
        }
        self.c.check_duplicate_fields(field_names);
    }

    fn check_condition(&mut self, cond: &Expr) {
        let before = self.enclosing_deps.len();
        self.current_task = None;
        let ty = self.expr_ty(cond, true);
        if !matches!(ty, Ty::Bool | Ty::Unknown) {
            let help = match ty {
                Ty::Int | Ty::Float => "compare it: `x > 0`",
                Ty::String => "compare it: `x == \"value\"`",
                _ => "a condition is a Bool: a comparison, a Bool parameter or output, or `and`/`or`/`not` of those",
            };
            self.c.push(
                Diagnostic::new(Code::ConditionNotBool, cond.span, format!("a condition must be a Bool, found {ty}"))
                    .label(format!("this is {ty}"))
                    .help(help),
            );
        }
        if is_constant(cond) {
            self.c.push(
                Diagnostic::new(Code::ConstantCondition, cond.span, "this condition is always the same")
                    .label("made only of literals")
                    .help("compare a parameter or a task's output, or remove the `if`"),
            );
        }
        let _ = before;
    }

    fn check_loop_header(&mut self, f: &'a ast::ForStmt, index: usize) {
        self.current_task = None;
        let ty = self.expr_ty(&f.iterable, false);
        let elem = match &ty {
            Ty::List(inner) => (**inner).clone(),
            Ty::Unknown => Ty::Unknown,
            other => {
                self.c.push(
                    Diagnostic::new(
                        Code::LoopOverNonList,
                        f.iterable.span,
                        format!("a `for` loop needs a list, found {other}"),
                    )
                    .label(format!("this is {other}"))
                    .help("loop over a list literal `[…]`, a `List` parameter or a `List` output"),
                );
                Ty::Unknown
            }
        };
        if let ExprKind::List(items) = &strip_parens(&f.iterable).kind {
            if items.is_empty() {
                self.c.push(
                    Diagnostic::new(Code::EmptyLoop, f.iterable.span, "this loop iterates over an empty list")
                        .label("no items")
                        .help("add items, or remove the loop"),
                );
            }
        }
        if let Some(parallel) = &f.parallel {
            if let ExprKind::Path(_) = &strip_parens(parallel).kind {
                // Resolve it, so a parameter used here counts as used (and a typo is reported).
                self.expr_ty(parallel, false);
            }
            let ok = match &strip_parens(parallel).kind {
                ExprKind::Number(n) => n.unit.is_none() && n.value.parse::<u32>().is_ok_and(|v| v > 0),
                _ => false,
            };
            if !ok {
                self.c.push(
                    Diagnostic::new(
                        Code::InvalidParallelism,
                        parallel.span,
                        "`parallel` takes a positive whole number",
                    )
                    .label("not a positive integer literal")
                    .help(
                        "write `parallel 4` to run at most four iterations at once, or leave it out to run all at once",
                    ),
                );
            }
        }
        self.loops[index].elem = elem;
    }

    fn check_task(&mut self, index: usize) {
        let stmt = self.tasks[index].stmt;
        let call = &stmt.call;
        // K8s naming: the characters; length is handled by truncation (E0502 on collisions).
        if let Err(error) = k8s::k8s_name(&self.tasks[index].name.text) {
            if !matches!(error, k8s::K8sNameError::TooLong { .. }) {
                self.c.check_k8s_name(self.tasks[index].name, "task names");
            }
        }
        let callee = match self.c.lookup(&call.callee.text) {
            Found::One(owner, export @ (Export::Component(_) | Export::Pipeline(_))) => Some((owner, export)),
            Found::One(_, export) => {
                self.c.push(
                    Diagnostic::new(
                        Code::NotCallable,
                        call.callee.span,
                        format!("`{}` is {}, not a component", call.callee.text, export.kind_name()),
                    )
                    .label("cannot be called")
                    .help("a task calls a component or a pipeline"),
                );
                None
            }
            Found::Ambiguous(owners) => {
                self.c.ambiguous(&call.callee, &owners);
                None
            }
            Found::None if items::is_broken_item(self.c.db, self.c.file, &call.callee.text) => None,
            Found::None => {
                let name = &call.callee.text;
                let local = if self.params.iter().any(|(p, _, _)| p.name.text == *name) {
                    Some("a parameter")
                } else if self.task_index.get(name.as_str()).is_some_and(|&t| t != index) {
                    Some("a task")
                } else if self.loops.iter().any(|l| l.var.text == *name) {
                    Some("a loop variable")
                } else {
                    None
                };
                if let Some(kind) = local {
                    self.c.push(
                        Diagnostic::new(
                            Code::NotCallable,
                            call.callee.span,
                            format!("`{name}` is {kind}, not a component"),
                        )
                        .label("cannot be called")
                        .help("a task calls a component or a pipeline; pass this value as an argument instead"),
                    );
                } else if name == "secret"
                    || BUILTIN_ARTIFACTS.contains(&name.as_str())
                    || PARAMETER_TYPES.contains(&name.as_str())
                {
                    self.c.push(
                        Diagnostic::new(
                            Code::NotCallable,
                            call.callee.span,
                            format!("`{name}` is built in and cannot be a task"),
                        )
                        .label("cannot be called here")
                        .help(if name == "secret" {
                            "`secret(…)` is a value for an `env` block"
                        } else {
                            "a task calls a component or a pipeline"
                        }),
                    );
                } else {
                    let visible = visible_names(self.c.db, self.c.file);
                    let callables = visible.iter().filter(|(_, e)| e.signature().is_some()).map(|(n, _)| *n);
                    self.c.push(
                        Diagnostic::new(
                            Code::UnresolvedCallee,
                            call.callee.span,
                            format!("no component or pipeline named `{name}`"),
                        )
                        .label("not found")
                        .maybe_help(help_did_you_mean(name, callables))
                        .help_if_none("declare the component in this file, or import the file that declares it"),
                    );
                }
                None
            }
        };
        self.tasks[index].callee = callee;
        let enclosing = self.enclosing_deps.clone();
        self.tasks[index].deps.extend(enclosing);
        self.current_task = Some(index);
        match callee {
            Some((owner, export)) => self.check_args(index, owner, export),
            None => {
                // Still look at the arguments for unresolved names.
                for arg in &call.args {
                    self.expr_ty(&arg.value, false);
                }
            }
        }
        if let Some(block) = &stmt.overrides {
            self.check_overrides(index, block);
        }
        self.current_task = None;
    }

    fn check_args(&mut self, index: usize, owner: SourceFile, export: &'db Export) {
        let call = &self.tasks[index].stmt.call;
        let Some(sig) = export.signature() else {
            return;
        };
        let mut passed: HashMap<&str, Span> = HashMap::new();
        for (position, arg) in call.args.iter().enumerate() {
            let actual = self.expr_ty(&arg.value, false);
            let Some(name) = &arg.name else {
                let help = match sig.inputs.get(position) {
                    Some(input) => format!("name it: `{}: …`", input.name),
                    None => "arguments are written `name: value`".to_string(),
                };
                self.c.push(
                    Diagnostic::new(Code::PositionalArgument, arg.span, "arguments must be named")
                        .label("unnamed argument")
                        .help(help),
                );
                if let Some(input) = sig.inputs.get(position) {
                    passed.entry(input.name.as_str()).or_insert(arg.span);
                }
                continue;
            };
            if let Some(first) = passed.get(name.text.as_str()) {
                self.c.push(
                    Diagnostic::new(Code::DuplicateArgument, name.span, format!("`{}` is passed twice", name.text))
                        .label("passed again here")
                        .secondary(Label::new(*first, "first passed here"))
                        .help("remove one of them"),
                );
                continue;
            }
            passed.insert(&name.text, name.span);
            let Some(input) = sig.input(&name.text) else {
                let help =
                    help_did_you_mean(&name.text, sig.inputs.iter().map(|i| i.name.as_str())).unwrap_or_else(|| {
                        if sig.inputs.is_empty() {
                            format!("`{}` takes no inputs", call.callee.text)
                        } else {
                            format!(
                                "`{}` takes {}",
                                call.callee.text,
                                sig.inputs.iter().map(|i| format!("`{}`", i.name)).collect::<Vec<_>>().join(", ")
                            )
                        }
                    });
                let mut d = Diagnostic::new(
                    Code::UnknownArgument,
                    name.span,
                    format!("`{}` has no input `{}`", call.callee.text, name.text),
                )
                .label("unknown argument")
                .help(help);
                if let Some(span) = self.c.item_name_span(owner, &call.callee.text) {
                    d = d.secondary(self.c.label_in(owner, span, format!("`{}` is declared here", call.callee.text)));
                }
                self.c.push(d);
                continue;
            };
            let expected = self.c.input_ty(owner, input);
            if is_assignable(self.c.db, &actual, &expected) {
                self.c.check_lossy(&arg.value, &expected);
            } else {
                let help = match (&actual, &expected) {
                    (Ty::Float, Ty::Int) => {
                        "a Float does not narrow to an Int; pass a whole number or change the input to Float"
                            .to_string()
                    }
                    (Ty::Artifact(_), Ty::Artifact(_)) => {
                        format!("an input of type {expected} accepts {expected} or a type declared with `artifact X: {expected}`")
                    }
                    _ => format!("pass a value of type {expected}"),
                };
                self.c.push(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        arg.value.span,
                        format!("`{}` expects {expected}, found {actual}", name.text),
                    )
                    .label(format!("this is {actual}"))
                    .help(help),
                );
            }
        }
        let missing: Vec<&items::InputSig> =
            sig.inputs.iter().filter(|i| !i.has_default && !passed.contains_key(i.name.as_str())).collect();
        if !missing.is_empty() {
            let list: Vec<String> =
                missing.iter().map(|i| format!("`{}: {}`", i.name, items::input_ty(self.c.db, owner, i))).collect();
            let mut d = Diagnostic::new(
                Code::MissingArgument,
                call.callee.span,
                format!(
                    "`{}` needs {}",
                    call.callee.text,
                    missing.iter().map(|i| format!("`{}`", i.name)).collect::<Vec<_>>().join(", ")
                ),
            )
            .label(if missing.len() == 1 { "missing an argument" } else { "missing arguments" })
            .help(format!("pass {}", list.join(", ")));
            if let Some(span) = self.c.item_name_span(owner, &call.callee.text) {
                d = d.secondary(self.c.label_in(owner, span, format!("`{}` is declared here", call.callee.text)));
            }
            self.c.push(d);
        }
    }

    /// The `resources` entries of the component a task calls (none for pipelines).
    fn component_resources(&self, index: usize) -> Vec<ast::KvEntry> {
        let Some((owner, Export::Component(_))) = self.tasks[index].callee else { return Vec::new() };
        let callee = &self.tasks[index].stmt.call.callee.text;
        let parse = parse(self.c.db, owner);
        let mut entries = Vec::new();
        for item in &parse.file.items {
            let ast::Item::Component(c) = item else { continue };
            if c.name.text != *callee {
                continue;
            }
            for member in &c.members {
                if let ast::MemberKind::Block(b) = &member.kind {
                    if b.name.text == "resources" {
                        entries.extend(b.entries.iter().cloned());
                    }
                }
            }
        }
        entries
    }

    fn check_overrides(&mut self, index: usize, block: &'a ast::TaskBlock) {
        let mut names = Vec::new();
        for member in &block.members {
            match member {
                ast::TaskMember::Block(b) => {
                    names.push(&b.name);
                    if b.name.text == "resources" {
                        let mut base = self.component_resources(index);
                        // Spans in another file must not label this one: point them at the block.
                        if self.tasks[index].callee.is_some_and(|(owner, _)| owner != self.c.file) {
                            for entry in &mut base {
                                entry.value.span = b.name.span;
                            }
                        }
                        self.c.resource_base = base;
                    }
                    if !self.c.check_block(b) {
                        self.c.unknown_block(&b.name, "a task");
                    }
                }
                ast::TaskMember::Field(f) => {
                    names.push(&f.name);
                    match f.name.text.as_str() {
                        "after" => self.check_after(index, &f.value),
                        "display_name" => {
                            let ty = self.c.literal_ty(&f.value);
                            self.c.expect_type(&f.value, &ty, &Ty::String, "`display_name`");
                        }
                        "image" | "packages" | "command" | "args" | "description" => self.c.push(
                            Diagnostic::new(Code::FieldNotAllowedHere, f.name.span, format!("`{}` belongs to the component, not to a task", f.name.text))
                                .label("not a task field")
                                .help("set it in the component; a task may override resources, env, retries, timeout, cache, tolerations and add `after`"),
                        ),
                        _ if self.c.check_common_field(f) => {}
                        _ => self.c.unknown_field(&f.name, &TASK_FIELDS, "a task"),
                    }
                }
            }
        }
        self.c.check_duplicate_fields(names);
    }

    fn check_after(&mut self, index: usize, value: &Expr) {
        let items: Vec<&Expr> = match &strip_parens(value).kind {
            ExprKind::List(items) => items.iter().collect(),
            _ => vec![value],
        };
        for item in items {
            let Some(parts) = strip_parens(item).as_path() else {
                self.c.push(
                    Diagnostic::new(Code::AfterNonTask, item.span, "`after` names tasks")
                        .label("not a task name")
                        .help("write `after = [other_task]`"),
                );
                continue;
            };
            let head = &parts[0];
            match self.task_index.get(head.text.as_str()).copied() {
                Some(target) if parts.len() == 1 => {
                    if target == index {
                        self.c.push(
                            Diagnostic::new(
                                Code::DependencyCycle,
                                head.span,
                                format!("task `{}` waits for itself", head.text),
                            )
                            .label("a task cannot run after itself")
                            .help("remove it from `after`"),
                        );
                        continue;
                    }
                    self.tasks[target].named_in_after = true;
                    if self.tasks[index].deps.iter().any(|(t, _)| *t == target) {
                        self.c.push(
                            Diagnostic::new(
                                Code::RedundantAfter,
                                head.span,
                                format!("this task already waits for `{}`", head.text),
                            )
                            .label("redundant")
                            .help("it reads an output of that task, which orders them already; remove it from `after`"),
                        );
                    }
                    self.check_task_visible(target, head, true);
                    self.tasks[index].deps.push((target, head.span));
                }
                Some(_) => self.c.push(
                    Diagnostic::new(Code::AfterNonTask, item.span, "`after` names tasks, not their outputs")
                        .label("an output")
                        .help(format!("write `after = [{}]`", head.text)),
                ),
                None => {
                    let is_param = self.params.iter().any(|(p, _, _)| p.name.text == head.text);
                    let is_loop_var = self.loops.iter().any(|l| l.var.text == head.text);
                    let callers: Vec<String> = self
                        .tasks
                        .iter()
                        .filter(|t| t.stmt.call.callee.text == head.text)
                        .map(|t| format!("`{}`", t.name.text))
                        .collect();
                    let is_item = !matches!(lookup(self.c.db, self.c.file, &head.text), Found::None);
                    if is_item {
                        let help = if callers.is_empty() {
                            "`after` names tasks of this pipeline, not components".to_string()
                        } else {
                            format!("name the task that calls it: {}", callers.join(", "))
                        };
                        self.c.push(
                            Diagnostic::new(
                                Code::AfterNonTask,
                                head.span,
                                format!("`{}` is a component, not a task", head.text),
                            )
                            .label("not a task")
                            .help(help),
                        );
                    } else if is_param || is_loop_var {
                        self.c.push(
                            Diagnostic::new(
                                Code::AfterNonTask,
                                head.span,
                                format!(
                                    "`{}` is a {}, not a task",
                                    head.text,
                                    if is_param { "parameter" } else { "loop variable" }
                                ),
                            )
                            .label("not a task")
                            .help("`after` names tasks of this pipeline"),
                        );
                    } else if !self.has_broken_statements() {
                        let names: Vec<&str> = self.task_index.keys().copied().collect();
                        self.c.push(
                            Diagnostic::new(Code::UnresolvedName, head.span, format!("no task named `{}`", head.text))
                                .label("not found")
                                .maybe_help(help_did_you_mean(&head.text, names.iter().copied()))
                                .help_if_none("`after` names tasks of this pipeline"),
                        );
                    }
                }
            }
        }
    }

    /// Reports an output of a task inside a condition read outside it; returns how many loops the
    /// reader is outside of (for fan-in).
    fn check_task_visible(&mut self, target: usize, at: &Ident, is_after: bool) -> usize {
        let target_scopes = self.tasks[target].scopes.clone();
        let mut loops_left = 0;
        for scope in &target_scopes {
            if self.scopes.contains(scope) {
                continue;
            }
            match scope {
                Scope::Loop(_) => loops_left += 1,
                Scope::Branch(_) if !is_after => {
                    self.c.push(
                        Diagnostic::new(
                            Code::ConditionalOutputEscapes,
                            at.span,
                            format!("task `{}` runs only inside a condition", at.text),
                        )
                        .label("read outside its branch")
                        .secondary(Label::new(self.tasks[target].name.span, "declared inside an `if` branch"))
                        .help("use the output inside the same branch, or move the task out of the `if`"),
                    );
                    return loops_left;
                }
                Scope::Branch(_) => {}
            }
        }
        loops_left
    }

    /// The type of an expression in the pipeline, reporting what is wrong. `condition`: it decides an
    /// `if`, so reading a task's output is fine wherever that task is.
    fn expr_ty(&mut self, expr: &Expr, condition: bool) -> Ty {
        match &expr.kind {
            ExprKind::Str(_) => Ty::String,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Number(n) => self.c.number_ty(n, expr.span),
            ExprKind::Paren(inner) => self.expr_ty(inner, condition),
            ExprKind::List(items) => {
                let tys: Vec<Ty> = items.iter().map(|e| self.expr_ty(e, condition)).collect();
                self.c.list_ty(items, &tys)
            }
            ExprKind::Map(entries) => {
                let tys: Vec<Ty> = entries.iter().map(|e| self.expr_ty(&e.value, condition)).collect();
                self.c.map_ty(entries, tys)
            }
            ExprKind::Call(call) => {
                self.c.call_in_expression(call);
                // Still look inside, so names there resolve (or are reported) and count as used.
                for arg in &call.args {
                    self.expr_ty(&arg.value, condition);
                }
                Ty::Unknown
            }
            ExprKind::Field(base, name) => {
                let base_ty = self.expr_ty(base, condition);
                self.property_ty(&base_ty, name, &base.span)
            }
            ExprKind::Not(inner) => {
                let ty = self.expr_ty(inner, condition);
                self.expect_bool(inner, &ty, "`not`");
                Ty::Bool
            }
            ExprKind::Binary(op, op_span, lhs, rhs) => {
                let lt = self.expr_ty(lhs, condition);
                let rt = self.expr_ty(rhs, condition);
                if op.is_comparison() {
                    let ordering = !matches!(op, ast::BinaryOp::Eq | ast::BinaryOp::Ne);
                    if !is_comparable(&lt, &rt, ordering) {
                        let help = if lt.is_artifact() || rt.is_artifact() {
                            "artifacts cannot be compared; compare an output parameter such as a score instead"
                                .to_string()
                        } else if ordering && lt == rt {
                            format!(
                                "`{}` compares numbers; {lt} values can only be compared with `==` and `!=`",
                                op.text()
                            )
                        } else {
                            "compare values of the same type: numbers with numbers, strings with strings".to_string()
                        };
                        self.c.push(
                            Diagnostic::new(
                                Code::IncomparableTypes,
                                *op_span,
                                format!("cannot compare {lt} with {rt} using `{}`", op.text()),
                            )
                            .label("incomparable")
                            .secondary(Label::new(lhs.span, format!("{lt}")))
                            .secondary(Label::new(rhs.span, format!("{rt}")))
                            .help(help),
                        );
                    }
                } else {
                    self.expect_bool(lhs, &lt, &format!("`{}`", op.text()));
                    self.expect_bool(rhs, &rt, &format!("`{}`", op.text()));
                }
                Ty::Bool
            }
            ExprKind::Path(parts) => self.path_ty(parts, condition),
        }
    }

    fn expect_bool(&mut self, expr: &Expr, ty: &Ty, op: &str) {
        if !matches!(ty, Ty::Bool | Ty::Unknown) {
            self.c.push(
                Diagnostic::new(
                    Code::LogicalOperandNotBool,
                    expr.span,
                    format!("{op} needs Bool operands, found {ty}"),
                )
                .label(format!("this is {ty}"))
                .help("compare it first, e.g. `x > 0` or `name == \"a\"`"),
            );
        }
    }

    fn property_ty(&mut self, base: &Ty, name: &Ident, _base_span: &Span) -> Ty {
        match base {
            Ty::Unknown => Ty::Unknown,
            Ty::Struct(fields) => match fields.iter().find(|(n, _)| *n == name.text) {
                Some((_, ty)) => ty.clone(),
                None => {
                    self.c.push(
                        Diagnostic::new(
                            Code::UnknownArtifactProperty,
                            name.span,
                            format!("this item has no field `{}`", name.text),
                        )
                        .label("unknown field")
                        .maybe_help(help_did_you_mean(&name.text, fields.iter().map(|(n, _)| n.as_str())))
                        .help_if_none(format!(
                            "the items have {}",
                            fields.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                        )),
                    );
                    Ty::Unknown
                }
            },
            Ty::Artifact(_) => {
                self.c.push(
                    Diagnostic::new(Code::UnknownArtifactProperty, name.span, format!("`.{}` cannot be used in a pipeline", name.text))
                        .label("artifact property in a pipeline")
                        .maybe_help(
                            ARTIFACT_PROPERTIES
                                .contains(&name.text.as_str())
                                .then(|| "pass the artifact itself; its `.path`, `.uri` and `.metadata` are for the component's script or command".to_string()),
                        )
                        .help_if_none("pass the artifact itself to the next task"),
                );
                Ty::Unknown
            }
            other => {
                self.c.push(
                    Diagnostic::new(Code::UnknownArtifactProperty, name.span, format!("a value of type {other} has no property `{}`", name.text))
                        .label("no such property")
                        .help("only task outputs (`task.output`) and fields of loop items (`item.field`) are written with `.`"),
                );
                Ty::Unknown
            }
        }
    }

    fn path_ty(&mut self, parts: &[Ident], condition: bool) -> Ty {
        let head = &parts[0];
        let rest = &parts[1..];
        // Loop variables in scope, innermost first.
        let in_scope_loop = self.scopes.iter().rev().find_map(|s| match s {
            Scope::Loop(i) if self.loops[*i].var.text == head.text => Some(*i),
            _ => None,
        });
        let mut ty = if let Some(i) = in_scope_loop {
            self.loops[i].used = true;
            self.loops[i].elem.clone()
        } else if let Some(p) = self.params.iter_mut().find(|(p, _, _)| p.name.text == head.text) {
            p.2 = true;
            p.1.clone()
        } else if let Some(&target) = self.task_index.get(head.text.as_str()) {
            return self.task_output_ty(target, head, rest, condition);
        } else if let Some(l) = self.loops.iter().find(|l| l.var.text == head.text) {
            self.c.push(
                Diagnostic::new(Code::LoopVariableOutOfScope, head.span, format!("loop variable `{}` is used outside its loop", head.text))
                    .label("outside the loop")
                    .secondary(Label::new(l.var.span, "the loop variable is declared here"))
                    .help("use it inside the loop's body; to collect results of the loop, read a task's output after the loop"),
            );
            return Ty::Unknown;
        } else if self.has_broken_statements() {
            return Ty::Unknown;
        } else {
            let mut names: Vec<&str> = self.params.iter().map(|(p, _, _)| p.name.text.as_str()).collect();
            names.extend(self.task_index.keys().copied());
            for scope in &self.scopes {
                if let Scope::Loop(i) = scope {
                    names.push(&self.loops[*i].var.text);
                }
            }
            let help = help_did_you_mean(&head.text, names.iter().copied()).unwrap_or_else(|| {
                "a value is a parameter, a loop variable, or a task's output `task.output`".to_string()
            });
            self.c.push(
                Diagnostic::new(
                    Code::UnresolvedName,
                    head.span,
                    format!("cannot find `{}` in pipeline `{}`", head.text, self.pipeline.name.text),
                )
                .label("not found")
                .help(help),
            );
            return Ty::Unknown;
        };
        for name in rest {
            ty = self.property_ty(&ty, name, &head.span);
        }
        ty
    }

    fn task_output_ty(&mut self, target: usize, head: &Ident, rest: &[Ident], condition: bool) -> Ty {
        let Some((output_name, extra)) = rest.split_first() else {
            self.tasks[target].had_bad_reference = true;
            let outputs: Vec<String> = match self.tasks[target].callee.and_then(|(_, e)| e.signature()) {
                Some(sig) => sig.outputs.iter().map(|o| format!("`{}.{}`", head.text, o.name)).collect(),
                None => Vec::new(),
            };
            let help = if outputs.is_empty() {
                "pass one of its outputs, `task.output`; to only wait for the task, use `after = [task]`".to_string()
            } else {
                format!(
                    "pass one of its outputs: {}; to only wait for it, use `after = [{}]`",
                    outputs.join(", "),
                    head.text
                )
            };
            self.c.push(
                Diagnostic::new(Code::TaskUsedAsValue, head.span, format!("`{}` is a task, not a value", head.text))
                    .label("a task")
                    .help(help),
            );
            return Ty::Unknown;
        };
        if let Some(current) = self.current_task {
            if current == target {
                self.c.push(
                    Diagnostic::new(
                        Code::DependencyCycle,
                        head.span,
                        format!("task `{}` reads its own output", head.text),
                    )
                    .label("a task cannot use its own output")
                    .help("pass the value from another task or a parameter"),
                );
                return Ty::Unknown;
            }
            self.tasks[current].deps.push((target, head.span));
        } else {
            self.enclosing_deps.push((target, head.span));
        }
        let loops_left = self.check_task_visible(target, head, condition && self.tasks[target].scopes.is_empty());
        let Some((owner, export)) = self.tasks[target].callee else {
            self.tasks[target].outputs_read.insert(output_name.text.clone(), true);
            return Ty::Unknown;
        };
        let Some(sig) = export.signature() else {
            return Ty::Unknown;
        };
        let Some(output) = sig.output(&output_name.text) else {
            self.tasks[target].had_bad_reference = true;
            let callee = &self.tasks[target].stmt.call.callee.text;
            let help = help_did_you_mean(&output_name.text, sig.outputs.iter().map(|o| o.name.as_str()))
                .unwrap_or_else(|| {
                    if sig.outputs.is_empty() {
                        format!("`{callee}` has no outputs")
                    } else {
                        format!(
                            "`{callee}` outputs {}",
                            sig.outputs.iter().map(|o| format!("`{}`", o.name)).collect::<Vec<_>>().join(", ")
                        )
                    }
                });
            let mut d = Diagnostic::new(
                Code::UnknownOutput,
                output_name.span,
                format!("task `{}` has no output `{}`", head.text, output_name.text),
            )
            .label("unknown output")
            .help(help);
            if let Some(span) = self.c.item_name_span(owner, callee) {
                d = d.secondary(self.c.label_in(owner, span, format!("`{callee}` is declared here")));
            }
            self.c.push(d);
            return Ty::Unknown;
        };
        self.tasks[target].outputs_read.insert(output_name.text.clone(), true);
        let mut ty = self.c.output_ty(owner, output);
        for _ in 0..loops_left {
            ty = Ty::List(Box::new(ty));
        }
        for name in extra {
            ty = self.property_ty(&ty, name, &head.span);
        }
        ty
    }

    fn check_outputs(&mut self) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for stmt in &self.pipeline.body {
            let ast::StmtKind::Output(out) = &stmt.kind else {
                continue;
            };
            if let Some(first) = seen.get(out.name.text.as_str()) {
                self.c.push(declared_twice(
                    Code::DuplicatePipelineOutput,
                    out.name.span,
                    *first,
                    format!("output `{}` is declared twice", out.name.text),
                ));
                continue;
            }
            seen.insert(&out.name.text, out.name.span);
            self.current_task = None;
            let actual = self.expr_ty(&out.value, false);
            if let Some(ty) = &out.ty {
                let declared = self.c.resolve_type(ty);
                if !is_assignable(self.c.db, &actual, &declared) {
                    self.c.push(
                        Diagnostic::new(
                            Code::OutputTypeMismatch,
                            out.value.span,
                            format!("output `{}` is declared {declared}, but this is {actual}", out.name.text),
                        )
                        .label(format!("this is {actual}"))
                        .secondary(Label::new(ty.span, format!("declared {declared}")))
                        .help("change the declared type, or output another value"),
                    );
                }
            }
        }
        self.enclosing_deps.clear();
    }

    fn check_graph(&mut self) {
        use petgraph::graph::DiGraph;
        let mut graph: DiGraph<usize, Span> = DiGraph::with_capacity(self.tasks.len(), self.tasks.len());
        let nodes: Vec<_> = (0..self.tasks.len()).map(|i| graph.add_node(i)).collect();
        for (i, task) in self.tasks.iter().enumerate() {
            for &(dep, span) in &task.deps {
                if dep != i {
                    graph.add_edge(nodes[dep], nodes[i], span);
                }
            }
        }
        for component in petgraph::algo::tarjan_scc(&graph) {
            if component.len() < 2 {
                continue;
            }
            let mut members: Vec<usize> = component.iter().map(|n| graph[*n]).collect();
            members.sort_unstable();
            let names: Vec<String> = members.iter().map(|&i| format!("`{}`", self.tasks[i].name.text)).collect();
            let first = members[0];
            let mut d = Diagnostic::new(
                Code::DependencyCycle,
                self.tasks[first].name.span,
                format!("tasks depend on each other in a cycle: {}", names.join(" → ")),
            )
            .label("part of a cycle")
            .help("a pipeline is a graph without cycles; break the cycle by removing one of these references");
            for &i in &members[1..] {
                d = d.secondary(Label::new(self.tasks[i].name.span, "also in the cycle"));
            }
            self.c.push(d);
        }
        // Kubernetes names: longer names are cut to 63 characters; two cut names must differ.
        let mut by_k8s: HashMap<String, usize> = HashMap::new();
        for (i, task) in self.tasks.iter().enumerate() {
            let name = task.name.text.replace('_', "-");
            if name.len() <= 63 {
                by_k8s.entry(name).or_insert(i);
                continue;
            }
            let cut: String = name.chars().take(63).collect::<String>().trim_end_matches('-').to_string();
            match by_k8s.get(&cut) {
                Some(&other) if self.tasks[other].name.text != task.name.text => {
                    let other_span = self.tasks[other].name.span;
                    self.c.push(
                        Diagnostic::new(Code::K8sNameCollision, task.name.span, format!("tasks `{}` and `{}` both become the Kubernetes name `{cut}`", self.tasks[other].name.text, task.name.text))
                            .label("same Kubernetes name")
                            .secondary(Label::new(other_span, "the other task"))
                            .help("Kubernetes names are cut to 63 characters; make the first 63 characters of the names differ"),
                    );
                }
                _ => {
                    by_k8s.insert(cut, i);
                }
            }
        }
    }

    fn check_recursion(&mut self) {
        let me = (self.c.file, self.pipeline.name.text.clone());
        for task in &self.tasks {
            let Some((owner, Export::Pipeline(_))) = task.callee else {
                continue;
            };
            let start = (owner, task.stmt.call.callee.text.clone());
            if start == me {
                self.c.push(
                    Diagnostic::new(
                        Code::RecursivePipeline,
                        task.stmt.call.callee.span,
                        format!("pipeline `{}` calls itself", me.1),
                    )
                    .label("recursive call")
                    .help("a pipeline is a finite graph; use a `for` loop to repeat work"),
                );
                continue;
            }
            // Walk the pipelines the callee calls, looking for this one.
            let mut stack = vec![start.clone()];
            let mut seen = HashSet::new();
            let mut found = false;
            while let Some((file, name)) = stack.pop() {
                if !seen.insert((file, name.clone())) {
                    continue;
                }
                let Some(Export::Pipeline(_)) = file_exports(self.c.db, file).items.get(&name) else {
                    continue;
                };
                for callee in pipeline_callees(self.c.db, file, &name) {
                    if let Found::One(next_file, Export::Pipeline(_)) = lookup(self.c.db, file, &callee) {
                        if (next_file, callee.clone()) == me {
                            found = true;
                        }
                        stack.push((next_file, callee));
                    }
                }
            }
            if found {
                self.c.push(
                    Diagnostic::new(
                        Code::RecursivePipeline,
                        task.stmt.call.callee.span,
                        format!("pipeline `{}` calls `{}`, which calls `{}` again", me.1, start.1, me.1),
                    )
                    .label("recursive call")
                    .help("pipelines cannot call each other in a cycle"),
                );
            }
        }
    }

    fn check_unused(&mut self) {
        for (param, _, used) in &self.params {
            if !used {
                self.c.push(
                    Diagnostic::new(
                        Code::UnusedParameter,
                        param.name.span,
                        format!("parameter `{}` is never used", param.name.text),
                    )
                    .label("unused")
                    .help("pass it to a task, or remove it"),
                );
            }
        }
        let pipeline_outputs: HashSet<&str> = self
            .pipeline
            .body
            .iter()
            .filter_map(|s| match &s.kind {
                ast::StmtKind::Output(o) => o.value.as_path().map(|p| p[0].text.as_str()),
                _ => None,
            })
            .collect();
        let mut warnings = Vec::new();
        for task in &self.tasks {
            let Some((owner, export)) = task.callee else {
                continue;
            };
            let Some(sig) = export.signature() else {
                continue;
            };
            if task.had_bad_reference {
                continue;
            }
            let outputs: Vec<(&str, Ty)> =
                sig.outputs.iter().map(|o| (o.name.as_str(), self.c.output_ty(owner, o))).collect();
            let any_read = task.outputs_read.values().any(|r| *r)
                || task.named_in_after
                || pipeline_outputs.contains(task.name.text.as_str());
            let unread: Vec<&str> = outputs
                .iter()
                .filter(|(n, ty)| !ty.is_display_artifact() && !task.outputs_read.contains_key(*n))
                .map(|(n, _)| *n)
                .collect();
            if unread.is_empty() {
                continue;
            }
            if !any_read {
                warnings.push(
                    Diagnostic::new(
                        Code::UnusedTask,
                        task.name.span,
                        format!("the results of task `{}` are never used", task.name.text),
                    )
                    .label("nothing reads its outputs")
                    .help(format!(
                        "pass `{}.{}` to another task, expose it with `output … = {}.{}`, or remove the task",
                        task.name.text, unread[0], task.name.text, unread[0]
                    )),
                );
            } else {
                for name in unread {
                    warnings.push(
                        Diagnostic::new(Code::UnusedOutput, task.name.span, format!("output `{name}` of task `{}` is never read", task.name.text))
                            .label(format!("`{}.{name}` is unused", task.name.text))
                            .help(format!("pass `{}.{name}` on, expose it with `output {name} = {}.{name}`, or drop the output from the component", task.name.text, task.name.text)),
                    );
                }
            }
        }
        for w in warnings {
            self.c.push(w);
        }
    }
}

/// The names a pipeline calls, read from its file's tree.
fn pipeline_callees(db: &dyn Db, file: SourceFile, name: &str) -> Vec<String> {
    let parse = parse(db, file);
    let mut out = Vec::new();
    for item in &parse.file.items {
        if let ast::Item::Pipeline(p) = item {
            if p.name.text == name {
                collect_callees(&p.body, &mut out);
                break;
            }
        }
    }
    out
}

fn collect_callees(stmts: &[ast::Stmt], out: &mut Vec<String>) {
    for stmt in stmts {
        match &stmt.kind {
            ast::StmtKind::Task(t) => out.push(t.call.callee.text.clone()),
            ast::StmtKind::If(i) => {
                collect_callees(&i.then.stmts, out);
                match &i.otherwise {
                    Some(ast::Else::If(next)) => collect_callees(
                        std::slice::from_ref(&ast::Stmt {
                            doc: Default::default(),
                            kind: ast::StmtKind::If((**next).clone()),
                            span: next.span,
                        }),
                        out,
                    ),
                    Some(ast::Else::Block(b)) => collect_callees(&b.stmts, out),
                    None => {}
                }
            }
            ast::StmtKind::For(f) => collect_callees(&f.body.stmts, out),
            ast::StmtKind::Finally(b) => collect_callees(&b.stmts, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn mentions_whole_words_only() {
        assert!(mentions("x = raw_data.path", "raw_data"));
        assert!(!mentions("x = raw_data2", "raw_data"));
        assert!(mentions("echo \"$epochs\"", "epochs"));
        assert!(!mentions("my_rows = 1", "rows"));
    }
}
