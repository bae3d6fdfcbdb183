//! When a task runs: `depends` (never `dependencies`), the ordering edges of nested exit handlers,
//! and the `when` expressions of the `if` branches between a scope and a task.

use std::collections::BTreeSet;

use kfl_dag::{CompareOp, Condition, GroupKind, IoType, LoopItems, Operand, ParamType, Task, Trigger, Value};
use petgraph::graph::NodeIndex;

use crate::emit::Emitter;
use crate::scopes::{Member, Scope};
use crate::text::{expr_str, float_literal};
use crate::values::{Local, Val};
use crate::ArgoError;

impl<'a> Emitter<'a> {
    pub(crate) fn add_nested_exit_edges(&mut self) {
        let dag = self.dag;
        for (x, group) in dag.groups.iter().enumerate() {
            if !matches!(group.kind, GroupKind::ExitHandler) {
                continue;
            }
            let Some(parent) = group.parent else { continue };
            let in_group = |task: &Task, g: usize| dag.group_chain(task.group).contains(&g);
            let exit_tasks: Vec<NodeIndex> = dag.graph.node_indices().filter(|n| in_group(&dag.graph[*n], x)).collect();
            let body: Vec<NodeIndex> = dag
                .graph
                .node_indices()
                .filter(|n| in_group(&dag.graph[*n], parent) && !in_group(&dag.graph[*n], x))
                .collect();
            for e in &exit_tasks {
                for b in &body {
                    self.extra_edges.push((*b, *e));
                }
                self.no_fail_fast.insert(self.scope_of(*e));
            }
        }
    }

    pub(crate) fn depends(&self, scope: Scope, member: Member) -> Option<String> {
        let dag = self.dag;
        let targets: &[NodeIndex] = match &member {
            Member::Task(t) => std::slice::from_ref(t),
            Member::Loop(g) => self.loop_tasks.get(g).map(Vec::as_slice).unwrap_or_default(),
        };
        let mut upstream = BTreeSet::new();
        for target in targets {
            if self.representative(*target, scope) != Some(member) {
                continue;
            }
            for source in self.edges_in.get(target.index()).map(Vec::as_slice).unwrap_or_default() {
                let Some(rep) = self.representative(*source, scope) else { continue };
                if rep != member {
                    upstream.insert(rep);
                }
            }
        }
        if upstream.is_empty() {
            return None;
        }
        let all_done = matches!(member, Member::Task(t) if dag.graph[t].trigger == Trigger::AllDone);
        let terms: Vec<String> = upstream
            .into_iter()
            .map(|m| {
                let name = self.member_name(scope, m);
                if all_done {
                    format!("({name}.Succeeded || {name}.Failed || {name}.Errored || {name}.Skipped || {name}.Omitted)")
                } else {
                    name
                }
            })
            .collect();
        Some(terms.join(" && "))
    }

    /// The conditions of the `if` branches between `scope` and the member.
    pub(crate) fn when(&mut self, scope: Scope, member: Member) -> Result<Option<String>, ArgoError> {
        let dag = self.dag;
        let group = match member {
            Member::Task(t) => dag.graph[t].group,
            Member::Loop(g) => dag.groups[g].parent,
        };
        let chain = dag.group_chain(group);
        let start = match scope {
            Scope::Loop(g) => chain.iter().position(|c| *c == g).map_or(0, |p| p + 1),
            Scope::Root | Scope::Exit => 0,
        };
        let mut parts = Vec::new();
        for g in &chain[start..] {
            if let GroupKind::Condition { condition, .. } = &dag.groups[*g].kind {
                parts.push(self.condition(condition, scope)?);
            }
        }
        if parts.is_empty() {
            return Ok(None);
        }
        Ok(Some(format!("{{{{={}}}}}", parts.join(" && "))))
    }

    pub(crate) fn condition(&mut self, condition: &Condition, scope: Scope) -> Result<String, ArgoError> {
        Ok(match condition {
            Condition::Is(operand) => self.operand(operand, Domain::Bool, scope)?,
            Condition::Compare(op, a, b) => {
                let ta = self.operand_type(a);
                let tb = self.operand_type(b);
                let numeric = |t: Option<ParamType>| matches!(t, Some(ParamType::Int | ParamType::Float));
                let domain = if numeric(ta) || numeric(tb) {
                    Domain::Number
                } else if ta == Some(ParamType::Bool) || tb == Some(ParamType::Bool) {
                    Domain::Bool
                } else {
                    Domain::String
                };
                let symbol = match op {
                    CompareOp::Eq => "==",
                    CompareOp::Ne => "!=",
                    other => other.symbol(),
                };
                format!("{} {symbol} {}", self.operand(a, domain, scope)?, self.operand(b, domain, scope)?)
            }
            Condition::And(a, b) => format!("({} && {})", self.condition(a, scope)?, self.condition(b, scope)?),
            Condition::Or(a, b) => format!("({} || {})", self.condition(a, scope)?, self.condition(b, scope)?),
            Condition::Not(a) => format!("!({})", self.condition(a, scope)?),
        })
    }

    pub(crate) fn operand_type(&self, operand: &Operand) -> Option<ParamType> {
        let dag = self.dag;
        match operand {
            Operand::Value(v) => Some(ParamType::of(v)),
            Operand::Param(p) => dag.params.iter().find(|x| x.name == *p).and_then(|x| match x.ty {
                IoType::Parameter(t) => Some(t),
                _ => None,
            }),
            Operand::Output { task, output } => {
                dag.components[dag.graph[*task].component].outputs.iter().find(|o| o.name == *output).and_then(|o| {
                    match o.ty {
                        IoType::Parameter(t) => Some(t),
                        _ => None,
                    }
                })
            }
            Operand::LoopItem { group, field } => match &dag.groups[*group].kind {
                GroupKind::Loop { items: LoopItems::Values(values), .. } => {
                    let first = values.first()?;
                    match field {
                        None => Some(ParamType::of(first)),
                        Some(f) => match first {
                            Value::Map(entries) => entries.iter().find(|(k, _)| k == f).map(|(_, v)| ParamType::of(v)),
                            _ => None,
                        },
                    }
                }
                _ => None,
            },
        }
    }

    /// An operand as an `expr` expression of the domain's type.
    pub(crate) fn operand(&mut self, operand: &Operand, domain: Domain, scope: Scope) -> Result<String, ArgoError> {
        if let Operand::Value(v) = operand {
            return Ok(match (domain, v) {
                (Domain::Number, Value::Int(i)) => i.to_string(),
                (Domain::Number, Value::Float(f)) => float_literal(*f),
                (Domain::Bool, Value::Bool(b)) => b.to_string(),
                (_, v) => match domain {
                    Domain::Number => format!("asFloat({})", expr_str(&v.to_plain_string())),
                    Domain::Bool => format!("({} == 'true')", expr_str(&v.to_plain_string())),
                    Domain::String => expr_str(&v.to_plain_string()),
                },
            });
        }
        let text = match operand {
            Operand::Param(p) => Local::WorkflowParam(p.clone()).expr()?,
            Operand::Output { task, output } => {
                self.resolve(&Val::Param { task: *task, output: output.clone() }, scope)?.expr()?
            }
            Operand::LoopItem { group, field } => {
                let item = self.resolve(&Val::LoopVar { group: *group }, scope)?.expr()?;
                match field {
                    None => item,
                    Some(f) => format!("string(fromJSON({item})[{}])", expr_str(f)),
                }
            }
            Operand::Value(_) => String::new(),
        };
        Ok(match domain {
            Domain::Number => format!("asFloat({text})"),
            Domain::Bool => format!("({text} == 'true')"),
            Domain::String => text,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Domain {
    Number,
    Bool,
    String,
}
