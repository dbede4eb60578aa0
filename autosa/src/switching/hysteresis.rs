//! A new class must be seen for N consecutive intervals, each with enough
//! confidence, before it may be switched to: one noisy interval never switches.

use crate::policy::plan::WorkloadClass;

#[derive(Debug, Clone, PartialEq)]
pub struct Hysteresis {
    min_confidence: f64,
    hold_intervals: u32,
    candidate: Option<WorkloadClass>,
    streak: u32,
}

/// What one interval's classification means for the streak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Streak {
    /// Below the minimum confidence: the streak is broken.
    Unsure { confidence: f64 },
    /// `class` has been seen `count` times in a row, `needed` are required.
    Building {
        class: WorkloadClass,
        count: u32,
        needed: u32,
    },
    /// `class` held long enough.
    Stable { class: WorkloadClass, count: u32 },
}

impl Hysteresis {
    pub fn new(min_confidence: f64, hold_intervals: u32) -> Self {
        Hysteresis {
            min_confidence,
            hold_intervals: hold_intervals.max(1),
            candidate: None,
            streak: 0,
        }
    }

    /// New limits; the streak under way is kept.
    pub fn set_limits(&mut self, min_confidence: f64, hold_intervals: u32) {
        self.min_confidence = min_confidence;
        self.hold_intervals = hold_intervals.max(1);
    }

    /// Feed one interval's classification.
    pub fn observe(&mut self, class: WorkloadClass, confidence: f64) -> Streak {
        // NaN is treated as unsure too.
        if confidence.is_nan() || confidence < self.min_confidence {
            self.candidate = None;
            self.streak = 0;
            return Streak::Unsure { confidence };
        }
        if self.candidate == Some(class) {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.candidate = Some(class);
            self.streak = 1;
        }
        if self.streak >= self.hold_intervals {
            Streak::Stable {
                class,
                count: self.streak,
            }
        } else {
            Streak::Building {
                class,
                count: self.streak,
                needed: self.hold_intervals,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WorkloadClass::*;

    #[test]
    fn table() {
        // (sequence of (class, confidence), expected stable class after the last one)
        type Case = (&'static [(WorkloadClass, f64)], Option<WorkloadClass>);
        let cases: &[Case] = &[
            (&[(Mixed, 0.9), (Mixed, 0.9)], None),
            (&[(Mixed, 0.9), (Mixed, 0.9), (Mixed, 0.9)], Some(Mixed)),
            (&[(Mixed, 0.9), (Mixed, 0.5), (Mixed, 0.9)], None),
            (&[(Mixed, 0.9), (CpuBound, 0.9), (Mixed, 0.9)], None),
            (
                &[(CpuBound, 0.9), (Mixed, 0.9), (Mixed, 0.9), (Mixed, 0.9)],
                Some(Mixed),
            ),
            (&[(Mixed, f64::NAN), (Mixed, 0.9), (Mixed, 0.9)], None),
        ];
        for (seq, want) in cases {
            let mut h = Hysteresis::new(0.6, 3);
            let mut last = None;
            for (c, conf) in seq.iter() {
                last = Some(h.observe(*c, *conf));
            }
            let got = match last.unwrap() {
                Streak::Stable { class, .. } => Some(class),
                _ => None,
            };
            assert_eq!(got, *want, "{seq:?}");
        }
    }
}
