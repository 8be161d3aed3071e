//! Application builds: what became of the snapshot of each application's
//! `ApplicationSourceUri`, recorded when the application is created and updated by the worker
//! that takes the snapshot outside any transaction. Rows in `pending` (to take) and `deleted`
//! (to remove from disk) are that worker's queue.

use super::sql::{Exec, Param, Row};
use super::StoreError;

/// Where an application's build stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildState {
    /// The snapshot is still to be taken.
    Pending,
    /// The snapshot is on disk and passed every rule.
    Ready,
    /// Nothing at the source URI: sessions stream the test card (or, with builds required,
    /// the application ends in ERROR).
    Missing,
    /// The source broke a rule or could not be read: the application ends in ERROR.
    Failed,
    /// The application is gone: its snapshot is to be removed.
    Deleted,
}

impl BuildState {
    const NAMES: [(BuildState, &'static str); 5] = [
        (BuildState::Pending, "pending"),
        (BuildState::Ready, "ready"),
        (BuildState::Missing, "missing"),
        (BuildState::Failed, "failed"),
        (BuildState::Deleted, "deleted"),
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("pending", |(_, n)| n)
    }

    fn parse(s: &str) -> BuildState {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map_or(BuildState::Failed, |(k, _)| *k)
    }
}

/// One application's build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRow {
    /// The application's partition.
    pub part: i64,
    /// The application id.
    pub app: String,
    /// Where it stands.
    pub state: BuildState,
    /// The application's StatusReason when the build failed (`accessDenied`,
    /// `internalError`).
    pub reason: Option<String>,
    /// What was found: why it failed, or where the build was looked for.
    pub message: Option<String>,
    /// The application's READY timer fell due while the snapshot was pending: the worker
    /// finishes the application when the snapshot is done.
    pub awaiting: bool,
}

/// The builds table.
pub trait Builds {
    /// A new application's build, to be taken.
    fn add(&self, part: i64, app: &str) -> Result<(), StoreError>;
    /// An application's build, if it has one (applications seeded or created before builds
    /// were snapshotted have none).
    fn get(&self, part: i64, app: &str) -> Result<Option<BuildRow>, StoreError>;
    /// Up to `limit` builds in `pending` or `deleted`, for the worker.
    fn todo(&self, limit: usize) -> Result<Vec<BuildRow>, StoreError>;
    /// Record what a pending build came to (and why); false if it is no longer pending
    /// (deleted meanwhile, or gone).
    fn set(
        &self,
        part: i64,
        app: &str,
        state: BuildState,
        reason: Option<&str>,
        message: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// The application is gone: its snapshot is to be removed; false if it had no build.
    fn set_deleted(&self, part: i64, app: &str) -> Result<bool, StoreError>;
    /// The READY timer fell due while the build was pending.
    fn set_awaiting(&self, part: i64, app: &str) -> Result<(), StoreError>;
    /// Forget the row (its snapshot is gone from disk).
    fn remove(&self, part: i64, app: &str) -> Result<(), StoreError>;
    /// Every application id with a row, whatever its state (to tell the snapshots on disk
    /// that no row claims).
    fn all_apps(&self) -> Result<Vec<String>, StoreError>;
}

fn build(r: &Row) -> Result<BuildRow, StoreError> {
    Ok(BuildRow {
        part: r.int(0)?,
        app: r.text(1)?,
        state: BuildState::parse(&r.text(2)?),
        reason: r.opt_text(3)?,
        message: r.opt_text(4)?,
        awaiting: r.int(5)? != 0,
    })
}

const COLUMNS: &str = "part, app, state, reason, message, awaiting";

impl<E: Exec> Builds for E {
    fn add(&self, part: i64, app: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO builds (part, app, state) VALUES (?1, ?2, 'pending')
             ON CONFLICT (part, app) DO UPDATE SET state = 'pending', reason = NULL, message = NULL, awaiting = 0",
            &[Param::Int(part), Param::Text(app)],
        )?;
        Ok(())
    }

    fn get(&self, part: i64, app: &str) -> Result<Option<BuildRow>, StoreError> {
        self.row(
            &format!("SELECT {COLUMNS} FROM builds WHERE part = ?1 AND app = ?2"),
            &[Param::Int(part), Param::Text(app)],
        )?
        .map(|r| build(&r))
        .transpose()
    }

    fn todo(&self, limit: usize) -> Result<Vec<BuildRow>, StoreError> {
        self.rows_upto(
            &format!("SELECT {COLUMNS} FROM builds WHERE state IN ('pending', 'deleted') ORDER BY rowid"),
            &[],
            limit,
        )?
        .iter()
        .map(build)
        .collect()
    }

    fn set(
        &self,
        part: i64,
        app: &str,
        state: BuildState,
        reason: Option<&str>,
        message: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE builds SET state = ?3, reason = ?4, message = ?5
             WHERE part = ?1 AND app = ?2 AND state = 'pending'",
            &[
                Param::Int(part),
                Param::Text(app),
                Param::Text(state.as_str()),
                Param::OptText(reason),
                Param::OptText(message),
            ],
        )? > 0)
    }

    fn set_deleted(&self, part: i64, app: &str) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE builds SET state = 'deleted' WHERE part = ?1 AND app = ?2",
            &[Param::Int(part), Param::Text(app)],
        )? > 0)
    }

    fn set_awaiting(&self, part: i64, app: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE builds SET awaiting = 1 WHERE part = ?1 AND app = ?2",
            &[Param::Int(part), Param::Text(app)],
        )?;
        Ok(())
    }

    fn remove(&self, part: i64, app: &str) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM builds WHERE part = ?1 AND app = ?2",
            &[Param::Int(part), Param::Text(app)],
        )?;
        Ok(())
    }

    fn all_apps(&self) -> Result<Vec<String>, StoreError> {
        self.rows("SELECT app FROM builds", &[])?
            .iter()
            .map(|r| r.text(0))
            .collect()
    }
}
