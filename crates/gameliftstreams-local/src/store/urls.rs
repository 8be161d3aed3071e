//! Stream URL rows: status and group columns for listing (keyset, as for sessions), the
//! document, and what the service keeps beside it (secret token, sessions started).

use super::sqlite::{from_json, to_json, SqliteTx};
use super::StoreError;
use crate::domain::cursor::Position;
use gls_model::GetStreamUrlOutput;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, OptionalExtension};

/// The stream URL table.
pub trait Urls {
    /// Insert a new stream URL.
    fn insert(&self, part: i64, row: &UrlRow) -> Result<(), StoreError>;
    /// Save a changed stream URL.
    fn update(&self, part: i64, row: &UrlRow) -> Result<(), StoreError>;
    /// One stream URL of a partition.
    fn get(&self, part: i64, id: &str) -> Result<Option<UrlRow>, StoreError>;
    /// A stream URL by id alone (ids are unique across partitions), with its partition: what
    /// the public URL page needs, since it carries no credentials.
    fn find(&self, id: &str) -> Result<Option<(i64, UrlRow)>, StoreError>;
    /// All stream URLs of a partition, optionally of one group.
    fn all(&self, part: i64, group: Option<&str>) -> Result<Vec<UrlRow>, StoreError>;
    /// Up to `limit` stream URLs after `after`, filtered by group and status.
    fn page(
        &self,
        part: i64,
        group: Option<&str>,
        status: Option<&str>,
        after: Option<&Position>,
        limit: usize,
    ) -> Result<Vec<(Position, UrlRow)>, StoreError>;
}

/// Service-side facts of a stream URL.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UrlInternal {
    /// The secret in the URL's query string.
    pub token: String,
    /// The application id.
    pub app_id: String,
    /// Ids of the sessions started through the URL, oldest first.
    #[serde(default)]
    pub sessions: Vec<String>,
}

/// A stream URL as stored.
#[derive(Debug, Clone)]
pub struct UrlRow {
    /// The URL id (`su-...`).
    pub id: String,
    /// Its stream group id.
    pub group_id: String,
    /// CreatedAt, epoch millis.
    pub created_at: i64,
    /// The API document (without StreamSessions, which is computed).
    pub doc: GetStreamUrlOutput,
    /// Service-side facts.
    pub internal: UrlInternal,
}

fn status(doc: &GetStreamUrlOutput) -> &'static str {
    doc.status.unwrap_or_default().as_str()
}

const COLUMNS: &str = "id, group_id, created_at, doc, internal";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UrlRow> {
    Ok(UrlRow {
        id: r.get(0)?,
        group_id: r.get(1)?,
        created_at: r.get(2)?,
        doc: from_json(&r.get::<_, String>(3)?)?,
        internal: from_json(&r.get::<_, String>(4)?)?,
    })
}

impl Urls for SqliteTx<'_> {
    /// Insert a new stream URL.
    fn insert(&self, part: i64, row: &UrlRow) -> Result<(), StoreError> {
        self.conn.execute(
        "INSERT INTO stream_urls(part, id, group_id, created_at, status, doc, internal) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![part, row.id, row.group_id, row.created_at, status(&row.doc), to_json(&row.doc)?, to_json(&row.internal)?],
    )?;
        Ok(())
    }

    /// Save a changed stream URL.
    fn update(&self, part: i64, row: &UrlRow) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE stream_urls SET status = ?3, doc = ?4, internal = ?5 WHERE part = ?1 AND id = ?2",
            params![
                part,
                row.id,
                status(&row.doc),
                to_json(&row.doc)?,
                to_json(&row.internal)?
            ],
        )?;
        Ok(())
    }

    /// One stream URL of a partition.
    fn get(&self, part: i64, id: &str) -> Result<Option<UrlRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM stream_urls WHERE part = ?1 AND id = ?2"),
                params![part, id],
                from_row,
            )
            .optional()?)
    }

    /// A stream URL by id alone (ids are unique across partitions), with its partition: what the
    /// public URL page needs, since it carries no credentials.
    fn find(&self, id: &str) -> Result<Option<(i64, UrlRow)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS}, part FROM stream_urls WHERE id = ?1"),
                params![id],
                |r| Ok((r.get(5)?, from_row(r)?)),
            )
            .optional()?)
    }

    /// All stream URLs of a partition, optionally of one group.
    fn all(&self, part: i64, group: Option<&str>) -> Result<Vec<UrlRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM stream_urls WHERE part = ?1 AND (?2 IS NULL OR group_id = ?2) ORDER BY created_at, id"
    ))?;
        let rows = stmt.query_map(params![part, group], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Up to `limit` stream URLs after `after`, filtered by group and status.
    fn page(
        &self,
        part: i64,
        group: Option<&str>,
        status: Option<&str>,
        after: Option<&Position>,
        limit: usize,
    ) -> Result<Vec<(Position, UrlRow)>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM stream_urls WHERE part = ?");
        let mut p = vec![SqlValue::Integer(part)];
        if let Some(g) = group {
            sql.push_str(" AND group_id = ?");
            p.push(SqlValue::Text(g.to_string()));
        }
        if let Some(s) = status {
            sql.push_str(" AND status = ?");
            p.push(SqlValue::Text(s.to_string()));
        }
        // No bound LIMIT (it makes SQLite re-prepare the statement); the walk is lazy.
        sql.push_str(" AND (created_at, id) > (?, ?) ORDER BY created_at, id");
        let (ca, id) = after
            .map(|a| (a.created_at, a.id.clone()))
            .unwrap_or((i64::MIN, String::new()));
        p.extend([SqlValue::Integer(ca), SqlValue::Text(id)]);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(p), |r| {
            let row = from_row(r)?;
            Ok((
                Position {
                    created_at: row.created_at,
                    id: row.id.clone(),
                },
                row,
            ))
        })?;
        Ok(rows.take(limit).collect::<Result<_, _>>()?)
    }
}
