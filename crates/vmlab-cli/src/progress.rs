//! A one-line progress bar with an ETA on standard error, drawn only when
//! standard error is a terminal (so logs and pipes get nothing), and safe
//! to tick from any thread.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

/// Width of the bar in characters.
const WIDTH: usize = 30;

/// Progress through `total` steps.
pub struct Progress {
    /// `None` when nothing is drawn.
    state: Option<Mutex<State>>,
}

struct State {
    done: usize,
    total: usize,
    started: Instant,
}

impl Progress {
    /// A bar over `total` steps, drawn if standard error is a terminal.
    pub fn on_terminal(total: usize) -> Progress {
        let state = std::io::stderr().is_terminal().then(|| {
            Mutex::new(State {
                done: 0,
                total,
                started: Instant::now(),
            })
        });
        let p = Progress { state };
        p.draw(|_| {});
        p
    }

    /// One more step done.
    pub fn tick(&self) {
        self.draw(|s| s.done += 1);
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
        let line = bar_line(s.done, s.total, s.started.elapsed().as_secs_f64());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}");
        let _ = err.flush();
    }
}

/// `[#####.....] 5/10 configurations, 2.0 s, ETA 2 s`: the ETA assumes the
/// remaining steps take as long on average as the finished ones.
fn bar_line(done: usize, total: usize, elapsed: f64) -> String {
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let eta = if done == 0 {
        "ETA ?".to_string()
    } else {
        let left = elapsed / done as f64 * (total - done.min(total)) as f64;
        format!("ETA {left:.0} s")
    };
    format!(
        "[{}{}] {done}/{total} configurations, {elapsed:.1} s, {eta}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_fills_in_proportion_and_eta_extrapolates() {
        assert_eq!(
            bar_line(0, 4, 0.0),
            format!("[{}] 0/4 configurations, 0.0 s, ETA ?", ".".repeat(30))
        );
        assert_eq!(
            bar_line(1, 4, 2.0),
            format!(
                "[{}{}] 1/4 configurations, 2.0 s, ETA 6 s",
                "#".repeat(7),
                ".".repeat(23)
            )
        );
        assert!(bar_line(4, 4, 8.0).starts_with(&format!("[{}]", "#".repeat(30))));
        assert!(bar_line(4, 4, 8.0).ends_with("ETA 0 s"));
    }
}
