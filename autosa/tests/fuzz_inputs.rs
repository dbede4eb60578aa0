//! Bad input to every parser of outside data: recordings (and the replay of
//! whatever they hold), tracefs `format` files, schedcp's tool results and
//! the control protocol. Nothing panics, memory stays bounded where a stream
//! is read, errors say where (line) and what.
//!
//! Executions per run: see `CASES_*` (reported in docs/RELIABILITY.md).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use autosa::backend::mcp::McpError;
use autosa::backend::mcp::protocol::{parse_catalogue, parse_run, parse_status, parse_stop};
use autosa::collect::bpf::tp_format::Format;
use autosa::control::client::{Client, ClientError, MAX_RESPONSE_BYTES};
use autosa::control::protocol::Request;
use autosa::policy::PolicyConfig;
use autosa::record::{RecordError, RecordingReader};
use proptest::prelude::*;
use serde_json::Value;

const CASES_RECORDING_BYTES: u32 = 3000;
const CASES_RECORDING_MUTATED: u32 = 2000;
const CASES_RECORDING_CUT: u32 = 1000;
const CASES_TP_FORMAT: u32 = 5000;
const CASES_MCP: u32 = 5000;
const CASES_CONTROL: u32 = 5000;

/// A real recording (eBPF and procfs, five classes).
fn fixture_recording() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/recordings/ebpf-quiet-host/mixed.jsonl");
    std::fs::read_to_string(path).unwrap()
}

/// Reads everything; at most `cap` snapshots so a bug cannot loop forever.
fn read_all(bytes: &[u8]) -> Result<(usize, Option<RecordError>), RecordError> {
    let reader = RecordingReader::new(bytes)?;
    let mut n = 0;
    for item in reader.take(10_000) {
        match item {
            Ok(_) => n += 1,
            Err(e) => return Ok((n, Some(e))),
        }
    }
    Ok((n, None))
}

/// Errors on a line name it.
fn line_named(e: &RecordError) -> bool {
    let msg = e.to_string();
    match e {
        RecordError::BadLine { .. } | RecordError::Io { .. } | RecordError::LineTooLong { .. } => {
            msg.starts_with("recording line ")
        }
        RecordError::NotARecording { .. } => msg.contains("line 1"),
        _ => !msg.is_empty(),
    }
}

/// Leaves of a JSON value (paths as indices into a flat walk).
fn leaves(v: &mut Value) -> Vec<&mut Value> {
    match v {
        Value::Object(m) => m.values_mut().flat_map(leaves).collect(),
        Value::Array(a) => a.iter_mut().flat_map(leaves).collect(),
        leaf => vec![leaf],
    }
}

fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(serde_json::json!(0)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(i64::MIN)),
        Just(serde_json::json!(1e308)),
        Just(serde_json::json!(-1e308)),
        Just(serde_json::json!(5e-324)),
        Just(serde_json::json!("x")),
        Just(serde_json::json!(true)),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        any::<u64>().prop_map(|u| serde_json::json!(u)),
        any::<i64>().prop_map(|i| serde_json::json!(i)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES_RECORDING_BYTES))]
    #[test]
    fn recording_reader_arbitrary_bytes(mut bytes in prop::collection::vec(any::<u8>(), 0..400), header in any::<bool>()) {
        if header {
            let mut h = b"{\"autosa_recording\":1,\"snapshot_version\":1}\n".to_vec();
            h.append(&mut bytes);
            bytes = h;
        }
        match read_all(&bytes) {
            Ok((_, Some(e))) | Err(e) => prop_assert!(line_named(&e), "{e}"),
            Ok((_, None)) => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES_RECORDING_MUTATED))]
    /// Real snapshots with random leaves replaced by odd values: whatever
    /// still reads as a snapshot goes through the policy engine, which must
    /// neither panic nor produce a confidence outside 0..=1.
    #[test]
    fn mutated_snapshots_read_and_replay(
        line in 1usize..20,
        edits in prop::collection::vec((any::<prop::sample::Index>(), odd_value()), 1..6),
    ) {
        let text = fixture_recording();
        let lines: Vec<&str> = text.lines().collect();
        let line = line.min(lines.len() - 1);
        let mut v: Value = serde_json::from_str(lines[line]).unwrap();
        {
            let mut l = leaves(&mut v);
            for (i, odd) in edits {
                let n = l.len();
                *l[i.index(n)] = odd;
            }
        }
        // The snapshots before it as recorded, then the mutated one, twice
        // (rates derive from the previous one).
        let mut rec = lines[..line].join("\n");
        let mutated = serde_json::to_string(&v).unwrap();
        rec.push('\n');
        rec.push_str(&mutated);
        rec.push('\n');
        rec.push_str(&mutated);
        rec.push('\n');
        let reader = RecordingReader::new(rec.as_bytes()).unwrap();
        match autosa::replay::replay(reader, &PolicyConfig::default()) {
            Ok(steps) => {
                for s in steps {
                    prop_assert!((0.0..=1.0).contains(&s.confidence), "confidence {}", s.confidence);
                }
            }
            Err(e) => prop_assert!(e.to_string().contains(&format!("line {}", line + 1)), "{e}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES_RECORDING_CUT))]
    /// A recorder killed at any byte: the complete lines are read, the cut
    /// one is skipped and reported, nothing else is lost.
    #[test]
    fn recording_cut_anywhere(cut in any::<prop::sample::Index>()) {
        let text = fixture_recording();
        let header_len = text.find('\n').unwrap() + 1;
        let at = header_len + cut.index(text.len() - header_len);
        let at = (at..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap();
        let part = &text.as_bytes()[..at];
        let complete = part[header_len..].iter().filter(|&&b| b == b'\n').count();
        let mut reader = RecordingReader::new(part).unwrap();
        let mut read = 0;
        for r in reader.by_ref() {
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
            read += 1;
        }
        // A cut just before a newline leaves a whole last line.
        let tail = &part[part.iter().rposition(|&b| b == b'\n').unwrap() + 1..];
        let tail_whole = !tail.is_empty() && serde_json::from_slice::<Value>(tail).is_ok();
        prop_assert_eq!(read, complete + usize::from(tail_whole));
        prop_assert_eq!(reader.truncated_line().is_some(), !tail.is_empty() && !tail_whole);
    }
}

#[test]
fn recording_line_longer_than_the_limit_is_refused_without_reading_it_whole() {
    // An endless line: the reader stops at the limit instead of allocating.
    let endless = std::io::repeat(b'x').take(u64::MAX);
    let header = b"{\"autosa_recording\":1,\"snapshot_version\":1}\n".as_slice();
    let mut r =
        RecordingReader::with_max_line(BufReader::new(header.chain(endless)), 1 << 20).unwrap();
    let e = r.next().unwrap().unwrap_err();
    assert!(matches!(e, RecordError::LineTooLong { line: 2, .. }), "{e}");
    assert!(r.next().is_none());
    let e = RecordingReader::with_max_line(
        BufReader::new(std::io::repeat(b'{').take(u64::MAX)),
        1 << 20,
    )
    .err()
    .unwrap();
    assert!(matches!(e, RecordError::LineTooLong { line: 1, .. }), "{e}");
}

#[test]
fn recording_with_invalid_utf8_names_the_line() {
    let mut bytes = fixture_recording()
        .lines()
        .take(2)
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes();
    bytes.extend_from_slice(b"\n{\"version\":1,\xff}\n");
    let mut r = RecordingReader::new(&bytes[..]).unwrap();
    assert!(r.next().unwrap().is_ok());
    let e = r.next().unwrap().unwrap_err();
    assert!(e.to_string().starts_with("recording line 3:"), "{e}");
}

/// Field lines built like the kernel's, with random numbers and names.
fn field_line() -> impl Strategy<Value = String> {
    (
        "(unsigned |const |__data_loc )?(char|int|long|u64|pid_t|void \\*)",
        "[a-z_][a-z0-9_]{0,12}(\\[[0-9]{0,3}\\])?",
        prop_oneof![
            any::<u32>().prop_map(|n| n.to_string()),
            "-?[0-9]{0,12}",
            ".{0,4}"
        ],
        prop_oneof![any::<u32>().prop_map(|n| n.to_string()), "[0-9]{0,20}"],
        "[0-9]{0,3}",
        any::<bool>(),
    )
        .prop_map(|(ty, name, off, size, signed, tabs)| {
            let sep = if tabs { "\t" } else { " " };
            format!(
                "{sep}field:{ty} {name};{sep}offset:{off};{sep}size:{size};{sep}signed:{signed};"
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES_TP_FORMAT))]
    #[test]
    fn tp_format_never_panics(
        lines in prop::collection::vec(prop_oneof![field_line(), ".{0,60}", Just("name: sched_switch".to_owned())], 0..12)
    ) {
        let text = lines.join("\n");
        match Format::parse(&text) {
            Ok(f) => {
                prop_assert!(!f.fields.is_empty());
                for name in f.fields.keys() {
                    prop_assert!(f.field_sized(name, &[4, 8]).is_ok() || f.field(name).is_ok());
                }
            }
            Err(e) => {
                let msg = e.to_string();
                // Malformed lines are quoted, but cut.
                prop_assert!(msg.len() < 400, "{} bytes", msg.len());
            }
        }
    }
}

#[test]
fn tp_format_large_input_is_bounded_in_the_message() {
    let long = format!("field:int x;\toffset:{};\tsize:4;", "9".repeat(1 << 20));
    let e = Format::parse(&long).unwrap_err().to_string();
    assert!(e.len() < 400, "{} bytes", e.len());
}

/// A random JSON value, small.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| serde_json::json!(i)),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![Just("sched_1"), Just(""), Just("started"), Just("scx_lavd")]
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("execution_id".to_owned()),
                    Just("status".to_owned()),
                    Just("schedulers".to_owned()),
                    Just("name".to_owned()),
                    Just("pid".to_owned()),
                    Just("tuning_parameters".to_owned()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every parser on one text; errors are typed and short.
fn all_mcp_parsers(text: &str) -> Result<(), TestCaseError> {
    let check = |r: Result<(), McpError>| -> Result<(), TestCaseError> {
        if let Err(e) = r {
            prop_assert!(matches!(e, McpError::Garbage { .. }), "{e}");
            prop_assert!(e.to_string().len() < 1024, "{} bytes", e.to_string().len());
        }
        Ok(())
    };
    check(parse_run(Some(text)).map(drop))?;
    check(parse_stop(Some(text)).map(drop))?;
    check(parse_status(Some(text)).map(drop))?;
    check(parse_catalogue(Some(text)).map(drop))?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES_MCP))]
    #[test]
    fn mcp_results_arbitrary_text(text in ".{0,200}") {
        all_mcp_parsers(&text)?;
    }

    /// JSON encoded once, twice (schedcp's double encoding) or three times.
    #[test]
    fn mcp_results_json_encoded_1_to_3_times(v in json(), times in 1usize..4) {
        let mut text = serde_json::to_string(&v).unwrap();
        for _ in 1..times {
            text = serde_json::to_string(&text).unwrap();
        }
        all_mcp_parsers(&text)?;
        if let Ok(run) = parse_run(Some(&text)) {
            prop_assert!(!run.execution_id.is_empty());
        }
    }
}

#[test]
fn mcp_results_deep_and_large() {
    // Nesting beyond serde_json's recursion limit is an error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        parse_run(Some(&deep)),
        Err(McpError::Garbage { .. })
    ));
    let deep_string = serde_json::to_string(&deep).unwrap();
    assert!(matches!(
        parse_stop(Some(&deep_string)),
        Err(McpError::Garbage { .. })
    ));
    // 16 MiB of garbage: a short message.
    let big = "z".repeat(16 << 20);
    let e = parse_status(Some(&big)).unwrap_err().to_string();
    assert!(e.len() < 1024, "{} bytes", e.len());
    // A 100k-entry catalogue parses (large, but well-formed).
    let list: Vec<Value> = (0..100_000)
        .map(|i| serde_json::json!({"name": format!("scx_{i}")}))
        .collect();
    let text = serde_json::json!({ "schedulers": list }).to_string();
    assert_eq!(parse_catalogue(Some(&text)).unwrap().len(), 100_000);
}

/// Lines that look like requests: known commands, random fields.
fn request_line() -> impl Strategy<Value = String> {
    let cmd = prop_oneof![
        Just("status"),
        Just("snapshot"),
        Just("schedulers"),
        Just("switch"),
        Just("pause"),
        Just("resume"),
        Just("history"),
        Just("rm -rf /"),
        Just(""),
        Just("STATUS")
    ];
    (
        cmd,
        prop::collection::btree_map(
            prop_oneof![
                Just("name".to_owned()),
                Just("for_secs".to_owned()),
                Just("since_secs".to_owned()),
                Just("limit".to_owned()),
                Just("cmd".to_owned()),
                "[a-z_]{1,6}"
            ],
            json(),
            0..4,
        ),
    )
        .prop_map(|(cmd, mut fields)| {
            fields
                .entry("cmd".into())
                .or_insert(Value::String(cmd.into()));
            serde_json::to_string(&fields).unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES_CONTROL))]
    #[test]
    fn control_requests_arbitrary_lines(line in ".{0,200}") {
        let _ = serde_json::from_str::<Request>(&line);
    }

    #[test]
    fn control_requests_structured(line in request_line()) {
        // What decodes re-encodes to something that decodes the same.
        if let Ok(r) = serde_json::from_str::<Request>(&line) {
            let again = serde_json::to_string(&r).unwrap();
            prop_assert_eq!(serde_json::from_str::<Request>(&again).unwrap(), r);
        }
    }
}

#[test]
fn control_request_deep_nesting_is_an_error() {
    let deep = format!(
        "{{\"cmd\":\"switch\",\"name\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(serde_json::from_str::<Request>(&deep).is_err());
}

/// A fake daemon that answers every connection with `answer` (None: says
/// nothing and holds the connection).
fn fake_daemon(
    dir: &Path,
    answer: impl Fn(&mut std::os::unix::net::UnixStream) + Send + 'static,
) -> std::path::PathBuf {
    let path = dir.join("autosa.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            answer(&mut s);
        }
    });
    path
}

#[test]
fn control_client_survives_a_bad_daemon() {
    // Garbage.
    let dir = tempfile::tempdir().unwrap();
    let path = fake_daemon(dir.path(), |s| {
        let _ = s.write_all(b"<html>not json</html>\n");
    });
    let e = Client::new(&path).call(&Request::Status).unwrap_err();
    assert!(matches!(e, ClientError::Decode { .. }), "{e}");

    // No answer: the client gives up at its timeout.
    let dir = tempfile::tempdir().unwrap();
    let path = fake_daemon(dir.path(), |_| std::thread::sleep(Duration::from_secs(30)));
    let t = Instant::now();
    let e = Client::new(&path)
        .with_timeout(Duration::from_millis(300))
        .call(&Request::Status)
        .unwrap_err();
    assert!(matches!(e, ClientError::Io { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());

    // Closed without answering.
    let dir = tempfile::tempdir().unwrap();
    let path = fake_daemon(dir.path(), |s| {
        let _ = s.shutdown(std::net::Shutdown::Both);
    });
    let e = Client::new(&path).call(&Request::Status).unwrap_err();
    assert!(matches!(e, ClientError::Closed { .. }), "{e}");

    // An endless line: read up to the bound, then refused as unreadable.
    let dir = tempfile::tempdir().unwrap();
    let path = fake_daemon(dir.path(), |s| {
        let chunk = vec![b'x'; 1 << 20];
        while s.write_all(&chunk).is_ok() {}
    });
    let e = Client::new(&path)
        .with_timeout(Duration::from_secs(20))
        .call(&Request::Status)
        .unwrap_err();
    assert!(matches!(e, ClientError::Decode { .. }), "{e}");
    eprintln!("endless answer cut at {MAX_RESPONSE_BYTES} bytes: {e}");
}
