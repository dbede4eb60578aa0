//! `cargo xtask vm`: a sched_ext kernel under QEMU (TCG) through virtme-ng.
//!
//! `prepare` fetches and builds everything into a cache (idempotent, stamped per step),
//! `run` boots the kernel over the host's root file system and runs one command as root,
//! `test` runs the guest-side suite in `tests/vm/` in one boot.

mod cache;
mod cmd;
mod host_packages;
mod kernel;
mod run;
mod suite;
mod tools;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args as ClapArgs, Subcommand};

use cache::Cache;
use kernel::Kernel;

#[derive(ClapArgs)]
pub struct Args {
    /// Cache for the kernel, virtme-ng, virtiofsd and schedulers
    /// [default: $XDG_CACHE_HOME/autosa-vm or /var/cache/autosa-vm].
    #[arg(long, global = true, env = "AUTOSA_VM_CACHE")]
    cache: Option<PathBuf>,
    #[command(subcommand)]
    command: VmCommand,
}

#[derive(ClapArgs)]
struct Machine {
    /// Guest vCPUs.
    #[arg(long, default_value_t = 2)]
    cpus: u32,
    /// Guest memory (QEMU syntax).
    #[arg(long, default_value = "2G")]
    memory: String,
    /// Seconds before the VM (QEMU included) is killed; TCG boots in 15–40 s.
    #[arg(long)]
    timeout: Option<u64>,
    /// A host directory the guest may write to, at the same path (repeatable).
    #[arg(long = "rwdir", value_name = "DIR")]
    rwdirs: Vec<PathBuf>,
}

impl Machine {
    fn options(&self, default_timeout: u64) -> Result<run::VmOptions> {
        let rwdirs = self
            .rwdirs
            .iter()
            .map(|d| {
                std::fs::canonicalize(d)
                    .with_context(|| format!("--rwdir {}: create the directory first", d.display()))
            })
            .collect::<Result<_>>()?;
        Ok(run::VmOptions {
            cpus: self.cpus,
            memory: self.memory.clone(),
            timeout: Duration::from_secs(self.timeout.unwrap_or(default_timeout)),
            rwdirs,
            rodirs: Vec::new(),
        })
    }
}

#[derive(Subcommand)]
enum VmCommand {
    /// Fetch and build everything the VM needs (skips what is already cached); resolves the
    /// current trixie-backports kernel.
    Prepare,
    /// Boot the VM and run CMD as root inside it, from the workspace root; exits with its code.
    Run {
        #[command(flatten)]
        machine: Machine,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// The sched_ext integration suite: every tests/vm/*.sh inside one VM boot.
    Test {
        #[command(flatten)]
        machine: Machine,
        /// Only scripts whose file name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Do not build autosa (release) on the host first.
        #[arg(long)]
        no_build: bool,
        /// Write the guest kernel's tracefs formats into autosa/tests/fixtures/tracefs/.
        #[arg(long)]
        update_fixtures: bool,
        /// Crash the guest kernel (sysrq) before the first script of the first boot: shows
        /// that a guest-kernel crash is reported and the unfinished scripts rerun once.
        #[arg(long, hide = true)]
        inject_guest_crash: bool,
        /// Seconds each script may run inside the guest (51-autosa-scx.sh needs ~260 s
        /// under single-threaded TCG: scx_lavd beside CPU hogs took 145 s to attach).
        #[arg(long, default_value_t = 600)]
        script_timeout: u64,
    },
}

pub fn run(args: Args) -> Result<()> {
    let cache = Cache::open(args.cache)?;
    match args.command {
        VmCommand::Prepare => prepare(&cache, true).map(|_| ()),
        VmCommand::Run { machine, cmd } => {
            let kernel = prepare(&cache, false)?;
            let dir = run::new_run_dir(&cache, "run")?;
            let line: Vec<String> = cmd.iter().map(|w| run::shell_quote(w)).collect();
            let code = run::boot(
                &cache,
                &kernel,
                &machine.options(600)?,
                &dir,
                &line.join(" "),
            )?;
            if code != 0 {
                println!("command exited with {code} in the guest");
            }
            std::process::exit(code);
        }
        VmCommand::Test {
            machine,
            filter,
            no_build,
            update_fixtures,
            inject_guest_crash,
            script_timeout,
        } => {
            let kernel = prepare(&cache, false)?;
            let opts = suite::SuiteOptions {
                filter,
                no_build,
                update_fixtures,
                inject_guest_crash,
                script_timeout,
            };
            suite::run(&cache, &kernel, machine.options(1200)?, &opts)
        }
    }
}

/// Everything `run` and `test` need. `resolve_latest` asks trixie-backports for the current
/// kernel; otherwise the kernel prepared last is reused (no network when all is cached).
fn prepare(cache: &Cache, resolve_latest: bool) -> Result<Kernel> {
    if !crate::host::is_root() {
        bail!(
            "cargo xtask vm needs root (it installs packages and kernel modules, and runs the guest command as root)"
        );
    }
    println!("VM cache: {}", cache.root().display());
    cmd::step("1/5 host packages", host_packages::ensure)?;
    let kernel = cmd::step("2/5 sched_ext kernel (trixie-backports cloud)", || {
        kernel::prepare(cache, resolve_latest)
    })?;
    cmd::step("3/5 virtme-ng", || tools::virtme_ng(cache))?;
    cmd::step("4/5 virtiofsd", || tools::virtiofsd(cache))?;
    cmd::step("5/5 scx schedulers", || tools::schedulers(cache))?;
    print_versions(cache, &kernel);
    Ok(kernel)
}

/// What the VM is made of, as the tools themselves report it.
fn print_versions(cache: &Cache, kernel: &Kernel) {
    let first_line = |program: PathBuf, arg: &str| {
        std::process::Command::new(&program)
            .arg(arg)
            .output()
            .ok()
            .and_then(|o| {
                let out = String::from_utf8_lossy(&o.stdout).into_owned();
                out.lines().next().map(str::trim).map(String::from)
            })
            .unwrap_or_else(|| format!("{} did not report a version", program.display()))
    };
    println!("versions:");
    println!(
        "    kernel      {} (Debian {})",
        kernel.release,
        cache
            .stamp(&format!("kernel-{}", kernel.release))
            .unwrap_or_default()
    );
    println!(
        "    qemu        {}",
        first_line("qemu-system-x86_64".into(), "--version")
    );
    println!(
        "    virtme-ng   {}",
        first_line(tools::vng(cache), "--version")
    );
    println!(
        "    virtiofsd   {}",
        first_line(cache.bin_dir().join("virtiofsd"), "--version")
    );
    for (name, _) in tools::SCHEDULERS {
        println!(
            "    {name:<11} {}",
            first_line(cache.bin_dir().join(name), "--version")
        );
    }
}
