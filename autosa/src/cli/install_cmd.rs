//! `autosa install`: the binary, the systemd unit (with the sched_ext drop-in
//! on kernels that have sched_ext) and a default configuration when there is
//! none yet; an existing configuration is never overwritten.
//!
//! The steps are planned first (pure, from the options and what exists) and
//! then carried out or, with `--dry-run`, only printed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::config::Config;

/// The unit and drop-in shipped in contrib/, embedded so the binary installs itself.
pub const UNIT: &str = include_str!("../../../contrib/autosa.service");
pub const SCHED_EXT_DROPIN: &str = include_str!("../../../contrib/sched-ext.conf");
/// Where the unit's `ExecStart=` points as shipped.
const UNIT_BINARY: &str = "/usr/local/bin/autosa";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Installation prefix: the binary goes to PREFIX/bin/autosa.
    #[arg(long, default_value = "/usr/local")]
    prefix: PathBuf,
    /// Install into this directory instead of / (packaging, images, tests).
    /// The unit still names PREFIX/bin/autosa, the path on the target system.
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Print what would be done, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Install the drop-in that gives sched_ext schedulers CAP_SYS_ADMIN
    /// [default: auto, when this kernel has sched_ext].
    #[arg(long, value_enum, default_value_t = SchedExt::Auto)]
    sched_ext: SchedExt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchedExt {
    Auto,
    Yes,
    No,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CopyBinary {
        from: PathBuf,
        to: PathBuf,
    },
    Write {
        to: PathBuf,
        mode: u32,
        text: String,
        what: &'static str,
    },
    /// The configuration exists: left as it is.
    KeepConfig {
        path: PathBuf,
    },
}

/// The steps for these options. Pure: what exists on the system is passed in.
pub fn plan(
    root: &Path,
    prefix: &Path,
    current_exe: &Path,
    sched_ext: bool,
    config_exists: bool,
) -> anyhow::Result<Vec<Step>> {
    anyhow::ensure!(
        prefix.is_absolute(),
        "--prefix {} is not an absolute path",
        prefix.display()
    );
    let installed = prefix.join("bin").join("autosa");
    let under_root = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    let mut steps = vec![
        Step::CopyBinary {
            from: current_exe.to_owned(),
            to: under_root(&installed),
        },
        Step::Write {
            to: under_root(Path::new("/etc/systemd/system/autosa.service")),
            mode: 0o644,
            text: unit_for(&installed),
            what: "systemd unit",
        },
    ];
    if sched_ext {
        steps.push(Step::Write {
            to: under_root(Path::new(
                "/etc/systemd/system/autosa.service.d/sched-ext.conf",
            )),
            mode: 0o644,
            text: SCHED_EXT_DROPIN.to_owned(),
            what: "sched_ext drop-in (CAP_SYS_ADMIN for the schedulers)",
        });
    }
    let config = under_root(Path::new(crate::config::DEFAULT_CONFIG_PATH));
    steps.push(if config_exists {
        Step::KeepConfig { path: config }
    } else {
        Step::Write {
            to: config,
            mode: 0o644,
            text: Config::default_toml(),
            what: "default configuration",
        }
    });
    Ok(steps)
}

/// The shipped unit with `ExecStart=` and `ExecReload=` pointing at the
/// installed binary.
pub fn unit_for(binary: &Path) -> String {
    UNIT.replace(
        &format!("={UNIT_BINARY} "),
        &format!("={} ", binary.display()),
    )
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the running autosa binary")?;
    let sched_ext = match args.sched_ext {
        SchedExt::Yes => true,
        SchedExt::No => false,
        SchedExt::Auto => Path::new("/sys/kernel/sched_ext").exists(),
    };
    let config_path = args
        .root
        .join(crate::config::DEFAULT_CONFIG_PATH.trim_start_matches('/'));
    let steps = plan(
        &args.root,
        &args.prefix,
        &exe,
        sched_ext,
        config_path.exists(),
    )?;
    for step in &steps {
        if args.dry_run {
            println!("would {}", describe(step));
        } else {
            carry_out(step)?;
            println!("{}", describe(step));
        }
    }
    if args.dry_run {
        return Ok(());
    }
    if args.root == Path::new("/") {
        println!("next: systemctl daemon-reload && systemctl enable --now autosa");
    } else {
        println!(
            "installed under {}; on the target system: systemctl daemon-reload && systemctl enable --now autosa",
            args.root.display()
        );
    }
    Ok(())
}

fn describe(step: &Step) -> String {
    match step {
        Step::CopyBinary { from, to } => format!("install {} → {}", from.display(), to.display()),
        Step::Write { to, what, .. } => format!("write the {what} → {}", to.display()),
        Step::KeepConfig { path } => {
            let verdict = match Config::load(path) {
                Ok(_) => "valid".to_owned(),
                Err(e) => format!("NOT valid, fix it before starting: {e}"),
            };
            format!(
                "keep the existing configuration {} ({verdict})",
                path.display()
            )
        }
    }
}

fn carry_out(step: &Step) -> anyhow::Result<()> {
    match step {
        Step::CopyBinary { from, to } => {
            if same_file(from, to) {
                return Ok(());
            }
            let tmp = sibling_tmp(to);
            make_parent(to)?;
            std::fs::copy(from, &tmp)
                .with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
            finish(&tmp, to, 0o755)
        }
        Step::Write { to, mode, text, .. } => {
            let tmp = sibling_tmp(to);
            make_parent(to)?;
            std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
            finish(&tmp, to, *mode)
        }
        Step::KeepConfig { .. } => Ok(()),
    }
}

/// A temporary name beside `to`, so the final rename is atomic (a running
/// daemon keeps its old binary; a reader never sees half a file).
fn sibling_tmp(to: &Path) -> PathBuf {
    let name = to
        .file_name()
        .map_or_else(Default::default, |n| n.to_os_string());
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(".autosa-install");
    to.with_file_name(tmp)
}

fn make_parent(to: &Path) -> anyhow::Result<()> {
    let parent = to.parent().context("an install path has a parent")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("creating {} (run as root?)", parent.display()))
}

fn finish(tmp: &Path, to: &Path, mode: u32) -> anyhow::Result<()> {
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", tmp.display()))?;
    std::fs::rename(tmp, to).with_context(|| format!("replacing {}", to.display()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_points_at_the_installed_binary() {
        let u = unit_for(Path::new("/opt/autosa/bin/autosa"));
        assert!(
            u.contains("\nExecStart=/opt/autosa/bin/autosa run\n"),
            "{u}"
        );
        assert!(!u.contains(UNIT_BINARY));
        assert_eq!(unit_for(Path::new(UNIT_BINARY)), UNIT);
    }

    #[test]
    fn plan_keeps_an_existing_config_and_adds_the_dropin_on_sched_ext() {
        let root = Path::new("/tmp/r");
        let exe = Path::new("/build/autosa");
        let steps = plan(root, Path::new("/usr/local"), exe, true, true).unwrap();
        assert_eq!(
            steps[0],
            Step::CopyBinary {
                from: exe.into(),
                to: "/tmp/r/usr/local/bin/autosa".into()
            }
        );
        assert!(matches!(&steps[2], Step::Write { to, .. }
            if to == Path::new("/tmp/r/etc/systemd/system/autosa.service.d/sched-ext.conf")));
        assert_eq!(
            steps[3],
            Step::KeepConfig {
                path: "/tmp/r/etc/autosa/autosa.toml".into()
            }
        );
        let steps = plan(root, Path::new("/usr"), exe, false, false).unwrap();
        assert_eq!(steps.len(), 3, "no drop-in without sched_ext");
        assert!(matches!(&steps[2], Step::Write { text, .. } if text == &Config::default_toml()));
        assert!(plan(root, Path::new("usr"), exe, false, false).is_err());
    }
}
