//! From pest's parse tree to the AST.
//!
//! The grammar guarantees the shape of every pair, so the builders below only `match` on rules the
//! grammar allows at that place. If the grammar and this file ever disagree, the builders skip what
//! they do not expect rather than panic (and the test suite, which parses every example, fails).

use kfl_diagnostics::{Code, Diagnostic, Span};
use pest::iterators::Pair;
use pest::Parser as _;

use crate::ast::*;
use crate::chunk::PipelineHead;

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/kfl.pest"]
pub(crate) struct KflParser;

type P<'i> = Pair<'i, Rule>;

/// Builds AST nodes from pairs, shifting spans by `offset` (the position of the parsed chunk in the
/// whole file) and collecting the lexical errors the grammar accepts but the language does not.
pub(crate) struct Builder<'t> {
    pub offset: usize,
    pub errors: Vec<Diagnostic>,
    /// The whole file, and where each comment that ends at an offset starts: pest's spans of rules
    /// that end in an optional part include the blanks and comments skipped before it, which spans
    /// must not.
    pub text: &'t str,
    pub comment_starts_by_end: std::collections::HashMap<usize, usize>,
}

pub(crate) fn parse_file(text: &str) -> Result<Vec<P<'_>>, pest::error::Error<Rule>> {
    let mut pairs = KflParser::parse(Rule::file, text)?;
    let file = pairs.next().map(|p| p.into_inner().collect()).unwrap_or_default();
    Ok(file)
}

/// Parses one item at the start of `text`, returning it and how many bytes it took.
pub(crate) fn parse_item_prefix(text: &str) -> Result<(P<'_>, usize), pest::error::Error<Rule>> {
    let mut pairs = KflParser::parse(Rule::item, text)?;
    match pairs.next() {
        Some(pair) => {
            let end = pair.as_span().end();
            Ok((pair, end))
        }
        None => Err(pest::error::Error::new_from_pos(
            pest::error::ErrorVariant::CustomError { message: "no item".to_string() },
            pest::Position::from_start(text),
        )),
    }
}

/// Parses `text` as the piece `rule` (`item_only`, `head_only` or `stmts_only`), returning the
/// pair of that rule.
pub(crate) fn parse_piece(rule: Rule, text: &str) -> Result<P<'_>, pest::error::Error<Rule>> {
    let mut pairs = KflParser::parse(rule, text)?;
    pairs.next().ok_or_else(|| {
        pest::error::Error::new_from_pos(
            pest::error::ErrorVariant::CustomError { message: "nothing parsed".to_string() },
            pest::Position::from_start(text),
        )
    })
}

pub(crate) fn parse_item(text: &str) -> Result<Vec<P<'_>>, pest::error::Error<Rule>> {
    let mut pairs = KflParser::parse(Rule::item_only, text)?;
    Ok(pairs.next().map(|p| p.into_inner().collect()).unwrap_or_default())
}

/// What a span does not end in: blanks (pest's and Unicode's).
pub(crate) fn trim_blank_end(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
}

/// Where each comment starts, by where its text ends without trailing blanks (the key
/// [`Builder::span`] looks up).
pub(crate) fn comment_starts_by_end(comments: &[crate::Comment]) -> std::collections::HashMap<usize, usize> {
    comments.iter().map(|c| (c.span.start as usize + trim_blank_end(&c.text).len(), c.span.start as usize)).collect()
}

impl Builder<'_> {
    /// The span of a pair without the blanks and comments pest's span may end in. A doc comment
    /// is a pair of its own: its span is its text (without trailing blanks), not cut by itself.
    fn span(&self, pair: &P) -> Span {
        let s = pair.as_span();
        let start = s.start() + self.offset;
        let mut end = s.end() + self.offset;
        loop {
            let trimmed = start + trim_blank_end(&self.text[start..end]).len();
            match self.comment_starts_by_end.get(&trimmed) {
                Some(&comment_start) if comment_start > start => end = comment_start,
                _ => {
                    end = trimmed;
                    break;
                }
            }
        }
        Span::new(start, end)
    }

    fn ident(&self, pair: P) -> Ident {
        Ident { text: pair.as_str().to_string(), span: self.span(&pair) }
    }

    pub fn item(&mut self, pair: P) -> Option<Item> {
        let inner = pair.into_inner().next()?;
        Some(match inner.as_rule() {
            Rule::import => Item::Import(self.import(inner)),
            Rule::artifact => Item::Artifact(self.artifact(inner)?),
            Rule::component => Item::Component(self.component(inner)?),
            Rule::pipeline => Item::Pipeline(self.pipeline(inner)?),
            _ => return None,
        })
    }

    /// Collects leading `doc` pairs and returns the rest.
    fn docs<'i, I: Iterator<Item = P<'i>>>(&self, pairs: &mut std::iter::Peekable<I>) -> Doc {
        let mut doc = Doc::default();
        while let Some(p) = pairs.next_if(|p| p.as_rule() == Rule::doc) {
            let text = p.as_str().trim_end_matches('\r');
            let line = text.strip_prefix("///").unwrap_or(text);
            let line = line.strip_prefix(' ').unwrap_or(line);
            doc.lines.push(line.to_string());
            let span = self.span(&p);
            doc.span = Some(doc.span.map_or(span, |s: Span| s.cover(span)));
        }
        doc
    }

    fn import(&mut self, pair: P) -> Import {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        let mut target = ImportTarget::Module(Vec::new());
        for p in inner {
            match p.as_rule() {
                Rule::string => target = ImportTarget::Path(self.string(p)),
                Rule::module_path => target = ImportTarget::Module(p.into_inner().map(|i| self.ident(i)).collect()),
                _ => {}
            }
        }
        Import { doc, target, span }
    }

    fn artifact(&mut self, pair: P) -> Option<ArtifactDecl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        let mut idents = inner.filter(|p| p.as_rule() == Rule::ident);
        let name = self.ident(idents.next()?);
        let base = idents.next().map(|p| self.ident(p));
        Some(ArtifactDecl { doc, name, base, span })
    }

    fn component(&mut self, pair: P) -> Option<Component> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        let mut name = None;
        let mut members = Vec::new();
        for p in inner {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::component_member => members.extend(self.member(p)),
                _ => {}
            }
        }
        Some(Component { doc, name: name?, members, span })
    }

    fn member(&mut self, pair: P) -> Option<Member> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        let p = inner.next()?;
        let kind = match p.as_rule() {
            Rule::input_decl => MemberKind::Input(self.param(p, doc.clone())?),
            Rule::output_sig => {
                let span = self.span(&p);
                let mut it = p.into_inner().filter(|p| p.as_rule() != Rule::kw_output);
                let name = self.ident(it.next()?);
                let ty = self.type_expr(it.next()?)?;
                MemberKind::Output(OutputSig { name, ty, span })
            }
            Rule::script => {
                let span = self.span(&p);
                let mut it = p.into_inner();
                let lang_pair = it.next()?;
                let lang = if lang_pair.as_str() == "python" { ScriptLang::Python } else { ScriptLang::Sh };
                let lang_span = self.span(&lang_pair);
                let source = self.any_string(it.next()?);
                MemberKind::Script(Script { lang, lang_span, source, span })
            }
            Rule::kv_block => MemberKind::Block(self.kv_block(p)?),
            Rule::field => MemberKind::Field(self.field(p)?),
            _ => return None,
        };
        Some(Member { doc, kind, span })
    }

    /// `input name: T = default` (after `kw_input`) or a pipeline `param`.
    fn param(&mut self, pair: P, outer_doc: Doc) -> Option<Param> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().filter(|p| p.as_rule() != Rule::kw_input).peekable();
        let doc = self.docs(&mut inner);
        let doc = if doc.lines.is_empty() { outer_doc } else { doc };
        let name = self.ident(inner.next()?);
        let ty = self.type_expr(inner.next()?)?;
        let default = match inner.next() {
            Some(p) => Some(self.expr(p)?),
            None => None,
        };
        Some(Param { doc, name, ty, default, span })
    }

    fn type_expr(&mut self, pair: P) -> Option<TypeExpr> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next()?);
        let args = inner.filter_map(|p| self.type_expr(p)).collect();
        Some(TypeExpr { name, args, span })
    }

    fn field(&mut self, pair: P) -> Option<Field> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next()?);
        let value = self.expr(inner.next()?)?;
        Some(Field { name, value, span })
    }

    fn kv_block(&mut self, pair: P) -> Option<KvBlock> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next()?);
        let mut entries = Vec::new();
        for entry in inner {
            let span = self.span(&entry);
            let mut it = entry.into_inner();
            let key = self.key(it.next()?);
            let value = self.expr(it.next()?)?;
            entries.push(KvEntry { key, value, span });
        }
        Some(KvBlock { name, entries, span })
    }

    fn key(&mut self, pair: P) -> Key {
        match pair.as_rule() {
            Rule::string => Key::Str(self.string(pair)),
            _ => Key::Ident(self.ident(pair)),
        }
    }

    fn pipeline(&mut self, pair: P) -> Option<Pipeline> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let head = self.pipeline_head(inner.next()?)?;
        let body = inner.filter(|p| p.as_rule() == Rule::stmt).filter_map(|p| self.stmt(p)).collect();
        Some(head.into_pipeline(body, span, Vec::new()))
    }

    /// `/// doc  pipeline name(params) {`
    pub fn pipeline_head(&mut self, pair: P) -> Option<PipelineHead> {
        let text = pair.as_str();
        let pair_start = pair.as_span().start();
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        let mut name = None;
        let mut params = Vec::new();
        for p in inner {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::params => {
                    for param in p.into_inner() {
                        params.extend(self.param(param, Doc::default()));
                    }
                }
                _ => {}
            }
        }
        let name: Ident = name?;
        // `( … )`: from the first `(` after the name to the last `)` before the body's `{`.
        let after_name = name.span.end as usize - self.offset - pair_start;
        let open = text[after_name..].find('(').map(|n| after_name + n);
        let close = text.rfind(')').map(|n| n + 1);
        let params_span = match (open, close) {
            (Some(o), Some(c)) if o < c => Span::new(pair_start + o + self.offset, pair_start + c + self.offset),
            _ => name.span,
        };
        Some(PipelineHead { doc, name, params, params_span })
    }

    /// The statements of a `stmts_only` pair.
    pub fn stmts(&mut self, pair: P) -> Vec<Stmt> {
        pair.into_inner().filter(|p| p.as_rule() == Rule::stmt).filter_map(|p| self.stmt(p)).collect()
    }

    fn stmt(&mut self, pair: P) -> Option<Stmt> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().peekable();
        let doc = self.docs(&mut inner);
        let p = inner.next()?;
        let kind = match p.as_rule() {
            Rule::task_binding | Rule::task_call => {
                let mut binding = None;
                let mut call = None;
                let mut overrides = None;
                for q in p.into_inner() {
                    match q.as_rule() {
                        Rule::ident => binding = Some(self.ident(q)),
                        Rule::call => call = Some(self.call(q)?),
                        Rule::task_block => overrides = Some(self.task_block(q)?),
                        _ => {}
                    }
                }
                StmtKind::Task(TaskStmt { binding, call: call?, overrides })
            }
            Rule::field => StmtKind::Field(self.field(p)?),
            Rule::if_stmt => StmtKind::If(self.if_stmt(p)?),
            Rule::for_stmt => {
                let span = self.span(&p);
                let mut it = p.into_inner().filter(|q| !matches!(q.as_rule(), Rule::kw_for | Rule::kw_in));
                let var = self.ident(it.next()?);
                let iterable = self.expr(it.next()?)?;
                let mut parallel = None;
                let mut body = None;
                for q in it {
                    match q.as_rule() {
                        Rule::expr => parallel = Some(self.expr(q)?),
                        Rule::block => body = Some(self.block(q)?),
                        _ => {}
                    }
                }
                StmtKind::For(ForStmt { var, iterable, parallel, body: body?, span })
            }
            Rule::finally_stmt => StmtKind::Finally(self.block(p.into_inner().find(|q| q.as_rule() == Rule::block)?)?),
            Rule::pipeline_out => {
                let mut it = p.into_inner().filter(|q| q.as_rule() != Rule::kw_output);
                let name = self.ident(it.next()?);
                let mut ty = None;
                let mut value = None;
                for q in it {
                    match q.as_rule() {
                        Rule::type_expr => ty = Some(self.type_expr(q)?),
                        Rule::expr => value = Some(self.expr(q)?),
                        _ => {}
                    }
                }
                StmtKind::Output(PipelineOutput { name, ty, value: value? })
            }
            _ => return None,
        };
        Some(Stmt { doc, kind, span })
    }

    fn task_block(&mut self, pair: P) -> Option<TaskBlock> {
        let span = self.span(&pair);
        let mut members = Vec::new();
        for m in pair.into_inner() {
            let Some(q) = m.into_inner().next() else {
                continue;
            };
            match q.as_rule() {
                Rule::kv_block => members.extend(self.kv_block(q).map(TaskMember::Block)),
                Rule::field => members.extend(self.field(q).map(TaskMember::Field)),
                _ => {}
            }
        }
        Some(TaskBlock { members, span })
    }

    fn if_stmt(&mut self, pair: P) -> Option<IfStmt> {
        let span = self.span(&pair);
        let mut cond = None;
        let mut then = None;
        let mut otherwise = None;
        for q in pair.into_inner() {
            match q.as_rule() {
                Rule::expr => cond = Some(self.expr(q)?),
                Rule::block if then.is_none() => then = Some(self.block(q)?),
                Rule::block => otherwise = Some(Else::Block(self.block(q)?)),
                Rule::if_stmt => otherwise = Some(Else::If(Box::new(self.if_stmt(q)?))),
                _ => {}
            }
        }
        Some(IfStmt { cond: cond?, then: then?, otherwise, span })
    }

    fn block(&mut self, pair: P) -> Option<Block> {
        let span = self.span(&pair);
        let stmts = pair.into_inner().filter_map(|p| self.stmt(p)).collect();
        Some(Block { stmts, span })
    }

    fn call(&mut self, pair: P) -> Option<Call> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let callee = self.ident(inner.next()?);
        let mut args = Vec::new();
        for a in inner {
            let span = self.span(&a);
            let parts: Vec<P> = a.into_inner().collect();
            let (name, value) = match parts.as_slice() {
                [name, value] => (Some(self.ident(name.clone())), value.clone()),
                [value] => (None, value.clone()),
                _ => continue,
            };
            args.push(Arg { name, value: self.expr(value)?, span });
        }
        Some(Call { callee, args, span })
    }

    pub fn expr(&mut self, pair: P) -> Option<Expr> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr | Rule::primary => self.expr(pair.into_inner().next()?),
            Rule::or_expr | Rule::and_expr => {
                let op = if pair.as_rule() == Rule::or_expr { BinaryOp::Or } else { BinaryOp::And };
                let mut inner = pair.into_inner();
                // Each operand nests the tree one level deeper, and everything after the parser
                // recurses on it: a chain is limited like any other nesting.
                let operands = inner.len().div_ceil(2);
                if operands > crate::MAX_OPERANDS {
                    self.errors.push(
                        Diagnostic::new(
                            Code::SyntaxError,
                            span,
                            format!("more than {} operands of `{}` in one expression", crate::MAX_OPERANDS, op.text()),
                        )
                        .label("expression too long")
                        .help("split the condition, e.g. compute a Bool in a task"),
                    );
                    return Some(Expr { kind: ExprKind::Bool(true), span });
                }
                let mut lhs = self.expr(inner.next()?)?;
                while let Some(op_pair) = inner.next() {
                    let op_span = self.span(&op_pair);
                    let rhs = self.expr(inner.next()?)?;
                    let span = lhs.span.cover(rhs.span);
                    lhs = Expr { kind: ExprKind::Binary(op, op_span, Box::new(lhs), Box::new(rhs)), span };
                }
                Some(lhs)
            }
            Rule::not_expr => {
                let mut inner = pair.into_inner();
                let first = inner.next()?;
                if first.as_rule() == Rule::kw_not {
                    let operand = self.expr(inner.next()?)?;
                    Some(Expr { kind: ExprKind::Not(Box::new(operand)), span })
                } else {
                    self.expr(first)
                }
            }
            Rule::cmp_expr => {
                let mut inner = pair.into_inner();
                let lhs = self.expr(inner.next()?)?;
                let Some(op_pair) = inner.next() else {
                    return Some(lhs);
                };
                let op = match op_pair.as_str() {
                    "==" => BinaryOp::Eq,
                    "!=" => BinaryOp::Ne,
                    "<" => BinaryOp::Lt,
                    "<=" => BinaryOp::Le,
                    ">" => BinaryOp::Gt,
                    _ => BinaryOp::Ge,
                };
                let op_span = self.span(&op_pair);
                let rhs = self.expr(inner.next()?)?;
                Some(Expr { kind: ExprKind::Binary(op, op_span, Box::new(lhs), Box::new(rhs)), span })
            }
            Rule::postfix => {
                let mut inner = pair.into_inner();
                let head = inner.next()?;
                let head_is_name =
                    head.as_rule() == Rule::primary && head.clone().into_inner().next()?.as_rule() == Rule::ident;
                let mut expr = self.expr(head)?;
                for field in inner {
                    expr = expr.dot(self.ident(field), head_is_name);
                }
                Some(expr)
            }
            Rule::paren => Some(Expr { kind: ExprKind::Paren(Box::new(self.expr(pair.into_inner().next()?)?)), span }),
            Rule::list => {
                let items = pair.into_inner().filter_map(|p| self.expr(p)).collect();
                Some(Expr { kind: ExprKind::List(items), span })
            }
            Rule::map => {
                let mut entries = Vec::new();
                for e in pair.into_inner() {
                    let span = self.span(&e);
                    let mut it = e.into_inner();
                    let key = self.key(it.next()?);
                    let value = self.expr(it.next()?)?;
                    entries.push(MapEntry { key, value, span });
                }
                Some(Expr { kind: ExprKind::Map(entries), span })
            }
            Rule::string | Rule::triple_string => Some(Expr { kind: ExprKind::Str(self.any_string(pair)), span }),
            Rule::number => {
                let mut inner = pair.into_inner();
                let value = inner.next()?.as_str().to_string();
                let unit = inner.next().map(|u| u.as_str().to_string());
                Some(Expr { kind: ExprKind::Number(NumberLit { value, unit }), span })
            }
            Rule::boolean => Some(Expr { kind: ExprKind::Bool(pair.as_str() == "true"), span }),
            Rule::call => Some(Expr { kind: ExprKind::Call(self.call(pair)?), span }),
            Rule::ident => Some(Expr { kind: ExprKind::Path(vec![self.ident(pair)]), span }),
            _ => None,
        }
    }

    fn any_string(&mut self, pair: P) -> StrLit {
        if pair.as_rule() == Rule::triple_string {
            let span = self.span(&pair);
            let raw = pair.into_inner().next().map(|p| p.as_str()).unwrap_or_default();
            StrLit { value: crate::dedent(raw), triple: true, span }
        } else {
            self.string(pair)
        }
    }

    fn string(&mut self, pair: P) -> StrLit {
        let span = self.span(&pair);
        let raw_pair = pair.into_inner().next();
        let raw_start = raw_pair.as_ref().map_or(span.start as usize + 1, |p| self.span(p).start as usize);
        let raw = raw_pair.map(|p| p.as_str()).unwrap_or_default();
        let mut value = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            let Some((j, escaped)) = chars.next() else {
                break;
            };
            match escaped {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                '0' => value.push('\0'),
                '\\' => value.push('\\'),
                '"' => value.push('"'),
                '$' => value.push('$'),
                other => {
                    let at = Span::new(raw_start + i, raw_start + j + other.len_utf8());
                    self.errors.push(
                        Diagnostic::new(Code::InvalidEscape, at, format!("unknown escape `\\{other}`"))
                            .label("not an escape KFL knows")
                            .help("the escapes are \\n \\t \\r \\0 \\\\ \\\" and \\$; write \\\\ for a backslash"),
                    );
                    value.push(other);
                }
            }
        }
        StrLit { value, triple: false, span }
    }
}
