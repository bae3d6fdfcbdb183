//! What every name in a file means: the occurrences of components, pipelines, artifact types,
//! inputs, outputs, tasks and loop variables, each resolved to a [`Symbol`].
//!
//! It works in byte spans and knows nothing of LSP. Find references, rename and document
//! highlights read it; hover (item headers), go to definition and semantic tokens read it only for
//! what the model lookup ([`crate::lookup`]) does not answer: item names, artifact and built-in
//! types, imports, script mentions. Inside pipeline bodies every occurrence comes from the
//! checker's model ([`kfl_check::model::file_model`]): tasks, callees, arguments, parameters,
//! task outputs, loop variables and `after` are bound as the checker bound them and as `kflc build`
//! lowers them; the syntax tree gives only declarations outside bodies and the names of types. It is a salsa query per file, so it is built again only when the file or a signature it reads
//! changes, and finding references across a project reads only the files that can see a symbol.
//!
//! Items that do not parse are not in the syntax tree, so names inside them have no occurrences.

use std::collections::HashMap;
use std::sync::Arc;

use kfl_check::items::{file_imports, imported_files, lookup, Found};
use kfl_check::model::file_model;
use kfl_check::types::{BUILTIN_ARTIFACTS, PARAMETER_TYPES};
use kfl_check::{parse, Db, SourceFile};
use kfl_diagnostics::Span;
use kfl_model::item as model;
use kfl_syntax::ast::{self, Expr, ExprKind, Ident};

/// Something a name can mean.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Symbol {
    /// A component, pipeline or artifact type declared in `file`.
    Item {
        file: SourceFile,
        name: String,
    },
    /// An input of a component, or a parameter of a pipeline (which callers pass as an input).
    Input {
        file: SourceFile,
        owner: String,
        name: String,
    },
    /// An output of a component or of a pipeline.
    Output {
        file: SourceFile,
        owner: String,
        name: String,
    },
    Task {
        file: SourceFile,
        pipeline: String,
        name: String,
    },
    /// Loop variables are told apart by where they are declared: two loops may share a name.
    LoopVar {
        file: SourceFile,
        pipeline: String,
        name: String,
        decl: Span,
    },
    /// `String`, `List`, `Dataset`, …
    BuiltinType(String),
    /// The target of an `import`.
    File(SourceFile),
}

impl Symbol {
    /// The file that declares the symbol (none for built-in types).
    pub fn file(&self) -> Option<SourceFile> {
        match self {
            Symbol::Item { file, .. }
            | Symbol::Input { file, .. }
            | Symbol::Output { file, .. }
            | Symbol::Task { file, .. }
            | Symbol::LoopVar { file, .. }
            | Symbol::File(file) => Some(*file),
            Symbol::BuiltinType(_) => None,
        }
    }

    /// The name as written at every occurrence (none for files).
    pub fn name(&self) -> Option<&str> {
        match self {
            Symbol::Item { name, .. }
            | Symbol::Input { name, .. }
            | Symbol::Output { name, .. }
            | Symbol::Task { name, .. }
            | Symbol::LoopVar { name, .. }
            | Symbol::BuiltinType(name) => Some(name),
            Symbol::File(_) => None,
        }
    }

    /// Whether other files can name it (through an import).
    pub fn is_exported(&self) -> bool {
        matches!(self, Symbol::Item { .. } | Symbol::Input { .. } | Symbol::Output { .. })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Role {
    /// Where the symbol is declared.
    Decl,
    Ref,
    /// An anonymous task `train(…)` is named by its callee: the callee's span declares the task.
    ImplicitDecl,
    /// A whole-word mention of an input or output inside the component's script.
    Mention,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Occurrence {
    pub span: Span,
    pub symbol: Symbol,
    pub role: Role,
}

/// Every occurrence in one file, sorted by position.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct FileIndex {
    pub occurrences: Vec<Occurrence>,
}

impl FileIndex {
    /// The occurrence at a byte offset: one that contains it, else one that ends there (the cursor
    /// right after a name). An implicit task declaration yields to the callee reference there.
    pub fn at(&self, offset: usize) -> Option<&Occurrence> {
        let rank = |o: &Occurrence| {
            let inside = (o.span.start as usize) <= offset && offset < (o.span.end as usize);
            (!inside, o.role == Role::ImplicitDecl)
        };
        self.occurrences.iter().filter(|o| o.span.contains(offset)).min_by_key(|o| rank(o))
    }

    pub fn of<'a>(&'a self, symbol: &'a Symbol) -> impl Iterator<Item = &'a Occurrence> + 'a {
        self.occurrences.iter().filter(move |o| &o.symbol == symbol)
    }
}

#[salsa::tracked(returns(ref))]
pub fn file_index(db: &dyn Db, file: SourceFile) -> Arc<FileIndex> {
    let parse = parse(db, file);
    let models = file_model(db, file);
    let mut indexer = Indexer { db, file, text: file.text(db), out: Vec::new(), callees: HashMap::new() };
    // The model has a pipeline for each pipeline of the syntax tree, in the same order.
    let mut pipelines = models.pipelines.iter();
    for item in &parse.file.items {
        match item {
            ast::Item::Pipeline(p) => {
                let model = pipelines.next().filter(|m| m.id.name == p.name.text);
                indexer.pipeline(p, model.map(|m| &**m));
            }
            other => indexer.item(other),
        }
    }
    let mut occurrences = indexer.out;
    occurrences.sort_by_key(|o| (o.span.start, o.span.end));
    Arc::new(FileIndex { occurrences })
}

/// Where a symbol is declared: its file and the span of its name.
pub fn declaration(db: &dyn Db, symbol: &Symbol) -> Option<(SourceFile, Span)> {
    let file = symbol.file()?;
    if let Symbol::File(_) = symbol {
        return Some((file, Span::default()));
    }
    let index = file_index(db, file);
    let decl = index.of(symbol).find(|o| matches!(o.role, Role::Decl | Role::ImplicitDecl))?;
    Some((file, decl.span))
}

/// Every occurrence of a symbol in the project, declarations and script mentions included.
pub fn references(db: &dyn Db, symbol: &Symbol) -> Vec<(SourceFile, Occurrence)> {
    let Some(home) = symbol.file() else {
        // A built-in type: every file can name it.
        return project_files(db)
            .into_iter()
            .flat_map(|f| file_index(db, f).of(symbol).map(move |o| (f, o.clone())).collect::<Vec<_>>())
            .collect();
    };
    let mut files = vec![home];
    if symbol.is_exported() || matches!(symbol, Symbol::File(_)) {
        for other in project_files(db) {
            if other != home && imported_files(db, other).contains(&home) {
                files.push(other);
            }
        }
    }
    let mut out = Vec::new();
    for file in files {
        for occurrence in file_index(db, file).of(symbol) {
            out.push((file, occurrence.clone()));
        }
    }
    out
}

/// Every file of the project.
pub fn project_files(db: &dyn Db) -> Vec<SourceFile> {
    db.project().files(db).values().copied().collect()
}

/// The file at a project path.
pub fn project_file(db: &dyn Db, path: &str) -> Option<SourceFile> {
    db.project().files(db).get(&*kfl_check::normalize_path(path)).copied()
}

/// The symbol a type name means in a file.
pub fn type_symbol(db: &dyn Db, file: SourceFile, name: &str) -> Option<Symbol> {
    if PARAMETER_TYPES.contains(&name) {
        return Some(Symbol::BuiltinType(name.to_string()));
    }
    match lookup(db, file, name) {
        Found::One(owner, _) => Some(Symbol::Item { file: owner, name: name.to_string() }),
        Found::None if BUILTIN_ARTIFACTS.contains(&name) => Some(Symbol::BuiltinType(name.to_string())),
        _ => None,
    }
}

struct Indexer<'db> {
    db: &'db dyn Db,
    file: SourceFile,
    text: &'db str,
    out: Vec<Occurrence>,
    /// [`Indexer::callee_model`]'s answers: a long pipeline calls the same few callees many times.
    callees: HashMap<model::Callee, Option<(SourceFile, CalleeModel)>>,
}

impl<'db> Indexer<'db> {
    fn push(&mut self, span: Span, symbol: Symbol, role: Role) {
        self.out.push(Occurrence { span, symbol, role });
    }

    fn item(&mut self, item: &ast::Item) {
        match item {
            ast::Item::Import(import) => {
                let span = import.target.span();
                let target = file_imports(self.db, self.file).iter().find(|i| i.span == span).and_then(|i| i.file);
                if let Some(target) = target {
                    self.push(span, Symbol::File(target), Role::Ref);
                }
            }
            ast::Item::Artifact(a) => {
                self.push(a.name.span, Symbol::Item { file: self.file, name: a.name.text.clone() }, Role::Decl);
                if let Some(base) = &a.base {
                    self.type_name(base);
                }
            }
            ast::Item::Component(c) => self.component(c),
            // Walked with its model by `file_index`.
            ast::Item::Pipeline(_) => {}
        }
    }

    fn type_name(&mut self, name: &Ident) {
        if let Some(symbol) = type_symbol(self.db, self.file, &name.text) {
            self.push(name.span, symbol, Role::Ref);
        }
    }

    fn type_expr(&mut self, ty: &ast::TypeExpr) {
        self.type_name(&ty.name);
        for arg in &ty.args {
            self.type_expr(arg);
        }
    }

    fn component(&mut self, c: &ast::Component) {
        let owner = c.name.text.as_str();
        self.push(c.name.span, Symbol::Item { file: self.file, name: owner.to_string() }, Role::Decl);
        let mut inputs: Vec<&str> = Vec::new();
        let mut outputs: Vec<&str> = Vec::new();
        for member in &c.members {
            match &member.kind {
                ast::MemberKind::Input(p) => inputs.push(&p.name.text),
                ast::MemberKind::Output(o) => outputs.push(&o.name.text),
                _ => {}
            }
        }
        let file = self.file;
        let member_symbol = |name: &str| -> Option<Symbol> {
            if inputs.contains(&name) {
                Some(Symbol::Input { file, owner: owner.to_string(), name: name.to_string() })
            } else if outputs.contains(&name) {
                Some(Symbol::Output { file, owner: owner.to_string(), name: name.to_string() })
            } else {
                None
            }
        };
        let mut found = Vec::new();
        for member in &c.members {
            match &member.kind {
                ast::MemberKind::Input(p) => {
                    found.push((p.name.span, member_symbol(&p.name.text), Role::Decl));
                    self.type_expr(&p.ty);
                }
                ast::MemberKind::Output(o) => {
                    found.push((o.name.span, member_symbol(&o.name.text), Role::Decl));
                    self.type_expr(&o.ty);
                }
                ast::MemberKind::Script(s) => {
                    let span = s.source.span;
                    let raw = self.text.get(span.range()).unwrap_or("");
                    for name in inputs.iter().chain(&outputs) {
                        for at in script_mentions(raw, name) {
                            let start = span.start as usize + at;
                            found.push((Span::new(start, start + name.len()), member_symbol(name), Role::Mention));
                        }
                    }
                }
                ast::MemberKind::Field(f) if matches!(f.name.text.as_str(), "command" | "args") => {
                    let mut paths = Vec::new();
                    collect_paths(&f.value, &mut paths);
                    for head in paths {
                        found.push((head.span, member_symbol(&head.text), Role::Ref));
                    }
                }
                ast::MemberKind::Field(_) | ast::MemberKind::Block(_) => {}
            }
        }
        for (span, symbol, role) in found {
            if let Some(symbol) = symbol {
                self.push(span, symbol, role);
            }
        }
    }

    /// A pipeline: its name, parameters and declared types from the syntax tree (the model keeps
    /// types, not where their names are written); its body from the model, so that every name
    /// means here what the checker bound it to and `kflc build` lowers.
    fn pipeline(&mut self, p: &ast::Pipeline, model: Option<&model::Pipeline>) {
        let name = p.name.text.as_str();
        self.push(p.name.span, Symbol::Item { file: self.file, name: name.to_string() }, Role::Decl);
        for param in &p.params {
            self.push(
                param.name.span,
                Symbol::Input { file: self.file, owner: name.to_string(), name: param.name.text.clone() },
                Role::Decl,
            );
            self.type_expr(&param.ty);
        }
        self.declared_output_types(&p.body);
        let Some(m) = model else { return };
        let mut scope = ModelScope { pipeline: m, callees: HashMap::new(), loops: Vec::new() };
        collect_callees(&m.body, &mut scope.callees);
        self.model_stmts(&m.body, &mut scope);
        for output in &m.outputs {
            let symbol = Symbol::Output { file: self.file, owner: name.to_string(), name: output.name.clone() };
            self.push(output.name_span, symbol, Role::Decl);
            self.model_expr(&output.value, &scope);
        }
    }

    fn declared_output_types(&mut self, stmts: &[ast::Stmt]) {
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Output(o) => {
                    if let Some(ty) = &o.ty {
                        self.type_expr(ty);
                    }
                }
                ast::StmtKind::If(i) => i.blocks().into_iter().for_each(|b| self.declared_output_types(&b.stmts)),
                ast::StmtKind::For(f) => self.declared_output_types(&f.body.stmts),
                ast::StmtKind::Finally(b) => self.declared_output_types(&b.stmts),
                ast::StmtKind::Task(_) | ast::StmtKind::Field(_) => {}
            }
        }
    }

    fn model_stmts<'m>(&mut self, stmts: &'m [model::Stmt], scope: &mut ModelScope<'m>) {
        for stmt in stmts {
            match stmt {
                model::Stmt::Task(t) => self.model_task(t, scope),
                model::Stmt::If(i) => {
                    for branch in &i.branches {
                        if let Some(cond) = &branch.cond {
                            self.model_expr(cond, scope);
                        }
                        self.model_stmts(&branch.body, scope);
                    }
                }
                model::Stmt::For(l) => {
                    self.model_expr(&l.items, scope);
                    let symbol = self.loop_symbol(scope, &l.var, l.var_span);
                    self.push(l.var_span, symbol, Role::Decl);
                    scope.loops.push((&l.var, l.var_span));
                    self.model_stmts(&l.body, scope);
                    scope.loops.pop();
                }
                model::Stmt::Finally(f) => self.model_stmts(&f.body, scope),
            }
        }
    }

    fn loop_symbol(&self, scope: &ModelScope<'_>, var: &str, decl: Span) -> Symbol {
        Symbol::LoopVar { file: self.file, pipeline: scope.pipeline.id.name.clone(), name: var.to_string(), decl }
    }

    fn task_symbol(&self, scope: &ModelScope<'_>, name: &str) -> Symbol {
        Symbol::Task { file: self.file, pipeline: scope.pipeline.id.name.clone(), name: name.to_string() }
    }

    /// The file that declares a callee, and the callee's model (looked up once per callee).
    fn callee_model(&mut self, callee: &model::Callee) -> Option<(SourceFile, CalleeModel)> {
        if let Some(found) = self.callees.get(callee) {
            return found.clone();
        }
        let found = self.find_callee_model(callee);
        self.callees.insert(callee.clone(), found.clone());
        found
    }

    fn find_callee_model(&self, callee: &model::Callee) -> Option<(SourceFile, CalleeModel)> {
        let id = match callee {
            model::Callee::Component(id) | model::Callee::Pipeline(id) => id,
        };
        let file = project_file(self.db, &id.file)?;
        let models = file_model(self.db, file);
        let found = match callee {
            model::Callee::Component(_) => {
                models.components.iter().find(|c| c.id == *id).cloned().map(CalleeModel::Component)
            }
            model::Callee::Pipeline(_) => {
                models.pipelines.iter().find(|p| p.id == *id).cloned().map(CalleeModel::Pipeline)
            }
        }?;
        Some((file, found))
    }

    fn model_task(&mut self, t: &model::Task, scope: &ModelScope<'_>) {
        let implicit = t.name_span == t.callee_span;
        let role = if implicit { Role::ImplicitDecl } else { Role::Decl };
        self.push(t.name_span, self.task_symbol(scope, &t.name), role);
        let callee = self.callee_model(&t.callee);
        if let Some((file, callee)) = &callee {
            self.push(t.callee_span, Symbol::Item { file: *file, name: callee.name().to_string() }, Role::Ref);
            for arg in &t.args {
                if callee.has_input(&arg.name) {
                    let symbol =
                        Symbol::Input { file: *file, owner: callee.name().to_string(), name: arg.name.clone() };
                    self.push(arg.name_span, symbol, Role::Ref);
                }
            }
        }
        for arg in &t.args {
            self.model_expr(&arg.value, scope);
        }
        for (name, span) in t.after.iter().zip(&t.after_spans) {
            if scope.callees.contains_key(name.as_str()) {
                self.push(*span, self.task_symbol(scope, name), Role::Ref);
            }
        }
    }

    fn model_expr(&mut self, expr: &model::Expr, scope: &ModelScope<'_>) {
        match &expr.kind {
            model::ExprKind::Value(_) => {}
            model::ExprKind::Param(name) => {
                if let Some(&head) = expr.parts.first() {
                    let symbol =
                        Symbol::Input { file: self.file, owner: scope.pipeline.id.name.clone(), name: name.clone() };
                    self.push(head, symbol, Role::Ref);
                }
            }
            model::ExprKind::Output { task, output } => {
                if let Some(&head) = expr.parts.first() {
                    self.push(head, self.task_symbol(scope, task), Role::Ref);
                }
                let (Some(&part), Some(callee)) = (expr.parts.get(1), scope.callees.get(task.as_str())) else {
                    return;
                };
                if let Some((file, callee)) = self.callee_model(callee) {
                    if callee.has_output(output) {
                        let symbol = Symbol::Output { file, owner: callee.name().to_string(), name: output.clone() };
                        self.push(part, symbol, Role::Ref);
                    }
                }
            }
            model::ExprKind::LoopVar { var, .. } => {
                let decl = scope.loops.iter().rev().find(|(name, _)| name == var).map(|&(_, decl)| decl);
                if let (Some(&head), Some(decl)) = (expr.parts.first(), decl) {
                    self.push(head, self.loop_symbol(scope, var, decl), Role::Ref);
                }
            }
            model::ExprKind::Not(a) => self.model_expr(a, scope),
            model::ExprKind::And(a, b) | model::ExprKind::Or(a, b) | model::ExprKind::Compare(_, a, b) => {
                self.model_expr(a, scope);
                self.model_expr(b, scope);
            }
        }
    }
}

/// The names a pipeline body of the model can read, while one pipeline is walked.
struct ModelScope<'m> {
    pipeline: &'m model::Pipeline,
    /// Task name → its callee (the first task of a name counts).
    callees: HashMap<&'m str, &'m model::Callee>,
    /// Loop variables of the enclosing loops with the spans that declare them, innermost last.
    loops: Vec<(&'m str, Span)>,
}

#[derive(Clone)]
enum CalleeModel {
    Component(Arc<model::Component>),
    Pipeline(Arc<model::Pipeline>),
}

impl CalleeModel {
    fn name(&self) -> &str {
        match self {
            CalleeModel::Component(c) => &c.id.name,
            CalleeModel::Pipeline(p) => &p.id.name,
        }
    }
    fn has_input(&self, name: &str) -> bool {
        match self {
            CalleeModel::Component(c) => c.inputs.iter().any(|i| i.name == name),
            CalleeModel::Pipeline(p) => p.params.iter().any(|i| i.name == name),
        }
    }
    fn has_output(&self, name: &str) -> bool {
        match self {
            CalleeModel::Component(c) => c.outputs.iter().any(|o| o.name == name),
            CalleeModel::Pipeline(p) => p.outputs.iter().any(|o| o.name == name),
        }
    }
}

/// Task name → callee for every task of a pipeline body of the model, the first of a name winning.
fn collect_callees<'m>(stmts: &'m [model::Stmt], out: &mut HashMap<&'m str, &'m model::Callee>) {
    for stmt in stmts {
        match stmt {
            model::Stmt::Task(t) => {
                out.entry(t.name.as_str()).or_insert(&t.callee);
            }
            model::Stmt::If(i) => i.branches.iter().for_each(|b| collect_callees(&b.body, out)),
            model::Stmt::For(l) => collect_callees(&l.body, out),
            model::Stmt::Finally(f) => collect_callees(&f.body, out),
        }
    }
}

/// The heads of the dotted names in a component expression (`model.path` → `model`).
fn collect_paths<'a>(expr: &'a Expr, out: &mut Vec<&'a Ident>) {
    match &expr.kind {
        ExprKind::Path(parts) => out.extend(parts.first()),
        ExprKind::List(items) => items.iter().for_each(|e| collect_paths(e, out)),
        ExprKind::Map(entries) => entries.iter().for_each(|e| collect_paths(&e.value, out)),
        ExprKind::Field(base, _) | ExprKind::Not(base) | ExprKind::Paren(base) => collect_paths(base, out),
        ExprKind::Binary(_, _, a, b) => {
            collect_paths(a, out);
            collect_paths(b, out);
        }
        ExprKind::Call(call) => call.args.iter().for_each(|a| collect_paths(&a.value, out)),
        ExprKind::Str(_) | ExprKind::Number(_) | ExprKind::Bool(_) => {}
    }
}

/// Byte offsets of whole-word mentions of `name` in a script's source text, leaving out attribute
/// accesses (`df.rows` does not mention `rows`).
pub fn script_mentions(raw: &str, name: &str) -> Vec<usize> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = raw.get(from..).and_then(|rest| rest.find(name)) {
        let start = from + found;
        let end = start + name.len();
        let before = raw[..start].chars().next_back();
        let after = raw[end..].chars().next();
        if !before.is_some_and(|c| is_word(c) || c == '.') && !after.is_some_and(is_word) {
            out.push(start);
        }
        from = end.max(start + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_mentions_are_whole_words() {
        assert_eq!(script_mentions("rows = len(df.rows) + rows_x + $rows", "rows"), vec![0, 32]);
    }

    #[test]
    fn resolves_across_files() {
        let mut db = kfl_check::Database::default();
        db.set_file(
            "/p/lib.kfl",
            "component train {\n image = \"a:1\"\n input epochs: Int\n output model: Model\n sh \"echo $epochs $model\"\n}\n"
                .to_string(),
        );
        let main = db.set_file(
            "/p/main.kfl",
            "import \"lib.kfl\"\npipeline p(n: Int) {\n t = train(epochs: n)\n output m = t.model\n}\n".to_string(),
        );
        let lib = db.file("/p/lib.kfl").expect("lib is loaded");
        let text = main.text(&db).clone();
        let index = file_index(&db, main);
        let at = |needle: &str| text.find(needle).unwrap_or(usize::MAX);
        let train = index.at(at("train(") + 2).map(|o| o.symbol.clone());
        assert_eq!(train, Some(Symbol::Item { file: lib, name: "train".into() }));
        let model = index.at(at("t.model") + 3).map(|o| o.symbol.clone());
        let model_symbol = Symbol::Output { file: lib, owner: "train".into(), name: "model".into() };
        assert_eq!(model, Some(model_symbol.clone()));
        let refs = references(&db, &model_symbol);
        // The declaration, the script's `$model` and `t.model`.
        assert_eq!(refs.len(), 3);
        let epochs = Symbol::Input { file: lib, owner: "train".into(), name: "epochs".into() };
        assert_eq!(references(&db, &epochs).len(), 3);
        assert!(declaration(&db, &epochs).is_some_and(|(f, _)| f == lib));
    }
}
