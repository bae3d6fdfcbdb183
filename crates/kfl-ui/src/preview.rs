//! Previews of artifacts and logs, each from a capped read: the first rows of a CSV or TSV, the
//! start of a text, a `Metrics`-shaped JSON object as rows. Pure functions over bytes, plus the
//! capped reads themselves.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;
use serde_json::Value as Json;

/// Bytes read for a preview.
pub const PREVIEW_CAP: u64 = 256 * 1024;
/// Rows and columns shown of a table.
pub const MAX_ROWS: usize = 50;
pub const MAX_COLUMNS: usize = 50;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Preview {
    Table {
        rows: Vec<Vec<String>>,
        truncated: bool,
    },
    Metrics {
        rows: Vec<(String, Json)>,
    },
    Text {
        text: String,
        markdown: bool,
        truncated: bool,
    },
    Image,
    Html,
    Binary,
    /// A file of a known format that cannot be shown, and why (a damaged Parquet file, or a kflc
    /// built without the `parquet` feature).
    Unreadable {
        reason: String,
    },
}

/// What kind of preview a file gets, from its name and its first bytes.
pub fn preview(name: &str, head: &[u8], size: u64) -> Preview {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    let truncated = size > head.len() as u64;
    match ext {
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg" => return Preview::Image,
        "html" | "htm" => return Preview::Html,
        _ => {}
    }
    if head.contains(&0) {
        return if ext == "parquet" || head.starts_with(b"PAR1") { parquet_unsupported() } else { Preview::Binary };
    }
    let text = String::from_utf8_lossy(head);
    match ext {
        "csv" => return table(&text, b',', truncated),
        "tsv" => return table(&text, b'\t', truncated),
        _ => {}
    }
    // A complete JSON object of scalars is a metrics table (what `Metrics` artifacts hold).
    if !truncated {
        if let Ok(Json::Object(map)) = serde_json::from_str::<Json>(&text) {
            let mut rows = Vec::new();
            flatten("", &Json::Object(map), &mut rows);
            if !rows.is_empty() {
                return Preview::Metrics { rows };
            }
        }
    }
    // No extension (artifacts are often written without one): a first line with commas and a
    // second with as many is a CSV.
    if ext.is_empty() || ext == "txt" {
        let mut lines = text.lines();
        if let (Some(a), Some(b)) = (lines.next(), lines.next()) {
            let commas = a.matches(',').count();
            if commas > 0 && commas == b.matches(',').count() {
                return table(&text, b',', truncated);
            }
        }
    }
    Preview::Text { text: text.into_owned(), markdown: ext == "md" || ext == "markdown", truncated }
}

/// What a Parquet file previews as from its first bytes alone: the server reads it whole with
/// [`crate::parquet_preview`] when kflc has the `parquet` feature.
fn parquet_unsupported() -> Preview {
    Preview::Unreadable { reason: "Parquet: this kflc was built without the `parquet` feature".into() }
}

/// Flattens a JSON object into `key → value` rows, nested keys joined with dots; lists are left out
/// (a loss curve is no table cell).
pub fn flatten(prefix: &str, value: &Json, out: &mut Vec<(String, Json)>) {
    match value {
        Json::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        Json::Array(_) => {}
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// The first rows of a delimited text, with RFC 4180 quotes. A last row cut by the cap is dropped.
pub fn table(text: &str, delimiter: u8, truncated: bool) -> Preview {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let delimiter = delimiter as char;
    let mut more = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => quoted = true,
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
                if rows.len() > MAX_ROWS {
                    more = true;
                    break;
                }
            }
            c if c == delimiter => row.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    if !more && (!cell.is_empty() || !row.is_empty()) && !truncated {
        row.push(cell);
        rows.push(row);
    }
    if rows.len() > MAX_ROWS {
        rows.truncate(MAX_ROWS + 1);
        more = true;
    }
    for row in &mut rows {
        row.truncate(MAX_COLUMNS);
        for cell in row.iter_mut() {
            if cell.chars().count() > 200 {
                *cell = format!("{}…", cell.chars().take(200).collect::<String>());
            }
        }
    }
    Preview::Table { rows, truncated: more || truncated }
}

/// The first `cap` bytes of a file and its size.
pub fn read_head(path: &Path, cap: u64) -> std::io::Result<(Vec<u8>, u64)> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut head = Vec::new();
    file.take(cap).read_to_end(&mut head)?;
    Ok((head, size))
}

/// A window of a log: `limit` bytes from `offset`, or the last `limit` bytes when `offset` is
/// `None`. Never reads more than `limit` bytes, however large the file. Returns the text (cut to
/// whole UTF-8 characters at the start), where it starts, and the file's size.
pub fn read_window(path: &Path, offset: Option<u64>, limit: u64) -> std::io::Result<(String, u64, u64)> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let start = match offset {
        Some(o) => o.min(size),
        None => size.saturating_sub(limit),
    };
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    // Do not start in the middle of a character.
    let skip = if start > 0 { bytes.iter().take(3).take_while(|b| (**b & 0xC0) == 0x80).count() } else { 0 };
    let bytes = bytes.get(skip..).unwrap_or_default();
    // Nor end in one (the next window picks it up).
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => bytes.len(),
    };
    Ok((String::from_utf8_lossy(&bytes[..valid]).into_owned(), start + skip as u64, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_becomes_rows() {
        let bytes = b"a,b\n1,\"x, y\"\n2,\"say \"\"hi\"\"\"\n";
        let p = preview("data.csv", bytes, bytes.len() as u64);
        let Preview::Table { rows, truncated } = p else { panic!("{p:?}") };
        assert_eq!(rows, vec![vec!["a", "b"], vec!["1", "x, y"], vec!["2", "say \"hi\""]]);
        assert!(!truncated);
    }

    #[test]
    fn tables_are_capped_and_a_cut_row_dropped() {
        let text: String = (0..200).map(|i| format!("{i},{i}\n")).collect();
        let Preview::Table { rows, truncated } = table(&text, b',', false) else { panic!() };
        assert_eq!(rows.len(), MAX_ROWS + 1);
        assert!(truncated);
        let Preview::Table { rows, truncated } = table("a,b\n1,2\n3,", b',', true) else { panic!() };
        assert_eq!(rows, vec![vec!["a", "b"], vec!["1", "2"]]);
        assert!(truncated);
    }

    #[test]
    fn kinds_by_name_and_content() {
        assert_eq!(preview("plot.png", b"\x89PNG", 4), Preview::Image);
        assert_eq!(preview("report.html", b"<script>", 8), Preview::Html);
        assert_eq!(preview("model", b"\x00\x01", 2), Preview::Binary);
        assert!(matches!(preview("tab.tsv", b"a\tb\n", 4), Preview::Table { .. }));
        assert!(matches!(preview("dataset", b"x1,x2,label\n1,2,0\n", 18), Preview::Table { .. }));
        assert!(matches!(preview("README.md", b"# hi", 4), Preview::Text { markdown: true, .. }));
        let Preview::Metrics { rows } = preview("metrics", br#"{"accuracy": 0.9, "n": {"test": 5}}"#, 35) else {
            panic!()
        };
        assert_eq!(rows, vec![("accuracy".to_string(), Json::from(0.9)), ("n.test".to_string(), Json::from(5))]);
    }

    #[test]
    fn log_windows_read_only_what_they_show() {
        let path = std::env::temp_dir().join(format!("kfl-ui-window-{}", std::process::id()));
        std::fs::write(&path, "héllo world\n".repeat(1000)).expect("write");
        let (text, start, size) = read_window(&path, None, 100).expect("tail");
        assert_eq!(size, 13_000);
        assert!(text.len() <= 100 && text.ends_with("world\n"), "{text:?}");
        assert_eq!(start + text.len() as u64, size);
        let (text, start, _) = read_window(&path, Some(2), 10).expect("window");
        // Byte 2 is inside `é`: the window starts after it.
        assert_eq!(start, 3);
        assert!(text.starts_with("llo"), "{text:?}");
        let (text, start, _) = read_window(&path, Some(1_000_000), 10).expect("past the end");
        assert_eq!((text.as_str(), start), ("", 13_000));
        let _ = std::fs::remove_file(&path);
    }
}
