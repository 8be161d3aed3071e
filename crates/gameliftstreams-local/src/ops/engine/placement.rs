//! Placement and capacity: an ACTIVATING session takes an idle slot of the first requested
//! location that can serve it, or waits; a freed slot or new capacity goes to waiting
//! sessions first; locations that can grow are asked to scale up for those who wait.

use super::{drive_quiet, signal, Env};
use crate::domain::capacity;
use crate::domain::locations;
use crate::domain::session::Event;
use crate::domain::timer::TimerKind;
use crate::domain::ApiError;
use crate::store::SessionRow;
use gls_model::{ReplicationStatusType, StreamGroupLocationStatus, StreamSessionStatus, StreamSessionStatusReason};

fn replicated(env: Env<'_>, app_id: &str, location: &str) -> Result<bool, ApiError> {
    let Some(app) = env.tx.applications().get(env.part, app_id)? else {
        return Ok(false);
    };
    Ok(app
        .replication_statuses
        .iter()
        .flatten()
        .any(|r| r.location.as_deref() == Some(location) && r.status == Some(ReplicationStatusType::Completed)))
}

/// Try to place an ACTIVATING session: the first requested location that is ACTIVE, has the
/// application replicated and an idle slot. Without one the session waits, and locations that
/// can still grow are asked to scale up.
pub fn try_place(env: Env<'_>, row: &mut SessionRow) -> Result<bool, ApiError> {
    if row.doc.status != Some(StreamSessionStatus::Activating) {
        return Ok(false);
    }
    let Some(mut g) = env.tx.groups().get(env.part, &row.group_id)? else {
        return Ok(false);
    };
    let mut grow = Vec::new();
    for name in row.internal.locations.clone() {
        let Some(loc) = locations::find_mut(&mut g, name.as_str()) else {
            continue;
        };
        if loc.status != Some(StreamGroupLocationStatus::Active) || !replicated(env, &row.app_id, &name)? {
            continue;
        }
        if env.faults.take_placement(env.part, &row.group_id, &name) {
            continue;
        }
        if capacity::take_slot(loc) {
            let request = row.doc.signal_request.clone().unwrap_or_default();
            let Some(answer) = signal::answer(env, row, &request, &name) else {
                // The slot stays free: the group document with it taken is not saved.
                drive_quiet(env, row, Event::Fault(StreamSessionStatusReason::InvalidSignalRequest))?;
                return Ok(false);
            };
            env.tx.groups().update(env.part, &row.group_id, &g)?;
            // A session whose game will run here is ACTIVE once the game is up.
            let event = if super::apps::game(env, &row.app_id)? == super::apps::Game::Runs {
                Event::Launching { location: name, answer }
            } else {
                Event::Placed { location: name, answer }
            };
            drive_quiet(env, row, event)?;
            return Ok(true);
        }
        if capacity::can_grow(loc) {
            grow.push(name);
        }
    }
    if !row.internal.waiting {
        row.internal.waiting = true;
        env.tx.sessions().update(env.part, row)?;
    }
    for name in grow {
        env.schedule(
            TimerKind::ScaleUp,
            env.settings.delays.scale_up_ms,
            &format!("{}/{name}", row.group_id),
        )?;
    }
    Ok(false)
}

/// Whether an ACTIVE location of the group has an idle slot.
fn has_idle(env: Env<'_>, group_id: &str) -> Result<bool, ApiError> {
    let Some(g) = env.tx.groups().get(env.part, group_id)? else {
        return Ok(false);
    };
    Ok(g.location_states
        .iter()
        .flatten()
        .any(|l| l.status == Some(StreamGroupLocationStatus::Active) && l.idle_capacity.unwrap_or(0) > 0))
}

/// Waiting sessions read from the queue at a time.
const QUEUE_BATCH: usize = 16;

/// Give waiting sessions of the group the capacity that is idle now, oldest first. The walk
/// of the queue stops as soon as no idle slot is left, so a freed slot costs O(log N) however
/// many sessions wait (more only for sessions that cannot use the slots that are idle).
pub fn place_waiting(env: Env<'_>, group_id: &str) -> Result<(), ApiError> {
    let mut after = None;
    while has_idle(env, group_id)? {
        let queue = env.tx.sessions().waiting(env.part, group_id, after, QUEUE_BATCH)?;
        if queue.is_empty() {
            break;
        }
        for (pos, mut row) in queue {
            after = Some(pos);
            if try_place(env, &mut row)? && !has_idle(env, group_id)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// A session gave its slot in `location` back.
pub fn release_slot(env: Env<'_>, group_id: &str, location: &str) -> Result<(), ApiError> {
    let Some(mut g) = env.tx.groups().get(env.part, group_id)? else {
        return Ok(());
    };
    let t = locations::tenancy(&g);
    let Some(loc) = locations::find_mut(&mut g, location) else {
        return Ok(());
    };
    // The slot goes to a waiting session first; only what nobody takes drains away.
    capacity::give_back(loc);
    env.tx.groups().update(env.part, group_id, &g)?;
    place_waiting(env, group_id)?;
    let Some(mut g) = env.tx.groups().get(env.part, group_id)? else {
        return Ok(());
    };
    if let Some(loc) = locations::find_mut(&mut g, location) {
        capacity::settle(loc, t);
        env.tx.groups().update(env.part, group_id, &g)?;
    }
    Ok(())
}

/// The scale-up delay is over: the location (`resource` = `group/location`) grows for the
/// sessions waiting for it.
pub fn scale_up(env: Env<'_>, resource: &str) -> Result<(), ApiError> {
    let Some((group_id, location)) = resource.split_once('/') else {
        return Ok(());
    };
    let Some(mut g) = env.tx.groups().get(env.part, group_id)? else {
        return Ok(());
    };
    let t = locations::tenancy(&g);
    let want = env
        .tx
        .sessions()
        .waiting(env.part, group_id, None, usize::MAX)?
        .iter()
        .filter(|(_, r)| r.internal.locations.iter().any(|l| l == location))
        .count();
    let Some(loc) = locations::find_mut(&mut g, location) else {
        return Ok(());
    };
    if loc.status == Some(StreamGroupLocationStatus::Active) && capacity::grow(loc, t, want as i32) {
        env.tx.groups().update(env.part, group_id, &g)?;
        place_waiting(env, group_id)?;
    }
    Ok(())
}
