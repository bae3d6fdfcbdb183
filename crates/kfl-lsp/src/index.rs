//! What every name in a file means: the occurrences of components, pipelines, artifact types,
//! inputs, outputs, tasks and loop variables, each resolved to a [`Symbol`].
//!
//! It works in byte spans and knows nothing of LSP. Find references, rename and document
//! highlights read it; hover (item headers), go to definition and semantic tokens read it only for
//! what the model lookup ([`crate::lookup`]) does not answer: item names, artifact and built-in
//! types, imports, script mentions. It is a salsa query per file, so it is built again only when the file or a signature it reads
//! changes, and finding references across a project reads only the files that can see a symbol.
//!
//! Items that do not parse are not in the syntax tree, so names inside them have no occurrences.

use std::collections::HashMap;
use std::sync::Arc;

use kfl_check::items::{file_imports, imported_files, lookup, Export, Found};
use kfl_check::types::{BUILTIN_ARTIFACTS, PARAMETER_TYPES};
use kfl_check::{parse, Db, SourceFile};
use kfl_diagnostics::Span;
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
    let mut indexer = Indexer { db, file, text: file.text(db), callees: HashMap::new(), out: Vec::new() };
    for item in &parse.file.items {
        indexer.item(item);
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
    /// Callee name → where it is declared and what it is.
    callees: HashMap<String, Option<(SourceFile, &'db Export)>>,
    out: Vec<Occurrence>,
}

/// The names a pipeline body can read, while one pipeline is walked.
struct PipelineScope<'a> {
    name: &'a str,
    params: Vec<&'a str>,
    /// Task name → callee name (the first task of a name counts).
    tasks: HashMap<&'a str, &'a str>,
    /// Loop variables of the enclosing loops, innermost last.
    loops: Vec<&'a Ident>,
}

impl<'db> Indexer<'db> {
    fn push(&mut self, span: Span, symbol: Symbol, role: Role) {
        self.out.push(Occurrence { span, symbol, role });
    }

    fn callee(&mut self, name: &str) -> Option<(SourceFile, &'db Export)> {
        if let Some(found) = self.callees.get(name) {
            return *found;
        }
        let found = match lookup(self.db, self.file, name) {
            Found::One(owner, export) => Some((owner, export)),
            _ => None,
        };
        self.callees.insert(name.to_string(), found);
        found
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
            ast::Item::Pipeline(p) => self.pipeline(p),
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

    fn pipeline(&mut self, p: &ast::Pipeline) {
        let name = p.name.text.as_str();
        self.push(p.name.span, Symbol::Item { file: self.file, name: name.to_string() }, Role::Decl);
        let mut scope = PipelineScope { name, params: Vec::new(), tasks: HashMap::new(), loops: Vec::new() };
        for param in &p.params {
            scope.params.push(&param.name.text);
            self.push(
                param.name.span,
                Symbol::Input { file: self.file, owner: name.to_string(), name: param.name.text.clone() },
                Role::Decl,
            );
            self.type_expr(&param.ty);
        }
        collect_tasks(&p.body, &mut scope.tasks);
        self.stmts(&p.body, &mut scope);
    }

    fn stmts<'a>(&mut self, stmts: &'a [ast::Stmt], scope: &mut PipelineScope<'a>) {
        for stmt in stmts {
            match &stmt.kind {
                ast::StmtKind::Task(t) => self.task(t, scope),
                ast::StmtKind::Field(f) => self.expr(&f.value, scope),
                ast::StmtKind::If(i) => {
                    let mut current = Some(i);
                    while let Some(i) = current {
                        self.expr(&i.cond, scope);
                        self.stmts(&i.then.stmts, scope);
                        current = match &i.otherwise {
                            Some(ast::Else::If(next)) => Some(next),
                            Some(ast::Else::Block(b)) => {
                                self.stmts(&b.stmts, scope);
                                None
                            }
                            None => None,
                        };
                    }
                }
                ast::StmtKind::For(f) => {
                    self.expr(&f.iterable, scope);
                    if let Some(parallel) = &f.parallel {
                        self.expr(parallel, scope);
                    }
                    self.push(f.var.span, self.loop_symbol(scope, &f.var), Role::Decl);
                    scope.loops.push(&f.var);
                    self.stmts(&f.body.stmts, scope);
                    scope.loops.pop();
                }
                ast::StmtKind::Finally(b) => self.stmts(&b.stmts, scope),
                ast::StmtKind::Output(o) => {
                    self.push(
                        o.name.span,
                        Symbol::Output { file: self.file, owner: scope.name.to_string(), name: o.name.text.clone() },
                        Role::Decl,
                    );
                    if let Some(ty) = &o.ty {
                        self.type_expr(ty);
                    }
                    self.expr(&o.value, scope);
                }
            }
        }
    }

    fn loop_symbol(&self, scope: &PipelineScope<'_>, var: &Ident) -> Symbol {
        Symbol::LoopVar { file: self.file, pipeline: scope.name.to_string(), name: var.text.clone(), decl: var.span }
    }

    fn task(&mut self, t: &ast::TaskStmt, scope: &mut PipelineScope<'_>) {
        let (file, pipeline) = (self.file, scope.name.to_string());
        let task_symbol = |name: &Ident| Symbol::Task { file, pipeline: pipeline.clone(), name: name.text.clone() };
        match &t.binding {
            Some(binding) => self.push(binding.span, task_symbol(binding), Role::Decl),
            None => self.push(t.call.callee.span, task_symbol(&t.call.callee), Role::ImplicitDecl),
        }
        self.call(&t.call, scope);
        let Some(block) = &t.overrides else { return };
        for member in &block.members {
            match member {
                ast::TaskMember::Field(f) if f.name.text == "after" => {
                    let items: Vec<&Expr> = match &f.value.kind {
                        ExprKind::List(items) => items.iter().collect(),
                        _ => vec![&f.value],
                    };
                    for item in items {
                        if let Some([name]) = item.as_path() {
                            if scope.tasks.contains_key(name.text.as_str()) {
                                let symbol = task_symbol(name);
                                self.push(name.span, symbol, Role::Ref);
                            }
                        }
                    }
                }
                ast::TaskMember::Field(f) => self.expr(&f.value, scope),
                ast::TaskMember::Block(b) => {
                    for entry in &b.entries {
                        self.expr(&entry.value, scope);
                    }
                }
            }
        }
    }

    fn call(&mut self, call: &ast::Call, scope: &mut PipelineScope<'_>) {
        let callee = self.callee(&call.callee.text);
        if let Some((owner, _)) = callee {
            self.push(call.callee.span, Symbol::Item { file: owner, name: call.callee.text.clone() }, Role::Ref);
        }
        for arg in &call.args {
            if let (Some(name), Some((owner, export))) = (&arg.name, callee) {
                if export.signature().is_some_and(|s| s.input(&name.text).is_some()) {
                    let symbol =
                        Symbol::Input { file: owner, owner: call.callee.text.clone(), name: name.text.clone() };
                    self.push(name.span, symbol, Role::Ref);
                }
            }
            self.expr(&arg.value, scope);
        }
    }

    fn expr(&mut self, expr: &Expr, scope: &mut PipelineScope<'_>) {
        match &expr.kind {
            ExprKind::Str(_) | ExprKind::Number(_) | ExprKind::Bool(_) => {}
            ExprKind::List(items) => {
                for item in items {
                    self.expr(item, scope);
                }
            }
            ExprKind::Map(entries) => {
                for entry in entries {
                    self.expr(&entry.value, scope);
                }
            }
            ExprKind::Field(base, _) | ExprKind::Not(base) | ExprKind::Paren(base) => self.expr(base, scope),
            ExprKind::Binary(_, _, a, b) => {
                self.expr(a, scope);
                self.expr(b, scope);
            }
            ExprKind::Call(call) => self.call(call, scope),
            ExprKind::Path(parts) => self.path(parts, scope),
        }
    }

    fn path(&mut self, parts: &[Ident], scope: &PipelineScope<'_>) {
        let Some(head) = parts.first() else { return };
        let file = self.file;
        let pipeline = scope.name.to_string();
        if let Some(var) = scope.loops.iter().rev().find(|v| v.text == head.text) {
            let symbol = self.loop_symbol(scope, var);
            self.push(head.span, symbol, Role::Ref);
        } else if scope.params.contains(&head.text.as_str()) {
            self.push(head.span, Symbol::Input { file, owner: pipeline, name: head.text.clone() }, Role::Ref);
        } else if let Some(&callee) = scope.tasks.get(head.text.as_str()) {
            self.push(head.span, Symbol::Task { file, pipeline, name: head.text.clone() }, Role::Ref);
            let Some(output) = parts.get(1) else { return };
            if let Some((owner, export)) = self.callee(callee) {
                if export.signature().is_some_and(|s| s.output(&output.text).is_some()) {
                    let symbol = Symbol::Output { file: owner, owner: callee.to_string(), name: output.text.clone() };
                    self.push(output.span, symbol, Role::Ref);
                }
            }
        }
    }
}

/// Task name → callee name for every task of a pipeline body, the first of a name winning.
pub fn collect_tasks<'a>(stmts: &'a [ast::Stmt], out: &mut HashMap<&'a str, &'a str>) {
    for stmt in stmts {
        match &stmt.kind {
            ast::StmtKind::Task(t) => {
                let name = t.binding.as_ref().unwrap_or(&t.call.callee);
                out.entry(name.text.as_str()).or_insert(t.call.callee.text.as_str());
            }
            ast::StmtKind::If(i) => {
                for block in i.blocks() {
                    collect_tasks(&block.stmts, out);
                }
            }
            ast::StmtKind::For(f) => collect_tasks(&f.body.stmts, out),
            ast::StmtKind::Finally(b) => collect_tasks(&b.stmts, out),
            ast::StmtKind::Field(_) | ast::StmtKind::Output(_) => {}
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
