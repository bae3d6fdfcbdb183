//! `replan` against `plan`: cutting again only around an edit gives exactly the plan of the edited
//! text, for random edits of every `.kfl` file of the repository and of a long generated pipeline,
//! one at a time and chained (a plan made from a plan made from a plan); and an edit inside one
//! statement of a long pipeline scans a few statements again, not the file.

mod common;

use common::{kfl_files, read};

use kfl_syntax::chunk::{plan, replan, replan_with_stats};

/// What edits insert: the characters that move cuts (quotes, brackets, comments, line breaks,
/// words that continue a statement or start an item) and some that do not.
const SNIPPETS: [&str; 36] = [
    "",
    " ",
    "\n",
    "\r\n",
    "x",
    "1",
    "\"",
    "\"\"\"",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "//",
    "///",
    "/// doc\n",
    "\\",
    "=",
    ".",
    "not ",
    "else ",
    "and ",
    "if a {",
    "} else if b {",
    ") else if b (",
    "output\n",
    "component",
    "pipeline",
    "import ",
    "é",
    "日本",
    "\u{FEFF}",
    "\n    t = a(x: \"s\")\n",
    "\n    /// Doc.\n    u = b(x: 1) {\n        cpu = 1\n    }\n",
    "\n}\n",
];

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// `text` with a random piece replaced by a random snippet (or two), on character boundaries.
fn edit(text: &str, rng: &mut Rng) -> String {
    let boundary = |mut at: usize| {
        while !text.is_char_boundary(at) {
            at += 1;
        }
        at
    };
    let at = boundary(rng.below(text.len() + 1));
    let remove = match rng.below(4) {
        0 => 0,
        1 | 2 => rng.below(4),
        _ => rng.below(60),
    };
    let end = boundary((at + remove).min(text.len()));
    let mut insert = SNIPPETS[rng.below(SNIPPETS.len())].to_string();
    if rng.below(4) == 0 {
        insert.push_str(SNIPPETS[rng.below(SNIPPETS.len())]);
    }
    format!("{}{insert}{}", &text[..at], &text[end..])
}

/// A pipeline of `statements` statements of every kind, after a component.
fn long_pipeline(statements: usize) -> String {
    let mut text = String::from("/// A step.\ncomponent a {\n    image = \"x\"\n    input x: Int = 0\n    output out: Dataset\n    sh \"\"\"\n        echo {x}\n    \"\"\"\n}\n\n/// Many steps.\npipeline p(n: Int = 1) {\n");
    for i in 0..statements {
        match i % 7 {
            0 => text.push_str(&format!("    t{i} = a(x: {i})\n")),
            1 => text.push_str(&format!(
                "    /// Step {i}.\n    // plain\n    t{i} = a(x: n) {{\n        cpu = 1\n    }}\n"
            )),
            2 => text.push_str(&format!("    if n > {i} {{\n        t{i} = a()\n    }}\n    else {{ u{i} = a() }}\n")),
            3 => text.push_str(&format!("    t{i} = a(x: n +\n        {i})\n")),
            4 => text.push_str(&format!("    for k in [1, 2] parallel {{\n        t{i} = a(x: k) // é\n    }}\n")),
            5 => text.push_str(&format!("    t{i} = a(x: \"s{{{i}}}\\\"q\") after t{}\n", i - 1)),
            _ => text.push_str(&format!("\n    t{i} = a(\n        x: 1,\n    )\n")),
        }
    }
    text.push_str("    output\n        o = t0.out\n}\n// the end\n\ncomponent b { image = \"y\" }\n");
    // A pipeline after it, whose cut and scan must not change when the first one is edited.
    text.push_str("/// Another.\npipeline q() {\n    w = a()\n    if n { v = a() } else if m { v = a() }\n}\n");
    text
}

/// Checks `replan` on `rounds` edits of `text`, each on its own and chained; returns how many of
/// them were done without a whole plan.
#[track_caller]
fn check_edits(text: &str, what: &str, rounds: usize, rng: &mut Rng) -> usize {
    let original = plan(text);
    let mut incremental = 0;
    let (mut chained_text, mut chained_plan) = (text.to_string(), original.clone());
    for round in 0..rounds {
        let edited = edit(text, rng);
        let (got, stats) = replan_with_stats(text, &original, &edited);
        assert_eq!(got, plan(&edited), "{what}, round {round}:\n--- old ---\n{text}\n--- new ---\n{edited}");
        incremental += usize::from(!stats.whole);
        let next = edit(&chained_text, rng);
        chained_plan = replan(&chained_text, &chained_plan, &next);
        chained_text = next;
        assert_eq!(chained_plan, plan(&chained_text), "{what}, chained round {round}:\n{chained_text}");
        // Now and then start the chain again from the file, so it does not drift far from it.
        if round % 16 == 15 {
            (chained_text, chained_plan) = (text.to_string(), original.clone());
        }
    }
    incremental
}

#[test]
fn replanning_every_file_after_random_edits_gives_its_plan() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let (mut files, mut edits, mut incremental) = (0, 0, 0);
    for path in kfl_files() {
        let text = read(&path);
        if text.len() > 50_000 {
            continue;
        }
        files += 1;
        incremental += check_edits(&text, &path.display().to_string(), 24, &mut rng);
        edits += 24;
        let crlf = format!("\u{FEFF}{}", text.replace('\n', "\r\n"));
        incremental += check_edits(&crlf, &format!("{} with CRLF and a BOM", path.display()), 4, &mut rng);
        edits += 4;
    }
    assert!(files > 20 && edits > 2000, "{files} files, {edits} edits");
    // Enough edits land in pipeline bodies for the incremental path to be what is tested.
    assert!(incremental > edits / 20, "only {incremental} of {edits} edits were replanned in place");
}

#[test]
fn replanning_a_long_pipeline_after_random_edits_gives_its_plan() {
    let text = long_pipeline(400);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let incremental = check_edits(&text, "the long pipeline", 3000, &mut rng);
    // Many edits leave a bracket or a string open, which cuts the pipeline differently as a whole.
    assert!(incremental > 3000 / 3, "only {incremental} of 3000 edits were replanned in place");
}

#[test]
fn an_edit_inside_one_statement_scans_a_few_statements_again() {
    let text = long_pipeline(20_000);
    let old = plan(&text);
    for (needle, replacement) in [("t10003 = a(x: 10003)", "t10003 = a(x: 10004)"), ("/// Step 10011.", "/// Step 1.")]
    {
        let edited = text.replacen(needle, replacement, 1);
        assert!(edited.len() != text.len() || edited != text, "{needle} not found");
        let (got, stats) = replan_with_stats(&text, &old, &edited);
        assert_eq!(got, plan(&edited));
        assert!(!stats.whole, "{needle}: made a whole plan");
        assert!(stats.rescanned < 400, "{needle}: scanned {} of {} bytes again", stats.rescanned, edited.len());
    }
    // Typing a line break and a new statement at the end of the body.
    let at = text.find("    output\n").unwrap_or_default();
    let edited = format!("{}    new = a()\n{}", &text[..at], &text[at..]);
    let (got, stats) = replan_with_stats(&text, &old, &edited);
    assert_eq!(got, plan(&edited));
    assert!(!stats.whole && stats.rescanned < 400, "{stats:?}");
}

#[test]
fn a_plan_of_another_text_is_made_again() {
    let parse = |text: &str, plan: &kfl_syntax::chunk::Plan| {
        kfl_syntax::chunk::parse_with_plan(text, plan, |kind, piece, _| {
            kfl_syntax::chunk::parse_chunk(kind, piece).map(std::sync::Arc::new)
        })
    };
    let text = long_pipeline(30);
    let other = text.replacen("t3 = ", "t3é = ", 1);
    assert_eq!(parse(&text, &plan(&other)), parse(&text, &plan(&text)));
    assert_eq!(parse(&other, &plan(&text)), parse(&other, &plan(&other)));
}

#[test]
fn an_edit_whose_brackets_close_below_the_body_makes_a_whole_plan() {
    // `)` leaves the body, and the `else if` after it at depth 0 counts as one more level of
    // nesting for the rest of the body, though the cut meets the old one again at `z`: `z`'s list,
    // as deep as may be before, is now too deep.
    let deep = kfl_syntax::MAX_NESTING - 1;
    let text = format!(
        "pipeline p() {{\n    x = a()\n    y = b()\n    z = c(x: {}{})\n}}\npipeline q() {{\n    w = d()\n}}\n",
        "[".repeat(deep - 1),
        "]".repeat(deep - 1)
    );
    let edited = text.replacen("x = a()", "x = a) else if b (", 1);
    assert!(kfl_syntax::scan::scan(&text).too_deep.is_none());
    assert!(kfl_syntax::scan::scan(&edited).too_deep.is_some());
    let (got, stats) = replan_with_stats(&text, &plan(&text), &edited);
    assert_eq!(got, plan(&edited));
    assert!(stats.whole);
}
