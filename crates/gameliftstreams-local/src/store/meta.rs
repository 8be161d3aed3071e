//! Service metadata (the token secret, the clock's persisted state, one-time flags) and the
//! (account, region) partitions every resource row belongs to.

use super::sql::{Exec, Param};
use super::StoreError;
use crate::clock::ClockState;

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

impl<E: Exec> Meta for E {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.row("SELECT value FROM meta WHERE key = ?1", &[Param::Text(key)])?
            .map(|r| r.blob(0))
            .transpose()
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            &[Param::Text(key), Param::Blob(value)],
        )?;
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.exec("DELETE FROM meta WHERE key = ?1", &[Param::Text(key)])?;
        Ok(())
    }
}

impl<E: Exec> Partitions for E {
    fn part(&self, account: &str, region: &str) -> Result<i64, StoreError> {
        let (a, r) = (Param::Text(account), Param::Text(region));
        self.exec(
            "INSERT INTO partitions(account, region) VALUES (?1, ?2) ON CONFLICT (account, region) DO NOTHING",
            &[a, r],
        )?;
        self.row(
            "SELECT part FROM partitions WHERE account = ?1 AND region = ?2",
            &[a, r],
        )?
        .ok_or_else(|| StoreError::msg("a partition just made is not there"))?
        .int(0)
    }

    fn scope(&self, part: i64) -> Result<Option<(String, String)>, StoreError> {
        self.row(
            "SELECT account, region FROM partitions WHERE part = ?1",
            &[Param::Int(part)],
        )?
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .transpose()
    }

    fn all(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.rows("SELECT account, region FROM partitions ORDER BY account, region", &[])?
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .collect()
    }
}
