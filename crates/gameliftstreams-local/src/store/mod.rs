//! Durable state behind typed functions: the [`Store`] trait (transactions) and one table
//! trait per kind of record (`meta`, `docs` for applications and stream groups, `sessions`,
//! `urls`, `timers`, `tokens`, `exports`, `builds`), each taking and returning model documents. The
//! embedded SQLite backend (`sqlite`) is the first implementation; nothing outside this module
//! sees SQL, a `rusqlite` type or stored JSON. No HTTP and no operation logic here.

pub mod builds;
pub mod docs;
pub mod exports;
pub mod meta;
mod pg;
mod schema;
pub mod sessions;
mod sql;
mod sqlite;
pub mod timers;
pub mod tokens;
pub mod urls;
mod writer;

pub use builds::{BuildRow, BuildState, Builds};
pub use docs::{Documents, Tags};
pub use exports::{ExportJob, ExportJobs};
pub use meta::{Meta, Partitions};
pub use pg::{redacted, PgStore};
pub use sessions::{LiveBy, QueuePosition, SessionCounts, SessionFilter, SessionInternal, SessionRow, Sessions};
pub use sqlite::{lock_dir, SqliteStore};
pub use timers::{Timer, Timers};
pub use tokens::Tokens;
pub use urls::{UrlInternal, UrlRow, Urls};

use crate::domain::ApiError;
use gls_model::{GetApplicationOutput, GetStreamGroupOutput};
use std::cell::RefCell;

/// A failure of the storage engine; it reaches clients only as InternalServerException.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// A store failure described by a message.
    pub fn msg(m: impl Into<String>) -> Self {
        StoreError(m.into().into())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

/// The table accessors of a `Tx` implementation whose transaction implements every table
/// itself (both backends' do).
macro_rules! tables_are_self {
    () => {
        fn meta(&self) -> &dyn $crate::store::Meta {
            self
        }
        fn partitions(&self) -> &dyn $crate::store::Partitions {
            self
        }
        fn applications(&self) -> &dyn $crate::store::Documents<gls_model::GetApplicationOutput> {
            self
        }
        fn groups(&self) -> &dyn $crate::store::Documents<gls_model::GetStreamGroupOutput> {
            self
        }
        fn sessions(&self) -> &dyn $crate::store::Sessions {
            self
        }
        fn urls(&self) -> &dyn $crate::store::Urls {
            self
        }
        fn timers(&self) -> &dyn $crate::store::Timers {
            self
        }
        fn tokens(&self) -> &dyn $crate::store::Tokens {
            self
        }
        fn exports(&self) -> &dyn $crate::store::ExportJobs {
            self
        }
        fn builds(&self) -> &dyn $crate::store::Builds {
            self
        }
    };
}
use tables_are_self;

/// One transaction's view of every table.
pub trait Tx {
    /// Service metadata (token secret, clock state, flags).
    fn meta(&self) -> &dyn Meta;
    /// The (account, region) partitions.
    fn partitions(&self) -> &dyn Partitions;
    /// Applications.
    fn applications(&self) -> &dyn Documents<GetApplicationOutput>;
    /// Stream groups.
    fn groups(&self) -> &dyn Documents<GetStreamGroupOutput>;
    /// Stream sessions.
    fn sessions(&self) -> &dyn Sessions;
    /// Stream URLs.
    fn urls(&self) -> &dyn Urls;
    /// Durable timers and the dead letters of those that failed.
    fn timers(&self) -> &dyn Timers;
    /// Remembered ClientTokens.
    fn tokens(&self) -> &dyn Tokens;
    /// The export outbox.
    fn exports(&self) -> &dyn ExportJobs;
    /// Application builds and their worker's queue.
    fn builds(&self) -> &dyn Builds;
    /// Run `f` in a savepoint: what it did is kept when it returns true and undone alone
    /// (the rest of the transaction stays) when it returns false.
    fn savepoint(&self, f: &mut dyn FnMut(&dyn Tx) -> bool) -> Result<bool, StoreError>;
}

/// A transactional store: one writer at a time, concurrent snapshot readers.
pub trait Store: Send + Sync {
    /// Run `f` as one write, committed durably when it returns true and undone otherwise;
    /// the call returns once the commit is on disk. Writes run one at a time, in an order;
    /// several may share one transaction and one fsync (group commit), each undone alone if
    /// it fails. `after(order)` runs once the commit is visible to readers: a write with a
    /// higher `order` ran after this one and saw what it did.
    fn write_tx(&self, f: &mut dyn FnMut(&dyn Tx) -> bool, after: &mut dyn FnMut(u64)) -> Result<(), StoreError>;
    /// Run `f` in a read transaction (a consistent snapshot).
    fn read_tx(&self, f: &mut dyn FnMut(&dyn Tx)) -> Result<(), StoreError>;
    /// Like `write_tx`, for bulk loading: the commit need not be flushed to disk (seeding only;
    /// a crash may lose the last batch, never corrupt the store).
    fn bulk_tx(&self, f: &mut dyn FnMut(&dyn Tx) -> bool) -> Result<(), StoreError>;
    /// The partition number of (account, region), created on first use.
    fn part(&self, account: &str, region: &str) -> Result<i64, StoreError>;
    /// Forget every resource, timer, token, dead letter and export job (keeps the metadata:
    /// token secret and clock).
    fn reset(&self) -> Result<(), StoreError>;
    /// Forget what `reset` forgets, in one partition only.
    fn reset_part(&self, part: i64) -> Result<(), StoreError>;
}

impl dyn Store + '_ {
    /// Run `f` in a write transaction; commit if it succeeds.
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&dyn Tx) -> Result<T, E>) -> Result<T, E> {
        self.write_then(f, |_, _| ())
    }

    /// Like `write`, then `after(order, &result)` once the commit is visible (see `write_tx`).
    pub fn write_then<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&dyn Tx) -> Result<T, E>,
        after: impl FnOnce(u64, &T),
    ) -> Result<T, E> {
        let out = RefCell::new(None);
        let mut f = Some(f);
        let mut after = Some(after);
        self.write_tx(
            &mut |tx| {
                let Some(f) = f.take() else { return false };
                let r = f(tx);
                let ok = r.is_ok();
                *out.borrow_mut() = Some(r);
                ok
            },
            &mut |order| {
                if let (Some(Ok(v)), Some(a)) = (out.borrow().as_ref(), after.take()) {
                    a(order, v);
                }
            },
        )?;
        out.into_inner()
            .unwrap_or_else(|| Err(StoreError::msg("the transaction did not run").into()))
    }

    /// Run `f` in a read transaction.
    pub fn read<T, E: From<StoreError>>(&self, f: impl FnOnce(&dyn Tx) -> Result<T, E>) -> Result<T, E> {
        let mut out = None;
        let mut f = Some(f);
        self.read_tx(&mut |tx| {
            if let Some(f) = f.take() {
                out = Some(f(tx));
            }
        })?;
        out.unwrap_or_else(|| Err(StoreError::msg("the transaction did not run").into()))
    }

    /// Run `f` as a bulk write (see `bulk_tx`).
    pub fn bulk<T>(&self, f: impl FnOnce(&dyn Tx) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut out = None;
        let mut f = Some(f);
        self.bulk_tx(&mut |tx| {
            let Some(f) = f.take() else { return false };
            let r = f(tx);
            let ok = r.is_ok();
            out = Some(r);
            ok
        })?;
        out.unwrap_or_else(|| Err(StoreError::msg("the transaction did not run")))
    }
}

impl dyn Tx + '_ {
    /// Run `f` in a savepoint: on error only its own changes are undone, and the error is
    /// returned inside `Ok` (the transaction itself goes on).
    pub fn isolated<T, E>(&self, f: impl FnOnce(&dyn Tx) -> Result<T, E>) -> Result<Result<T, E>, StoreError> {
        let mut out = None;
        let mut f = Some(f);
        self.savepoint(&mut |tx| {
            let Some(f) = f.take() else { return false };
            let r = f(tx);
            let ok = r.is_ok();
            out = Some(r);
            ok
        })?;
        out.ok_or_else(|| StoreError::msg("the savepoint did not run"))
    }
}
