//! The fast path of [`crate::chunk::parse_chunk`]: a hand-written recursive-descent parser for one
//! chunk, about ten times faster than pest.
//!
//! `grammar/kfl.pest` stays the definition of the syntax. This parser mirrors its rules one by one
//! (each function names the rule it follows) and makes the same choices a PEG parser makes: ordered
//! alternatives, greedy repetition, no implicit blanks inside atomic rules. It is allowed to give up:
//! whenever it meets something it does not handle exactly as pest would (a syntax error, an escape
//! the builder would report, a chain of more than [`crate::MAX_OPERANDS`] operands, a U+FEFF that
//! pest skips as a blank), it returns `None` and pest parses the chunk, with its error messages.
//!
//! Invariant (checked by `tests/fast.rs` on every `.kfl` file of the repository and thousands of
//! edited variants, and by the `parse_check` fuzz target): when this parser returns a tree, pest
//! accepts the same text and builds the same tree, spans included.

use kfl_diagnostics::Span;

use crate::ast::*;
use crate::chunk::{ChunkKind, ChunkTree, PipelineHead};
use crate::parser::trim_blank_end;

/// Parses one chunk, or `None` when pest must decide.
pub(crate) fn parse_chunk(kind: ChunkKind, text: &str) -> Option<ChunkTree> {
    if text.contains('\u{FEFF}') {
        return None;
    }
    let mut p = Parser { text, b: text.as_bytes(), pos: 0, last: 0, word: std::cell::Cell::new((usize::MAX, 0)) };
    let tree = match kind {
        ChunkKind::Item => ChunkTree::Item(p.item()?),
        ChunkKind::PipelineHead => ChunkTree::PipelineHead(p.pipeline_head()?),
        ChunkKind::Statements => {
            let mut stmts = Vec::new();
            while !p.at_eoi() {
                stmts.push(p.stmt()?);
            }
            ChunkTree::Statements(stmts)
        }
        ChunkKind::PipelineEnd => return None,
    };
    p.at_eoi().then_some(tree)
}

fn is_keyword(word: &str) -> bool {
    crate::KEYWORDS.contains(&word)
}

fn is_ident_byte(b: u8) -> bool {
    IDENT_BYTES[usize::from(b)]
}

/// `ident_char`, by byte.
static IDENT_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    table
};

struct Parser<'t> {
    text: &'t str,
    b: &'t [u8],
    /// Where parsing is.
    pos: usize,
    /// The end of the last token taken: where a node that ends here ends.
    last: usize,
    /// The last word found, `(start, length)`: a statement's first word is asked for by every
    /// alternative tried (`if`, `for`, `output`, a name…).
    word: std::cell::Cell<(usize, usize)>,
}

impl<'t> Parser<'t> {
    // -- Blanks and tokens ------------------------------------------------------------------------

    /// `WHITESPACE` and `COMMENT`, as pest skips them between the tokens of a non-atomic rule.
    fn skip(&mut self) {
        loop {
            while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.b.get(self.pos) {
                self.pos += 1;
            }
            let rest = &self.b[self.pos..];
            if rest.starts_with(b"//") && (rest.starts_with(b"////") || !rest.starts_with(b"///")) {
                self.pos = self.line_end(self.pos);
            } else {
                return;
            }
        }
    }

    fn line_end(&self, from: usize) -> usize {
        self.b[from..].iter().position(|&c| c == b'\n').map_or(self.b.len(), |n| from + n)
    }

    /// `EOI` after blanks.
    fn at_eoi(&mut self) -> bool {
        self.skip();
        self.pos == self.b.len()
    }

    /// The next byte after blanks.
    fn peek(&mut self) -> Option<u8> {
        self.skip();
        self.b.get(self.pos).copied()
    }

    fn take(&mut self, n: usize) -> Span {
        let span = Span::new(self.pos, self.pos + n);
        self.pos += n;
        self.last = self.pos;
        span
    }

    /// A one-byte token.
    fn punct(&mut self, c: u8) -> Option<Span> {
        (self.peek()? == c).then(|| self.take(1))
    }

    fn eat(&mut self, c: u8) -> bool {
        self.punct(c).is_some()
    }

    /// The word (`ident_char`s after a letter or `_`) at the current position, after blanks.
    fn word(&mut self) -> Option<&'t str> {
        self.skip();
        self.word_at(self.pos)
    }

    fn word_at(&self, at: usize) -> Option<&'t str> {
        let first = *self.b.get(at)?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let (cached_at, cached_len) = self.word.get();
        if cached_at == at {
            return Some(&self.text[at..at + cached_len]);
        }
        let len = self.b[at..].iter().position(|&c| !is_ident_byte(c)).unwrap_or(self.b.len() - at);
        self.word.set((at, len));
        Some(&self.text[at..at + len])
    }

    /// The first byte after the word at the current position and the blanks after it.
    fn after_word(&mut self, word: &str) -> Option<u8> {
        let save = self.pos;
        self.pos += word.len();
        let next = self.peek();
        self.pos = save;
        next
    }

    /// `kw_*`: the keyword as a whole word.
    fn keyword(&mut self, kw: &str) -> Option<Span> {
        (self.word()? == kw).then(|| self.take(kw.len()))
    }

    /// `ident`: a word that is not a keyword.
    fn ident(&mut self) -> Option<Ident> {
        let word = self.word()?;
        if is_keyword(word) {
            return None;
        }
        let span = self.take(word.len());
        Some(Ident { text: word.to_string(), span })
    }

    /// `doc*`
    fn docs(&mut self) -> Doc {
        let mut doc = Doc::default();
        loop {
            self.skip();
            let rest = &self.b[self.pos..];
            if !rest.starts_with(b"///") || rest.starts_with(b"////") {
                return doc;
            }
            let start = self.pos;
            let end = self.line_end(start);
            let raw = &self.text[start..end];
            let text = raw.trim_end_matches('\r');
            let line = text.strip_prefix("///").unwrap_or(text);
            let line = line.strip_prefix(' ').unwrap_or(line);
            doc.lines.push(line.to_string());
            let span = Span::new(start, start + trim_blank_end(raw).len());
            doc.span = Some(doc.span.map_or(span, |s: Span| s.cover(span)));
            self.pos = end;
            self.last = end;
        }
    }

    /// Where a node that starts with `doc` (maybe empty) and then the current token starts.
    fn start_after(&mut self, doc: &Doc) -> usize {
        self.skip();
        doc.span.map_or(self.pos, |s| s.start as usize)
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.last)
    }

    // -- Items ------------------------------------------------------------------------------------

    /// `item`
    fn item(&mut self) -> Option<Item> {
        let save = self.pos;
        let doc = self.docs();
        let start = self.start_after(&doc);
        match self.word()? {
            "import" => {
                self.take(6);
                let target = if self.peek()? == b'"' {
                    ImportTarget::Path(self.string()?)
                } else {
                    let mut parts = vec![self.ident()?];
                    while self.eat(b'.') {
                        parts.push(self.ident()?);
                    }
                    ImportTarget::Module(parts)
                };
                Some(Item::Import(Import { doc, target, span: self.span_from(start) }))
            }
            "artifact" => {
                self.take(8);
                let name = self.ident()?;
                let base = if self.eat(b':') { Some(self.ident()?) } else { None };
                Some(Item::Artifact(ArtifactDecl { doc, name, base, span: self.span_from(start) }))
            }
            "component" => {
                self.take(9);
                let name = self.ident()?;
                self.punct(b'{')?;
                let mut members = Vec::new();
                while !self.eat(b'}') {
                    members.push(self.member()?);
                }
                Some(Item::Component(Component { doc, name, members, span: self.span_from(start) }))
            }
            "pipeline" => {
                self.pos = save;
                let head = self.pipeline_head()?;
                let mut body = Vec::new();
                while !self.eat(b'}') {
                    body.push(self.stmt()?);
                }
                Some(Item::Pipeline(head.into_pipeline(body, self.span_from(start), Vec::new())))
            }
            _ => None,
        }
    }

    /// `component_member`
    fn member(&mut self) -> Option<Member> {
        let doc = self.docs();
        let start = self.start_after(&doc);
        let word = self.word()?;
        let at = self.pos;
        let kind = match word {
            "input" => {
                self.take(5);
                MemberKind::Input(self.param_rest(at, doc.clone())?)
            }
            "output" => {
                self.take(6);
                let name = self.ident()?;
                self.punct(b':')?;
                let ty = self.type_expr()?;
                MemberKind::Output(OutputSig { name, ty, span: self.span_from(at) })
            }
            "python" | "sh" if self.after_word(word) == Some(b'"') => {
                let lang = if word == "python" { ScriptLang::Python } else { ScriptLang::Sh };
                let lang_span = self.take(word.len());
                let source = self.any_string()?;
                MemberKind::Script(Script { lang, lang_span, source, span: self.span_from(at) })
            }
            _ => match self.after_word(word)? {
                b'{' => MemberKind::Block(self.kv_block()?),
                b'=' => MemberKind::Field(self.field()?),
                _ => return None,
            },
        };
        Some(Member { doc, kind, span: self.span_from(start) })
    }

    /// The rest of `input_decl` after `input`, or of a pipeline `param` after its docs: `name: T = default`.
    fn param_rest(&mut self, start: usize, doc: Doc) -> Option<Param> {
        let name = self.ident()?;
        self.punct(b':')?;
        let ty = self.type_expr()?;
        let default = if self.eat(b'=') { Some(self.expr()?) } else { None };
        Some(Param { doc, name, ty, default, span: self.span_from(start) })
    }

    /// `type_expr`
    fn type_expr(&mut self) -> Option<TypeExpr> {
        let name = self.ident()?;
        let start = name.span.start as usize;
        let mut args = Vec::new();
        if self.eat(b'<') {
            args.push(self.type_expr()?);
            while self.eat(b',') {
                args.push(self.type_expr()?);
            }
            self.punct(b'>')?;
        }
        Some(TypeExpr { name, args, span: self.span_from(start) })
    }

    /// `field`
    fn field(&mut self) -> Option<Field> {
        let name = self.ident()?;
        let start = name.span.start as usize;
        self.punct(b'=')?;
        let value = self.expr()?;
        Some(Field { name, value, span: self.span_from(start) })
    }

    /// `kv_block`
    fn kv_block(&mut self) -> Option<KvBlock> {
        let name = self.ident()?;
        let start = name.span.start as usize;
        self.punct(b'{')?;
        let mut entries = Vec::new();
        while !self.eat(b'}') {
            let key = self.key()?;
            let entry_start = key.span().start as usize;
            self.punct(b'=')?;
            let value = self.expr()?;
            entries.push(KvEntry { key, value, span: self.span_from(entry_start) });
            self.eat(b',');
        }
        Some(KvBlock { name, entries, span: self.span_from(start) })
    }

    /// `ident | string`
    fn key(&mut self) -> Option<Key> {
        if self.peek()? == b'"' {
            Some(Key::Str(self.string()?))
        } else {
            Some(Key::Ident(self.ident()?))
        }
    }

    /// `pipeline_head`: `/// doc  pipeline name(params) {`
    fn pipeline_head(&mut self) -> Option<PipelineHead> {
        let doc = self.docs();
        let head_start = self.start_after(&doc);
        self.keyword("pipeline")?;
        let name = self.ident()?;
        self.punct(b'(')?;
        let mut params = Vec::new();
        if self.peek()? != b')' {
            loop {
                let doc = self.docs();
                let start = self.start_after(&doc);
                params.push(self.param_rest(start, doc)?);
                if !self.eat(b',') || self.peek()? == b')' {
                    break;
                }
            }
        }
        self.punct(b')')?;
        self.punct(b'{')?;
        // `( … )` as the builder finds it in the head's text: from the first `(` after the name to
        // the last `)` before the body's `{`.
        let text = &self.text[head_start..self.last];
        let after_name = name.span.end as usize - head_start;
        let open = text[after_name..].find('(').map(|n| after_name + n);
        let close = text.rfind(')').map(|n| n + 1);
        let params_span = match (open, close) {
            (Some(o), Some(c)) if o < c => Span::new(head_start + o, head_start + c),
            _ => name.span,
        };
        Some(PipelineHead { doc, name, params, params_span })
    }

    // -- Statements -------------------------------------------------------------------------------

    /// `stmt`
    fn stmt(&mut self) -> Option<Stmt> {
        let doc = self.docs();
        let start = self.start_after(&doc);
        let word = self.word()?;
        let kind = match word {
            "if" => StmtKind::If(self.if_stmt()?),
            "for" => {
                let at = self.take(3).start as usize;
                let var = self.ident()?;
                self.keyword("in")?;
                let iterable = self.expr()?;
                let parallel = if self.keyword("parallel").is_some() { Some(self.expr()?) } else { None };
                let body = self.block()?;
                StmtKind::For(ForStmt { var, iterable, parallel, body, span: self.span_from(at) })
            }
            "finally" => {
                self.take(7);
                StmtKind::Finally(self.block()?)
            }
            "output" => {
                self.take(6);
                let name = self.ident()?;
                let ty = if self.eat(b':') { Some(self.type_expr()?) } else { None };
                self.punct(b'=')?;
                let value = self.expr()?;
                StmtKind::Output(PipelineOutput { name, ty, value })
            }
            _ if is_keyword(word) => return None,
            _ => match self.after_word(word)? {
                // `task_binding`, else `field`
                b'=' => {
                    let name = self.ident()?;
                    self.punct(b'=')?;
                    let save = (self.pos, self.last);
                    match self.call() {
                        Some(call) => {
                            let overrides = self.task_block()?;
                            StmtKind::Task(TaskStmt { binding: Some(name), call, overrides })
                        }
                        None => {
                            (self.pos, self.last) = save;
                            let value = self.expr()?;
                            let span = self.span_from(name.span.start as usize);
                            StmtKind::Field(Field { name, value, span })
                        }
                    }
                }
                // `task_call`
                b'(' => {
                    let call = self.call()?;
                    let overrides = self.task_block()?;
                    StmtKind::Task(TaskStmt { binding: None, call, overrides })
                }
                _ => return None,
            },
        };
        Some(Stmt { doc, kind, span: self.span_from(start) })
    }

    /// `task_block?` — `Some(None)` when there is none, `None` when one starts and does not parse.
    fn task_block(&mut self) -> Option<Option<TaskBlock>> {
        if self.peek() != Some(b'{') {
            return Some(None);
        }
        let start = self.take(1).start as usize;
        let mut members = Vec::new();
        while !self.eat(b'}') {
            let word = self.word()?;
            members.push(match self.after_word(word)? {
                b'{' => TaskMember::Block(self.kv_block()?),
                b'=' => TaskMember::Field(self.field()?),
                _ => return None,
            });
        }
        Some(Some(TaskBlock { members, span: self.span_from(start) }))
    }

    /// `if_stmt`
    fn if_stmt(&mut self) -> Option<IfStmt> {
        let start = self.keyword("if")?.start as usize;
        let cond = self.expr()?;
        let then = self.block()?;
        let otherwise = if self.keyword("else").is_some() {
            if self.word() == Some("if") {
                Some(Else::If(Box::new(self.if_stmt()?)))
            } else {
                Some(Else::Block(self.block()?))
            }
        } else {
            None
        };
        Some(IfStmt { cond, then, otherwise, span: self.span_from(start) })
    }

    /// `block`
    fn block(&mut self) -> Option<Block> {
        let start = self.punct(b'{')?.start as usize;
        let mut stmts = Vec::new();
        while !self.eat(b'}') {
            stmts.push(self.stmt()?);
        }
        Some(Block { stmts, span: self.span_from(start) })
    }

    /// `call`
    fn call(&mut self) -> Option<Call> {
        let callee = self.ident()?;
        let start = callee.span.start as usize;
        self.punct(b'(')?;
        let mut args = Vec::new();
        if self.peek()? != b')' {
            loop {
                args.push(self.arg()?);
                if !self.eat(b',') || self.peek()? == b')' {
                    break;
                }
            }
        }
        self.punct(b')')?;
        Some(Call { callee, args, span: self.span_from(start) })
    }

    /// `arg`
    fn arg(&mut self) -> Option<Arg> {
        let named = match self.word() {
            Some(word) if !is_keyword(word) => self.after_word(word) == Some(b':'),
            _ => false,
        };
        let name = if named {
            let name = self.ident()?;
            self.punct(b':')?;
            Some(name)
        } else {
            None
        };
        let value = self.expr()?;
        let start = name.as_ref().map_or(value.span.start, |n| n.span.start) as usize;
        Some(Arg { name, value, span: self.span_from(start) })
    }

    // -- Expressions ------------------------------------------------------------------------------

    /// `expr` (`or_expr`)
    fn expr(&mut self) -> Option<Expr> {
        self.chain("or", BinaryOp::Or, Self::and_expr)
    }

    /// `and_expr`
    fn and_expr(&mut self) -> Option<Expr> {
        self.chain("and", BinaryOp::And, Self::not_expr)
    }

    /// `operand ~ (kw ~ operand)*`, left-associated as the builder does.
    fn chain(&mut self, kw: &str, op: BinaryOp, operand: fn(&mut Self) -> Option<Expr>) -> Option<Expr> {
        let mut lhs = operand(self)?;
        let mut operands = 1;
        while let Some(op_span) = self.keyword(kw) {
            operands += 1;
            if operands > crate::MAX_OPERANDS {
                return None;
            }
            let rhs = operand(self)?;
            let span = lhs.span.cover(rhs.span);
            lhs = Expr { kind: ExprKind::Binary(op, op_span, Box::new(lhs), Box::new(rhs)), span };
        }
        Some(lhs)
    }

    /// `not_expr`
    fn not_expr(&mut self) -> Option<Expr> {
        match self.keyword("not") {
            Some(kw) => {
                let operand = self.not_expr()?;
                Some(Expr { kind: ExprKind::Not(Box::new(operand)), span: self.span_from(kw.start as usize) })
            }
            None => self.cmp_expr(),
        }
    }

    /// `cmp_expr`
    fn cmp_expr(&mut self) -> Option<Expr> {
        let lhs = self.postfix()?;
        let rest = &self.b[self.pos..];
        let (op, len) = match rest {
            [b'=', b'=', ..] => (BinaryOp::Eq, 2),
            [b'!', b'=', ..] => (BinaryOp::Ne, 2),
            [b'<', b'=', ..] => (BinaryOp::Le, 2),
            [b'>', b'=', ..] => (BinaryOp::Ge, 2),
            [b'<', ..] => (BinaryOp::Lt, 1),
            [b'>', ..] => (BinaryOp::Gt, 1),
            _ => return Some(lhs),
        };
        let op_span = self.take(len);
        let rhs = self.postfix()?;
        let span = lhs.span.cover(rhs.span);
        Some(Expr { kind: ExprKind::Binary(op, op_span, Box::new(lhs), Box::new(rhs)), span })
    }

    /// `postfix`; blanks after it are skipped (the caller looks at what follows).
    fn postfix(&mut self) -> Option<Expr> {
        let (mut expr, head_is_name) = self.primary()?;
        while self.eat(b'.') {
            expr = expr.dot(self.ident()?, head_is_name);
        }
        self.skip();
        Some(expr)
    }

    /// `primary`, and whether it is a plain name.
    fn primary(&mut self) -> Option<(Expr, bool)> {
        let first = self.peek()?;
        let start = self.pos;
        let kind = match first {
            b'(' => {
                self.take(1);
                let inner = self.expr()?;
                self.punct(b')')?;
                ExprKind::Paren(Box::new(inner))
            }
            b'[' => {
                self.take(1);
                let mut items = Vec::new();
                if self.peek()? != b']' {
                    loop {
                        items.push(self.expr()?);
                        if !self.eat(b',') || self.peek()? == b']' {
                            break;
                        }
                    }
                }
                self.punct(b']')?;
                ExprKind::List(items)
            }
            b'{' => {
                self.take(1);
                let mut entries = Vec::new();
                if self.peek()? != b'}' {
                    loop {
                        let key = self.key()?;
                        let entry_start = key.span().start as usize;
                        self.punct(b':')?;
                        let value = self.expr()?;
                        entries.push(MapEntry { key, value, span: self.span_from(entry_start) });
                        if !self.eat(b',') || self.peek()? == b'}' {
                            break;
                        }
                    }
                }
                self.punct(b'}')?;
                ExprKind::Map(entries)
            }
            b'"' => ExprKind::Str(self.any_string()?),
            b'-' | b'0'..=b'9' => ExprKind::Number(self.number()?),
            _ => {
                let word = self.word()?;
                match word {
                    "true" | "false" => {
                        self.take(word.len());
                        ExprKind::Bool(word == "true")
                    }
                    _ if self.after_word(word) == Some(b'(') => ExprKind::Call(self.call()?),
                    _ => {
                        let ident = self.ident()?;
                        let span = ident.span;
                        return Some((Expr { kind: ExprKind::Path(vec![ident]), span }, true));
                    }
                }
            }
        };
        Some((Expr { kind, span: self.span_from(start) }, false))
    }

    /// `number`: `number_value ~ number_unit?`, without blanks inside.
    fn number(&mut self) -> Option<NumberLit> {
        let b = self.b;
        let start = self.pos;
        let digits = |mut i: usize| {
            let from = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            (i > from).then_some(i)
        };
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        i = digits(i)?;
        if b.get(i) == Some(&b'.') {
            if let Some(end) = digits(i + 1) {
                i = end;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if let Some(end) = digits(j) {
                i = end;
            }
        }
        let value = self.text[start..i].to_string();
        let unit = if b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            let unit_start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            Some(self.text[unit_start..i].to_string())
        } else {
            None
        };
        self.take(i - start);
        Some(NumberLit { value, unit })
    }

    /// `triple_string | string`
    fn any_string(&mut self) -> Option<StrLit> {
        self.skip();
        if !self.b[self.pos..].starts_with(b"\"\"\"") {
            return self.string();
        }
        let start = self.pos;
        let close = self.text[start + 3..].find("\"\"\"")? + start + 3;
        let value = crate::dedent(&self.text[start + 3..close]);
        self.pos = close;
        let span = Span::new(start, close + 3);
        self.take(3);
        Some(StrLit { value, triple: true, span })
    }

    /// `string`, escapes resolved; `None` on an escape the builder would report.
    fn string(&mut self) -> Option<StrLit> {
        self.skip();
        let start = self.pos;
        if self.b.get(start) != Some(&b'"') {
            return None;
        }
        let mut value = String::new();
        let mut i = start + 1;
        let mut run = i;
        loop {
            match *self.b.get(i)? {
                b'"' => break,
                b'\n' => return None,
                b'\\' => {
                    value.push_str(&self.text[run..i]);
                    value.push(match *self.b.get(i + 1)? {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'0' => '\0',
                        b'\\' => '\\',
                        b'"' => '"',
                        b'$' => '$',
                        _ => return None,
                    });
                    i += 2;
                    run = i;
                }
                _ => i += 1,
            }
        }
        value.push_str(&self.text[run..i]);
        self.take(i + 1 - start);
        Some(StrLit { value, triple: false, span: Span::new(start, i + 1) })
    }
}
