//! A test double of schedcp's MCP server: same tools, input schemas,
//! replies and -32602 errors, over stdio with rmcp. It fakes sched_ext by
//! writing a sysfs tree (`--sys-root`), or runs real scx binaries (`--real`,
//! in a sched_ext VM). `--mode` injects the faults measured on schedcp.
//!
//! Modes: normal | orphan-on-stop (stop answers "stopped", the scheduler
//! keeps running) | stubborn-orphan (the same, and the scheduler ignores
//! SIGINT: only SIGKILL ends it) | orphan-on-switch (run leaves the previous
//! one running) |
//! hang (tool calls other than list_schedulers never answer) | garbage
//! (run/stop/status answer non-JSON) | garbage-list | crash-after=N (exit on
//! tool call N+1) | slow-enable=MS (fake schedulers take MS to enable).
//!
//! `autosa-fake-schedcp fake-scheduler --name scx_x --sys-root DIR` is the
//! fake scheduler process itself: comm `scx_x`, sysfs enabled while it
//! runs, disabled on SIGINT/SIGTERM, exits at once if another is loaded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand};
use nix::sys::signal::{SigSet, Signal};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, watch};

#[derive(Parser)]
#[command(about = "Fake schedcp MCP server for autosa's tests")]
struct Cli {
    #[command(subcommand)]
    fake_scheduler: Option<FakeSchedulerCmd>,
    /// Root of the fake sysfs written for fake schedulers.
    #[arg(long, default_value = "/sys")]
    sys_root: PathBuf,
    #[arg(long, env = "AUTOSA_FAKE_SCHEDCP_MODE", default_value = "normal")]
    mode: Mode,
    /// Run the real scheduler binaries instead of fake ones.
    #[arg(long)]
    real: bool,
    /// Where real scheduler binaries are (else looked up in PATH).
    #[arg(long)]
    scx_bin_dir: Option<PathBuf>,
    /// schedcp waits this long between stopping the old and starting the new.
    #[arg(long, default_value_t = 500)]
    switch_pause_ms: u64,
}

#[derive(Subcommand)]
enum FakeSchedulerCmd {
    /// Be a fake scheduler process (used by the server itself).
    FakeScheduler {
        #[arg(long)]
        name: String,
        #[arg(long)]
        sys_root: PathBuf,
        #[arg(long, default_value_t = 0)]
        enable_delay_ms: u64,
        /// Only SIGTERM and SIGKILL end it.
        #[arg(long)]
        ignore_sigint: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    OrphanOnStop,
    StubbornOrphan,
    OrphanOnSwitch,
    Hang,
    Garbage,
    GarbageList,
    CrashAfter(u32),
    SlowEnable(u64),
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |e: std::num::ParseIntError| format!("{s}: {e}");
        Ok(match s.split_once('=') {
            None if s == "normal" => Mode::Normal,
            None if s == "orphan-on-stop" => Mode::OrphanOnStop,
            None if s == "stubborn-orphan" => Mode::StubbornOrphan,
            None if s == "orphan-on-switch" => Mode::OrphanOnSwitch,
            None if s == "hang" => Mode::Hang,
            None if s == "garbage" => Mode::Garbage,
            None if s == "garbage-list" => Mode::GarbageList,
            Some(("crash-after", n)) => Mode::CrashAfter(n.parse().map_err(bad)?),
            Some(("slow-enable", ms)) => Mode::SlowEnable(ms.parse().map_err(bad)?),
            _ => return Err(format!("unknown mode `{s}`")),
        })
    }
}

/// The production-ready schedulers of schedcp's catalogue, plus a few more.
const CATALOGUE: &[(&str, bool, &str)] = &[
    (
        "scx_bpfland",
        true,
        "Interactive tasks beside background CPU load",
    ),
    ("scx_flash", true, "Predictable latency for audio and media"),
    ("scx_flatcg", true, "Flattened cgroup hierarchy scheduler"),
    (
        "scx_lavd",
        true,
        "Latency-criticality aware, interactive and gaming",
    ),
    ("scx_layered", true, "Per-application layers"),
    ("scx_nest", true, "Keeps work on warm cores"),
    ("scx_p2dq", true, "General purpose with LLC-aware balancing"),
    ("scx_rustland", true, "Scheduling decisions in user space"),
    (
        "scx_rusty",
        true,
        "General purpose, load balancing per LLC domain",
    ),
    ("scx_simple", true, "Minimal FIFO/vtime scheduler"),
    ("scx_central", false, "Central CPU makes every decision"),
    ("scx_pair", false, "Core scheduling demo"),
    ("scx_qmap", false, "Five-level FIFO queue demo"),
    ("scx_userland", false, "Fully user-space vruntime demo"),
    ("scx_tickless", false, "Tickless demo"),
    ("scx_cosmos", false, "Lightweight deadline scheduler"),
    ("scx_chaos", false, "Randomised delays for testing"),
    ("scx_mitosis", false, "Cell-based cgroup scheduler"),
];

/// Input schemas exactly as schedcp publishes them.
const TOOLS: &[(&str, &str, &str)] = &[
    (
        "list_schedulers",
        "List available sched-ext schedulers with detailed information.",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"name":{"description":"Filter by scheduler name (partial match). Should leave empty by default.","nullable":true,"type":"string"},"production_ready":{"description":"Filter by production readiness. Should leave empty by default.","nullable":true,"type":"boolean"}},"title":"ListSchedulersRequest","type":"object"}"#,
    ),
    (
        "run_scheduler",
        "Run a sched-ext scheduler. Run a new scheduler will stop any running scheduler first.",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"args":{"default":[],"description":"Arguments to pass to the scheduler as a list of strings, as listed in the list_schedulers.","items":{"type":"string"},"type":"array"},"name":{"description":"Name of the scheduler to run, it should be one of the names returned by list_schedulers","type":"string"}},"required":["name"],"title":"RunSchedulerRequest","type":"object"}"#,
    ),
    (
        "stop_scheduler",
        "Stop a running scheduler.",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"execution_id":{"description":"Execution ID of the running scheduler","type":"string"}},"required":["execution_id"],"title":"StopSchedulerRequest","type":"object"}"#,
    ),
    (
        "get_execution_status",
        "Get status of a scheduler execution, and the output of the scheduler.",
        r#"{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"execution_id":{"description":"Execution ID to query","type":"string"}},"required":["execution_id"],"title":"GetExecutionStatusRequest","type":"object"}"#,
    ),
];

#[derive(Deserialize)]
struct ListReq {
    name: Option<String>,
    production_ready: Option<bool>,
}

#[derive(Deserialize)]
struct RunReq {
    name: String,
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Deserialize)]
struct IdReq {
    execution_id: String,
}

struct Execution {
    name: String,
    args: Vec<String>,
    pid: Option<u32>,
    /// Turns true when the process exited (a task waits on it).
    exited: watch::Receiver<bool>,
    status: &'static str,
    start_time: u64,
}

struct FakeServer {
    sys_root: PathBuf,
    mode: Mode,
    real: bool,
    scx_bin_dir: Option<PathBuf>,
    switch_pause: Duration,
    calls: AtomicU32,
    executions: Mutex<HashMap<String, Execution>>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(FakeSchedulerCmd::FakeScheduler {
        name,
        sys_root,
        enable_delay_ms,
        ignore_sigint,
    }) = cli.fake_scheduler
    {
        let delay = Duration::from_millis(enable_delay_ms);
        return fake_scheduler(&name, &sys_root, delay, ignore_sigint);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("error"))
        .init();
    if !cli.real {
        let state = cli.sys_root.join("kernel/sched_ext/state");
        if !state.exists() {
            write_atomic(&state, "disabled\n")?;
        }
    }
    let server = FakeServer {
        sys_root: cli.sys_root,
        mode: cli.mode,
        real: cli.real,
        scx_bin_dir: cli.scx_bin_dir,
        switch_pause: Duration::from_millis(cli.switch_pause_ms),
        calls: AtomicU32::new(0),
        executions: Mutex::new(HashMap::new()),
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async move {
            let (to_server, from_gate) = tokio::io::duplex(1 << 16);
            tokio::spawn(handshake_gate(to_server));
            let service = server.serve((from_gate, tokio::io::stdout())).await?;
            service.waiting().await?;
            anyhow::Ok(())
        })
}

/// Forwards stdin to the server, exiting like schedcp when the client does
/// not start with `initialize` then `notifications/initialized`.
async fn handshake_gate(mut to_server: tokio::io::DuplexStream) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut seen = 0usize;
    while let Ok(Some(line)) = lines.next_line().await {
        if seen < 2 {
            let method = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|m| m.get("method").and_then(Value::as_str).map(str::to_owned));
            let expected = ["initialize", "notifications/initialized"][seen];
            if method.as_deref() != Some(expected) {
                eprintln!("autosa-fake-schedcp: expected {expected}, got {method:?}: exiting");
                std::process::exit(2);
            }
            seen += 1;
        }
        let forwarded = async {
            to_server.write_all(line.as_bytes()).await?;
            to_server.write_all(b"\n").await
        };
        if forwarded.await.is_err() {
            break;
        }
    }
}

impl ServerHandler for FakeServer {
    fn get_info(&self) -> ServerConfig {
        // schedcp says "rmcp", not its own name.
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_protocol_version(ProtocolVersion::V_2024_11_05)
            .with_server_info(Implementation::new("rmcp", "0.2.1"))
            .with_instructions("Fake schedcp for autosa's tests")
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Owned(vec![ProtocolVersion::V_2024_11_05])
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = TOOLS
            .iter()
            .map(|(name, description, schema)| {
                let schema: Map<String, Value> =
                    serde_json::from_str(schema).expect("embedded schema is JSON");
                Tool::new(*name, *description, Arc::new(schema))
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Mode::CrashAfter(limit) = self.mode
            && n > limit
        {
            eprintln!("autosa-fake-schedcp: crash-after={limit}: exiting on call {n}");
            std::process::exit(3);
        }
        let tool = request.name.as_ref();
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        let is_list = tool == "list_schedulers";
        match self.mode {
            Mode::Hang if !is_list => std::future::pending::<()>().await,
            Mode::Garbage if !is_list => return Ok(text("<html>502 Bad Gateway</html> {")),
            Mode::GarbageList if is_list => return Ok(text("schedulers: lots")),
            _ => {}
        }
        let reply = match tool {
            "list_schedulers" => self.list(params(args)?),
            "run_scheduler" => self.run(params(args)?).await?,
            "stop_scheduler" => self.stop(params(args)?).await?,
            "get_execution_status" => self.status(params(args)?).await?,
            other => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown tool: {other}"),
                    None,
                ));
            }
        };
        Ok(text(&reply))
    }
}

impl FakeServer {
    fn list(&self, req: ListReq) -> String {
        let schedulers: Vec<Value> = CATALOGUE
            .iter()
            .filter(|(name, ready, _)| {
                req.name
                    .as_ref()
                    .is_none_or(|f| name.contains(&f.to_lowercase()))
                    && req.production_ready.is_none_or(|r| r == *ready)
            })
            .map(|(name, ready, description)| {
                json!({
                    "name": name, "production_ready": ready, "description": description,
                    "algorithm": "fake", "use_cases": ["tests"], "characteristics": "fake",
                    "tuning_parameters": {"slice_us": {"type": "integer", "default": 20000,
                        "range": [1000, 100000], "description": "Time slice in µs"}},
                    "limitations": "not a scheduler", "performance_profile": "none",
                })
            })
            .collect();
        json!({ "schedulers": schedulers }).to_string()
    }

    async fn run(&self, req: RunReq) -> Result<String, ErrorData> {
        let mut executions = self.executions.lock().await;
        // Like schedcp: stop what this instance started, pause, then check the name.
        for execution in executions.values_mut().filter(|e| e.status == "running") {
            if self.mode != Mode::OrphanOnSwitch {
                stop_child(execution).await;
            }
            execution.status = "stopped";
        }
        tokio::time::sleep(self.switch_pause).await;
        if !CATALOGUE.iter().any(|(name, ..)| *name == req.name) {
            return Err(ErrorData::invalid_params(
                format!("Scheduler '{}' not found", req.name),
                Some(json!({ "scheduler": req.name })),
            ));
        }
        let mut child = self
            .spawn_scheduler(&req.name, &req.args)
            .map_err(|e| ErrorData::invalid_params(format!("{e:#}"), None))?;
        let pid = child.id();
        let (exited_tx, exited) = watch::channel(false);
        let fake_sysfs = (!self.real).then(|| self.sys_root.clone());
        let name = req.name.clone();
        tokio::spawn(async move {
            let _ = child.wait().await;
            // Play the kernel: a dead scheduler process is unloaded.
            if let Some(sys_root) = fake_sysfs {
                unload_if_loaded(&sys_root, &name);
            }
            let _ = exited_tx.send(true);
        });
        let id = new_execution_id();
        executions.insert(
            id.clone(),
            Execution {
                name: req.name.clone(),
                args: req.args,
                pid,
                exited,
                status: "running",
                start_time: unix_now(),
            },
        );
        // Keys deliberately not in alphabetical order.
        Ok(format!(
            r#"{{"status":"started","execution_id":{},"message":{},"scheduler":{}}}"#,
            Value::from(id.as_str()),
            Value::from(format!(
                "Scheduler {} started with execution ID {id}",
                req.name
            )),
            Value::from(req.name.as_str()),
        ))
    }

    async fn stop(&self, req: IdReq) -> Result<String, ErrorData> {
        let mut executions = self.executions.lock().await;
        let execution = executions
            .get_mut(&req.execution_id)
            .ok_or_else(|| unknown_execution(&req.execution_id))?;
        if !matches!(self.mode, Mode::OrphanOnStop | Mode::StubbornOrphan) {
            stop_child(execution).await;
        }
        execution.status = "stopped";
        Ok(json!({
            "execution_id": req.execution_id, "status": "stopped",
            "message": format!("Scheduler execution {} stopped", req.execution_id),
        })
        .to_string())
    }

    async fn status(&self, req: IdReq) -> Result<String, ErrorData> {
        let executions = self.executions.lock().await;
        let e = executions
            .get(&req.execution_id)
            .ok_or_else(|| unknown_execution(&req.execution_id))?;
        // Like schedcp: "running" stays "running" even when the process died.
        Ok(json!({
            "execution_id": req.execution_id, "scheduler_name": e.name, "command": e.name,
            "args": e.args, "status": e.status, "pid": e.pid, "start_time": e.start_time,
            "end_time": null, "duration": null, "exit_code": null, "output": [],
        })
        .to_string())
    }

    fn spawn_scheduler(&self, name: &str, args: &[String]) -> anyhow::Result<Child> {
        let mut command = if self.real {
            let program = match &self.scx_bin_dir {
                Some(dir) => dir.join(name),
                None => PathBuf::from(name),
            };
            let mut command = Command::new(program);
            command.args(args);
            command
        } else {
            let delay = match self.mode {
                Mode::SlowEnable(ms) => ms,
                _ => 0,
            };
            let mut command = Command::new(std::env::current_exe()?);
            command
                .arg("fake-scheduler")
                .arg("--name")
                .arg(name)
                .arg("--sys-root")
                .arg(&self.sys_root)
                .arg("--enable-delay-ms")
                .arg(delay.to_string());
            if self.mode == Mode::StubbornOrphan {
                command.arg("--ignore-sigint");
            }
            command
        };
        // Never tied to our lifetime: a crashed schedcp leaves its schedulers running.
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(false);
        command
            .spawn()
            .with_context(|| format!("cannot start {name}"))
    }
}

/// SIGINT, wait, SIGKILL: the way scx schedulers want to be stopped.
async fn stop_child(execution: &mut Execution) {
    let Some(pid) = execution.pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    for signal in [Signal::SIGINT, Signal::SIGKILL] {
        if *execution.exited.borrow() {
            return;
        }
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        let exited = execution.exited.wait_for(|exited| *exited);
        if tokio::time::timeout(Duration::from_secs(5), exited)
            .await
            .is_ok()
        {
            return;
        }
    }
}

/// Unloads `name` from the fake sysfs if it is what is loaded.
fn unload_if_loaded(sys_root: &Path, name: &str) {
    let dir = sys_root.join("kernel/sched_ext");
    let short = name.strip_prefix("scx_").unwrap_or(name);
    let loaded = std::fs::read_to_string(dir.join("root/ops"))
        .is_ok_and(|ops| ops.strip_prefix(short).is_some_and(|r| r.starts_with('_')));
    if loaded {
        let _ = write_atomic(&dir.join("state"), "disabled\n");
        let _ = std::fs::remove_file(dir.join("root/ops"));
    }
}

fn params<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, ErrorData> {
    serde_json::from_value(args).map_err(|e| ErrorData::invalid_params(e.to_string(), None))
}

fn unknown_execution(id: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!("Execution '{id}' not found"),
        Some(json!({ "execution_id": id })),
    )
}

fn text(reply: &str) -> CallToolResponse {
    CallToolResult::success(vec![ContentBlock::text(reply.to_owned())]).into()
}

fn new_execution_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = (std::process::id() ^ nanos.rotate_left(7)).wrapping_mul(2_654_435_761) ^ n;
    format!("sched_{mixed:08x}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().context("path without parent")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The fake scheduler process: what sched_ext would show while a real one runs.
fn fake_scheduler(
    name: &str,
    sys_root: &Path,
    enable_delay: Duration,
    ignore_sigint: bool,
) -> anyhow::Result<()> {
    nix::sys::prctl::set_name(&CString::new(name)?)?;
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    if ignore_sigint {
        // SAFETY: SIG_IGN installs no handler code.
        unsafe { nix::sys::signal::signal(Signal::SIGINT, nix::sys::signal::SigHandler::SigIgn)? };
    } else {
        signals.add(Signal::SIGINT);
    }
    signals.thread_block()?;

    let dir = sys_root.join("kernel/sched_ext");
    let state = dir.join("state");
    let ops = dir.join("root/ops");
    if std::fs::read_to_string(&state).is_ok_and(|s| s.trim() == "enabled") {
        // What a real scx scheduler says when sched_ext is taken.
        eprintln!("{name}: another sched_ext scheduler is already running");
        std::process::exit(1);
    }
    if !enable_delay.is_zero() && wait_signal(&signals, Some(enable_delay)) {
        return Ok(());
    }
    let short = name.strip_prefix("scx_").unwrap_or(name);
    write_atomic(&ops, &format!("{short}_0.0.0_x86_64_fake\n"))?;
    write_atomic(&state, "enabled\n")?;
    wait_signal(&signals, None);
    // State first: a reader never sees "enabled" without ops.
    write_atomic(&state, "disabled\n")?;
    let _ = std::fs::remove_file(&ops);
    Ok(())
}

/// Waits for one of `signals` (blocked), at most `timeout`; true if one came.
fn wait_signal(signals: &SigSet, timeout: Option<Duration>) -> bool {
    match timeout {
        None => signals.wait().is_ok(),
        Some(t) => {
            let ts = libc::timespec {
                tv_sec: t.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
            };
            // SAFETY: valid set and timespec; no siginfo requested.
            let rc = unsafe { libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), &ts) };
            rc > 0
        }
    }
}
