//! `[control]`: where the control socket listens and who may use it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ControlConfig {
    /// The Unix socket of `autosa status|switch|…`.
    pub socket: PathBuf,
    /// Members of this group may use the socket besides root (mode 0660);
    /// empty: root only (mode 0600).
    pub group: String,
    /// Connections served at once; more wait up to 2 s for one (a connection
    /// that sent no request within 0.25 s, or idled 1 s, is closed for them),
    /// then are refused.
    pub max_clients: usize,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            socket: super::protocol::default_socket_path(),
            group: String::new(),
            max_clients: 32,
        }
    }
}

impl ControlConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !self.socket.is_absolute() {
            return Err(format!(
                "socket = {} is not an absolute path",
                self.socket.display()
            ));
        }
        if self.max_clients == 0 || self.max_clients > 1024 {
            return Err(format!(
                "max_clients = {} is out of range: use 1 to 1024",
                self.max_clients
            ));
        }
        Ok(())
    }
}
