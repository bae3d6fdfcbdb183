//! Components and pipelines, resolved: what each declares, with types resolved, defaults and
//! settings evaluated, and every name in a pipeline body bound to what it means.

use std::sync::Arc;

use crate::settings::Setting;
use crate::ty::Ty;
use crate::value::Value;
use crate::{Origin, Span};

/// A component or a pipeline: the file that declares it and its name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ItemId {
    pub file: Arc<str>,
    pub name: String,
}

/// An input of a component, or a parameter of a pipeline.
#[derive(Clone, PartialEq, Debug)]
pub struct Param {
    pub name: String,
    pub ty: Ty,
    pub default: Option<Value>,
    pub doc: Option<String>,
    pub origin: Origin,
    /// The span of the name where it is declared (in `origin.file`).
    pub name_span: Span,
}

/// An output of a component.
#[derive(Clone, PartialEq, Debug)]
pub struct OutputDecl {
    pub name: String,
    pub ty: Ty,
    pub doc: Option<String>,
    pub origin: Origin,
    /// The span of the name where it is declared (in `origin.file`).
    pub name_span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ScriptLang {
    Python,
    Sh,
}

/// One element of a container's command or args.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum CommandPart {
    Literal(String),
    /// The value of an input parameter.
    InputValue(String),
    InputPath(String),
    InputUri(String),
    OutputPath(String),
    OutputUri(String),
    /// The file a container writes an output parameter's value into.
    OutputParameterPath(String),
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Body {
    Script { lang: ScriptLang, source: String },
    Container { command: Vec<CommandPart>, args: Vec<CommandPart> },
}

#[derive(Clone, PartialEq, Debug)]
pub struct Component {
    pub id: ItemId,
    pub doc: Option<String>,
    pub inputs: Vec<Param>,
    pub outputs: Vec<OutputDecl>,
    /// The image as written; `None` when the component names none.
    pub image: Option<String>,
    pub packages: Vec<String>,
    pub body: Body,
    /// The defaults of every task that runs it, in the order written.
    pub settings: Vec<Setting>,
    pub origin: Origin,
    /// The span of the component's name (in `origin.file`).
    pub name_span: Span,
}

#[derive(Clone, PartialEq, Debug)]
pub struct Pipeline {
    pub id: ItemId,
    pub doc: Option<String>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub params: Vec<Param>,
    pub body: Vec<Stmt>,
    pub outputs: Vec<PipelineOutput>,
    pub origin: Origin,
    /// The span of the pipeline's name (in `origin.file`).
    pub name_span: Span,
}

impl Pipeline {
    /// Every task of the body, however deeply nested, in source order.
    pub fn tasks(&self) -> Vec<&Task> {
        fn walk<'a>(stmts: &'a [Stmt], out: &mut Vec<&'a Task>) {
            for stmt in stmts {
                match stmt {
                    Stmt::Task(t) => out.push(t),
                    Stmt::If(i) => i.branches.iter().for_each(|b| walk(&b.body, out)),
                    Stmt::For(l) => walk(&l.body, out),
                    Stmt::Finally(f) => walk(&f.body, out),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.body, &mut out);
        out
    }
}

#[derive(Clone, PartialEq, Debug)]
pub struct PipelineOutput {
    pub name: String,
    /// The type the output was declared with, if any (`output n: Int = …`).
    pub declared: Option<Ty>,
    /// Its type: as declared, or the type of its value.
    pub ty: Ty,
    pub value: Expr,
    pub origin: Origin,
    /// The span of the output's name.
    pub name_span: Span,
    /// The doc comment above the output.
    pub doc: Option<String>,
}

#[derive(Clone, PartialEq, Debug)]
pub enum Stmt {
    Task(Task),
    If(If),
    For(Loop),
    Finally(Finally),
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Callee {
    Component(ItemId),
    Pipeline(ItemId),
}

#[derive(Clone, PartialEq, Debug)]
pub struct Task {
    /// The binding (`model = train(…)`) or, without one, the callee's name.
    pub name: String,
    pub callee: Callee,
    /// Named arguments in the order written.
    pub args: Vec<Arg>,
    /// The task's own settings in the order written (for a call of a pipeline: applied to every task
    /// it contains).
    pub settings: Vec<Setting>,
    /// Tasks of the same pipeline named in `after`.
    pub after: Vec<String>,
    pub display_name: Option<String>,
    pub origin: Origin,
    /// The span of the binding's name, or of the callee's name for a task without a binding.
    pub name_span: Span,
    /// The span of the callee's name in the call.
    pub callee_span: Span,
    /// The span of the call, from the callee's name to its `)`.
    pub call_span: Span,
    /// The doc comment above the task.
    pub doc: Option<String>,
    /// The names in `after`, each with its span, in the order written.
    pub after_spans: Vec<Span>,
    /// The enclosing loops' variables, outermost first, with the spans that declare them.
    pub loops: Vec<(String, Span)>,
}

#[derive(Clone, PartialEq, Debug)]
pub struct Arg {
    pub name: String,
    pub value: Expr,
    pub origin: Origin,
    /// The span of the argument's name.
    pub name_span: Span,
}

/// An `if` / `else if` / `else` chain: a branch with `cond: None` is the final `else`.
#[derive(Clone, PartialEq, Debug)]
pub struct If {
    pub branches: Vec<Branch>,
    pub origin: Origin,
}

#[derive(Clone, PartialEq, Debug)]
pub struct Branch {
    pub cond: Option<Expr>,
    pub body: Vec<Stmt>,
}

#[derive(Clone, PartialEq, Debug)]
pub struct Loop {
    pub var: String,
    pub items: Expr,
    pub parallelism: Option<u32>,
    pub body: Vec<Stmt>,
    pub origin: Origin,
    /// The span of the loop variable where the loop declares it.
    pub var_span: Span,
}

#[derive(Clone, PartialEq, Debug)]
pub struct Finally {
    pub body: Vec<Stmt>,
    pub origin: Origin,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// A value in a pipeline body, with every name resolved. The span is in the pipeline's file.
#[derive(Clone, PartialEq, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// For a dotted name (`task.output`, `param`, `item.field`): the span of each part, in order;
    /// empty for every other expression.
    pub parts: Vec<Span>,
    /// Its type where it is read: a task's output read outside loops the task runs in is a list per
    /// loop left; a condition is `Bool`.
    pub ty: Ty,
}

#[derive(Clone, PartialEq, Debug)]
pub enum ExprKind {
    Value(Value),
    /// A parameter of the pipeline.
    Param(String),
    /// An output of a task of the pipeline (a component's output or a called pipeline's output).
    Output {
        task: String,
        output: String,
    },
    /// The item of an enclosing loop, or one field of it.
    LoopVar {
        var: String,
        field: Option<String>,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(CompareOp, Box<Expr>, Box<Expr>),
}

/// A pipeline and every component and pipeline it runs, directly or through the pipelines it
/// calls: all that lowering needs.
#[derive(Clone, PartialEq, Debug)]
pub struct Program {
    pub root: ItemId,
    pub components: std::collections::BTreeMap<ItemId, Arc<Component>>,
    pub pipelines: std::collections::BTreeMap<ItemId, Arc<Pipeline>>,
}

impl Program {
    pub fn root(&self) -> Option<&Arc<Pipeline>> {
        self.pipelines.get(&self.root)
    }
}

/// Why no program could be gathered.
#[derive(Clone, PartialEq, Debug)]
pub enum ProgramError {
    /// The file or a file it imports has errors: nothing is built from it.
    HasErrors(Vec<(String, kfl_diagnostics::Diagnostic)>),
    NoPipeline {
        path: String,
    },
    NoSuchPipeline {
        name: String,
        available: Vec<String>,
    },
    SeveralPipelines {
        available: Vec<String>,
    },
    /// A name the checker resolved could not be found again: a bug.
    Internal(String),
}

impl std::fmt::Display for ProgramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProgramError::HasErrors(errors) => {
                write!(f, "the pipeline has {} error(s); run `kflc check`", errors.len())
            }
            ProgramError::NoPipeline { path } => write!(f, "{path} declares no pipeline"),
            ProgramError::NoSuchPipeline { name, available } => {
                write!(f, "there is no pipeline `{name}`; the file declares {}", available.join(", "))
            }
            ProgramError::SeveralPipelines { available } => {
                write!(f, "the file declares several pipelines ({}); choose one with --pipeline", available.join(", "))
            }
            ProgramError::Internal(message) => write!(f, "internal error: {message}"),
        }
    }
}

impl std::error::Error for ProgramError {}
