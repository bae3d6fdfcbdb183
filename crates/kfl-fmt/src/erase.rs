//! Span erasure, so that two trees can be compared for what they say rather than where they were.

use kfl_diagnostics::Span;
use kfl_syntax::ast::*;

const NOWHERE: Span = Span { start: 0, end: 0 };

pub(crate) fn erase_spans(file: &mut File) {
    for item in &mut file.items {
        match item {
            Item::Import(import) => {
                doc(&mut import.doc);
                match &mut import.target {
                    ImportTarget::Path(s) => string(s),
                    ImportTarget::Module(parts) => parts.iter_mut().for_each(ident),
                }
                import.span = NOWHERE;
            }
            Item::Artifact(artifact) => {
                doc(&mut artifact.doc);
                ident(&mut artifact.name);
                artifact.base.iter_mut().for_each(ident);
                artifact.span = NOWHERE;
            }
            Item::Component(component) => {
                doc(&mut component.doc);
                ident(&mut component.name);
                component.members.iter_mut().for_each(member);
                component.span = NOWHERE;
            }
            Item::Pipeline(pipeline) => {
                doc(&mut pipeline.doc);
                ident(&mut pipeline.name);
                pipeline.params.iter_mut().for_each(param);
                pipeline.body.iter_mut().for_each(stmt);
                pipeline.params_span = NOWHERE;
                pipeline.span = NOWHERE;
            }
        }
    }
}

fn ident(ident: &mut Ident) {
    ident.span = NOWHERE;
}

fn doc(doc: &mut Doc) {
    doc.span = None;
}

fn string(s: &mut StrLit) {
    s.span = NOWHERE;
}

fn member(member: &mut Member) {
    doc(&mut member.doc);
    match &mut member.kind {
        MemberKind::Input(p) => param(p),
        MemberKind::Output(output) => {
            ident(&mut output.name);
            type_expr(&mut output.ty);
            output.span = NOWHERE;
        }
        MemberKind::Script(script) => {
            string(&mut script.source);
            script.lang_span = NOWHERE;
            script.span = NOWHERE;
        }
        MemberKind::Block(block) => kv_block(block),
        MemberKind::Field(f) => field(f),
    }
    member.span = NOWHERE;
}

fn param(param: &mut Param) {
    doc(&mut param.doc);
    ident(&mut param.name);
    type_expr(&mut param.ty);
    param.default.iter_mut().for_each(expr);
    param.span = NOWHERE;
}

fn type_expr(ty: &mut TypeExpr) {
    ident(&mut ty.name);
    ty.args.iter_mut().for_each(type_expr);
    ty.span = NOWHERE;
}

fn field(field: &mut Field) {
    ident(&mut field.name);
    expr(&mut field.value);
    field.span = NOWHERE;
}

fn kv_block(block: &mut KvBlock) {
    ident(&mut block.name);
    for entry in &mut block.entries {
        key(&mut entry.key);
        expr(&mut entry.value);
        entry.span = NOWHERE;
    }
    block.span = NOWHERE;
}

fn key(key: &mut Key) {
    match key {
        Key::Ident(i) => ident(i),
        Key::Str(s) => string(s),
    }
}

fn stmt(stmt: &mut Stmt) {
    doc(&mut stmt.doc);
    match &mut stmt.kind {
        StmtKind::Task(task) => {
            task.binding.iter_mut().for_each(ident);
            call(&mut task.call);
            if let Some(overrides) = &mut task.overrides {
                for m in &mut overrides.members {
                    match m {
                        TaskMember::Block(b) => kv_block(b),
                        TaskMember::Field(f) => field(f),
                    }
                }
                overrides.span = NOWHERE;
            }
        }
        StmtKind::Field(f) => field(f),
        StmtKind::If(i) => if_stmt(i),
        StmtKind::For(f) => {
            ident(&mut f.var);
            expr(&mut f.iterable);
            f.parallel.iter_mut().for_each(expr);
            block(&mut f.body);
            f.span = NOWHERE;
        }
        StmtKind::Finally(b) => block(b),
        StmtKind::Output(output) => {
            ident(&mut output.name);
            output.ty.iter_mut().for_each(type_expr);
            expr(&mut output.value);
        }
    }
    stmt.span = NOWHERE;
}

fn if_stmt(i: &mut IfStmt) {
    expr(&mut i.cond);
    block(&mut i.then);
    match &mut i.otherwise {
        Some(Else::If(inner)) => if_stmt(inner),
        Some(Else::Block(b)) => block(b),
        None => {}
    }
    i.span = NOWHERE;
}

fn block(block: &mut Block) {
    block.stmts.iter_mut().for_each(stmt);
    block.span = NOWHERE;
}

fn call(call: &mut Call) {
    ident(&mut call.callee);
    for arg in &mut call.args {
        arg.name.iter_mut().for_each(ident);
        expr(&mut arg.value);
        arg.span = NOWHERE;
    }
    call.span = NOWHERE;
}

fn expr(e: &mut Expr) {
    match &mut e.kind {
        ExprKind::Str(s) => string(s),
        ExprKind::Number(_) | ExprKind::Bool(_) => {}
        ExprKind::List(items) => items.iter_mut().for_each(expr),
        ExprKind::Map(entries) => {
            for entry in entries {
                key(&mut entry.key);
                expr(&mut entry.value);
                entry.span = NOWHERE;
            }
        }
        ExprKind::Path(parts) => parts.iter_mut().for_each(ident),
        ExprKind::Field(inner, name) => {
            expr(inner);
            ident(name);
        }
        ExprKind::Call(c) => call(c),
        ExprKind::Not(inner) => expr(inner),
        ExprKind::Binary(_, op_span, lhs, rhs) => {
            *op_span = NOWHERE;
            expr(lhs);
            expr(rhs);
        }
        ExprKind::Paren(inner) => expr(inner),
    }
    e.span = NOWHERE;
}
