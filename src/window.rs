//! A sliding-window rate limit: at most `requests` in any `per` interval.
//!
//! The emulator uses it to enforce the documented flow control per account
//! (answering with the vendor's throttling error and the wait), and the live
//! target to schedule its own requests under the same limits, so that a
//! nightly run never throttles itself.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SlidingWindow {
    requests: u32,
    per: Duration,
    admitted: VecDeque<Instant>,
}

impl SlidingWindow {
    pub fn new(requests: u32, per: Duration) -> SlidingWindow {
        SlidingWindow { requests: requests.max(1), per, admitted: VecDeque::new() }
    }

    /// Admits a request at `now`, or says how long to wait before one fits.
    pub fn try_admit(&mut self, now: Instant) -> Result<(), Duration> {
        while self.admitted.front().is_some_and(|t| now.saturating_duration_since(*t) >= self.per) {
            self.admitted.pop_front();
        }
        if self.admitted.len() >= self.requests as usize {
            let oldest = self.admitted.front().copied().unwrap_or(now);
            return Err(self.per.saturating_sub(now.saturating_duration_since(oldest)).max(Duration::from_millis(1)));
        }
        self.admitted.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the window on a virtual clock: each request waits as told.
    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(5, Duration::from_secs(1));
        let mut now = t0;
        let mut times = Vec::new();
        for _ in 0..23 {
            loop {
                match w.try_admit(now) {
                    Ok(()) => break,
                    Err(wait) => now += wait,
                }
            }
            times.push(now);
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().filter(|u| u.duration_since(*t) < Duration::from_secs(1)).count();
            assert!(in_window <= 5, "{in_window} requests within one second from request {i}");
        }
        // And it does not wait more than needed: 23 requests at 5/s take 4 s.
        assert_eq!(times.last().unwrap().duration_since(t0), Duration::from_secs(4));
    }
}
