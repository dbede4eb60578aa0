//! `autosa mcp` as an agent sees it: a real rmcp client spawns
//! `autosa mcp --socket <tmp>` and talks MCP over stdio; a fake control
//! server (a Unix listener thread answering canned `Response` lines) stands
//! in for the daemon and records every request it gets.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autosa::control::protocol::{BackendOffer, DaemonStatus, Request, Response};
use autosa::model::Snapshot;
use autosa::model::snapshot::{LatencyHistogram, SchedView, TaskView};
use autosa::policy::plan::WorkloadClass;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RunningService, ServiceError};
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

/// The daemon's control socket, faked: answers each request line with the
/// canned response for its `cmd` and records the raw request.
struct FakeDaemon {
    path: PathBuf,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl FakeDaemon {
    fn start(path: PathBuf, answers: HashMap<&'static str, Response>) -> FakeDaemon {
        let listener = UnixListener::bind(&path).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        // The thread ends with the test process; each connection is one request.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let raw: Value = serde_json::from_str(&line).expect("a JSON request line");
                // What reaches the daemon must be a valid protocol request.
                let parsed: Request = serde_json::from_value(raw.clone()).expect("a Request");
                seen.lock().unwrap().push(raw.clone());
                let cmd = raw["cmd"].as_str().unwrap();
                let answer = answers.get(cmd).cloned().unwrap_or(Response::Error {
                    message: format!("the fake has no answer for {parsed:?}"),
                });
                let mut out = serde_json::to_vec(&answer).unwrap();
                out.push(b'\n');
                let _ = stream.write_all(&out);
            }
        });
        FakeDaemon { path, requests }
    }

    fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

/// Built from JSON so that fields the protocol adds later (with serde
/// defaults) do not break this test.
fn status() -> DaemonStatus {
    serde_json::from_value(json!({
        "protocol": 1, "version": "0.1.0", "pid": 4242,
        "started_unix_ms": 1_700_000_000_000u64, "backend": "eevdf", "dry_run": false,
        "interval_ms": 1000, "class": "mixed", "confidence": 0.81,
        "reasons": ["2 CPU hogs beside a latency-sensitive task"],
        "scheduler": "eevdf", "since_unix_ms": 1_700_000_000_000u64,
        "switching": {"active": "mixed", "judging": null, "blocked": [], "backed_off": [],
                      "cooldown_left_secs": 0, "switches_last_hour": 1},
        "paused_until_unix_ms": null, "manual": null,
        "recent": [], "sources": [], "dropped_intervals": 0
    }))
    .unwrap()
}

fn snapshot() -> Snapshot {
    let mut s = Snapshot {
        version: 1,
        time_unix_ms: 1_700_000_000_000,
        interval_ms: 1000,
        ..Snapshot::default()
    };
    s.cpu.nr_cpus = 2;
    s.cpu.total.user = 0.9;
    s.cpu.total.idle = 0.1;
    s.sched = Some(SchedView {
        runq_latency: LatencyHistogram {
            count: 100,
            sum_ns: 200_000_000,
            p50_ns: 40_000,
            p90_ns: 2_000_000,
            p99_ns: 5_600_000,
            max_ns: 8_000_000,
            buckets: vec![],
        },
        ..SchedView::default()
    });
    s.tasks = vec![
        TaskView {
            tgid: 100,
            comm: "stress-ng".into(),
            cpu_fraction: 1.9,
            runq_count: 50,
            runq_delay_total_ns: 150_000_000,
            ..TaskView::default()
        },
        TaskView {
            tgid: 200,
            comm: "latency-app".into(),
            cpu_fraction: 0.05,
            runq_count: 300,
            runq_delay_total_ns: 420_000_000,
            ..TaskView::default()
        },
    ];
    s
}

fn answers() -> HashMap<&'static str, Response> {
    HashMap::from([
        ("status", Response::Status(Box::new(status()))),
        ("snapshot", Response::Snapshot(Box::new(snapshot()))),
        (
            "schedulers",
            Response::Schedulers(vec![
                BackendOffer {
                    backend: "eevdf".into(),
                    available: true,
                    offers: vec!["nice".into(), "sched_idle".into()],
                    detail: "per-task".into(),
                },
                BackendOffer {
                    backend: "scx".into(),
                    available: false,
                    offers: vec![],
                    detail: "kernel without sched_ext".into(),
                },
            ]),
        ),
        (
            "history",
            Response::History(vec![
                json!({"time_unix_ms": 1, "what": "switch", "to": "mixed"}),
                json!({"time_unix_ms": 2, "what": "rollback", "why": "p99 got worse"}),
            ]),
        ),
        (
            "switch",
            Response::Accepted {
                message: "switching to scx_lavd for 60 s".into(),
            },
        ),
        (
            "pause",
            Response::Accepted {
                message: "paused for 30 s".into(),
            },
        ),
        (
            "resume",
            Response::Accepted {
                message: "automatic switching resumed".into(),
            },
        ),
    ])
}

/// A daemon that reads the request and then answers `reply` (a raw line),
/// or never answers when `reply` is `None`.
fn raw_daemon(path: &Path, reply: Option<&'static str>) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            match reply {
                Some(r) => {
                    let _ = stream.write_all(r.as_bytes());
                }
                None => held.push(stream),
            }
        }
    });
}

type Client = RunningService<RoleClient, ()>;

/// Spawns `autosa mcp --socket <socket> --config <config>` and does the
/// MCP handshake.
async fn connect(socket: &Path, config: &Path) -> Client {
    connect_with(socket, config, &[]).await
}

async fn connect_with(socket: &Path, config: &Path, extra: &[&str]) -> Client {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_autosa"));
    command
        .arg("--config")
        .arg(config)
        .arg("mcp")
        .arg("--socket")
        .arg(socket)
        .args(extra)
        .env("AUTOSA_LOG", "warn");
    let transport = TokioChildProcess::new(command).unwrap();
    tokio::time::timeout(Duration::from_secs(10), ().serve(transport))
        .await
        .expect("handshake within 10 s")
        .expect("handshake")
}

/// A config for `recommend` without a daemon: procfs only, short intervals
/// (no eBPF, so parallel tests never load the programs).
fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("autosa.toml");
    std::fs::write(&path, "[collect]\ninterval = \"200ms\"\nbpf = false\n").unwrap();
    path
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().expect("arguments are an object"));
    tokio::time::timeout(Duration::from_secs(20), client.call_tool(params))
        .await
        .expect("tool answers within 20 s")
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn texts(r: &CallToolResult) -> Vec<String> {
    r.content
        .iter()
        .map(|c| c.as_text().expect("text content").text.clone())
        .collect()
}

/// A successful answer: a one-line summary, then JSON.
fn ok_json(tool: &str, r: &CallToolResult) -> (String, Value) {
    let t = texts(r);
    assert_eq!(r.is_error, Some(false), "{tool}: {t:?}");
    assert_eq!(t.len(), 2, "{tool}: {t:?}");
    assert!(
        !t[0].contains('\n'),
        "{tool}: summary is one line: {}",
        t[0]
    );
    let v = serde_json::from_str(&t[1]).unwrap_or_else(|e| panic!("{tool}: {e}: {}", t[1]));
    (t[0].clone(), v)
}

/// A failed answer: the message, and its kind from the JSON block.
fn error_of(tool: &str, r: &CallToolResult) -> (String, String) {
    let t = texts(r);
    assert_eq!(r.is_error, Some(true), "{tool}: {t:?}");
    let v: Value = serde_json::from_str(&t[1]).unwrap();
    (
        t[0].clone(),
        v["error"]["kind"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_offers_every_tool_with_a_schema() {
    let dir = tempfile::tempdir().unwrap();
    let client = connect(&dir.path().join("none.sock"), &config_file(dir.path())).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().unwrap().name, "autosa");
    assert!(info.capabilities.tools.is_some());
    assert!(
        info.instructions
            .as_deref()
            .unwrap_or("")
            .contains("request_switch")
    );
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "get_status",
            "get_metrics",
            "recommend",
            "get_history",
            "list_schedulers",
            "request_switch",
            "pause",
            "resume"
        ]
    );
    for t in &tools {
        assert_eq!(t.input_schema["type"], "object", "{}", t.name);
        assert!(t.description.as_ref().is_some_and(|d| !d.is_empty()));
    }
    let by_name = |n: &str| tools.iter().find(|t| t.name == n).unwrap();
    let switch = &by_name("request_switch").input_schema;
    assert_eq!(switch["required"], json!(["name"]));
    assert_eq!(switch["properties"]["name"]["pattern"], "^[a-z0-9_-]+$");
    assert_eq!(switch["properties"]["for_secs"]["maximum"], 86_400);
    let history = &by_name("get_history").input_schema["properties"];
    assert!(history["since_secs"].is_object() && history["limit"].is_object());
    assert_eq!(
        by_name("recommend").input_schema["properties"]["duration_secs"]["maximum"],
        60
    );
    let ro = |n: &str| {
        by_name(n)
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
    };
    assert_eq!(ro("get_status"), Some(true));
    assert_eq!(ro("request_switch"), Some(false));
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_forwards_its_request_to_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = FakeDaemon::start(dir.path().join("autosa.sock"), answers());
    let client = connect(&daemon.path, &config_file(dir.path())).await;

    let (line, v) = ok_json("get_status", &call(&client, "get_status", json!({})).await);
    assert_eq!(v["class"], "mixed");
    assert_eq!(v["pid"], 4242);
    assert!(line.contains("workload mixed (confidence 0.81)"), "{line}");
    assert!(line.contains("automatic switching on"), "{line}");

    let (line, v) = ok_json(
        "get_metrics",
        &call(&client, "get_metrics", json!({"top": 1})).await,
    );
    assert_eq!(v["runq_latency"]["p99_ms"], 5.6);
    assert_eq!(v["runq_latency"]["p50_ms"], 0.04);
    assert_eq!(v["cpu"]["busy_fraction"], 0.9);
    assert_eq!(v["top_waiting"].as_array().unwrap().len(), 1);
    assert_eq!(v["top_waiting"][0]["comm"], "latency-app");
    assert_eq!(v["top_waiting"][0]["runq_delay_total_ms"], 420.0);
    assert!(line.contains("p99 5.6 ms"), "{line}");

    let (line, v) = ok_json(
        "recommend",
        &call(&client, "recommend", json!({"duration_secs": 60})).await,
    );
    assert_eq!(v["source"], "daemon");
    assert_eq!(v["class"], "mixed");
    assert_eq!(v["applied_matches_class"], true);
    assert!(line.starts_with("daemon: workload mixed"), "{line}");

    let (line, v) = ok_json(
        "get_history",
        &call(
            &client,
            "get_history",
            json!({"since_secs": 3600, "limit": 10}),
        )
        .await,
    );
    assert_eq!(v["count"], 2);
    assert_eq!(v["entries"][1]["what"], "rollback");
    assert_eq!(line, "2 history entries from the last 3600 s");

    let (line, v) = ok_json(
        "list_schedulers",
        &call(&client, "list_schedulers", json!({})).await,
    );
    assert_eq!(v["backends"][0]["offers"], json!(["nice", "sched_idle"]));
    assert_eq!(
        line,
        "eevdf: nice, sched_idle; scx: unavailable (kernel without sched_ext)"
    );

    let (line, v) = ok_json(
        "request_switch",
        &call(
            &client,
            "request_switch",
            json!({"name": "scx_lavd", "for_secs": 60}),
        )
        .await,
    );
    assert_eq!(v["accepted"], true);
    assert_eq!(v["message"], "switching to scx_lavd for 60 s");
    assert!(line.contains("switching to scx_lavd"), "{line}");

    ok_json(
        "pause",
        // Some clients send every argument as a string: digits are accepted.
        &call(&client, "pause", json!({"for_secs": "30"})).await,
    );
    ok_json("resume", &call(&client, "resume", json!({})).await);

    assert_eq!(
        daemon.requests(),
        [
            json!({"cmd": "status"}),
            json!({"cmd": "snapshot"}),
            json!({"cmd": "status"}),
            json!({"cmd": "history", "since_secs": 3600, "limit": 10}),
            json!({"cmd": "schedulers"}),
            json!({"cmd": "switch", "name": "scx_lavd", "for_secs": 60}),
            json!({"cmd": "pause", "for_secs": 30}),
            json!({"cmd": "resume"}),
        ]
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_arguments_never_reach_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = FakeDaemon::start(dir.path().join("autosa.sock"), answers());
    let client = connect(&daemon.path, &config_file(dir.path())).await;
    let long = "a".repeat(65);
    let bad = [
        ("request_switch", json!({"name": "scx_lavd; rm -rf /"})),
        ("request_switch", json!({"name": "../../bin/sh"})),
        ("request_switch", json!({"name": "$(reboot)"})),
        ("request_switch", json!({"name": "SCX_LAVD"})),
        (
            "request_switch",
            json!({"name": "scx_lavd\n{\"cmd\":\"resume\"}"}),
        ),
        ("request_switch", json!({"name": ""})),
        ("request_switch", json!({"name": long})),
        ("request_switch", json!({})),
        ("request_switch", json!({"name": 7})),
        ("request_switch", json!({"name": "scx_lavd", "for_secs": 0})),
        (
            "request_switch",
            json!({"name": "scx_lavd", "for_secs": 86_401}),
        ),
        (
            "request_switch",
            json!({"name": "scx_lavd", "args": ["-v"]}),
        ),
        ("pause", json!({"for_secs": -1})),
        ("get_history", json!({"limit": 501})),
        ("get_metrics", json!({"top": 0})),
        ("recommend", json!({"duration_secs": 61})),
        ("get_status", json!({"verbose": true})),
    ];
    for (tool, args) in bad {
        let r = call(&client, tool, args.clone()).await;
        let (message, kind) = error_of(tool, &r);
        assert_eq!(kind, "bad_arguments", "{tool} {args}: {message}");
        assert!(message.starts_with("invalid arguments: "), "{message}");
    }
    assert_eq!(daemon.requests(), Vec::<Value>::new());

    // Not a tool at all: a protocol error naming the real ones.
    let params = CallToolRequestParams::new("run_scheduler");
    match client.call_tool(params).await {
        Err(ServiceError::McpError(e)) => {
            assert_eq!(e.code.0, -32602);
            assert!(e.message.contains("request_switch"), "{}", e.message);
        }
        other => panic!("expected a -32602 error, got {other:?}"),
    }
    assert_eq!(daemon.requests(), Vec::<Value>::new());
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_by_the_daemon_reaches_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let mut canned = answers();
    canned.insert(
        "switch",
        Response::Error {
            message: "scx_nope is not offered by any backend; see `autosa schedulers`".into(),
        },
    );
    let daemon = FakeDaemon::start(dir.path().join("autosa.sock"), canned);
    let client = connect(&daemon.path, &config_file(dir.path())).await;
    let r = call(&client, "request_switch", json!({"name": "scx_nope"})).await;
    let (message, kind) = error_of("request_switch", &r);
    assert_eq!(kind, "refused_by_daemon");
    assert_eq!(
        message,
        "the autosa daemon refused: scx_nope is not offered by any backend; see `autosa schedulers`"
    );
    assert_eq!(
        daemon.requests(),
        [json!({"cmd": "switch", "name": "scx_nope", "for_secs": null})]
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_daemon_switching_is_refused_and_recommend_samples_here() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("absent.sock");
    let client = connect(&socket, &config_file(dir.path())).await;

    for (tool, args) in [
        ("request_switch", json!({"name": "scx_lavd"})),
        ("pause", json!({})),
        ("resume", json!({})),
    ] {
        let (message, kind) = error_of(tool, &call(&client, tool, args).await);
        assert_eq!(kind, "daemon_not_running", "{tool}");
        assert!(message.contains("autosa run"), "{message}");
        assert!(message.contains(&socket.display().to_string()), "{message}");
        assert!(
            message.contains("never changes the scheduler itself"),
            "{message}"
        );
    }
    for tool in [
        "get_status",
        "get_metrics",
        "get_history",
        "list_schedulers",
    ] {
        let (message, kind) = error_of(tool, &call(&client, tool, json!({})).await);
        assert_eq!(kind, "daemon_not_running", "{tool}");
        assert!(message.contains("only `recommend` works"), "{message}");
    }

    let (line, v) = ok_json(
        "recommend",
        &call(&client, "recommend", json!({"duration_secs": 1})).await,
    );
    assert_eq!(v["source"], "standalone");
    assert_eq!(v["intervals"], 5, "1 s of 200 ms intervals: {v}");
    assert_eq!(v["interval_ms"], 200);
    assert_eq!(v["has_ebpf"], false);
    let class: WorkloadClass = serde_json::from_value(v["class"].clone()).unwrap();
    assert!(WorkloadClass::ALL.contains(&class));
    let confidence = v["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence), "{confidence}");
    assert!(v["recommendation"]["plan"].is_object(), "{v}");
    assert!(v["note"].as_str().unwrap().contains("nothing was changed"));
    assert!(
        line.starts_with("standalone (5 interval(s) sampled here, procfs only)"),
        "{line}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_garbled_or_mismatched_daemon_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());

    let hung = dir.path().join("hung.sock");
    raw_daemon(&hung, None);
    let client = connect_with(
        &hung,
        &config,
        &["--timeout", "300ms", "--switch-timeout", "400ms"],
    )
    .await;
    let started = std::time::Instant::now();
    let (message, kind) = error_of("get_status", &call(&client, "get_status", json!({})).await);
    assert_eq!(kind, "daemon_failed", "{message}");
    assert!(message.contains("no answer from"), "{message}");
    assert!(message.contains("journalctl -u autosa"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A hung daemon is not an absent one: no local sampling behind its back.
    let (_, kind) = error_of("recommend", &call(&client, "recommend", json!({})).await);
    assert_eq!(kind, "daemon_failed");
    let r = call(&client, "request_switch", json!({"name": "scx_lavd"})).await;
    let (message, kind) = error_of("request_switch", &r);
    assert_eq!(kind, "daemon_failed", "{message}");
    assert!(message.contains("no answer from"), "{message}");
    client.cancel().await.unwrap();

    let garbled = dir.path().join("garbled.sock");
    raw_daemon(&garbled, Some("<html>502</html>\n"));
    let client = connect(&garbled, &config).await;
    let (message, kind) = error_of("get_status", &call(&client, "get_status", json!({})).await);
    assert_eq!(kind, "daemon_failed");
    assert!(message.contains("unreadable"), "{message}");
    client.cancel().await.unwrap();

    // An older or newer daemon answering another type than asked for.
    let mut canned = answers();
    canned.insert(
        "snapshot",
        Response::Accepted {
            message: "?".into(),
        },
    );
    let daemon = FakeDaemon::start(dir.path().join("other.sock"), canned);
    let client = connect(&daemon.path, &config).await;
    let (message, kind) = error_of(
        "get_metrics",
        &call(&client, "get_metrics", json!({})).await,
    );
    assert_eq!(kind, "unexpected_answer");
    assert!(message.contains("same autosa"), "{message}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_recommend_stops_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let client = connect(&dir.path().join("absent.sock"), &config_file(dir.path())).await;
    let long = CallToolRequestParams::new("recommend")
        .with_arguments(json!({"duration_secs": 60}).as_object().cloned().unwrap());
    // Dropping the call sends notifications/cancelled for it.
    let dropped = tokio::time::timeout(Duration::from_millis(600), client.call_tool(long)).await;
    assert!(dropped.is_err(), "a 60 s sampling cannot answer in 600 ms");
    // Samplings run one at a time: this one can only start once the
    // cancelled one has stopped, which must be long before its 60 s.
    let started = std::time::Instant::now();
    let (_, v) = ok_json(
        "recommend",
        &call(&client, "recommend", json!({"duration_secs": 1})).await,
    );
    assert_eq!(v["source"], "standalone");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the cancelled sampling kept running: {:?}",
        started.elapsed()
    );
    client.cancel().await.unwrap();
}
