//! The scan and the cut of a file as a value ([`Plan`]), and cutting again only around an edit
//! ([`replan`]).
//!
//! [`replan`] reuses the old plan wherever the edit cannot have changed it. It cuts again from the
//! start of a statement chunk before the edit (where the cutter's state is known from the chunk's
//! place alone, see `BodyCutter::at_chunk`) until it makes a cut after the edit at a place where
//! the old plan cut too, shifted by the change in length: from there on the text is the same, and
//! so is the cutter's state (every cut is made in the same state), so the old chunks hold. The
//! scan's state at both ends of that region is known as well (depth one of the body, no string or
//! comment open, the first token a name that is not `else`), so the region is scanned on its own
//! and the comments around it are moved. Anything else makes a whole plan again: an edit outside
//! a pipeline body, a plan or region with an unterminated string or nesting too deep, an item
//! keyword in the region, a region whose brackets close below the body's depth, a body that no
//! longer closes where it did.

use kfl_diagnostics::Span;

use super::{item_chunks, starts_group, BodyCut, BodyCutter, Chunk, ChunkKind, ItemChunks};
use crate::scan::{self, CommentSpan};

/// Everything [`super::parse_with_plan`] needs from the scan and the cut of one text.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Plan {
    /// The length of the text it was made for.
    pub(super) len: usize,
    pub(super) comments: Vec<CommentSpan>,
    pub(super) unterminated: Vec<Span>,
    pub(super) too_deep: Option<usize>,
    pub(super) items: Vec<PlannedItem>,
}

/// One item of a [`Plan`]: its chunks and which of them start a group of statements.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PlannedItem {
    pub chunks: ItemChunks,
    /// For each chunk: whether it is a statement chunk that starts a group (`starts_group`).
    pub starts_group: Vec<bool>,
    /// For a pipeline cut into pieces whose body the scan enters from depth 0: the nesting that
    /// `else if` chains at depth 0 add in its body (what a scan of a piece of it starts from).
    body_chained: Option<usize>,
}

impl Plan {
    pub fn items(&self) -> &[PlannedItem] {
        &self.items
    }

    pub fn comments(&self) -> &[CommentSpan] {
        &self.comments
    }

    /// The length of the text the plan was made for.
    pub fn text_len(&self) -> usize {
        self.len
    }

    /// The scan of `text` (the text the plan was made for), comments' text included.
    pub(super) fn to_scan(&self, text: &str) -> scan::Scan {
        let comments = self
            .comments
            .iter()
            .map(|c| scan::Comment {
                span: c.span,
                text: text.get(c.span.range()).unwrap_or_default().to_string(),
                is_doc: c.is_doc,
            })
            .collect();
        scan::Scan {
            comments,
            unterminated: self.unterminated.clone(),
            item_starts: self.items.iter().map(|item| item.chunks.start).collect(),
            too_deep: self.too_deep,
        }
    }
}

/// Scans and cuts the whole of `text`.
pub fn plan(text: &str) -> Plan {
    let spans = scan::spans(text);
    let items = (spans.item_starts.iter().enumerate())
        .map(|(i, &start)| {
            let chunks = item_chunks(text, &spans.item_starts, i, start);
            let starts_group = group_starts(text, &chunks.chunks);
            let body_chained = match chunks.chunks.first() {
                Some(head) if head.kind == ChunkKind::PipelineHead => (spans.top_opens)
                    .binary_search_by_key(&head.end, |&(after, _)| after)
                    .ok()
                    .map(|at| spans.top_opens[at].1),
                _ => None,
            };
            PlannedItem { chunks, starts_group, body_chained }
        })
        .collect();
    Plan {
        len: text.len(),
        comments: spans.comments,
        unterminated: spans.unterminated,
        too_deep: spans.too_deep,
        items,
    }
}

fn group_starts(text: &str, chunks: &[Chunk]) -> Vec<bool> {
    chunks.iter().map(|c| c.kind == ChunkKind::Statements && starts_group(&text[c.start..c.end])).collect()
}

/// What [`replan_with_stats`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ReplanStats {
    /// Bytes of the new text scanned and cut again (all of it when the plan was made anew).
    pub rescanned: usize,
    /// Whether the plan was made anew from the whole text.
    pub whole: bool,
}

/// The plan of `new_text`, always equal to [`plan`]`(new_text)`, made from `old_plan` (which must
/// be [`plan`]`(old_text)`) by cutting again only around the edit where it can (see the module's
/// docs). For an edit inside the statements of a pipeline body this costs time in proportion to
/// the statements the edit touched, plus moving the chunks and comments after it.
pub fn replan(old_text: &str, old_plan: &Plan, new_text: &str) -> Plan {
    replan_with_stats(old_text, old_plan, new_text).0
}

/// [`replan`], and what it did (for the tests that hold it to its cost).
#[doc(hidden)]
pub fn replan_with_stats(old_text: &str, old_plan: &Plan, new_text: &str) -> (Plan, ReplanStats) {
    match replan_in_body(old_text, old_plan, new_text) {
        Some((plan, rescanned)) => (plan, ReplanStats { rescanned, whole: false }),
        None => (plan(new_text), ReplanStats { rescanned: new_text.len(), whole: true }),
    }
}

/// Where two texts differ: `old[start..old_end]` became `new[start..new_end]`, with the same text
/// before and after (both ends on character boundaries).
fn changed(old: &str, new: &str) -> (usize, usize, usize) {
    let (a, b) = (old.as_bytes(), new.as_bytes());
    let shorter = a.len().min(b.len());
    // Blocks first (compared as slices, which is quick), then byte by byte.
    const BLOCK: usize = 64;
    let mut start = 0;
    while start + BLOCK <= shorter && a[start..start + BLOCK] == b[start..start + BLOCK] {
        start += BLOCK;
    }
    while start < shorter && a[start] == b[start] {
        start += 1;
    }
    while start > 0 && !(old.is_char_boundary(start) && new.is_char_boundary(start)) {
        start -= 1;
    }
    let most = shorter - start;
    let mut same = 0;
    while same + BLOCK <= most && a[a.len() - same - BLOCK..a.len() - same] == b[b.len() - same - BLOCK..b.len() - same]
    {
        same += BLOCK;
    }
    while same < most && a[a.len() - same - 1] == b[b.len() - same - 1] {
        same += 1;
    }
    while same > 0 && !(old.is_char_boundary(a.len() - same) && new.is_char_boundary(b.len() - same)) {
        same -= 1;
    }
    (start, a.len() - same, b.len() - same)
}

/// The new plan when the edit lies inside the statements of one pipeline body and the cut meets
/// the old one again after it; and how many bytes were scanned again.
fn replan_in_body(old_text: &str, old: &Plan, new_text: &str) -> Option<(Plan, usize)> {
    if old.len != old_text.len() || old.too_deep.is_some() || !old.unterminated.is_empty() {
        return None;
    }
    let (old_len, new_len) = (old_text.len(), new_text.len());
    let (start, old_end, new_end) = changed(old_text, new_text);
    // Where an offset at or after the edit's old end goes (and back).
    let moved = |at: usize| at + new_len - old_len;
    let moved_back = |at: usize| at + old_len - new_len;
    let moved_span = |span: Span| Span::new(moved(span.start as usize), moved(span.end as usize));

    let index = old.items.partition_point(|item| item.chunks.start <= start).checked_sub(1)?;
    let item = &old.items[index];
    let chained = item.body_chained?;
    let chunks = &item.chunks.chunks;
    let n = chunks.len();
    if n < 3 || chunks[0].kind != ChunkKind::PipelineHead || chunks[n - 1].kind != ChunkKind::PipelineEnd {
        return None;
    }
    let close = chunks[n - 1].start;
    if start < chunks[0].end || old_end > close {
        return None;
    }
    // The last statement chunk that starts before the edit, and one further back: where a chunk
    // starts is decided by its text up to the end of its first name, which may be in the edit.
    let mut first = chunks[..n - 1].partition_point(|c| c.start < start).max(2) - 1;
    if first > 1 {
        first -= 1;
    }
    let from = chunks[first].start;
    let body = new_text.get(..moved(item.chunks.end))?;
    let mut cutter = if first == 1 { BodyCutter::after_open(body, from) } else { BodyCutter::at_chunk(body, from) };
    let mut fresh = Vec::new();
    // Where the region cut again ends, and the old chunk from which the old plan holds.
    let (to, reuse) = loop {
        match cutter.next_cut(&mut fresh)? {
            BodyCut::Statement(cut) if cut >= new_end => {
                let old_cut = moved_back(cut);
                if let Ok(j) = chunks[..n - 1].binary_search_by_key(&old_cut, |c| c.start) {
                    if j > first {
                        break (cut, j);
                    }
                }
            }
            BodyCut::Statement(_) => {}
            BodyCut::Close(at) => {
                if at < new_end || moved_back(at) != close {
                    return None;
                }
                // The end chunk is the old one, moved.
                fresh.pop();
                break (at, n - 1);
            }
        }
    };
    let region = scan::scan_body_piece(new_text.get(from..to)?, chained);
    // The region must stay inside the body: at depth 0 an `else if` would change the nesting the
    // scan counts after it.
    if region.too_deep.is_some()
        || !region.unterminated.is_empty()
        || !region.item_starts.is_empty()
        || region.shallowest == 0
    {
        return None;
    }
    let old_to = moved_back(to);

    let before = old.comments.partition_point(|c| (c.span.start as usize) < from);
    let after = old.comments.partition_point(|c| (c.span.start as usize) < old_to);
    let mut comments = Vec::with_capacity(before + region.comments.len() + old.comments.len() - after);
    comments.extend_from_slice(&old.comments[..before]);
    comments.extend(region.comments.iter().map(|c| CommentSpan {
        span: Span::new(c.span.start as usize + from, c.span.end as usize + from),
        is_doc: c.is_doc,
    }));
    comments.extend(old.comments[after..].iter().map(|c| CommentSpan { span: moved_span(c.span), is_doc: c.is_doc }));

    let moved_chunk = |c: &Chunk| Chunk { kind: c.kind, start: moved(c.start), end: moved(c.end) };
    let mut new_chunks = Vec::with_capacity(first + fresh.len() + n - reuse);
    new_chunks.extend_from_slice(&chunks[..first]);
    new_chunks.extend_from_slice(&fresh);
    new_chunks.extend(chunks[reuse..].iter().map(moved_chunk));
    let mut starts_group = Vec::with_capacity(new_chunks.len());
    starts_group.extend_from_slice(&item.starts_group[..first]);
    starts_group.extend(group_starts(new_text, &fresh));
    starts_group.extend_from_slice(&item.starts_group[reuse..]);

    let mut items = Vec::with_capacity(old.items.len());
    items.extend_from_slice(&old.items[..index]);
    items.push(PlannedItem {
        chunks: ItemChunks { start: item.chunks.start, end: moved(item.chunks.end), chunks: new_chunks },
        starts_group,
        body_chained: Some(chained),
    });
    items.extend(old.items[index + 1..].iter().map(|later| PlannedItem {
        chunks: ItemChunks {
            start: moved(later.chunks.start),
            end: moved(later.chunks.end),
            chunks: later.chunks.chunks.iter().map(moved_chunk).collect(),
        },
        starts_group: later.starts_group.clone(),
        body_chained: later.body_chained,
    }));
    let plan = Plan { len: new_len, comments, unterminated: Vec::new(), too_deep: None, items };
    Some((plan, to - from))
}
