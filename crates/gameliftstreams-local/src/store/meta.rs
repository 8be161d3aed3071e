//! Service metadata (the token secret, the clock's persisted state, one-time flags) and the
//! (account, region) partitions every resource row belongs to.

use super::sqlite::SqliteTx;
use super::StoreError;
use crate::clock::ClockState;
use rusqlite::{params, OptionalExtension};

/// Key/value metadata of the service.
pub trait Meta {
    /// A value.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Set a value.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Remove a value.
    fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// The partitions: one number per (account, region).
pub trait Partitions {
    /// The partition of (account, region), created on first use.
    fn part(&self, account: &str, region: &str) -> Result<i64, StoreError>;
    /// The account and region of a partition.
    fn scope(&self, part: i64) -> Result<Option<(String, String)>, StoreError>;
    /// Every (account, region) the store has seen, in account then region order.
    fn all(&self) -> Result<Vec<(String, String)>, StoreError>;
}

const SECRET: &str = "token_secret";
const OFFSET: &str = "clock_offset_ms";
const FROZEN: &str = "clock_frozen_ms";

impl dyn Meta + '_ {
    /// The secret that authenticates NextTokens, made on first use.
    pub fn token_secret(&self) -> Result<Vec<u8>, StoreError> {
        if let Some(s) = self.get(SECRET)? {
            return Ok(s);
        }
        let s: [u8; 32] = rand::random();
        self.set(SECRET, &s)?;
        Ok(s.to_vec())
    }

    fn number(&self, key: &str) -> Result<Option<i64>, StoreError> {
        match self.get(key)? {
            None => Ok(None),
            Some(v) => String::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or_else(|| StoreError::msg(format!("meta value {key} is not a number"))),
        }
    }

    /// The persisted clock: the system clock's offset, and the frozen clock's time when the
    /// last clock to run was frozen.
    pub fn clock(&self) -> Result<(Option<i64>, Option<i64>), StoreError> {
        Ok((self.number(OFFSET)?, self.number(FROZEN)?))
    }

    /// Persist the clock's state.
    pub fn set_clock(&self, state: ClockState) -> Result<(), StoreError> {
        match state {
            ClockState::Offset(ms) => {
                self.set(OFFSET, ms.to_string().as_bytes())?;
                self.delete(FROZEN)
            }
            ClockState::Frozen(ms) => self.set(FROZEN, ms.to_string().as_bytes()),
        }
    }

    /// Forget the clock's state: the next start runs from wall time, as on a new data dir.
    pub fn clear_clock(&self) -> Result<(), StoreError> {
        self.delete(OFFSET)?;
        self.delete(FROZEN)
    }

    /// Whether a one-time flag is set.
    pub fn flag(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.get(name)?.is_some())
    }

    /// Set a one-time flag.
    pub fn set_flag(&self, name: &str) -> Result<(), StoreError> {
        self.set(name, b"1")
    }
}

impl Meta for SqliteTx<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }
}
