//! Bad input to the configuration parser.
//!
//! - A corpus of malformed configs (`tests/fixtures/bad-configs/*.toml`), each
//!   with a `.expect` sidecar: `line N` (the message must name `file:N`) and
//!   fragments the message must contain (what is wrong, the key).
//! - Property tests: arbitrary bytes, TOML-ish text and structurally valid
//!   TOML with random keys and values never panic, and every error names the
//!   file and either a line or the key.
//!
//! Executions per run: see `CASES_*` (reported in docs/RELIABILITY.md).

use std::path::{Path, PathBuf};

use autosa::config::{Config, ConfigError};
use proptest::prelude::*;

const CASES_BYTES: u32 = 4000;
const CASES_TOMLISH: u32 = 4000;
const CASES_STRUCTURED: u32 = 3000;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad-configs")
}

/// What a `.expect` file asks of the message.
struct Expect {
    line: usize,
    fragments: Vec<String>,
}

fn read_expect(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (every bad config needs one)", path.display()));
    let mut lines = text.lines();
    let line = lines
        .next()
        .and_then(|l| l.strip_prefix("line "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{}: first line must be `line N`", path.display()));
    Expect {
        line,
        fragments: lines
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

#[test]
fn every_bad_config_is_rejected_with_file_line_and_what_is_wrong() {
    let mut configs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("the bad-configs corpus")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    configs.sort();
    assert!(
        configs.len() >= 25,
        "the corpus holds {} configs, at least 25 expected",
        configs.len()
    );
    let mut failures = Vec::new();
    for path in &configs {
        let expect = read_expect(&path.with_extension("expect"));
        let msg = match Config::load(path) {
            Ok(_) => {
                failures.push(format!("{}: accepted", path.display()));
                continue;
            }
            Err(e) => e.to_string(),
        };
        let at = format!("{}:{}", path.display(), expect.line);
        // `file:N:` (parse errors add a column) or `file:N: ` (validation).
        if !(msg.starts_with(&format!("{at}:")) || msg.starts_with(&format!("{at}: "))) {
            failures.push(format!(
                "{}: does not start with {at}: {msg}",
                path.display()
            ));
        }
        for f in &expect.fragments {
            if !msg.contains(f.as_str()) {
                failures.push(format!("{}: lacks {f:?}: {msg}", path.display()));
            }
        }
    }
    eprintln!("{} bad configs checked", configs.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_expect_file_has_its_config() {
    for e in std::fs::read_dir(corpus_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "expect") {
            assert!(p.with_extension("toml").exists(), "{} alone", p.display());
        }
    }
}

const PATH: &str = "/etc/autosa/autosa.toml";

/// An error must name the file and say where (line) or what (key).
fn check_error(e: &ConfigError, text: Option<&str>) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    prop_assert!(msg.starts_with(PATH), "no file in {msg:?}");
    prop_assert!(msg.len() < 4096, "an error of {} bytes", msg.len());
    match e {
        ConfigError::Parse { line, column, .. } => {
            prop_assert!(*line >= 1 && *column >= 1);
            if let Some(text) = text {
                // The line exists (a file ending without a newline counts one more).
                prop_assert!(*line <= text.lines().count() + 1, "{msg}");
            }
        }
        ConfigError::Invalid { key, line, .. } => {
            prop_assert!(!key.is_empty());
            prop_assert!(msg.contains(key.as_str()), "{msg}");
            if let (Some(n), Some(text)) = (line, text) {
                // The line shown holds the key's last part (or its table).
                let last = key.rsplit('.').next().unwrap();
                let shown = text.lines().nth(n - 1).unwrap_or("");
                let table = key.split('.').next().unwrap();
                prop_assert!(
                    shown.contains(last) || shown.contains(table),
                    "line {n} {shown:?} does not hold {key}"
                );
            }
        }
        ConfigError::Read { .. } => prop_assert!(false, "no file is read here"),
        ConfigError::Untrusted { .. } => prop_assert!(false, "parsing checks no file's owner"),
    }
    Ok(())
}

/// Every key of the default configuration with its default value.
fn known_keys() -> Vec<(Vec<String>, toml::Value)> {
    fn walk(prefix: &[String], v: &toml::Value, out: &mut Vec<(Vec<String>, toml::Value)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let mut p = prefix.to_vec();
                    p.push(k.clone());
                    walk(&p, v, out);
                }
            }
            leaf => out.push((prefix.to_vec(), leaf.clone())),
        }
    }
    let v = toml::Value::try_from(Config::default()).unwrap();
    let mut out = Vec::new();
    walk(&[], &v, &mut out);
    out
}

/// A random TOML value of any type (scalars, short arrays, small tables).
fn any_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(toml::Value::Boolean),
        any::<i64>().prop_map(toml::Value::Integer),
        prop_oneof![Just(-1i64), Just(0), Just(1), Just(50), Just(1001)]
            .prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        "[a-z0-9/._ -]{0,12}".prop_map(toml::Value::String),
        prop_oneof![
            Just("0s"),
            Just("1ms"),
            Just("49ms"),
            Just("50ms"),
            Just("1s"),
            Just("61s"),
            Just("1h"),
            Just("-1s"),
            Just("1 fortnight"),
            Just("/"),
            Just("relative/dir"),
            Just("scx_lavd"),
            Just("eevdf"),
            Just("auto"),
            Just("none")
        ]
        .prop_map(|s| toml::Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// A value of the same type as `default`, often a boundary.
fn same_type(default: &toml::Value) -> BoxedStrategy<toml::Value> {
    match default {
        toml::Value::Boolean(_) => any::<bool>().prop_map(toml::Value::Boolean).boxed(),
        toml::Value::Integer(_) => {
            prop_oneof![any::<i64>(), -2i64..2000, Just(i64::MAX), Just(i64::MIN)]
                .prop_map(toml::Value::Integer)
                .boxed()
        }
        toml::Value::Float(_) => prop_oneof![
            any::<f64>(),
            -1.0f64..2.0,
            Just(f64::NAN),
            Just(f64::INFINITY)
        ]
        .prop_map(toml::Value::Float)
        .boxed(),
        _ => any_value().boxed(),
    }
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().unwrap();
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        match entry {
            toml::Value::Table(inner) => t = inner,
            // A random leaf already sits where a table is needed: keep it.
            _ => return,
        }
    }
    t.insert(last.clone(), value);
}

/// Structurally valid TOML: known keys with same-typed or any-typed values,
/// plus unknown keys in known and unknown sections.
fn structured() -> impl Strategy<Value = String> {
    let keys = known_keys();
    let n = keys.len();
    let picks = prop::collection::vec(
        (0..n, any::<bool>()).prop_flat_map(move |(i, typed)| {
            let (path, default) = known_keys().swap_remove(i);
            let value = if typed {
                same_type(&default)
            } else {
                any_value().boxed()
            };
            (Just(path), value)
        }),
        0..6,
    );
    let unknown = prop::collection::vec(
        (prop::collection::vec("[a-z_]{1,10}", 1..3), any_value()),
        0..2,
    );
    (picks, unknown).prop_map(|(picks, unknown)| {
        let mut table = toml::Table::new();
        for (path, value) in picks.into_iter().chain(unknown) {
            insert(&mut table, &path, value);
        }
        toml::to_string(&table).unwrap_or_default()
    })
}

/// TOML-looking lines: headers and `key = value` from known and random
/// names, values that may not close.
fn tomlish() -> impl Strategy<Value = String> {
    let section = prop_oneof![
        Just("daemon"),
        Just("collect"),
        Just("policy"),
        Just("policy.smoothing"),
        Just("policy.thresholds"),
        Just("switching"),
        Just("eevdf"),
        Just("scx"),
        Just("mcp"),
        Just(""),
        Just("collect.interval"),
        Just("[x]")
    ];
    let key = prop_oneof![
        Just("interval"),
        Just("bpf"),
        Just("top_tasks"),
        Just("state_dir"),
        Just("backend"),
        Just("window"),
        Just("hold_intervals"),
        Just("min_confidence"),
        Just("cpu_busy"),
        Just("search_dirs"),
        Just("only_comms"),
        Just("command"),
        Just("\"quoted key\""),
        Just("a.b.c"),
        Just("")
    ];
    let value = prop_oneof![
        Just("\"1s\""),
        Just("\"10ms\""),
        Just("true"),
        Just("0"),
        Just("-1"),
        Just("1e999"),
        Just("nan"),
        Just("[1, \"a\"]"),
        Just("{ low = 1, high = 0 }"),
        Just("\"unterminated"),
        Just("'''"),
        Just("[[]]"),
        Just("\"\\u{0}\""),
        Just("1979-05-27T07:32:00Z"),
    ]
    .prop_map(str::to_owned);
    let value = prop_oneof![value, "[ -~]{0,16}"];
    let line = prop_oneof![
        section.prop_map(|s| format!("[{s}]")),
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        "[ -~\t]{0,30}",
        Just("# comment".to_owned()),
    ];
    prop::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES_BYTES))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = Config::from_bytes(&bytes, Path::new(PATH)) {
            check_error(&e, std::str::from_utf8(&bytes).ok())?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES_TOMLISH))]
    #[test]
    fn tomlish_text_never_panics(text in tomlish()) {
        if let Err(e) = Config::parse(&text, Path::new(PATH)) {
            check_error(&e, Some(&text))?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES_STRUCTURED))]
    #[test]
    fn structured_toml_with_random_keys_and_values_never_panics(text in structured()) {
        match Config::parse(&text, Path::new(PATH)) {
            // Whatever is accepted is valid and survives a round trip.
            Ok(c) => {
                prop_assert!(c.validate().is_ok());
                let again = toml::to_string(&c).unwrap();
                prop_assert_eq!(Config::parse(&again, Path::new(PATH)).unwrap(), c);
            }
            Err(e) => check_error(&e, Some(&text))?,
        }
    }
}

#[test]
fn a_large_config_is_handled() {
    // 200k unknown keys: rejected at the first, in bounded time and memory.
    let mut text = String::from("[collect]\n");
    for i in 0..200_000 {
        text.push_str(&format!("k{i} = {i}\n"));
    }
    let msg = Config::parse(&text, Path::new(PATH))
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with(&format!("{PATH}:2:")), "{msg}");
    // A 1 MiB string value in a known key: accepted or refused, never a panic.
    let text = format!("[daemon]\nstate_dir = \"/{}\"\n", "a".repeat(1 << 20));
    assert!(Config::parse(&text, Path::new(PATH)).is_ok());
}
