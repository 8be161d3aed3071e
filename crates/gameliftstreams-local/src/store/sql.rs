//! Statements both backends run as written: the tables whose SQL is portable (SQLite's and
//! PostgreSQL's common dialect: `?N` parameters, `ON CONFLICT … DO …`) are implemented once,
//! over [`Exec`], which each backend's transaction implements (SQLite: cached statements;
//! PostgreSQL: `?N` written `$N`). Values cross it as [`Param`]s and [`Row`]s of
//! [`Value`]s, so that no table sees an engine's types.

use super::StoreError;

/// A value as the JSON text a row stores.
pub(super) fn to_json<T: serde::Serialize>(t: &T) -> Result<String, StoreError> {
    serde_json::to_string(t).map_err(|e| StoreError(Box::new(e)))
}

/// Every table that holds a partition's records.
pub(super) const PARTITIONED: [&str; 9] = [
    "builds",
    "sessions",
    "applications",
    "stream_groups",
    "timers",
    "idempotency",
    "stream_urls",
    "dead_timers",
    "export_jobs",
];

/// Forget every record of partition `part` (what `Store::reset_part` does, in its transaction).
pub(super) fn delete_partition(e: &impl Exec, part: i64) -> Result<(), StoreError> {
    for table in PARTITIONED {
        e.exec(&format!("DELETE FROM {table} WHERE part = ?1"), &[Param::Int(part)])?;
    }
    Ok(())
}

/// A statement's parameter.
#[derive(Debug, Clone, Copy)]
pub(super) enum Param<'a> {
    /// An integer.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
    /// Text or NULL.
    OptText(Option<&'a str>),
    /// An integer or NULL.
    OptInt(Option<i64>),
}

/// A column's value as read.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row(pub(super) Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::msg(format!("no column {i} in a row of {}", self.0.len())))
    }

    fn wrong(&self, i: usize, want: &str) -> StoreError {
        StoreError::msg(format!("column {i} is not {want}: {:?}", self.0.get(i)))
    }

    /// Columns 0 and 1 as a listing position (`created_at, id`).
    pub(super) fn position(&self) -> Result<crate::domain::cursor::Position, StoreError> {
        Ok(crate::domain::cursor::Position {
            created_at: self.int(0)?,
            id: self.text(1)?,
        })
    }

    /// Column `i`, an integer.
    pub(super) fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(self.wrong(i, "an integer")),
        }
    }

    /// Column `i`, an integer or NULL.
    pub(super) fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// Column `i`, text.
    pub(super) fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.at(i)? {
            Value::Text(v) => Ok(v.clone()),
            _ => Err(self.wrong(i, "text")),
        }
    }

    /// Column `i`, text or NULL.
    pub(super) fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    /// Column `i`, JSON text read as a `T`.
    pub(super) fn json<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<T, StoreError> {
        match self.at(i)? {
            Value::Text(v) => serde_json::from_str(v).map_err(|e| StoreError(Box::new(e))),
            _ => Err(self.wrong(i, "JSON text")),
        }
    }

    /// Column `i`, bytes.
    pub(super) fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        match self.at(i)? {
            Value::Blob(v) => Ok(v.clone()),
            Value::Text(v) => Ok(v.clone().into_bytes()),
            _ => Err(self.wrong(i, "bytes")),
        }
    }
}

/// What runs a statement in an open transaction.
pub(super) trait Exec {
    /// Run `sql` with `params`; how many rows it changed.
    fn exec(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError>;
    /// Run the query `sql` with `params`; its rows.
    fn rows(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        self.rows_upto(sql, params, usize::MAX)
    }
    /// The first `limit` rows of the query `sql` (which has no LIMIT of its own: SQLite walks
    /// its index lazily and stops, PostgreSQL is given the LIMIT).
    fn rows_upto(&self, sql: &str, params: &[Param<'_>], limit: usize) -> Result<Vec<Row>, StoreError>;

    /// The row of a query that has at most one (by its key, or with its own LIMIT 1).
    fn row(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_say_what_a_column_is_not() {
        let r = Row(vec![Value::Int(3), Value::Null, Value::Text("t".into())]);
        assert_eq!(r.int(0).unwrap(), 3);
        assert_eq!(r.opt_int(1).unwrap(), None);
        assert_eq!(r.text(2).unwrap(), "t");
        assert!(r.text(0).unwrap_err().to_string().contains("column 0 is not text"));
        assert!(r.int(7).is_err());
    }
}
