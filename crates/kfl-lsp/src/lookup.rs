//! Position → model: what the checker's model of a file ([`kfl_check::model::file_model`], the
//! model `kflc build` lowers) says is at a byte offset. Hover, completion, go to definition and
//! inlay hints read it, so that what the editor shows is, by construction, what the build emits.
//!
//! The lookup is thin: it finds the item around the offset and the model element whose span holds
//! it; types come from the model ([`expr_ty`] follows the rules of `kfl_dag::lower`). Items with
//! syntax errors are not in the model; there the features fall back to tokens ([`crate::context`]).

use kfl_check::model::file_model;
use kfl_check::{Db, SourceFile};
use kfl_diagnostics::Span;
use kfl_model::fields::{FieldSpec, Place};
use kfl_model::item::{
    Arg, Callee, Component, Expr, ExprKind, ItemId, OutputDecl, Param, Pipeline, PipelineOutput, Stmt, Task,
};
use kfl_model::settings::Setting;
use kfl_model::ty::Ty;

/// What is at an offset, as the model has it.
#[derive(Clone, Copy, Debug)]
pub enum At<'db> {
    /// A task's binding (or, without one, its callee's name, which then names the task too).
    TaskName {
        pipeline: &'db Pipeline,
        task: &'db Task,
    },
    /// The callee of a task.
    Callee {
        pipeline: &'db Pipeline,
        task: &'db Task,
    },
    /// The name of an argument of a task's call.
    ArgName {
        pipeline: &'db Pipeline,
        task: &'db Task,
        arg: &'db Arg,
    },
    /// The task of `task.output` or of `after`: `task` is the task named there.
    TaskRef {
        pipeline: &'db Pipeline,
        task: &'db Task,
        span: Span,
    },
    /// The output part of `task.output`.
    TaskOutput {
        pipeline: &'db Pipeline,
        task: &'db Task,
        output: &'db str,
        span: Span,
    },
    /// A pipeline parameter where it is declared or read.
    Param {
        pipeline: &'db Pipeline,
        param: &'db Param,
        span: Span,
    },
    /// A loop variable where it is declared or read; `decl` is the span that declares it.
    LoopVar {
        pipeline: &'db Pipeline,
        var: &'db str,
        decl: Span,
        span: Span,
    },
    /// A pipeline output where it is declared.
    PipelineOutput {
        pipeline: &'db Pipeline,
        output: &'db PipelineOutput,
    },
    /// The key of a setting (`retries`, `cpu` in `resources`, `A` in `env`), in `place`.
    Setting {
        setting: &'db Setting,
        place: Place,
        span: Span,
    },
    /// A component's input or output where it is declared.
    ComponentInput {
        component: &'db Component,
        input: &'db Param,
    },
    ComponentOutput {
        component: &'db Component,
        output: &'db OutputDecl,
    },
}

impl At<'_> {
    /// The span of source text the answer is about.
    pub fn span(&self) -> Span {
        match self {
            At::TaskName { task, .. } => task.name_span,
            At::Callee { task, .. } => task.callee_span,
            At::ArgName { arg, .. } => arg.name_span,
            At::TaskRef { span, .. }
            | At::TaskOutput { span, .. }
            | At::Param { span, .. }
            | At::LoopVar { span, .. }
            | At::Setting { span, .. } => *span,
            At::PipelineOutput { output, .. } => output.name_span,
            At::ComponentInput { input, .. } => input.name_span,
            At::ComponentOutput { output, .. } => output.name_span,
        }
    }
}

/// What the model has at `offset` of `file`: the innermost element whose span holds the offset or
/// ends right at it (the cursor after a name), preferring one that holds it.
pub fn model_at(db: &dyn Db, file: SourceFile, offset: usize) -> Option<At<'_>> {
    let model = file_model(db, file);
    let mut found: Vec<At<'_>> = Vec::new();
    for pipeline in &model.pipelines {
        if pipeline.origin.span.contains(offset) {
            pipeline_at(pipeline, offset, &mut found);
        }
    }
    for component in &model.components {
        if component.origin.span.contains(offset) {
            component_at(component, offset, &mut found);
        }
    }
    let inside = |at: &At<'_>| {
        let span = at.span();
        (span.start as usize) <= offset && offset < (span.end as usize)
    };
    let best = found.iter().position(inside).unwrap_or(0);
    found.get(best).copied()
}

fn component_at<'db>(component: &'db Component, offset: usize, out: &mut Vec<At<'db>>) {
    for input in &component.inputs {
        if input.name_span.contains(offset) {
            out.push(At::ComponentInput { component, input });
        }
    }
    for output in &component.outputs {
        if output.name_span.contains(offset) {
            out.push(At::ComponentOutput { component, output });
        }
    }
    settings_at(&component.settings, Place::Component, offset, out);
}

fn settings_at<'db>(settings: &'db [Setting], place: Place, offset: usize, out: &mut Vec<At<'db>>) {
    for setting in settings {
        let start = setting.origin.span.start as usize;
        let name = setting.key.as_deref().unwrap_or(setting.field.name);
        let span = Span::new(start, start + name.len());
        if span.contains(offset) {
            out.push(At::Setting { setting, place, span });
        }
    }
}

fn pipeline_at<'db>(pipeline: &'db Pipeline, offset: usize, out: &mut Vec<At<'db>>) {
    for param in &pipeline.params {
        if param.name_span.contains(offset) {
            out.push(At::Param { pipeline, param, span: param.name_span });
        }
    }
    for output in &pipeline.outputs {
        if output.name_span.contains(offset) {
            out.push(At::PipelineOutput { pipeline, output });
        }
        if output.value.span.contains(offset) {
            expr_at(pipeline, &output.value, &[], offset, out);
        }
    }
    stmts_at(pipeline, &pipeline.body, &mut Vec::new(), offset, out);
}

fn stmts_at<'db>(
    pipeline: &'db Pipeline,
    stmts: &'db [Stmt],
    loops: &mut Vec<(&'db str, Span)>,
    offset: usize,
    out: &mut Vec<At<'db>>,
) {
    for stmt in stmts {
        match stmt {
            Stmt::Task(task) => {
                if task.origin.span.contains(offset) {
                    task_at(pipeline, task, loops, offset, out);
                }
            }
            Stmt::If(i) => {
                if !i.origin.span.contains(offset) {
                    continue;
                }
                for branch in &i.branches {
                    if let Some(cond) = &branch.cond {
                        expr_at(pipeline, cond, loops, offset, out);
                    }
                    stmts_at(pipeline, &branch.body, loops, offset, out);
                }
            }
            Stmt::For(l) => {
                if !l.origin.span.contains(offset) {
                    continue;
                }
                expr_at(pipeline, &l.items, loops, offset, out);
                if l.var_span.contains(offset) {
                    out.push(At::LoopVar { pipeline, var: &l.var, decl: l.var_span, span: l.var_span });
                }
                loops.push((&l.var, l.var_span));
                stmts_at(pipeline, &l.body, loops, offset, out);
                loops.pop();
            }
            Stmt::Finally(f) => {
                if f.origin.span.contains(offset) {
                    stmts_at(pipeline, &f.body, loops, offset, out);
                }
            }
        }
    }
}

fn task_at<'db>(
    pipeline: &'db Pipeline,
    task: &'db Task,
    loops: &[(&'db str, Span)],
    offset: usize,
    out: &mut Vec<At<'db>>,
) {
    if task.callee_span.contains(offset) {
        out.push(At::Callee { pipeline, task });
    }
    if task.name_span.contains(offset) && task.name_span != task.callee_span {
        out.push(At::TaskName { pipeline, task });
    }
    for arg in &task.args {
        if arg.name_span.contains(offset) {
            out.push(At::ArgName { pipeline, task, arg });
        }
        if arg.value.span.contains(offset) {
            expr_at(pipeline, &arg.value, loops, offset, out);
        }
    }
    for (name, span) in task.after.iter().zip(&task.after_spans) {
        if span.contains(offset) {
            if let Some(target) = find_task(pipeline, name) {
                out.push(At::TaskRef { pipeline, task: target, span: *span });
            }
        }
    }
    let place = match task.callee {
        Callee::Component(_) => Place::Task,
        Callee::Pipeline(_) => Place::PipelineCall,
    };
    settings_at(&task.settings, place, offset, out);
}

fn expr_at<'db>(
    pipeline: &'db Pipeline,
    expr: &'db Expr,
    loops: &[(&'db str, Span)],
    offset: usize,
    out: &mut Vec<At<'db>>,
) {
    if !expr.span.contains(offset) {
        return;
    }
    match &expr.kind {
        ExprKind::Not(inner) => expr_at(pipeline, inner, loops, offset, out),
        ExprKind::And(l, r) | ExprKind::Or(l, r) | ExprKind::Compare(_, l, r) => {
            expr_at(pipeline, l, loops, offset, out);
            expr_at(pipeline, r, loops, offset, out);
        }
        ExprKind::Value(_) => {}
        ExprKind::Param(name) => {
            let (Some(param), Some(&span)) = (pipeline.params.iter().find(|p| &p.name == name), expr.parts.first())
            else {
                return;
            };
            if span.contains(offset) {
                out.push(At::Param { pipeline, param, span });
            }
        }
        ExprKind::LoopVar { var, .. } => {
            let (Some(&(_, decl)), Some(&span)) = (loops.iter().rev().find(|(v, _)| v == var), expr.parts.first())
            else {
                return;
            };
            if span.contains(offset) {
                out.push(At::LoopVar { pipeline, var, decl, span });
            }
        }
        ExprKind::Output { task, output } => {
            let Some(target) = find_task(pipeline, task) else { return };
            if let Some(&span) = expr.parts.first() {
                if span.contains(offset) {
                    out.push(At::TaskRef { pipeline, task: target, span });
                }
            }
            if let Some(&span) = expr.parts.get(1) {
                if span.contains(offset) {
                    out.push(At::TaskOutput { pipeline, task: target, output, span });
                }
            }
        }
    }
}

/// The first task of a pipeline with a name (the checker reports a second one).
pub fn find_task<'p>(pipeline: &'p Pipeline, name: &str) -> Option<&'p Task> {
    fn walk<'p>(stmts: &'p [Stmt], name: &str) -> Option<&'p Task> {
        stmts.iter().find_map(|stmt| match stmt {
            Stmt::Task(t) if t.name == name => Some(t),
            Stmt::Task(_) => None,
            Stmt::If(i) => i.branches.iter().find_map(|b| walk(&b.body, name)),
            Stmt::For(l) => walk(&l.body, name),
            Stmt::Finally(f) => walk(&f.body, name),
        })
    }
    walk(&pipeline.body, name)
}

/// The pipeline of a file whose span holds an offset.
pub fn pipeline_around(db: &dyn Db, file: SourceFile, offset: usize) -> Option<&Pipeline> {
    file_model(db, file).pipelines.iter().find(|p| p.origin.span.contains(offset)).map(|p| &**p)
}

// -------------------------------------------------------------------------------------------------
// Items by id

/// The file of the project at a model path.
pub fn file_of(db: &dyn Db, path: &str) -> Option<SourceFile> {
    db.project().files(db).get(path).copied()
}

/// A component or pipeline of the model, by id.
pub enum Item<'db> {
    Component(&'db Component),
    Pipeline(&'db Pipeline),
}

pub fn item<'db>(db: &'db dyn Db, id: &ItemId) -> Option<Item<'db>> {
    let model = file_model(db, file_of(db, &id.file)?);
    if let Some(c) = model.components.iter().find(|c| c.id == *id) {
        return Some(Item::Component(c));
    }
    model.pipelines.iter().find(|p| p.id == *id).map(|p| Item::Pipeline(p))
}

pub fn callee_item<'db>(db: &'db dyn Db, callee: &Callee) -> Option<Item<'db>> {
    match callee {
        Callee::Component(id) | Callee::Pipeline(id) => item(db, id),
    }
}

impl<'db> Item<'db> {
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Component(_) => "component",
            Item::Pipeline(_) => "pipeline",
        }
    }

    pub fn id(&self) -> &'db ItemId {
        match self {
            Item::Component(c) => &c.id,
            Item::Pipeline(p) => &p.id,
        }
    }

    pub fn name_span(&self) -> Span {
        match self {
            Item::Component(c) => c.name_span,
            Item::Pipeline(p) => p.name_span,
        }
    }

    /// Inputs of a component, parameters of a pipeline.
    pub fn inputs(&self) -> &'db [Param] {
        match self {
            Item::Component(c) => &c.inputs,
            Item::Pipeline(p) => &p.params,
        }
    }

    /// Outputs as callers see them, with their types, in declaration order.
    pub fn outputs(&self) -> Vec<(String, Ty)> {
        match self {
            Item::Component(c) => c.outputs.iter().map(|o| (o.name.clone(), o.ty.clone())).collect(),
            Item::Pipeline(p) => p.outputs.iter().map(|o| (o.name.clone(), o.ty.clone())).collect(),
        }
    }

    /// The span that declares an output's name.
    pub fn output_span(&self, name: &str) -> Option<Span> {
        match self {
            Item::Component(c) => c.outputs.iter().find(|o| o.name == name).map(|o| o.name_span),
            Item::Pipeline(p) => p.outputs.iter().find(|o| o.name == name).map(|o| o.name_span),
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Types

/// The type of the item of the loop declared at `decl`: the element type of the model's type of
/// the loop's list.
pub fn loop_var_ty(pipeline: &Pipeline, decl: Span) -> Ty {
    pipeline_loops(pipeline).iter().find(|(l, _)| l.var_span == decl).map_or(Ty::Unknown, |(l, _)| l.items.ty.element())
}

/// Every loop of a pipeline with the declaring spans of the loops around it, outermost first.
pub fn pipeline_loops(pipeline: &Pipeline) -> Vec<(&kfl_model::item::Loop, Vec<Span>)> {
    fn walk<'p>(stmts: &'p [Stmt], around: &mut Vec<Span>, out: &mut Vec<(&'p kfl_model::item::Loop, Vec<Span>)>) {
        for stmt in stmts {
            match stmt {
                Stmt::Task(_) => {}
                Stmt::If(i) => i.branches.iter().for_each(|b| walk(&b.body, around, out)),
                Stmt::For(l) => {
                    out.push((l, around.clone()));
                    around.push(l.var_span);
                    walk(&l.body, around, out);
                    around.pop();
                }
                Stmt::Finally(f) => walk(&f.body, around, out),
            }
        }
    }
    let mut out = Vec::new();
    walk(&pipeline.body, &mut Vec::new(), &mut out);
    out
}

// -------------------------------------------------------------------------------------------------
// The field table

/// How a field's value is written, for hover and completion details.
pub fn field_kind_text(spec: &FieldSpec) -> &'static str {
    use kfl_model::fields::FieldKind;
    use kfl_model::units::QuantityKind;
    match spec.kind {
        FieldKind::Quantity(QuantityKind::Cpu) => "CPU",
        FieldKind::Quantity(QuantityKind::Memory) => "memory",
        FieldKind::Quantity(QuantityKind::Gpu) => "GPU count",
        FieldKind::Quantity(QuantityKind::Duration) => "duration",
        FieldKind::Retries => "Int",
        FieldKind::Bool => "Bool",
        FieldKind::Text | FieldKind::LabelValue | FieldKind::Image => "String",
        FieldKind::Packages => "List<String>",
        FieldKind::Command => "List",
        FieldKind::Tasks => "List of tasks",
        FieldKind::Tolerations => "List<Map>",
        FieldKind::Env | FieldKind::Labels | FieldKind::Annotations => "block",
    }
}

/// The row of the field table a name written in a place means: a field, a keyed block, or an entry
/// of `resources`.
pub fn field_row(name: &str) -> Option<&'static FieldSpec> {
    kfl_model::fields::field(name).or_else(|| kfl_model::fields::block_entry("resources", name))
}
