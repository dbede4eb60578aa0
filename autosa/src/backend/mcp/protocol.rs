//! Typed results of schedcp's tools and the decoding of their replies.
//!
//! Pure: takes the text of a tool's content block (or a JSON-RPC error's
//! parts) and returns typed values or a typed error. No I/O, no rmcp types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::McpError;

/// Tool names, as schedcp spells them.
pub const TOOL_LIST: &str = "list_schedulers";
pub const TOOL_RUN: &str = "run_scheduler";
pub const TOOL_STOP: &str = "stop_scheduler";
pub const TOOL_STATUS: &str = "get_execution_status";

/// JSON-RPC "invalid params": schedcp's code for every tool failure.
pub const INVALID_PARAMS: i32 = -32602;

/// One entry of schedcp's catalogue. Only `name` is required; fields the
/// server adds later are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulerEntry {
    pub name: String,
    #[serde(default)]
    pub production_ready: bool,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub algorithm: String,
    #[serde(default)]
    pub use_cases: Vec<String>,
    #[serde(default)]
    pub characteristics: String,
    #[serde(default)]
    pub tuning_parameters: BTreeMap<String, TuningParameter>,
    #[serde(default)]
    pub limitations: String,
    #[serde(default)]
    pub performance_profile: String,
}

/// A scheduler option as the catalogue describes it (not always right:
/// callers validate arguments themselves).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningParameter {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default: Value,
    #[serde(default)]
    pub range: Option<Value>,
}

/// Reply of `run_scheduler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReply {
    pub execution_id: String,
    #[serde(default)]
    pub scheduler: Option<String>,
    pub status: String,
    #[serde(default)]
    pub message: String,
}

/// Reply of `stop_scheduler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopReply {
    pub execution_id: String,
    pub status: String,
    #[serde(default)]
    pub message: String,
}

/// Reply of `get_execution_status`. schedcp keeps saying "running" after
/// the scheduler died: this is its claim, not the truth (that is sysfs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionStatus {
    pub execution_id: String,
    #[serde(default)]
    pub scheduler_name: Option<String>,
    pub status: String,
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
}

/// Decodes a tool's text into JSON: the JSON-RPC layer is already parsed,
/// the text is parsed again; a text that is itself a JSON string (one more
/// level of encoding) is unwrapped once more.
pub fn decode_text(tool: &str, text: Option<&str>) -> Result<Value, McpError> {
    let text = text.ok_or_else(|| garbage(tool, "reply has no text content block"))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| garbage(tool, format!("text is not JSON ({e}): {}", excerpt(text))))?;
    match value {
        Value::String(inner) => serde_json::from_str(&inner).map_err(|e| {
            garbage(
                tool,
                format!("inner string is not JSON ({e}): {}", excerpt(&inner)),
            )
        }),
        other => Ok(other),
    }
}

/// The catalogue: `{"schedulers": [...]}` (schedcp) or a bare array.
pub fn parse_catalogue(text: Option<&str>) -> Result<Vec<SchedulerEntry>, McpError> {
    let value = decode_text(TOOL_LIST, text)?;
    let list = match value {
        Value::Object(mut map) => map
            .remove("schedulers")
            .ok_or_else(|| garbage(TOOL_LIST, "object without a `schedulers` field"))?,
        array @ Value::Array(_) => array,
        other => return Err(garbage(TOOL_LIST, format!("unexpected JSON: {other}"))),
    };
    serde_json::from_value(list).map_err(|e| garbage(TOOL_LIST, e.to_string()))
}

pub fn parse_run(text: Option<&str>) -> Result<RunReply, McpError> {
    let reply: RunReply = typed(TOOL_RUN, decode_text(TOOL_RUN, text)?)?;
    if reply.execution_id.is_empty() {
        return Err(garbage(TOOL_RUN, "empty execution_id"));
    }
    Ok(reply)
}

pub fn parse_stop(text: Option<&str>) -> Result<StopReply, McpError> {
    typed(TOOL_STOP, decode_text(TOOL_STOP, text)?)
}

pub fn parse_status(text: Option<&str>) -> Result<ExecutionStatus, McpError> {
    typed(TOOL_STATUS, decode_text(TOOL_STATUS, text)?)
}

/// Turns a JSON-RPC error into a typed error. schedcp answers -32602 for an
/// unknown scheduler (data `{"scheduler": …}`), an unknown execution id
/// (data `{"execution_id": …}`) and bad parameters; the data field is used
/// first, the tool and wording second.
pub fn classify_rpc_error(tool: &str, code: i32, message: &str, data: Option<&Value>) -> McpError {
    let message = message.to_owned();
    if code != INVALID_PARAMS {
        return McpError::Rpc {
            tool: tool.to_owned(),
            code,
            message,
        };
    }
    let field = |key: &str| {
        data.and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(name) = field("scheduler") {
        return McpError::UnknownScheduler { name, message };
    }
    if let Some(execution_id) = field("execution_id") {
        return McpError::UnknownExecution {
            execution_id,
            message,
        };
    }
    let not_found = message.to_ascii_lowercase().contains("not found");
    match tool {
        TOOL_RUN if not_found => McpError::UnknownScheduler {
            name: String::new(),
            message,
        },
        TOOL_STOP | TOOL_STATUS if not_found => McpError::UnknownExecution {
            execution_id: String::new(),
            message,
        },
        _ => McpError::InvalidParams {
            tool: tool.to_owned(),
            message,
        },
    }
}

fn typed<T: serde::de::DeserializeOwned>(tool: &str, value: Value) -> Result<T, McpError> {
    serde_json::from_value(value).map_err(|e| garbage(tool, e.to_string()))
}

fn garbage(tool: &str, detail: impl Into<String>) -> McpError {
    McpError::Garbage {
        tool: tool.to_owned(),
        detail: detail.into(),
    }
}

/// Keeps error messages short when a server sends a large blob.
fn excerpt(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_reply_is_parsed_twice_whatever_the_key_order() {
        let text = r#"{"status":"started","message":"ok","scheduler":"scx_lavd","execution_id":"sched_1a2b3c4d"}"#;
        let reply = parse_run(Some(text)).unwrap();
        assert_eq!(reply.execution_id, "sched_1a2b3c4d");
        assert_eq!(reply.scheduler.as_deref(), Some("scx_lavd"));
        assert_eq!(reply.status, "started");
    }

    #[test]
    fn a_json_string_holding_json_is_unwrapped() {
        let inner = r#"{"execution_id":"sched_1","status":"stopped"}"#;
        let text = serde_json::to_string(inner).unwrap();
        let reply = parse_stop(Some(&text)).unwrap();
        assert_eq!(reply.execution_id, "sched_1");
        assert_eq!(reply.status, "stopped");
    }

    #[test]
    fn garbage_and_missing_fields_are_typed_errors() {
        for text in [
            "<html>oops",
            "",
            "{\"status\":\"started\"}",
            "42",
            "\"not json\"",
        ] {
            let err = parse_run(Some(text)).unwrap_err();
            assert!(
                matches!(err, McpError::Garbage { ref tool, .. } if tool == TOOL_RUN),
                "{text}: {err}"
            );
        }
        assert!(matches!(parse_run(None), Err(McpError::Garbage { .. })));
        let empty_id = r#"{"execution_id":"","status":"started"}"#;
        assert!(matches!(
            parse_run(Some(empty_id)),
            Err(McpError::Garbage { .. })
        ));
    }

    #[test]
    fn catalogue_tolerates_extra_and_missing_fields() {
        let text = json!({"schedulers": [
            {"name": "scx_lavd", "production_ready": true, "description": "latency",
             "tuning_parameters": {"slice_us": {"type": "integer", "default": 5000, "range": [1000, 20000], "description": "slice"}},
             "brand_new_field": {"x": 1}},
            {"name": "scx_minimal"}
        ]})
        .to_string();
        let list = parse_catalogue(Some(&text)).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list[0].production_ready);
        let slice = &list[0].tuning_parameters["slice_us"];
        assert_eq!(slice.kind, "integer");
        assert_eq!(slice.default, json!(5000));
        assert_eq!(slice.range, Some(json!([1000, 20000])));
        assert!(!list[1].production_ready);
        assert!(list[1].use_cases.is_empty());

        let bare = json!([{"name": "scx_simple"}]).to_string();
        assert_eq!(parse_catalogue(Some(&bare)).unwrap()[0].name, "scx_simple");
        assert!(parse_catalogue(Some("{\"other\":[]}")).is_err());
        assert!(parse_catalogue(Some("{\"schedulers\":[{\"production_ready\":true}]}")).is_err());
    }

    #[test]
    fn status_keeps_the_servers_claim() {
        let text = json!({"execution_id": "sched_9", "scheduler_name": "scx_rusty", "command": "x",
            "args": ["--a"], "status": "running", "pid": 1234, "start_time": 1, "end_time": null,
            "duration": null, "exit_code": null, "output": ["line"]})
        .to_string();
        let status = parse_status(Some(&text)).unwrap();
        assert_eq!(status.status, "running");
        assert_eq!(status.pid, Some(1234));
        assert_eq!(status.args, vec!["--a"]);
        assert_eq!(status.exit_code, None);
    }

    #[test]
    fn rpc_errors_are_classified() {
        let e = classify_rpc_error(
            TOOL_RUN,
            -32602,
            "Scheduler 'x' not found",
            Some(&json!({"scheduler": "x"})),
        );
        assert!(
            matches!(e, McpError::UnknownScheduler { ref name, ref message } if name == "x" && message.contains("not found"))
        );

        let e = classify_rpc_error(
            TOOL_STOP,
            -32602,
            "Execution 'e' not found",
            Some(&json!({"execution_id": "e"})),
        );
        assert!(
            matches!(e, McpError::UnknownExecution { ref execution_id, .. } if execution_id == "e")
        );

        let e = classify_rpc_error(TOOL_STATUS, -32602, "Execution 'e' not found", None);
        assert!(matches!(e, McpError::UnknownExecution { .. }));

        let e = classify_rpc_error(TOOL_RUN, -32602, "missing field `name`", None);
        assert!(
            matches!(e, McpError::InvalidParams { ref message, .. } if message.contains("name"))
        );

        let e = classify_rpc_error(TOOL_RUN, -32603, "boom", None);
        assert!(matches!(e, McpError::Rpc { code: -32603, .. }));
    }

    #[test]
    fn long_garbage_is_cut_in_messages() {
        let text = "x".repeat(10_000);
        let McpError::Garbage { detail, .. } = parse_stop(Some(&text)).unwrap_err() else {
            panic!("expected garbage");
        };
        assert!(detail.len() < 400, "{}", detail.len());
    }
}
