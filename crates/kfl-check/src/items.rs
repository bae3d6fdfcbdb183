//! What a file declares and what it imports: the only facts other files read about it.
//!
//! [`file_exports`] and [`imported_files`] hold names, signatures and files but no spans, so editing
//! a file in a way that leaves its signatures alone changes neither and other files are not checked
//! again (salsa's early cut-off).

use std::collections::BTreeMap;
use std::sync::Arc;

use kfl_syntax::ast;

use crate::types::{resolve_artifact_name, Ty};
use crate::{parse as parse_full, parse_outline, resolve_import_path, Db, SourceFile};

/// A type as written, to be resolved in the file that wrote it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TypeRef {
    pub name: String,
    pub args: Vec<TypeRef>,
}

impl TypeRef {
    pub fn from_ast(ty: &ast::TypeExpr) -> TypeRef {
        TypeRef { name: ty.name.text.clone(), args: ty.args.iter().map(TypeRef::from_ast).collect() }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InputSig {
    pub name: String,
    pub ty: TypeRef,
    pub has_default: bool,
}

/// How a component's or pipeline's output gets its type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OutputTy {
    Declared(TypeRef),
    /// A pipeline output `output x = task.out`: the type of that task's output, a `List` of it when
    /// the task runs in a loop.
    FromTask {
        callee: String,
        output: String,
        fan_in: bool,
    },
    Unknown,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutputSigE {
    pub name: String,
    pub ty: OutputTy,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Signature {
    pub inputs: Vec<InputSig>,
    pub outputs: Vec<OutputSigE>,
}

impl Signature {
    pub fn input(&self, name: &str) -> Option<&InputSig> {
        self.inputs.iter().find(|i| i.name == name)
    }
    pub fn output(&self, name: &str) -> Option<&OutputSigE> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Export {
    Component(Signature),
    Pipeline(Signature),
    Artifact { base: Option<String> },
}

impl Export {
    pub fn signature(&self) -> Option<&Signature> {
        match self {
            Export::Component(s) | Export::Pipeline(s) => Some(s),
            Export::Artifact { .. } => None,
        }
    }
    pub fn kind_name(&self) -> &'static str {
        match self {
            Export::Component(_) => "a component",
            Export::Pipeline(_) => "a pipeline",
            Export::Artifact { .. } => "an artifact type",
        }
    }
}

/// The items a file declares, by name. Where a name is declared twice the first declaration counts
/// (the second is E0105).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Exports {
    pub items: BTreeMap<String, Export>,
    /// Names of items with syntax errors (not in `items`).
    pub broken: std::collections::BTreeSet<String>,
}

#[salsa::tracked(returns(ref))]
pub fn file_exports(db: &dyn Db, file: SourceFile) -> Exports {
    let outline = parse_outline(db, file);
    let parse = &outline.parse;
    let mut items = BTreeMap::new();
    for (index, item) in parse.file.items.iter().enumerate() {
        let (name, export) = match item {
            ast::Item::Import(_) => continue,
            ast::Item::Artifact(a) => (&a.name, Export::Artifact { base: a.base.as_ref().map(|b| b.text.clone()) }),
            ast::Item::Component(c) => (&c.name, Export::Component(component_signature(c))),
            ast::Item::Pipeline(p) => {
                // A pipeline in pieces: its outputs are read from what its body declares.
                let in_pieces = outline.pipelines.iter().any(|pieces| pieces.item == index as u32);
                let key = crate::check::PipelineKey::new(db, file, index as u32);
                let signature = match crate::check::pipeline_body(db, key) {
                    Some(body) if in_pieces => pipeline_signature_from_body(p, body),
                    _ => match parse_full(db, file).file.items.get(index) {
                        Some(ast::Item::Pipeline(whole)) => pipeline_signature(whole),
                        _ => Signature::default(),
                    },
                };
                (&p.name, Export::Pipeline(signature))
            }
        };
        items.entry(name.text.clone()).or_insert(export);
    }
    let broken = parse.broken_items.iter().filter(|n| !items.contains_key(*n)).cloned().collect();
    Exports { items, broken }
}

fn component_signature(component: &ast::Component) -> Signature {
    let mut sig = Signature::default();
    for member in &component.members {
        match &member.kind {
            ast::MemberKind::Input(p) if sig.input(&p.name.text).is_none() => sig.inputs.push(InputSig {
                name: p.name.text.clone(),
                ty: TypeRef::from_ast(&p.ty),
                has_default: p.default.is_some(),
            }),
            ast::MemberKind::Output(o) if sig.output(&o.name.text).is_none() => sig
                .outputs
                .push(OutputSigE { name: o.name.text.clone(), ty: OutputTy::Declared(TypeRef::from_ast(&o.ty)) }),
            _ => {}
        }
    }
    sig
}

/// A pipeline's inputs: its parameters, each name once.
fn pipeline_inputs(pipeline: &ast::Pipeline) -> Signature {
    let mut sig = Signature::default();
    for p in &pipeline.params {
        if sig.input(&p.name.text).is_none() {
            sig.inputs.push(InputSig {
                name: p.name.text.clone(),
                ty: TypeRef::from_ast(&p.ty),
                has_default: p.default.is_some(),
            });
        }
    }
    sig
}

fn pipeline_signature(pipeline: &ast::Pipeline) -> Signature {
    let mut sig = pipeline_inputs(pipeline);
    for stmt in &pipeline.body {
        let ast::StmtKind::Output(out) = &stmt.kind else {
            continue;
        };
        if sig.output(&out.name.text).is_some() {
            continue;
        }
        let ty = match (&out.ty, out.value.as_path()) {
            (Some(ty), _) => OutputTy::Declared(TypeRef::from_ast(ty)),
            (None, Some([task, output])) => match find_task_callee(&pipeline.body, &task.text, false) {
                Some((callee, fan_in)) => {
                    OutputTy::FromTask { callee: callee.to_string(), output: output.text.clone(), fan_in }
                }
                None => OutputTy::Unknown,
            },
            (None, Some([param])) => match pipeline.params.iter().find(|p| p.name.text == param.text) {
                Some(p) => OutputTy::Declared(TypeRef::from_ast(&p.ty)),
                None => OutputTy::Unknown,
            },
            _ => OutputTy::Unknown,
        };
        sig.outputs.push(OutputSigE { name: out.name.text.clone(), ty });
    }
    sig
}

/// [`pipeline_signature`] of a pipeline checked in pieces, from what its body declares.
fn pipeline_signature_from_body(pipeline: &ast::Pipeline, body: &crate::check::BodyScope) -> Signature {
    let mut sig = pipeline_inputs(pipeline);
    for out in &body.outputs {
        if sig.output(&out.name).is_some() {
            continue;
        }
        let ty = match (&out.ty, out.path.as_deref()) {
            (Some(ty), _) => OutputTy::Declared(ty.clone()),
            (None, Some([task, output])) => match body.first_task(task) {
                Some(t) => OutputTy::FromTask {
                    callee: t.callee.to_string(),
                    output: output.clone(),
                    fan_in: t.scopes.iter().any(|s| matches!(s, crate::check::ScopeId::Loop(_))),
                },
                None => OutputTy::Unknown,
            },
            (None, Some([param])) => match pipeline.params.iter().find(|p| p.name.text == *param) {
                Some(p) => OutputTy::Declared(TypeRef::from_ast(&p.ty)),
                None => OutputTy::Unknown,
            },
            _ => OutputTy::Unknown,
        };
        sig.outputs.push(OutputSigE { name: out.name.clone(), ty });
    }
    sig
}

/// What the first task bound to `name` calls, and whether it runs in a loop (only the pipeline's
/// outputs without a declared type ask, so a long pipeline is not indexed for them).
fn find_task_callee<'a>(stmts: &'a [ast::Stmt], name: &str, in_loop: bool) -> Option<(&'a str, bool)> {
    stmts.iter().find_map(|stmt| match &stmt.kind {
        ast::StmtKind::Task(t) => {
            let bound = t.binding.as_ref().unwrap_or(&t.call.callee);
            (bound.text == name).then_some((t.call.callee.text.as_str(), in_loop))
        }
        ast::StmtKind::If(i) => i.blocks().into_iter().find_map(|block| find_task_callee(&block.stmts, name, in_loop)),
        ast::StmtKind::For(f) => find_task_callee(&f.body.stmts, name, true),
        ast::StmtKind::Finally(b) => find_task_callee(&b.stmts, name, in_loop),
        ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => None,
    })
}

/// One `import` of a file, resolved against the project.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ImportRef {
    pub span: kfl_diagnostics::Span,
    pub path: Arc<str>,
    pub file: Option<SourceFile>,
}

/// The imports of a file with their spans (for the file's own diagnostics).
#[salsa::tracked(returns(ref))]
pub fn file_imports(db: &dyn Db, file: SourceFile) -> Vec<ImportRef> {
    let files = db.project().files(db);
    parse_outline(db, file)
        .parse
        .file
        .items
        .iter()
        .filter_map(|item| match item {
            ast::Item::Import(import) => {
                let path = resolve_import_path(file.path(db), &import.target.relative_path());
                let target = files.get(&path).copied();
                Some(ImportRef { span: import.target.span(), path, file: target })
            }
            _ => None,
        })
        .collect()
}

/// The files a file imports that exist, without spans: what name lookups from other files read.
#[salsa::tracked(returns(ref))]
pub fn imported_files(db: &dyn Db, file: SourceFile) -> Vec<SourceFile> {
    let mut out: Vec<SourceFile> = Vec::new();
    for import in file_imports(db, file) {
        if let Some(target) = import.file {
            if target != file && !out.contains(&target) {
                out.push(target);
            }
        }
    }
    out
}

/// What a name means in a file.
pub enum Found<'db> {
    None,
    One(SourceFile, &'db Export),
    /// Declared in several imported files (and not in the file itself).
    Ambiguous(Vec<SourceFile>),
}

/// Looks a name up in a file: its own items first, then the items of the files it imports.
pub fn lookup<'db>(db: &'db dyn Db, file: SourceFile, name: &str) -> Found<'db> {
    match looked_up(db, LookupKey::new(db, file, name)) {
        Looked::None => Found::None,
        Looked::One(owner, export) => Found::One(*owner, export),
        Looked::Ambiguous(owners) => Found::Ambiguous(owners.clone()),
    }
}

/// A name looked up in a file (see [`lookup`]).
#[salsa::interned(debug)]
struct LookupKey<'db> {
    #[returns(copy)]
    file: SourceFile,
    #[returns(ref)]
    name: String,
}

/// What [`lookup`] finds.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Looked {
    None,
    One(SourceFile, Export),
    Ambiguous(Vec<SourceFile>),
}

/// [`lookup`], memoized by name: it is equal after an edit unless what that name means changed,
/// so the checks that looked a component up are not run again when another item of the file (a
/// pipeline's outputs, another component's inputs) changes.
#[salsa::tracked(returns(ref))]
fn looked_up<'db>(db: &'db dyn Db, key: LookupKey<'db>) -> Looked {
    let (file, name) = (key.file(db), key.name(db));
    if let Some(export) = file_exports(db, file).items.get(name) {
        return Looked::One(file, export.clone());
    }
    let mut found: Option<(SourceFile, &Export)> = None;
    let mut all = Vec::new();
    for &import in imported_files(db, file) {
        if let Some(export) = file_exports(db, import).items.get(name) {
            found.get_or_insert((import, export));
            all.push(import);
        }
    }
    match (found, all.len()) {
        (Some((f, e)), 1) => Looked::One(f, e.clone()),
        (Some(_), _) => Looked::Ambiguous(all),
        (None, _) => Looked::None,
    }
}

/// Whether `name` is an item with a syntax error in this file or a file it imports.
pub fn is_broken_item(db: &dyn Db, file: SourceFile, name: &str) -> bool {
    file_exports(db, file).broken.contains(name)
        || imported_files(db, file).iter().any(|&f| file_exports(db, f).broken.contains(name))
}

/// Every name visible in a file, for "did you mean" and completion: own items and imported ones.
pub fn visible_names(db: &dyn Db, file: SourceFile) -> Vec<(&str, &Export)> {
    let mut out: Vec<(&str, &Export)> = file_exports(db, file).items.iter().map(|(n, e)| (n.as_str(), e)).collect();
    for &import in imported_files(db, file) {
        out.extend(file_exports(db, import).items.iter().map(|(n, e)| (n.as_str(), e)));
    }
    out
}

/// Why a type could not be resolved.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TypeError {
    Unknown(String),
    Arity { name: String, expected: usize, found: usize },
    NotAType { name: String, kind: &'static str },
}

/// Resolves a written type in the file that wrote it.
pub fn resolve_type(db: &dyn Db, file: SourceFile, ty: &TypeRef) -> Result<Ty, TypeError> {
    let arity = |expected: usize| {
        if ty.args.len() == expected {
            Ok(())
        } else {
            Err(TypeError::Arity { name: ty.name.clone(), expected, found: ty.args.len() })
        }
    };
    match ty.name.as_str() {
        "String" => arity(0).map(|_| Ty::String),
        "Int" => arity(0).map(|_| Ty::Int),
        "Float" => arity(0).map(|_| Ty::Float),
        "Bool" => arity(0).map(|_| Ty::Bool),
        "List" => {
            arity(1)?;
            Ok(Ty::List(Box::new(resolve_type(db, file, &ty.args[0])?)))
        }
        "Map" => {
            arity(1)?;
            Ok(Ty::Map(Box::new(resolve_type(db, file, &ty.args[0])?)))
        }
        name => match resolve_artifact_name(db, file, name) {
            Some(artifact) => arity(0).map(|_| Ty::Artifact(artifact)),
            None => match lookup(db, file, name) {
                Found::One(_, export) => Err(TypeError::NotAType { name: name.to_string(), kind: export.kind_name() }),
                _ => Err(TypeError::Unknown(name.to_string())),
            },
        },
    }
}

/// The resolved type of an input of a component or pipeline declared in `owner`.
pub fn input_ty(db: &dyn Db, owner: SourceFile, input: &InputSig) -> Ty {
    resolve_type(db, owner, &input.ty).unwrap_or(Ty::Unknown)
}

/// The resolved type of an output of a component or pipeline declared in `owner`.
pub fn output_ty(db: &dyn Db, owner: SourceFile, output: &OutputSigE) -> Ty {
    output_ty_depth(db, owner, output, 0)
}

fn output_ty_depth(db: &dyn Db, owner: SourceFile, output: &OutputSigE, depth: usize) -> Ty {
    match &output.ty {
        OutputTy::Declared(ty) => resolve_type(db, owner, ty).unwrap_or(Ty::Unknown),
        OutputTy::Unknown => Ty::Unknown,
        // Pipelines that call each other in a cycle are E0305; the bound keeps this finite.
        OutputTy::FromTask { .. } if depth > 16 => Ty::Unknown,
        OutputTy::FromTask { callee, output: name, fan_in } => {
            let Found::One(callee_file, export) = lookup(db, owner, callee) else {
                return Ty::Unknown;
            };
            let Some(out) = export.signature().and_then(|s| s.output(name)) else {
                return Ty::Unknown;
            };
            let ty = output_ty_depth(db, callee_file, out, depth + 1);
            if *fan_in {
                Ty::List(Box::new(ty))
            } else {
                ty
            }
        }
    }
}

/// The span of each item's name in a file (the first item of each name), for labels that point at
/// a declaration. Kept apart from the tree, so that a check which labels an item of its own file
/// depends only on where the items' names are, not on the rest of the text.
#[salsa::tracked(returns(ref))]
pub fn item_name_spans(db: &dyn Db, file: SourceFile) -> BTreeMap<String, kfl_diagnostics::Span> {
    let mut spans = BTreeMap::new();
    for item in &parse_outline(db, file).parse.file.items {
        if let Some(name) = item.name() {
            spans.entry(name.text.clone()).or_insert(name.span);
        }
    }
    spans
}

/// The `resources` entries of each component of a file, by the component's name (the entries of
/// every component of that name, in order), which a task's `resources` block overrides.
#[salsa::tracked(returns(ref))]
pub fn component_resources(db: &dyn Db, file: SourceFile) -> BTreeMap<String, Vec<ast::KvEntry>> {
    let mut out: BTreeMap<String, Vec<ast::KvEntry>> = BTreeMap::new();
    for item in &parse_outline(db, file).parse.file.items {
        let ast::Item::Component(c) = item else { continue };
        let entries = out.entry(c.name.text.clone()).or_default();
        for member in &c.members {
            if let ast::MemberKind::Block(b) = &member.kind {
                if b.name.text == "resources" {
                    entries.extend(b.entries.iter().cloned());
                }
            }
        }
    }
    out
}
