//! What the user chose on screen (focused pane, sort, pause, help) and how
//! keys change it. Pure: a key in, a state change and an outcome out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::model::TaskSort;

/// The panes that take the arrow keys, in Tab order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pane {
    /// ←/→ pick the histogram (run-queue, slice, each block device).
    #[default]
    Histogram,
    /// ←/→ pick the sort key, ↑/↓ scroll.
    Processes,
    /// ↑/↓ scroll.
    Timeline,
}

impl Pane {
    const ORDER: [Pane; 3] = [Pane::Histogram, Pane::Processes, Pane::Timeline];

    fn step(self, forward: bool) -> Pane {
        let i = Self::ORDER.iter().position(|&p| p == self).unwrap_or(0);
        Self::ORDER[step(i, Self::ORDER.len(), forward)]
    }
}

/// The next (or previous) of `n` places after `i`, wrapping both ways.
fn step(i: usize, n: usize, forward: bool) -> usize {
    let n = n.max(1);
    if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UiState {
    pub focus: Pane,
    pub sort: TaskSort,
    /// Index into the histograms the snapshot has.
    pub histogram: usize,
    /// How many the snapshot shown has (set by `fit`), so ← wraps from the
    /// first to the last.
    pub histograms: usize,
    pub process_scroll: usize,
    pub timeline_scroll: usize,
    pub paused: bool,
    pub help: bool,
}

/// What the event loop does after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    Quit,
    /// The state changed: draw again.
    Redraw,
    Ignored,
}

impl UiState {
    pub fn on_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return KeyOutcome::Quit,
            KeyCode::Char('q') | KeyCode::Esc if !self.help => return KeyOutcome::Quit,
            // In help, q and Esc close the help first.
            KeyCode::Char('q') | KeyCode::Esc | KeyCode::Char('?') if self.help => {
                self.help = false
            }
            KeyCode::Char('?') | KeyCode::Char('h') => self.help = true,
            KeyCode::Char('p') | KeyCode::Char(' ') => self.paused = !self.paused,
            KeyCode::Tab => self.focus = self.focus.step(true),
            KeyCode::BackTab => self.focus = self.focus.step(false),
            KeyCode::Right => self.cycle(true),
            KeyCode::Left => self.cycle(false),
            KeyCode::Char('s') => {
                self.focus = Pane::Processes;
                self.cycle(true);
            }
            KeyCode::Down => self.scroll(true),
            KeyCode::Up => self.scroll(false),
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Redraw
    }

    /// Fits the choices to what is shown: scroll offsets stay on the last
    /// line of lists that shrank (or were scrolled past their end), so ↑
    /// moves at once; the histogram index stays among those there are.
    pub fn fit(&mut self, processes: usize, timeline: usize, histograms: usize) {
        self.process_scroll = self.process_scroll.min(processes.saturating_sub(1));
        self.timeline_scroll = self.timeline_scroll.min(timeline.saturating_sub(1));
        self.histograms = histograms;
        self.histogram = self.histogram.min(histograms.saturating_sub(1));
    }

    fn cycle(&mut self, forward: bool) {
        match self.focus {
            Pane::Histogram => self.histogram = step(self.histogram, self.histograms, forward),
            Pane::Processes => {
                let all = TaskSort::ALL;
                let i = all.iter().position(|&s| s == self.sort).unwrap_or(0);
                self.sort = all[step(i, all.len(), forward)];
                self.process_scroll = 0;
            }
            Pane::Timeline => {}
        }
    }

    fn scroll(&mut self, down: bool) {
        let s = match self.focus {
            Pane::Processes => &mut self.process_scroll,
            Pane::Timeline => &mut self.timeline_scroll,
            Pane::Histogram => return,
        };
        *s = if down {
            s.saturating_add(1)
        } else {
            s.saturating_sub(1)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn quit_keys() {
        let mut s = UiState::default();
        assert_eq!(s.on_key(key(KeyCode::Char('q'))), KeyOutcome::Quit);
        assert_eq!(s.on_key(key(KeyCode::Esc)), KeyOutcome::Quit);
        assert_eq!(
            s.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            KeyOutcome::Quit
        );
        assert_eq!(s.on_key(key(KeyCode::Char('c'))), KeyOutcome::Ignored);
    }

    #[test]
    fn help_opens_and_esc_closes_it_without_quitting() {
        let mut s = UiState::default();
        s.on_key(key(KeyCode::Char('?')));
        assert!(s.help);
        assert_eq!(s.on_key(key(KeyCode::Esc)), KeyOutcome::Redraw);
        assert!(!s.help);
    }

    #[test]
    fn p_toggles_pause() {
        let mut s = UiState::default();
        s.on_key(key(KeyCode::Char('p')));
        assert!(s.paused);
        s.on_key(key(KeyCode::Char('p')));
        assert!(!s.paused);
    }

    #[test]
    fn tab_cycles_panes_and_arrows_act_on_the_focused_one() {
        let mut s = UiState::default();
        s.fit(0, 0, 3);
        s.on_key(key(KeyCode::Right));
        assert_eq!(s.histogram, 1);
        s.on_key(key(KeyCode::Tab));
        assert_eq!(s.focus, Pane::Processes);
        s.on_key(key(KeyCode::Right));
        assert_eq!(s.sort, TaskSort::MaxWait);
        s.on_key(key(KeyCode::Left));
        s.on_key(key(KeyCode::Left));
        assert_eq!(s.sort, TaskSort::Wakeups);
        s.on_key(key(KeyCode::Down));
        s.on_key(key(KeyCode::Down));
        assert_eq!(s.process_scroll, 2);
        s.on_key(key(KeyCode::Tab));
        assert_eq!(s.focus, Pane::Timeline);
        s.on_key(key(KeyCode::Tab));
        assert_eq!(s.focus, Pane::Histogram);
        s.on_key(key(KeyCode::BackTab));
        assert_eq!(s.focus, Pane::Timeline);
        s.on_key(key(KeyCode::Up));
        assert_eq!(s.timeline_scroll, 0, "scrolling stops at the top");
    }

    /// ← from the first histogram goes to the last, → from the last to the
    /// first, whatever their number (usize wrapping went nowhere with 3).
    #[test]
    fn histogram_arrows_wrap_both_ways() {
        for n in [1, 2, 3, 4] {
            let mut s = UiState::default();
            s.fit(0, 0, n);
            s.on_key(key(KeyCode::Left));
            assert_eq!(s.histogram, n - 1, "{n} histograms");
            s.on_key(key(KeyCode::Right));
            assert_eq!(s.histogram, 0, "{n} histograms");
        }
        // Fewer histograms than the index (a block device went idle).
        let mut s = UiState::default();
        s.fit(0, 0, 3);
        s.on_key(key(KeyCode::Left));
        s.fit(0, 0, 2);
        assert_eq!(s.histogram, 1);
    }

    #[test]
    fn scrolling_past_the_end_stays_on_the_last_line() {
        let mut s = UiState {
            focus: Pane::Processes,
            ..UiState::default()
        };
        for _ in 0..10 {
            s.on_key(key(KeyCode::Down));
        }
        s.fit(3, 0, 0);
        assert_eq!((s.process_scroll, s.timeline_scroll), (2, 0));
        s.on_key(key(KeyCode::Up));
        assert_eq!(s.process_scroll, 1);
    }
}
