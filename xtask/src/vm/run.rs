//! Booting the prepared kernel under QEMU TCG with virtme-ng and running one command as root.
//!
//! The guest sees the host's root file system read-only (writable overlays on top) and one
//! read-write directory, the run directory, shared at the same path. The command's exit
//! status comes back through a file there: virtme-ng's own status passing is not relied on.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use super::cache::Cache;
use super::kernel::Kernel;
use super::tools;

/// How the guest machine is sized and how long it may run.
pub struct VmOptions {
    pub cpus: u32,
    pub memory: String,
    pub timeout: Duration,
    /// Further host directories the guest may write to (same path inside).
    pub rwdirs: Vec<PathBuf>,
    /// Host directories shared read-only at the same path. Needed for anything under the
    /// paths virtme-ng covers with a tmpfs in the guest (/var/cache, /var/tmp, /var/log,
    /// /var/lib/apt): the default cache /var/cache/autosa-vm is one of them.
    pub rodirs: Vec<PathBuf>,
}

/// Run directories kept for inspection (logs, captured files); older ones are deleted.
const RUNS_KEPT: usize = 10;

/// A fresh directory the guest may write to: `<cache>/runs/<kind>-<time>-<pid>`, unique so
/// that several runs may share one cache.
pub fn new_run_dir(cache: &Cache, kind: &str) -> Result<PathBuf> {
    let runs = cache.path("runs");
    fs::create_dir_all(&runs)?;
    prune_runs(&runs);
    let secs = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let dir = runs.join(format!("{kind}-{secs}-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn prune_runs(runs: &Path) {
    let Ok(entries) = fs::read_dir(runs) else {
        return;
    };
    let mut dirs: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(RUNS_KEPT - 1);
    for (_, dir) in dirs.into_iter().take(excess) {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Quotes one word for `sh`.
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

// The workspace is seen at the same path in the guest (the host root file
// system is shared).
pub use crate::host::workspace_root;

/// Host variables handed on to the guest command when set.
const PASSED_ENV: &[&str] = &["CI", "RUST_LOG", "RUST_BACKTRACE"];

/// Boots the VM, runs `script` (shell text) as root inside it from the workspace root, streams
/// its output and returns its exit code. The script sees `AUTOSA_VM_BIN` (cached schedulers),
/// `AUTOSA_VM_OUT` (the run directory, written back to the host) and `AUTOSA_WORKSPACE`.
pub fn boot(
    cache: &Cache,
    kernel: &Kernel,
    opts: &VmOptions,
    run_dir: &Path,
    script: &str,
) -> Result<i32> {
    let exit_file = run_dir.join("exit-code");
    let _ = fs::remove_file(&exit_file);
    let guest_script = run_dir.join("guest.sh");
    let path = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        cache.bin_dir().display()
    );
    let q = |p: &Path| shell_quote(&p.to_string_lossy());
    let mut text = String::from("# Written by `cargo xtask vm`; runs inside the guest.\n");
    text.push_str(&format!("export PATH={}\n", shell_quote(&path)));
    text.push_str(&format!("export AUTOSA_VM_BIN={}\n", q(&cache.bin_dir())));
    text.push_str(&format!("export AUTOSA_VM_OUT={}\n", q(run_dir)));
    text.push_str(&format!(
        "export AUTOSA_WORKSPACE={}\n",
        q(&workspace_root())
    ));
    for name in PASSED_ENV {
        if let Ok(value) = std::env::var(name) {
            text.push_str(&format!("export {name}={}\n", shell_quote(&value)));
        }
    }
    text.push_str(&format!("cd {} || exit 1\n", q(&workspace_root())));
    text.push_str(script);
    text.push_str(&format!("\necho $? > {}\n", q(&exit_file)));
    fs::write(&guest_script, text)?;

    // virtme-ng calls virtme-run and virtiofsd through PATH.
    let host_path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![cache.bin_dir(), tools::venv_bin(cache)];
    dirs.extend(std::env::split_paths(&host_path));
    let mut vng = Command::new(tools::vng(cache));
    vng.env("PATH", std::env::join_paths(dirs)?)
        .arg("--run")
        .arg(&kernel.image)
        // /dev/kvm here only runs paravirtualised guests: emulate (TCG).
        .arg("--disable-kvm")
        // Multi-threaded TCG let a guest vCPU run stale code while the other patched it: the
        // 7.3 guest panicked ("Oops: int3" in sched_balance_update_blocked_averages) after
        // repeated sched_ext enable/disable (static-key patching), in 4 of 6 suite runs.
        // One host thread for all vCPUs keeps code patching coherent.
        .arg("--qemu-opts=-accel tcg,thread=single")
        // virtme-ng already boots with panic=-1 and -no-reboot; an Oops that does not panic
        // would leave a half-dead guest running until the timeout: end it at once instead.
        .args(["--append", "oops=panic"])
        // The guest kernel's console on stderr, kept in kernel.log: a crash is then seen, not
        // just a VM that ended early. Warnings and worse only (loglevel=4 comes after
        // virtme's loglevel=7, so it wins): a serial console is slow under TCG.
        .arg("--verbose")
        .args(["--append", "loglevel=4"])
        .args(["--user", "root"])
        .arg("--cpus")
        .arg(opts.cpus.to_string())
        .arg("--memory")
        .arg(&opts.memory)
        .arg(format!("--rwdir={}", run_dir.display()))
        .args(
            opts.rwdirs
                .iter()
                .map(|d| format!("--rwdir={}", d.display())),
        )
        .arg(format!("--rodir={}", cache.bin_dir().display()))
        .args(
            opts.rodirs
                .iter()
                .map(|d| format!("--rodir={}", d.display())),
        )
        .arg("--cwd")
        .arg(workspace_root())
        .arg("--exec")
        .arg(format!(
            "sh {}",
            shell_quote(&guest_script.to_string_lossy())
        ))
        .stdin(Stdio::null())
        // QEMU reopens /proc/self/fd/1 with O_TRUNC: handed a log file, it would wipe what
        // came before. Give it pipes and relay them.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    println!(
        "booting {} under QEMU TCG ({} vCPUs, {}, timeout {} s); run dir {}",
        kernel.release,
        opts.cpus,
        opts.memory,
        opts.timeout.as_secs(),
        run_dir.display()
    );
    let start = Instant::now();
    let mut child = vng.spawn().with_context(|| {
        format!(
            "cannot start {}: run `cargo xtask vm prepare`",
            tools::vng(cache).display()
        )
    })?;
    let console = run_dir.join("console.log");
    let kernel_log = run_dir.join("kernel.log");
    let relays = [
        relay(
            child.stdout.take(),
            std::io::stdout(),
            &console,
            &kernel_log,
        )?,
        relay(
            child.stderr.take(),
            std::io::stderr(),
            &console,
            &kernel_log,
        )?,
    ];
    let deadline = start + opts.timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            kill_tree(child.id());
            let _ = child.wait();
            bail!(
                "the VM did not finish within {} s and was killed (QEMU included); \
                 raise --timeout if the command is just slow (TCG is), else see the output above",
                opts.timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The pipes close when the last process holding them (QEMU, virtiofsd) has gone; do not
    // hang on a straggler that keeps one open.
    let drained = Instant::now() + Duration::from_secs(10);
    while relays.iter().any(|r| !r.is_finished()) && Instant::now() < drained {
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "VM exited after {:.1} s ({status})",
        start.elapsed().as_secs_f64()
    );
    let code = fs::read_to_string(&exit_file).with_context(|| {
        format!(
            "the command did not finish inside the guest (no {}): the kernel did not boot, \
             the guest crashed or virtme-ng failed ({status}); see the output above",
            exit_file.display()
        )
    })?;
    code.trim()
        .parse()
        .with_context(|| format!("unreadable exit code {:?} in {}", code, exit_file.display()))
}

/// Copies a child's output to ours line by line as it comes, and appends it to `log`. Kernel
/// console lines (`[   12.345678] …`, the guest's printk with timestamps) go to `kernel_log`
/// only: the whole boot log would drown the test output, and the suite reads it for crashes.
fn relay(
    from: Option<impl Read + Send + 'static>,
    mut to: impl Write + Send + 'static,
    log: &Path,
    kernel_log: &Path,
) -> Result<std::thread::JoinHandle<()>> {
    let from = from.context("child output was not piped")?;
    let open = |p: &Path| fs::OpenOptions::new().create(true).append(true).open(p);
    let mut log = open(log)?;
    let mut kernel = open(kernel_log)?;
    Ok(std::thread::spawn(move || {
        let mut from = std::io::BufReader::new(from);
        let mut line = Vec::new();
        loop {
            line.clear();
            match std::io::BufRead::read_until(&mut from, b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if is_kernel_line(&line) {
                let _ = kernel.write_all(&line);
                continue;
            }
            let _ = to.write_all(&line);
            let _ = to.flush();
            let _ = log.write_all(&line);
        }
    }))
}

/// `[    1.234567] …`: a printk line with its timestamp.
pub fn is_kernel_line(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"[") else {
        return false;
    };
    let Some(end) = rest.iter().position(|&b| b == b']') else {
        return false;
    };
    let stamp = rest[..end].trim_ascii_start();
    let mut parts = stamp.splitn(2, |&b| b == b'.');
    let (Some(secs), Some(frac)) = (parts.next(), parts.next()) else {
        return false;
    };
    !secs.is_empty()
        && !frac.is_empty()
        && secs.iter().all(u8::is_ascii_digit)
        && frac.iter().all(u8::is_ascii_digit)
}

/// SIGKILL to `pid` and every process below it (virtme-ng, QEMU, virtiofsd), children first
/// so none is re-parented away before it is found.
fn kill_tree(pid: u32) {
    for child in children(pid) {
        kill_tree(child);
    }
    // SAFETY: kill(2) with a pid we started (or its descendants) and a valid signal.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| parent_of(p) == Some(pid))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = procfs::process::Process::new(pid as i32)
        .ok()?
        .stat()
        .ok()?;
    u32::try_from(stat.ppid).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printk_lines_are_told_from_script_output() {
        assert!(is_kernel_line(b"[    0.000000] Linux version 7.3.4\n"));
        assert!(is_kernel_line(b"[12345.678901] Oops: int3: 0000 [#1]\n"));
        assert!(!is_kernel_line(b"ok - [1.5] seconds\n"));
        assert!(!is_kernel_line(b"[INFO] scx_bpfland\n"));
        assert!(!is_kernel_line(b"[ .5] x\n"));
        assert!(!is_kernel_line(b"[ok  ] capabilities\n"));
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn parent_of_self_is_the_test_runner() {
        let me = std::process::id();
        assert_eq!(parent_of(me), Some(std::os::unix::process::parent_id()));
        assert!(children(std::os::unix::process::parent_id()).contains(&me));
    }
}
