//! Tests that need root, tools or kernel features: skipped with a reason on
//! a developer's machine, failed under `CI` (where a skipped check would
//! hide a missing install step).

/// `missing` names what the machine lacks, if anything; true: run the test.
pub fn run_or_skip(test: &str, missing: Option<impl std::fmt::Display>) -> bool {
    match missing {
        None => true,
        Some(what) if std::env::var_os("CI").is_some() => {
            panic!("{test} needs {what} (CI is set, so this fails instead of skipping)")
        }
        Some(what) => {
            eprintln!("skipping {test}: needs {what}");
            false
        }
    }
}
