//! The embedded SQLite backend: the store over one writer connection (WAL; batching and
//! group commit in `writer`), a small pool of reader connections, savepoints, and the JSON
//! column codec shared by the table modules.

use super::sql::{Exec, Param, Row, Value};
use super::writer::Writer;
use super::{schema, Store, StoreError, Tx};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(Box::new(e))
    }
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        StoreError(Box::new(e))
    }
}

impl From<rusqlite::Error> for crate::domain::ApiError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::from(e).into()
    }
}

/// A stored JSON column read back (inside a row mapping).
pub(super) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// One open transaction (write, read or bulk) of the SQLite backend.
pub(super) struct SqliteTx<'c> {
    pub(super) conn: &'c Connection,
    depth: Cell<u32>,
    /// In a bulk load: the session counts its inserts add, written once at its end (the
    /// counting insert trigger is off meanwhile; a trigger per row costs a third of a load).
    pub(super) bulk_counts: Option<RefCell<BulkCounts>>,
}

/// Sessions added per (partition, status code, export code or -1).
pub(super) type BulkCounts = HashMap<(i64, i64, i64), i64>;

impl<'c> SqliteTx<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        SqliteTx {
            conn,
            depth: Cell::new(0),
            bulk_counts: None,
        }
    }
}

impl SqliteTx<'_> {
    /// Write the session counts a bulk load's inserts added so far (before anything that the
    /// other counting triggers see: an update or a delete).
    pub(super) fn flush_counts(&self) -> Result<(), StoreError> {
        let Some(counts) = &self.bulk_counts else {
            return Ok(());
        };
        let mut add = self.conn.prepare_cached(
            "INSERT INTO session_counts (part, status, export, n) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (part, status, export) DO UPDATE SET n = n + excluded.n",
        )?;
        for ((part, status, export), n) in counts.borrow_mut().drain() {
            add.execute(rusqlite::params![part, status, export, n])?;
        }
        Ok(())
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Int(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
            Param::Blob(v) => v.to_sql(),
            Param::OptText(v) => v.to_sql(),
            Param::OptInt(v) => v.to_sql(),
        }
    }
}

impl Exec for SqliteTx<'_> {
    fn exec(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let changed = self
            .conn
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(changed as u64)
    }

    fn rows_upto(&self, sql: &str, params: &[Param<'_>], limit: usize) -> Result<Vec<Row>, StoreError> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.conn.prepare_cached(sql)?;
        let n = stmt.column_count();
        let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(v) => Value::Int(v),
                        ValueRef::Real(v) => Value::Int(v as i64),
                        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
                .map(Row)
        })?;
        // (The walk is lazy: the rows past the limit are never read.)
        Ok(rows.take(limit).collect::<Result<_, _>>()?)
    }
}

/// The trigger that counts inserted sessions, which a bulk load replaces by one count.
const COUNT_TRIGGER: &str = "session_counts_insert";

impl Tx for SqliteTx<'_> {
    super::tables_are_self!();

    fn savepoint(&self, f: &mut dyn FnMut(&dyn Tx) -> bool) -> Result<bool, StoreError> {
        // Cached statements: a timer fires in a savepoint, so these run often.
        let run = |sql: String| -> Result<(), StoreError> {
            self.conn.prepare_cached(&sql)?.execute([])?;
            Ok(())
        };
        let depth = self.depth.get();
        run(format!("SAVEPOINT sp{depth}"))?;
        self.depth.set(depth + 1);
        let keep = f(self);
        self.depth.set(depth);
        if !keep {
            run(format!("ROLLBACK TO sp{depth}"))?;
        }
        run(format!("RELEASE sp{depth}"))?;
        Ok(keep)
    }
}

/// The SQLite store: one writer, pooled readers.
pub struct SqliteStore {
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    path: Option<PathBuf>,
    parts: Mutex<HashMap<(String, String), i64>>,
    /// The data dir's lock, held for as long as the store is open.
    _lock: Option<std::fs::File>,
}

const READERS: usize = 4;

/// A data dir in use by another process.
#[derive(Debug)]
pub struct DirInUse {
    dir: PathBuf,
    pid: Option<u32>,
}

impl std::fmt::Display for DirInUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "data dir {} is in use by process {pid}", self.dir.display()),
            None => write!(f, "data dir {} is in use by another process", self.dir.display()),
        }
    }
}

impl std::error::Error for DirInUse {}

/// Take the data dir's exclusive lock (`<dir>/lock`, holding the owner's process id): one
/// process at a time serves or seeds a data dir (whatever its store: the data dir also holds
/// the process's files). The operating system releases it when the process ends, however it
/// ends.
pub fn lock_dir(dir: &Path) -> Result<std::fs::File, StoreError> {
    use std::io::{Read, Seek, Write};
    let io = |e: std::io::Error| StoreError(Box::new(e));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("lock"))
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(StoreError(Box::new(DirInUse {
                dir: dir.to_path_buf(),
                pid: text.trim().parse().ok(),
            })));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(file)
}

/// The page cache of a bulk load (KiB): its index inserts land all over ten indexes.
const BULK_CACHE_KIB: i64 = 512 * 1024;

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

impl SqliteStore {
    /// Open (creating and migrating) the store in `dir/state.db`.
    pub fn open_dir(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError(Box::new(e)))?;
        let lock = lock_dir(dir)?;
        let path = dir.join("state.db");
        let mut writer = open(&path)?;
        schema::migrate(&mut writer)?;
        Ok(SqliteStore {
            writer: Writer::new(writer, Some(&path))?,
            readers: Mutex::new(Vec::new()),
            path: Some(path),
            parts: Mutex::default(),
            _lock: Some(lock),
        })
    }

    /// A store that lives in memory only (one connection serves reads and writes).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        let mut writer = Connection::open_in_memory()?;
        schema::migrate(&mut writer)?;
        Ok(SqliteStore {
            writer: Writer::new(writer, None)?,
            readers: Mutex::new(Vec::new()),
            path: None,
            parts: Mutex::default(),
            _lock: None,
        })
    }
}

impl Store for SqliteStore {
    fn write_tx(&self, f: &mut dyn FnMut(&dyn Tx) -> bool, after: &mut dyn FnMut(u64)) -> Result<(), StoreError> {
        self.writer.write(f, after)
    }

    fn read_tx(&self, f: &mut dyn FnMut(&dyn Tx)) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return self.write_tx(
                &mut |tx| {
                    f(tx);
                    false
                },
                &mut |_| (),
            );
        };
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => open(path)?,
        };
        // A read transaction from cached statements (`transaction()` parses BEGIN and COMMIT
        // on every call).
        conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
        f(&SqliteTx::new(&conn));
        if let Err(e) = conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])) {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < READERS {
            pool.push(conn);
        }
        Ok(())
    }

    fn bulk_tx(&self, f: &mut dyn FnMut(&dyn Tx) -> bool) -> Result<(), StoreError> {
        self.writer.exclusive(false, |conn| {
            let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
            let cache: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
            conn.pragma_update(None, "synchronous", "OFF")?;
            conn.pragma_update(None, "cache_size", -(BULK_CACHE_KIB))?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let trigger: String = tx.query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                [COUNT_TRIGGER],
                |r| r.get(0),
            )?;
            tx.execute_batch(&format!("DROP TRIGGER {COUNT_TRIGGER}"))?;
            let mut bulk = SqliteTx::new(&tx);
            bulk.bulk_counts = Some(RefCell::default());
            let ok = f(&bulk);
            let out = if ok {
                bulk.flush_counts()?;
                drop(bulk);
                tx.execute_batch(&trigger)?;
                tx.commit()
            } else {
                tx.rollback()
            };
            conn.pragma_update(None, "synchronous", sync)?;
            // The bulk cache is given back (a smaller cache_size frees the pages above it).
            conn.pragma_update(None, "cache_size", cache)?;
            Ok(out?)
        })
    }

    fn part(&self, account: &str, region: &str) -> Result<i64, StoreError> {
        let key = (account.to_string(), region.to_string());
        if let Some(p) = self.parts.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(*p);
        }
        let p = (self as &dyn Store).write(|tx| tx.partitions().part(account, region))?;
        self.parts.lock().unwrap_or_else(|p| p.into_inner()).insert(key, p);
        Ok(p)
    }

    fn reset(&self) -> Result<(), StoreError> {
        self.parts.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.writer.exclusive(true, |conn| {
            conn.execute_batch(
                "BEGIN IMMEDIATE;
                 DELETE FROM sessions; DELETE FROM applications; DELETE FROM stream_groups;
                 DELETE FROM timers; DELETE FROM idempotency; DELETE FROM partitions;
                 DELETE FROM stream_urls; DELETE FROM dead_timers; DELETE FROM export_jobs;
                 DELETE FROM builds;
                 COMMIT;",
            )?;
            Ok(())
        })
    }

    fn reset_part(&self, part: i64) -> Result<(), StoreError> {
        self.writer.exclusive(true, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            super::sql::delete_partition(&SqliteTx::new(&tx), part)?;
            tx.commit()?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_savepoint_undoes_only_its_own_changes() {
        let store: Box<dyn Store> = Box::new(SqliteStore::in_memory().unwrap());
        store
            .write(|tx| {
                tx.meta().set("kept", b"1")?;
                let r = tx.isolated(|tx| {
                    tx.meta().set("undone", b"1")?;
                    Err::<(), _>(StoreError::msg("boom"))
                })?;
                assert!(r.is_err());
                let r = tx.isolated(|tx| tx.meta().set("also kept", b"1"))?;
                assert!(r.is_ok());
                Ok::<_, StoreError>(())
            })
            .unwrap();
        store
            .read(|tx| {
                assert!(tx.meta().get("kept")?.is_some());
                assert!(tx.meta().get("also kept")?.is_some());
                assert!(tx.meta().get("undone")?.is_none());
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn concurrent_writes_share_commits_yet_fail_alone_and_last() {
        let dir = tempfile::tempdir().unwrap();
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
        let orders = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in 0..8 {
                let (store, orders) = (&store, &orders);
                s.spawn(move || {
                    for i in 0..40 {
                        let key = format!("k{t}-{i}");
                        let r = store.write_then(
                            |tx| {
                                tx.meta().set(&key, b"1")?;
                                if i % 3 == 0 {
                                    return Err(StoreError::msg("refused"));
                                }
                                Ok(())
                            },
                            |order, _| orders.lock().unwrap().push(order),
                        );
                        assert_eq!(r.is_ok(), i % 3 != 0, "{key}");
                    }
                });
            }
        });
        let mut orders = orders.into_inner().unwrap();
        let n = orders.len();
        orders.sort();
        orders.dedup();
        assert_eq!(
            (n, orders.len()),
            (8 * 26, 8 * 26),
            "every kept write has its own order"
        );
        drop(store);
        let store: Box<dyn Store> = Box::new(SqliteStore::open_dir(dir.path()).unwrap());
        store
            .read(|tx| {
                for t in 0..8 {
                    for i in 0..40 {
                        let kept = tx.meta().get(&format!("k{t}-{i}"))?.is_some();
                        assert_eq!(kept, i % 3 != 0, "k{t}-{i}");
                    }
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn a_failed_write_commits_nothing() {
        let store: Box<dyn Store> = Box::new(SqliteStore::in_memory().unwrap());
        let r = store.write(|tx| {
            tx.meta().set("x", b"1")?;
            Err::<(), _>(StoreError::msg("no"))
        });
        assert!(r.is_err());
        assert!(store.read(|tx| tx.meta().get("x")).unwrap().is_none());
    }
}
