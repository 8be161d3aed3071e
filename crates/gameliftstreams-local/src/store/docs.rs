//! Applications and stream groups: each row is the resource's API document and its tags,
//! keyed by (partition, id) and listed by (CreatedAt, Id).

use super::sqlite::{from_json, to_json, SqliteTx};
use super::StoreError;
use crate::domain::cursor::Position;
use gls_model::{GetApplicationOutput, GetStreamGroupOutput};
use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

/// A resource's tags.
pub type Tags = BTreeMap<String, String>;

/// A table of resource documents of type `D`.
pub trait Documents<D> {
    /// Insert a new resource.
    fn insert(&self, part: i64, id: &str, created_at: i64, doc: &D, tags: &Tags) -> Result<(), StoreError>;
    /// One resource's document.
    fn get(&self, part: i64, id: &str) -> Result<Option<D>, StoreError>;
    /// Replace a resource's document.
    fn update(&self, part: i64, id: &str, doc: &D) -> Result<(), StoreError>;
    /// Remove a resource.
    fn delete(&self, part: i64, id: &str) -> Result<(), StoreError>;
    /// Up to `limit` documents after `after` in (CreatedAt, Id) order, with their keys.
    fn page(&self, part: i64, after: Option<&Position>, limit: usize) -> Result<Vec<(Position, D)>, StoreError>;
    /// How many resources the partition has.
    fn count(&self, part: i64) -> Result<i64, StoreError>;
    /// A resource's tags (None: no such resource).
    fn tags(&self, part: i64, id: &str) -> Result<Option<Tags>, StoreError>;
    /// Replace a resource's tags.
    fn set_tags(&self, part: i64, id: &str, tags: &Tags) -> Result<(), StoreError>;
    /// The partition of a resource named by id alone (ids are unique across partitions).
    fn locate(&self, id: &str) -> Result<Option<i64>, StoreError>;
}

/// A document type and its table.
pub trait Doc: Serialize + DeserializeOwned {
    /// The SQL table.
    const TABLE: &'static str;
}

impl Doc for GetApplicationOutput {
    const TABLE: &'static str = "applications";
}

impl Doc for GetStreamGroupOutput {
    const TABLE: &'static str = "stream_groups";
}

impl<D: Doc> Documents<D> for SqliteTx<'_> {
    fn insert(&self, part: i64, id: &str, created_at: i64, doc: &D, tags: &Tags) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO {}(part, id, created_at, doc, tags) VALUES (?1, ?2, ?3, ?4, ?5)",
                D::TABLE
            ))?
            .execute(params![part, id, created_at, to_json(doc)?, to_json(tags)?])?;
        Ok(())
    }

    fn get(&self, part: i64, id: &str) -> Result<Option<D>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT doc FROM {} WHERE part = ?1 AND id = ?2", D::TABLE))?
            .query_row(params![part, id], |r| from_json(&r.get::<_, String>(0)?))
            .optional()?)
    }

    fn update(&self, part: i64, id: &str, doc: &D) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&format!("UPDATE {} SET doc = ?3 WHERE part = ?1 AND id = ?2", D::TABLE))?
            .execute(params![part, id, to_json(doc)?])?;
        Ok(())
    }

    fn delete(&self, part: i64, id: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&format!("DELETE FROM {} WHERE part = ?1 AND id = ?2", D::TABLE))?
            .execute(params![part, id])?;
        Ok(())
    }

    fn page(&self, part: i64, after: Option<&Position>, limit: usize) -> Result<Vec<(Position, D)>, StoreError> {
        let (ca, id) = after.map(|p| (p.created_at, p.id.as_str())).unwrap_or((i64::MIN, ""));
        let mut stmt = self.conn.prepare_cached(&format!(
            // No bound LIMIT (it makes SQLite re-prepare the statement); the walk is lazy.
            "SELECT created_at, id, doc FROM {} WHERE part = ?1 AND (created_at, id) > (?2, ?3)
             ORDER BY created_at, id",
            D::TABLE
        ))?;
        let rows = stmt.query_map(params![part, ca, id], |r| {
            Ok((
                Position {
                    created_at: r.get(0)?,
                    id: r.get(1)?,
                },
                from_json(&r.get::<_, String>(2)?)?,
            ))
        })?;
        Ok(rows.take(limit).collect::<Result<_, _>>()?)
    }

    fn count(&self, part: i64) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM {} WHERE part = ?1", D::TABLE))?
            .query_row([part], |r| r.get(0))?)
    }

    fn tags(&self, part: i64, id: &str) -> Result<Option<Tags>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT tags FROM {} WHERE part = ?1 AND id = ?2", D::TABLE))?
            .query_row(params![part, id], |r| from_json(&r.get::<_, String>(0)?))
            .optional()?)
    }

    fn set_tags(&self, part: i64, id: &str, tags: &Tags) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&format!(
                "UPDATE {} SET tags = ?3 WHERE part = ?1 AND id = ?2",
                D::TABLE
            ))?
            .execute(params![part, id, to_json(tags)?])?;
        Ok(())
    }

    fn locate(&self, id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT part FROM {} WHERE id = ?1", D::TABLE))?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }
}
