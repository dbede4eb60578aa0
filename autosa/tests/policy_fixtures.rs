//! Recordings of real labelled workloads on the 2-CPU development VM, replayed
//! through the policy engine: each must be classified as its label (the file
//! name) for at least 80 % of the intervals after the warm-up.

use std::path::Path;

use autosa::policy::{PolicyConfig, WorkloadClass};
use autosa::record::RecordingReader;
use autosa::replay::replay;

const WARMUP: usize = 5;

fn label(path: &Path) -> WorkloadClass {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    WorkloadClass::ALL
        .into_iter()
        .find(|c| c.as_str() == stem)
        .unwrap_or_else(|| panic!("{}: file name is not a class", path.display()))
}

fn recordings(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(recordings(&path));
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn recorded_workloads_are_classified_as_labelled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings");
    let files = recordings(&dir);
    assert!(!files.is_empty(), "no recordings under {}", dir.display());
    let mut failures = Vec::new();
    for path in &files {
        let truth = label(path);
        let steps = replay(
            RecordingReader::open(path).unwrap(),
            &PolicyConfig::default(),
        )
        .unwrap();
        assert!(steps.len() > WARMUP + 5, "{}: too short", path.display());
        let scored = &steps[WARMUP..];
        let right = scored.iter().filter(|s| s.class == truth).count();
        let share = right as f64 / scored.len() as f64;
        println!("{}: {right}/{} {truth}", path.display(), scored.len());
        if share < 0.8 {
            failures.push(format!(
                "{}: {right}/{} intervals {truth}",
                path.display(),
                scored.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
