//! The abstract syntax tree. Every node carries the byte span of the text it came from.
//!
//! The tree is a faithful picture of the source: it keeps parentheses, doc comments, whether a string
//! was triple-quoted and the unit text of a number, so that the formatter can print it back and the
//! checker can point at the exact place of a problem. It knows nothing of meaning: which fields exist,
//! what a unit means or what a name refers to is the checker's business.

use kfl_diagnostics::Span;

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

/// `///` lines before a declaration, joined with newlines, each line without `///` and one space.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Doc {
    pub lines: Vec<String>,
    pub span: Option<Span>,
}

impl Doc {
    pub fn text(&self) -> Option<String> {
        if self.lines.is_empty() {
            None
        } else {
            Some(self.lines.join("\n"))
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Item {
    Import(Import),
    Artifact(ArtifactDecl),
    Component(Component),
    Pipeline(Pipeline),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(it) => it.span,
            Item::Artifact(it) => it.span,
            Item::Component(it) => it.span,
            Item::Pipeline(it) => it.span,
        }
    }
    /// The declared name; imports declare none.
    pub fn name(&self) -> Option<&Ident> {
        match self {
            Item::Import(_) => None,
            Item::Artifact(it) => Some(&it.name),
            Item::Component(it) => Some(&it.name),
            Item::Pipeline(it) => Some(&it.name),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Import {
    pub doc: Doc,
    pub target: ImportTarget,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ImportTarget {
    /// `import "components/data.kfl"`
    Path(StrLit),
    /// `import components.training`
    Module(Vec<Ident>),
}

impl ImportTarget {
    pub fn span(&self) -> Span {
        match self {
            ImportTarget::Path(s) => s.span,
            ImportTarget::Module(parts) => match (parts.first(), parts.last()) {
                (Some(a), Some(b)) => a.span.cover(b.span),
                _ => Span::default(),
            },
        }
    }
    /// The relative file path this import names, with `/` separators.
    pub fn relative_path(&self) -> String {
        match self {
            ImportTarget::Path(s) => s.value.clone(),
            ImportTarget::Module(parts) => {
                let mut path = parts.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("/");
                path.push_str(".kfl");
                path
            }
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ArtifactDecl {
    pub doc: Doc,
    pub name: Ident,
    pub base: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Component {
    pub doc: Doc,
    pub name: Ident,
    pub members: Vec<Member>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Member {
    pub doc: Doc,
    pub kind: MemberKind,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MemberKind {
    Input(Param),
    Output(OutputSig),
    Script(Script),
    Block(KvBlock),
    Field(Field),
}

/// A component input or a pipeline parameter: `name: Type = default`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Param {
    pub doc: Doc,
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutputSig {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ScriptLang {
    Python,
    Sh,
}

impl ScriptLang {
    pub fn keyword(self) -> &'static str {
        match self {
            ScriptLang::Python => "python",
            ScriptLang::Sh => "sh",
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Script {
    pub lang: ScriptLang,
    pub lang_span: Span,
    pub source: StrLit,
    pub span: Span,
}

/// `name = value`
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Field {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `name { key = value, … }`
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KvBlock {
    pub name: Ident,
    pub entries: Vec<KvEntry>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KvEntry {
    pub key: Key,
    pub value: Expr,
    pub span: Span,
}

/// The key of a block entry or a map entry: a bare identifier or a quoted string.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Key {
    Ident(Ident),
    Str(StrLit),
}

impl Key {
    pub fn text(&self) -> &str {
        match self {
            Key::Ident(i) => &i.text,
            Key::Str(s) => &s.value,
        }
    }
    pub fn span(&self) -> Span {
        match self {
            Key::Ident(i) => i.span,
            Key::Str(s) => s.span,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TypeExpr {
    pub name: Ident,
    pub args: Vec<TypeExpr>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Pipeline {
    pub doc: Doc,
    pub name: Ident,
    pub params: Vec<Param>,
    pub body: Vec<Stmt>,
    /// The span of `( … )`.
    pub params_span: Span,
    pub span: Span,
    /// Statements of the body that did not parse (each reported as a syntax error), left out of
    /// `body`. The checker stays quiet about names they might have declared.
    pub broken: Vec<Span>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Stmt {
    pub doc: Doc,
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StmtKind {
    Task(TaskStmt),
    Field(Field),
    If(IfStmt),
    For(ForStmt),
    Finally(Block),
    Output(PipelineOutput),
}

/// `name = callee(args) { overrides }` or `callee(args) { overrides }`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TaskStmt {
    pub binding: Option<Ident>,
    pub call: Call,
    pub overrides: Option<TaskBlock>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TaskBlock {
    pub members: Vec<TaskMember>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TaskMember {
    Block(KvBlock),
    Field(Field),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IfStmt {
    pub cond: Expr,
    pub then: Block,
    pub otherwise: Option<Else>,
    pub span: Span,
}

impl IfStmt {
    /// The blocks of an `if` / `else if` … / `else` chain, in order: the `then` block of each `if`,
    /// and the final `else` block if there is one.
    pub fn blocks(&self) -> Vec<&Block> {
        let mut out = Vec::new();
        let mut current = self;
        loop {
            out.push(&current.then);
            match &current.otherwise {
                Some(Else::If(next)) => current = next,
                Some(Else::Block(block)) => {
                    out.push(block);
                    return out;
                }
                None => return out,
            }
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Else {
    If(Box<IfStmt>),
    Block(Block),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ForStmt {
    pub var: Ident,
    pub iterable: Expr,
    pub parallel: Option<Expr>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PipelineOutput {
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub value: Expr,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Call {
    pub callee: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ExprKind {
    Str(StrLit),
    Number(NumberLit),
    Bool(bool),
    List(Vec<Expr>),
    Map(Vec<MapEntry>),
    /// A dotted name: `epochs`, `prep.processed_data`, `raw_data.path`.
    Path(Vec<Ident>),
    /// `.name` after something that is not a name, e.g. `(x).path`.
    Field(Box<Expr>, Ident),
    Call(Call),
    Not(Box<Expr>),
    Binary(BinaryOp, Span, Box<Expr>, Box<Expr>),
    Paren(Box<Expr>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinaryOp {
    pub fn text(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
        }
    }
    pub fn is_comparison(self) -> bool {
        !matches!(self, BinaryOp::Or | BinaryOp::And)
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MapEntry {
    pub key: Key,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StrLit {
    /// The value: escapes resolved; for a triple-quoted string, dedented (see [`crate::dedent`]).
    pub value: String,
    pub triple: bool,
    /// The span including the quotes.
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NumberLit {
    /// The digits as written, with sign, fraction and exponent: `-1.5e3`.
    pub value: String,
    /// The unit written straight after the digits: `Gi`, `m`, `1h30m` → `h30m`.
    pub unit: Option<String>,
}

impl NumberLit {
    pub fn is_integer(&self) -> bool {
        !self.value.contains(['.', 'e', 'E'])
    }
}

impl Expr {
    /// `self.field`: a longer dotted name when `self` is one that started with a plain name
    /// (`head_is_name`), else a field of whatever `self` is (`(x).path`, `f(a).out`).
    pub fn dot(self, field: Ident, head_is_name: bool) -> Expr {
        let span = self.span.cover(field.span);
        match self.kind {
            ExprKind::Path(mut parts) if head_is_name => {
                parts.push(field);
                Expr { kind: ExprKind::Path(parts), span }
            }
            kind => Expr { kind: ExprKind::Field(Box::new(Expr { kind, span: self.span }), field), span },
        }
    }

    /// The names of a dotted path, if this is one.
    pub fn as_path(&self) -> Option<&[Ident]> {
        match &self.kind {
            ExprKind::Path(parts) => Some(parts),
            _ => None,
        }
    }
}
