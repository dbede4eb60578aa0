//! The event loop: keys from the terminal, updates from the feed thread, a
//! frame drawn whenever either changed something.

use std::io::ErrorKind;
use std::sync::mpsc::TryRecvError;
use std::time::Duration;

use crossterm::event::{self, Event, KeyEventKind};

use super::model::{Feed, TopModel};
use super::render::draw;
use super::source::{FeedThread, Source};
use super::state::{KeyOutcome, UiState};
use super::terminal::{TerminalGuard, terminate_requested};

/// How long to wait for a key before looking at the feed and signals again.
const POLL: Duration = Duration::from_millis(50);

/// Runs `autosa top` until the user quits or a termination signal arrives.
/// The terminal is restored on every way out (see `terminal`).
pub fn run(source: Box<dyn Source>, mut model: TopModel) -> std::io::Result<()> {
    let feed = FeedThread::spawn(source)?;
    let mut guard = TerminalGuard::enter()?;
    let mut ui = UiState::default();
    // Updates that arrived while paused; the latest is shown on resume.
    let mut held: Option<Result<Feed, String>> = None;
    let mut dirty = true;
    loop {
        if terminate_requested() {
            break;
        }
        if dirty {
            let tasks = model.feed.snapshot.as_ref().map_or(0, |s| s.tasks.len());
            ui.clamp_scroll(tasks, model.feed.timeline.len());
            guard.terminal.draw(|f| draw(f, &model, &ui))?;
            dirty = false;
        }
        match event::poll(POLL) {
            Ok(true) => match event::read() {
                Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => {
                    let was_paused = ui.paused;
                    match ui.on_key(k) {
                        KeyOutcome::Quit => break,
                        KeyOutcome::Redraw => dirty = true,
                        KeyOutcome::Ignored => {}
                    }
                    let resumed = was_paused && !ui.paused;
                    if let Some(u) = held.take_if(|_| resumed) {
                        model.apply(u);
                    }
                }
                Ok(Event::Resize(..)) => dirty = true,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            },
            Ok(false) => {}
            // A signal interrupted the wait: the loop head checks for it.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        loop {
            match feed.updates.try_recv() {
                Ok(u) if ui.paused => held = Some(u),
                Ok(u) => {
                    model.apply(u);
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let stopped = Some("the data source stopped".to_owned());
                    dirty |= model.error != stopped;
                    model.error = stopped;
                    break;
                }
            }
        }
    }
    drop(guard);
    Ok(())
}
