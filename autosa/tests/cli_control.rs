//! The control socket end to end: the real `autosa run --backend none` (eBPF
//! off, 200 ms interval, temp state dir and socket) and every control
//! command against it, as a user runs them.

#[path = "support/child.rs"]
mod child;

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_autosa");
const DEADLINE: Duration = Duration::from_secs(30);

/// A temp dir the daemon and its clients (also `nobody`) can reach.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(group: &str) -> Setup {
        Setup::with(group, 32)
    }

    fn with(group: &str, max_clients: usize) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = format!(
            "[daemon]\nstate_dir = \"{d}/state\"\n\
             [collect]\ninterval = \"200ms\"\nbpf = false\n\
             [control]\nsocket = \"{d}/run/autosa.sock\"\ngroup = \"{group}\"\n\
             max_clients = {max_clients}\n\
             [history]\nmetrics_every = \"1s\"\n",
            d = dir.path().display()
        );
        std::fs::write(dir.path().join("autosa.toml"), config).unwrap();
        Setup { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("autosa.toml")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("run/autosa.sock")
    }

    fn start(&self) -> Daemon {
        let log = self.dir.path().join("daemon.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(self.config())
            .args(["run", "--backend", "none"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut d = Daemon {
            child: Some(child),
            log,
        };
        // Ready when `status` answers with a first classification.
        let deadline = Instant::now() + DEADLINE;
        loop {
            d.assert_running();
            let out = self.cli(&["status", "--json"]);
            if out.status.success() {
                let s: Value = serde_json::from_slice(&out.stdout).unwrap();
                if !s["class"].is_null() && s["scheduler"] != "" {
                    return d;
                }
            }
            assert!(Instant::now() < deadline, "not ready:\n{}", d.log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `autosa --config … ARGS` (the socket comes from the config).
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env_remove("AUTOSA_SOCKET")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("autosa exited ({status}):\n{}", self.log_text());
        }
    }

    /// SIGTERM and wait (SIGKILL after the deadline).
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child::terminate(&mut child, DEADLINE).is_none() {
            panic!("autosa did not stop on SIGTERM:\n{}", self.log_text());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child::terminate(&mut child, Duration::from_millis(500));
        }
    }
}

/// The JSON's shape: keys kept, every value replaced by its type; an array
/// by the shape of its first element. Volatile values (times, pids,
/// numbers, reasons) drop out, renamed or removed fields do not.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Compares the shape with `tests/golden/NAME.json`; `UPDATE_GOLDEN=1`
/// writes it instead.
fn golden(name: &str, v: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"));
    let got = serde_json::to_string_pretty(&shape(v)).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        got,
        want,
        "{} changed: the JSON interface is public (add fields, never rename); \
         rerun with UPDATE_GOLDEN=1 if the change is intended",
        path.display()
    );
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn history_types(setup: &Setup) -> Vec<String> {
    let h = setup.json(&["history", "--json", "--limit", "100000"]);
    h.as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_command_against_a_running_daemon() {
    let setup = Setup::new("");
    let mut daemon = setup.start();
    let mode = std::fs::metadata(setup.socket())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "root only without a group");

    // status, text and JSON.
    let out = setup.cli(&["status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for want in [
        "backend eevdf",
        "class:",
        "scheduler:  eevdf",
        "switching:  automatic",
        "dropped:",
    ] {
        assert!(s.contains(want), "no {want:?} in:\n{s}");
    }
    let status = setup.json(&["status", "--json"]);
    assert_eq!(status["protocol"], 1);
    assert_eq!(status["paused"], false);

    // schedulers.
    let out = setup.cli(&["schedulers"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(
        s.contains("eevdf backend: available") && s.contains("per_task_policy"),
        "{s}"
    );
    let offers = setup.json(&["schedulers", "--json"]);
    assert_eq!(offers[0]["backend"], "eevdf");
    assert!(offers[0]["detail"].as_str().unwrap().contains("dry run"));
    golden("schedulers", &offers);

    // A manual class choice for 10 minutes.
    let out = setup.cli(&["switch", "latency_sensitive", "--for", "10m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("manual choice `latency_sensitive`"));
    let status = setup.json(&["status", "--json"]);
    assert_eq!(status["manual"], "latency_sensitive");
    assert_eq!(status["paused"], true);
    assert_eq!(status["switching"]["active"], "latency_sensitive");
    let until = status["paused_until_unix_ms"].as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        until > now + 590_000 && until < now + 610_000,
        "{until} vs {now}"
    );
    golden("status", &status);
    let s = text(&setup.cli(&["status"]).stdout);
    assert!(s.contains("manual choice `latency_sensitive`"), "{s}");

    // An unknown name is refused with what is offered, exit code 1.
    let out = setup.cli(&["switch", "scx_nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown name `scx_nope`") && err.contains("latency_sensitive"),
        "{err}"
    );

    // pause keeps the choice; resume ends both.
    assert!(setup.cli(&["pause"]).status.success());
    let status = setup.json(&["status", "--json"]);
    assert_eq!(status["paused"], true);
    assert!(status["paused_until_unix_ms"].is_null());
    let out = setup.cli(&["resume"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("automatic switching resumes"));
    let status = setup.json(&["status", "--json"]);
    assert_eq!(status["paused"], false);
    assert!(status["manual"].is_null());

    // A pause for a second runs out by itself.
    assert!(setup.cli(&["pause", "--for", "1s"]).status.success());
    assert_eq!(setup.json(&["status", "--json"])["paused"], true);
    wait_until("the pause to run out", || {
        setup.json(&["status", "--json"])["paused"] == false
    });

    // `idle` restores the defaults.
    assert!(setup.cli(&["switch", "idle"]).status.success());
    let status = setup.json(&["status", "--json"]);
    assert!(status["switching"]["active"].is_null());
    assert!(setup.cli(&["resume"]).status.success());

    // History: the start, the decisions, every command and metrics points.
    wait_until("a metrics point", || {
        history_types(&setup).iter().any(|t| t == "metrics")
    });
    let h = setup.json(&["history", "--json"]);
    let h = h.as_array().unwrap();
    let of = |t: &str| h.iter().find(|e| e["type"] == t).cloned();
    let commands: Vec<String> = h
        .iter()
        .filter(|e| e["type"] == "manual")
        .map(|e| e["command"].as_str().unwrap().to_owned())
        .collect();
    for want in [
        "switch latency_sensitive --for 10m",
        "switch scx_nope",
        "pause",
        "resume",
        "pause --for 1s",
        "pause ended",
        "switch idle",
    ] {
        assert!(
            commands.iter().any(|c| c == want),
            "{want} not in {commands:?}"
        );
    }
    let refused = h
        .iter()
        .find(|e| e["command"] == "switch scx_nope")
        .unwrap();
    assert_eq!(refused["accepted"], false);
    let shapes = serde_json::json!({
        "start": of("start").expect("a start record"),
        "manual": of("manual").unwrap(),
        "decision": of("decision").expect("a decision record"),
        "metrics": of("metrics").unwrap(),
    });
    golden("history", &shapes);
    let out = setup.cli(&["history"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(
        s.contains("daemon started") && s.contains("command `switch scx_nope` refused"),
        "{s}"
    );
    let limited = setup.json(&["history", "--json", "--since", "1h", "--limit", "3"]);
    assert_eq!(limited.as_array().unwrap().len(), 3);
    // The newest are kept (more may have been written meanwhile).
    let newest = |v: &Value| v["time_unix_ms"].as_u64().unwrap();
    let limited = limited.as_array().unwrap();
    assert!(newest(&limited[0]) <= newest(&limited[2]));
    assert!(newest(&limited[2]) >= newest(h.last().unwrap()));

    // The history survives a restart.
    let before = h.len();
    daemon.stop();
    assert!(!setup.socket().exists(), "the socket is removed on exit");
    let out = setup.cli(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot reach the autosa daemon"), "{err}");
    // The cause (the io error) is named once, not again after the hint.
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let _daemon = setup.start();
    let types = history_types(&setup);
    assert!(types.len() > before, "{types:?}");
    assert_eq!(
        types.iter().filter(|t| *t == "start").count(),
        2,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "stop").count(),
        1,
        "{types:?}"
    );
}

#[test]
fn a_second_daemon_is_refused_and_a_stale_socket_is_replaced() {
    let setup = Setup::new("");
    // A stale socket left by a dead daemon.
    std::fs::create_dir_all(setup.socket().parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(setup.socket()).unwrap());
    assert!(setup.socket().exists());
    let _daemon = setup.start();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(setup.config())
        .args(["run", "--backend", "none"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("another autosa daemon"), "{err}");
    // The first one is unharmed.
    assert!(setup.cli(&["status"]).status.success());

    // Something that is not a socket is never deleted.
    let other = Setup::new("");
    std::fs::create_dir_all(other.socket().parent().unwrap()).unwrap();
    std::fs::write(other.socket(), "precious").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(other.config())
        .args(["run", "--backend", "none"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is not a socket"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(other.socket()).unwrap(), "precious");
}

/// Runs `autosa --socket S status --json` as `nobody`, from a copy of the
/// binary it can reach (the target dir may sit under a 0700 home).
fn status_as_nobody(setup: &Setup) -> Output {
    let bin = setup.dir.path().join("autosa-client");
    if !bin.exists() {
        std::fs::copy(BIN, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // A thread forking elsewhere may hold the fresh copy open for writing
    // for an instant (ETXTBSY): try again.
    for _ in 0..50 {
        match Command::new(&bin)
            .args(["--socket"])
            .arg(setup.socket())
            .args(["status", "--json"])
            .uid(65534)
            .gid(65534)
            .output()
        {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => return other.unwrap(),
        }
    }
    panic!("{} stayed busy", bin.display());
}

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the permission tests as root"
    );
    eprintln!("skipped: switching to uid 65534 needs root");
    false
}

#[test]
fn a_client_that_is_not_root_is_refused() {
    if !is_root() {
        return;
    }
    let setup = Setup::new("");
    let _daemon = setup.start();
    // The socket's mode keeps it out.
    let out = status_as_nobody(&setup);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach the autosa daemon"),
        "{}",
        text(&out.stderr)
    );
    // With the mode opened by mistake, the peer credentials still keep it out.
    std::fs::set_permissions(setup.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = status_as_nobody(&setup);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("permission denied: uid 65534"), "{err}");
}

#[test]
fn members_of_the_configured_group_are_let_in() {
    if !is_root() {
        return;
    }
    let setup = Setup::new("nogroup");
    let _daemon = setup.start();
    let meta = std::fs::metadata(setup.socket()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), 65534);
    let out = status_as_nobody(&setup);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["protocol"], 1);
}

#[test]
fn a_silent_client_does_not_delay_others() {
    use std::io::Write as _;
    let setup = Setup::new("");
    let _daemon = setup.start();
    // One client says nothing, another sends half a line and stalls.
    let _silent = std::os::unix::net::UnixStream::connect(setup.socket()).unwrap();
    let mut half = std::os::unix::net::UnixStream::connect(setup.socket()).unwrap();
    half.write_all(br#"{"cmd":"sta"#).unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        let out = setup.cli(&["status", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // The server gives a silent client 10 s: answers must not wait for it.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "status waited {:?} behind a silent client",
        started.elapsed()
    );
    // A request line over the limit is refused, not buffered forever.
    let mut big = std::os::unix::net::UnixStream::connect(setup.socket()).unwrap();
    big.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = big.write_all(&vec![b' '; 70 << 10]);
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut big, &mut answer);
    assert!(answer.contains("request longer than"), "{answer}");
}

#[test]
fn a_client_over_the_limit_gets_the_slot_of_an_idle_one() {
    use autosa::control::{Client, Request, Response};
    use std::io::Read as _;
    let setup = Setup::with("", 1);
    let _daemon = setup.start();
    let mut silent = std::os::unix::net::UnixStream::connect(setup.socket()).unwrap();
    // Give the server the time to take the silent client into its one slot.
    std::thread::sleep(Duration::from_millis(300));
    // The second waits until the silent one has been idle for a second,
    // which is then closed to serve it (not after the 10 s timeout).
    let client = Client::new(setup.socket()).with_timeout(Duration::from_secs(5));
    assert!(matches!(
        client.call(&Request::Status),
        Ok(Response::Status(_))
    ));
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        silent.read_to_end(&mut rest).unwrap(),
        0,
        "closed, no answer"
    );
}

#[test]
fn several_requests_on_one_connection_and_bad_ones_answered() {
    use std::io::{BufRead as _, BufReader, Write as _};
    let setup = Setup::new("");
    let _daemon = setup.start();
    let stream = std::os::unix::net::UnixStream::connect(setup.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut ask = |line: &str| -> Value {
        (&stream).write_all(line.as_bytes()).unwrap();
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap()
    };
    let bad = ask("{\"cmd\":\"rm -rf\"}\n");
    assert_eq!(bad["type"], "error");
    assert!(
        bad["data"]["message"]
            .as_str()
            .unwrap()
            .starts_with("unreadable request"),
        "{bad}"
    );
    let snap = ask("{\"cmd\":\"snapshot\"}\n");
    assert_eq!(snap["type"], "snapshot");
    assert!(snap["data"]["time_unix_ms"].as_u64().unwrap() > 0);
    let status = ask("{\"cmd\":\"status\"}\n");
    assert_eq!(status["type"], "status");
    let offers = ask("{\"cmd\":\"schedulers\"}\n");
    assert_eq!(offers["data"][0]["backend"], "eevdf");
}
