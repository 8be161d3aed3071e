//! The service clock: every read of the service time goes through a [`Clock`]. Two kinds: the
//! system clock (wall time plus a persisted forward offset, so users can fast-forward through
//! timers) and a frozen clock (service time moves only when advanced, so tests can hold a
//! transient status still). Service time never goes backwards and never passes
//! 9999-12-31T23:59:59Z, the last instant every AWS SDK can parse.

use gls_model::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// 9999-12-31T23:59:59Z in epoch milliseconds: the latest service time.
pub const MAX_MS: i64 = 253_402_300_799_000;

/// The largest single advance: ten years of seconds.
pub const MAX_ADVANCE_SECONDS: i64 = 315_360_000;

/// Why the clock refused to move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// Not an integer number of seconds in 0..=MAX_ADVANCE_SECONDS.
    #[error("advanceSeconds must be an integer from 0 to {MAX_ADVANCE_SECONDS} (ten years); got {0}")]
    OutOfRange(i64),
    /// The advance would take service time past 9999-12-31T23:59:59Z.
    #[error("advancing {0} s would take the service clock past 9999-12-31T23:59:59Z")]
    PastTheEnd(i64),
}

/// What a clock keeps across restarts, as the store records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// System clock: milliseconds added to wall time.
    Offset(i64),
    /// Frozen clock: the service time itself.
    Frozen(i64),
}

/// The service's source of time.
pub trait Clock: Send + Sync {
    /// The current service time.
    fn now(&self) -> Timestamp;
    /// Move service time forward by `seconds` (0..=MAX_ADVANCE_SECONDS), staying at or before
    /// MAX_MS; on error nothing changes. Returns the state to persist.
    fn advance(&self, seconds: i64) -> Result<ClockState, ClockError>;
    /// The state to persist.
    fn state(&self) -> ClockState;
    /// Back to wall time, as a clock starts on a new data dir (`POST /_local/reset`): the one
    /// move backwards, made only when nothing is left that service time could contradict.
    fn rewind(&self);
    /// The kind of clock, as `serve --clock` names it.
    fn kind(&self) -> &'static str;
    /// How far service time is ahead of wall time, in milliseconds.
    fn offset_ms(&self) -> i64 {
        self.now().millis().saturating_sub(wall_ms())
    }
}

/// The real wall-clock time, for what must never move with the service clock (the SigV4 skew
/// window and the request throttle: advancing the service clock must not lock clients out).
pub fn wall_now() -> SystemTime {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    SystemTime::now()
}

fn wall_ms() -> i64 {
    wall_now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `seconds` as milliseconds if it is a permitted advance.
fn advance_ms(seconds: i64) -> Result<i64, ClockError> {
    if !(0..=MAX_ADVANCE_SECONDS).contains(&seconds) {
        return Err(ClockError::OutOfRange(seconds));
    }
    Ok(seconds * 1000)
}

/// Wall time shifted by an offset that only ever grows.
#[derive(Debug, Default)]
pub struct SystemClock {
    offset_ms: AtomicI64,
}

impl SystemClock {
    /// A clock shifted by `offset_ms`, refused when that puts service time out of range.
    pub fn with_offset(offset_ms: i64) -> Result<Self, String> {
        let now = wall_ms().checked_add(offset_ms);
        if offset_ms < 0 || now.is_none_or(|n| n > MAX_MS) {
            return Err(format!(
                "the stored service clock offset ({offset_ms} ms) puts the clock outside 1970..9999-12-31"
            ));
        }
        Ok(SystemClock {
            offset_ms: AtomicI64::new(offset_ms),
        })
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let offset = self.offset_ms.load(Ordering::SeqCst);
        Timestamp(wall_ms().saturating_add(offset).min(MAX_MS))
    }

    fn advance(&self, seconds: i64) -> Result<ClockState, ClockError> {
        let ms = advance_ms(seconds)?;
        let wall = wall_ms();
        let next = |offset: i64| {
            offset
                .checked_add(ms)
                .filter(|o| wall.checked_add(*o).is_some_and(|n| n <= MAX_MS))
        };
        self.offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, next)
            .ok()
            .and_then(next)
            .map(ClockState::Offset)
            .ok_or(ClockError::PastTheEnd(seconds))
    }

    fn state(&self) -> ClockState {
        ClockState::Offset(self.offset_ms.load(Ordering::SeqCst))
    }

    fn rewind(&self) {
        self.offset_ms.store(0, Ordering::SeqCst);
    }

    fn kind(&self) -> &'static str {
        "system"
    }
}

/// Service time that stands still until advanced.
#[derive(Debug)]
pub struct FrozenClock {
    now_ms: AtomicI64,
}

impl FrozenClock {
    /// A clock standing at `now_ms`, refused when that is out of range.
    pub fn at(now_ms: i64) -> Result<Self, String> {
        if !(0..=MAX_MS).contains(&now_ms) {
            return Err(format!(
                "the stored frozen service time ({now_ms} ms) is outside 1970..9999-12-31"
            ));
        }
        Ok(FrozenClock {
            now_ms: AtomicI64::new(now_ms),
        })
    }
}

impl Clock for FrozenClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.now_ms.load(Ordering::SeqCst))
    }

    fn advance(&self, seconds: i64) -> Result<ClockState, ClockError> {
        let ms = advance_ms(seconds)?;
        let next = |now: i64| now.checked_add(ms).filter(|n| *n <= MAX_MS);
        self.now_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, next)
            .ok()
            .and_then(next)
            .map(ClockState::Frozen)
            .ok_or(ClockError::PastTheEnd(seconds))
    }

    fn state(&self) -> ClockState {
        ClockState::Frozen(self.now_ms.load(Ordering::SeqCst))
    }

    fn rewind(&self) {
        self.now_ms.store(wall_ms().min(MAX_MS), Ordering::SeqCst);
    }

    fn kind(&self) -> &'static str {
        "frozen"
    }
}

/// Which clock `serve --clock` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockKind {
    /// Wall time plus the persisted offset.
    #[default]
    System,
    /// Service time moves only through advances.
    Frozen,
}

/// The clock of `kind` resuming from what was persisted. A frozen clock resumes where it
/// stood, or starts at the current service time; a system clock after a frozen one keeps at
/// least the frozen time, so switching never moves service time backwards.
pub fn resume(kind: ClockKind, offset_ms: Option<i64>, frozen_ms: Option<i64>) -> Result<Box<dyn Clock>, String> {
    let offset = offset_ms.unwrap_or(0);
    match kind {
        ClockKind::System => {
            let catch_up = frozen_ms.map_or(0, |f| f.saturating_sub(wall_ms()));
            Ok(Box::new(SystemClock::with_offset(offset.max(catch_up))?))
        }
        ClockKind::Frozen => {
            let start = match frozen_ms {
                Some(f) => f,
                None => SystemClock::with_offset(offset)?.now().millis(),
            };
            Ok(Box::new(FrozenClock::at(start)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_stands_still_and_moves_only_when_advanced() {
        let c = FrozenClock::at(1_000_000).unwrap();
        assert_eq!(c.now(), Timestamp(1_000_000));
        assert_eq!(c.now(), Timestamp(1_000_000));
        assert_eq!(c.advance(60), Ok(ClockState::Frozen(1_060_000)));
        assert_eq!(c.now(), Timestamp(1_060_000));
    }

    #[test]
    fn advances_out_of_range_change_nothing() {
        let frozen = FrozenClock::at(MAX_MS - 5_000).unwrap();
        let system = SystemClock::with_offset(0).unwrap();
        for c in [&frozen as &dyn Clock, &system] {
            let before = c.state();
            for bad in [-1, MAX_ADVANCE_SECONDS + 1, 9_223_372_036_854_775, i64::MAX, i64::MIN] {
                assert_eq!(c.advance(bad), Err(ClockError::OutOfRange(bad)));
            }
            assert_eq!(c.state(), before);
        }
        assert_eq!(frozen.advance(6), Err(ClockError::PastTheEnd(6)));
        assert_eq!(frozen.advance(5), Ok(ClockState::Frozen(MAX_MS)));
        assert_eq!(frozen.advance(0), Ok(ClockState::Frozen(MAX_MS)));
        // Ten years at a time reaches the end of year 9999 and stops there.
        let mut steps = 0;
        while system.advance(MAX_ADVANCE_SECONDS).is_ok() {
            steps += 1;
            assert!(system.now().millis() <= MAX_MS);
        }
        assert!((790..=805).contains(&steps), "{steps}");
    }

    #[test]
    fn stored_state_out_of_range_is_refused() {
        assert!(SystemClock::with_offset(-1).is_err());
        assert!(SystemClock::with_offset(i64::MAX).is_err());
        assert!(SystemClock::with_offset(300_000_000_000_000).is_err());
        assert!(FrozenClock::at(MAX_MS + 1).is_err());
        assert!(FrozenClock::at(-1).is_err());
    }

    #[test]
    fn switching_clocks_never_goes_back() {
        let wall = wall_ms();
        let frozen = resume(ClockKind::Frozen, Some(3_600_000), None).unwrap();
        assert!(frozen.now().millis() >= wall + 3_600_000);
        let ahead = wall + 86_400_000;
        let system = resume(ClockKind::System, Some(0), Some(ahead)).unwrap();
        assert!(system.now().millis() >= ahead);
        let resumed = resume(ClockKind::Frozen, Some(0), Some(ahead)).unwrap();
        assert_eq!(resumed.now().millis(), ahead);
    }
}
