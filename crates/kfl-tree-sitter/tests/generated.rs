//! Conformance on generated files: a random generator that follows `grammar/kfl.pest` writes files
//! with every construct in unusual combinations — names that start like keywords (`inputs`, `iff`,
//! `python` as a field), numbers with units and exponents, escapes, quotes inside triple-quoted
//! strings, doc comments wherever pest allows them, comments, `////` and byte order marks between
//! any two tokens. Mutations of real files (tests/conformance.rs) are mostly invalid; these are
//! mostly valid, so they test the other direction: what pest accepts, tree-sitter accepts.
//! Each file must get the same verdict from both grammars (but for the exceptions listed in
//! tests/conformance.rs), and pest must accept most of them.

mod common;

use common::disagreement;

struct Gen {
    state: u64,
    out: String,
    depth: usize,
}

const NAMES: &[&str] = &[
    "x",
    "data",
    "inputs",
    "iff",
    "format",
    "python",
    "sh",
    "shell",
    "outputs",
    "_",
    "a1",
    "forx",
    "nota",
    "ina",
    "true_",
    "finally2",
    "elsewhere",
];
const TYPES: &[&str] = &["Int", "String", "Float", "Bool", "Dataset", "Model", "Checkpoint"];
const NUMBERS: &[&str] = &["0", "1", "-3", "2.5", "1e3", "1.5E-2", "500m", "4Gi", "6h", "1h30m", "5in", "1e", "7and"];
const STRINGS: &[&str] = &[
    "\"\"",
    "\"a b\"",
    "\"\\n\\t\\r\\0\\\\\\\"\\$\"",
    "\"// not a comment\"",
    "\"/// nor this\"",
    "\"é ✓\"",
    "\"a\\\"b\"",
];
const TRIPLES: &[&str] = &[
    "\"\"\"\"\"\"",
    "\"\"\" x \"\"\"",
    "\"\"\"\n  print(\"a\")\n  s = 'b'\n\"\"\"",
    "\"\"\" \"q\" and \"\"qq\"\" \"\"\"",
    "\"\"\"//\"\"\"",
];

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
    /// Whitespace, and now and then a comment or a byte order mark, between two tokens.
    fn gap(&mut self) {
        match self.below(12) {
            0 => self.out.push_str(" // note\n"),
            1 => self.out.push_str("\n//// old doc\n"),
            2 => self.out.push('\u{FEFF}'),
            3 => self.out.push('\n'),
            4 => self.out.push('\t'),
            5 => self.out.push_str("//\n"),
            _ => self.out.push(' '),
        }
    }
    fn token(&mut self, text: &str) {
        self.gap();
        self.out.push_str(text);
    }
    /// Doc comments, where pest allows them.
    fn docs(&mut self) {
        for _ in 0..self.below(3).saturating_sub(1) {
            self.gap();
            self.out.push_str("/// doc ");
            let text = self.pick_static();
            self.out.push_str(text);
            self.out.push('\n');
        }
    }
    fn pick_static(&mut self) -> &'static str {
        ["", "x", "/ not four", "`code`"][self.below(4)]
    }
    fn name(&mut self) {
        let name = self.pick(NAMES);
        self.token(name);
    }
    fn type_expr(&mut self, depth: usize) {
        if depth < 2 && self.below(4) == 0 {
            let outer = ["List", "Map"][self.below(2)];
            self.token(outer);
            self.token("<");
            self.type_expr(depth + 1);
            if outer == "Map" {
                self.token(",");
                self.type_expr(depth + 1);
            }
            self.token(">");
        } else {
            let name = self.pick(TYPES);
            self.token(name);
        }
    }
    fn expr(&mut self) {
        self.depth += 1;
        let deep = self.depth > 4;
        match if deep { 9 + self.below(4) } else { self.below(13) } {
            0 => {
                self.expr_no_binary();
                let op = ["or", "and"][self.below(2)];
                self.token(op);
                self.expr_no_binary();
            }
            1 => {
                self.token("not");
                self.expr_no_binary();
            }
            2 => {
                self.postfix();
                let op = ["==", "!=", "<", ">", "<=", ">="][self.below(6)];
                self.token(op);
                self.postfix();
            }
            _ => self.postfix(),
        }
        self.depth -= 1;
    }
    fn expr_no_binary(&mut self) {
        if self.below(3) == 0 {
            self.token("not");
        }
        self.postfix();
    }
    fn postfix(&mut self) {
        self.primary();
        for _ in 0..self.below(3).saturating_sub(1) {
            self.token(".");
            self.name();
        }
    }
    fn primary(&mut self) {
        let deep = self.depth > 4;
        match if deep { 5 + self.below(5) } else { self.below(10) } {
            0 => {
                self.token("(");
                self.expr();
                self.token(")");
            }
            1 => {
                self.token("[");
                for i in 0..self.below(3) {
                    if i > 0 {
                        self.token(",");
                    }
                    self.expr();
                }
                self.token("]");
            }
            2 => {
                self.token("{");
                for i in 0..self.below(3) {
                    if i > 0 {
                        self.token(",");
                    }
                    if self.below(2) == 0 {
                        self.name();
                    } else {
                        let s = self.pick(STRINGS);
                        self.token(s);
                    }
                    self.token(":");
                    self.expr();
                }
                self.token("}");
            }
            3 => self.call(),
            4 => {
                let t = self.pick(TRIPLES);
                self.token(t);
            }
            5 => {
                let s = self.pick(STRINGS);
                self.token(s);
            }
            6 => {
                let n = self.pick(NUMBERS);
                self.token(n);
            }
            7 => {
                let b = ["true", "false"][self.below(2)];
                self.token(b);
            }
            _ => self.name(),
        }
    }
    fn call(&mut self) {
        self.name();
        self.token("(");
        let n = self.below(3);
        for i in 0..n {
            if i > 0 {
                self.token(",");
            }
            if self.below(2) == 0 {
                self.name();
                self.token(":");
            }
            self.expr();
        }
        if n > 0 && self.below(3) == 0 {
            self.token(",");
        }
        self.token(")");
    }
    fn field(&mut self) {
        self.name();
        self.token("=");
        self.expr();
    }
    fn kv_block(&mut self) {
        self.name();
        self.token("{");
        for _ in 0..self.below(3) {
            if self.below(2) == 0 {
                self.name();
            } else {
                let s = self.pick(STRINGS);
                self.token(s);
            }
            self.token("=");
            self.expr();
            if self.below(2) == 0 {
                self.token(",");
            }
        }
        self.token("}");
    }
    fn component(&mut self) {
        self.docs();
        self.token("component");
        self.name();
        self.token("{");
        for _ in 0..self.below(6) {
            self.docs();
            match self.below(6) {
                0 => {
                    self.token("input");
                    self.name();
                    self.token(":");
                    self.type_expr(0);
                    if self.below(2) == 0 {
                        self.token("=");
                        self.expr();
                    }
                }
                1 => {
                    self.token("output");
                    self.name();
                    self.token(":");
                    self.type_expr(0);
                }
                2 => {
                    let language = ["python", "sh"][self.below(2)];
                    self.token(language);
                    let body = if self.below(3) == 0 { self.pick(STRINGS) } else { self.pick(TRIPLES) };
                    self.token(body);
                }
                3 => self.kv_block(),
                _ => self.field(),
            }
        }
        self.token("}");
    }
    fn statements(&mut self, depth: usize) {
        for _ in 0..self.below(5) {
            self.docs();
            match if depth > 2 { 4 + self.below(4) } else { self.below(8) } {
                0 => {
                    self.token("if");
                    self.expr();
                    self.block(depth);
                    match self.below(3) {
                        0 => {
                            self.token("else");
                            self.block(depth);
                        }
                        1 => {
                            self.token("else");
                            self.token("if");
                            self.expr();
                            self.block(depth);
                        }
                        _ => {}
                    }
                }
                1 => {
                    self.token("for");
                    self.name();
                    self.token("in");
                    self.expr();
                    if self.below(2) == 0 {
                        self.token("parallel");
                        self.expr();
                    }
                    self.block(depth);
                }
                2 => {
                    self.token("finally");
                    self.block(depth);
                }
                3 => {
                    self.token("output");
                    self.name();
                    if self.below(2) == 0 {
                        self.token(":");
                        self.type_expr(0);
                    }
                    self.token("=");
                    self.expr();
                }
                4 | 5 => {
                    if self.below(2) == 0 {
                        self.name();
                        self.token("=");
                    }
                    self.call();
                    if self.below(2) == 0 {
                        self.token("{");
                        for _ in 0..self.below(3) {
                            if self.below(2) == 0 {
                                self.kv_block();
                            } else {
                                self.field();
                            }
                        }
                        self.token("}");
                    }
                }
                _ => {
                    // A field whose value does not start with a call (that would be a task).
                    self.name();
                    self.token("=");
                    match self.below(3) {
                        0 => {
                            self.token("not");
                            self.expr();
                        }
                        1 => {
                            self.token("(");
                            self.expr();
                            self.token(")");
                        }
                        _ => {
                            let s = self.pick(STRINGS);
                            self.token(s);
                        }
                    }
                }
            }
        }
    }
    fn block(&mut self, depth: usize) {
        self.token("{");
        self.statements(depth + 1);
        self.token("}");
    }
    fn pipeline(&mut self) {
        self.docs();
        self.token("pipeline");
        self.name();
        self.token("(");
        let n = self.below(3);
        for i in 0..n {
            if i > 0 {
                self.token(",");
            }
            self.docs();
            self.name();
            self.token(":");
            self.type_expr(0);
            if self.below(2) == 0 {
                self.token("=");
                self.expr();
            }
        }
        if n > 0 && self.below(3) == 0 {
            self.token(",");
        }
        self.token(")");
        self.block(0);
    }
    fn file(&mut self) {
        for _ in 0..1 + self.below(4) {
            match self.below(5) {
                0 => {
                    self.docs();
                    self.token("import");
                    if self.below(2) == 0 {
                        let s = self.pick(STRINGS);
                        self.token(s);
                    } else {
                        self.name();
                        for _ in 0..self.below(3) {
                            self.token(".");
                            self.name();
                        }
                    }
                }
                1 => {
                    self.docs();
                    self.token("artifact");
                    let t = self.pick(TYPES);
                    self.token(t);
                    if self.below(2) == 0 {
                        self.token(":");
                        let t = self.pick(TYPES);
                        self.token(t);
                    }
                }
                2 | 3 => self.component(),
                _ => self.pipeline(),
            }
        }
        self.gap();
    }
}

#[test]
fn generated_files_get_the_same_verdict_from_both_grammars() {
    const FILES: usize = 1500;
    let mut accepted = 0;
    let mut failures = Vec::new();
    let mut state = 0x4B46_4C5F_6765_6E21_u64;
    for n in 0..FILES {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut generator = Gen { state, out: String::new(), depth: 0 };
        generator.file();
        let text = generator.out;
        if kfl_syntax::parse(&text).errors.is_empty() {
            accepted += 1;
        }
        if let Some(failure) = disagreement(&format!("generated file {n}"), &text) {
            failures.push(failure);
        }
    }
    let shown: Vec<_> = failures.iter().take(5).cloned().collect();
    assert!(
        failures.is_empty(),
        "{} of {FILES} generated files disagree; the first:\n{}",
        failures.len(),
        shown.join("\n----\n")
    );
    // The generator writes what the grammar allows: pest accepts nearly all of it.
    assert!(accepted * 10 >= FILES * 9, "pest accepts only {accepted} of {FILES} generated files");
}
