//! The test double speaks schedcp's protocol: raw JSON-RPC lines on stdio,
//! no rmcp client in between.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

struct Raw {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    _dir: tempfile::TempDir,
}

impl Raw {
    fn spawn() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_autosa-fake-schedcp"))
            .arg("--sys-root")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            lines,
            _dir: dir,
        }
    }

    async fn send(&mut self, message: Value) {
        let line = format!("{message}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
    }

    async fn recv(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(Duration::from_secs(5), self.lines.next_line())
            .await
            .expect("the fake answers within 5 s")
            .unwrap()?;
        Some(serde_json::from_str(&line).unwrap())
    }

    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let reply = self.recv().await.expect("a reply");
        assert_eq!(reply["id"], json!(id), "{reply}");
        reply
    }

    async fn handshake(&mut self) -> Value {
        let reply = self
            .request(
                1,
                "initialize",
                json!({"protocolVersion": "2024-11-05", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "0"}}),
            )
            .await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        reply
    }

    async fn call(&mut self, id: u64, tool: &str, arguments: Value) -> Value {
        self.request(
            id,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        )
        .await
    }
}

/// The tool's text, parsed a second time.
fn payload(reply: &Value) -> Value {
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn speaks_like_schedcp() {
    let mut raw = Raw::spawn();
    let init = raw.handshake().await;
    assert_eq!(init["result"]["protocolVersion"], "2024-11-05");
    assert_eq!(init["result"]["serverInfo"]["name"], "rmcp");
    assert!(init["result"]["capabilities"]["tools"].is_object());

    let tools = raw.request(2, "tools/list", json!({})).await;
    let tools = tools["result"]["tools"].as_array().unwrap();
    let schema = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["inputSchema"].clone())
            .unwrap_or_else(|| panic!("no tool {name}"))
    };
    assert_eq!(schema("run_scheduler")["required"], json!(["name"]));
    assert_eq!(
        schema("run_scheduler")["properties"]["args"]["type"],
        "array"
    );
    assert_eq!(
        schema("stop_scheduler")["required"],
        json!(["execution_id"])
    );
    assert_eq!(
        schema("get_execution_status")["required"],
        json!(["execution_id"])
    );
    assert_eq!(
        schema("list_schedulers")["properties"]["production_ready"]["nullable"],
        true
    );

    let list = payload(
        &raw.call(3, "list_schedulers", json!({"production_ready": true}))
            .await,
    );
    assert_eq!(list["schedulers"].as_array().unwrap().len(), 10);

    let run = raw
        .call(4, "run_scheduler", json!({"name": "scx_mitosis"}))
        .await;
    let started = payload(&run);
    assert_eq!(started["status"], "started");
    assert_eq!(started["scheduler"], "scx_mitosis");
    let id = started["execution_id"].as_str().unwrap().to_owned();
    // The text is a JSON document whose keys are not in sorted order.
    let text = run["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("{\"status\""), "{text}");

    let status = payload(
        &raw.call(5, "get_execution_status", json!({"execution_id": id}))
            .await,
    );
    assert_eq!(status["status"], "running");
    let stopped = payload(
        &raw.call(6, "stop_scheduler", json!({"execution_id": id}))
            .await,
    );
    assert_eq!(stopped["status"], "stopped");

    for (id, tool, args, needle) in [
        (7, "run_scheduler", json!({"name": "scx_nope"}), "not found"),
        (8, "run_scheduler", json!({"args": ["x"]}), "name"),
        (
            9,
            "stop_scheduler",
            json!({"execution_id": "sched_0"}),
            "not found",
        ),
        (10, "get_execution_status", json!({}), "execution_id"),
    ] {
        let reply = raw.call(id, tool, args).await;
        assert_eq!(reply["error"]["code"], -32602, "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
        assert!(reply.get("result").is_none());
    }
    raw.child.kill().await.unwrap();
}

async fn exits_on(raw: &mut Raw) {
    // Whatever it writes first, it must end the session with a failure.
    while raw.recv().await.is_some() {}
    let status = tokio::time::timeout(Duration::from_secs(5), raw.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(!status.success(), "{status}");
}

#[tokio::test]
async fn exits_when_initialize_is_skipped() {
    let mut raw = Raw::spawn();
    raw.send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .await;
    exits_on(&mut raw).await;
}

#[tokio::test]
async fn exits_when_the_initialized_notification_is_skipped() {
    let mut raw = Raw::spawn();
    let init = json!({"protocolVersion": "2024-11-05", "capabilities": {},
                      "clientInfo": {"name": "raw", "version": "0"}});
    raw.request(1, "initialize", init).await;
    raw.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}))
        .await;
    exits_on(&mut raw).await;
}
