//! Durable timers (a due time, a kind and a resource, fired in due order) and the dead
//! letters: timers that failed when fired, kept with their error instead of blocking others.

use super::sqlite::SqliteTx;
use super::StoreError;
use rusqlite::{params, OptionalExtension};

/// A stored timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// Row id: timers due at the same time fire in the order they were set.
    pub seq: i64,
    /// When it falls due, epoch millis of service time.
    pub due_at: i64,
    /// The partition of the resource.
    pub part: i64,
    /// What happens, by its stored name (an unknown name is dead-lettered when due).
    pub kind: String,
    /// The resource (session timers: the session id).
    pub resource: String,
}

/// The timer table.
pub trait Timers {
    /// Schedule a timer.
    fn add(&self, due_at: i64, part: i64, kind: &str, resource: &str) -> Result<(), StoreError>;
    /// The earliest due time of any timer.
    fn next(&self) -> Result<Option<i64>, StoreError>;
    /// The earliest timer due at or before `now`, if any.
    fn first_due(&self, now: i64) -> Result<Option<Timer>, StoreError>;
    /// Remove a timer (it has fired).
    fn delete(&self, seq: i64) -> Result<(), StoreError>;
    /// Keep a timer that failed, with why and when.
    fn dead_letter(&self, timer: &Timer, error: &str, at: i64) -> Result<(), StoreError>;
    /// How many dead letters there are.
    fn dead_letters(&self) -> Result<i64, StoreError>;
    /// How many timers are waiting to fire.
    fn pending(&self) -> Result<i64, StoreError>;
}

impl Timers for SqliteTx<'_> {
    fn add(&self, due_at: i64, part: i64, kind: &str, resource: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT INTO timers(due_at, part, kind, resource) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![due_at, part, kind, resource])?;
        Ok(())
    }

    fn next(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT min(due_at) FROM timers")?
            .query_row([], |r| r.get(0))?)
    }

    fn first_due(&self, now: i64) -> Result<Option<Timer>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT seq, due_at, part, kind, resource FROM timers WHERE due_at <= ?1 ORDER BY due_at, seq LIMIT 1",
            )?
            .query_row([now], |r| {
                Ok(Timer {
                    seq: r.get(0)?,
                    due_at: r.get(1)?,
                    part: r.get(2)?,
                    kind: r.get(3)?,
                    resource: r.get(4)?,
                })
            })
            .optional()?)
    }

    fn delete(&self, seq: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM timers WHERE seq = ?1")?
            .execute([seq])?;
        Ok(())
    }

    fn dead_letter(&self, t: &Timer, error: &str, at: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO dead_timers(seq, due_at, part, kind, resource, error, failed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![t.seq, t.due_at, t.part, t.kind, t.resource, error, at])?;
        Ok(())
    }

    fn dead_letters(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM dead_timers")?
            .query_row([], |r| r.get(0))?)
    }

    fn pending(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM timers")?
            .query_row([], |r| r.get(0))?)
    }
}
