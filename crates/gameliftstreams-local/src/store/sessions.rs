//! Stream session rows: the indexed columns that listing filters on, plus the document.
//! Every listing is one keyset query over the index whose leading columns are exactly the
//! equality filters, so a page costs O(page + log N) whatever the filter combination.

use super::sql::{to_json, Exec, Param, Row};
use super::sqlite::{from_json, SqliteTx};
use super::StoreError;
use crate::domain::cursor::Position;
pub use crate::domain::session::SessionInternal;
use gls_model::{ExportFilesStatus, GetStreamSessionOutput, StreamSessionStatus};

/// The stream session table.
pub trait Sessions {
    /// Insert a new session.
    fn insert(&self, part: i64, row: &SessionRow) -> Result<(), StoreError>;
    /// Save a changed session (status and export columns follow the document).
    fn update(&self, part: i64, row: &SessionRow) -> Result<(), StoreError>;
    /// Remove a session for good.
    fn delete(&self, part: i64, id: &str) -> Result<(), StoreError>;
    /// One session by id.
    fn get(&self, part: i64, id: &str) -> Result<Option<SessionRow>, StoreError>;
    /// Up to `limit` sessions after `after` that pass `filter`, in (CreatedAt, Id) order.
    fn page(
        &self,
        part: i64,
        filter: &SessionFilter,
        after: Option<&Position>,
        limit: usize,
    ) -> Result<Vec<(Position, GetStreamSessionOutput)>, StoreError>;
    /// Like `page`, the items as ListStreamSessionsByAccount answers them: up to `limit`
    /// sessions' summaries (export status only; JSON stored with each session) appended to
    /// `out`, comma-separated. The position of the last one appended if more follow.
    fn page_summaries(
        &self,
        part: i64,
        filter: &SessionFilter,
        after: Option<&Position>,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<Option<Position>, StoreError>;
    /// The sessions of an application or group in any of `statuses`, oldest first (sessions
    /// created at the same millisecond in the order they were created: a placement queue).
    fn in_statuses(
        &self,
        part: i64,
        by: LiveBy<'_>,
        statuses: &[StreamSessionStatus],
    ) -> Result<Vec<SessionRow>, StoreError>;
    /// How many sessions of the partition are in each status and each export status (no
    /// export: `None`), for the dashboard: from the counts the schema's triggers keep, O(1).
    fn counts(&self, part: i64) -> Result<SessionCounts, StoreError>;
    /// How many sessions are in each status over every partition (for the metrics), from the
    /// same counts: O(partitions).
    fn status_totals(&self) -> Result<Vec<(StreamSessionStatus, u64)>, StoreError>;
    /// The partition of a session named by id alone (ids are unique across partitions).
    fn locate(&self, id: &str) -> Result<Option<i64>, StoreError>;
    /// Up to `limit` sessions of a group that wait for capacity, oldest first (created at the
    /// same millisecond: in the order they were created), after the queue position `after`.
    fn waiting(
        &self,
        part: i64,
        group_id: &str,
        after: Option<QueuePosition>,
        limit: usize,
    ) -> Result<Vec<(QueuePosition, SessionRow)>, StoreError>;
}

/// Sessions by status and by export status (statuses with none are left out).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SessionCounts {
    /// (status, how many), in the model's order.
    pub status: Vec<(StreamSessionStatus, u64)>,
    /// (export status or none, how many): none first, then the model's order.
    pub export: Vec<(Option<ExportFilesStatus>, u64)>,
}

/// A place in a group's queue of sessions waiting for capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePosition {
    created_at: i64,
    seq: i64,
}

/// A stream session as stored.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Session id.
    pub id: String,
    /// Its stream group id.
    pub group_id: String,
    /// Its application id.
    pub app_id: String,
    /// CreatedAt, epoch millis.
    pub created_at: i64,
    /// The full session document.
    pub doc: GetStreamSessionOutput,
    /// What the service keeps about a session beyond its API document.
    pub internal: SessionInternal,
}

/// Equality filters of a session listing.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only this stream group's sessions.
    pub group: Option<String>,
    /// Only this status.
    pub status: Option<StreamSessionStatus>,
    /// Only sessions with an export in this status.
    pub export: Option<ExportFilesStatus>,
}

/// The stored code of a status: its position in the model's enum.
pub fn status_code(s: StreamSessionStatus) -> i64 {
    StreamSessionStatus::ALL.iter().position(|x| *x == s).unwrap_or(0) as i64
}

/// The export code of a session without an export in `session_counts` (migration 7).
pub(super) const NO_EXPORT: i64 = -1;

/// The stored code of an export status.
pub fn export_code(s: ExportFilesStatus) -> i64 {
    ExportFilesStatus::ALL.iter().position(|x| *x == s).unwrap_or(0) as i64
}

/// What a session row stores beside its keys: the indexed columns (status, export status,
/// waiting for capacity) and the JSON of the document, the internal facts and the summary.
pub(super) struct Stored {
    status: i64,
    export: Option<i64>,
    waiting: bool,
    doc: String,
    internal: String,
    summary: String,
}

impl Stored {
    pub(super) fn of(row: &SessionRow) -> Result<Stored, StoreError> {
        let status = row.doc.status.unwrap_or_default();
        Ok(Stored {
            status: status_code(status),
            export: row
                .doc
                .export_files_metadata
                .as_ref()
                .and_then(|e| e.status)
                .map(export_code),
            waiting: row.internal.waiting && status == StreamSessionStatus::Activating,
            doc: to_json(&row.doc)?,
            internal: to_json(&row.internal)?,
            summary: summary(&row.doc)?,
        })
    }
}

/// Which live sessions to find.
#[derive(Debug, Clone, Copy)]
pub enum LiveBy<'a> {
    /// Those running this application.
    App(&'a str),
    /// Those in this stream group.
    Group(&'a str),
}

/// The ListStreamSessionsByAccount item of a session, as stored with it.
fn summary(doc: &GetStreamSessionOutput) -> Result<String, StoreError> {
    to_json(&crate::domain::views::session_summary(doc.clone(), false))
}

/// The SQL of a keyset page for a filter combination, selecting `what` after the position.
pub(super) fn page_sql(filter: &SessionFilter, what: &str) -> String {
    let mut sql = format!("SELECT created_at, id, {what} FROM sessions WHERE part = ?");
    if filter.group.is_some() {
        sql.push_str(" AND group_id = ?");
    }
    if filter.status.is_some() {
        sql.push_str(" AND status = ?");
    }
    if filter.export.is_some() {
        sql.push_str(" AND export_status = ?");
    }
    // No `LIMIT ?`: SQLite re-prepares a statement whose bound LIMIT changes, on every
    // page. The index walk is lazy; the caller takes as many rows as it wants.
    sql.push_str(" AND (created_at, id) > (?, ?) ORDER BY created_at, id");
    sql
}

/// The bound parameters of `page_sql`.
pub(super) fn page_params<'a>(part: i64, filter: &'a SessionFilter, after: Option<&'a Position>) -> Vec<Param<'a>> {
    let mut p = vec![Param::Int(part)];
    if let Some(g) = &filter.group {
        p.push(Param::Text(g));
    }
    if let Some(s) = filter.status {
        p.push(Param::Int(status_code(s)));
    }
    if let Some(e) = filter.export {
        p.push(Param::Int(export_code(e)));
    }
    let (ca, id) = after.map(|a| (a.created_at, a.id.as_str())).unwrap_or((i64::MIN, ""));
    p.push(Param::Int(ca));
    p.push(Param::Text(id));
    p
}

/// The session table in the SQL both backends run, over the shared executor: each backend's
/// `Sessions` is these (SQLite's adds its bulk load's counts and streams its pages' stored
/// summaries without a copy).
/// The `Sessions` methods that a backend takes from [`shared`] as they are.
macro_rules! shared_sessions {
    () => {
        fn get(&self, part: i64, id: &str) -> Result<Option<SessionRow>, StoreError> {
            $crate::store::sessions::shared::get(self, part, id)
        }

        fn in_statuses(
            &self,
            part: i64,
            by: LiveBy<'_>,
            statuses: &[StreamSessionStatus],
        ) -> Result<Vec<SessionRow>, StoreError> {
            $crate::store::sessions::shared::in_statuses(self, part, by, statuses)
        }

        fn page(
            &self,
            part: i64,
            filter: &SessionFilter,
            after: Option<&Position>,
            limit: usize,
        ) -> Result<Vec<(Position, GetStreamSessionOutput)>, StoreError> {
            $crate::store::sessions::shared::page(self, part, filter, after, limit)
        }

        fn counts(&self, part: i64) -> Result<SessionCounts, StoreError> {
            $crate::store::sessions::shared::counts(self, part)
        }

        fn status_totals(&self) -> Result<Vec<(StreamSessionStatus, u64)>, StoreError> {
            $crate::store::sessions::shared::status_totals(self)
        }

        fn locate(&self, id: &str) -> Result<Option<i64>, StoreError> {
            $crate::store::sessions::shared::locate(self, id)
        }

        fn waiting(
            &self,
            part: i64,
            group_id: &str,
            after: Option<QueuePosition>,
            limit: usize,
        ) -> Result<Vec<(QueuePosition, SessionRow)>, StoreError> {
            $crate::store::sessions::shared::waiting(self, part, group_id, after, limit)
        }
    };
}
pub(super) use shared_sessions;

pub(super) mod shared {
    use super::*;

    const COLUMNS: &str = "id, group_id, app_id, created_at, doc, internal";

    /// A session read from `COLUMNS`.
    fn session(r: &Row) -> Result<SessionRow, StoreError> {
        Ok(SessionRow {
            id: r.text(0)?,
            group_id: r.text(1)?,
            app_id: r.text(2)?,
            created_at: r.int(3)?,
            doc: r.json(4)?,
            internal: r.json(5)?,
        })
    }

    pub(in super::super) fn insert(e: &impl Exec, part: i64, row: &SessionRow, s: &Stored) -> Result<(), StoreError> {
        e.exec(
            "INSERT INTO sessions(part, id, group_id, app_id, created_at,
                 status, export_status, waiting, doc, internal, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            &[
                Param::Int(part),
                Param::Text(&row.id),
                Param::Text(&row.group_id),
                Param::Text(&row.app_id),
                Param::Int(row.created_at),
                Param::Int(s.status),
                Param::OptInt(s.export),
                Param::Int(s.waiting.into()),
                Param::Text(&s.doc),
                Param::Text(&s.internal),
                Param::Text(&s.summary),
            ],
        )?;
        Ok(())
    }

    pub(in super::super) fn update(e: &impl Exec, part: i64, row: &SessionRow) -> Result<(), StoreError> {
        let s = Stored::of(row)?;
        e.exec(
            "UPDATE sessions SET status = ?3, export_status = ?4, waiting = ?5, doc = ?6, internal = ?7, summary = ?8
             WHERE part = ?1 AND id = ?2",
            &[
                Param::Int(part),
                Param::Text(&row.id),
                Param::Int(s.status),
                Param::OptInt(s.export),
                Param::Int(s.waiting.into()),
                Param::Text(&s.doc),
                Param::Text(&s.internal),
                Param::Text(&s.summary),
            ],
        )?;
        Ok(())
    }

    pub(in super::super) fn delete(e: &impl Exec, part: i64, id: &str) -> Result<(), StoreError> {
        e.exec(
            "DELETE FROM sessions WHERE part = ?1 AND id = ?2",
            &[Param::Int(part), Param::Text(id)],
        )?;
        Ok(())
    }

    pub(in super::super) fn get(e: &impl Exec, part: i64, id: &str) -> Result<Option<SessionRow>, StoreError> {
        e.row(
            &format!("SELECT {COLUMNS} FROM sessions WHERE part = ?1 AND id = ?2"),
            &[Param::Int(part), Param::Text(id)],
        )?
        .map(|r| session(&r))
        .transpose()
    }

    pub(in super::super) fn in_statuses(
        e: &impl Exec,
        part: i64,
        by: LiveBy<'_>,
        statuses: &[StreamSessionStatus],
    ) -> Result<Vec<SessionRow>, StoreError> {
        let codes: Vec<String> = statuses.iter().map(|s| status_code(*s).to_string()).collect();
        let (column, value) = match by {
            LiveBy::App(a) => ("app_id", a),
            LiveBy::Group(g) => ("group_id", g),
        };
        let sql = format!(
            "SELECT id FROM sessions WHERE part = ?1 AND {column} = ?2 AND status IN ({}) ORDER BY created_at, rowid",
            codes.join(", ")
        );
        let mut rows = Vec::new();
        for r in e.rows(&sql, &[Param::Int(part), Param::Text(value)])? {
            if let Some(row) = get(e, part, &r.text(0)?)? {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    pub(in super::super) fn page(
        e: &impl Exec,
        part: i64,
        filter: &SessionFilter,
        after: Option<&Position>,
        limit: usize,
    ) -> Result<Vec<(Position, GetStreamSessionOutput)>, StoreError> {
        e.rows_upto(&page_sql(filter, "doc"), &page_params(part, filter, after), limit)?
            .iter()
            .map(|r| Ok((r.position()?, r.json(2)?)))
            .collect()
    }

    /// `Sessions::page_summaries` from rows (one more than the page, to tell whether more
    /// follow).
    pub(in super::super) fn page_summaries(
        e: &impl Exec,
        part: i64,
        filter: &SessionFilter,
        after: Option<&Position>,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<Option<Position>, StoreError> {
        let sql = page_sql(filter, "summary, CASE WHEN summary IS NULL THEN doc END");
        let rows = e.rows_upto(&sql, &page_params(part, filter, after), limit.saturating_add(1))?;
        let mut last = None;
        for (i, r) in rows.iter().enumerate() {
            if i == limit {
                return Ok(last);
            }
            if i > 0 {
                out.push(b',');
            }
            match r.opt_text(2)? {
                Some(text) => out.extend_from_slice(text.as_bytes()),
                None => out.extend_from_slice(summary(&r.json(3)?)?.as_bytes()),
            }
            last = Some(r.position()?);
        }
        Ok(None)
    }

    pub(in super::super) fn counts(e: &impl Exec, part: i64) -> Result<SessionCounts, StoreError> {
        let mut by_status: std::collections::BTreeMap<i64, u64> = Default::default();
        let mut by_export: std::collections::BTreeMap<i64, u64> = Default::default();
        for r in e.rows(
            "SELECT status, export, n FROM session_counts WHERE part = ?1 AND n > 0",
            &[Param::Int(part)],
        )? {
            let (status, export, n) = (r.int(0)?, r.int(1)?, r.int(2)?);
            *by_status.entry(status).or_default() += n.unsigned_abs();
            *by_export.entry(export).or_default() += n.unsigned_abs();
        }
        let code = |c: i64| usize::try_from(c).ok();
        Ok(SessionCounts {
            status: by_status
                .into_iter()
                .filter_map(|(c, n)| Some((*StreamSessionStatus::ALL.get(code(c)?)?, n)))
                .collect(),
            export: by_export
                .into_iter()
                .filter_map(|(c, n)| match c {
                    NO_EXPORT => Some((None, n)),
                    c => Some((Some(*ExportFilesStatus::ALL.get(code(c)?)?), n)),
                })
                .collect(),
        })
    }

    pub(in super::super) fn status_totals(e: &impl Exec) -> Result<Vec<(StreamSessionStatus, u64)>, StoreError> {
        // (CAST: PostgreSQL's sum of BIGINTs is a NUMERIC.)
        let mut out = Vec::new();
        for r in e.rows(
            "SELECT status, CAST(sum(n) AS BIGINT) FROM session_counts GROUP BY status ORDER BY status",
            &[],
        )? {
            let (code, n) = (r.int(0)?, r.int(1)?);
            if let Some(status) = usize::try_from(code).ok().and_then(|c| StreamSessionStatus::ALL.get(c)) {
                out.push((*status, n.max(0).unsigned_abs()));
            }
        }
        Ok(out)
    }

    pub(in super::super) fn locate(e: &impl Exec, id: &str) -> Result<Option<i64>, StoreError> {
        e.row("SELECT part FROM sessions WHERE id = ?1", &[Param::Text(id)])?
            .map(|r| r.int(0))
            .transpose()
    }

    pub(in super::super) fn waiting(
        e: &impl Exec,
        part: i64,
        group_id: &str,
        after: Option<QueuePosition>,
        limit: usize,
    ) -> Result<Vec<(QueuePosition, SessionRow)>, StoreError> {
        let after = after.unwrap_or(QueuePosition {
            created_at: i64::MIN,
            seq: i64::MIN,
        });
        e.rows_upto(
            WAITING_SQL,
            &[
                Param::Int(part),
                Param::Text(group_id),
                Param::Int(after.created_at),
                Param::Int(after.seq),
            ],
            limit,
        )?
        .iter()
        .map(|r| {
            let row = session(r)?;
            let pos = QueuePosition {
                created_at: row.created_at,
                seq: r.int(6)?,
            };
            Ok((pos, row))
        })
        .collect()
    }
}

impl Sessions for SqliteTx<'_> {
    fn insert(&self, part: i64, row: &SessionRow) -> Result<(), StoreError> {
        let s = Stored::of(row)?;
        shared::insert(self, part, row, &s)?;
        if let Some(counts) = &self.bulk_counts {
            *counts
                .borrow_mut()
                .entry((part, s.status, s.export.unwrap_or(NO_EXPORT)))
                .or_default() += 1;
        }
        Ok(())
    }

    fn update(&self, part: i64, row: &SessionRow) -> Result<(), StoreError> {
        self.flush_counts()?;
        shared::update(self, part, row)
    }

    fn delete(&self, part: i64, id: &str) -> Result<(), StoreError> {
        self.flush_counts()?;
        shared::delete(self, part, id)
    }

    fn page_summaries(
        &self,
        part: i64,
        filter: &SessionFilter,
        after: Option<&Position>,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<Option<Position>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&page_sql(filter, "summary, CASE WHEN summary IS NULL THEN doc END"))?;
        let mut rows = stmt.query(rusqlite::params_from_iter(page_params(part, filter, after)))?;
        // The stored bytes go straight into the page: no String per item, and the position
        // is kept in one buffer that each row overwrites.
        let mut last = Position {
            created_at: 0,
            id: String::new(),
        };
        let mut written = 0;
        while let Some(r) = rows.next()? {
            if written == limit {
                return Ok(Some(last));
            }
            if written > 0 {
                out.push(b',');
            }
            match r.get_ref(2)?.as_bytes_or_null()? {
                Some(text) => out.extend_from_slice(text),
                None => {
                    let doc: GetStreamSessionOutput = from_json(r.get_ref(3)?.as_str()?)?;
                    out.extend_from_slice(summary(&doc)?.as_bytes());
                }
            }
            last.created_at = r.get(0)?;
            last.id.clear();
            last.id.push_str(r.get_ref(1)?.as_str()?);
            written += 1;
        }
        Ok(None)
    }

    super::sessions::shared_sessions!();
}

/// A group's queue of waiting sessions after a position (the `sessions_waiting` index).
const WAITING_SQL: &str = "SELECT id, group_id, app_id, created_at, doc, internal, rowid FROM sessions
     WHERE part = ?1 AND group_id = ?2 AND waiting = 1 AND (created_at, rowid) > (?3, ?4)
     ORDER BY created_at, rowid";

#[cfg(test)]
mod tests {
    use super::*;

    /// Every filter combination is answered by an index range scan in key order: no full
    /// scan, no sort. This is what keeps a page at O(page + log N).
    #[test]
    fn a_page_statement_is_prepared_once() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let f = SessionFilter {
            group: None,
            status: Some(StreamSessionStatus::Active),
            export: None,
        };
        let sql = page_sql(&f, "summary, CASE WHEN summary IS NULL THEN doc END");
        for i in 0..5 {
            let mut stmt = conn.prepare_cached(&sql).unwrap();
            let after = Position {
                created_at: i,
                id: format!("s{i}"),
            };
            let rows = stmt
                .query_map(rusqlite::params_from_iter(page_params(1, &f, Some(&after))), |_| Ok(()))
                .unwrap()
                .take(10 + i as usize)
                .count();
            assert_eq!(rows, 0);
            assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
        }
    }

    /// The counts the triggers keep follow every insert, status or export change and delete,
    /// per partition; statuses with no session left are not reported.
    #[test]
    fn the_counts_follow_every_change() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let (active, terminated) = (
            status_code(StreamSessionStatus::Active),
            status_code(StreamSessionStatus::Terminated),
        );
        let failed = export_code(ExportFilesStatus::Failed);
        let add = |part: i64, id: &str, status: i64, export: Option<i64>| {
            conn.execute(
                "INSERT INTO sessions(part, id, group_id, app_id, created_at, status, export_status, doc)
                 VALUES (?1, ?2, 'sg-1', 'a-1', 0, ?3, ?4, '{}')",
                rusqlite::params![part, id, status, export],
            )
            .unwrap();
        };
        add(1, "s1", active, None);
        add(1, "s2", active, None);
        add(1, "s3", terminated, Some(failed));
        add(2, "s4", active, None);
        let counts = |part| SqliteTx::new(&conn).counts(part).unwrap();
        assert_eq!(
            counts(1).status,
            vec![(StreamSessionStatus::Active, 2), (StreamSessionStatus::Terminated, 1)]
        );
        assert_eq!(counts(1).export, vec![(None, 2), (Some(ExportFilesStatus::Failed), 1)]);
        conn.execute("UPDATE sessions SET status = ?1 WHERE id = 's1'", [terminated])
            .unwrap();
        conn.execute("UPDATE sessions SET export_status = ?1 WHERE id = 's2'", [failed])
            .unwrap();
        conn.execute("UPDATE sessions SET doc = '{\"x\":1}' WHERE id = 's2'", [])
            .unwrap();
        assert_eq!(
            counts(1).status,
            vec![(StreamSessionStatus::Active, 1), (StreamSessionStatus::Terminated, 2)]
        );
        assert_eq!(counts(1).export, vec![(None, 1), (Some(ExportFilesStatus::Failed), 2)]);
        conn.execute("DELETE FROM sessions WHERE id IN ('s2', 's3')", [])
            .unwrap();
        assert_eq!(counts(1).status, vec![(StreamSessionStatus::Terminated, 1)]);
        assert_eq!(counts(1).export, vec![(None, 1)]);
        assert_eq!(counts(2).status, vec![(StreamSessionStatus::Active, 1)]);
        assert_eq!(counts(3), SessionCounts::default());
    }

    #[test]
    fn the_waiting_queue_is_an_index_range_scan() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {WAITING_SQL}"))
            .unwrap()
            .query_map(rusqlite::params![1, "sg-1", 0, 0], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join(" | ");
        assert!(plan.contains("USING INDEX sessions_waiting"), "{plan}");
        // The index's implicit last column is the rowid: the bound seeks on created_at and
        // the order needs no sort.
        assert!(plan.contains("group_id=? AND created_at>?"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "sorts: {plan}");
    }

    #[test]
    fn every_listing_is_an_index_range_scan() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let groups = [None, Some("sg-1".to_string())];
        let statuses = [None, Some(StreamSessionStatus::Active)];
        let exports = [None, Some(ExportFilesStatus::Pending)];
        let tx = &conn;
        {
            {
                for group in &groups {
                    for status in statuses {
                        for export in exports {
                            let f = SessionFilter {
                                group: group.clone(),
                                status,
                                export,
                            };
                            let sql = page_sql(&f, "summary, CASE WHEN summary IS NULL THEN doc END");
                            let mut stmt = tx.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                            let plan: Vec<String> = stmt
                                .query_map(rusqlite::params_from_iter(page_params(1, &f, None)), |r| {
                                    r.get::<_, String>(3)
                                })
                                .unwrap()
                                .collect::<Result<_, _>>()
                                .unwrap();
                            let plan = plan.join(" | ");
                            assert!(
                                plan.contains("USING INDEX sessions_") || plan.contains("USING COVERING INDEX"),
                                "{f:?}: {plan}"
                            );
                            assert!(
                                plan.contains("(created_at,id)>(?,?)"),
                                "{f:?}: keyset bound not in the index: {plan}"
                            );
                            assert!(!plan.contains("TEMP B-TREE"), "{f:?}: sorts: {plan}");
                            assert!(!plan.contains("SCAN"), "{f:?}: scans: {plan}");
                        }
                    }
                }
            }
        }
    }
}
