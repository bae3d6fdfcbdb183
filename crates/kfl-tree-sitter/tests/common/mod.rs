//! What the conformance tests share: the verdicts of both grammars on one text, and the listed
//! exceptions (see tests/conformance.rs for why each is principled).

/// Why a disagreement is expected, if it is. `tree_sitter_accepts`: the tree has no ERROR or
/// MISSING node.
pub fn exception(pest: &kfl_syntax::Parse) -> Option<&'static str> {
    let limits = |message: &str| message.starts_with("nested more than") || message.contains("operands of");
    if !pest.errors.is_empty() && pest.errors.iter().all(|e| limits(&e.message)) {
        return Some("kfl-syntax's nesting and operand limits are implementation limits, not syntax");
    }
    None
}

/// A description of a disagreement, or `None` when the two grammars agree.
pub fn disagreement(name: &str, text: &str) -> Option<String> {
    let pest = kfl_syntax::parse(text);
    let Some(tree) = kfl_tree_sitter::parse(text.as_bytes()) else {
        return Some(format!("{name}: tree-sitter returned no tree"));
    };
    let tree_sitter_error = kfl_tree_sitter::first_error(&tree);
    if exception(&pest).is_some() {
        return None;
    }
    match (pest.errors.is_empty(), tree_sitter_error) {
        (true, Some((at, kind))) => Some(format!(
            "{name}: pest accepts it, tree-sitter has {kind} at byte {at} (…{}…)\n--- text ---\n{text}\n------------",
            excerpt(text, at)
        )),
        (false, None) => Some(format!(
            "{name}: pest rejects it ({}: {} at byte {}), tree-sitter has no ERROR or MISSING node\n--- text ---\n{text}\n------------",
            pest.errors[0].code,
            pest.errors[0].message,
            pest.errors[0].primary.span.start
        )),
        _ => None,
    }
}

fn excerpt(text: &str, at: usize) -> String {
    let mut start = at.saturating_sub(20);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 20).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].replace('\n', "⏎")
}
