//! Data-driven and round-trip tests of the YAML writer.
//!
//! - `tests/cases/NAME.json` is written as YAML and compared with `tests/cases/NAME.yaml`
//!   (`KFL_BLESS=1 cargo test -p kfl-yaml` rewrites the expected files).
//! - Every case, and thousands of random values built from strings that YAML readers are known to
//!   misread, must read back (with serde_norway) as exactly the value that was written, and no line
//!   may end with a space or a tab.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Checks that `yaml`, the document of `value`, reads back as `value` and has no trailing blanks.
fn assert_reads_back(what: &str, value: &Value, yaml: &str) {
    let back: Value = serde_norway::from_str(yaml)
        .unwrap_or_else(|e| panic!("{what}: the YAML does not parse: {e}\n{yaml}\nvalue: {value:#}"));
    assert_eq!(&back, value, "{what}: the YAML reads back differently:\n{yaml}");
    assert!(yaml.ends_with('\n'), "{what}: no final line break:\n{yaml}");
    for (n, line) in yaml.lines().enumerate() {
        assert!(!line.ends_with([' ', '\t']), "{what}:{}: trailing blanks: {line:?}\n{yaml}", n + 1);
    }
}

#[test]
fn cases() {
    let bless = std::env::var("KFL_BLESS").is_ok_and(|v| v == "1");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/cases")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 8, "expected at least 8 cases in {:?}", cases_dir());
    let mut failures = Vec::new();
    for input in &inputs {
        let name = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = std::fs::read_to_string(input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let actual = kfl_yaml::to_string(&value);
        assert_reads_back(&name, &value, &actual);
        let expected_path = input.with_extension("yaml");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap_or_else(|e| panic!("{name}: {e}"));
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{name}: output differs from {}\n--- expected\n{expected}\n--- actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}\n(run with KFL_BLESS=1 to accept)", failures.join("\n"));
}

/// Pieces of strings that YAML readers treat specially, alone or next to each other.
const PIECES: [&str; 58] = [
    "",
    "a",
    "x y",
    "true",
    "False",
    "yes",
    "NO",
    "on",
    "Off",
    "y",
    "~",
    "null",
    "=",
    "<<",
    "1",
    "-1",
    "1.5",
    "1e3",
    "0x1f",
    "0o17",
    "1_0",
    "1:20",
    ".inf",
    ".nan",
    "2001-12-14",
    "- a",
    "-",
    "---",
    "...",
    "a: b",
    ":",
    ": ",
    "#x",
    " #",
    "#",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r",
    "'",
    "\"",
    "\\",
    "?",
    "|",
    ">",
    "{{inputs.parameters.x}}",
    "[",
    "}",
    ",",
    "&a",
    "*a",
    "!t",
    "%",
    "@",
    "ü\u{85}\u{2028}\u{feff}",
    "\0\u{7f}\u{9f}",
];

/// splitmix64: a small deterministic generator, so that a failure can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn string(&mut self) -> String {
        let mut text = String::new();
        for _ in 0..self.below(5) {
            text.push_str(PIECES[self.below(PIECES.len())]);
        }
        if self.below(50) == 0 {
            // Now and then a key too long to be an implicit key.
            text.push_str(&"k".repeat(1100));
        }
        text
    }

    fn value(&mut self, depth: usize) -> Value {
        match self.below(if depth == 0 { 6 } else { 8 }) {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => Value::from(self.next() as i64 >> self.below(64)),
            // Any bits: infinities and NaNs become null, as in serde_json.
            3 => Value::from(f64::from_bits(self.next())),
            4 | 5 => Value::String(self.string()),
            6 => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
            _ => {
                let mut map = Map::new();
                for _ in 0..self.below(4) {
                    let key = self.string();
                    let value = self.value(depth - 1);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
        }
    }
}

#[test]
fn every_piece_and_pair_of_pieces_reads_back() {
    for a in PIECES {
        for b in PIECES {
            let text = format!("{a}{b}");
            for value in [
                Value::String(text.clone()),
                serde_json::json!([text.clone(), [text.clone()], { "k": text.clone() }]),
                serde_json::json!({ text.clone(): { text.clone(): [text.clone()] } }),
            ] {
                assert_reads_back(&format!("{text:?}"), &value, &kfl_yaml::to_string(&value));
            }
        }
    }
}

#[test]
fn random_values_read_back() {
    for seed in 0..3_000 {
        let mut random = Random(seed);
        let value = random.value(4);
        assert_reads_back(&format!("seed {seed}"), &value, &kfl_yaml::to_string(&value));
    }
}
