//! The load-time configuration global (see `autosa_common::config`).

use autosa_common::config::ProbeConfig;

/// Overwritten by userspace before load (`EbpfLoader::override_global`).
/// Non-zero initial value so it lands in `.rodata`; the verifier then treats
/// the fields as constants.
#[unsafe(no_mangle)]
static AUTOSA_PROBE_CONFIG: ProbeConfig = ProbeConfig::DEFAULT;

/// Reads one field without letting the compiler fold in the placeholder value.
macro_rules! probe_cfg {
    ($field:ident) => {
        unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!($crate::globals::probe_config().$field))
        }
    };
}
pub(crate) use probe_cfg;

#[inline(always)]
pub fn probe_config() -> &'static ProbeConfig {
    &AUTOSA_PROBE_CONFIG
}
