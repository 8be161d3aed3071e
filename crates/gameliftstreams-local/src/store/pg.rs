//! The PostgreSQL backend, for a region whose instances share one database: a connection
//! pool (r2d2 over the `postgres` client), the schema as versioned migrations applied under an
//! advisory lock (instances that start together migrate once), the tables in the SQL shared
//! with SQLite (`store::sql`; `?N` written `$N`), and [`PgStore`]: writes one at a time across
//! every instance under an advisory lock, reads in a snapshot. Nothing outside `store` sees a
//! `postgres` type.

use super::sessions::{self, LiveBy, QueuePosition, SessionCounts, SessionFilter, SessionRow};
use super::sql::{Exec, Param, Row, Value};
use super::{Sessions, Store, StoreError, Tx};
use crate::domain::cursor::Position;
use gls_model::{GetStreamSessionOutput, StreamSessionStatus};
use r2d2_postgres::postgres::{self, NoTls};
use r2d2_postgres::{r2d2, PostgresConnectionManager};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError(Box::new(e))
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError(Box::new(e))
    }
}

/// The advisory lock that migrations hold (any number: the same for every instance).
const MIGRATION_LOCK: i64 = 0x0067_6c73_5f6d_6967;

/// The advisory lock every write transaction holds: writes run one at a time across every
/// instance of the region, as they do on SQLite's one writer, so that each sees what every
/// earlier one committed (READ COMMITTED statements under the lock) and the invariants that
/// span rows (capacity, quotas, ClientTokens, URL uses) hold without retries.
const WRITE_LOCK: i64 = 0x0067_6c73_5f77_7269;

/// Each entry moves the schema one version forward; never edit a released entry. Version 1
/// is the SQLite schema as it stands at its version 8, in PostgreSQL's terms: the same tables,
/// columns and indexes (so that the listing SQL is shared), ids compared bytewise
/// (`COLLATE "C"`, as SQLite does), the session counts kept by one trigger function.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE partitions (
    part BIGSERIAL PRIMARY KEY,
    account TEXT COLLATE "C" NOT NULL,
    region TEXT COLLATE "C" NOT NULL,
    UNIQUE (account, region)
);
CREATE TABLE applications (
    part BIGINT NOT NULL, id TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL,
    doc TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (part, id)
);
CREATE INDEX applications_list ON applications (part, created_at, id);
CREATE INDEX applications_id ON applications (id);
CREATE TABLE stream_groups (
    part BIGINT NOT NULL, id TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL,
    doc TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (part, id)
);
CREATE INDEX stream_groups_list ON stream_groups (part, created_at, id);
CREATE INDEX stream_groups_id ON stream_groups (id);
-- (`rowid`: SQLite's implicit row id made a column: sessions created at the same millisecond
-- keep the order they were created in, for the placement queue.)
CREATE TABLE sessions (
    rowid BIGSERIAL,
    part BIGINT NOT NULL, id TEXT COLLATE "C" NOT NULL, group_id TEXT COLLATE "C" NOT NULL,
    app_id TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL, status BIGINT NOT NULL,
    export_status BIGINT, doc TEXT NOT NULL, internal TEXT NOT NULL DEFAULT '{}', summary TEXT,
    waiting BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (part, id)
);
CREATE INDEX sessions_all ON sessions (part, created_at, id);
CREATE INDEX sessions_status ON sessions (part, status, created_at, id);
CREATE INDEX sessions_group ON sessions (part, group_id, created_at, id);
CREATE INDEX sessions_group_status ON sessions (part, group_id, status, created_at, id);
CREATE INDEX sessions_export ON sessions (part, export_status, created_at, id)
    WHERE export_status IS NOT NULL;
CREATE INDEX sessions_status_export ON sessions (part, status, export_status, created_at, id)
    WHERE export_status IS NOT NULL;
CREATE INDEX sessions_group_export ON sessions (part, group_id, export_status, created_at, id)
    WHERE export_status IS NOT NULL;
CREATE INDEX sessions_group_status_export
    ON sessions (part, group_id, status, export_status, created_at, id)
    WHERE export_status IS NOT NULL;
CREATE INDEX sessions_app ON sessions (part, app_id, status);
CREATE INDEX sessions_id ON sessions (id);
CREATE INDEX sessions_waiting ON sessions (part, group_id, created_at, rowid) WHERE waiting = 1;
CREATE TABLE session_counts (
    part BIGINT NOT NULL, status BIGINT NOT NULL, export BIGINT NOT NULL, n BIGINT NOT NULL,
    PRIMARY KEY (part, status, export)
);
CREATE FUNCTION session_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE session_counts SET n = n - 1
            WHERE part = OLD.part AND status = OLD.status AND export = coalesce(OLD.export_status, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO session_counts (part, status, export, n)
            VALUES (NEW.part, NEW.status, coalesce(NEW.export_status, -1), 1)
            ON CONFLICT (part, status, export) DO UPDATE SET n = session_counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER session_counts_insert_delete AFTER INSERT OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION session_counts_change();
CREATE TRIGGER session_counts_update AFTER UPDATE OF status, export_status ON sessions
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.export_status IS DISTINCT FROM NEW.export_status)
    EXECUTE FUNCTION session_counts_change();
CREATE TABLE stream_urls (
    part BIGINT NOT NULL, id TEXT COLLATE "C" NOT NULL, group_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL, status TEXT COLLATE "C" NOT NULL, doc TEXT NOT NULL,
    internal TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (part, id)
);
CREATE UNIQUE INDEX stream_urls_id ON stream_urls (id);
CREATE INDEX stream_urls_all ON stream_urls (part, created_at, id);
CREATE INDEX stream_urls_status ON stream_urls (part, status, created_at, id);
CREATE INDEX stream_urls_group ON stream_urls (part, group_id, created_at, id);
CREATE INDEX stream_urls_group_status ON stream_urls (part, group_id, status, created_at, id);
CREATE TABLE timers (
    seq BIGSERIAL PRIMARY KEY,
    due_at BIGINT NOT NULL, part BIGINT NOT NULL, kind TEXT COLLATE "C" NOT NULL,
    resource TEXT COLLATE "C" NOT NULL
);
CREATE INDEX timers_due ON timers (due_at, seq);
CREATE TABLE dead_timers (
    seq BIGINT PRIMARY KEY, due_at BIGINT NOT NULL, part BIGINT NOT NULL,
    kind TEXT COLLATE "C" NOT NULL, resource TEXT COLLATE "C" NOT NULL, error TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE TABLE idempotency (
    part BIGINT NOT NULL, operation TEXT COLLATE "C" NOT NULL, token TEXT COLLATE "C" NOT NULL,
    fingerprint TEXT NOT NULL, response TEXT NOT NULL, created_at BIGINT NOT NULL,
    PRIMARY KEY (part, operation, token)
);
CREATE TABLE export_jobs (
    seq BIGSERIAL PRIMARY KEY, part BIGINT NOT NULL, session TEXT COLLATE "C" NOT NULL,
    uri TEXT NOT NULL, ended_at BIGINT NOT NULL
);
-- (`rowid`: SQLite's implicit row id made a column, so that the shared SQL takes builds in
-- the order they were added.)
CREATE TABLE builds (
    rowid BIGSERIAL,
    part BIGINT NOT NULL, app TEXT COLLATE "C" NOT NULL, state TEXT COLLATE "C" NOT NULL,
    reason TEXT, message TEXT, awaiting BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (part, app)
);
CREATE INDEX builds_todo ON builds (state) WHERE state IN ('pending', 'deleted');
-- The order of writes (`Store::write_tx`'s `after`), taken under the write lock.
CREATE SEQUENCE write_order;
"#];

/// Connections to one PostgreSQL database, its schema brought up to date.
pub struct PgPool {
    /// (Taken when it is dropped: see `Drop`.)
    pool: Option<r2d2::Pool<PostgresConnectionManager<NoTls>>>,
}

impl Drop for PgPool {
    fn drop(&mut self) {
        // Closing a connection blocks on the client's runtime: not on the server's threads.
        if let Some(pool) = self.pool.take() {
            outside_async(move || drop(pool));
        }
    }
}

impl PgPool {
    /// Connect to the database at `url` (`postgres://user@host:port/db`, or any libpq
    /// connection string) with up to `size` connections, and migrate its schema.
    pub fn connect(url: &str, size: u32) -> Result<PgPool, StoreError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::msg(format!("the PostgreSQL URL {url:?}: {e}")))?;
        Self::with_config(config, size)
    }

    fn with_config(config: postgres::Config, size: u32) -> Result<PgPool, StoreError> {
        outside_async(|| {
            // (No round trip to test a connection at each checkout: a broken one fails its
            // statement, and r2d2 replaces it.)
            let pool = r2d2::Pool::builder()
                .max_size(size)
                .test_on_check_out(false)
                .connection_timeout(Duration::from_secs(10))
                .build(PostgresConnectionManager::new(config, NoTls))?;
            let me = PgPool { pool: Some(pool) };
            me.migrate()?;
            Ok(me)
        })
    }

    /// Apply the migrations the database has not seen, in one transaction under an advisory
    /// lock: instances that start at once wait for each other, and only the first migrates.
    fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.get()?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let version: i64 = tx
            .query_opt("SELECT version FROM schema_version", &[])?
            .map_or(0, |r| r.get(0));
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::msg(format!(
                "the database's schema is version {version}, newer than this build's {}",
                MIGRATIONS.len()
            )));
        }
        for sql in MIGRATIONS.iter().skip(version.max(0) as usize) {
            tx.batch_execute(sql)?;
        }
        tx.execute("DELETE FROM schema_version", &[])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(MIGRATIONS.len() as i64)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A connection of the pool.
    fn get(&self) -> Result<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>, StoreError> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| StoreError::msg("the store is closed"))?;
        Ok(pool.get()?)
    }

    /// Run `f` as a write, under the region's write lock: committed when it returns
    /// `Some`, undone when it returns `None` or fails.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&PgTx<'_>) -> Result<Option<T>, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        outside_async(|| {
            let mut client = self.get()?;
            let tx = PgTx::new(client.transaction()?);
            tx.exec("SELECT pg_advisory_xact_lock(?1)", &[Param::Int(WRITE_LOCK)])?;
            let out = f(&tx)?;
            if out.is_some() {
                tx.tx.into_inner().commit()?;
            }
            Ok(out)
        })
    }

    /// Run `f` in a read transaction: one snapshot (REPEATABLE READ, READ ONLY).
    pub(super) fn read<T>(&self, f: impl FnOnce(&PgTx<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        outside_async(|| {
            let mut client = self.get()?;
            let tx = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let tx = PgTx::new(tx);
            let out = f(&tx)?;
            tx.tx.into_inner().commit()?;
            Ok(out)
        })
    }
}

/// Run `f`, which blocks on the `postgres` client (a runtime of its own), where blocking is
/// allowed: on a thread of the server's runtime, `block_in_place` lets the runtime's other
/// work move on and the client's runtime start; elsewhere `f` just runs.
fn outside_async<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// A store URL as logs and the health check show it: without its password.
pub fn redacted(url: &str) -> String {
    match url.split_once("://").and_then(|(scheme, rest)| {
        let (auth, host) = rest.split_once('@')?;
        let (user, _) = auth.split_once(':')?;
        Some(format!("{scheme}://{user}:***@{host}"))
    }) {
        Some(r) => r,
        None if url.contains("password") => "(a connection string with a password)".into(),
        None => url.to_string(),
    }
}

/// One open transaction of the PostgreSQL backend.
pub(super) struct PgTx<'c> {
    tx: RefCell<postgres::Transaction<'c>>,
    /// Savepoints open.
    depth: Cell<u32>,
}

impl<'c> PgTx<'c> {
    fn new(tx: postgres::Transaction<'c>) -> Self {
        PgTx {
            tx: RefCell::new(tx),
            depth: Cell::new(0),
        }
    }
}

impl Sessions for PgTx<'_> {
    fn insert(&self, part: i64, row: &SessionRow) -> Result<(), StoreError> {
        sessions::shared::insert(self, part, row, &sessions::Stored::of(row)?)
    }

    fn update(&self, part: i64, row: &SessionRow) -> Result<(), StoreError> {
        sessions::shared::update(self, part, row)
    }

    fn delete(&self, part: i64, id: &str) -> Result<(), StoreError> {
        sessions::shared::delete(self, part, id)
    }

    fn page_summaries(
        &self,
        part: i64,
        filter: &SessionFilter,
        after: Option<&Position>,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<Option<Position>, StoreError> {
        sessions::shared::page_summaries(self, part, filter, after, limit, out)
    }

    sessions::shared_sessions!();
}

impl Tx for PgTx<'_> {
    super::tables_are_self!();

    fn savepoint(&self, f: &mut dyn FnMut(&dyn Tx) -> bool) -> Result<bool, StoreError> {
        let depth = self.depth.get();
        self.tx.borrow_mut().batch_execute(&format!("SAVEPOINT sp{depth}"))?;
        self.depth.set(depth + 1);
        let keep = f(self);
        self.depth.set(depth);
        if !keep {
            self.tx
                .borrow_mut()
                .batch_execute(&format!("ROLLBACK TO SAVEPOINT sp{depth}"))?;
        }
        self.tx
            .borrow_mut()
            .batch_execute(&format!("RELEASE SAVEPOINT sp{depth}"))?;
        Ok(keep)
    }
}

/// The store over PostgreSQL: any number of instances of a region share it.
pub struct PgStore {
    pool: PgPool,
    parts: Mutex<HashMap<(String, String), i64>>,
}

impl PgStore {
    /// Connect to the database at `url` and bring its schema up to date.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        Ok(PgStore {
            pool: PgPool::connect(url, 16)?,
            parts: Mutex::default(),
        })
    }
}

impl Store for PgStore {
    fn write_tx(&self, f: &mut dyn FnMut(&dyn Tx) -> bool, after: &mut dyn FnMut(u64)) -> Result<(), StoreError> {
        let order = self.pool.write(|tx| {
            let order = tx
                .row("SELECT nextval('write_order')", &[])?
                .map_or(Ok(0), |r| r.int(0))?;
            Ok(f(tx).then_some(order))
        })?;
        if let Some(order) = order {
            after(order.unsigned_abs());
        }
        Ok(())
    }

    fn read_tx(&self, f: &mut dyn FnMut(&dyn Tx)) -> Result<(), StoreError> {
        self.pool.read(|tx| {
            f(tx);
            Ok(())
        })
    }

    fn bulk_tx(&self, f: &mut dyn FnMut(&dyn Tx) -> bool) -> Result<(), StoreError> {
        self.write_tx(f, &mut |_| ())
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
        self.pool.write(|tx| {
            let tables = super::sql::PARTITIONED.join(", ");
            tx.tx
                .borrow_mut()
                .batch_execute(&format!("TRUNCATE {tables}, partitions, session_counts"))?;
            Ok(Some(()))
        })?;
        Ok(())
    }

    fn reset_part(&self, part: i64) -> Result<(), StoreError> {
        self.pool.write(|tx| super::sql::delete_partition(tx, part).map(Some))?;
        Ok(())
    }
}

/// The parameters as the client takes them.
fn pg_params<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn postgres::types::ToSql + Sync) {
            match p {
                Param::Int(v) => v,
                Param::Text(v) => v,
                Param::Blob(v) => v,
                Param::OptText(v) => v,
                Param::OptInt(v) => v,
            }
        })
        .collect()
}

/// Column `i` of a row, by its type.
fn value(row: &postgres::Row, i: usize) -> Result<Value, StoreError> {
    use postgres::types::Type;
    let t = row.columns().get(i).map(|c| c.type_().clone());
    Ok(match t {
        Some(Type::INT8) => row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
        Some(Type::INT4) => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Some(Type::BOOL) => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into())),
        Some(Type::TEXT | Type::VARCHAR | Type::NAME) => {
            row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text)
        }
        Some(Type::BYTEA) => row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Value::Null, Value::Blob),
        other => {
            return Err(StoreError::msg(format!(
                "column {i} has a type the store does not read: {other:?}"
            )))
        }
    })
}

impl Exec for PgTx<'_> {
    fn exec(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let sql = numbered(sql);
        Ok(self.tx.borrow_mut().execute(sql.as_str(), &pg_params(params))?)
    }

    fn rows_upto(&self, sql: &str, params: &[Param<'_>], limit: usize) -> Result<Vec<Row>, StoreError> {
        let mut sql = numbered(sql);
        if limit != usize::MAX {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let rows = self.tx.borrow_mut().query(sql.as_str(), &pg_params(params))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| value(r, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect()
    }
}

/// `sql` with its `?` and `?N` placeholders as PostgreSQL writes them (`$N`; a bare `?` takes
/// the next number). The shared SQL has no `?` inside a literal.
pub(super) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        if digits.is_empty() {
            next += 1;
            digits = next.to_string();
        }
        out.push('$');
        out.push_str(&digits);
    }
    out
}

#[cfg(test)]
mod tests {
    //! Against the test command's private cluster (`GLS_TEST_POSTGRES`, scripts/pg); skipped
    //! without it. Each test has a database of its own, dropped at its end.
    #![allow(clippy::unwrap_used)]
    use super::super::sessions::{page_params, page_sql};
    use super::*;
    use gls_model::{ExportFilesStatus, StreamSessionStatus};

    /// A fresh database on the test cluster, and its drop.
    struct Db {
        admin: postgres::Config,
        name: String,
        config: postgres::Config,
    }

    impl Db {
        fn new(tag: &str) -> Option<Db> {
            let Ok(url) = std::env::var("GLS_TEST_POSTGRES") else {
                eprintln!("skipped: no GLS_TEST_POSTGRES (scripts/test starts one)");
                return None;
            };
            let admin: postgres::Config = url.parse().unwrap();
            let name = format!("gls_{tag}_{}", std::process::id());
            let mut c = admin.connect(NoTls).unwrap();
            // (One statement each: neither runs inside a transaction block.)
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
            c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            let mut config = admin.clone();
            config.dbname(&name);
            Some(Db { admin, name, config })
        }
    }

    impl Drop for Db {
        fn drop(&mut self) {
            if let Ok(mut c) = self.admin.connect(NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
            }
        }
    }

    #[test]
    fn instances_starting_together_migrate_once() {
        let Some(db) = Db::new("migrate") else { return };
        let pools: Vec<PgPool> = std::thread::scope(|s| {
            let started: Vec<_> = (0..3)
                .map(|_| s.spawn(|| PgPool::with_config(db.config.clone(), 2).unwrap()))
                .collect();
            started.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut c = pools[0].get().unwrap();
        let versions: Vec<i64> = c
            .query("SELECT version FROM schema_version", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(versions, [MIGRATIONS.len() as i64]);
        drop(c);
        // And again: nothing to do.
        PgPool::with_config(db.config.clone(), 1).unwrap();
    }

    #[test]
    fn every_session_listing_is_an_index_range_scan_without_a_sort() {
        let Some(db) = Db::new("plans") else { return };
        let pool = PgPool::with_config(db.config.clone(), 1).unwrap();
        let mut c = pool.get().unwrap();
        // An empty table is cheaper to scan than to walk: ask for the plan an index can give.
        c.batch_execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
            .unwrap();
        for group in [None, Some("sg-1".to_string())] {
            for status in [None, Some(StreamSessionStatus::Active)] {
                for export in [None, Some(ExportFilesStatus::Pending)] {
                    let f = SessionFilter {
                        group: group.clone(),
                        status,
                        export,
                    };
                    let sql = numbered(&page_sql(&f, "summary, CASE WHEN summary IS NULL THEN doc END"));
                    let params = page_params(1, &f, None);
                    let refs = pg_params(&params);
                    let plan: Vec<String> = c
                        .query(&format!("EXPLAIN {sql} LIMIT 50"), &refs)
                        .unwrap()
                        .iter()
                        .map(|r| r.get(0))
                        .collect();
                    let plan = plan.join(" | ");
                    assert!(plan.contains("Index Scan using sessions_"), "{f:?}: {plan}");
                    assert!(!plan.contains("Sort"), "{f:?}: sorts: {plan}");
                    assert!(!plan.contains("Seq Scan"), "{f:?}: scans: {plan}");
                    // The keyset bound is part of the index condition, not a filter after it.
                    assert!(
                        plan.contains("Index Cond") && plan.contains("ROW(created_at, id) >"),
                        "{f:?}: {plan}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_session_counts_follow_every_change() {
        let Some(db) = Db::new("counts") else { return };
        let pool = PgPool::with_config(db.config.clone(), 1).unwrap();
        let mut c = pool.get().unwrap();
        let insert = |c: &mut postgres::Client, id: &str, status: i64| {
            c.execute(
                "INSERT INTO sessions (part, id, group_id, app_id, created_at, status, doc) \
                 VALUES (1, $1, 'g', 'a', 0, $2, '{}')",
                &[&id, &status],
            )
            .unwrap();
        };
        insert(&mut c, "s1", 0);
        insert(&mut c, "s2", 0);
        insert(&mut c, "s3", 2);
        c.execute("UPDATE sessions SET status = 2 WHERE id = 's1'", &[])
            .unwrap();
        c.execute("UPDATE sessions SET export_status = 1 WHERE id = 's3'", &[])
            .unwrap();
        c.execute("UPDATE sessions SET doc = '{\"x\":1}' WHERE id = 's2'", &[])
            .unwrap();
        c.execute("DELETE FROM sessions WHERE id = 's2'", &[]).unwrap();
        let counts: Vec<(i64, i64, i64)> = c
            .query(
                "SELECT status, export, n FROM session_counts WHERE n > 0 ORDER BY status, export",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(counts, [(2, -1, 1), (2, 1, 1)]);
    }

    /// What the tables shared by both backends do, the same on each.
    fn the_shared_tables(tx: &impl Exec) {
        use super::super::{ExportJobs, Meta, Partitions, Timer, Timers, Tokens};
        Meta::set(tx, "k", b"one").unwrap();
        Meta::set(tx, "k", b"two").unwrap();
        assert_eq!(Meta::get(tx, "k").unwrap().as_deref(), Some(&b"two"[..]));
        Meta::delete(tx, "k").unwrap();
        assert_eq!(Meta::get(tx, "k").unwrap(), None);

        let a = Partitions::part(tx, "111122223333", "us-west-2").unwrap();
        let b = Partitions::part(tx, "111122223333", "us-east-1").unwrap();
        assert_ne!(a, b);
        assert_eq!(Partitions::part(tx, "111122223333", "us-west-2").unwrap(), a);
        assert_eq!(
            Partitions::scope(tx, b).unwrap(),
            Some(("111122223333".to_string(), "us-east-1".to_string()))
        );
        assert_eq!(Partitions::all(tx).unwrap().len(), 2);

        assert_eq!(Timers::next(tx).unwrap(), None);
        Timers::add(tx, 20, a, "ready", "r1").unwrap();
        Timers::add(tx, 10, a, "ready", "r2").unwrap();
        Timers::add(tx, 10, a, "gone", "r3").unwrap();
        assert_eq!(Timers::next(tx).unwrap(), Some(10));
        let first = Timers::first_due(tx, 15).unwrap().unwrap();
        assert_eq!((first.due_at, first.resource.as_str()), (10, "r2"));
        Timers::delete(tx, first.seq).unwrap();
        let second: Timer = Timers::first_due(tx, 15).unwrap().unwrap();
        assert_eq!(second.resource, "r3", "same due time: the order they were set");
        Timers::dead_letter(tx, &second, "boom", 16).unwrap();
        Timers::delete(tx, second.seq).unwrap();
        assert_eq!(Timers::first_due(tx, 15).unwrap(), None);
        assert_eq!(
            (Timers::pending(tx).unwrap(), Timers::dead_letters(tx).unwrap()),
            (1, 1)
        );

        Tokens::put(tx, a, "CreateApplication", "t", "f1", "{}", 100).unwrap();
        Tokens::put(tx, a, "CreateApplication", "t", "f2", "{\"x\":1}", 200).unwrap();
        assert_eq!(
            Tokens::get(tx, a, "CreateApplication", "t", 150).unwrap(),
            Some(("f2".to_string(), "{\"x\":1}".to_string()))
        );
        assert_eq!(Tokens::get(tx, a, "CreateApplication", "t", 250).unwrap(), None);

        ExportJobs::add(tx, a, "s1", "s3://b/x.zip", 5).unwrap();
        ExportJobs::add(tx, a, "s2", "s3://b/y.zip", 6).unwrap();
        let jobs = ExportJobs::pending(tx, 1).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].session, "s1");
        assert!(ExportJobs::done(tx, jobs[0].seq).unwrap());
        assert!(!ExportJobs::done(tx, jobs[0].seq).unwrap());
        assert_eq!(ExportJobs::count(tx).unwrap(), 1);

        use super::super::{BuildState, Builds, Documents, Tags};
        use gls_model::GetApplicationOutput as App;
        let app = |d: &str| App {
            description: Some(d.into()),
            ..Default::default()
        };
        let tags: Tags = [("team".to_string(), "qa".to_string())].into();
        for (i, id) in ["a-2", "a-1", "a-3"].iter().enumerate() {
            Documents::<App>::insert(tx, a, id, 100 + (i as i64 % 2), &app(id), &tags).unwrap();
        }
        Documents::<App>::update(tx, a, "a-1", &app("changed")).unwrap();
        let got: Option<App> = Documents::<App>::get(tx, a, "a-1").unwrap();
        assert_eq!(got.unwrap().description.as_deref(), Some("changed"));
        // (CreatedAt, Id) order, a page at a time.
        let first = Documents::<App>::page(tx, a, None, 2).unwrap();
        let ids: Vec<&str> = first.iter().map(|(p, _)| p.id.as_str()).collect();
        assert_eq!(ids, ["a-2", "a-3"]);
        let rest = Documents::<App>::page(tx, a, Some(&first[1].0), 10).unwrap();
        assert_eq!(rest.iter().map(|(p, _)| p.id.as_str()).collect::<Vec<_>>(), ["a-1"]);
        assert_eq!(Documents::<App>::count(tx, a).unwrap(), 3);
        assert_eq!(Documents::<App>::tags(tx, a, "a-3").unwrap(), Some(tags));
        Documents::<App>::set_tags(tx, a, "a-3", &Tags::new()).unwrap();
        assert_eq!(Documents::<App>::tags(tx, a, "a-3").unwrap(), Some(Tags::new()));
        assert_eq!(Documents::<App>::locate(tx, "a-3").unwrap(), Some(a));
        Documents::<App>::delete(tx, a, "a-3").unwrap();
        assert_eq!(Documents::<App>::locate(tx, "a-3").unwrap(), None);

        Builds::add(tx, a, "a-2").unwrap();
        Builds::add(tx, a, "a-1").unwrap();
        assert!(Builds::set(tx, a, "a-2", BuildState::Failed, Some("internalError"), Some("why")).unwrap());
        assert!(
            !Builds::set(tx, a, "a-2", BuildState::Ready, None, None).unwrap(),
            "no longer pending"
        );
        let b2 = Builds::get(tx, a, "a-2").unwrap().unwrap();
        assert_eq!(
            (b2.reason.as_deref(), b2.message.as_deref()),
            (Some("internalError"), Some("why"))
        );
        Builds::set_awaiting(tx, a, "a-1").unwrap();
        assert!(Builds::set_deleted(tx, a, "a-2").unwrap());
        let todo: Vec<(String, bool)> = Builds::todo(tx, 10)
            .unwrap()
            .into_iter()
            .map(|b| (b.app, b.awaiting))
            .collect();
        assert_eq!(
            todo,
            [("a-2".to_string(), false), ("a-1".to_string(), true)],
            "in the order they were added"
        );
        Builds::remove(tx, a, "a-2").unwrap();
        assert_eq!(Builds::all_apps(tx).unwrap(), ["a-1"]);

        use super::super::{UrlInternal, UrlRow, Urls};
        let url = |id: &str, group: &str, at: i64| UrlRow {
            id: id.into(),
            group_id: group.into(),
            created_at: at,
            doc: Default::default(),
            internal: UrlInternal {
                token: format!("secret-{id}"),
                ..Default::default()
            },
        };
        Urls::insert(tx, a, &url("su-1", "sg-1", 5)).unwrap();
        Urls::insert(tx, a, &url("su-2", "sg-2", 6)).unwrap();
        Urls::insert(tx, b, &url("su-3", "sg-1", 7)).unwrap();
        let mut changed = url("su-1", "sg-1", 5);
        changed.internal.sessions.push("s-9".into());
        Urls::update(tx, a, &changed).unwrap();
        assert_eq!(Urls::get(tx, a, "su-1").unwrap().unwrap().internal.sessions, ["s-9"]);
        assert_eq!(
            Urls::find(tx, "su-3").unwrap().map(|(p, u)| (p, u.id)),
            Some((b, "su-3".into()))
        );
        assert_eq!(Urls::all(tx, a, None).unwrap().len(), 2);
        assert_eq!(Urls::all(tx, a, Some("sg-2")).unwrap()[0].id, "su-2");
        let page = Urls::page(tx, a, None, None, None, 1).unwrap();
        assert_eq!(page[0].1.id, "su-1");
        let next = Urls::page(tx, a, None, None, Some(&page[0].0), 5).unwrap();
        assert_eq!(next.iter().map(|(_, u)| u.id.as_str()).collect::<Vec<_>>(), ["su-2"]);
    }

    #[test]
    fn the_shared_tables_behave_alike_on_sqlite_and_postgresql() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        the_shared_tables(&super::super::sqlite::SqliteTx::new(&conn));
        let Some(db) = Db::new("tables") else { return };
        let pool = PgPool::with_config(db.config.clone(), 2).unwrap();
        pool.write(|tx| {
            the_shared_tables(tx);
            Ok(Some(()))
        })
        .unwrap();
        // Committed, and a read sees it.
        let pending = pool.read(|tx| super::super::Timers::pending(tx)).unwrap();
        assert_eq!(pending, 1);
    }

    #[test]
    fn writes_from_several_instances_run_one_at_a_time() {
        let Some(db) = Db::new("writes") else { return };
        // Two pools: two instances of the region. Each write reads a counter and writes it
        // back one higher; none is lost.
        let pools = [
            PgPool::with_config(db.config.clone(), 2).unwrap(),
            PgPool::with_config(db.config.clone(), 2).unwrap(),
        ];
        std::thread::scope(|s| {
            for pool in &pools {
                s.spawn(move || {
                    for _ in 0..50 {
                        pool.write(|tx| {
                            use super::super::Meta;
                            let n: i64 = Meta::get(tx, "n")?
                                .map(|v| String::from_utf8_lossy(&v).parse().unwrap())
                                .unwrap_or(0);
                            Meta::set(tx, "n", (n + 1).to_string().as_bytes()).map(Some)
                        })
                        .unwrap();
                    }
                });
            }
        });
        let n = pools[0].read(|tx| super::super::Meta::get(tx, "n")).unwrap().unwrap();
        assert_eq!(n, b"100");
    }

    #[test]
    fn passwords_stay_out_of_what_is_shown() {
        assert_eq!(
            redacted("postgres://gls:s3cret@db:5432/r"),
            "postgres://gls:***@db:5432/r"
        );
        assert_eq!(redacted("postgres://gls@db/r"), "postgres://gls@db/r");
        assert!(!redacted("host=db password=s3cret").contains("s3cret"));
    }

    #[test]
    fn a_url_that_is_not_one_is_said_so() {
        let e = PgPool::connect("postgres://host:notaport/db", 1).err().unwrap();
        assert!(e.to_string().contains("the PostgreSQL URL"), "{e}");
    }

    #[test]
    fn placeholders_are_numbered_as_postgresql_writes_them() {
        assert_eq!(numbered("a = ? AND (b, c) > (?, ?)"), "a = $1 AND (b, c) > ($2, $3)");
        assert_eq!(numbered("VALUES (?1, ?2) WHERE x = ?1"), "VALUES ($1, $2) WHERE x = $1");
    }
}
