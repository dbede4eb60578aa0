//! From a scheduler name and its arguments to something safe to execve:
//! names and arguments are checked character by character (no shell is ever
//! used, but a scheduler's argument parser is not ours to trust either), and
//! the binary must sit where only root (or autosa's own user) can write.

use std::io;
use std::path::{Path, PathBuf};

use super::config::ScxConfig;

/// Longest argument list and argument accepted.
const MAX_ARGS: usize = 64;
const MAX_ARG_LEN: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "invalid scheduler name {name:?}: {reason}; expected `scx_` followed by lowercase letters, digits or `_`, e.g. scx_lavd"
    )]
    InvalidName { name: String, reason: &'static str },
    #[error("invalid scheduler argument #{index} {arg:?}: {reason}")]
    InvalidArg {
        index: usize,
        arg: String,
        reason: String,
    },
    #[error(
        "scheduler {name} not found in {}; install it (e.g. `cargo install --locked {name}`) into one of them or add its directory to scx.search_dirs",
        display_dirs(.searched)
    )]
    NotFound {
        name: String,
        searched: Vec<PathBuf>,
    },
    #[error(
        "refusing to run {}: {reason}; make it owned by root and not writable by group or others (chown root; chmod go-w)",
        path.display()
    )]
    Insecure { path: PathBuf, reason: String },
    #[error("cannot inspect {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    list.join(", ")
}

/// Checks a scheduler name: `scx_` and then `[a-z0-9_]`, at most 15 bytes
/// in all so it is also the process's full `comm`.
pub fn validate_name(name: &str) -> Result<(), ResolveError> {
    let invalid = |reason| ResolveError::InvalidName {
        name: name.to_string(),
        reason,
    };
    let Some(rest) = name.strip_prefix("scx_") else {
        return Err(invalid("does not start with `scx_`"));
    };
    if rest.is_empty() {
        return Err(invalid("nothing follows `scx_`"));
    }
    if name.len() > 15 {
        return Err(invalid("longer than 15 bytes"));
    }
    if !rest
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(invalid("contains a character other than a-z, 0-9 or `_`"));
    }
    Ok(())
}

/// Checks scheduler arguments. They go straight to execve, so there is no
/// quoting to escape; still only plain option text is let through: letters,
/// digits and `-_.,:=+/@%`, which covers flags, numbers, CPU lists, masks
/// and paths, and refuses control characters, spaces, quotes and globs that
/// would only mean a mistake (or an attempt) upstream.
pub fn validate_args(args: &[String]) -> Result<(), ResolveError> {
    if args.len() > MAX_ARGS {
        return Err(ResolveError::InvalidArg {
            index: MAX_ARGS,
            arg: String::new(),
            reason: format!("more than {MAX_ARGS} arguments"),
        });
    }
    for (index, arg) in args.iter().enumerate() {
        let invalid = |reason: String| ResolveError::InvalidArg {
            index,
            arg: arg.clone(),
            reason,
        };
        if arg.is_empty() {
            return Err(invalid("empty".into()));
        }
        if arg.len() > MAX_ARG_LEN {
            return Err(invalid(format!("longer than {MAX_ARG_LEN} bytes")));
        }
        if let Some(bad) = arg.chars().find(|&c| !is_plain(c)) {
            return Err(invalid(format!(
                "character {bad:?} is not allowed (only letters, digits and -_.,:=+/@%)"
            )));
        }
    }
    Ok(())
}

fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.,:=+/@%".contains(c)
}

/// Finds `name` in the configured directories (then `$PATH` if allowed) and
/// returns its canonical path once it and every directory above it passed
/// [`check_trusted`]. A binary found but refused is an error: falling through
/// to the next directory would hide the problem.
pub fn resolve_binary(config: &ScxConfig, name: &str) -> Result<PathBuf, ResolveError> {
    validate_name(name)?;
    let mut dirs = config.search_dirs.clone();
    if config.search_path {
        let path = std::env::var_os("PATH").unwrap_or_default();
        // Relative PATH entries depend on the working directory: never.
        dirs.extend(std::env::split_paths(&path).filter(|d| d.is_absolute()));
    }
    for dir in &dirs {
        let candidate = dir.join(name);
        match std::fs::symlink_metadata(&candidate) {
            Ok(_) => return check_trusted(&candidate),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(ResolveError::Io {
                    path: candidate,
                    source,
                });
            }
        }
    }
    Err(ResolveError::NotFound {
        name: name.to_string(),
        searched: dirs,
    })
}

/// Follows symlinks, then checks the binary (a regular executable file,
/// owned by root or autosa's own user, not group/world-writable) and every
/// directory above it (see [`crate::trust::check`]). Returns the canonical
/// path, which is what gets executed, so a symlink swapped afterwards
/// changes nothing.
pub fn check_trusted(path: &Path) -> Result<PathBuf, ResolveError> {
    crate::trust::check(path, crate::trust::Kind::Executable).map_err(|e| match e {
        crate::trust::TrustError::Insecure { path, reason } => {
            ResolveError::Insecure { path, reason }
        }
        crate::trust::TrustError::Io { path, source } => ResolveError::Io { path, source },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("scx_lavd").is_ok());
        assert!(validate_name("scx_p2dq").is_ok());
        assert!(validate_name("lavd").is_err());
        assert!(validate_name("scx_").is_err());
        assert!(validate_name("scx_../bin/sh").is_err());
        assert!(validate_name("scx_Lavd").is_err());
        assert!(validate_name("scx_waytoolongname").is_err());
    }

    #[test]
    fn plain_arguments_pass() {
        let args: Vec<String> = [
            "--slice-us",
            "5000",
            "-m",
            "performance",
            "--primary-domain",
        ]
        .iter()
        .chain(&["0x3", "0-3,5", "f:/etc/scx/layered.json", "-v"])
        .map(|s| s.to_string())
        .collect();
        assert!(validate_args(&args).is_ok());
    }

    #[test]
    fn non_plain_arguments_fail_with_their_index() {
        for bad in ["a b", "x;rm", "$(id)", "`id`", "a\nb", "", "\0", "é", "*"] {
            let args = vec!["-v".to_string(), bad.to_string()];
            match validate_args(&args) {
                Err(ResolveError::InvalidArg { index: 1, .. }) => {}
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let many = vec!["-v".to_string(); MAX_ARGS + 1];
        assert!(validate_args(&many).is_err());
        assert!(validate_args(&["x".repeat(MAX_ARG_LEN + 1)]).is_err());
    }
}
