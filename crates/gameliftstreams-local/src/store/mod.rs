//! Durable state in embedded SQLite: schema and migrations, resource documents, the session
//! listing indexes (keyset pagination, O(page + log N)), durable timers and service metadata.
//! One writer connection (WAL, synchronous=FULL: a committed write survives kill -9) and a
//! small pool of reader connections. No HTTP and no wire types' routing knowledge here.

mod schema;
pub mod sessions;
pub mod urls;

pub use sessions::{SessionFilter, SessionInternal, SessionRow};

use crate::domain::cursor::Position;
use crate::domain::lifecycle::TimerKind;
use crate::domain::ApiError;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A failure of the storage engine; it reaches clients only as InternalServerException.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::internal(StoreError(e))
    }
}

/// A value as the JSON text a row stores.
pub fn to_json<T: serde::Serialize>(t: &T) -> Result<String, StoreError> {
    serde_json::to_string(t).map_err(|e| StoreError(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))
}

/// A stored JSON column read back (inside a row mapping).
pub fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// The two resource tables that share one layout: a JSON document keyed by id, listed by
/// (CreatedAt, Id).
#[derive(Clone, Copy, Debug)]
pub enum DocTable {
    /// Applications.
    Applications,
    /// Stream groups.
    StreamGroups,
}

impl DocTable {
    fn name(self) -> &'static str {
        match self {
            DocTable::Applications => "applications",
            DocTable::StreamGroups => "stream_groups",
        }
    }
}

/// A due timer.
#[derive(Debug, Clone)]
pub struct Timer {
    /// Row id, for deletion.
    pub seq: i64,
    /// When it falls due, epoch millis of service time.
    pub due_at: i64,
    /// The partition of the resource.
    pub part: i64,
    /// What happens.
    pub kind: TimerKind,
    /// The resource id (session timers: the session id).
    pub resource: String,
}

/// The store: one writer, pooled readers.
pub struct Store {
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: Option<PathBuf>,
    parts: Mutex<HashMap<(String, String), i64>>,
}

const READERS: usize = 4;

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Store {
    /// Open (creating and migrating) the store in `dir/state.db`.
    pub fn open_dir(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        let path = dir.join("state.db");
        let mut writer = open(&path)?;
        schema::migrate(&mut writer)?;
        Ok(Store {
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            path: Some(path),
            parts: Mutex::default(),
        })
    }

    /// A store that lives in memory only (one connection serves reads and writes).
    pub fn in_memory() -> Result<Store, StoreError> {
        let mut writer = Connection::open_in_memory()?;
        schema::migrate(&mut writer)?;
        Ok(Store {
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            path: None,
            parts: Mutex::default(),
        })
    }

    /// Run `f` in an IMMEDIATE transaction on the writer and commit if it succeeds.
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E> {
        self.write_then(f, |_| ())
    }

    /// Like `write`, then `after(&result)` once the commit is visible to readers, still
    /// holding the writer lock (so no later write can publish before it).
    pub fn write_then<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
        after: impl FnOnce(&T),
    ) -> Result<T, E> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError)?;
        let out = f(&tx)?;
        tx.commit().map_err(StoreError)?;
        after(&out);
        Ok(out)
    }

    /// Like `write`, for bulk loading: the commit is not flushed to disk (seeding only;
    /// a crash mid-seed may lose the last batch, never corrupt the database).
    pub fn bulk<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        {
            let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
        let out = self.write(f);
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        conn.pragma_update(None, "synchronous", "FULL")?;
        out
    }

    /// Run `f` in a read transaction (a consistent snapshot) on a pooled reader.
    pub fn read<T, E: From<StoreError>>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E> {
        let Some(path) = &self.path else {
            return self.write(f);
        };
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => open(path)?,
        };
        let out = {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Deferred)
                .map_err(StoreError)?;
            let out = f(&tx);
            tx.finish().map_err(StoreError)?;
            out
        };
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < READERS {
            pool.push(conn);
        }
        out
    }

    /// The partition number of (account, region), created on first use.
    pub fn part(&self, account: &str, region: &str) -> Result<i64, StoreError> {
        let key = (account.to_string(), region.to_string());
        if let Some(p) = self.parts.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(*p);
        }
        let p = self.write(|tx| part_in(tx, account, region))?;
        self.parts.lock().unwrap_or_else(|p| p.into_inner()).insert(key, p);
        Ok(p)
    }

    /// Forget every resource, timer and token (keeps the secret and the clock).
    pub fn reset(&self) -> Result<(), StoreError> {
        self.parts.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.write(|tx| {
            tx.execute_batch(
                "DELETE FROM sessions; DELETE FROM applications; DELETE FROM stream_groups;
                 DELETE FROM timers; DELETE FROM client_tokens; DELETE FROM partitions;
                 DELETE FROM stream_urls;",
            )?;
            Ok::<_, StoreError>(())
        })
    }
}

/// The partition number of (account, region) inside a transaction.
pub fn part_in(tx: &Connection, account: &str, region: &str) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO partitions(account, region) VALUES (?1, ?2)",
        params![account, region],
    )?;
    Ok(tx.query_row(
        "SELECT part FROM partitions WHERE account = ?1 AND region = ?2",
        params![account, region],
        |r| r.get(0),
    )?)
}

/// A metadata value.
pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Set a metadata value.
pub fn meta_set(conn: &Connection, key: &str, value: &[u8]) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Insert a resource document.
pub fn doc_insert(
    tx: &Connection,
    t: DocTable,
    part: i64,
    id: &str,
    created_at: i64,
    doc: &str,
    tags: &str,
) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "INSERT INTO {}(part, id, created_at, doc, tags) VALUES (?1, ?2, ?3, ?4, ?5)",
            t.name()
        ),
        params![part, id, created_at, doc, tags],
    )?;
    Ok(())
}

/// A resource document and its tags.
pub fn doc_get(conn: &Connection, t: DocTable, part: i64, id: &str) -> Result<Option<(String, String)>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT doc, tags FROM {} WHERE part = ?1 AND id = ?2", t.name()),
            params![part, id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Replace a resource document.
pub fn doc_update(tx: &Connection, t: DocTable, part: i64, id: &str, doc: &str) -> Result<(), StoreError> {
    tx.execute(
        &format!("UPDATE {} SET doc = ?3 WHERE part = ?1 AND id = ?2", t.name()),
        params![part, id, doc],
    )?;
    Ok(())
}

/// Delete a resource document.
pub fn doc_delete(tx: &Connection, t: DocTable, part: i64, id: &str) -> Result<(), StoreError> {
    tx.execute(
        &format!("DELETE FROM {} WHERE part = ?1 AND id = ?2", t.name()),
        params![part, id],
    )?;
    Ok(())
}

/// Replace a resource's tags.
pub fn tags_set(tx: &Connection, t: DocTable, part: i64, id: &str, tags: &str) -> Result<(), StoreError> {
    tx.execute(
        &format!("UPDATE {} SET tags = ?3 WHERE part = ?1 AND id = ?2", t.name()),
        params![part, id, tags],
    )?;
    Ok(())
}

/// Up to `limit` documents after `after` in (CreatedAt, Id) order, with their keys.
pub fn doc_page(
    conn: &Connection,
    t: DocTable,
    part: i64,
    after: Option<&Position>,
    limit: usize,
) -> Result<Vec<(Position, String)>, StoreError> {
    let (ca, id) = after.map(|p| (p.created_at, p.id.as_str())).unwrap_or((i64::MIN, ""));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT created_at, id, doc FROM {} WHERE part = ?1 AND (created_at, id) > (?2, ?3)
         ORDER BY created_at, id LIMIT ?4",
        t.name()
    ))?;
    let rows = stmt.query_map(params![part, ca, id, limit as i64], |r| {
        Ok((
            Position {
                created_at: r.get(0)?,
                id: r.get(1)?,
            },
            r.get(2)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Count the documents of a partition.
pub fn doc_count(conn: &Connection, t: DocTable, part: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        &format!("SELECT count(*) FROM {} WHERE part = ?1", t.name()),
        [part],
        |r| r.get(0),
    )?)
}

/// Schedule a timed transition.
pub fn timer_add(tx: &Connection, due_at: i64, part: i64, kind: TimerKind, resource: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO timers(due_at, part, kind, resource) VALUES (?1, ?2, ?3, ?4)",
        params![due_at, part, kind.as_str(), resource],
    )?;
    Ok(())
}

/// The earliest due time of any timer.
pub fn timer_next(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn.query_row("SELECT min(due_at) FROM timers", [], |r| r.get(0))?)
}

/// The earliest timer due at or before `now`, if any.
pub fn timer_first_due(conn: &Connection, now: i64) -> Result<Option<Timer>, StoreError> {
    let row = conn
        .query_row(
            "SELECT seq, due_at, part, kind, resource FROM timers WHERE due_at <= ?1 ORDER BY due_at, seq LIMIT 1",
            [now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?, r.get(4)?)),
        )
        .optional()?;
    Ok(row.and_then(|(seq, due_at, part, kind, resource)| {
        TimerKind::parse(&kind).map(|kind| Timer {
            seq,
            due_at,
            part,
            kind,
            resource,
        })
    }))
}

/// Remove a timer once it has fired.
pub fn timer_delete(tx: &Connection, seq: i64) -> Result<(), StoreError> {
    tx.execute("DELETE FROM timers WHERE seq = ?1", [seq])?;
    Ok(())
}

/// The account and region of a partition.
pub fn part_scope(conn: &Connection, part: i64) -> Result<Option<(String, String)>, StoreError> {
    Ok(conn
        .query_row("SELECT account, region FROM partitions WHERE part = ?1", [part], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// A remembered ClientToken: the request fingerprint and the resource it created.
pub fn client_token_get(
    conn: &Connection,
    part: i64,
    op: &str,
    token: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT fingerprint, resource FROM client_tokens WHERE part = ?1 AND operation = ?2 AND token = ?3",
            params![part, op, token],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Remember a ClientToken.
pub fn client_token_put(
    tx: &Connection,
    part: i64,
    op: &str,
    token: &str,
    fingerprint: &str,
    resource: &str,
    at: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO client_tokens(part, operation, token, fingerprint, resource, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![part, op, token, fingerprint, resource, at],
    )?;
    Ok(())
}
