//! The export outbox: a job per ended session whose files are to be written, recorded in the
//! transaction that ended it and removed once the archive is written and its outcome saved.

use super::sqlite::SqliteTx;
use super::StoreError;
use rusqlite::params;

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

impl ExportJobs for SqliteTx<'_> {
    fn add(&self, part: i64, session: &str, uri: &str, ended_at: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT INTO export_jobs(part, session, uri, ended_at) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![part, session, uri, ended_at])?;
        Ok(())
    }

    fn pending(&self, limit: usize) -> Result<Vec<ExportJob>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, part, session, uri, ended_at FROM export_jobs ORDER BY seq LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(ExportJob {
                seq: r.get(0)?,
                part: r.get(1)?,
                session: r.get(2)?,
                uri: r.get(3)?,
                ended_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn done(&self, seq: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM export_jobs WHERE seq = ?1")?
            .execute([seq])?
            > 0)
    }

    fn count(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM export_jobs")?
            .query_row([], |r| r.get(0))?)
    }
}
