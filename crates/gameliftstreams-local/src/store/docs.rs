//! Applications and stream groups: each row is the resource's API document and its tags,
//! keyed by (partition, id) and listed by (CreatedAt, Id).

use super::sql::{to_json, Exec, Param};
use super::StoreError;
use crate::domain::cursor::Position;
use gls_model::{GetApplicationOutput, GetStreamGroupOutput};
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

impl<D: Doc, E: Exec> Documents<D> for E {
    fn insert(&self, part: i64, id: &str, created_at: i64, doc: &D, tags: &Tags) -> Result<(), StoreError> {
        let (doc, tags) = (to_json(doc)?, to_json(tags)?);
        self.exec(
            &format!(
                "INSERT INTO {}(part, id, created_at, doc, tags) VALUES (?1, ?2, ?3, ?4, ?5)",
                D::TABLE
            ),
            &[
                Param::Int(part),
                Param::Text(id),
                Param::Int(created_at),
                Param::Text(&doc),
                Param::Text(&tags),
            ],
        )?;
        Ok(())
    }

    fn get(&self, part: i64, id: &str) -> Result<Option<D>, StoreError> {
        self.row(
            &format!("SELECT doc FROM {} WHERE part = ?1 AND id = ?2", D::TABLE),
            &[Param::Int(part), Param::Text(id)],
        )?
        .map(|r| r.json(0))
        .transpose()
    }

    fn update(&self, part: i64, id: &str, doc: &D) -> Result<(), StoreError> {
        let doc = to_json(doc)?;
        self.exec(
            &format!("UPDATE {} SET doc = ?3 WHERE part = ?1 AND id = ?2", D::TABLE),
            &[Param::Int(part), Param::Text(id), Param::Text(&doc)],
        )?;
        Ok(())
    }

    fn delete(&self, part: i64, id: &str) -> Result<(), StoreError> {
        self.exec(
            &format!("DELETE FROM {} WHERE part = ?1 AND id = ?2", D::TABLE),
            &[Param::Int(part), Param::Text(id)],
        )?;
        Ok(())
    }

    fn page(&self, part: i64, after: Option<&Position>, limit: usize) -> Result<Vec<(Position, D)>, StoreError> {
        let (ca, id) = after.map(|p| (p.created_at, p.id.as_str())).unwrap_or((i64::MIN, ""));
        self.rows_upto(
            &format!(
                "SELECT created_at, id, doc FROM {} WHERE part = ?1 AND (created_at, id) > (?2, ?3)
                 ORDER BY created_at, id",
                D::TABLE
            ),
            &[Param::Int(part), Param::Int(ca), Param::Text(id)],
            limit,
        )?
        .iter()
        .map(|r| Ok((r.position()?, r.json(2)?)))
        .collect()
    }

    fn count(&self, part: i64) -> Result<i64, StoreError> {
        self.row(
            &format!("SELECT count(*) FROM {} WHERE part = ?1", D::TABLE),
            &[Param::Int(part)],
        )?
        .map_or(Ok(0), |r| r.int(0))
    }

    fn tags(&self, part: i64, id: &str) -> Result<Option<Tags>, StoreError> {
        self.row(
            &format!("SELECT tags FROM {} WHERE part = ?1 AND id = ?2", D::TABLE),
            &[Param::Int(part), Param::Text(id)],
        )?
        .map(|r| r.json(0))
        .transpose()
    }

    fn set_tags(&self, part: i64, id: &str, tags: &Tags) -> Result<(), StoreError> {
        let tags = to_json(tags)?;
        self.exec(
            &format!("UPDATE {} SET tags = ?3 WHERE part = ?1 AND id = ?2", D::TABLE),
            &[Param::Int(part), Param::Text(id), Param::Text(&tags)],
        )?;
        Ok(())
    }

    fn locate(&self, id: &str) -> Result<Option<i64>, StoreError> {
        self.row(
            &format!("SELECT part FROM {} WHERE id = ?1", D::TABLE),
            &[Param::Text(id)],
        )?
        .map(|r| r.int(0))
        .transpose()
    }
}
