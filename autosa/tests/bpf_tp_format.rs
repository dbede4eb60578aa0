//! Tracepoint formats captured from real kernels (`fixtures/tracefs/<version>/`)
//! parse, and yield every field the programs need.

use std::path::{Path, PathBuf};

use autosa::collect::bpf::{
    layout::{self, BlockFormats, SchedFormats, Tracepoint},
    tp_format::Format,
};
use autosa_common::config::NO_FIELD;

fn versions() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tracefs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no kernel versions under {}", root.display());
    v
}

fn format(version: &Path, tp: &Tracepoint) -> Format {
    let path = version.join(tp.category).join(tp.name).join("format");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Format::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_captured_kernel_has_the_fields_the_programs_read() {
    for v in versions() {
        let switch = format(&v, &layout::SCHED_SWITCH);
        let wakeup = format(&v, &layout::SCHED_WAKEUP);
        let wakeup_new = format(&v, &layout::SCHED_WAKEUP_NEW);
        let migrate = format(&v, &layout::SCHED_MIGRATE_TASK);
        assert_eq!(migrate.name, "sched_migrate_task", "{}", v.display());
        let cfg = layout::sched_config(
            &SchedFormats {
                switch: &switch,
                wakeup: &wakeup,
                wakeup_new: &wakeup_new,
            },
            1,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", v.display()));
        let issue = format(&v, &layout::BLOCK_RQ_ISSUE);
        let complete = format(&v, &layout::BLOCK_RQ_COMPLETE);
        let cfg = layout::with_block(
            cfg,
            &BlockFormats {
                issue: &issue,
                complete: &complete,
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e}", v.display()));
        // Every field the programs read sits after the 8-byte common header.
        for off in [
            cfg.switch_prev_pid,
            cfg.switch_prev_state,
            cfg.switch_next_pid,
            cfg.wakeup_pid,
            cfg.wakeup_new_pid,
            cfg.issue_dev,
            cfg.issue_sector,
            cfg.issue_nr_sector,
            cfg.issue_rwbs,
            cfg.complete_dev,
            cfg.complete_sector,
        ] {
            assert!((8..4096).contains(&off), "{}: offset {off}", v.display());
        }
        assert!(cfg.issue_bytes == NO_FIELD || (8..4096).contains(&cfg.issue_bytes));
        assert!(matches!(cfg.switch_prev_state_size, 4 | 8));
    }
}

#[test]
fn kernel_6_18_offsets_are_the_measured_ones() {
    let v = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tracefs/6.18");
    let switch = format(&v, &layout::SCHED_SWITCH);
    let wakeup = format(&v, &layout::SCHED_WAKEUP);
    let cfg = layout::sched_config(
        &SchedFormats {
            switch: &switch,
            wakeup: &wakeup,
            wakeup_new: &wakeup,
        },
        9,
    )
    .unwrap();
    assert_eq!(
        (
            cfg.switch_prev_pid,
            cfg.switch_prev_state,
            cfg.switch_prev_state_size,
            cfg.switch_next_pid,
            cfg.wakeup_pid
        ),
        (24, 32, 8, 56, 24)
    );
    let issue = format(&v, &layout::BLOCK_RQ_ISSUE);
    let complete = format(&v, &layout::BLOCK_RQ_COMPLETE);
    let cfg = layout::with_block(
        cfg,
        &BlockFormats {
            issue: &issue,
            complete: &complete,
        },
    )
    .unwrap();
    assert_eq!(
        (
            cfg.issue_dev,
            cfg.issue_sector,
            cfg.issue_nr_sector,
            cfg.issue_bytes,
            cfg.issue_rwbs
        ),
        (8, 16, 24, 28, 34)
    );
    assert_eq!((cfg.complete_dev, cfg.complete_sector), (8, 16));
}
