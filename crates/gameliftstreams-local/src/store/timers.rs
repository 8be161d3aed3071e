//! Durable timers (a due time, a kind and a resource, fired in due order) and the dead
//! letters: timers that failed when fired, kept with their error instead of blocking others.

use super::sql::{Exec, Param};
use super::StoreError;

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

impl<E: Exec> Timers for E {
    fn add(&self, due_at: i64, part: i64, kind: &str, resource: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO timers(due_at, part, kind, resource) VALUES (?1, ?2, ?3, ?4)",
            &[
                Param::Int(due_at),
                Param::Int(part),
                Param::Text(kind),
                Param::Text(resource),
            ],
        )?;
        Ok(())
    }

    fn next(&self) -> Result<Option<i64>, StoreError> {
        match self.row("SELECT min(due_at) FROM timers", &[])? {
            Some(r) => r.opt_int(0),
            None => Ok(None),
        }
    }

    fn first_due(&self, now: i64) -> Result<Option<Timer>, StoreError> {
        self.row(
            "SELECT seq, due_at, part, kind, resource FROM timers WHERE due_at <= ?1 ORDER BY due_at, seq LIMIT 1",
            &[Param::Int(now)],
        )?
        .map(|r| {
            Ok(Timer {
                seq: r.int(0)?,
                due_at: r.int(1)?,
                part: r.int(2)?,
                kind: r.text(3)?,
                resource: r.text(4)?,
            })
        })
        .transpose()
    }

    fn delete(&self, seq: i64) -> Result<(), StoreError> {
        self.exec("DELETE FROM timers WHERE seq = ?1", &[Param::Int(seq)])?;
        Ok(())
    }

    fn dead_letter(&self, t: &Timer, error: &str, at: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO dead_timers(seq, due_at, part, kind, resource, error, failed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                Param::Int(t.seq),
                Param::Int(t.due_at),
                Param::Int(t.part),
                Param::Text(&t.kind),
                Param::Text(&t.resource),
                Param::Text(error),
                Param::Int(at),
            ],
        )?;
        Ok(())
    }

    fn dead_letters(&self) -> Result<i64, StoreError> {
        count(self, "SELECT count(*) FROM dead_timers")
    }

    fn pending(&self) -> Result<i64, StoreError> {
        count(self, "SELECT count(*) FROM timers")
    }
}

/// The one number a `SELECT count(*)` answers.
pub(super) fn count(e: &impl Exec, sql: &'static str) -> Result<i64, StoreError> {
    e.row(sql, &[])?.map_or(Ok(0), |r| r.int(0))
}
