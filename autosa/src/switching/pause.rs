//! A person stopped automatic switching: `autosa pause`, or a manual choice
//! (`autosa switch NAME`), for a while or until `autosa resume`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When automatic switching resumes (time since the daemon started);
    /// `None`: at `autosa resume`.
    pub until: Option<Duration>,
    /// The manual choice in force, as the person named it (`latency_sensitive`,
    /// `scx_lavd`, `idle`); `None` for a plain pause.
    pub manual: Option<String>,
}

impl Pause {
    pub fn expired(&self, now: Duration) -> bool {
        self.until.is_some_and(|until| now >= until)
    }

    /// For `why`: " for 600 s" or " until `autosa resume`".
    pub fn describe_until(&self, now: Duration) -> String {
        match self.until {
            Some(until) => format!(" for {} s", until.saturating_sub(now).as_secs()),
            None => " until `autosa resume`".into(),
        }
    }
}
