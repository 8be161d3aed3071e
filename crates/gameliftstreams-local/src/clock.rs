//! The service clock: wall time plus a persisted forward offset, so tests and users can
//! fast-forward through timers. Every read of the time in the service goes through here.

use gls_model::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time shifted by an offset that only ever grows.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// A clock shifted by `offset_ms`.
    pub fn with_offset(offset_ms: i64) -> Self {
        Clock {
            offset_ms: AtomicI64::new(offset_ms),
        }
    }

    /// The current service time.
    pub fn now(&self) -> Timestamp {
        #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(wall + self.offset_ms.load(Ordering::SeqCst))
    }

    /// The real wall-clock time, for what must never move with the service clock (the SigV4
    /// skew window: advancing the service clock must not lock clients out).
    pub fn wall_now(&self) -> SystemTime {
        #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
        SystemTime::now()
    }

    /// The current offset in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// Move the clock forward; returns the new offset.
    pub fn advance(&self, ms: i64) -> i64 {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst) + ms.max(0)
    }
}
