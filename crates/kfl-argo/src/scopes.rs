//! Where each task lives: the DAG template instance it is a task of ([`Scope`]: the pipeline, the
//! exit handler, or one loop's body), what stands for it in each enclosing scope ([`Member`]: the
//! task itself or the loop around it), and the names of members and templates.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap as HashMap;

use kfl_dag::GroupKind;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::emit::Emitter;

/// A DAG template's instance: the pipeline, its exit handler, or one loop's body.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub(crate) enum Scope {
    Root,
    Exit,
    Loop(usize),
}

/// One task of a DAG template: a task of the pipeline, or a loop (its wrapper template).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub(crate) enum Member {
    Task(NodeIndex),
    Loop(usize),
}

impl<'a> Emitter<'a> {
    /// Everything `representative`, `members` and `depends` look up, computed once per emit.
    pub(crate) fn index(&mut self) {
        let dag = self.dag;
        let count = dag.graph.node_count();
        let mut reps: Vec<Vec<(Scope, Member)>> = vec![Vec::new(); count];
        let mut loop_tasks: HashMap<usize, Vec<NodeIndex>> = HashMap::default();
        let mut chains: HashMap<Scope, Vec<Scope>> = HashMap::default();
        for task in dag.graph.node_indices() {
            let scope = self.scope_of(task);
            let chain = chains.entry(scope).or_insert_with(|| self.scope_chain(scope));
            let rep = &mut reps[task.index()];
            for (at, s) in chain.iter().enumerate() {
                match chain.get(at + 1) {
                    None => rep.push((*s, Member::Task(task))),
                    Some(Scope::Loop(g)) => {
                        rep.push((*s, Member::Loop(*g)));
                        loop_tasks.entry(*g).or_default().push(task);
                    }
                    Some(_) => {}
                }
            }
        }
        let mut edges_in: Vec<Vec<NodeIndex>> = vec![Vec::new(); count];
        for e in dag.graph.edge_references() {
            edges_in[e.target().index()].push(e.source());
        }
        for (source, target) in &self.extra_edges {
            edges_in[target.index()].push(*source);
        }
        let mut sets: HashMap<Scope, BTreeSet<Member>> = HashMap::default();
        for rep in &reps {
            for (s, m) in rep {
                sets.entry(*s).or_default().insert(*m);
            }
        }
        // A loop without tasks still runs (and does nothing); keep it so that its position is kept.
        for (g, group) in dag.groups.iter().enumerate() {
            if matches!(group.kind, GroupKind::Loop { .. }) {
                if let Some(parent) = self.parent_scope(Scope::Loop(g)) {
                    sets.entry(parent).or_default().insert(Member::Loop(g));
                }
            }
        }
        // In the order the tasks run (a loop where its first task would run), for readability.
        let mut position = vec![usize::MAX; count];
        for (i, n) in dag.topological_order().into_iter().enumerate() {
            position[n.index()] = i;
        }
        let mut group_first = vec![usize::MAX; dag.groups.len()];
        for n in dag.graph.node_indices() {
            let mut current = dag.graph[n].group;
            while let Some(g) = current {
                group_first[g] = group_first[g].min(position[n.index()]);
                current = dag.groups[g].parent;
            }
        }
        let rank = |m: &Member| match m {
            Member::Task(t) => position[t.index()],
            Member::Loop(g) => group_first[*g],
        };
        self.scope_members = sets
            .into_iter()
            .map(|(scope, set)| {
                let mut members: Vec<Member> = set.into_iter().collect();
                members.sort_by_cached_key(|m| (rank(m), *m));
                (scope, members)
            })
            .collect();
        self.reps = reps;
        self.loop_tasks = loop_tasks;
        self.edges_in = edges_in;
    }

    pub(crate) fn scope_of_group(&self, group: Option<usize>) -> Scope {
        let mut current = group;
        while let Some(g) = current {
            match self.dag.groups[g].kind {
                GroupKind::Loop { .. } => return Scope::Loop(g),
                GroupKind::ExitHandler if self.dag.groups[g].parent.is_none() => return Scope::Exit,
                _ => {}
            }
            current = self.dag.groups[g].parent;
        }
        Scope::Root
    }

    pub(crate) fn scope_of(&self, task: NodeIndex) -> Scope {
        self.scope_of_group(self.dag.graph[task].group)
    }

    pub(crate) fn parent_scope(&self, scope: Scope) -> Option<Scope> {
        match scope {
            Scope::Loop(g) => Some(self.scope_of_group(self.dag.groups[g].parent)),
            Scope::Root | Scope::Exit => None,
        }
    }

    /// The scopes from the outermost to `scope`.
    pub(crate) fn scope_chain(&self, scope: Scope) -> Vec<Scope> {
        let mut chain = vec![scope];
        let mut current = scope;
        while let Some(parent) = self.parent_scope(current) {
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        chain
    }

    /// What stands for `task` in `scope`: the task itself, or the loop of `scope` it is in.
    pub(crate) fn representative(&self, task: NodeIndex, scope: Scope) -> Option<Member> {
        self.reps.get(task.index())?.iter().find(|(s, _)| *s == scope).map(|(_, m)| *m)
    }

    pub(crate) fn members(&self, scope: Scope) -> Vec<Member> {
        self.scope_members.get(&scope).cloned().unwrap_or_default()
    }

    /// The string under which a scope's instance stores its artifacts.
    pub(crate) fn scope_key(&self, scope: Scope) -> String {
        match scope {
            Scope::Root | Scope::Exit => "{{workflow.name}}".to_string(),
            Scope::Loop(_) => "{{inputs.parameters.kfl-scope}}/{{inputs.parameters.kfl-index}}".to_string(),
        }
    }

    pub(crate) fn member_name(&self, scope: Scope, member: Member) -> String {
        self.member_names.get(&(scope, member)).cloned().unwrap_or_else(|| match member {
            Member::Task(t) => self.dag.graph[t].k8s_name.clone(),
            Member::Loop(g) => self.dag.groups[g].k8s_name.clone(),
        })
    }

    pub(crate) fn assign_member_names(&mut self) {
        let mut scopes = vec![Scope::Root, Scope::Exit];
        for (g, group) in self.dag.groups.iter().enumerate() {
            if matches!(group.kind, GroupKind::Loop { .. }) {
                scopes.push(Scope::Loop(g));
            }
        }
        for scope in scopes {
            let mut used = BTreeSet::new();
            for member in self.members(scope) {
                let base = match member {
                    Member::Task(t) => self.dag.graph[t].k8s_name.clone(),
                    Member::Loop(g) => self.dag.groups[g].k8s_name.clone(),
                };
                let name = kfl_dag::unique_name(&base, &mut used);
                self.member_names.insert((scope, member), name);
            }
        }
    }

    pub(crate) fn reserve_template(&mut self, base: &str) -> String {
        kfl_dag::unique_name(base, &mut self.template_names)
    }
}
