//! A line diff for `kflc plan` (what a re-apply would change), with the server-owned fields taken out.

use serde_json::Value as Json;

/// The object without what the server owns or generates (managedFields, resourceVersion, uid,
/// timestamps, generation, status), so a diff shows only what an apply changes.
pub fn comparable(object: &Json) -> Json {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Json::as_object_mut) {
            for key in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"] {
                meta.remove(key);
            }
        }
    }
    object
}

/// A unified-style diff (`-` old, `+` new) with `context` lines around each change; empty when equal.
pub fn unified(old: &str, new: &str, context: usize) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence table, from the ends.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = ops.iter().enumerate().filter(|(_, (c, _))| *c != ' ').map(|(k, _)| k).collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let mut last_printed: Option<usize> = None;
    for (k, (c, line)) in ops.iter().enumerate() {
        let near = changed.iter().any(|&x| x.abs_diff(k) <= context);
        if !near {
            continue;
        }
        if last_printed.is_some_and(|l| l + 1 != k) || (last_printed.is_none() && k > 0) {
            out.push_str("@@\n");
        }
        out.push_str(&format!("{c}{line}\n"));
        last_printed = Some(k);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_changed_lines_with_context() {
        let d = unified("a\nb\nc\nd\ne\nf\n", "a\nb\nX\nd\ne\nf\n", 1);
        assert_eq!(d, "@@\n b\n-c\n+X\n d\n");
        assert_eq!(unified("a\n", "a\n", 3), "");
    }
}
