//! The arguments of each tool: deserialised strictly (unknown fields are
//! refused so a typo is not silently ignored), with JSON schemas derived from
//! the same types and bounds checked here before anything leaves the process.

use rmcp::schemars::JsonSchema;
use serde::Deserialize;

use super::error::ToolError;

/// Longest scheduler or class name accepted (`scx_` names are far shorter).
pub const NAME_MAX_LEN: usize = 64;
/// Longest standalone sampling, so one call cannot hold the server for long.
pub const RECOMMEND_MAX_SECS: u64 = 60;
pub const RECOMMEND_DEFAULT_SECS: u64 = 5;
/// Longest pause or manual choice an agent may ask for: one day.
pub const HOLD_MAX_SECS: u64 = 86_400;
/// Longest look back into the history: 30 days.
pub const HISTORY_MAX_SECS: u64 = 30 * 86_400;
pub const HISTORY_MAX_LIMIT: usize = 500;
pub const HISTORY_DEFAULT_LIMIT: usize = 50;
pub const TOP_MAX: usize = 20;
pub const TOP_DEFAULT: usize = 5;

/// For the tools without arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct MetricsArgs {
    /// How many of the processes that waited longest on a run queue to list
    /// (default 5, at most 20). Needs autosa's eBPF probes in the daemon.
    #[serde(default, deserialize_with = "lenient::opt_usize")]
    #[schemars(with = "usize", range(min = 1, max = 20))]
    pub top: Option<usize>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct RecommendArgs {
    /// Only used when no daemon runs: how long to watch the machine before
    /// answering, in seconds (default 5, at most 60).
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    #[schemars(with = "u64", range(min = 1, max = 60))]
    pub duration_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    /// Only entries from the last this many seconds (at most 30 days).
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    #[schemars(with = "u64", range(min = 1, max = 2_592_000))]
    pub since_secs: Option<u64>,
    /// At most this many entries, newest kept (default 50, at most 500).
    #[serde(default, deserialize_with = "lenient::opt_usize")]
    #[schemars(with = "usize", range(min = 1, max = 500))]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct SwitchArgs {
    /// A workload class (`idle`, `cpu_bound`, `latency_sensitive`, `io_bound`,
    /// `memory_bound`, `mixed`: apply that class's plan) or a scheduler one of
    /// the daemon's backends offers (see `list_schedulers`, e.g. `scx_lavd`).
    /// Lowercase letters, digits, `_` and `-` only, at most 64 characters.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9_-]+$"))]
    pub name: String,
    /// Keep this choice (and automatic switching paused) for this many
    /// seconds, at most one day; absent: until `resume`.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    #[schemars(with = "u64", range(min = 1, max = 86_400))]
    pub for_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct PauseArgs {
    /// Pause automatic switching for this many seconds, at most one day;
    /// absent: until `resume`.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    #[schemars(with = "u64", range(min = 1, max = 86_400))]
    pub for_secs: Option<u64>,
}

/// Integers that also arrive as strings of digits: some clients (the MCP
/// Inspector's CLI, some models) send every argument as a string. Anything
/// but plain digits is still refused.
mod lenient {
    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrText {
        Int(u64),
        Text(String),
    }

    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<IntOrText>::deserialize(d)? {
            None => Ok(None),
            Some(IntOrText::Int(n)) => Ok(Some(n)),
            Some(IntOrText::Text(t)) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                t.parse().map(Some).map_err(D::Error::custom)
            }
            Some(IntOrText::Text(t)) => Err(D::Error::custom(format!(
                "expected a whole number, got {t:?}"
            ))),
        }
    }

    pub fn opt_usize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        opt_u64(d)?
            .map(|n| usize::try_from(n).map_err(D::Error::custom))
            .transpose()
    }
}

/// A scheduler or class name safe to forward: lowercase ASCII letters,
/// digits, `_` and `-`, 1 to [`NAME_MAX_LEN`] characters.
pub fn validate_name(name: &str) -> Result<(), ToolError> {
    let bad = |why: String| ToolError::BadArguments {
        detail: format!(
            "`name`: {why}; use a class such as `latency_sensitive` or a scheduler from `list_schedulers` such as `scx_lavd`"
        ),
    };
    if name.is_empty() {
        return Err(bad("empty".into()));
    }
    if name.len() > NAME_MAX_LEN {
        return Err(bad(format!(
            "{} characters, at most {NAME_MAX_LEN} allowed",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Err(bad(format!(
            "character {c:?} not allowed (only a-z, 0-9, `_` and `-`)"
        )));
    }
    Ok(())
}

/// `value` (default `default`) when within `1..=max`.
pub fn bounded<T>(field: &str, value: Option<T>, default: T, max: T) -> Result<T, ToolError>
where
    T: PartialOrd + From<u8> + std::fmt::Display + Copy,
{
    let v = value.unwrap_or(default);
    if v < T::from(1) || v > max {
        return Err(ToolError::BadArguments {
            detail: format!("`{field}` = {v}: must be between 1 and {max}"),
        });
    }
    Ok(v)
}

/// An optional `value` within `1..=max`.
pub fn bounded_opt(field: &str, value: Option<u64>, max: u64) -> Result<Option<u64>, ToolError> {
    value.map(|v| bounded(field, Some(v), v, max)).transpose()
}

/// Parses a tool's arguments (absent: `{}`), refusing unknown fields.
pub fn parse<T: serde::de::DeserializeOwned>(
    args: Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<T, ToolError> {
    serde_json::from_value(serde_json::Value::Object(args.unwrap_or_default())).map_err(|e| {
        ToolError::BadArguments {
            detail: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_outside_the_safe_alphabet_are_refused() {
        for ok in ["scx_lavd", "latency_sensitive", "scx-p2dq", "a", "x9"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(NAME_MAX_LEN + 1);
        for bad in [
            "",
            "scx_lavd; rm -rf /",
            "../bin/sh",
            "SCX_LAVD",
            "scx lavd",
            "scx_lavd\n",
            "é",
            long.as_str(),
        ] {
            let err = validate_name(bad).unwrap_err();
            assert!(
                matches!(err, ToolError::BadArguments { .. }),
                "{bad:?}: {err}"
            );
        }
        assert!(validate_name(&"a".repeat(NAME_MAX_LEN)).is_ok());
    }

    #[test]
    fn bounds_apply_defaults_and_limits() {
        assert_eq!(bounded("d", None, 5u64, 60).unwrap(), 5);
        assert_eq!(bounded("d", Some(60u64), 5, 60).unwrap(), 60);
        assert!(bounded("d", Some(0u64), 5, 60).is_err());
        let err = bounded("duration_secs", Some(61u64), 5, 60).unwrap_err();
        assert!(err.to_string().contains("between 1 and 60"), "{err}");
        assert_eq!(bounded_opt("f", None, 10).unwrap(), None);
        assert_eq!(bounded_opt("f", Some(10), 10).unwrap(), Some(10));
        assert!(bounded_opt("f", Some(11), 10).is_err());
    }

    #[test]
    fn unknown_or_mistyped_fields_are_refused() {
        let a: SwitchArgs = parse(Some(
            json!({"name": "scx_lavd", "for_secs": 60})
                .as_object()
                .cloned()
                .unwrap(),
        ))
        .unwrap();
        assert_eq!((a.name.as_str(), a.for_secs), ("scx_lavd", Some(60)));
        let typo = json!({"name": "scx_lavd", "seconds": 60});
        assert!(parse::<SwitchArgs>(typo.as_object().cloned()).is_err());
        let wrong = json!({"name": 3});
        assert!(parse::<SwitchArgs>(wrong.as_object().cloned()).is_err());
        assert!(parse::<SwitchArgs>(None).is_err(), "name is required");
        assert!(parse::<NoArgs>(None).is_ok());
    }

    #[test]
    fn integers_may_come_as_digit_strings_but_nothing_else() {
        let p = |v: serde_json::Value| parse::<PauseArgs>(v.as_object().cloned());
        assert_eq!(p(json!({"for_secs": 30})).unwrap().for_secs, Some(30));
        assert_eq!(p(json!({"for_secs": "30"})).unwrap().for_secs, Some(30));
        assert_eq!(p(json!({"for_secs": null})).unwrap().for_secs, None);
        assert_eq!(p(json!({})).unwrap().for_secs, None);
        for bad in [
            json!(-1),
            json!("-1"),
            json!("30s"),
            json!(""),
            json!(1.5),
            json!(" 3"),
        ] {
            assert!(p(json!({ "for_secs": bad })).is_err(), "{bad}");
        }
        let h = parse::<HistoryArgs>(json!({"limit": "10"}).as_object().cloned()).unwrap();
        assert_eq!(h.limit, Some(10));
    }
}
