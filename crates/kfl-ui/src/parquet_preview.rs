//! Parquet previews: the first rows of a Parquet file as a table, read with the `parquet` crate
//! (its row API, without Arrow) behind the `parquet` feature. Every read is bounded before it
//! happens: the footer at most [`FOOTER_CAP`], the first row group at most [`GROUP_CAP`] compressed
//! and [`GROUP_UNCOMPRESSED_CAP`] uncompressed; a file the crate cannot read, or that makes it
//! panic, is a preview that says so, never a failed request.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::preview::{Preview, MAX_COLUMNS, MAX_ROWS};

/// The largest footer (file metadata) read.
pub const FOOTER_CAP: u64 = 16 * 1024 * 1024;
/// The largest first row group read, compressed and uncompressed.
pub const GROUP_CAP: i64 = 64 * 1024 * 1024;
pub const GROUP_UNCOMPRESSED_CAP: i64 = 256 * 1024 * 1024;

/// Whether `head` (a file's first bytes) starts as Parquet does.
pub fn looks_like_parquet(head: &[u8]) -> bool {
    head.starts_with(b"PAR1")
}

/// The first rows of the Parquet file at `path` (a header row of column names, then values).
pub fn parquet_table(path: &Path) -> Preview {
    let unreadable = |reason: String| Preview::Unreadable { reason: format!("Parquet: {reason}") };
    if let Err(reason) = footer_fits(path) {
        return unreadable(reason);
    }
    let path = path.to_path_buf();
    match std::panic::catch_unwind(move || rows(&path)) {
        Ok(Ok(preview)) => preview,
        Ok(Err(reason)) => unreadable(reason),
        Err(_) => unreadable("the file is damaged (the reader gave up)".into()),
    }
}

/// Refuses a file whose footer is missing or larger than [`FOOTER_CAP`], before the reader
/// allocates for it.
fn footer_fits(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let size = file.metadata().map_err(|e| format!("cannot read: {e}"))?.len();
    if size < 12 {
        return Err("too short to be Parquet".into());
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8)).and_then(|_| file.read_exact(&mut tail)).map_err(|e| format!("cannot read: {e}"))?;
    if &tail[4..] != b"PAR1" {
        return Err("no Parquet footer (a cut or damaged file)".into());
    }
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer > FOOTER_CAP || footer + 12 > size {
        return Err(format!("its footer says {footer} bytes, which this file or a preview cannot hold"));
    }
    Ok(())
}

fn rows(path: &Path) -> Result<Preview, String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
    let metadata = reader.metadata();
    let total_rows = metadata.file_metadata().num_rows();
    if let Some(group) = metadata.row_groups().first() {
        let mib = |bytes: i64| bytes / (1024 * 1024);
        if group.compressed_size() > GROUP_CAP || group.total_byte_size() > GROUP_UNCOMPRESSED_CAP {
            return Err(format!(
                "its first row group is {} MiB ({} MiB uncompressed); previews read at most {} MiB",
                mib(group.compressed_size()),
                mib(group.total_byte_size()),
                mib(GROUP_CAP)
            ));
        }
    }
    let fields = metadata.file_metadata().schema_descr().root_schema().get_fields().to_vec();
    let mut table: Vec<Vec<String>> = vec![fields.iter().take(MAX_COLUMNS).map(|f| cell(f.name())).collect()];
    let iter = reader.get_row_iter(None).map_err(|e| e.to_string())?;
    for row in iter.take(MAX_ROWS) {
        let row = row.map_err(|e| e.to_string())?;
        table.push(
            row.get_column_iter()
                .take(MAX_COLUMNS)
                .map(|(_, field)| match field {
                    Field::Null => String::new(),
                    Field::Str(text) => cell(text),
                    // Plain decimals, as a CSV would hold them (the crate writes 0.0 as `0E0`).
                    Field::Double(x) => x.to_string(),
                    Field::Float(x) => x.to_string(),
                    other => cell(&other.to_string()),
                })
                .collect(),
        );
    }
    let truncated = total_rows > MAX_ROWS as i64 || fields.len() > MAX_COLUMNS;
    Ok(Preview::Table { rows: table, truncated })
}

/// A cell as the CSV preview cuts it: at most 200 characters.
fn cell(text: &str) -> String {
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text.to_string()
    }
}
