//! Drawing one frame of `autosa top` from a [`TopModel`] and a [`UiState`].
//! Pure: nothing here reads a clock, a file or the terminal, so every pane is
//! tested on ratatui's `TestBackend`.
//!
//! Layout (80×24 and up): title bar; class and reasons | load, memory, PSI;
//! per-CPU bars | latency histogram; processes | switch timeline; key line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::model::{TopModel, sorted_tasks};
use super::state::{Pane, UiState};
use crate::model::Snapshot;
use crate::model::snapshot::{LatencyHistogram, PsiResource};
use crate::view::histogram::{Log2Row, log2_rows};
use crate::view::units::{bytes, duration_ns, utc};

const FOCUS: Color = Color::Yellow;
const BAR: Color = Color::Cyan;

/// Draws the whole screen.
pub fn draw(f: &mut Frame, m: &TopModel, ui: &UiState) {
    let [title, top, middle, bottom, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(8),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    title_bar(f, title, m, ui);

    let [class, system] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    class_pane(f, class, m);
    system_pane(f, system, m);

    let [cpus, hist] =
        Layout::horizontal([Constraint::Percentage(35), Constraint::Percentage(65)]).areas(middle);
    cpu_pane(f, cpus, m);
    histogram_pane(f, hist, m, ui);

    let [procs, timeline] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(bottom);
    process_pane(f, procs, m, ui);
    timeline_pane(f, timeline, m, ui);

    let bottom = match &m.error {
        Some(e) => Paragraph::new(format!(" error: {e}")).style(Style::default().fg(Color::Red)),
        None => {
            Paragraph::new(" q quit  p pause  tab pane  ←/→ histogram/sort  ↑/↓ scroll  ? help")
                .style(Style::default().add_modifier(Modifier::DIM))
        }
    };
    f.render_widget(bottom, keys);
    if ui.help {
        help(f, f.area());
    }
}

fn block(title: impl Into<Line<'static>>, focused: bool) -> Block<'static> {
    let b = Block::bordered().title(title);
    if focused {
        b.border_style(Style::default().fg(FOCUS))
    } else {
        b
    }
}

fn title_bar(f: &mut Frame, area: Rect, m: &TopModel, ui: &UiState) {
    let mut spans = vec![
        Span::styled(
            " autosa top ",
            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
        Span::raw(format!(" {} ", m.source)),
    ];
    // Most important first: the right end is cut on narrow terminals.
    if ui.paused {
        spans.push(Span::styled(
            " PAUSED ",
            Style::default().fg(Color::Black).bg(FOCUS),
        ));
        spans.push(Span::raw(" "));
    }
    if m.error.is_some() {
        // The sentence itself is on the bottom line, which has room for it.
        spans.push(Span::styled("ERROR ", Style::default().fg(Color::Red)));
    } else if let Some(n) = &m.note {
        spans.push(Span::styled(
            format!("({n}) "),
            Style::default().fg(Color::Magenta),
        ));
    }
    if let Some(s) = &m.feed.snapshot {
        let time = utc(s.time_unix_ms);
        spans.push(Span::raw(format!(
            "· {} UTC · every {} ",
            time.get(11..).unwrap_or(&time),
            duration_ns(m.interval_ms.saturating_mul(1_000_000))
        )));
    } else {
        spans.push(Span::raw("· waiting for the first interval… "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn class_pane(f: &mut Frame, area: Rect, m: &TopModel) {
    let Some(c) = &m.feed.class else {
        f.render_widget(
            Paragraph::new("no classification yet").block(block("Class", false)),
            area,
        );
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(
            c.class.as_str(),
            Style::default().fg(FOCUS).add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("  confidence {:.0}%", c.confidence * 100.0)),
    ])];
    lines.extend(c.reasons.iter().map(|r| Line::from(format!("• {r}"))));
    lines.extend(
        c.details
            .iter()
            .map(|d| Line::styled(d.clone(), Style::default().add_modifier(Modifier::DIM))),
    );
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(block("Class", false)),
        area,
    );
}

fn psi_row(name: &str, r: &PsiResource) -> Row<'static> {
    let full = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}%"));
    Row::new(vec![
        Cell::from(name.to_owned()),
        Cell::from(format!("{:.1}%", r.some.avg10)),
        Cell::from(full(r.full.map(|f| f.avg10))),
        Cell::from(format!("{:.1}%", r.some.stall_fraction * 100.0)),
        Cell::from(full(r.full.map(|f| f.stall_fraction * 100.0))),
    ])
}

fn system_pane(f: &mut Frame, area: Rect, m: &TopModel) {
    let b = block("System", false);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(s) = &m.feed.snapshot else {
        return;
    };
    let [text, psi] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(inner);
    let mem = &s.memory;
    let used = mem.total_bytes.saturating_sub(mem.available_bytes);
    f.render_widget(
        Paragraph::new(vec![
            Line::from(format!(
                "load {:.2} {:.2} {:.2}  run {} blk {}",
                s.load.load1,
                s.load.load5,
                s.load.load15,
                s.load.procs_running,
                s.load.procs_blocked
            )),
            Line::from(format!(
                "mem {} / {}  swap {}",
                bytes(used as f64),
                bytes(mem.total_bytes as f64),
                bytes(mem.swap_total_bytes.saturating_sub(mem.swap_free_bytes) as f64)
            )),
        ]),
        text,
    );
    let Some(p) = &s.psi else {
        f.render_widget(Paragraph::new("PSI: not available"), psi);
        return;
    };
    let header = Row::new(["PSI", "some10", "full10", "some", "full"])
        .style(Style::default().add_modifier(Modifier::BOLD));
    let table = Table::new(
        [
            psi_row("cpu", &p.cpu),
            psi_row("io", &p.io),
            psi_row("mem", &p.memory),
        ],
        [
            Constraint::Length(4),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
        ],
    )
    .header(header);
    f.render_widget(table, psi);
}

/// `cpu3 ████     │  52% p99 1.2ms` scaled to `width` cells (`extra` after the percentage).
fn load_bar(label: &str, busy: f64, extra: &str, width: usize) -> Line<'static> {
    let pct = format!("{:>4.0}%{extra}", busy * 100.0);
    let bar_w = width.saturating_sub(label.chars().count() + pct.chars().count() + 2);
    let filled = ((busy.clamp(0.0, 1.0) * bar_w as f64).round() as usize).min(bar_w);
    Line::from(vec![
        Span::raw(format!("{label} ")),
        Span::styled("█".repeat(filled), Style::default().fg(BAR)),
        Span::raw(format!("{}│", " ".repeat(bar_w - filled))),
        Span::raw(pct),
    ])
}

/// Narrowest useful column: label, a few bar cells, the percentage.
const MIN_CPU_COL: usize = 16;

fn cpu_pane(f: &mut Frame, area: Rect, m: &TopModel) {
    let b = block("CPU", false);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(s) = &m.feed.snapshot else {
        return;
    };
    let width = usize::from(inner.width);
    let rows = usize::from(inner.height).saturating_sub(1).max(1);
    let cpus = &s.cpu.per_cpu;
    let label_w = format!("cpu{}", cpus.len().saturating_sub(1)).len();
    // Several columns when the CPUs do not fit one under the other, as many as fit.
    let max_cols = (width / MIN_CPU_COL).max(1);
    let cols = cpus.len().div_ceil(rows).clamp(1, max_cols);
    let col_w = width / cols;
    // The per-CPU run-queue p99 from eBPF, when a column has room for it.
    let p99 = |i: usize| -> String {
        let per_cpu = s.sched.as_ref().map(|x| &x.per_cpu[..]).unwrap_or(&[]);
        match per_cpu.iter().find(|c| c.cpu as usize == i) {
            Some(c) if col_w >= 30 && c.runq_count > 0 => {
                format!(" p99 {:>6}", duration_ns(c.runq_p99_ns))
            }
            _ => String::new(),
        }
    };
    let mut lines = vec![load_bar(
        &format!("{:<label_w$}", "all"),
        s.cpu.total.busy(),
        "",
        width,
    )];
    for r in 0..rows.min(cpus.len()) {
        let mut spans = Vec::new();
        for c in 0..cols {
            let i = c * rows + r;
            if let Some(t) = cpus.get(i) {
                let label = format!("{:<label_w$}", format!("cpu{i}"));
                // One cell between columns.
                let w = if c + 1 < cols { col_w - 1 } else { col_w };
                spans.extend(load_bar(&label, t.busy(), &p99(i), w).spans);
                spans.push(Span::raw(" "));
            }
        }
        lines.push(Line::from(spans));
    }
    let shown = (rows * cols).min(cpus.len());
    if shown < cpus.len() {
        // The last row gives its place to the count of what is not shown.
        let hidden = cpus.len() - shown + cols;
        if let Some(last) = lines.last_mut() {
            *last = Line::from(format!("… {hidden} more CPUs"));
        }
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// The histograms a snapshot has: run-queue, slice, then block I/O per device and direction.
pub fn histograms(s: &Snapshot) -> Vec<(String, &LatencyHistogram)> {
    let mut v = Vec::new();
    if let Some(sched) = &s.sched {
        v.push(("run-queue latency".to_owned(), &sched.runq_latency));
        v.push(("time slice".to_owned(), &sched.slice));
    }
    for b in &s.block_latency {
        let dev = if b.name.is_empty() { &b.dev } else { &b.name };
        v.push((format!("block I/O {dev} {}", b.op.as_str()), &b.latency));
    }
    v
}

/// The `n` consecutive rows holding the most events (the whole range when it fits).
fn busiest_window(rows: &[Log2Row], n: usize) -> &[Log2Row] {
    if n == 0 {
        return &[];
    }
    if rows.len() <= n {
        return rows;
    }
    let best = (0..=rows.len() - n)
        .max_by_key(|&i| {
            // Earliest window wins a tie.
            let sum: u64 = rows[i..i + n].iter().map(|r| r.count).sum();
            (sum, std::cmp::Reverse(i))
        })
        .unwrap_or(0);
    &rows[best..best + n]
}

fn histogram_pane(f: &mut Frame, area: Rect, m: &TopModel, ui: &UiState) {
    let focused = ui.focus == Pane::Histogram;
    let Some(s) = &m.feed.snapshot else {
        f.render_widget(block("Latency", focused), area);
        return;
    };
    let all = histograms(s);
    if all.is_empty() {
        procfs_pane(f, area, s, focused);
        return;
    }
    let i = ui.histogram % all.len();
    let (name, h) = &all[i];
    let b = block(format!(" {name} ({}/{}) ◂▸ ", i + 1, all.len()), focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let mean = h.sum_ns.checked_div(h.count).unwrap_or(0);
    let mut lines = vec![Line::from(format!(
        "n {}  mean {}  p50 {}  p99 {}",
        h.count,
        duration_ns(mean),
        duration_ns(h.p50_ns),
        duration_ns(h.p99_ns)
    ))];
    if let Some(x) = &s.sched {
        lines.push(Line::styled(
            format!(
                "wakeups {:.0}/s  switches {:.0}/s ({:.0} invol)  migr {:.0}/s",
                x.wakeups_per_sec,
                x.switches_voluntary_per_sec + x.switches_involuntary_per_sec,
                x.switches_involuntary_per_sec,
                x.migrations_per_sec
            ),
            Style::default().add_modifier(Modifier::DIM),
        ));
    }
    let rows = log2_rows(h);
    if rows.is_empty() {
        lines.push(Line::from("(no events this interval)"));
    }
    let shown = busiest_window(&rows, usize::from(inner.height).saturating_sub(lines.len()));
    let max = shown.iter().map(|r| r.count).max().unwrap_or(1).max(1);
    let count_w = shown
        .iter()
        .map(|r| r.count.to_string().len())
        .max()
        .unwrap_or(1);
    let bar_w = usize::from(inner.width).saturating_sub(8 + 3 + count_w + 1);
    for r in shown {
        // Rounded up: a non-empty row always shows a bar.
        let len = (r.count as u128 * bar_w as u128).div_ceil(max as u128) as usize;
        lines.push(Line::from(vec![
            Span::raw(format!("{:>8} │", format!("≥{}", duration_ns(r.low)))),
            Span::styled("█".repeat(len), Style::default().fg(BAR)),
            Span::raw(format!("{} {:>count_w$}", " ".repeat(bar_w - len), r.count)),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// Without eBPF: what procfs says about scheduling and disks.
fn procfs_pane(f: &mut Frame, area: Rect, s: &Snapshot, focused: bool) {
    let mut lines = vec![
        Line::styled(
            "no latency histograms: eBPF is off (run as root)",
            Style::default().add_modifier(Modifier::DIM),
        ),
        Line::from(format!(
            "context switches {:.0}/s  forks {:.1}/s",
            s.cpu.context_switches_per_sec, s.cpu.forks_per_sec
        )),
        Line::from(format!(
            "iowait {:.1}%  runnable {}  tasks {}",
            s.cpu.total.iowait * 100.0,
            s.load.procs_running,
            s.load.total_tasks
        )),
    ];
    for d in &s.disks {
        lines.push(Line::from(format!(
            "{:<8} r {:.0}/s  w {:.0}/s  util {:.0}%  queue {:.2}",
            d.name,
            d.read_iops,
            d.write_iops,
            d.utilization * 100.0,
            d.avg_queue_depth
        )));
    }
    f.render_widget(
        Paragraph::new(lines).block(block(" procfs ", focused)),
        area,
    );
}

fn process_pane(f: &mut Frame, area: Rect, m: &TopModel, ui: &UiState) {
    let focused = ui.focus == Pane::Processes;
    let b = block(format!(" Processes by {} ◂▸ ", ui.sort.label()), focused);
    let tasks = m
        .feed
        .snapshot
        .as_ref()
        .map(|s| &s.tasks[..])
        .unwrap_or(&[]);
    if tasks.is_empty() {
        let why = match &m.feed.snapshot {
            Some(s) if s.sched.is_none() => "per-process waits need eBPF (run as root)",
            _ => "no process data yet",
        };
        f.render_widget(Paragraph::new(why).block(b), area);
        return;
    }
    let wide = area.width >= 70;
    let mut header = vec!["PID", "COMMAND", "CPU%", "WAIT", "MAX"];
    let mut widths = vec![
        Constraint::Length(7),
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    if wide {
        header.extend(["WAKE/s", "SLICE"]);
        widths.extend([Constraint::Length(7), Constraint::Length(7)]);
    }
    let sorted = sorted_tasks(tasks, ui.sort);
    let skip = ui.process_scroll.min(sorted.len().saturating_sub(1));
    let rows = sorted.into_iter().skip(skip).map(|t| {
        let mut cells = vec![
            t.tgid.to_string(),
            t.comm.clone(),
            format!("{:.0}", t.cpu_fraction * 100.0),
            duration_ns(t.runq_delay_total_ns),
            duration_ns(t.runq_delay_max_ns),
        ];
        if wide {
            cells.push(format!("{:.0}", t.wakeups_per_sec));
            cells.push(duration_ns(t.avg_slice_ns));
        }
        Row::new(cells)
    });
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(b);
    f.render_widget(table, area);
}

fn timeline_pane(f: &mut Frame, area: Rect, m: &TopModel, ui: &UiState) {
    let focused = ui.focus == Pane::Timeline;
    let b = block(" Timeline ", focused);
    let entries = &m.feed.timeline;
    if entries.is_empty() {
        f.render_widget(Paragraph::new("no decisions yet").block(b), area);
        return;
    }
    // Newest first.
    let skip = ui.timeline_scroll.min(entries.len().saturating_sub(1));
    let lines: Vec<Line> = entries
        .iter()
        .rev()
        .skip(skip)
        .flat_map(|e| {
            let time = utc(e.time_unix_ms);
            let hms = time.get(11..).unwrap_or(&time).to_owned();
            let mut v = vec![Line::from(vec![
                Span::styled(hms, Style::default().add_modifier(Modifier::DIM)),
                Span::styled(
                    format!(" {} ", e.kind),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(e.what.clone()),
            ])];
            if !e.why.is_empty() {
                v.push(Line::styled(
                    format!("  {}", e.why),
                    Style::default().add_modifier(Modifier::DIM),
                ));
            }
            v
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(b),
        area,
    );
}

fn help(f: &mut Frame, area: Rect) {
    let w = area.width.min(60);
    let h = area.height.min(14);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let text = vec![
        Line::from("q, Esc, Ctrl-C   quit (Esc closes this help)"),
        Line::from("p, space         pause / resume updates"),
        Line::from("tab, shift-tab   next / previous pane"),
        Line::from("←/→              histogram pane: next histogram"),
        Line::from("                 process pane: sort key"),
        Line::from("s                sort processes by the next key"),
        Line::from("↑/↓              scroll processes or timeline"),
        Line::from("?                this help"),
        Line::from(""),
        Line::from("Class and reasons come from the daemon when it runs,"),
        Line::from("else from autosa's policy engine in this process."),
    ];
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(text).block(block(" Help ", true)), r);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::IoOp;
    use crate::model::snapshot::{
        BlockLatencyView, CpuTimes, CpuView, PsiLine, PsiView, SchedView, TaskView,
    };
    use crate::policy::plan::WorkloadClass;
    use crate::tui::model::{ClassInfo, Feed, TimelineEntry};
    use crate::tui::state::UiState;
    use autosa_common::hist::{BUCKETS, bucket_of};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn hist_of(values: &[u64]) -> LatencyHistogram {
        let mut c = vec![0u64; BUCKETS];
        for &v in values {
            c[bucket_of(v)] += 1;
        }
        crate::model::hist::build(&c, values.iter().sum())
    }

    fn task(tgid: u32, comm: &str, wait: u64) -> TaskView {
        TaskView {
            tgid,
            comm: comm.into(),
            cpu_fraction: 0.5,
            runq_count: 10,
            runq_delay_total_ns: wait,
            runq_delay_max_ns: wait / 2,
            ..TaskView::default()
        }
    }

    fn snapshot(with_sched: bool) -> Snapshot {
        let busy = |b: f64| CpuTimes {
            user: b,
            idle: 1.0 - b,
            ..CpuTimes::default()
        };
        Snapshot {
            time_unix_ms: 1_700_000_000_000,
            interval_ms: 1000,
            cpu: CpuView {
                nr_cpus: 2,
                total: busy(0.75),
                per_cpu: vec![busy(1.0), busy(0.5)],
                ..CpuView::default()
            },
            psi: Some(PsiView {
                cpu: PsiResource {
                    some: PsiLine {
                        avg10: 42.5,
                        ..PsiLine::default()
                    },
                    full: None,
                },
                ..PsiView::default()
            }),
            sched: with_sched.then(|| SchedView {
                runq_latency: hist_of(
                    &[3000; 50]
                        .iter()
                        .copied()
                        .chain([70_000])
                        .collect::<Vec<_>>(),
                ),
                slice: hist_of(&[1_000_000]),
                ..SchedView::default()
            }),
            block_latency: if with_sched {
                vec![BlockLatencyView {
                    name: "vda".into(),
                    op: IoOp::Write,
                    latency: hist_of(&[200_000]),
                    ..BlockLatencyView::default()
                }]
            } else {
                Vec::new()
            },
            tasks: if with_sched {
                vec![
                    task(101, "stress-ng", 5_000_000),
                    task(202, "redis-server", 9_000_000),
                ]
            } else {
                Vec::new()
            },
            ..Snapshot::default()
        }
    }

    fn model(with_sched: bool) -> TopModel {
        let mut m = TopModel::new("standalone · eBPF", None, 1000);
        m.apply(Ok(Feed {
            snapshot: Some(snapshot(with_sched)),
            class: Some(ClassInfo {
                class: WorkloadClass::Mixed,
                confidence: 0.82,
                reasons: vec!["redis-server waits 9 ms on the run queue".into()],
                details: vec!["would run scx_lavd".into()],
            }),
            timeline: vec![TimelineEntry {
                time_unix_ms: 1_700_000_000_000,
                kind: "switch",
                what: "default → mixed".into(),
                why: "stable for 5 intervals".into(),
            }],
        }));
        m
    }

    fn screen(m: &TopModel, ui: &UiState, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw(f, m, ui)).unwrap();
        let buf = t.backend().buffer();
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    + "\n"
            })
            .collect()
    }

    #[test]
    fn draws_class_reasons_histogram_processes_and_timeline() {
        let s = screen(&model(true), &UiState::default(), 120, 40);
        for want in [
            "autosa top",
            "standalone · eBPF",
            "mixed",
            "confidence 82%",
            "redis-server waits 9 ms",
            "would run scx_lavd",
            "run-queue latency (1/3)",
            "≥2.05us",
            "stress-ng",
            "redis-server",
            "default → mixed",
            "stable for 5 intervals",
            "42.5%",
            "cpu1",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        // The fullest histogram row has a full-width bar, a rarer one a short bar.
        assert!(s.contains(&"█".repeat(20)), "{s}");
    }

    #[test]
    fn processes_are_sorted_by_wait_by_default() {
        let s = screen(&model(true), &UiState::default(), 120, 40);
        let redis = s.find("redis-server  ").or_else(|| s.rfind("redis-server"));
        let stress = s.find("stress-ng");
        assert!(redis.unwrap() < stress.unwrap(), "{s}");
    }

    #[test]
    fn arrows_choose_the_histogram() {
        let ui = UiState {
            histogram: 2,
            ..UiState::default()
        };
        let s = screen(&model(true), &ui, 120, 40);
        assert!(s.contains("block I/O vda write (3/3)"), "{s}");
    }

    #[test]
    fn without_ebpf_procfs_panes_explain_why() {
        let s = screen(&model(false), &UiState::default(), 80, 24);
        assert!(s.contains("eBPF is off"), "{s}");
        assert!(s.contains("per-process waits need eBPF"), "{s}");
        assert!(s.contains("mixed"), "{s}");
    }

    #[test]
    fn fits_80x24_and_shows_pause_error_and_help() {
        let mut m = model(true);
        m.error = Some("daemon gone".into());
        let ui = UiState {
            paused: true,
            ..UiState::default()
        };
        let s = screen(&m, &ui, 80, 24);
        assert!(s.contains("PAUSED"), "{s}");
        assert!(s.contains("error: daemon gone"), "{s}");
        assert!(s.contains("mixed"), "{s}");
        assert!(s.contains("run-queue latency"), "{s}");
        let s = screen(
            &m,
            &UiState {
                help: true,
                ..UiState::default()
            },
            80,
            24,
        );
        assert!(s.contains("pause / resume updates"), "{s}");
    }

    #[test]
    fn an_empty_model_draws_without_panicking_even_when_tiny() {
        let m = TopModel::new("daemon", Some("fallback".into()), 1000);
        let s = screen(&m, &UiState::default(), 80, 24);
        assert!(s.contains("waiting for the first interval"), "{s}");
        assert!(s.contains("(fallback)"), "{s}");
        for (w, h) in [(10, 5), (1, 1), (200, 60)] {
            screen(
                &model(true),
                &UiState {
                    help: true,
                    ..UiState::default()
                },
                w,
                h,
            );
        }
    }

    #[test]
    fn many_cpus_go_in_columns_and_the_rest_is_counted() {
        let mut m = model(true);
        let snap = m.feed.snapshot.as_mut().unwrap();
        snap.cpu.per_cpu = vec![CpuTimes::default(); 64];
        let s = screen(&m, &UiState::default(), 80, 24);
        assert!(s.contains("cpu0 ") && s.contains("cpu2 "), "{s}");
        assert!(s.contains("more CPUs"), "{s}");
        let s = screen(&m, &UiState::default(), 200, 60);
        assert!(s.contains("cpu63"), "{s}");
        assert!(!s.contains("more CPUs"), "{s}");
    }

    #[test]
    fn scheduler_rates_and_per_cpu_p99_are_shown_with_ebpf() {
        let mut m = model(true);
        let sched = m.feed.snapshot.as_mut().unwrap().sched.as_mut().unwrap();
        sched.wakeups_per_sec = 729.0;
        sched.per_cpu = vec![crate::model::snapshot::CpuSchedView {
            cpu: 1,
            runq_count: 5,
            runq_p99_ns: 1_200_000,
            ..Default::default()
        }];
        let s = screen(&m, &UiState::default(), 120, 40);
        assert!(s.contains("wakeups 729/s"), "{s}");
        assert!(s.contains("p99 1.20ms"), "{s}");
    }

    #[test]
    fn busiest_window_keeps_the_most_events() {
        let rows: Vec<Log2Row> = [1, 50, 40, 2, 0, 3]
            .iter()
            .enumerate()
            .map(|(i, &count)| Log2Row {
                low: 1 << i,
                high: (2 << i) - 1,
                count,
            })
            .collect();
        let w = busiest_window(&rows, 2);
        assert_eq!(w.iter().map(|r| r.count).collect::<Vec<_>>(), [50, 40]);
        assert_eq!(busiest_window(&rows, 10).len(), 6);
        assert!(busiest_window(&rows, 0).is_empty());
    }
}
