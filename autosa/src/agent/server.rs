//! The rmcp handler: routes each tool to the daemon link, the summaries and
//! (for `recommend` without a daemon) the local sampler. Tool failures come
//! back as tool results with `isError: true` and an actionable message (so
//! the agent reads it, as the MCP specification asks for execution and
//! input errors); an unknown tool is a protocol error (-32602).

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::control::protocol::Request;

use super::args::{self, HistoryArgs, MetricsArgs, NoArgs, PauseArgs, RecommendArgs, SwitchArgs};
use super::daemon::DaemonLink;
use super::error::{NO_SWITCH_WITHOUT_DAEMON, ToolError};
use super::metrics;
use super::standalone;
use super::summary;
use super::tools;

const INSTRUCTIONS: &str = "autosa watches this Linux machine (eBPF and procfs), classifies its \
workload and, through its daemon, switches the CPU scheduler (sched_ext schedulers or EEVDF \
per-task tuning), proving each switch helped and rolling back when it did not. Start with \
`get_status` (or `recommend` when no daemon runs), `get_metrics` for the numbers behind it, \
`get_history` to see whether past switches helped. `request_switch`, `pause` and `resume` are \
requests to the daemon, which applies its safety rules and may refuse with a reason. Every \
result is a one-line summary followed by JSON.";

/// A tool's answer: one line for people, JSON for the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub summary: String,
    pub json: Value,
}

impl Reply {
    fn new(summary: String, value: &impl Serialize) -> Reply {
        Reply {
            summary,
            json: serde_json::to_value(value).expect("tool answers serialise"),
        }
    }
}

#[derive(Clone)]
pub struct AutosaMcp {
    daemon: DaemonLink,
    config: Arc<Config>,
    /// One local sampling at a time (it may load the eBPF programs).
    sampling: Arc<tokio::sync::Mutex<()>>,
}

impl AutosaMcp {
    /// `config` is used only by `recommend` without a daemon.
    pub fn new(daemon: DaemonLink, config: Config) -> AutosaMcp {
        AutosaMcp {
            daemon,
            config: Arc::new(config),
            sampling: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Runs one tool; `None` when no tool has that name.
    pub async fn call(
        &self,
        tool: &str,
        arguments: Option<JsonObject>,
        cancel: CancellationToken,
    ) -> Option<Result<Reply, ToolError>> {
        let reply = match tool {
            tools::GET_STATUS => self.get_status(arguments).await,
            tools::GET_METRICS => self.get_metrics(arguments).await,
            tools::RECOMMEND => self.recommend(arguments, cancel).await,
            tools::GET_HISTORY => self.get_history(arguments).await,
            tools::LIST_SCHEDULERS => self.list_schedulers(arguments).await,
            tools::REQUEST_SWITCH => self.request_switch(arguments).await,
            tools::PAUSE => self.pause(arguments).await,
            tools::RESUME => self.resume(arguments).await,
            _ => return None,
        };
        Some(reply)
    }

    async fn get_status(&self, a: Option<JsonObject>) -> Result<Reply, ToolError> {
        args::parse::<NoArgs>(a)?;
        let status = self.daemon.status().await?;
        Ok(Reply::new(
            summary::status_line(&status, crate::model::unix_ms_now()),
            &status,
        ))
    }

    async fn get_metrics(&self, a: Option<JsonObject>) -> Result<Reply, ToolError> {
        let a: MetricsArgs = args::parse(a)?;
        let top = args::bounded("top", a.top, args::TOP_DEFAULT, args::TOP_MAX)?;
        let snapshot = self.daemon.snapshot().await?;
        let m = metrics::metrics_summary(&snapshot, top);
        Ok(Reply::new(metrics::metrics_line(&m), &m))
    }

    async fn recommend(
        &self,
        a: Option<JsonObject>,
        cancel: CancellationToken,
    ) -> Result<Reply, ToolError> {
        let a: RecommendArgs = args::parse(a)?;
        let secs = args::bounded(
            "duration_secs",
            a.duration_secs,
            args::RECOMMEND_DEFAULT_SECS,
            args::RECOMMEND_MAX_SECS,
        )?;
        match self.daemon.status().await {
            Ok(status) => {
                let r = summary::daemon_recommendation(&status, crate::model::unix_ms_now());
                Ok(Reply::new(summary::daemon_recommendation_line(&r), &r))
            }
            Err(ToolError::DaemonNotRunning { .. }) => {
                tracing::info!(secs, "no daemon: sampling this machine for recommend");
                let _one_at_a_time = self.sampling.lock().await;
                let config = Arc::clone(&self.config);
                let r = tokio::task::spawn_blocking(move || {
                    standalone::sample(&config, Duration::from_secs(secs), &cancel)
                })
                .await
                .map_err(|e| ToolError::Sampling {
                    detail: format!("the sampling thread failed: {e}"),
                })??;
                Ok(Reply::new(standalone::standalone_line(&r), &r))
            }
            Err(e) => Err(e),
        }
    }

    async fn get_history(&self, a: Option<JsonObject>) -> Result<Reply, ToolError> {
        let a: HistoryArgs = args::parse(a)?;
        let since = args::bounded_opt("since_secs", a.since_secs, args::HISTORY_MAX_SECS)?;
        let limit = args::bounded(
            "limit",
            a.limit,
            args::HISTORY_DEFAULT_LIMIT,
            args::HISTORY_MAX_LIMIT,
        )?;
        let entries = self.daemon.history(since, Some(limit)).await?;
        let line = match since {
            Some(s) => format!("{} history entries from the last {s} s", entries.len()),
            None => format!("{} history entries", entries.len()),
        };
        Ok(Reply::new(
            line,
            &json!({"count": entries.len(), "entries": entries}),
        ))
    }

    async fn list_schedulers(&self, a: Option<JsonObject>) -> Result<Reply, ToolError> {
        args::parse::<NoArgs>(a)?;
        let offers = self.daemon.schedulers().await?;
        Ok(Reply::new(
            summary::schedulers_line(&offers),
            &json!({"backends": offers}),
        ))
    }

    async fn request_switch(&self, a: Option<JsonObject>) -> Result<Reply, ToolError> {
        let a: SwitchArgs = args::parse(a)?;
        args::validate_name(&a.name)?;
        let for_secs = args::bounded_opt("for_secs", a.for_secs, args::HOLD_MAX_SECS)?;
        let request = Request::Switch {
            name: a.name,
            for_secs,
        };
        self.command(request).await
    }

    async fn pause(&self, a: Option<JsonObject>) -> Result<Reply, ToolError> {
        let a: PauseArgs = args::parse(a)?;
        let for_secs = args::bounded_opt("for_secs", a.for_secs, args::HOLD_MAX_SECS)?;
        self.command(Request::Pause { for_secs }).await
    }

    async fn resume(&self, a: Option<JsonObject>) -> Result<Reply, ToolError> {
        args::parse::<NoArgs>(a)?;
        self.command(Request::Resume).await
    }

    async fn command(&self, request: Request) -> Result<Reply, ToolError> {
        let sent = serde_json::to_value(&request).expect("requests serialise");
        let message = match self.daemon.command(request).await {
            Ok(m) => m,
            Err(ToolError::DaemonNotRunning { socket, .. }) => {
                return Err(ToolError::DaemonNotRunning {
                    socket,
                    what_works: NO_SWITCH_WITHOUT_DAEMON,
                });
            }
            Err(e) => return Err(e),
        };
        Ok(Reply::new(
            format!("accepted by the daemon: {message}"),
            &json!({"accepted": true, "request": sent, "message": message}),
        ))
    }
}

fn success(reply: Reply) -> CallToolResult {
    let json = serde_json::to_string_pretty(&reply.json).expect("JSON values serialise");
    CallToolResult::success(vec![
        ContentBlock::text(reply.summary),
        ContentBlock::text(json),
    ])
}

fn failure(e: &ToolError) -> CallToolResult {
    let message = e.to_string();
    let json = json!({"error": {"kind": e.kind(), "message": message}});
    CallToolResult::error(vec![
        ContentBlock::text(message),
        ContentBlock::text(json.to_string()),
    ])
}

impl ServerHandler for AutosaMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("autosa", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool = request.name.as_ref();
        let Some(outcome) = self.call(tool, request.arguments.clone(), context.ct).await else {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool `{tool}`; autosa's tools are: {}",
                    tools::NAMES.join(", ")
                ),
                None,
            ));
        };
        let result = match outcome {
            Ok(reply) => success(reply),
            Err(e) => {
                tracing::info!(tool, kind = e.kind(), "tool failed: {e}");
                failure(&e)
            }
        };
        Ok(result.into())
    }
}
