//! The sysfs reader (sched_ext state and ops, lockdown) against fake /sys trees.

use std::path::PathBuf;

use autosa::collect::sysfs::{LockdownMode, ScxState, SysfsError, SysfsReader};
use autosa::sched_ext::ops_matches;

fn reader(name: &str) -> SysfsReader {
    SysfsReader::new(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sys")
            .join(name),
    )
}

#[test]
fn enabled_scheduler_is_named() {
    let r = reader("scx-enabled");
    assert_eq!(r.sched_ext_state().unwrap(), ScxState::Enabled);
    let ops = r.sched_ext_ops().unwrap().unwrap();
    assert_eq!(ops, "bpfland_1.1.4_x86_64_unknown_linux_gnu");
    assert!(ops_matches(&ops, "scx_bpfland"));
    assert!(!ops_matches(&ops, "scx_lavd"));
    assert_eq!(r.lockdown().unwrap(), Some(LockdownMode::None));
}

#[test]
fn sched_ext_together_tells_what_runs() {
    let on = reader("scx-enabled").sched_ext().unwrap();
    assert!(on.runs("scx_bpfland"));
    assert!(!on.runs("scx_lavd"));
    // Attached but not yet enabled does not count as running.
    assert!(!reader("scx-enabling").sched_ext().unwrap().runs("scx_lavd"));
    let off = reader("scx-disabled").sched_ext().unwrap();
    assert_eq!((off.state, off.ops), (ScxState::Disabled, None));
}

#[test]
fn every_state_is_parsed() {
    assert_eq!(
        reader("scx-disabled").sched_ext_state().unwrap(),
        ScxState::Disabled
    );
    assert_eq!(
        reader("scx-disabling").sched_ext_state().unwrap(),
        ScxState::Disabling
    );
    let enabling = reader("scx-enabling");
    assert_eq!(enabling.sched_ext_state().unwrap(), ScxState::Enabling);
    assert!(ops_matches(
        &enabling.sched_ext_ops().unwrap().unwrap(),
        "scx_lavd"
    ));
    assert_eq!(ScxState::Enabling.as_str(), "enabling");
}

#[test]
fn disabled_has_no_ops_and_absent_lockdown_is_none() {
    let r = reader("scx-disabled");
    assert_eq!(r.sched_ext_ops().unwrap(), None);
    assert_eq!(r.lockdown().unwrap(), None);
}

#[test]
fn kernel_without_sched_ext_is_unsupported() {
    let r = reader("no-scx-locked");
    assert_eq!(r.sched_ext_state().unwrap(), ScxState::Unsupported);
    assert_eq!(r.sched_ext_ops().unwrap(), None);
    assert_eq!(r.lockdown().unwrap(), Some(LockdownMode::Integrity));
    assert_eq!(
        reader("confidential").lockdown().unwrap(),
        Some(LockdownMode::Confidentiality)
    );
    assert_eq!(
        SysfsReader::new("/nonexistent/sys")
            .sched_ext_state()
            .unwrap(),
        ScxState::Unsupported
    );
}

#[test]
fn unexpected_content_is_an_error_naming_the_file() {
    let r = reader("bad");
    let err = r.sched_ext_state().unwrap_err();
    assert!(matches!(err, SysfsError::Unexpected { .. }));
    assert!(
        err.to_string().contains("sys/bad/kernel/sched_ext/state")
            && err.to_string().contains("\"on\""),
        "{err}"
    );
    let err = r.lockdown().unwrap_err();
    assert!(
        err.to_string().contains("kernel/security/lockdown"),
        "{err}"
    );
    let err = reader("scx-dir-without-state")
        .sched_ext_state()
        .unwrap_err();
    assert!(err.to_string().contains("sched_ext/state"), "{err}");
}

#[test]
fn live_sysfs_reads_without_error() {
    let r = SysfsReader::default();
    // Whatever this kernel has, reading it must not fail.
    let state = r.sched_ext_state().unwrap();
    let ops = r.sched_ext_ops().unwrap();
    if state == ScxState::Unsupported {
        assert!(ops.is_none(), "{ops:?} while {state:?}");
    }
    r.lockdown().unwrap();
}
