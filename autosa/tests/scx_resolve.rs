//! Which scheduler binaries autosa agrees to run.

#[path = "support/scx_fixture.rs"]
mod fixture;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::PathBuf;

use autosa::backend::scx::{ResolveError, ScxConfig, check_trusted, resolve_binary};
use fixture::{FAKE, bins};

fn config(dirs: Vec<PathBuf>) -> ScxConfig {
    ScxConfig {
        search_dirs: dirs,
        search_path: false,
        ..ScxConfig::default()
    }
}

fn reason_of(result: Result<PathBuf, ResolveError>) -> (PathBuf, String) {
    match result {
        Err(ResolveError::Insecure { path, reason }) => (path, reason),
        other => panic!("expected Insecure, got {other:?}"),
    }
}

#[test]
fn a_trusted_binary_resolves_to_its_canonical_path() {
    let b = bins();
    let path = resolve_binary(&config(vec![b.trusted.clone()]), "scx_fakeland").unwrap();
    assert_eq!(
        path,
        std::fs::canonicalize(b.trusted.join("scx_fakeland")).unwrap()
    );
}

#[test]
fn the_first_directory_holding_the_binary_wins_and_is_never_skipped() {
    let b = bins();
    let empty = tempfile::tempdir().unwrap();
    // Found in a trusted directory first: the insecure one after it is not looked at.
    let dirs = vec![
        empty.path().to_path_buf(),
        b.trusted.clone(),
        b.world_writable.clone(),
    ];
    assert!(resolve_binary(&config(dirs), "scx_fakeland").is_ok());
    // Found in an insecure directory first: refused, not skipped.
    let dirs = vec![b.world_writable.clone(), b.trusted.clone()];
    let (path, _) = reason_of(resolve_binary(&config(dirs), "scx_fakeland"));
    assert_eq!(path, b.world_writable);
}

#[test]
fn sticky_directories_are_allowed_above_but_not_as_the_binary_s_own() {
    let b = bins();
    assert!(check_trusted(&b.sticky.join("inner/scx_fakeland")).is_ok());
    let (path, reason) = reason_of(check_trusted(&b.sticky.join("scx_fakeland")));
    assert_eq!(path, b.sticky);
    assert!(reason.contains("1777"), "{reason}");
}

#[test]
fn symlinks_are_judged_by_their_target() {
    let b = bins();
    let links = tempfile::tempdir().unwrap();
    std::fs::set_permissions(links.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let good = links.path().join("scx_goodlink");
    symlink(b.trusted.join("scx_fakeland"), &good).unwrap();
    assert_eq!(
        check_trusted(&good).unwrap(),
        std::fs::canonicalize(b.trusted.join("scx_fakeland")).unwrap()
    );
    let bad = links.path().join("scx_badlink");
    symlink(b.world_writable.join("scx_fakeland"), &bad).unwrap();
    let (path, _) = reason_of(check_trusted(&bad));
    assert_eq!(path, std::fs::canonicalize(&b.world_writable).unwrap());
}

#[test]
fn files_that_are_not_executables_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let plain = dir.path().join("scx_plain");
    std::fs::copy(FAKE, &plain).unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(reason_of(check_trusted(&plain)).1, "not executable");
    std::fs::create_dir(dir.path().join("scx_dir")).unwrap();
    assert_eq!(
        reason_of(check_trusted(&dir.path().join("scx_dir"))).1,
        "not a regular file"
    );
}

#[test]
fn a_binary_owned_by_another_user_is_refused() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test needs root to chown a file (CI is set: failing instead of skipping)"
        );
        println!("skipped: needs root to give a file to another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("scx_nobodys");
    std::fs::copy(FAKE, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&bin, Some(65534), Some(65534)).unwrap();
    let (_, reason) = reason_of(check_trusted(&bin));
    assert_eq!(reason, "owned by uid 65534");
}

#[test]
fn path_is_searched_only_when_allowed() {
    let b = bins();
    // Only this test touches PATH in this test binary.
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![b.trusted.clone()];
    dirs.extend(std::env::split_paths(&old));
    let joined = std::env::join_paths(dirs).unwrap();
    // SAFETY: no other test in this binary reads or writes the environment.
    unsafe { std::env::set_var("PATH", &joined) };
    let off = resolve_binary(&config(vec![]), "scx_fakeland");
    let on = resolve_binary(
        &ScxConfig {
            search_dirs: vec![],
            search_path: true,
            ..ScxConfig::default()
        },
        "scx_fakeland",
    );
    unsafe { std::env::set_var("PATH", &old) };
    assert!(matches!(off, Err(ResolveError::NotFound { .. })), "{off:?}");
    assert!(on.is_ok(), "{on:?}");
}
