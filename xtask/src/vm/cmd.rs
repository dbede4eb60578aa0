//! Running host commands with the command line echoed and failures explained.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `cmd` with inherited output; on failure says what failed and `hint` (what to do).
pub fn run(cmd: &mut Command, hint: &str) -> Result<()> {
    let line = describe(cmd);
    println!("    $ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{line}`: {hint}"))?;
    if !status.success() {
        bail!("`{line}` failed ({status}): {hint}");
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its stdout; stderr is shown in the error when it fails.
pub fn output(cmd: &mut Command, hint: &str) -> Result<String> {
    let line = describe(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start `{line}`: {hint}"))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed ({}): {}\n{hint}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Prints a step's name, runs it and prints how long it took.
pub fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {name}");
    let start = Instant::now();
    let result = f();
    let secs = start.elapsed().as_secs_f64();
    match &result {
        Ok(_) => println!("<== {name}: done in {secs:.1} s"),
        Err(_) => println!("<== {name}: FAILED after {secs:.1} s"),
    }
    result
}

/// `cargo` of the toolchain running xtask (cargo sets `CARGO` for the programs it runs).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
