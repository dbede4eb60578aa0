//! The event loop: keys from the terminal, updates from the feed thread, a
//! frame drawn whenever either changed something.

use std::io::ErrorKind;
use std::sync::mpsc::TryRecvError;
use std::time::Duration;

use crossterm::event::{self, Event, KeyEventKind};

use super::model::{Feed, TopModel};
use super::render::{draw, histograms};
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
            let snapshot = model.feed.snapshot.as_ref();
            ui.fit(
                snapshot.map_or(0, |s| s.tasks.len()),
                model.feed.timeline.len(),
                snapshot.map_or(0, |s| histograms(s).len()),
            );
            guard.terminal.draw(|f| draw(f, &model, &ui))?;
            dirty = false;
        }
        // Wait on the terminal ourselves: on a terminal that went away
        // (its pty closed: tmux or ssh killed) crossterm's poll spins on
        // end-of-file forever, deaf to SIGTERM.
        match wait_for_terminal(POLL) {
            TerminalWait::HungUp => break,
            TerminalWait::Ready | TerminalWait::Timeout => {}
        }
        match event::poll(Duration::ZERO) {
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

enum TerminalWait {
    Ready,
    Timeout,
    HungUp,
}

/// Waits up to `timeout` for input on stdin; says when the terminal hung up.
/// Without a terminal on stdin (crossterm then reads /dev/tty) it only sleeps.
fn wait_for_terminal(timeout: Duration) -> TerminalWait {
    use std::os::fd::AsRawFd;
    let fd = std::io::stdin().as_raw_fd();
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        std::thread::sleep(timeout);
        return TerminalWait::Timeout;
    }
    let mut fds = [libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd, its length passed.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout.as_millis() as libc::c_int) };
    if n > 0 && fds[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        TerminalWait::HungUp
    } else if n > 0 {
        TerminalWait::Ready
    } else {
        TerminalWait::Timeout
    }
}
