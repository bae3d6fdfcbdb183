//! What the checks of one piece of a pipeline read about the rest of it ([`PieceScope`]): the
//! parameters, and for each name the piece reads, what that name means. Nothing in it is numbered
//! in the order of the whole body, so an edit elsewhere that changes what is declared (a task added
//! above, another one renamed) leaves it equal for every piece that reads no name whose meaning
//! changed; salsa then keeps those pieces' checks.

use std::sync::Arc;

use super::scope::{ParamEntry, PieceSummary, PipelineScope, ScopeId, Starts};

/// Where a task sits: in a scope of the piece being checked (numbered from the piece's first), or
/// in a loop or branch of another piece (which no statement of this piece can be inside).
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Within {
    Here(ScopeId),
    Loop(Arc<str>),
    Branch,
}

/// A task as a piece's checks see it.
pub(crate) struct TaskView<'s> {
    pub name: &'s Arc<str>,
    pub callee: &'s Arc<str>,
    here: &'s [ScopeId],
    there: &'s [Within],
}

impl TaskView<'_> {
    /// The scopes the task is in, outermost first.
    pub(crate) fn scopes(&self) -> impl DoubleEndedIterator<Item = Within> + '_ {
        self.here.iter().map(|s| Within::Here(*s)).chain(self.there.iter().cloned())
    }

    pub(crate) fn is_top_level(&self) -> bool {
        self.here.is_empty() && self.there.is_empty()
    }
}

/// A task of another piece that this piece reads.
#[derive(PartialEq, Eq, Debug)]
struct Foreign {
    name: Arc<str>,
    callee: Arc<str>,
    scopes: Vec<Within>,
}

/// What a name the piece reads means in its pipeline.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct NameInfo {
    /// The parameter of that name (its index in [`PieceScope::params`]).
    pub param: Option<u32>,
    /// The first task of that name (a handle for [`PieceScope::task`]), unless a parameter has it.
    pub task: Option<u32>,
    /// Whether a loop of the body is over a variable of that name.
    pub loop_var: bool,
}

/// See the module's documentation. Tasks are handles: the piece's own tasks in order from 0, then
/// the other pieces' tasks it reads.
#[derive(Debug)]
pub(crate) struct PieceScope {
    /// The pipeline's name.
    pub name: String,
    /// Statements of the body did not parse.
    pub broken: bool,
    pub params: Arc<Vec<ParamEntry>>,
    /// What the piece declares (what its text is: equal for the same piece).
    summary: Arc<PieceSummary>,
    foreign: Vec<Foreign>,
    /// What each name of `summary.reads`, then of `summary.callees`, means.
    reads: Vec<NameInfo>,
    callees: Vec<NameInfo>,
    /// For each of the piece's top-level outputs, whether it is the first of its name in the body.
    pub first_outputs: Vec<bool>,
    /// The whole scope, only when the piece reads a name that is not found: what to suggest then
    /// depends on every name of the body.
    everything: Option<Arc<PipelineScope>>,
    /// `reads` and `callees` by name, for a piece that reads many names (a whole body, as the CLI
    /// checks it); made of the fields above.
    by_name: Option<rustc_hash::FxHashMap<Arc<str>, NameInfo>>,
}

/// Equal when every field is, but the index made of them.
impl PartialEq for PieceScope {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.broken == other.broken
            && self.params == other.params
            && self.summary == other.summary
            && self.foreign == other.foreign
            && self.reads == other.reads
            && self.callees == other.callees
            && self.first_outputs == other.first_outputs
            && self.everything == other.everything
    }
}

impl Eq for PieceScope {}

/// A piece reading more names than this gets an index by name.
const INDEXED: usize = 64;

impl PieceScope {
    /// The scope of the piece that declares `summary`, in `scope`. `starts`: where the piece's
    /// tasks and outputs start in the whole body, asked for only when a name is declared both in
    /// this piece and in another (which one comes first then depends on the order of the pieces).
    pub(crate) fn new(
        scope: &Arc<PipelineScope>,
        summary: &Arc<PieceSummary>,
        starts: impl FnOnce() -> Option<Starts>,
    ) -> Self {
        let mut starts = Some(starts);
        let mut known: Option<Option<Starts>> = None;
        let mut start = move || *known.get_or_insert_with(|| starts.take().and_then(|f| f()));
        let mut piece = PieceScope {
            name: scope.name.clone(),
            broken: scope.broken,
            params: scope.params.clone(),
            summary: summary.clone(),
            foreign: Vec::new(),
            reads: Vec::with_capacity(summary.reads.len()),
            callees: Vec::with_capacity(summary.callees.len()),
            first_outputs: Vec::with_capacity(summary.outputs.len()),
            everything: None,
            by_name: None,
        };
        let local_tasks = summary.tasks.len() as u32;
        let mut meaning = |piece: &mut PieceScope, name: &Arc<str>| {
            let param = scope.params.iter().position(|p| *p.name == **name).map(|p| p as u32);
            let task = match (param, scope.names.get(name)) {
                (None, Some(&(first, count, first_piece, _))) => {
                    let here = || summary.declared.binary_search_by(|(n, ..)| n.cmp(name)).ok();
                    let first_here = if count == 1 {
                        // The only task of that name: here if this piece declares it. (The scope
                        // holds this very summary if it was made after this piece's text last
                        // changed, else an older one that declares the same: the pointer is only
                        // a shortcut.)
                        let same = scope.summary(first_piece).is_some_and(|s| Arc::ptr_eq(s, summary));
                        if same || here().is_some() {
                            scope.starts.get(first_piece as usize).map(|s| first - s.task)
                        } else {
                            None
                        }
                    } else {
                        // Declared again (an error): which comes first depends on where this piece is.
                        match here() {
                            None => None,
                            Some(i) if summary.declared[i].2 == count => Some(summary.declared[i].1),
                            Some(_) => start().and_then(|s| first.checked_sub(s.task)).filter(|&l| l < local_tasks),
                        }
                    };
                    match first_here {
                        Some(local) => Some(local),
                        None => piece.add_foreign(scope, first),
                    }
                }
                _ => None,
            };
            NameInfo { param, task, loop_var: scope.is_loop_var(name) }
        };
        for name in &summary.reads {
            let info = meaning(&mut piece, name);
            piece.reads.push(info);
        }
        for name in &summary.callees {
            let info = match summary.reads.binary_search(name) {
                Ok(i) => piece.reads[i],
                Err(_) => meaning(&mut piece, name),
            };
            piece.callees.push(info);
        }
        let mut outputs_here: rustc_hash::FxHashMap<&str, (usize, usize)> = rustc_hash::FxHashMap::default();
        for (local, output) in summary.outputs.iter().enumerate() {
            outputs_here.entry(&output.name).or_insert((local, 0)).1 += 1;
        }
        for (local, output) in summary.outputs.iter().enumerate() {
            let (first_local, mine) = outputs_here[output.name.as_str()];
            let first = first_local == local
                && match scope.first_outputs.get(&output.name) {
                    // The first of its name is here unless another piece has one before.
                    Some(&(first, all)) => {
                        all as usize == mine || start().is_some_and(|s| s.output + local as u32 == first)
                    }
                    None => true,
                };
            piece.first_outputs.push(first);
        }
        // (A callee's name that means nothing here is an item's, found elsewhere.)
        if piece.reads.iter().any(|n| *n == NameInfo::default()) {
            piece.everything = Some(scope.clone());
        }
        if summary.reads.len() + summary.callees.len() > INDEXED {
            let names = summary.reads.iter().zip(&piece.reads).chain(summary.callees.iter().zip(&piece.callees));
            // A name both read and called means the same either way.
            piece.by_name = Some(names.map(|(name, info)| (name.clone(), *info)).collect());
        }
        piece
    }

    /// Adds task `index` of the body, of another piece, and returns its handle.
    fn add_foreign(&mut self, scope: &PipelineScope, index: u32) -> Option<u32> {
        let task = scope.task(index)?;
        let scopes = task
            .scopes
            .iter()
            .map(|s| match *s {
                ScopeId::Loop(i) => Within::Loop(scope.loops[i as usize].var.as_str().into()),
                ScopeId::Branch(_) => Within::Branch,
            })
            .collect();
        self.foreign.push(Foreign { name: task.name.clone(), callee: task.callee.clone(), scopes });
        Some(self.summary.tasks.len() as u32 + self.foreign.len() as u32 - 1)
    }

    /// What `name` means: a name the piece reads or calls.
    pub(crate) fn meaning(&self, name: &str) -> NameInfo {
        if let Some(by_name) = &self.by_name {
            if let Some(info) = by_name.get(name) {
                return *info;
            }
        }
        let find = |names: &[Arc<str>]| names.binary_search_by(|n| (**n).cmp(name)).ok();
        match (find(&self.summary.reads), find(&self.summary.callees)) {
            (Some(i), _) => self.reads[i],
            (None, Some(i)) => self.callees[i],
            (None, None) => {
                debug_assert!(false, "`{name}` was not gathered as a name the piece reads");
                NameInfo::default()
            }
        }
    }

    /// The first task of that name, unless a parameter has it.
    pub(crate) fn task_named(&self, name: &str) -> Option<u32> {
        self.meaning(name).task
    }

    pub(crate) fn task(&self, handle: u32) -> Option<TaskView<'_>> {
        let local = self.summary.tasks.len();
        match self.summary.tasks.get(handle as usize) {
            Some(t) => Some(TaskView { name: &t.name, callee: &t.callee, here: &t.scopes, there: &[] }),
            None => {
                let f = self.foreign.get((handle as usize).checked_sub(local)?)?;
                Some(TaskView { name: &f.name, callee: &f.callee, here: &[], there: &f.scopes })
            }
        }
    }

    /// The variable of the piece's loop `index` (numbered from the piece's first).
    pub(crate) fn loop_var(&self, index: u32) -> Option<&str> {
        self.summary.loops.get(index as usize).map(|l| l.var.as_str())
    }

    /// The names of the body's tasks, each once, but those a parameter has (for suggestions; only
    /// when a name the piece reads was not found).
    pub(crate) fn task_names(&self) -> Vec<&str> {
        self.everything.as_ref().map(|s| s.task_names()).unwrap_or_default()
    }

    /// The names of the tasks that call `callee` (for help; only when a name was not found).
    pub(crate) fn callers(&self, callee: &str) -> Vec<&str> {
        let Some(scope) = &self.everything else { return Vec::new() };
        scope.task_decls().filter(|(_, _, t)| *t.callee == *callee).map(|(_, _, t)| &*t.name).collect()
    }
}
