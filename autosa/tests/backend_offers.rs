//! What each backend offers to `autosa schedulers` and `autosa switch NAME`.

#[path = "support/scx_fixture.rs"]
mod fixture;

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::time::Duration;

use autosa::backend::Backend;
use autosa::backend::dry_run::DryRun;
use autosa::backend::mcp::{McpBackend, McpConfig};
use autosa::backend::scx::{ScxBackend, ScxConfig};
use fixture::{FAKE, FakeSys};
use tokio_util::sync::CancellationToken;

/// The fake scheduler installed as two catalogue schedulers.
fn installed(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for n in names {
        let to = dir.path().join(n);
        std::fs::copy(FAKE, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn scx(sys: &FakeSys, bins: &tempfile::TempDir, state: &tempfile::TempDir) -> ScxBackend {
    ScxBackend::new(
        ScxConfig {
            search_dirs: vec![bins.path().to_path_buf()],
            search_path: false,
            sys_root: sys.root().to_path_buf(),
            ..ScxConfig::default()
        },
        state.path(),
        CancellationToken::new(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scx_offers_the_installed_catalogue_schedulers() {
    let bins = installed(&["scx_rusty", "scx_lavd"]);
    let sys = FakeSys::new();
    let state = tempfile::tempdir().unwrap();
    let b = scx(&sys, &bins, &state);
    let o = b.offers();
    assert_eq!(o.backend, "scx");
    assert!(o.available, "{o:?}");
    assert_eq!(o.offers, vec!["scx_lavd", "scx_rusty"], "catalogue order");
    assert!(o.detail.starts_with("sched_ext state"), "{}", o.detail);
    assert!(
        o.detail.contains("scx_bpfland"),
        "what is missing is said: {}",
        o.detail
    );

    // Dry run offers the same, and says it changes nothing.
    let d = DryRun::new(scx(&sys, &bins, &state)).offers();
    assert_eq!(d.offers, o.offers);
    assert!(d.detail.starts_with("dry run"), "{}", d.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scx_without_sched_ext_is_unavailable() {
    let bins = installed(&["scx_lavd"]);
    let sys = FakeSys::without_sched_ext();
    let state = tempfile::tempdir().unwrap();
    let b = ScxBackend::new(
        ScxConfig {
            search_dirs: vec![bins.path().to_path_buf()],
            search_path: false,
            sys_root: sys.root().to_path_buf(),
            ..ScxConfig::default()
        },
        state.path(),
        CancellationToken::new(),
    )
    .unwrap();
    let o = b.offers();
    assert!(!o.available, "{o:?}");
    assert_eq!(
        o.offers,
        vec!["scx_lavd"],
        "installed, but nothing to run it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_offers_the_servers_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let b = McpBackend::new(
        McpConfig {
            command: PathBuf::from(env!("CARGO_BIN_EXE_autosa-fake-schedcp")),
            args: vec!["--sys-root".into(), sys.display().to_string()],
            call_timeout: Duration::from_secs(3),
            sys_root: sys,
            ..McpConfig::default()
        },
        &state,
    )
    .unwrap();
    let o = b.offers();
    assert_eq!(o.backend, "mcp");
    assert!(o.available);
    assert!(o.offers.iter().any(|s| s == "scx_nest"), "{o:?}");
    assert!(o.offers.iter().all(|s| s.starts_with("scx_")), "{o:?}");
}

#[test]
fn eevdf_offers_its_actions() {
    let dir = tempfile::tempdir().unwrap();
    let b = autosa::backend::eevdf::EevdfBackend::new(
        autosa::backend::eevdf::config::EevdfConfig::default(),
        dir.path().join("journal.json"),
    )
    .unwrap();
    let o = b.offers();
    assert_eq!(o.backend, "eevdf");
    let caps = b.describe_capabilities();
    let available: Vec<String> = caps
        .iter()
        .filter(|c| c.available)
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(o.offers, available);
    assert_eq!(o.available, !available.is_empty());
    for c in caps.iter().filter(|c| !c.available) {
        assert!(
            o.detail.contains(&c.name),
            "{} missing in {}",
            c.name,
            o.detail
        );
    }
}
