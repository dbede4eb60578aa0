//! `autosa top`: a live terminal view of what autosa sees and decides.
//!
//! `source` (the daemon over the control socket, or a local collector and
//! policy engine) → `model` (plain data) → `render` (pure, tested on a
//! `TestBackend`); `state` holds the user's choices and the keys; `terminal`
//! guarantees the terminal is restored; `app` is the event loop.

pub mod app;
pub mod model;
pub mod render;
pub mod source;
pub mod state;
pub mod terminal;

pub use app::run;
pub use model::{ClassInfo, Feed, TimelineEntry, TopModel};
pub use source::{DaemonSource, FeedThread, Source, StandaloneSource};
pub use state::{KeyOutcome, Pane, UiState};
