//! A one-line progress bar with an ETA on standard error, drawn only when
//! standard error is a terminal (so logs and pipes get nothing), and safe
//! to advance from any thread. Steps are a run's references, or parts of
//! a sweep's configurations (configurations that share a reading advance
//! together as it goes on); with no known total (a trace) it shows the
//! count and rate, and a bar and an ETA too once the reader says how far
//! through its file it is.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Steps between redraws when the steps are references: often enough to
/// move a few times a second, rare enough to cost nothing measurable.
pub const REFERENCES_PER_REDRAW: u64 = 1 << 20;

/// Width of the bar in characters.
const WIDTH: usize = 30;

/// The shortest time between redraws, but for the first and the last: a
/// sweep's shared readings report progress thousands of times a second.
const REDRAW_EVERY: Duration = Duration::from_millis(50);

/// Progress through `total` steps called `unit`.
pub struct Progress {
    /// `None` when nothing is drawn.
    state: Option<Mutex<State>>,
}

struct State {
    done: u64,
    total: Option<u64>,
    /// Steps one `unit` is made of.
    steps_per_unit: u64,
    unit: &'static str,
    started: Instant,
    /// When the line was last drawn (`None`: not yet).
    drawn: Option<Instant>,
    /// How far through its input the stream's reader is, where there is
    /// no total and the reader knows.
    fraction: Option<f64>,
}

impl Progress {
    /// A bar over `total` steps (`None`: not known in advance) called
    /// `unit`, drawn if standard error is a terminal.
    pub fn on_terminal(total: Option<u64>, unit: &'static str) -> Progress {
        Progress::on_terminal_in_steps(total, 1, unit)
    }

    /// A bar over `units` called `unit`, each made of `steps_per_unit`
    /// steps, drawn if standard error is a terminal.
    pub fn on_terminal_in_steps(
        units: Option<u64>,
        steps_per_unit: u64,
        unit: &'static str,
    ) -> Progress {
        let state = std::io::stderr().is_terminal().then(|| {
            Mutex::new(State {
                done: 0,
                total: units.map(|u| u.saturating_mul(steps_per_unit)),
                steps_per_unit,
                unit,
                started: Instant::now(),
                drawn: None,
                fraction: None,
            })
        });
        let p = Progress { state };
        p.draw(|_| {});
        p
    }

    /// Whether anything is drawn (callers skip the work of reporting
    /// progress when nothing would show it).
    pub fn is_drawn(&self) -> bool {
        self.state.is_some()
    }

    /// `steps` more steps done.
    pub fn add(&self, steps: u64) {
        self.draw(|s| s.done += steps);
    }

    /// `done` steps done so far.
    pub fn set(&self, done: u64) {
        self.draw(|s| s.done = done);
    }

    /// The stream's reader is `fraction` (0 to 1) through its input.
    pub fn set_fraction(&self, fraction: f64) {
        self.draw(|s| s.fraction = Some(fraction));
    }

    /// Ends the line so later output starts on a fresh one.
    pub fn finish(&self) {
        if self.state.is_some() {
            eprintln!();
        }
    }

    fn draw(&self, update: impl FnOnce(&mut State)) {
        let Some(state) = &self.state else { return };
        // A poisoned lock only means another tick panicked; the counts
        // are still the best there is.
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        update(&mut s);
        let now = Instant::now();
        let last = s.total.is_some_and(|total| s.done >= total);
        if !last && s.drawn.is_some_and(|at| now - at < REDRAW_EVERY) {
            return;
        }
        s.drawn = Some(now);
        let elapsed = (now - s.started).as_secs_f64();
        let line = match (s.total, s.fraction) {
            (Some(total), _) => bar_line(s.done, total, s.steps_per_unit, s.unit, elapsed),
            (None, Some(fraction)) => fraction_line(s.done, fraction, s.unit, elapsed),
            (None, None) => count_line(s.done, s.unit, elapsed),
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}");
        let _ = err.flush();
    }
}

/// `[#####.....] 5/10 configurations, 2.0 s, ETA 2 s`, for `done` of
/// `total` steps, `steps_per_unit` to a `unit` (whole units shown): the
/// ETA assumes the remaining steps take as long on average as the
/// finished ones.
fn bar_line(done: u64, total: u64, steps_per_unit: u64, unit: &str, elapsed: f64) -> String {
    // In u128 so that a total of billions of references cannot overflow.
    let filled = (u128::from(done.min(total)) * WIDTH as u128)
        .checked_div(u128::from(total))
        .map_or(WIDTH, |f| f as usize);
    let eta = if done == 0 {
        "ETA ?".to_string()
    } else {
        let left = elapsed / done as f64 * (total - done.min(total)) as f64;
        format!("ETA {left:.0} s")
    };
    let per = steps_per_unit.max(1);
    format!(
        "[{}{}] {}/{} {unit}, {elapsed:.1} s, {eta}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        done.min(total) / per,
        total / per
    )
}

/// `[#####.....] 12.5 M references, 2.0 s, 6.2 M/s, ETA 2 s`: for a
/// stream of unknown length whose reader is `fraction` through its input;
/// the ETA assumes the rest reads as fast.
fn fraction_line(done: u64, fraction: f64, unit: &str, elapsed: f64) -> String {
    let fraction = fraction.clamp(0.0, 1.0);
    let filled = (fraction * WIDTH as f64) as usize;
    let eta = if fraction > 0.0 {
        format!("ETA {:.0} s", elapsed / fraction * (1.0 - fraction))
    } else {
        "ETA ?".to_string()
    };
    format!(
        "[{}{}] {}, {eta}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        count_line(done, unit, elapsed)
    )
}

/// `12.5 M references, 2.0 s, 6.2 M/s`: for a stream of unknown length.
fn count_line(done: u64, unit: &str, elapsed: f64) -> String {
    let millions = done as f64 / 1e6;
    let rate = if elapsed > 0.0 {
        format!("{:.1} M/s", millions / elapsed)
    } else {
        "? M/s".to_string()
    };
    format!("{millions:.1} M {unit}, {elapsed:.1} s, {rate}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_fills_in_proportion_and_eta_extrapolates() {
        assert_eq!(
            bar_line(0, 4, 1, "configurations", 0.0),
            format!("[{}] 0/4 configurations, 0.0 s, ETA ?", ".".repeat(30))
        );
        assert_eq!(
            bar_line(1, 4, 1, "configurations", 2.0),
            format!(
                "[{}{}] 1/4 configurations, 2.0 s, ETA 6 s",
                "#".repeat(7),
                ".".repeat(23)
            )
        );
        assert!(
            bar_line(4, 4, 1, "configurations", 8.0).starts_with(&format!("[{}]", "#".repeat(30)))
        );
        assert!(bar_line(4, 4, 1, "configurations", 8.0).ends_with("ETA 0 s"));
    }

    #[test]
    fn bar_of_billions_of_references_does_not_overflow() {
        let line = bar_line(5_000_000_000, 10_000_000_000, 1, "references", 10.0);
        assert!(line.starts_with(&format!("[{}{}]", "#".repeat(15), ".".repeat(15))));
        assert!(line.ends_with("references, 10.0 s, ETA 10 s"));
    }

    #[test]
    fn a_bar_in_steps_fills_by_steps_and_counts_whole_units() {
        // 2.5 of 4 configurations: the bar is 5/8 full, the count says 2.
        let line = bar_line(2_500, 4_000, 1_000, "configurations", 5.0);
        assert_eq!(
            line,
            format!(
                "[{}{}] 2/4 configurations, 5.0 s, ETA 3 s",
                "#".repeat(18),
                ".".repeat(12)
            )
        );
    }

    #[test]
    fn a_stream_part_read_shows_a_bar_and_an_eta_by_its_reading() {
        assert_eq!(
            fraction_line(12_500_000, 0.25, "references", 2.0),
            format!(
                "[{}{}] 12.5 M references, 2.0 s, 6.2 M/s, ETA 6 s",
                "#".repeat(7),
                ".".repeat(23)
            )
        );
        assert!(fraction_line(0, 0.0, "references", 0.0).ends_with("ETA ?"));
        assert!(
            fraction_line(9, 1.0, "references", 3.0).starts_with(&format!("[{}]", "#".repeat(30)))
        );
    }

    #[test]
    fn unknown_total_shows_count_and_rate() {
        assert_eq!(
            count_line(12_500_000, "references", 2.0),
            "12.5 M references, 2.0 s, 6.2 M/s"
        );
        assert_eq!(
            count_line(0, "references", 0.0),
            "0.0 M references, 0.0 s, ? M/s"
        );
    }
}
