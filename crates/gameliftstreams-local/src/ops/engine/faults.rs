//! Failures injected through the admin API: operation errors and placement failures held
//! in memory (a restart clears them, as it would clear a test's setup), and the stored ones
//! (a failed export, a location in ERROR).

use super::Env;
use crate::domain::locations;
use crate::domain::ApiError;
use gls_model::{ErrorCode, StreamGroupLocationStatus};
use std::collections::HashMap;
use std::sync::Mutex;

/// (account, region, operation) of an injected operation failure.
type OperationKey = (String, String, String);

/// An injected failure that has not happened yet (session, export and location faults act at
/// once and are not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingFault {
    /// The next `remaining` calls of `operation` in (account, region) answer `error`.
    Operation {
        account: String,
        region: String,
        operation: String,
        error: ErrorCode,
        remaining: u32,
    },
    /// The next `remaining` placements in (group, location) of partition `part` find no capacity.
    Placement {
        part: i64,
        group: String,
        location: String,
        remaining: u32,
    },
}

/// Failures injected through the admin API, consumed as they strike. Kept in memory: a restart
/// clears them, as it would clear a test's setup.
#[derive(Debug, Default)]
pub struct Faults {
    operations: Mutex<HashMap<OperationKey, (ErrorCode, u32)>>,
    placements: Mutex<HashMap<(i64, String, String), u32>>,
}

impl Faults {
    /// The next `count` calls of `operation` in (account, region) answer `code`.
    pub fn fail_operation(&self, account: &str, region: &str, operation: &str, code: ErrorCode, count: u32) {
        let mut m = self.operations.lock().unwrap_or_else(|p| p.into_inner());
        m.insert((account.into(), region.into(), operation.into()), (code, count));
    }

    /// Take one injected failure of this call, if any is left.
    pub fn take_operation(&self, account: &str, region: &str, operation: &str) -> Option<ErrorCode> {
        let mut m = self.operations.lock().unwrap_or_else(|p| p.into_inner());
        let key = (account.to_string(), region.to_string(), operation.to_string());
        let (code, left) = m.get_mut(&key)?;
        let code = *code;
        *left -= 1;
        if *left == 0 {
            m.remove(&key);
        }
        Some(code)
    }

    /// The injected failures still waiting for their calls or placements: operation faults
    /// by (account, region, operation), then placement faults by (partition, group, location).
    pub fn pending(&self) -> Vec<PendingFault> {
        let mut operations: Vec<_> = self
            .operations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        operations.sort_by(|a, b| a.0.cmp(&b.0));
        let mut placements: Vec<_> = self
            .placements
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        placements.sort_by(|a, b| a.0.cmp(&b.0));
        let operations =
            operations.into_iter().map(
                |((account, region, operation), (error, remaining))| PendingFault::Operation {
                    account,
                    region,
                    operation,
                    error,
                    remaining,
                },
            );
        let placements = placements
            .into_iter()
            .map(|((part, group, location), remaining)| PendingFault::Placement {
                part,
                group,
                location,
                remaining,
            });
        operations.chain(placements).collect()
    }

    /// Forget every injected failure.
    pub fn clear(&self) {
        self.operations.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.placements.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Forget the injected failures of one (account, region), whose partition is `part`.
    pub fn clear_scope(&self, account: &str, region: &str, part: i64) {
        self.operations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(a, r, _), _| !(a == account && r == region));
        self.placements
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(p, _, _), _| *p != part);
    }

    /// The next `count` placements in (group, location) find no capacity.
    pub fn fail_placements(&self, part: i64, group: &str, location: &str, count: u32) {
        let mut m = self.placements.lock().unwrap_or_else(|p| p.into_inner());
        m.insert((part, group.into(), location.into()), count);
    }

    /// Take one injected placement failure in (group, location), if any is left.
    pub fn take_placement(&self, part: i64, group: &str, location: &str) -> bool {
        let mut m = self.placements.lock().unwrap_or_else(|p| p.into_inner());
        let key = (part, group.to_string(), location.to_string());
        let Some(left) = m.get_mut(&key) else { return false };
        *left -= 1;
        if *left == 0 {
            m.remove(&key);
        }
        true
    }
}

/// Injected: the session's pending (or next) export ends FAILED with `reason`.
pub fn fail_export(env: Env<'_>, id: &str, reason: &str) -> Result<bool, ApiError> {
    let Some(mut row) = env.tx.sessions().get(env.part, id)? else {
        return Ok(false);
    };
    row.internal.export_failure = Some(reason.to_string());
    env.tx.sessions().update(env.part, &row)?;
    Ok(true)
}

/// Injected: a location goes to ERROR, and its group to ACTIVE_WITH_ERRORS.
pub fn fail_location(env: Env<'_>, group_id: &str, location: &str) -> Result<bool, ApiError> {
    let Some(mut g) = env.tx.groups().get(env.part, group_id)? else {
        return Ok(false);
    };
    let Some(loc) = locations::find_mut(&mut g, location) else {
        return Ok(false);
    };
    loc.status = Some(StreamGroupLocationStatus::Error);
    if matches!(
        g.status,
        Some(gls_model::StreamGroupStatus::Active | gls_model::StreamGroupStatus::UpdatingLocations)
    ) {
        g.status = Some(gls_model::StreamGroupStatus::ActiveWithErrors);
    }
    g.last_updated_at = Some(env.now);
    env.tx.groups().update(env.part, group_id, &g)?;
    Ok(true)
}
