//! Turns tracefs `format` files into the [`ProbeConfig`] the kernel programs
//! read their record fields with. Pure: the caller reads the files.

use std::path::{Path, PathBuf};

use autosa_common::config::{NO_FIELD, ProbeConfig};

use super::tp_format::{Format, FormatError};

/// A tracepoint the programs attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracepoint {
    pub category: &'static str,
    pub name: &'static str,
    /// Program reading the record with direct loads at [`ProbeConfig::KNOWN`]'s offsets.
    pub program: &'static str,
    /// Program reading it at the configured offsets with helper calls
    /// (`None`: the program reads no field).
    pub program_dyn: Option<&'static str>,
    /// Optional probes are skipped with a warning when the kernel lacks them.
    pub optional: bool,
}

pub const SCHED_SWITCH: Tracepoint = Tracepoint {
    category: "sched",
    name: "sched_switch",
    program: "autosa_sched_switch",
    program_dyn: Some("autosa_sched_switch_dyn"),
    optional: false,
};
pub const SCHED_WAKEUP: Tracepoint = Tracepoint {
    category: "sched",
    name: "sched_wakeup",
    program: "autosa_sched_wakeup",
    program_dyn: Some("autosa_sched_wakeup_dyn"),
    optional: false,
};
pub const SCHED_WAKEUP_NEW: Tracepoint = Tracepoint {
    category: "sched",
    name: "sched_wakeup_new",
    program: "autosa_sched_wakeup_new",
    program_dyn: Some("autosa_sched_wakeup_new_dyn"),
    optional: false,
};
pub const SCHED_MIGRATE_TASK: Tracepoint = Tracepoint {
    category: "sched",
    name: "sched_migrate_task",
    program: "autosa_sched_migrate_task",
    program_dyn: None,
    optional: true,
};
pub const BLOCK_RQ_ISSUE: Tracepoint = Tracepoint {
    category: "block",
    name: "block_rq_issue",
    program: "autosa_block_rq_issue",
    program_dyn: Some("autosa_block_rq_issue_dyn"),
    optional: true,
};
pub const BLOCK_RQ_COMPLETE: Tracepoint = Tracepoint {
    category: "block",
    name: "block_rq_complete",
    program: "autosa_block_rq_complete",
    program_dyn: Some("autosa_block_rq_complete_dyn"),
    optional: true,
};

/// Every probe, in attach order. The order does not matter for correctness:
/// a switch-in without a stamp records nothing, a stamp without a switch-in
/// is overwritten by the next one.
pub const ALL: [Tracepoint; 6] = [
    SCHED_SWITCH,
    SCHED_WAKEUP,
    SCHED_WAKEUP_NEW,
    SCHED_MIGRATE_TASK,
    BLOCK_RQ_ISSUE,
    BLOCK_RQ_COMPLETE,
];

impl Tracepoint {
    /// The program to attach: the direct-load one when the layout is the known one.
    pub fn program_for(&self, direct: bool) -> &'static str {
        match self.program_dyn {
            Some(dyn_name) if !direct => dyn_name,
            _ => self.program,
        }
    }

    fn is_block(&self) -> bool {
        self.category == "block"
    }

    /// Whether `config` lets this probe use direct loads.
    pub fn direct_ok(&self, config: &ProbeConfig) -> bool {
        if self.is_block() {
            config.same_block_layout(&ProbeConfig::KNOWN)
        } else {
            config.same_sched_layout(&ProbeConfig::KNOWN)
        }
    }

    /// `<tracefs>/events/<category>/<name>/format`.
    pub fn format_path(&self, tracefs: &Path) -> PathBuf {
        tracefs
            .join("events")
            .join(self.category)
            .join(self.name)
            .join("format")
    }
}

/// Formats of the scheduler tracepoints (required).
pub struct SchedFormats<'a> {
    pub switch: &'a Format,
    pub wakeup: &'a Format,
    pub wakeup_new: &'a Format,
}

/// Formats of the block tracepoints (optional as a pair).
pub struct BlockFormats<'a> {
    pub issue: &'a Format,
    pub complete: &'a Format,
}

/// Offsets for the scheduler programs; block fields are left at [`NO_FIELD`]
/// until [`with_block`] fills them.
pub fn sched_config(f: &SchedFormats<'_>, self_tgid: u32) -> Result<ProbeConfig, FormatError> {
    let pid = [4];
    Ok(ProbeConfig {
        self_tgid,
        switch_prev_pid: f.switch.field_sized("prev_pid", &pid)?.offset,
        switch_prev_state: f.switch.field_sized("prev_state", &[4, 8])?.offset,
        switch_prev_state_size: f.switch.field("prev_state")?.size,
        switch_next_pid: f.switch.field_sized("next_pid", &pid)?.offset,
        wakeup_pid: f.wakeup.field_sized("pid", &pid)?.offset,
        wakeup_new_pid: f.wakeup_new.field_sized("pid", &pid)?.offset,
        issue_dev: NO_FIELD,
        issue_sector: NO_FIELD,
        issue_bytes: NO_FIELD,
        issue_nr_sector: NO_FIELD,
        issue_rwbs: NO_FIELD,
        complete_dev: NO_FIELD,
        complete_sector: NO_FIELD,
        // Task state bits below 0x100; TASK_REPORT_MAX (0x100) marks preemption.
        runnable_mask: 0xff,
    })
}

/// Adds the block tracepoint offsets. `bytes` is used when present,
/// `nr_sector * 512` otherwise.
pub fn with_block(mut cfg: ProbeConfig, f: &BlockFormats<'_>) -> Result<ProbeConfig, FormatError> {
    cfg.issue_dev = f.issue.field_sized("dev", &[4])?.offset;
    cfg.issue_sector = f.issue.field_sized("sector", &[8])?.offset;
    cfg.issue_nr_sector = f.issue.field_sized("nr_sector", &[4])?.offset;
    cfg.issue_bytes = match f.issue.fields.get("bytes") {
        Some(b) if b.size == 4 => b.offset,
        _ => NO_FIELD,
    };
    let rwbs = f.issue.field("rwbs")?;
    // The programs read the first two bytes (op letter, maybe after `F`).
    if rwbs.size < 2 {
        return Err(FormatError::BadSize {
            tracepoint: f.issue.name.clone(),
            field: "rwbs".into(),
            size: 0,
            expected: "at least 2".into(),
        });
    }
    cfg.issue_rwbs = rwbs.offset;
    cfg.complete_dev = f.complete.field_sized("dev", &[4])?.offset;
    cfg.complete_sector = f.complete.field_sized("sector", &[8])?.offset;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(name: &str, fields: &[(&str, u32, u32)]) -> Format {
        let mut text = format!("name: {name}\nformat:\n");
        for (decl, off, size) in fields {
            text.push_str(&format!(
                "\tfield:{decl};\toffset:{off};\tsize:{size};\tsigned:1;\n"
            ));
        }
        Format::parse(&text).unwrap()
    }

    #[test]
    fn builds_config_from_formats() {
        let switch = fmt(
            "sched_switch",
            &[
                ("pid_t prev_pid", 24, 4),
                ("long prev_state", 32, 8),
                ("pid_t next_pid", 56, 4),
            ],
        );
        let wakeup = fmt("sched_wakeup", &[("pid_t pid", 24, 4)]);
        let new = fmt("sched_wakeup_new", &[("pid_t pid", 20, 4)]);
        let cfg = sched_config(
            &SchedFormats {
                switch: &switch,
                wakeup: &wakeup,
                wakeup_new: &new,
            },
            77,
        )
        .unwrap();
        assert_eq!(
            (cfg.self_tgid, cfg.switch_prev_pid, cfg.switch_prev_state),
            (77, 24, 32)
        );
        assert_eq!(
            (
                cfg.switch_prev_state_size,
                cfg.switch_next_pid,
                cfg.wakeup_new_pid
            ),
            (8, 56, 20)
        );
        assert_eq!(cfg.issue_dev, NO_FIELD);

        let issue = fmt(
            "block_rq_issue",
            &[
                ("dev_t dev", 8, 4),
                ("sector_t sector", 16, 8),
                ("unsigned int nr_sector", 24, 4),
                ("char rwbs[10]", 34, 10),
            ],
        );
        let complete = fmt(
            "block_rq_complete",
            &[("dev_t dev", 8, 4), ("sector_t sector", 16, 8)],
        );
        let cfg = with_block(
            cfg,
            &BlockFormats {
                issue: &issue,
                complete: &complete,
            },
        )
        .unwrap();
        assert_eq!(
            (cfg.issue_dev, cfg.issue_sector, cfg.issue_rwbs),
            (8, 16, 34)
        );
        assert_eq!(
            cfg.issue_bytes, NO_FIELD,
            "no bytes field: nr_sector is used"
        );
        assert_eq!(cfg.issue_nr_sector, 24);
        // wakeup_new's pid at 20 and no `bytes`: neither layout is the known one.
        assert!(!SCHED_SWITCH.direct_ok(&cfg) && !BLOCK_RQ_ISSUE.direct_ok(&cfg));
        let known = ProbeConfig::KNOWN;
        assert!(SCHED_WAKEUP.direct_ok(&known) && BLOCK_RQ_COMPLETE.direct_ok(&known));
        assert_eq!(
            BLOCK_RQ_ISSUE.program_for(BLOCK_RQ_ISSUE.direct_ok(&cfg)),
            "autosa_block_rq_issue_dyn"
        );
        assert_eq!(SCHED_SWITCH.program_for(true), "autosa_sched_switch");
        assert_eq!(
            SCHED_MIGRATE_TASK.program_for(false),
            "autosa_sched_migrate_task"
        );
    }

    #[test]
    fn a_32_bit_prev_state_is_accepted_and_others_refused() {
        let wakeup = fmt("sched_wakeup", &[("pid_t pid", 24, 4)]);
        let ok = fmt(
            "sched_switch",
            &[
                ("pid_t prev_pid", 24, 4),
                ("long prev_state", 28, 4),
                ("pid_t next_pid", 52, 4),
            ],
        );
        let cfg = sched_config(
            &SchedFormats {
                switch: &ok,
                wakeup: &wakeup,
                wakeup_new: &wakeup,
            },
            1,
        )
        .unwrap();
        assert_eq!(cfg.switch_prev_state_size, 4);
        let bad = fmt(
            "sched_switch",
            &[
                ("pid_t prev_pid", 24, 4),
                ("short prev_state", 28, 2),
                ("pid_t next_pid", 52, 4),
            ],
        );
        assert!(
            sched_config(
                &SchedFormats {
                    switch: &bad,
                    wakeup: &wakeup,
                    wakeup_new: &wakeup
                },
                1
            )
            .is_err()
        );
    }
}
