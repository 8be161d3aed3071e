//! The SQLite schema and its migrations, applied in order and recorded in `user_version`.

use super::StoreError;
use rusqlite::Connection;

/// Each entry moves the schema one version forward; never edit a released entry.
const MIGRATIONS: &[&str] = &[
    // 1: the core resources, timers, tokens.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
     CREATE TABLE partitions (
         part INTEGER PRIMARY KEY,
         account TEXT NOT NULL,
         region TEXT NOT NULL,
         UNIQUE (account, region)
     );
     CREATE TABLE applications (
         part INTEGER NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
         doc TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '{}',
         PRIMARY KEY (part, id)
     );
     CREATE INDEX applications_list ON applications (part, created_at, id);
     CREATE TABLE stream_groups (
         part INTEGER NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
         doc TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '{}',
         PRIMARY KEY (part, id)
     );
     CREATE INDEX stream_groups_list ON stream_groups (part, created_at, id);
     CREATE TABLE sessions (
         part INTEGER NOT NULL, id TEXT NOT NULL, group_id TEXT NOT NULL, app_id TEXT NOT NULL,
         created_at INTEGER NOT NULL, status INTEGER NOT NULL, export_status INTEGER,
         doc TEXT NOT NULL, internal TEXT NOT NULL DEFAULT '{}',
         PRIMARY KEY (part, id)
     );
     CREATE INDEX sessions_all ON sessions (part, created_at, id);
     CREATE INDEX sessions_status ON sessions (part, status, created_at, id);
     CREATE INDEX sessions_export ON sessions (part, export_status, created_at, id);
     CREATE INDEX sessions_status_export ON sessions (part, status, export_status, created_at, id);
     CREATE INDEX sessions_group ON sessions (part, group_id, created_at, id);
     CREATE INDEX sessions_group_status ON sessions (part, group_id, status, created_at, id);
     CREATE INDEX sessions_group_export ON sessions (part, group_id, export_status, created_at, id);
     CREATE INDEX sessions_group_status_export ON sessions (part, group_id, status, export_status, created_at, id);
     CREATE TABLE timers (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         due_at INTEGER NOT NULL, part INTEGER NOT NULL, kind TEXT NOT NULL, resource TEXT NOT NULL
     );
     CREATE INDEX timers_due ON timers (due_at, seq);
     CREATE TABLE client_tokens (
         part INTEGER NOT NULL, operation TEXT NOT NULL, token TEXT NOT NULL,
         fingerprint TEXT NOT NULL, resource TEXT NOT NULL, created_at INTEGER NOT NULL,
         PRIMARY KEY (part, operation, token)
     );",
    // 2: stream URLs, sessions by application.
    "CREATE INDEX sessions_app ON sessions (part, app_id, status);
     CREATE TABLE stream_urls (
         part INTEGER NOT NULL, id TEXT NOT NULL, group_id TEXT NOT NULL, created_at INTEGER NOT NULL,
         status TEXT NOT NULL, doc TEXT NOT NULL, internal TEXT NOT NULL DEFAULT '{}',
         PRIMARY KEY (part, id)
     );
     CREATE UNIQUE INDEX stream_urls_id ON stream_urls (id);
     CREATE INDEX stream_urls_all ON stream_urls (part, created_at, id);
     CREATE INDEX stream_urls_status ON stream_urls (part, status, created_at, id);
     CREATE INDEX stream_urls_group ON stream_urls (part, group_id, created_at, id);
     CREATE INDEX stream_urls_group_status ON stream_urls (part, group_id, status, created_at, id);",
    // 3: the admin API names sessions and groups by id alone.
    "CREATE INDEX sessions_id ON sessions (id);
     CREATE INDEX stream_groups_id ON stream_groups (id);",
    // 4: ClientTokens remember the response; dead letters; the export outbox.
    "DROP TABLE client_tokens;
     CREATE TABLE idempotency (
         part INTEGER NOT NULL, operation TEXT NOT NULL, token TEXT NOT NULL,
         fingerprint TEXT NOT NULL, response TEXT NOT NULL, created_at INTEGER NOT NULL,
         PRIMARY KEY (part, operation, token)
     );
     CREATE TABLE dead_timers (
         seq INTEGER PRIMARY KEY, due_at INTEGER NOT NULL, part INTEGER NOT NULL, kind TEXT NOT NULL,
         resource TEXT NOT NULL, error TEXT NOT NULL, failed_at INTEGER NOT NULL
     );
     CREATE TABLE export_jobs (
         seq INTEGER PRIMARY KEY AUTOINCREMENT, part INTEGER NOT NULL, session TEXT NOT NULL,
         uri TEXT NOT NULL, ended_at INTEGER NOT NULL
     );
     CREATE INDEX applications_id ON applications (id);",
    // 5: each session's ListStreamSessionsByAccount item in its wire form (NULL: not yet
    // written since this version; computed from the document when read).
    "ALTER TABLE sessions ADD COLUMN summary TEXT;",
    // 6: the export indexes hold only sessions that have an export (most have none, and a
    // write then maintains four indexes fewer); the sessions waiting for capacity, by group,
    // oldest first, so that a freed slot finds the next one in O(log N).
    "DROP INDEX sessions_export;
     DROP INDEX sessions_status_export;
     DROP INDEX sessions_group_export;
     DROP INDEX sessions_group_status_export;
     CREATE INDEX sessions_export ON sessions (part, export_status, created_at, id)
         WHERE export_status IS NOT NULL;
     CREATE INDEX sessions_status_export ON sessions (part, status, export_status, created_at, id)
         WHERE export_status IS NOT NULL;
     CREATE INDEX sessions_group_export ON sessions (part, group_id, export_status, created_at, id)
         WHERE export_status IS NOT NULL;
     CREATE INDEX sessions_group_status_export ON sessions (part, group_id, status, export_status, created_at, id)
         WHERE export_status IS NOT NULL;
     ALTER TABLE sessions ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;
     UPDATE sessions SET waiting = 1 WHERE status = 0 AND json_extract(internal, '$.waiting') = 1;
     CREATE INDEX sessions_waiting ON sessions (part, group_id, created_at) WHERE waiting = 1;",
    // 7: how many sessions each partition has in each (status, export status), kept by
    // triggers on every insert, status change and delete, so that the dashboard's counts
    // cost O(1) at any size (`export` is -1 for no export: a key column cannot be NULL).
    "CREATE TABLE session_counts (
         part INTEGER NOT NULL, status INTEGER NOT NULL, export INTEGER NOT NULL, n INTEGER NOT NULL,
         PRIMARY KEY (part, status, export)
     ) WITHOUT ROWID;
     INSERT INTO session_counts (part, status, export, n)
         SELECT part, status, coalesce(export_status, -1), count(*) FROM sessions
         GROUP BY part, status, coalesce(export_status, -1);
     CREATE TRIGGER session_counts_insert AFTER INSERT ON sessions BEGIN
         INSERT INTO session_counts (part, status, export, n)
             VALUES (new.part, new.status, coalesce(new.export_status, -1), 1)
             ON CONFLICT (part, status, export) DO UPDATE SET n = n + 1;
     END;
     CREATE TRIGGER session_counts_delete AFTER DELETE ON sessions BEGIN
         UPDATE session_counts SET n = n - 1
             WHERE part = old.part AND status = old.status AND export = coalesce(old.export_status, -1);
     END;
     CREATE TRIGGER session_counts_update AFTER UPDATE OF status, export_status ON sessions
         WHEN old.status IS NOT new.status OR old.export_status IS NOT new.export_status BEGIN
         UPDATE session_counts SET n = n - 1
             WHERE part = old.part AND status = old.status AND export = coalesce(old.export_status, -1);
         INSERT INTO session_counts (part, status, export, n)
             VALUES (new.part, new.status, coalesce(new.export_status, -1), 1)
             ON CONFLICT (part, status, export) DO UPDATE SET n = n + 1;
     END;",
    // 8: application builds: the snapshot of each application's source, and the worker's
    // queue (pending snapshots, deleted applications' snapshots to remove).
    "CREATE TABLE builds (
         part INTEGER NOT NULL, app TEXT NOT NULL, state TEXT NOT NULL,
         reason TEXT, message TEXT, awaiting INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (part, app)
     );
     CREATE INDEX builds_todo ON builds (state) WHERE state IN ('pending', 'deleted');",
];

/// Bring the database up to the latest schema version.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
