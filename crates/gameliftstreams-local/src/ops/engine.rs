//! The lifecycle engine: drives stored sessions through the state machine and carries out its
//! effects (timers, capacity slots, placement of waiting sessions, export archives), and
//! holds the injected faults.

use super::{doc_json, exports, parse_doc, Settings};
use crate::domain::capacity;
use crate::domain::catalog;
use crate::domain::lifecycle::TimerKind;
use crate::domain::session::{self, Effect, Event, Refusal, Session};
use crate::domain::ApiError;
use crate::store::sessions::{self as rows, SessionRow};
use crate::store::{self, DocTable};
use gls_model::{
    ErrorCode, GetApplicationOutput, GetStreamGroupOutput, ReplicationStatusType, StreamGroupLocationStatus,
    StreamSessionStatus, Timestamp,
};
use rusqlite::Transaction;
use std::collections::HashMap;
use std::sync::Mutex;

/// (account, region, operation) of an injected operation failure.
type OperationKey = (String, String, String);

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

    /// Forget every injected failure.
    pub fn clear(&self) {
        self.operations.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.placements.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The next `count` placements in (group, location) find no capacity.
    pub fn fail_placements(&self, part: i64, group: &str, location: &str, count: u32) {
        let mut m = self.placements.lock().unwrap_or_else(|p| p.into_inner());
        m.insert((part, group.into(), location.into()), count);
    }

    fn take_placement(&self, part: i64, group: &str, location: &str) -> bool {
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

/// Apply `event` to a stored session, save it, and carry out the effects. A refused event
/// changes nothing.
pub fn drive(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    row: &mut SessionRow,
    event: Event,
    now: Timestamp,
) -> Result<Result<(), Refusal>, ApiError> {
    let effects = {
        let mut s = Session {
            doc: &mut row.doc,
            internal: &mut row.internal,
        };
        match session::apply(&mut s, event, now, &settings.delays.timing()) {
            Ok(fx) => fx,
            Err(r) => return Ok(Err(r)),
        }
    };
    let mut released = None;
    for fx in &effects {
        match fx {
            Effect::Finished => {
                exports::finish(tx, settings, part, row, now)?;
                set_log_location(tx, part, row)?;
                if let Some(days) = settings.session_retention_days {
                    store::timer_add(
                        tx,
                        now.millis() + days * 86_400_000,
                        part,
                        TimerKind::SessionExpunged,
                        &row.id,
                    )?;
                }
            }
            Effect::Timer(kind, due) => store::timer_add(tx, *due, part, *kind, &row.id)?,
            Effect::ReleaseSlot(loc) => released = Some(loc.clone()),
        }
    }
    rows::update(tx, part, row)?;
    if let Some(loc) = released {
        release_slot(tx, settings, part, &row.group_id, &loc, now)?;
    }
    Ok(Ok(()))
}

/// Where the session's application logs went: under the application's log URI, by group and
/// session (SPEC §10 #12).
fn set_log_location(tx: &Transaction<'_>, part: i64, row: &mut SessionRow) -> Result<(), ApiError> {
    let Some((doc, _)) = store::doc_get(tx, DocTable::Applications, part, &row.app_id)? else {
        return Ok(());
    };
    let app: GetApplicationOutput = parse_doc(&doc)?;
    if let Some(base) = app.application_log_output_uri.filter(|u| !u.is_empty()) {
        let base = base.trim_end_matches('/');
        row.doc.log_file_location_uri = Some(format!("{base}/{}/{}/", row.group_id, row.id));
    }
    Ok(())
}

/// Like `drive`, for events the caller has already checked (timers, deletions): a refusal
/// is simply nothing to do.
pub fn drive_quiet(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    row: &mut SessionRow,
    event: Event,
    now: Timestamp,
) -> Result<(), ApiError> {
    drive(tx, settings, part, row, event, now).map(|_| ())
}

fn load_group(tx: &Transaction<'_>, part: i64, id: &str) -> Result<Option<GetStreamGroupOutput>, ApiError> {
    store::doc_get(tx, DocTable::StreamGroups, part, id)?
        .map(|(d, _)| parse_doc(&d))
        .transpose()
}

fn save_group(tx: &Transaction<'_>, part: i64, id: &str, g: &GetStreamGroupOutput) -> Result<(), ApiError> {
    store::doc_update(tx, DocTable::StreamGroups, part, id, &doc_json(g)?)?;
    Ok(())
}

/// A location of a group, by name.
fn location_mut<'a>(g: &'a mut GetStreamGroupOutput, name: &str) -> Option<&'a mut gls_model::LocationState> {
    g.location_states
        .iter_mut()
        .flatten()
        .find(|l| l.location_name.as_deref() == Some(name))
}

fn tenancy(g: &GetStreamGroupOutput) -> i32 {
    catalog::tenancy(g.stream_class.unwrap_or_default())
}

/// The placement deadline of a new session: 75 s when always-on capacity serves one of its
/// locations, else the on-demand wait (90 s Linux and Proton, 600 s Windows).
pub fn placement_timeout_ms(g: &GetStreamGroupOutput, locations: &[String]) -> i64 {
    let always_on = g
        .location_states
        .iter()
        .flatten()
        .filter(|l| l.location_name.as_ref().is_some_and(|n| locations.contains(n)))
        .any(|l| l.always_on_capacity.unwrap_or(0) > 0);
    if always_on {
        75_000
    } else if catalog::is_windows_class(g.stream_class.unwrap_or_default()) {
        600_000
    } else {
        90_000
    }
}

fn replicated(tx: &Transaction<'_>, part: i64, app_id: &str, location: &str) -> Result<bool, ApiError> {
    let Some((doc, _)) = store::doc_get(tx, DocTable::Applications, part, app_id)? else {
        return Ok(false);
    };
    let app: GetApplicationOutput = parse_doc(&doc)?;
    Ok(app
        .replication_statuses
        .iter()
        .flatten()
        .any(|r| r.location.as_deref() == Some(location) && r.status == Some(ReplicationStatusType::Completed)))
}

/// Try to place an ACTIVATING session: the first requested location that is ACTIVE, has the
/// application replicated and an idle slot. Without one the session waits, and locations that
/// can still grow are asked to scale up.
pub fn try_place(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    row: &mut SessionRow,
    now: Timestamp,
) -> Result<bool, ApiError> {
    if row.doc.status != Some(StreamSessionStatus::Activating) {
        return Ok(false);
    }
    let Some(mut g) = load_group(tx, part, &row.group_id)? else {
        return Ok(false);
    };
    let mut grow = Vec::new();
    for name in row.internal.locations.clone() {
        let Some(loc) = location_mut(&mut g, name.as_str()) else {
            continue;
        };
        if loc.status != Some(StreamGroupLocationStatus::Active) || !replicated(tx, part, &row.app_id, &name)? {
            continue;
        }
        if settings.faults.take_placement(part, &row.group_id, &name) {
            continue;
        }
        if capacity::take_slot(loc) {
            save_group(tx, part, &row.group_id, &g)?;
            let answer = super::sessions::signal_response(&row.id, &name);
            drive_quiet(tx, settings, part, row, Event::Placed { location: name, answer }, now)?;
            return Ok(true);
        }
        if capacity::can_grow(loc) {
            grow.push(name);
        }
    }
    if !row.internal.waiting {
        row.internal.waiting = true;
        rows::update(tx, part, row)?;
    }
    for name in grow {
        store::timer_add(
            tx,
            now.millis() + settings.delays.scale_up_ms,
            part,
            TimerKind::ScaleUp,
            &format!("{}/{name}", row.group_id),
        )?;
    }
    Ok(false)
}

/// The sessions of a group waiting for capacity, oldest first.
fn waiting(tx: &Transaction<'_>, part: i64, group_id: &str) -> Result<Vec<SessionRow>, ApiError> {
    // Only ACTIVATING sessions can wait (the group/status index finds them).
    Ok(rows::in_statuses(
        tx,
        part,
        rows::LiveBy::Group(group_id),
        &[StreamSessionStatus::Activating],
    )?
    .into_iter()
    .filter(|r| r.internal.waiting)
    .collect())
}

/// Give waiting sessions of the group the capacity that is idle now.
pub fn place_waiting(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    group_id: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    for mut row in waiting(tx, part, group_id)? {
        try_place(tx, settings, part, &mut row, now)?;
    }
    Ok(())
}

fn release_slot(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    group_id: &str,
    location: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    let Some(mut g) = load_group(tx, part, group_id)? else {
        return Ok(());
    };
    let t = tenancy(&g);
    let Some(loc) = location_mut(&mut g, location) else {
        return Ok(());
    };
    // The slot goes to a waiting session first; only what nobody takes drains away.
    capacity::give_back(loc);
    save_group(tx, part, group_id, &g)?;
    place_waiting(tx, settings, part, group_id, now)?;
    let Some(mut g) = load_group(tx, part, group_id)? else {
        return Ok(());
    };
    if let Some(loc) = location_mut(&mut g, location) {
        capacity::settle(loc, t);
        save_group(tx, part, group_id, &g)?;
    }
    Ok(())
}

/// The scale-up delay is over: the location grows for the sessions waiting for it.
pub fn scale_up(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    resource: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    let Some((group_id, location)) = resource.split_once('/') else {
        return Ok(());
    };
    let Some(mut g) = load_group(tx, part, group_id)? else {
        return Ok(());
    };
    let t = tenancy(&g);
    let want = waiting(tx, part, group_id)?
        .iter()
        .filter(|r| r.internal.locations.iter().any(|l| l == location))
        .count();
    let Some(loc) = location_mut(&mut g, location) else {
        return Ok(());
    };
    if loc.status == Some(StreamGroupLocationStatus::Active) && capacity::grow(loc, t, want as i32) {
        save_group(tx, part, group_id, &g)?;
        place_waiting(tx, settings, part, group_id, now)?;
    }
    Ok(())
}

/// Fire a session timer.
pub fn session_timer(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    id: &str,
    kind: TimerKind,
    due: i64,
) -> Result<(), ApiError> {
    let Some(mut row) = rows::get(tx, part, id)? else {
        return Ok(());
    };
    let at = Timestamp(due);
    let event = match kind {
        TimerKind::SessionPlaced => {
            try_place(tx, settings, part, &mut row, at)?;
            return Ok(());
        }
        TimerKind::PlacementTimeout => Event::PlacementTimeout(due),
        TimerKind::ConnectionTimeout => Event::ConnectionTimeout(due),
        TimerKind::IdleTimeout => Event::IdleTimeout(due),
        TimerKind::MaxLength => Event::MaxLength(due),
        TimerKind::SessionTerminated => Event::Terminated,
        TimerKind::SessionReconnected => Event::Reconnected,
        TimerKind::SessionExpunged => {
            // Retention is over: the ended session leaves every listing.
            if !crate::domain::session::is_live(row.doc.status.unwrap_or_default()) {
                rows::delete(tx, part, id)?;
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    drive_quiet(tx, settings, part, &mut row, event, at)
}

/// The partition and id of a resource named by ID or ARN, whatever the caller's scope: the
/// admin API names sessions without their group, and ids are unique across partitions.
fn locate(tx: &Transaction<'_>, ident: &str, kind: &str, table: &str) -> Result<Option<(i64, String)>, ApiError> {
    let id = match crate::domain::ids::parse_arn(ident) {
        Some(arn) if arn.kind == kind => arn.path.last().map(|s| (*s).to_string()).unwrap_or_default(),
        Some(_) => return Ok(None),
        None => ident.to_string(),
    };
    use rusqlite::OptionalExtension;
    let part: Option<i64> = tx
        .query_row(&format!("SELECT part FROM {table} WHERE id = ?1"), [&id], |r| r.get(0))
        .optional()?;
    Ok(part.map(|p| (p, id)))
}

/// Where a session named by ID or ARN lives.
pub fn locate_session(tx: &Transaction<'_>, ident: &str) -> Result<Option<(i64, String)>, ApiError> {
    locate(tx, ident, "streamsession", "sessions")
}

/// Where a stream group named by ID or ARN lives.
pub fn locate_group(tx: &Transaction<'_>, ident: &str) -> Result<Option<(i64, String)>, ApiError> {
    locate(tx, ident, "streamgroup", "stream_groups")
}

/// An admin-API event for a session; a refusal is the admin API's 409.
pub fn session_event(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    id: &str,
    event: Event,
    now: Timestamp,
) -> Result<Result<gls_model::GetStreamSessionOutput, Refusal>, ApiError> {
    let Some(mut row) = rows::get(tx, part, id)? else {
        return Err(ApiError::not_found(format!("Stream session {id} not found.")));
    };
    Ok(drive(tx, settings, part, &mut row, event, now)?.map(|()| row.doc))
}

/// Injected: the session's pending (or next) export ends FAILED with `reason`.
pub fn fail_export(tx: &Transaction<'_>, part: i64, id: &str, reason: &str) -> Result<bool, ApiError> {
    let Some(mut row) = rows::get(tx, part, id)? else {
        return Ok(false);
    };
    row.internal.export_failure = Some(reason.to_string());
    rows::update(tx, part, &row)?;
    Ok(true)
}

/// Injected: a location goes to ERROR, and its group to ACTIVE_WITH_ERRORS.
pub fn fail_location(
    tx: &Transaction<'_>,
    part: i64,
    group_id: &str,
    location: &str,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let Some(mut g) = load_group(tx, part, group_id)? else {
        return Ok(false);
    };
    let Some(loc) = location_mut(&mut g, location) else {
        return Ok(false);
    };
    loc.status = Some(StreamGroupLocationStatus::Error);
    if matches!(
        g.status,
        Some(gls_model::StreamGroupStatus::Active | gls_model::StreamGroupStatus::UpdatingLocations)
    ) {
        g.status = Some(gls_model::StreamGroupStatus::ActiveWithErrors);
    }
    g.last_updated_at = Some(now);
    save_group(tx, part, group_id, &g)?;
    Ok(true)
}
