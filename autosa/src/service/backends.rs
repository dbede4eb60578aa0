//! Choosing the backend from the configuration and what the host offers.

use crate::backend::dry_run::DryRun;
use crate::backend::eevdf::EevdfBackend;
use crate::backend::{Backend, BackendError};
use crate::collect::sysfs::{ScxState, SysfsReader};
use crate::config::{BackendKind, Config};

#[derive(Debug, thiserror::Error)]
pub enum ChooseError {
    #[error(
        "the {0} backend needs a kernel with sched_ext (Linux 6.12+, CONFIG_SCHED_CLASS_EXT=y); \
         this one has none: use --backend eevdf (or auto)"
    )]
    NoSchedExt(&'static str),
    #[error("the {0} backend is not built into this version of autosa: use --backend eevdf")]
    NotBuilt(&'static str),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// What `auto` resolves to on this host.
pub fn resolve(kind: BackendKind, sysfs: &SysfsReader) -> BackendKind {
    match kind {
        BackendKind::Auto => {
            let has_scx = !matches!(sysfs.sched_ext_state(), Ok(ScxState::Unsupported) | Err(_));
            if has_scx {
                tracing::info!(
                    "sched_ext is available, but no sched_ext backend is built in yet: using eevdf"
                );
            }
            BackendKind::Eevdf
        }
        other => other,
    }
}

/// Builds the backend. The EEVDF backend restores whatever a crashed run left
/// in the journal before it returns, so this is the first thing the daemon does.
pub fn build(
    config: &Config,
    kind: BackendKind,
    dry_run: bool,
) -> Result<Box<dyn Backend>, ChooseError> {
    let sysfs = SysfsReader::new(&config.collect.sys_root);
    let journal = config.daemon.state_dir.join("journal.json");
    let real: Box<dyn Backend> = match resolve(kind, &sysfs) {
        BackendKind::Eevdf | BackendKind::None => {
            let b = EevdfBackend::new(config.eevdf.clone(), journal)?;
            for c in &b.recovered().changes {
                tracing::warn!(what = %c.what, from = %c.from, to = %c.to, "restored after an unclean exit");
            }
            Box::new(b)
        }
        BackendKind::Scx => {
            if matches!(sysfs.sched_ext_state(), Ok(ScxState::Unsupported) | Err(_)) {
                return Err(ChooseError::NoSchedExt("scx"));
            }
            return Err(ChooseError::NotBuilt("scx"));
        }
        BackendKind::Mcp => {
            if matches!(sysfs.sched_ext_state(), Ok(ScxState::Unsupported) | Err(_)) {
                return Err(ChooseError::NoSchedExt("mcp"));
            }
            return Err(ChooseError::NotBuilt("mcp"));
        }
        BackendKind::Auto => unreachable!("resolve() never returns Auto"),
    };
    if dry_run || kind == BackendKind::None {
        Ok(Box::new(DryRun::new(real)))
    } else {
        Ok(real)
    }
}
