//! Choosing the backend from the configuration and what the host offers.

use crate::backend::dry_run::DryRun;
use crate::backend::eevdf::EevdfBackend;
use crate::backend::mcp::McpBackend;
use crate::backend::scx::{ScxBackend, resolve_binary};
use crate::backend::{Applied, Backend, BackendError};
use crate::collect::sysfs::{ScxState, SysfsReader};
use crate::config::{BackendKind, Config};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ChooseError {
    #[error(
        "the {0} backend needs a kernel with sched_ext (Linux 6.12+, CONFIG_SCHED_CLASS_EXT=y); \
         this one has none: use --backend eevdf (or auto)"
    )]
    NoSchedExt(&'static str),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

fn has_sched_ext(sysfs: &SysfsReader) -> bool {
    !matches!(sysfs.sched_ext_state(), Ok(ScxState::Unsupported) | Err(_))
}

/// What `auto` resolves to on this host: scx when the kernel has sched_ext
/// and at least one known scheduler is installed where autosa trusts it.
pub fn resolve(kind: BackendKind, config: &Config, sysfs: &SysfsReader) -> BackendKind {
    match kind {
        BackendKind::Auto if has_sched_ext(sysfs) => {
            let installed: Vec<&str> = crate::policy::catalog::SCHEDULERS
                .iter()
                .filter(|s| resolve_binary(&config.scx, s.name).is_ok())
                .map(|s| s.name)
                .collect();
            if installed.is_empty() {
                tracing::info!(
                    "sched_ext is available but no scx scheduler is installed: using eevdf"
                );
                BackendKind::Eevdf
            } else {
                tracing::info!(schedulers = %installed.join(" "), "sched_ext available: using scx");
                BackendKind::Scx
            }
        }
        BackendKind::Auto => BackendKind::Eevdf,
        other => other,
    }
}

/// Builds the backend. The EEVDF backend restores whatever a crashed run left
/// in the journal before it returns, so this is the first thing the daemon
/// does; what was restored comes back too, for the history.
pub fn build(
    config: &Config,
    kind: BackendKind,
    dry_run: bool,
    cancel: &CancellationToken,
) -> Result<(Box<dyn Backend>, Applied), ChooseError> {
    let sysfs = SysfsReader::new(&config.scx.sys_root);
    let journal = config.daemon.state_dir.join("journal.json");
    let recovered: Applied;
    let real: Box<dyn Backend> = match resolve(kind, config, &sysfs) {
        BackendKind::Eevdf | BackendKind::None => {
            let b = EevdfBackend::new(config.eevdf.clone(), journal)?;
            recovered = b.recovered().clone();
            Box::new(b)
        }
        BackendKind::Scx => {
            if !has_sched_ext(&sysfs) {
                return Err(ChooseError::NoSchedExt("scx"));
            }
            let b = ScxBackend::new(
                config.scx.clone(),
                &config.daemon.state_dir,
                cancel.child_token(),
            )?;
            recovered = b.recovered().clone();
            Box::new(b)
        }
        BackendKind::Mcp => {
            if !has_sched_ext(&SysfsReader::new(&config.mcp.sys_root)) {
                return Err(ChooseError::NoSchedExt("mcp"));
            }
            let b = McpBackend::new(config.mcp.clone(), &config.daemon.state_dir)?;
            recovered = b.recovered().clone();
            Box::new(b)
        }
        BackendKind::Auto => unreachable!("resolve() never returns Auto"),
    };
    log_recovered(&recovered);
    if dry_run || kind == BackendKind::None {
        Ok((Box::new(DryRun::new(real)), recovered))
    } else {
        Ok((real, recovered))
    }
}

/// What a backend undid at start, from the journal of a run that did not exit cleanly.
fn log_recovered(recovered: &crate::backend::Applied) {
    for c in &recovered.changes {
        tracing::warn!(what = %c.what, from = %c.from, to = %c.to, "restored after an unclean exit");
    }
    for n in &recovered.notes {
        tracing::warn!("{n}");
    }
}
