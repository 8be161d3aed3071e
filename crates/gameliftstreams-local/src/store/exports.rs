//! The export outbox: a job per ended session whose files are to be written, recorded in the
//! transaction that ended it and removed once the archive is written and its outcome saved.

use super::sql::{Exec, Param};
use super::StoreError;

/// One archive to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportJob {
    /// Row id.
    pub seq: i64,
    /// The session's partition.
    pub part: i64,
    /// The session id.
    pub session: String,
    /// Where the archive goes (the final URI, file name included).
    pub uri: String,
    /// When the session ended, epoch millis: the archive's contents are a function of the
    /// session and this time, so a retried job writes the same bytes.
    pub ended_at: i64,
}

/// The export job table.
pub trait ExportJobs {
    /// Record a job.
    fn add(&self, part: i64, session: &str, uri: &str, ended_at: i64) -> Result<(), StoreError>;
    /// Up to `limit` jobs, oldest first.
    fn pending(&self, limit: usize) -> Result<Vec<ExportJob>, StoreError>;
    /// Remove a finished job; false if it was already gone.
    fn done(&self, seq: i64) -> Result<bool, StoreError>;
    /// How many jobs are waiting.
    fn count(&self) -> Result<i64, StoreError>;
}

impl<E: Exec> ExportJobs for E {
    fn add(&self, part: i64, session: &str, uri: &str, ended_at: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO export_jobs(part, session, uri, ended_at) VALUES (?1, ?2, ?3, ?4)",
            &[
                Param::Int(part),
                Param::Text(session),
                Param::Text(uri),
                Param::Int(ended_at),
            ],
        )?;
        Ok(())
    }

    fn pending(&self, limit: usize) -> Result<Vec<ExportJob>, StoreError> {
        self.rows(
            "SELECT seq, part, session, uri, ended_at FROM export_jobs ORDER BY seq LIMIT ?1",
            &[Param::Int(limit as i64)],
        )?
        .iter()
        .map(|r| {
            Ok(ExportJob {
                seq: r.int(0)?,
                part: r.int(1)?,
                session: r.text(2)?,
                uri: r.text(3)?,
                ended_at: r.int(4)?,
            })
        })
        .collect()
    }

    fn done(&self, seq: i64) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM export_jobs WHERE seq = ?1", &[Param::Int(seq)])? > 0)
    }

    fn count(&self) -> Result<i64, StoreError> {
        super::timers::count(self, "SELECT count(*) FROM export_jobs")
    }
}
