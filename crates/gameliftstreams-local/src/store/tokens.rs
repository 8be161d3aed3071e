//! Remembered ClientTokens: per (partition, operation, token) the fingerprint of the request
//! that used it and the response it got, so a retry gets the same answer.

use super::sql::{Exec, Param};
use super::StoreError;

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

impl<E: Exec> Tokens for E {
    fn get(&self, part: i64, op: &str, token: &str, since: i64) -> Result<Option<(String, String)>, StoreError> {
        self.row(
            "SELECT fingerprint, response FROM idempotency
             WHERE part = ?1 AND operation = ?2 AND token = ?3 AND created_at >= ?4",
            &[Param::Int(part), Param::Text(op), Param::Text(token), Param::Int(since)],
        )?
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .transpose()
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
        self.exec(
            "INSERT INTO idempotency(part, operation, token, fingerprint, response, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (part, operation, token) DO UPDATE SET fingerprint = excluded.fingerprint,
                 response = excluded.response, created_at = excluded.created_at",
            &[
                Param::Int(part),
                Param::Text(op),
                Param::Text(token),
                Param::Text(fingerprint),
                Param::Text(response),
                Param::Int(at),
            ],
        )?;
        Ok(())
    }
}
