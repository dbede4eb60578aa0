//! Bench plots: every bench that has a picture worth showing saves its raw
//! results as JSON (`target/bench/<name>.json`) and renders PNGs into
//! `docs/img/` from them; `cargo xtask bench plot` re-renders every PNG from
//! the saved JSON without running anything.
//!
//! Each figure's module holds its data (serde), the pure transforms from data
//! to series (unit-tested) and the drawing (plotters, bitmap backend).

pub mod accuracy;
pub mod benefit;
pub mod chart;
pub mod eval;
pub mod footprint;
pub mod soak;
pub mod style;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where benches save their raw results, relative to the workspace.
pub const DATA_DIR: &str = "target/bench";
/// Where the PNGs go, relative to the workspace.
pub const IMG_DIR: &str = "docs/img";

#[derive(clap::Args)]
pub struct PlotArgs {
    /// Directory holding the benches' JSON (`<name>.json`).
    #[arg(long, default_value = DATA_DIR)]
    from: PathBuf,
    /// Directory the PNGs are written to.
    #[arg(long, default_value = IMG_DIR)]
    out: PathBuf,
}

/// A figure set: the JSON it is drawn from and how to draw it.
struct Figure {
    name: &'static str,
    /// The command that produces the JSON.
    command: &'static str,
    render: fn(&Path, &Path) -> anyhow::Result<Vec<PathBuf>>,
}

fn render_from<T: DeserializeOwned>(
    json: &Path,
    out: &Path,
    render: Render<T>,
) -> anyhow::Result<Vec<PathBuf>> {
    render(&load(json)?, out)
}

/// The figure set drawn by module `$m` from the JSON `command` saves.
macro_rules! figure {
    ($m:ident, $command:literal) => {
        Figure {
            name: $m::NAME,
            command: $command,
            render: |json, out| render_from(json, out, $m::render),
        }
    };
}

const FIGURES: [Figure; 5] = [
    figure!(benefit, "cargo xtask bench benefit"),
    figure!(accuracy, "cargo xtask bench accuracy"),
    figure!(footprint, "cargo xtask bench footprint"),
    figure!(eval, "cargo xtask eval"),
    figure!(soak, "cargo xtask soak"),
];

/// `cargo xtask bench plot`: every PNG from the JSON found in `--from`.
pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let root = crate::host::workspace_root();
    let (from, out) = (root.join(&args.from), root.join(&args.out));
    style::ensure_font()?;
    let mut rendered = 0;
    for f in &FIGURES {
        let json = from.join(format!("{}.json", f.name));
        if !json.exists() {
            println!("{}: no {} (run `{}`)", f.name, json.display(), f.command);
            continue;
        }
        for png in (f.render)(&json, &out).with_context(|| format!("rendering {}", f.name))? {
            println!("{}: {}", f.name, png.display());
            rendered += 1;
        }
    }
    if rendered == 0 {
        bail!(
            "no bench results in {}: run a bench first (their JSON is saved there)",
            from.display()
        );
    }
    Ok(())
}

/// Writes `data` as `<dir>/<name>.json`.
pub fn save<T: Serialize>(dir: &Path, name: &str, data: &T) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(data)?;
    fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    Ok(path.clone())
}

pub fn load<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Draws a figure set's PNGs into a directory; returns their paths.
pub type Render<T> = fn(&T, &Path) -> anyhow::Result<Vec<PathBuf>>;

/// What a bench does with its results: saves the JSON in the workspace's
/// `target/bench`, then renders its PNGs into `docs/img` (unless `render` is
/// false), and says where both went.
pub fn publish<T: Serialize>(
    name: &str,
    data: &T,
    render: Option<Render<T>>,
) -> anyhow::Result<()> {
    let root = crate::host::workspace_root();
    let json = save(&root.join(DATA_DIR), name, data)?;
    eprintln!("{name}: data saved to {}", json.display());
    if let Some(render) = render {
        for png in render(data, &root.join(IMG_DIR))? {
            eprintln!("{name}: plot written to {}", png.display());
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Shared by the figure modules' render tests.
    use std::path::Path;

    /// Whether the plots can be drawn here; without the font a render test
    /// is skipped with the reason, except under `CI`, where it fails.
    pub fn font_or_skip(test: &str) -> bool {
        match super::style::ensure_font() {
            Ok(()) => true,
            Err(e) if std::env::var_os("CI").is_some() => panic!("{test}: {e:#}"),
            Err(e) => {
                eprintln!("{test}: skipped: {e:#}");
                false
            }
        }
    }

    /// Width and height from a PNG's IHDR chunk; panics when `path` is not a PNG.
    pub fn png_size(path: &Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            bytes.len() > 33,
            "{} is too short for a PNG",
            path.display()
        );
        assert_eq!(
            &bytes[..8],
            b"\x89PNG\r\n\x1a\n",
            "{} is not a PNG",
            path.display()
        );
        assert_eq!(&bytes[12..16], b"IHDR", "{}: no IHDR first", path.display());
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&bytes[16..20]), be(&bytes[20..24]))
    }

    /// Renders `data` into a fresh directory and checks what was drawn: the
    /// files named in `pngs`, in that order, each of its size and not blank.
    pub fn assert_renders<T>(
        test: &str,
        render: super::Render<T>,
        data: &T,
        pngs: &[(&str, (u32, u32))],
    ) {
        if !font_or_skip(test) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let files = render(data, dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(dir.path()).unwrap())
            .collect();
        let expected: Vec<_> = pngs.iter().map(|p| Path::new(p.0)).collect();
        assert_eq!(names, expected, "{test}");
        for (file, (_, size)) in files.iter().zip(pngs) {
            assert_png(file, *size);
        }
    }

    /// The PNG exists, has the size asked for and is not a blank canvas.
    pub fn assert_png(path: &Path, size: (u32, u32)) {
        assert_eq!(png_size(path), size, "{}", path.display());
        let len = std::fs::metadata(path).unwrap().len();
        // A blank white canvas of these sizes compresses to a few KiB; text,
        // axes and series make it much larger.
        assert!(len > 10_000, "{}: only {len} bytes", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Demo {
        a: Vec<(u64, f64)>,
        b: Option<String>,
    }

    #[test]
    fn json_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let d = Demo {
            a: vec![(1, 0.5), (2, 1e-9)],
            b: None,
        };
        let path = save(dir.path(), "demo", &d).unwrap();
        assert_eq!(path, dir.path().join("demo.json"));
        assert_eq!(load::<Demo>(&path).unwrap(), d);
        let err = load::<Demo>(&dir.path().join("missing.json")).unwrap_err();
        assert!(format!("{err:#}").contains("missing.json"), "{err:#}");
    }

    #[test]
    fn bench_data_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let b = benefit::tests::fixture();
        let path = save(dir.path(), benefit::NAME, &b).unwrap();
        assert_eq!(load::<benefit::BenefitData>(&path).unwrap(), b);
        let e = eval::tests::fixture();
        let path = save(dir.path(), eval::NAME, &e).unwrap();
        assert_eq!(load::<eval::EvalData>(&path).unwrap(), e);
    }

    #[test]
    fn plot_rerenders_from_saved_json_only() {
        let dir = tempfile::tempdir().unwrap();
        let (from, out) = (dir.path().join("bench"), dir.path().join("img"));
        let args = || PlotArgs {
            from: from.clone(),
            out: out.clone(),
        };
        std::fs::create_dir_all(&from).unwrap();
        if testing::font_or_skip("plot_rerenders_from_saved_json_only") {
            let err = run(args()).unwrap_err();
            assert!(format!("{err:#}").contains("no bench results"), "{err:#}");
        }
        save(&from, eval::NAME, &eval::tests::fixture()).unwrap();
        if !testing::font_or_skip("plot_rerenders_from_saved_json_only") {
            return;
        }
        run(args()).unwrap();
        testing::assert_png(&out.join("eval-confusion.png"), eval::SIZE);
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    }

    #[test]
    fn every_figure_has_a_distinct_name() {
        let mut names: Vec<&str> = FIGURES.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FIGURES.len());
    }
}
