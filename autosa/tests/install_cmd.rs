//! `autosa install --root DIR` into a temp root: binary, unit, drop-in and
//! default configuration land where systemd and autosa look for them; an
//! existing configuration is kept byte for byte; `--dry-run` writes nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn install(root: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_autosa"))
        .arg("install")
        .arg("--root")
        .arg(root)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "install failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn installs_everything_into_a_root() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let out = install(r, &["--sched-ext", "yes"]);
    assert!(
        out.contains("systemctl daemon-reload && systemctl enable --now autosa"),
        "{out}"
    );

    let bin = r.join("usr/local/bin/autosa");
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_autosa")).unwrap()
    );
    let unit = std::fs::read_to_string(r.join("etc/systemd/system/autosa.service")).unwrap();
    assert_eq!(unit, include_str!("../../contrib/autosa.service"));
    assert_eq!(mode(&r.join("etc/systemd/system/autosa.service")), 0o644);
    let dropin = r.join("etc/systemd/system/autosa.service.d/sched-ext.conf");
    assert!(
        std::fs::read_to_string(dropin)
            .unwrap()
            .contains("CAP_SYS_ADMIN")
    );

    // The default configuration is valid and is what `config default` prints.
    let cfg = r.join("etc/autosa/autosa.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    autosa::config::Config::parse(&text, &cfg).unwrap();
    assert_eq!(text, autosa::config::Config::default_toml());
    let installed = Command::new(&bin)
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(installed.status.success(), "the installed binary runs");
}

#[test]
fn an_existing_config_is_never_overwritten() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let cfg = r.join("etc/autosa/autosa.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    let mine = "# the admin's\n[collect]\ninterval = \"2s\"\n";
    std::fs::write(&cfg, mine).unwrap();
    let out = install(r, &["--sched-ext", "no"]);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), mine);
    assert!(
        out.contains("keep the existing configuration") && out.contains("(valid)"),
        "{out}"
    );
    assert!(!r.join("etc/systemd/system/autosa.service.d").exists());

    // A broken one is kept too, and the admin is told.
    std::fs::write(&cfg, "[collect]\nintervall = 1\n").unwrap();
    let out = install(r, &["--sched-ext", "no"]);
    assert!(out.contains("NOT valid") && out.contains(":2:1:"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "[collect]\nintervall = 1\n"
    );
}

#[test]
fn prefix_moves_the_binary_and_execstart() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    install(r, &["--prefix", "/opt/autosa", "--sched-ext", "no"]);
    assert!(r.join("opt/autosa/bin/autosa").is_file());
    let unit = std::fs::read_to_string(r.join("etc/systemd/system/autosa.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/opt/autosa/bin/autosa run\n"),
        "{unit}"
    );
}

#[test]
fn dry_run_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let out = install(root.path(), &["--dry-run", "--sched-ext", "yes"]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("would ")).count(),
        4,
        "{out}"
    );
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}
