//! The SQLite writer: writes run one at a time on one connection, and those that arrive
//! while others run share their transaction and their fsync (group commit).
//!
//! A write that finds no transaction open begins one; a write that finds one open joins it
//! in a savepoint of its own, so a failed write is undone alone. When a write is done and
//! others are waiting for the connection, it leaves the transaction open for them and waits;
//! the last one (no one waiting, or the batch full) commits, and every write of the batch
//! learns the outcome. The commit itself does not wait for the disk (`synchronous=NORMAL`:
//! it is in the WAL, which survives kill -9); each write then waits for an fsync of the WAL
//! that began after its commit ([`WalSync`]), so the next batch is built while one fsync
//! runs. A write is acknowledged only once its commit is on disk.

use super::sqlite::SqliteTx;
use super::{StoreError, Tx};
use rusqlite::Connection;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Writes in one transaction at most.
const MAX_BATCH: usize = 64;

/// The connection and the batch open on it.
struct State {
    conn: Connection,
    /// The number of the batch whose transaction is open.
    open: Option<u64>,
    /// Writes in the open batch.
    members: usize,
    /// The last batch number given out.
    batches: u64,
    /// Writes run so far (the order handed to `after`).
    order: u64,
}

/// Outcomes of finished batches.
struct Done {
    /// Every batch up to this number is finished.
    upto: u64,
    /// The recent batches whose commit failed, with the error.
    failed: VecDeque<(u64, String)>,
}

/// The writer: one connection, batches of writes, and the fsync they share.
pub(super) struct Writer {
    state: Mutex<State>,
    /// Threads waiting for the connection.
    queued: AtomicUsize,
    done: Mutex<Done>,
    finished: Condvar,
    wal: Option<WalSync>,
}

impl Writer {
    /// The writer over `conn`; `db` is the database file for a store on disk (its WAL is
    /// synced by the writer), `None` in memory.
    pub(super) fn new(conn: Connection, db: Option<&Path>) -> Result<Writer, StoreError> {
        if db.is_some() {
            // Commits reach the disk through `WalSync`.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        // Savepoint journals stay in memory (SQLite writes them to a temporary file past
        // 64 KiB otherwise).
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(Writer {
            state: Mutex::new(State {
                conn,
                open: None,
                members: 0,
                batches: 0,
                order: 0,
            }),
            queued: AtomicUsize::new(0),
            done: Mutex::new(Done {
                upto: 0,
                failed: VecDeque::new(),
            }),
            finished: Condvar::new(),
            wal: db.map(WalSync::new),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.queued.fetch_sub(1, Ordering::SeqCst);
        st
    }

    /// Run `f` as one write (see the module doc); `after(order)` once its commit is visible.
    pub(super) fn write(
        &self,
        f: &mut dyn FnMut(&dyn Tx) -> bool,
        after: &mut dyn FnMut(u64),
    ) -> Result<(), StoreError> {
        let mut st = self.lock();
        let first = st.open.is_none();
        let batch = match st.open {
            Some(b) => {
                if let Err(e) = exec(&st.conn, "SAVEPOINT member") {
                    return Err(self.abort(&mut st, e));
                }
                b
            }
            None => {
                exec(&st.conn, "BEGIN IMMEDIATE")?;
                st.batches += 1;
                let b = st.batches;
                st.open = Some(b);
                b
            }
        };
        let ok = f(&SqliteTx::new(&st.conn));
        st.order += 1;
        let order = st.order;
        if first && !ok {
            // Alone in its transaction: undo all of it.
            st.open = None;
            exec(&st.conn, "ROLLBACK")?;
            return Ok(());
        }
        if !first {
            let end = if ok {
                exec(&st.conn, "RELEASE member")
            } else {
                exec(&st.conn, "ROLLBACK TO member").and_then(|()| exec(&st.conn, "RELEASE member"))
            };
            if let Err(e) = end {
                return Err(self.abort(&mut st, e));
            }
        }
        st.members += 1;
        // The others of the batch wait for this one's decision, failed or not.
        let outcome = if self.queued.load(Ordering::SeqCst) > 0 && st.members < MAX_BATCH {
            drop(st);
            self.wait(batch)
        } else {
            let r = self.commit(&mut st);
            drop(st);
            r
        };
        if !ok {
            return Ok(());
        }
        outcome?;
        after(order);
        self.durable(batch)
    }

    /// Run `f` on the connection alone, outside any batch (the open one is committed first);
    /// with `durable`, return once what it committed is on disk.
    pub(super) fn exclusive<T>(
        &self,
        durable: bool,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut st = self.lock();
        if st.open.is_some() {
            // Its writes learn the outcome; this caller goes on either way.
            let _ = self.commit(&mut st);
        }
        let out = f(&mut st.conn)?;
        st.batches += 1;
        let b = st.batches;
        if let Some(w) = &self.wal {
            w.committed.store(b, Ordering::SeqCst);
        }
        self.finish(b, None);
        drop(st);
        if durable {
            self.durable(b)?;
        }
        Ok(out)
    }

    /// Commit the open batch and tell its writes.
    fn commit(&self, st: &mut State) -> Result<(), StoreError> {
        let Some(b) = st.open.take() else {
            return Ok(());
        };
        st.members = 0;
        match exec(&st.conn, "COMMIT") {
            Ok(()) => {
                if let Some(w) = &self.wal {
                    w.committed.store(b, Ordering::SeqCst);
                }
                self.finish(b, None);
                Ok(())
            }
            Err(e) => {
                let _ = st.conn.execute_batch("ROLLBACK");
                let e = e.to_string();
                self.finish(b, Some(e.clone()));
                Err(StoreError::msg(e))
            }
        }
    }

    /// The open batch cannot go on (a savepoint statement failed): roll all of it back.
    fn abort(&self, st: &mut State, e: StoreError) -> StoreError {
        if let Some(b) = st.open.take() {
            st.members = 0;
            let _ = st.conn.execute_batch("ROLLBACK");
            self.finish(b, Some(e.to_string()));
        }
        e
    }

    fn finish(&self, batch: u64, failure: Option<String>) {
        let mut d = self.done.lock().unwrap_or_else(|p| p.into_inner());
        d.upto = d.upto.max(batch);
        if let Some(why) = failure {
            if d.failed.len() >= MAX_BATCH {
                d.failed.pop_front();
            }
            d.failed.push_back((batch, why));
        }
        self.finished.notify_all();
    }

    /// Wait until `batch` is finished; its outcome.
    fn wait(&self, batch: u64) -> Result<(), StoreError> {
        let mut d = self.done.lock().unwrap_or_else(|p| p.into_inner());
        while d.upto < batch {
            d = self.finished.wait(d).unwrap_or_else(|p| p.into_inner());
        }
        match d.failed.iter().find(|(b, _)| *b == batch) {
            Some((_, why)) => Err(StoreError::msg(format!("the commit failed: {why}"))),
            None => Ok(()),
        }
    }

    fn durable(&self, batch: u64) -> Result<(), StoreError> {
        match &self.wal {
            Some(w) => w.flush(batch),
            None => Ok(()),
        }
    }
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// The WAL's fsync, shared: a caller that needs commit `n` on disk and finds no fsync begun
/// after it runs one for every commit made so far. SQLite itself syncs the WAL before a
/// checkpoint and the database file after it (`synchronous=NORMAL`).
struct WalSync {
    path: PathBuf,
    /// The last batch committed to the WAL file.
    committed: AtomicU64,
    flushed: Mutex<Flushed>,
}

struct Flushed {
    /// Batches covered by a completed fsync.
    upto: u64,
    /// The WAL file and its inode (reopened if SQLite ever replaces the file).
    file: Option<(std::fs::File, u64)>,
}

impl WalSync {
    fn new(db: &Path) -> WalSync {
        let mut path = db.as_os_str().to_owned();
        path.push("-wal");
        WalSync {
            path: path.into(),
            committed: AtomicU64::new(0),
            flushed: Mutex::new(Flushed { upto: 0, file: None }),
        }
    }

    /// Return once batch `n` is on disk.
    fn flush(&self, n: u64) -> Result<(), StoreError> {
        use std::os::unix::fs::MetadataExt;
        let io = |e: std::io::Error| StoreError(Box::new(e));
        let mut f = self.flushed.lock().unwrap_or_else(|p| p.into_inner());
        if f.upto >= n {
            return Ok(());
        }
        // Every batch committed by now is written to the WAL file.
        let upto = self.committed.load(Ordering::SeqCst);
        let ino = std::fs::metadata(&self.path).map_err(io)?.ino();
        if f.file.as_ref().is_none_or(|(_, i)| *i != ino) {
            f.file = Some((std::fs::File::open(&self.path).map_err(io)?, ino));
        }
        if let Some((file, _)) = &f.file {
            file.sync_data().map_err(io)?;
        }
        f.upto = upto;
        Ok(())
    }
}
