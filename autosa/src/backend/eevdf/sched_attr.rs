//! `sched_getattr(2)` / `sched_setattr(2)` for one thread, behind a trait so
//! the backend's logic is tested without touching real tasks.

use std::io;

use crate::backend::journal::TaskAttr;

pub const SCHED_OTHER: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;
pub const SCHED_BATCH: u32 = 3;
pub const SCHED_IDLE: u32 = 5;
pub const SCHED_DEADLINE: u32 = 6;
pub const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;

/// Read and write one thread's scheduling attributes.
pub trait TaskSched: Send {
    fn get(&self, tid: u32) -> io::Result<TaskAttr>;
    /// `runtime_ns` 0 means the kernel's default slice.
    fn set(&self, tid: u32, attr: &TaskAttr) -> io::Result<()>;
}

/// `struct sched_attr` up to `sched_period` (SCHED_ATTR_SIZE_VER0, 48 bytes):
/// the fields autosa reads and writes.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct SchedAttrV0 {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
}

const ATTR_SIZE: u32 = std::mem::size_of::<SchedAttrV0>() as u32;

/// The real system calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct Syscalls;

impl TaskSched for Syscalls {
    fn get(&self, tid: u32) -> io::Result<TaskAttr> {
        let mut attr = SchedAttrV0::default();
        // SAFETY: `attr` is a writable buffer of ATTR_SIZE bytes laid out as the
        // kernel's struct sched_attr (VER0); the kernel writes at most that much.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_sched_getattr,
                tid as libc::pid_t,
                &mut attr as *mut SchedAttrV0,
                ATTR_SIZE,
                0u32,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(TaskAttr {
            policy: attr.sched_policy,
            nice: attr.sched_nice,
            runtime_ns: attr.sched_runtime,
            flags: attr.sched_flags & SCHED_FLAG_RESET_ON_FORK,
        })
    }

    fn set(&self, tid: u32, attr: &TaskAttr) -> io::Result<()> {
        let raw = SchedAttrV0 {
            size: ATTR_SIZE,
            sched_policy: attr.policy,
            sched_flags: attr.flags & SCHED_FLAG_RESET_ON_FORK,
            sched_nice: attr.nice,
            sched_priority: 0,
            sched_runtime: attr.runtime_ns,
            sched_deadline: 0,
            sched_period: 0,
        };
        // SAFETY: `raw` is a valid struct sched_attr (VER0) with `size` set;
        // the kernel only reads it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_sched_setattr,
                tid as libc::pid_t,
                &raw as *const SchedAttrV0,
                0u32,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The fair-class policies autosa may change; real-time and deadline tasks
/// are never touched.
pub fn is_fair(policy: u32) -> bool {
    matches!(policy, SCHED_OTHER | SCHED_BATCH | SCHED_IDLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_has_the_kernel_ver0_size() {
        assert_eq!(ATTR_SIZE, 48);
    }

    #[test]
    fn reads_own_thread() {
        // Any thread may read its own attributes, without privileges.
        let tid = nix::unistd::gettid().as_raw() as u32;
        let attr = Syscalls.get(tid).unwrap();
        assert!(is_fair(attr.policy), "{attr:?}");
    }
}
