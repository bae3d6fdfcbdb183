//! Parquet previews (the `parquet` feature): the first rows of tests/ui/sample.parquet (60 rows of
//! id, name with nulls and an HTML name, score; snappy-compressed, written with the parquet crate),
//! and damaged files that give a reason instead of a table, a panic or an unbounded read.
#![cfg(feature = "parquet")]

mod common;

use common::{scratch, write};
use kfl_ui::parquet_preview::{looks_like_parquet, parquet_table};
use kfl_ui::preview::{Preview, MAX_ROWS};

fn sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/ui/sample.parquet")
}

#[test]
fn the_first_rows_of_a_parquet_file_are_a_table() {
    let bytes = std::fs::read(sample()).expect("the sample");
    assert!(looks_like_parquet(&bytes));
    let Preview::Table { rows, truncated } = parquet_table(&sample()) else { panic!("not a table") };
    assert_eq!(rows[0], ["id", "name", "score"]);
    assert_eq!(rows.len(), MAX_ROWS + 1, "a header and the first {MAX_ROWS} rows");
    assert!(truncated, "60 rows: more than shown");
    assert_eq!(rows[1], ["0", "row 0", "0"]);
    assert_eq!(rows[2][2], "0.25");
    assert_eq!(rows[2][1], "<img src=x id=injected5>", "text as it is (the page shows it as text)");
    assert_eq!(rows[4][1], "", "a null is an empty cell");
}

/// Files written by pyarrow 26 with zstd (Polars' and many writers' default) and with brotli: the
/// same 60 rows as a table.
#[test]
fn zstd_and_brotli_compressed_files_are_tables_too() {
    for codec in ["zstd", "brotli"] {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/ui/sample-{codec}.parquet"));
        let Preview::Table { rows, truncated } = parquet_table(&path) else { panic!("{codec}: not a table") };
        assert_eq!(rows[0], ["id", "name", "score"], "{codec}");
        assert_eq!(rows.len(), MAX_ROWS + 1, "{codec}");
        assert!(truncated, "{codec}");
        assert_eq!(rows[3], ["2", "row 2", "0.5"], "{codec}");
    }
}

#[test]
fn damaged_parquet_files_say_why() {
    let dir = scratch("parquet");
    let bytes = std::fs::read(sample()).expect("the sample");
    let reason = |name: &str, content: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write");
        match parquet_table(&path) {
            Preview::Unreadable { reason } => reason,
            other => panic!("{name}: {other:?}"),
        }
    };
    assert!(reason("short", b"PAR1").contains("too short"));
    assert!(reason("cut", &bytes[..bytes.len() / 2]).contains("no Parquet footer"));
    // A footer that claims 4 GiB.
    let mut huge = bytes.clone();
    let at = huge.len() - 8;
    huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(reason("huge-footer", &huge).contains("footer says 4294967295 bytes"));
    // Noise where the metadata and the pages are: a reason, whatever the reader makes of it.
    let mut noisy = bytes.clone();
    let end = noisy.len() - 8;
    for (i, b) in noisy[4..end].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    assert!(reason("noise", &noisy).starts_with("Parquet: "));
    let mut pages = bytes.clone();
    for b in pages[4..200].iter_mut() {
        *b ^= 0x5a;
    }
    let shown = parquet_table(&{
        let p = dir.join("pages");
        std::fs::write(&p, &pages).expect("write");
        p
    });
    assert!(matches!(shown, Preview::Unreadable { .. } | Preview::Table { .. }), "{shown:?}");
    write(&dir.join("text.parquet"), "id,name\n1,a\n");
    assert!(!looks_like_parquet(b"id,name\n"));
}
