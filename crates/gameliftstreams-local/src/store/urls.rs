//! Stream URL rows: status and group columns for listing (keyset, as for sessions), the
//! document, and what the service keeps beside it (secret token, sessions started).

use super::sql::{to_json, Exec, Param, Row};
use super::StoreError;
use crate::domain::cursor::Position;
use gls_model::GetStreamUrlOutput;

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

fn url(r: &Row) -> Result<UrlRow, StoreError> {
    Ok(UrlRow {
        id: r.text(0)?,
        group_id: r.text(1)?,
        created_at: r.int(2)?,
        doc: r.json(3)?,
        internal: r.json(4)?,
    })
}

impl<E: Exec> Urls for E {
    fn insert(&self, part: i64, row: &UrlRow) -> Result<(), StoreError> {
        let (doc, internal) = (to_json(&row.doc)?, to_json(&row.internal)?);
        self.exec(
            "INSERT INTO stream_urls(part, id, group_id, created_at, status, doc, internal)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                Param::Int(part),
                Param::Text(&row.id),
                Param::Text(&row.group_id),
                Param::Int(row.created_at),
                Param::Text(status(&row.doc)),
                Param::Text(&doc),
                Param::Text(&internal),
            ],
        )?;
        Ok(())
    }

    fn update(&self, part: i64, row: &UrlRow) -> Result<(), StoreError> {
        let (doc, internal) = (to_json(&row.doc)?, to_json(&row.internal)?);
        self.exec(
            "UPDATE stream_urls SET status = ?3, doc = ?4, internal = ?5 WHERE part = ?1 AND id = ?2",
            &[
                Param::Int(part),
                Param::Text(&row.id),
                Param::Text(status(&row.doc)),
                Param::Text(&doc),
                Param::Text(&internal),
            ],
        )?;
        Ok(())
    }

    fn get(&self, part: i64, id: &str) -> Result<Option<UrlRow>, StoreError> {
        self.row(
            &format!("SELECT {COLUMNS} FROM stream_urls WHERE part = ?1 AND id = ?2"),
            &[Param::Int(part), Param::Text(id)],
        )?
        .map(|r| url(&r))
        .transpose()
    }

    fn find(&self, id: &str) -> Result<Option<(i64, UrlRow)>, StoreError> {
        self.row(
            &format!("SELECT {COLUMNS}, part FROM stream_urls WHERE id = ?1"),
            &[Param::Text(id)],
        )?
        .map(|r| Ok((r.int(5)?, url(&r)?)))
        .transpose()
    }

    fn all(&self, part: i64, group: Option<&str>) -> Result<Vec<UrlRow>, StoreError> {
        // (The CAST tells PostgreSQL the type of a parameter that is only tested for NULL.)
        self.rows(
            &format!(
                "SELECT {COLUMNS} FROM stream_urls WHERE part = ?1 AND (CAST(?2 AS TEXT) IS NULL OR group_id = ?2)
                 ORDER BY created_at, id"
            ),
            &[Param::Int(part), Param::OptText(group)],
        )?
        .iter()
        .map(url)
        .collect()
    }

    fn page(
        &self,
        part: i64,
        group: Option<&str>,
        status: Option<&str>,
        after: Option<&Position>,
        limit: usize,
    ) -> Result<Vec<(Position, UrlRow)>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM stream_urls WHERE part = ?");
        let mut p = vec![Param::Int(part)];
        if let Some(g) = group {
            sql.push_str(" AND group_id = ?");
            p.push(Param::Text(g));
        }
        if let Some(s) = status {
            sql.push_str(" AND status = ?");
            p.push(Param::Text(s));
        }
        sql.push_str(" AND (created_at, id) > (?, ?) ORDER BY created_at, id");
        let (ca, id) = after.map(|a| (a.created_at, a.id.as_str())).unwrap_or((i64::MIN, ""));
        p.extend([Param::Int(ca), Param::Text(id)]);
        self.rows_upto(&sql, &p, limit)?
            .iter()
            .map(|r| {
                let row = url(r)?;
                Ok((
                    Position {
                        created_at: row.created_at,
                        id: row.id.clone(),
                    },
                    row,
                ))
            })
            .collect()
    }
}
