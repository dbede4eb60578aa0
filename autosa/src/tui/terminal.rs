//! Entering and always leaving the full-screen terminal: raw mode off and the
//! alternate screen left on quit, on error (the guard's Drop), on panic (a
//! hook that restores before the message is printed) and on SIGTERM, SIGINT
//! or SIGHUP (a flag the event loop checks, so it leaves through the guard).

use std::io::{Stdout, stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// A termination signal arrived.
static TERMINATE: AtomicBool = AtomicBool::new(false);

/// Owns the full-screen terminal; dropping it restores the terminal.
pub struct TerminalGuard {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    pub fn enter() -> std::io::Result<TerminalGuard> {
        install_panic_hook();
        install_signal_handlers()?;
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on a failure must restore what was done.
        let setup = || -> std::io::Result<TerminalGuard> {
            execute!(stdout(), EnterAlternateScreen)?;
            let mut terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
            terminal.hide_cursor()?;
            terminal.clear()?;
            Ok(TerminalGuard { terminal })
        };
        setup().inspect_err(|_| restore())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor and turns raw mode off.
/// Idempotent: only the first call after [`TerminalGuard::enter`] acts.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
        let _ = disable_raw_mode();
    }
}

/// Whether SIGTERM, SIGINT or SIGHUP arrived.
pub fn terminate_requested() -> bool {
    TERMINATE.load(Ordering::Relaxed)
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Restore first so the message lands on the normal screen, readable.
            restore();
            previous(info);
        }));
    });
}

extern "C" fn on_terminate(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    TERMINATE.store(true, Ordering::Relaxed);
}

fn install_signal_handlers() -> std::io::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_terminate),
        // No SA_RESTART: a blocked read returns EINTR and the loop notices.
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(sig, &action) }.map_err(std::io::Error::from)?;
    }
    Ok(())
}

/// Where logs go: stderr, except while the full-screen view is up, where a
/// line would tear the frame (what matters is shown in the title bar).
pub fn log_writer() -> Box<dyn std::io::Write> {
    if ACTIVE.load(Ordering::Relaxed) {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stderr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_restores_the_terminal_before_its_message() {
        install_panic_hook();
        // As if the screen were up (no tty here: restore's writes are harmless).
        ACTIVE.store(true, Ordering::SeqCst);
        let r = std::panic::catch_unwind(|| panic!("drawing failed"));
        assert!(r.is_err());
        assert!(!ACTIVE.load(Ordering::SeqCst), "the hook restored");
        restore(); // idempotent
    }
}
