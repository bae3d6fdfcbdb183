//! The semantic model of a file (see `kfl-model`): its components and pipelines with types
//! resolved, names bound, literals, quantities and settings evaluated, and an origin on each.
//!
//! [`file_model`] is a salsa query per file; [`program`] gathers the pipeline to build and all it
//! runs. Whatever the model says is what every backend emits; a setting the checker accepted is
//! here as a [`Setting`] of a row of the field table, or the checker reported it.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use kfl_diagnostics::{Diagnostic, Span};
use kfl_model::fields::{self, FieldKind};
use kfl_model::item::{
    Arg, Body, Branch, Callee, CommandPart, CompareOp, Component, Expr, ExprKind, Finally, If, ItemId, Loop,
    OutputDecl, Param, Pipeline, PipelineOutput, Program, ProgramError, ScriptLang, Stmt, Task,
};
use kfl_model::settings::{EnvValue, Setting, SettingValue, Toleration};
use kfl_model::value::Value;
use kfl_model::Origin;
use kfl_syntax::ast::{self, ExprKind as AstExpr};

use crate::items::{self, lookup, Export, Found};
use crate::types::Ty;
use crate::{parse, units, Db, SourceFile};

/// The components and pipelines one file declares, in source order.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct FileModel {
    pub components: Vec<Arc<Component>>,
    pub pipelines: Vec<Arc<Pipeline>>,
}

/// The model of one file. Items with syntax errors are left out; everything else is there even if
/// the checker found errors in it (what could not be resolved is `Unknown` or left out).
#[salsa::tracked(returns(ref))]
pub fn file_model(db: &dyn Db, file: SourceFile) -> Arc<FileModel> {
    let parse = parse(db, file);
    let path = file.path(db).clone();
    let mut model = FileModel::default();
    for item in &parse.file.items {
        match item {
            ast::Item::Component(c) => model.components.push(Arc::new(component(db, file, &path, c))),
            ast::Item::Pipeline(p) => model.pipelines.push(Arc::new(pipeline(db, file, &path, p))),
            _ => {}
        }
    }
    Arc::new(model)
}

/// Every error diagnostic of a file and of the files it imports, transitively.
pub fn errors_in_project(db: &dyn Db, file: SourceFile) -> Vec<(String, Diagnostic)> {
    let mut seen = rustc_hash::FxHashSet::default();
    let mut stack = vec![file];
    let mut errors = Vec::new();
    while let Some(f) = stack.pop() {
        if !seen.insert(f) {
            continue;
        }
        for d in crate::check_file(db, f).iter().filter(|d| d.is_error()) {
            errors.push((f.path(db).to_string(), d.clone()));
        }
        stack.extend(items::imported_files(db, f).iter().copied());
    }
    errors
}

/// The pipeline `name` of `file` (or its only pipeline) and everything it runs. Refuses a file that
/// has errors, or imports one that does.
pub fn program(db: &dyn Db, file: SourceFile, name: Option<&str>) -> Result<Program, ProgramError> {
    let errors = errors_in_project(db, file);
    if !errors.is_empty() {
        return Err(ProgramError::HasErrors(errors));
    }
    let model = file_model(db, file);
    let available: Vec<String> = model.pipelines.iter().map(|p| p.id.name.clone()).collect();
    let root = match name {
        Some(name) => model
            .pipelines
            .iter()
            .find(|p| p.id.name == name)
            .ok_or_else(|| ProgramError::NoSuchPipeline { name: name.to_string(), available: available.clone() })?,
        None => match model.pipelines.as_slice() {
            [] => return Err(ProgramError::NoPipeline { path: file.path(db).to_string() }),
            [one] => one,
            _ => return Err(ProgramError::SeveralPipelines { available }),
        },
    };
    let mut program = Program { root: root.id.clone(), components: BTreeMap::new(), pipelines: BTreeMap::new() };
    let mut stack = vec![root.clone()];
    while let Some(pipeline) = stack.pop() {
        if program.pipelines.contains_key(&pipeline.id) {
            continue;
        }
        for task in pipeline.tasks() {
            match &task.callee {
                Callee::Component(id) if !program.components.contains_key(id) => {
                    let found = item_model(db, id, |m| &m.components, |c| &c.id)?;
                    program.components.insert(id.clone(), found);
                }
                Callee::Pipeline(id) if !program.pipelines.contains_key(id) => {
                    stack.push(item_model(db, id, |m| &m.pipelines, |p| &p.id)?);
                }
                _ => {}
            }
        }
        program.pipelines.insert(pipeline.id.clone(), pipeline);
    }
    Ok(program)
}

fn item_model<T>(
    db: &dyn Db,
    id: &ItemId,
    list: impl Fn(&FileModel) -> &Vec<Arc<T>>,
    id_of: impl Fn(&T) -> &ItemId,
) -> Result<Arc<T>, ProgramError> {
    let file = db
        .project()
        .files(db)
        .get(&id.file)
        .copied()
        .ok_or_else(|| ProgramError::Internal(format!("the file {} vanished", id.file)))?;
    list(file_model(db, file))
        .iter()
        .find(|item| id_of(item) == id)
        .cloned()
        .ok_or_else(|| ProgramError::Internal(format!("`{}` vanished from {}", id.name, id.file)))
}

// -------------------------------------------------------------------------------------------------
// Types and values

fn resolve(db: &dyn Db, file: SourceFile, ty: &ast::TypeExpr) -> Ty {
    items::resolve_type(db, file, &items::TypeRef::from_ast(ty)).unwrap_or(Ty::Unknown)
}

fn strip(expr: &ast::Expr) -> &ast::Expr {
    match &expr.kind {
        AstExpr::Paren(inner) => strip(inner),
        _ => expr,
    }
}

/// The value of a literal expression; `None` for anything that is not a literal.
pub fn literal(expr: &ast::Expr) -> Option<Value> {
    Some(match &strip(expr).kind {
        AstExpr::Str(s) => Value::String(s.value.clone()),
        AstExpr::Bool(b) => Value::Bool(*b),
        AstExpr::Number(n) if n.is_integer() => Value::Int(n.value.parse().ok()?),
        AstExpr::Number(n) => Value::Float(n.value.parse().ok()?),
        AstExpr::List(items) => Value::List(items.iter().map(literal).collect::<Option<_>>()?),
        AstExpr::Map(entries) => Value::Map(
            entries.iter().map(|e| Some((e.key.text().to_string(), literal(&e.value)?))).collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

// -------------------------------------------------------------------------------------------------
// Components

fn component(db: &dyn Db, file: SourceFile, path: &Arc<str>, ast: &ast::Component) -> Component {
    let origin = |span: Span| Origin::new(path.clone(), span);
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut image = None;
    let mut packages = Vec::new();
    let mut script = None;
    let mut command = Vec::new();
    let mut args = Vec::new();
    let mut settings = Vec::new();
    for member in &ast.members {
        match &member.kind {
            ast::MemberKind::Input(p) => inputs.push(Param {
                name: p.name.text.clone(),
                ty: resolve(db, file, &p.ty),
                default: p.default.as_ref().and_then(literal),
                doc: member.doc.text(),
                origin: origin(p.span),
                name_span: p.name.span,
            }),
            ast::MemberKind::Output(o) => outputs.push(OutputDecl {
                name: o.name.text.clone(),
                ty: resolve(db, file, &o.ty),
                doc: member.doc.text(),
                origin: origin(o.span),
                name_span: o.name.span,
            }),
            ast::MemberKind::Script(s) => {
                let lang = match s.lang {
                    ast::ScriptLang::Python => ScriptLang::Python,
                    ast::ScriptLang::Sh => ScriptLang::Sh,
                };
                script = Some((lang, s.source.value.clone()));
            }
            ast::MemberKind::Field(f) => match f.name.text.as_str() {
                "image" => image = literal(&f.value).map(|v| v.to_plain_string()),
                "packages" => {
                    if let Some(Value::List(items)) = literal(&f.value) {
                        packages = items.iter().map(Value::to_plain_string).collect();
                    }
                }
                "command" | "args" => {
                    let target = if f.name.text == "command" { &mut command } else { &mut args };
                    if let AstExpr::List(items) = &strip(&f.value).kind {
                        target.extend(items.iter().map(command_part));
                    }
                }
                _ => settings.extend(field_setting(path, f)),
            },
            ast::MemberKind::Block(b) => settings.extend(block_settings(path, b)),
        }
    }
    // A placeholder names an input or an output; which one decides what it becomes.
    let fix = |part: CommandPart| {
        let output = outputs.iter().find(|o: &&OutputDecl| match &part {
            CommandPart::InputPath(n) | CommandPart::InputUri(n) => &o.name == n,
            _ => false,
        });
        match (part, output) {
            (CommandPart::InputPath(n), Some(o)) if o.ty.is_artifact() => CommandPart::OutputPath(n),
            (CommandPart::InputPath(n), Some(_)) => CommandPart::OutputParameterPath(n),
            (CommandPart::InputUri(n), Some(_)) => CommandPart::OutputUri(n),
            (other, _) => other,
        }
    };
    let body = match script {
        Some((lang, source)) => Body::Script { lang, source },
        None => Body::Container {
            command: command.into_iter().map(fix).collect(),
            args: args.into_iter().map(fix).collect(),
        },
    };
    Component {
        id: ItemId { file: path.clone(), name: ast.name.text.clone() },
        doc: ast.doc.text(),
        inputs,
        outputs,
        image,
        packages,
        body,
        settings,
        origin: origin(ast.span),
        name_span: ast.name.span,
    }
}

fn command_part(expr: &ast::Expr) -> CommandPart {
    match strip(expr).as_path() {
        Some([name]) => CommandPart::InputValue(name.text.clone()),
        Some([name, prop]) if prop.text == "uri" => CommandPart::InputUri(name.text.clone()),
        Some([name, _]) => CommandPart::InputPath(name.text.clone()),
        _ => CommandPart::Literal(literal(expr).map(|v| v.to_plain_string()).unwrap_or_default()),
    }
}

// -------------------------------------------------------------------------------------------------
// Settings, read through the field table

/// The setting a field outside a block writes (`retries = 3`), if it is a setting with a valid value.
fn field_setting(path: &Arc<str>, field: &ast::Field) -> Option<Setting> {
    let spec = fields::field(&field.name.text)?;
    let value = setting_value(spec.kind, &field.value)?;
    Some(Setting { field: spec, key: None, value, origin: Origin::new(path.clone(), field.span) })
}

/// The settings the entries of a block write (`resources { cpu = 2 }`, `env { A = "1" }`).
fn block_settings(path: &Arc<str>, block: &ast::KvBlock) -> Vec<Setting> {
    let keyed = fields::field(&block.name.text).filter(|f| f.is_keyed_block());
    block
        .entries
        .iter()
        .filter_map(|entry| {
            let (spec, key) = match keyed {
                Some(spec) => (spec, Some(entry.key.text().to_string())),
                None => (fields::block_entry(&block.name.text, entry.key.text())?, None),
            };
            let value = setting_value(spec.kind, &entry.value)?;
            Some(Setting { field: spec, key, value, origin: Origin::new(path.clone(), entry.span) })
        })
        .collect()
}

fn setting_value(kind: FieldKind, expr: &ast::Expr) -> Option<SettingValue> {
    let number = || match &strip(expr).kind {
        AstExpr::Number(n) => Some(n),
        _ => None,
    };
    Some(match kind {
        FieldKind::Quantity(q) => {
            let n = number()?;
            let unit = n.unit.as_deref();
            match q {
                units::QuantityKind::Cpu => SettingValue::Cpu(units::parse_cpu(&n.value, unit).ok()?),
                units::QuantityKind::Memory => SettingValue::Memory(units::parse_memory(&n.value, unit).ok()?),
                units::QuantityKind::Gpu => SettingValue::Count(units::parse_gpu(&n.value, unit).ok()?),
                units::QuantityKind::Duration => SettingValue::Duration(units::parse_duration(&n.value, unit).ok()?),
            }
        }
        FieldKind::Retries => SettingValue::Count(number()?.value.parse().ok()?),
        FieldKind::Bool => match literal(expr)? {
            Value::Bool(b) => SettingValue::Bool(b),
            _ => return None,
        },
        FieldKind::Env => match &strip(expr).kind {
            AstExpr::Call(call) if call.callee.text == "secret" => {
                let get = |n: &str| {
                    call.args
                        .iter()
                        .find(|a| a.name.as_ref().is_some_and(|x| x.text == n))
                        .and_then(|a| literal(&a.value))
                        .map(|v| v.to_plain_string())
                        .unwrap_or_default()
                };
                SettingValue::Env(EnvValue::Secret { name: get("name"), key: get("key") })
            }
            _ => SettingValue::Env(EnvValue::Literal(literal(expr)?.to_plain_string())),
        },
        FieldKind::Tolerations => match literal(expr)? {
            Value::List(items) => SettingValue::Tolerations(items.iter().filter_map(toleration).collect()),
            _ => return None,
        },
        FieldKind::LabelValue | FieldKind::Labels | FieldKind::Annotations | FieldKind::Text => {
            SettingValue::Text(literal(expr)?.to_plain_string())
        }
        FieldKind::Image | FieldKind::Packages | FieldKind::Command | FieldKind::Tasks => return None,
    })
}

fn toleration(item: &Value) -> Option<Toleration> {
    let Value::Map(entries) = item else { return None };
    let get = |k: &str| entries.iter().find(|(n, _)| n == k).map(|(_, v)| v.to_plain_string());
    Some(Toleration {
        key: get("key"),
        operator: get("operator"),
        value: get("value"),
        effect: get("effect"),
        toleration_seconds: entries.iter().find_map(|(n, v)| match (n.as_str(), v) {
            ("toleration_seconds", Value::Int(i)) => Some(*i),
            _ => None,
        }),
    })
}

// -------------------------------------------------------------------------------------------------
// Pipelines

fn pipeline(db: &dyn Db, file: SourceFile, path: &Arc<str>, ast: &ast::Pipeline) -> Pipeline {
    let mut builder = Builder::new(db, file, path.clone(), ast, 0);
    let params: Vec<Param> = ast
        .params
        .iter()
        .zip(&builder.params)
        .map(|(p, (_, ty))| Param {
            name: p.name.text.clone(),
            ty: ty.clone(),
            default: p.default.as_ref().and_then(literal),
            doc: p.doc.text(),
            origin: Origin::new(path.clone(), p.span),
            name_span: p.name.span,
        })
        .collect();
    let text_field = |name: &str| {
        ast.body.iter().find_map(|s| match &s.kind {
            ast::StmtKind::Field(f) if f.name.text == name => match &f.value.kind {
                AstExpr::Str(s) => Some(s.value.clone()),
                _ => None,
            },
            _ => None,
        })
    };
    let outputs = ast
        .body
        .iter()
        .filter_map(|s| match &s.kind {
            ast::StmtKind::Output(o) => Some({
                let declared = o.ty.as_ref().map(|t| resolve(db, file, t));
                let value = builder.expr(&o.value);
                PipelineOutput {
                    name: o.name.text.clone(),
                    ty: declared.clone().unwrap_or_else(|| value.ty.clone()),
                    declared,
                    value,
                    origin: Origin::new(path.clone(), s.span),
                    name_span: o.name.span,
                    doc: s.doc.text(),
                }
            }),
            _ => None,
        })
        .collect();
    Pipeline {
        id: ItemId { file: path.clone(), name: ast.name.text.clone() },
        doc: ast.doc.text(),
        description: text_field("description"),
        display_name: text_field("display_name"),
        params,
        body: builder.stmts(&ast.body),
        outputs,
        origin: Origin::new(path.clone(), ast.span),
        name_span: ast.name.span,
    }
}

/// Calls of pipelines through pipelines are followed this deep to type their outputs (the checker
/// reports pipelines that call each other in a cycle).
const MAX_CALL_DEPTH: usize = 16;

/// Output types by the file and name of a callee, then the output's name.
type OutputTypes = HashMap<SourceFile, HashMap<String, HashMap<String, Ty>>>;

struct Builder<'db> {
    db: &'db dyn Db,
    file: SourceFile,
    path: Arc<str>,
    /// The pipeline's parameters and their types.
    params: Vec<(String, Ty)>,
    /// Variables of the loops around the statement being built, innermost last, with the spans that
    /// declare them and the type of their items.
    loops: Vec<(String, Span, Ty)>,
    /// Every task of the pipeline by name: what it calls (a component or a pipeline, and the file
    /// that declares it) and the declaring spans of the loops around it, outermost first.
    tasks: HashMap<String, (SourceFile, String, Vec<Span>)>,
    /// How many calls of pipelines deep this builder types (see [`MAX_CALL_DEPTH`]).
    depth: usize,
    /// The output types found so far, by the file and name of what a task calls and the output:
    /// a called pipeline's output is typed once however often it is read.
    element_types: std::cell::RefCell<OutputTypes>,
}

impl<'db> Builder<'db> {
    fn new(db: &'db dyn Db, file: SourceFile, path: Arc<str>, ast: &ast::Pipeline, depth: usize) -> Builder<'db> {
        fn gather(
            db: &dyn Db,
            file: SourceFile,
            stmts: &[ast::Stmt],
            around: &mut Vec<Span>,
            out: &mut HashMap<String, (SourceFile, String, Vec<Span>)>,
        ) {
            for stmt in stmts {
                match &stmt.kind {
                    ast::StmtKind::Task(t) => {
                        if let Found::One(owner, Export::Component(_) | Export::Pipeline(_)) =
                            lookup(db, file, &t.call.callee.text)
                        {
                            let name = t.binding.as_ref().unwrap_or(&t.call.callee).text.clone();
                            out.entry(name).or_insert((owner, t.call.callee.text.clone(), around.clone()));
                        }
                    }
                    ast::StmtKind::If(i) => {
                        for block in i.blocks() {
                            gather(db, file, &block.stmts, around, out);
                        }
                    }
                    ast::StmtKind::For(f) => {
                        around.push(f.var.span);
                        gather(db, file, &f.body.stmts, around, out);
                        around.pop();
                    }
                    ast::StmtKind::Finally(block) => gather(db, file, &block.stmts, around, out),
                    ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => {}
                }
            }
        }
        let mut tasks = HashMap::default();
        gather(db, file, &ast.body, &mut Vec::new(), &mut tasks);
        let params = ast.params.iter().map(|p| (p.name.text.clone(), resolve(db, file, &p.ty))).collect();
        Builder { db, file, path, params, loops: Vec::new(), tasks, depth, element_types: Default::default() }
    }

    /// The type of output `output` of task `task`, read here: the callee's output type, a list of it
    /// per loop around the task that is not around the reader.
    fn output_ty(&self, task: &str, output: &str) -> Ty {
        let Some((owner, callee, around)) = self.tasks.get(task) else { return Ty::Unknown };
        // The type depends on what the task calls, not on the task: a long pipeline calls the
        // same few components again and again.
        let cached = self
            .element_types
            .borrow()
            .get(owner)
            .and_then(|by_callee| by_callee.get(callee.as_str()))
            .and_then(|by_output| by_output.get(output))
            .cloned();
        let element = match cached {
            Some(ty) => ty,
            None => {
                let ty = self.element_ty(task, output);
                let mut types = self.element_types.borrow_mut();
                let by_callee = types.entry(*owner).or_default();
                by_callee.entry(callee.clone()).or_default().insert(output.to_string(), ty.clone());
                ty
            }
        };
        if around.is_empty() {
            return element;
        }
        around
            .iter()
            .filter(|decl| !self.loops.iter().any(|(_, span, _)| span == *decl))
            .fold(element, |ty, _| ty.list_of())
    }

    /// The type the callee of `task` declares (or, for a pipeline, gives) its output `output`.
    fn element_ty(&self, task: &str, output: &str) -> Ty {
        let Some((owner, callee, _)) = self.tasks.get(task) else { return Ty::Unknown };
        match lookup(self.db, *owner, callee) {
            Found::One(_, Export::Component(sig)) => match sig.output(output) {
                Some(out) => items::output_ty(self.db, *owner, out),
                None => Ty::Unknown,
            },
            Found::One(_, Export::Pipeline(_)) if self.depth < MAX_CALL_DEPTH => {
                let parse = parse(self.db, *owner);
                let called = parse.file.items.iter().find_map(|item| match item {
                    ast::Item::Pipeline(p) if p.name.text == *callee => Some(p),
                    _ => None,
                });
                match called {
                    Some(p) => {
                        let value = p.body.iter().find_map(|s| match &s.kind {
                            ast::StmtKind::Output(o) if o.name.text == output => Some(o),
                            _ => None,
                        });
                        match value {
                            Some(o) => match &o.ty {
                                Some(t) => resolve(self.db, *owner, t),
                                None => {
                                    Builder::new(self.db, *owner, owner.path(self.db).clone(), p, self.depth + 1)
                                        .expr(&o.value)
                                        .ty
                                }
                            },
                            None => Ty::Unknown,
                        }
                    }
                    None => Ty::Unknown,
                }
            }
            _ => Ty::Unknown,
        }
    }

    /// The type of the item of the innermost loop over `var`, or of its field.
    fn loop_var_ty(&self, var: &str, field: Option<&str>) -> Ty {
        let Some((_, _, item)) = self.loops.iter().rev().find(|(v, _, _)| v == var) else { return Ty::Unknown };
        match (field, item) {
            (Some(f), Ty::Struct(fields)) => {
                fields.iter().find(|(n, _)| n == f).map_or(Ty::Unknown, |(_, t)| t.clone())
            }
            (Some(_), Ty::Map(inner)) => (**inner).clone(),
            (Some(_), _) => Ty::Unknown,
            (None, ty) => ty.clone(),
        }
    }
}

impl Builder<'_> {
    fn origin(&self, span: Span) -> Origin {
        Origin::new(self.path.clone(), span)
    }

    fn stmts(&mut self, stmts: &[ast::Stmt]) -> Vec<Stmt> {
        stmts.iter().filter_map(|s| self.stmt(s)).collect()
    }

    fn stmt(&mut self, stmt: &ast::Stmt) -> Option<Stmt> {
        Some(match &stmt.kind {
            ast::StmtKind::Task(t) => Stmt::Task(self.task(t, stmt)?),
            ast::StmtKind::If(i) => {
                let mut branches = Vec::new();
                let mut current = Some(i);
                while let Some(i) = current {
                    branches.push(Branch { cond: Some(self.expr(&i.cond)), body: self.stmts(&i.then.stmts) });
                    current = match &i.otherwise {
                        Some(ast::Else::If(next)) => Some(next),
                        Some(ast::Else::Block(b)) => {
                            branches.push(Branch { cond: None, body: self.stmts(&b.stmts) });
                            None
                        }
                        None => None,
                    };
                }
                Stmt::If(If { branches, origin: self.origin(stmt.span) })
            }
            ast::StmtKind::For(f) => {
                let items = self.expr(&f.iterable);
                let parallelism = f.parallel.as_ref().and_then(|p| match &strip(p).kind {
                    AstExpr::Number(n) => n.value.parse().ok(),
                    _ => None,
                });
                self.loops.push((f.var.text.clone(), f.var.span, items.ty.element()));
                let body = self.stmts(&f.body.stmts);
                self.loops.pop();
                Stmt::For(Loop {
                    var: f.var.text.clone(),
                    items,
                    parallelism,
                    body,
                    origin: self.origin(stmt.span),
                    var_span: f.var.span,
                })
            }
            ast::StmtKind::Finally(block) => {
                Stmt::Finally(Finally { body: self.stmts(&block.stmts), origin: self.origin(stmt.span) })
            }
            ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => return None,
        })
    }

    fn task(&mut self, t: &ast::TaskStmt, stmt: &ast::Stmt) -> Option<Task> {
        let callee = match lookup(self.db, self.file, &t.call.callee.text) {
            Found::One(owner, Export::Component(_)) => {
                Callee::Component(ItemId { file: owner.path(self.db).clone(), name: t.call.callee.text.clone() })
            }
            Found::One(owner, Export::Pipeline(_)) => {
                Callee::Pipeline(ItemId { file: owner.path(self.db).clone(), name: t.call.callee.text.clone() })
            }
            _ => return None,
        };
        let args = t
            .call
            .args
            .iter()
            .filter_map(|a| {
                let name = a.name.as_ref()?;
                Some(Arg {
                    name: name.text.clone(),
                    value: self.expr(&a.value),
                    origin: self.origin(a.span),
                    name_span: name.span,
                })
            })
            .collect();
        let mut settings = Vec::new();
        let mut after = Vec::new();
        let mut after_spans = Vec::new();
        let mut display_name = None;
        for member in t.overrides.iter().flat_map(|o| &o.members) {
            match member {
                ast::TaskMember::Block(b) => settings.extend(block_settings(&self.path, b)),
                ast::TaskMember::Field(f) if f.name.text == "after" => {
                    let targets: Vec<&ast::Expr> = match &strip(&f.value).kind {
                        AstExpr::List(items) => items.iter().collect(),
                        _ => vec![&f.value],
                    };
                    for head in targets.iter().filter_map(|t| strip(t).as_path()?.first()) {
                        after.push(head.text.clone());
                        after_spans.push(head.span);
                    }
                }
                ast::TaskMember::Field(f) if f.name.text == "display_name" => {
                    if let Some(Value::String(s)) = literal(&f.value) {
                        display_name = Some(s);
                    }
                }
                ast::TaskMember::Field(f) => settings.extend(field_setting(&self.path, f)),
            }
        }
        let name = t.binding.as_ref().unwrap_or(&t.call.callee);
        Some(Task {
            name: name.text.clone(),
            callee,
            args,
            settings,
            after,
            display_name,
            origin: self.origin(stmt.span),
            name_span: name.span,
            callee_span: t.call.callee.span,
            call_span: t.call.span,
            doc: stmt.doc.text(),
            after_spans,
            loops: self.loops.iter().map(|(var, span, _)| (var.clone(), *span)).collect(),
        })
    }

    fn expr(&self, expr: &ast::Expr) -> Expr {
        let span = expr.span;
        let mut parts_spans = Vec::new();
        let kind = match &strip(expr).kind {
            AstExpr::Not(inner) => ExprKind::Not(Box::new(self.expr(inner))),
            AstExpr::Binary(op, _, lhs, rhs) => {
                let (l, r) = (Box::new(self.expr(lhs)), Box::new(self.expr(rhs)));
                match op {
                    ast::BinaryOp::And => ExprKind::And(l, r),
                    ast::BinaryOp::Or => ExprKind::Or(l, r),
                    ast::BinaryOp::Eq => ExprKind::Compare(CompareOp::Eq, l, r),
                    ast::BinaryOp::Ne => ExprKind::Compare(CompareOp::Ne, l, r),
                    ast::BinaryOp::Lt => ExprKind::Compare(CompareOp::Lt, l, r),
                    ast::BinaryOp::Le => ExprKind::Compare(CompareOp::Le, l, r),
                    ast::BinaryOp::Gt => ExprKind::Compare(CompareOp::Gt, l, r),
                    ast::BinaryOp::Ge => ExprKind::Compare(CompareOp::Ge, l, r),
                }
            }
            AstExpr::Path(parts) => {
                let head = &parts[0].text;
                let second = parts.get(1).map(|p| p.text.clone());
                parts_spans = parts.iter().map(|p| p.span).collect();
                if self.loops.iter().any(|(v, _, _)| v == head) {
                    ExprKind::LoopVar { var: head.clone(), field: second }
                } else if self.params.iter().any(|(p, _)| p == head) {
                    ExprKind::Param(head.clone())
                } else {
                    ExprKind::Output { task: head.clone(), output: second.unwrap_or_default() }
                }
            }
            _ => ExprKind::Value(literal(expr).unwrap_or(Value::String(String::new()))),
        };
        let ty = match &kind {
            ExprKind::Value(v) => v.ty(),
            ExprKind::Param(name) => {
                self.params.iter().find(|(p, _)| p == name).map_or(Ty::Unknown, |(_, t)| t.clone())
            }
            ExprKind::LoopVar { var, field } => self.loop_var_ty(var, field.as_deref()),
            ExprKind::Output { task, output } => self.output_ty(task, output),
            ExprKind::Not(_) | ExprKind::And(..) | ExprKind::Or(..) | ExprKind::Compare(..) => Ty::Bool,
        };
        Expr { kind, span, parts: parts_spans, ty }
    }
}

/// What the task named `task`, in the pipeline around `offset`, calls and its outputs with their
/// types, as [`file_model`] has them, when a component is called. Found through the pipeline's
/// pieces and the component's own model, so that after an edit of a long pipeline it costs what
/// the edit did, not a model of the whole file (the editor's completion after `task.`). `None`
/// where it cannot tell that way (a pipeline not in pieces, a called pipeline, nothing found):
/// ask [`file_model`] then.
pub fn task_outputs_at(
    db: &dyn Db,
    file: SourceFile,
    offset: usize,
    task: &str,
) -> Option<(String, Vec<(String, Ty)>)> {
    let outline = crate::parse_outline(db, file);
    let item = outline.parse.file.items.iter().position(|item| match item {
        ast::Item::Pipeline(p) => p.span.contains(offset),
        _ => false,
    })?;
    outline.pipelines.iter().find(|p| p.item == item as u32)?;
    let body = crate::check::pipeline_body(db, crate::check::PipelineKey::new(db, file, item as u32)).as_ref()?;
    let found = body.first_task(task)?;
    let callee = found.callee.to_string();
    let crate::items::Found::One(owner, crate::items::Export::Component(_)) = crate::items::lookup(db, file, &callee)
    else {
        return None;
    };
    let component = crate::parse_outline(db, owner).parse.file.items.iter().find_map(|item| match item {
        ast::Item::Component(c) if c.name.text == callee => Some(c),
        _ => None,
    })?;
    let model = component_model(db, owner, component);
    Some((callee, model.outputs.iter().map(|o| (o.name.clone(), o.ty.clone())).collect()))
}

/// The model of one component of a file.
fn component_model(db: &dyn Db, file: SourceFile, ast: &ast::Component) -> Component {
    component(db, file, &file.path(db).clone(), ast)
}
