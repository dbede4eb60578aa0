//! The tool table: names, descriptions an agent can act on, input schemas
//! (derived from the argument types in `args`) and behaviour hints.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_input;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use rmcp::schemars::JsonSchema;

use super::args::{HistoryArgs, MetricsArgs, NoArgs, PauseArgs, RecommendArgs, SwitchArgs};

pub const GET_STATUS: &str = "get_status";
pub const GET_METRICS: &str = "get_metrics";
pub const RECOMMEND: &str = "recommend";
pub const GET_HISTORY: &str = "get_history";
pub const LIST_SCHEDULERS: &str = "list_schedulers";
pub const REQUEST_SWITCH: &str = "request_switch";
pub const PAUSE: &str = "pause";
pub const RESUME: &str = "resume";

/// Every tool, in the order `tools/list` gives them.
pub const NAMES: [&str; 8] = [
    GET_STATUS,
    GET_METRICS,
    RECOMMEND,
    GET_HISTORY,
    LIST_SCHEDULERS,
    REQUEST_SWITCH,
    PAUSE,
    RESUME,
];

fn schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let mut schema = schema_for_input::<T>().expect("argument types are JSON objects");
    // Some function-calling clients insist on `properties`, even empty.
    if !schema.contains_key("properties") {
        Arc::make_mut(&mut schema).insert("properties".into(), serde_json::json!({}));
    }
    schema
}

fn reads(title: &str) -> ToolAnnotations {
    ToolAnnotations::with_title(title)
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false)
}

fn asks_daemon(title: &str) -> ToolAnnotations {
    ToolAnnotations::with_title(title)
        .read_only(false)
        .destructive(false)
        .idempotent(true)
        .open_world(false)
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            GET_STATUS,
            "What the autosa daemon sees and does now: the workload class (idle, cpu_bound, \
             latency_sensitive, io_bound, memory_bound, mixed) with its confidence and reasons, \
             the scheduler in use and its backend, the switching state (applied plan, cooldown, \
             classes blocked after a rollback, pause, manual choice), recent switches and the \
             health of each data source. Needs the daemon (`autosa run`).",
            schema::<NoArgs>(),
        )
        .annotate(reads("autosa status")),
        Tool::new(
            GET_METRICS,
            "The latest measurement interval, summarised: CPU busy/user/system/iowait/steal, \
             load, pressure stall information (PSI) for CPU, I/O and memory, run-queue wait \
             latency p50/p90/p99 (with eBPF) and the processes that waited longest for a CPU. \
             Use it to see the numbers behind a classification. Needs the daemon.",
            schema::<MetricsArgs>(),
        )
        .annotate(reads("autosa metrics")),
        Tool::new(
            RECOMMEND,
            "What autosa recommends for this machine: the workload class, confidence, reasons \
             and the plan for it. With the daemon running it is the daemon's current view \
             (`source: daemon`, instant). Without a daemon this server watches the machine \
             itself for `duration_secs` (default 5, at most 60) and answers with \
             `source: standalone`; nothing is changed either way.",
            schema::<RecommendArgs>(),
        )
        .annotate(reads("autosa recommend")),
        Tool::new(
            GET_HISTORY,
            "The daemon's history: decisions, switches, rollbacks (with why) and metrics over \
             time, newest last. Use it to check whether an earlier switch helped. Needs the \
             daemon.",
            schema::<HistoryArgs>(),
        )
        .annotate(reads("autosa history")),
        Tool::new(
            LIST_SCHEDULERS,
            "What each of the daemon's backends can apply on this host: sched_ext schedulers \
             (e.g. scx_lavd) or EEVDF per-task actions, whether the backend is available and \
             why not. The names are what `request_switch` accepts. Needs the daemon.",
            schema::<NoArgs>(),
        )
        .annotate(reads("autosa schedulers")),
        Tool::new(
            REQUEST_SWITCH,
            "Ask the daemon to apply a workload class's plan (e.g. `latency_sensitive`) or a \
             scheduler from `list_schedulers` (e.g. `scx_lavd`), and to pause automatic \
             switching for `for_secs` (absent: until `resume`). The daemon applies its safety \
             rules (scope, journal, trusted binaries) and may refuse, saying why; it still \
             rolls back a switch that makes things worse. This server never switches anything \
             itself: without a daemon the request is refused.",
            schema::<SwitchArgs>(),
        )
        .annotate(asks_daemon("autosa switch")),
        Tool::new(
            PAUSE,
            "Ask the daemon to stop switching automatically for `for_secs` seconds (absent: \
             until `resume`). What is applied stays applied. Needs the daemon.",
            schema::<PauseArgs>(),
        )
        .annotate(asks_daemon("autosa pause")),
        Tool::new(
            RESUME,
            "Ask the daemon to end a pause, a manual choice made with `request_switch` and \
             every back-off, and to switch automatically again. Needs the daemon.",
            schema::<NoArgs>(),
        )
        .annotate(asks_daemon("autosa resume")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema_and_a_description() {
        let tools = tools();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, NAMES);
        for t in &tools {
            assert_eq!(
                t.input_schema.get("type").and_then(|v| v.as_str()),
                Some("object"),
                "{}",
                t.name
            );
            assert!(
                t.description.as_ref().is_some_and(|d| d.len() > 80),
                "{}",
                t.name
            );
            assert!(t.annotations.is_some(), "{}", t.name);
        }
        let switch = &tools[5].input_schema;
        let name = &switch["properties"]["name"];
        assert_eq!(name["pattern"], "^[a-z0-9_-]+$");
        assert_eq!(name["maxLength"], 64);
        assert_eq!(switch["required"], serde_json::json!(["name"]));
        assert_eq!(switch["additionalProperties"], false);
        assert_eq!(tools[0].input_schema["properties"], serde_json::json!({}));
        assert_eq!(tools[0].input_schema["additionalProperties"], false);
        let rec = &tools[2].input_schema["properties"]["duration_secs"];
        assert_eq!(rec["maximum"], 60);
        assert_eq!(rec["type"], "integer", "optional, not nullable: {rec}");
    }
}
