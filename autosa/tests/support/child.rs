//! Stopping a daemon a test started, the way its users do: SIGTERM (autosa
//! restores on the way out), then SIGKILL if it is still there.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// SIGTERM `child` and wait up to `within`; SIGKILL and reap it if it is
/// still running then. Its exit status when it left by itself in time.
pub fn terminate(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
