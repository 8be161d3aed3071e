//! Remembered ClientTokens: per (partition, operation, token) the fingerprint of the request
//! that used it and the response it got, so a retry gets the same answer.

use super::sqlite::SqliteTx;
use super::StoreError;
use rusqlite::{params, OptionalExtension};

/// The ClientToken table.
pub trait Tokens {
    /// The fingerprint and response of a token used at or after `since`.
    fn get(&self, part: i64, op: &str, token: &str, since: i64) -> Result<Option<(String, String)>, StoreError>;
    /// Remember a token's request and response (replacing an expired use).
    fn put(
        &self,
        part: i64,
        op: &str,
        token: &str,
        fingerprint: &str,
        response: &str,
        at: i64,
    ) -> Result<(), StoreError>;
}

impl Tokens for SqliteTx<'_> {
    fn get(&self, part: i64, op: &str, token: &str, since: i64) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT fingerprint, response FROM idempotency
                 WHERE part = ?1 AND operation = ?2 AND token = ?3 AND created_at >= ?4",
            )?
            .query_row(params![part, op, token, since], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn put(
        &self,
        part: i64,
        op: &str,
        token: &str,
        fingerprint: &str,
        response: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO idempotency(part, operation, token, fingerprint, response, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![part, op, token, fingerprint, response, at])?;
        Ok(())
    }
}
