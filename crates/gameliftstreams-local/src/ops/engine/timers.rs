//! Firing timers: every durable timer that has fallen due, in due order, each at its own due
//! time and in its own savepoint. A timer that fails (its resource no longer reads back, a
//! rule breaks, an unknown kind) is rolled back alone, logged with its kind and resource and
//! moved to the dead letters, so no request and no later timer fails because of it.

use super::builds;
use super::{drive_quiet, placement, urls, Env, Parts};
use crate::domain::associations;
use crate::domain::lifecycle;
use crate::domain::session::{self, Event};
use crate::domain::timer::TimerKind;
use crate::domain::ApiError;
use crate::store::{Timer, Tx};
use gls_model::{ApplicationStatus, StreamGroupLocationStatus, StreamGroupStatus, Timestamp};

/// Fire due timers until none is left at or before `now`; returns how many fired (dead
/// letters included).
pub fn fire_due(tx: &dyn Tx, parts: Parts<'_>, now: Timestamp) -> Result<usize, ApiError> {
    let mut fired = 0;
    while let Some(t) = tx.timers().first_due(now.millis())? {
        tx.timers().delete(t.seq)?;
        let outcome = match TimerKind::parse(&t.kind) {
            None => Err(format!("unknown timer kind {:?}", t.kind)),
            Some(kind) => tx
                .isolated(|tx| fire(parts.env(tx, t.part, Timestamp(t.due_at)), kind, &t))?
                .map_err(|e| e.to_string()),
        };
        if let Err(why) = outcome {
            tracing::error!(
                kind = %t.kind, resource = %t.resource, partition = t.part, due_at = t.due_at, error = %why,
                "timer failed; moved to the dead letters"
            );
            tx.timers().dead_letter(&t, &why, now.millis())?;
        }
        fired += 1;
    }
    Ok(fired)
}

fn fire(env: Env<'_>, kind: TimerKind, t: &Timer) -> Result<(), ApiError> {
    let (tx, part, id) = (env.tx, env.part, t.resource.as_str());
    match kind {
        TimerKind::AppProcessing | TimerKind::AppReady => {
            let Some(mut app) = tx.applications().get(part, id)? else {
                return Ok(());
            };
            if kind == TimerKind::AppProcessing {
                if lifecycle::app_processing(&mut app, env.now) {
                    env.schedule(TimerKind::AppReady, env.settings.delays.app_ready_ms, id)?;
                }
            } else {
                // By the build's snapshot; one still being taken finishes the application
                // when it is done. Applications from before builds were read have none.
                match tx.builds().get(part, id)? {
                    None => {
                        lifecycle::app_ready(&mut app, env.now);
                    }
                    Some(build) => match builds::outcome(&build, env.settings) {
                        Some(result) => {
                            lifecycle::app_built(&mut app, env.now, result);
                        }
                        None => tx.builds().set_awaiting(part, id)?,
                    },
                }
            }
            tx.applications().update(part, id, &app)?;
        }
        TimerKind::GroupActive => {
            let Some(mut group) = tx.groups().get(part, id)? else {
                return Ok(());
            };
            if lifecycle::group_active(&mut group, env.now) {
                tx.groups().update(part, id, &group)?;
            }
            // Applications finish replicating to every ACTIVE location of the group.
            let locations: Vec<String> = group
                .location_states
                .iter()
                .flatten()
                .filter(|l| l.status == Some(StreamGroupLocationStatus::Active))
                .filter_map(|l| l.location_name.clone())
                .collect();
            for app_id in associations::app_ids(&group) {
                if let Some(mut app) = tx.applications().get(part, &app_id)? {
                    if lifecycle::app_replicated(&mut app, &locations, env.now) {
                        tx.applications().update(part, &app_id, &app)?;
                    }
                }
            }
            // Sessions that started while locations were coming up may be placed now.
            placement::place_waiting(env, id)?;
        }
        TimerKind::AppDeleted => {
            let app = tx.applications().get(part, id)?;
            if app.is_some_and(|a| a.status == Some(ApplicationStatus::Deleting)) {
                tx.applications().delete(part, id)?;
                if tx.builds().set_deleted(part, id)? {
                    env.builds.queued();
                }
            }
        }
        TimerKind::GroupDeleted => {
            let g = tx.groups().get(part, id)?;
            if g.is_some_and(|g| g.status == Some(StreamGroupStatus::Deleting)) {
                tx.groups().delete(part, id)?;
            }
        }
        TimerKind::GroupExpired => {
            if let Some(mut g) = tx.groups().get(part, id)? {
                if g.status != Some(StreamGroupStatus::Deleting) && g.status != Some(StreamGroupStatus::Expired) {
                    g.status = Some(StreamGroupStatus::Expired);
                    g.last_updated_at = Some(env.now);
                    tx.groups().update(part, id, &g)?;
                }
            }
        }
        TimerKind::UrlExpired => urls::on_expired(env, id)?,
        TimerKind::UrlSessionsEnded => urls::on_sessions_ended(env, id)?,
        TimerKind::ScaleUp => placement::scale_up(env, id)?,
        TimerKind::SessionPlaced => {
            if let Some(mut row) = tx.sessions().get(part, id)? {
                placement::try_place(env, &mut row)?;
            }
        }
        TimerKind::SessionExpunged => {
            // Retention is over: the ended session leaves every listing.
            let ended = tx
                .sessions()
                .get(part, id)?
                .is_some_and(|row| !session::is_live(row.doc.status.unwrap_or_default()));
            if ended {
                tx.sessions().delete(part, id)?;
            }
        }
        TimerKind::SessionReconnected
        | TimerKind::SessionTerminated
        | TimerKind::PlacementTimeout
        | TimerKind::ConnectionTimeout
        | TimerKind::IdleTimeout
        | TimerKind::LaunchGrace
        | TimerKind::MaxLength => {
            let (Some(mut row), Some(event)) = (tx.sessions().get(part, id)?, Event::from_timer(kind, t.due_at)) else {
                return Ok(());
            };
            drive_quiet(env, &mut row, event)?;
        }
    }
    Ok(())
}
