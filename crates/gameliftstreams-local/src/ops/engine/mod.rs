//! The engine: what happens to resources over time and across resources. `drive` applies a
//! domain event to a stored session and carries out its effects; `placement` owns capacity
//! and the queue of waiting sessions; `cascades` what one resource's change does to others;
//! `launch` creates sessions; `urls` the stream URL lifecycle; `timers` fires due timers,
//! each isolated; `apps` what the layer that runs games is told; `exports` the export
//! outbox and its worker; `builds` the snapshots of
//! application builds and their worker; `s3` the S3 endpoint; `faults` injected failures;
//! `resources` finds resources named by the caller. Engine modules never import `ops::api`.

pub mod apps;
pub mod builds;
pub mod cascades;
pub mod exports;
pub mod faults;
pub mod launch;
pub mod placement;
pub mod quotas;
pub mod resources;
pub mod s3;
pub mod signal;
pub mod timers;
pub mod urls;

use super::{Ctx, Settings};
use crate::domain::session::{self, Effect, Event, Refusal, Session};
use crate::domain::timer::TimerKind;
use crate::domain::ApiError;
use crate::store::{SessionRow, Tx};
use apps::Apps;
use builds::BuildWorker;
use exports::ExportWorker;
use faults::Faults;
use gls_model::Timestamp;
use signal::Streams;

/// The parts of the service that engine work uses besides its transaction.
#[derive(Clone, Copy)]
pub struct Parts<'a> {
    /// Service settings.
    pub settings: &'a Settings,
    /// Injected failures.
    pub faults: &'a Faults,
    /// The export worker.
    pub exports: &'a ExportWorker,
    /// The build worker.
    pub builds: &'a BuildWorker,
    /// The streaming layer, when it runs.
    pub streams: Option<&'a dyn Streams>,
    /// The layer that runs games, when it runs.
    pub apps: Option<&'a dyn Apps>,
}

impl<'a> Parts<'a> {
    /// Engine work in `tx`, on partition `part`, at `now`.
    pub fn env(self, tx: &'a dyn Tx, part: i64, now: Timestamp) -> Env<'a> {
        Env {
            tx,
            settings: self.settings,
            faults: self.faults,
            exports: self.exports,
            builds: self.builds,
            streams: self.streams,
            apps: self.apps,
            part,
            now,
        }
    }
}

/// What engine work sees: the transaction, settings, injected faults, the partition of the
/// resources at hand and the time the work happens at.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The open transaction.
    pub tx: &'a dyn Tx,
    /// Service settings.
    pub settings: &'a Settings,
    /// Injected failures.
    pub faults: &'a Faults,
    /// The export worker, told when a job is queued.
    pub exports: &'a ExportWorker,
    /// The build worker, told when a snapshot is to be taken or removed.
    pub builds: &'a BuildWorker,
    /// The streaming layer, when it runs.
    pub streams: Option<&'a dyn Streams>,
    /// The layer that runs games, when it runs.
    pub apps: Option<&'a dyn Apps>,
    /// The partition.
    pub part: i64,
    /// When this happens (a timer's due time, or the request's time).
    pub now: Timestamp,
}

impl Env<'_> {
    /// `ms` after now, saturating: a due time past the end of time never falls due.
    pub fn later(&self, ms: i64) -> i64 {
        self.now.millis().saturating_add(ms)
    }

    /// Schedule a timer for `resource` `ms` from now.
    pub fn schedule(&self, kind: TimerKind, ms: i64, resource: &str) -> Result<(), ApiError> {
        self.schedule_at(kind, self.later(ms), resource)
    }

    /// Schedule a timer for `resource` at `due`.
    pub fn schedule_at(&self, kind: TimerKind, due: i64, resource: &str) -> Result<(), ApiError> {
        self.tx.timers().add(due, self.part, kind.as_str(), resource)?;
        Ok(())
    }
}

impl Ctx<'_> {
    /// The engine's view of this request.
    pub fn env<'a>(&'a self, tx: &'a dyn Tx) -> Env<'a> {
        self.parts.env(tx, self.part, self.now)
    }
}

/// Apply `event` to a stored session, save it, and carry out the effects. A refused event
/// changes nothing.
pub fn drive(env: Env<'_>, row: &mut SessionRow, event: Event) -> Result<Result<(), Refusal>, ApiError> {
    let placed = matches!(event, Event::Placed { .. } | Event::Launching { .. });
    let effects = {
        let mut s = Session {
            doc: &mut row.doc,
            internal: &mut row.internal,
        };
        match session::apply(&mut s, event, env.now, &env.settings.delays.timing()) {
            Ok(fx) => fx,
            Err(r) => return Ok(Err(r)),
        }
    };
    if let (true, Some(apps)) = (placed, env.apps) {
        apps.placed(&row.id);
    }
    let mut released = None;
    for fx in &effects {
        match fx {
            Effect::Finished => {
                exports::finish(env, row)?;
                set_log_location(env, row)?;
                if let Some(days) = env.settings.session_retention_days {
                    env.schedule(
                        TimerKind::SessionExpunged,
                        days.saturating_mul(crate::domain::lifecycle::DAY_MS),
                        &row.id,
                    )?;
                }
            }
            Effect::Timer(kind, due) => env.schedule_at(*kind, *due, &row.id)?,
            Effect::ReleaseSlot(loc) => released = Some(loc.clone()),
        }
    }
    env.tx.sessions().update(env.part, row)?;
    if let Some(loc) = released {
        placement::release_slot(env, &row.group_id, &loc)?;
    }
    Ok(Ok(()))
}

/// Like `drive`, for events the caller has already checked (timers, cascades): a refusal is
/// simply nothing to do.
pub fn drive_quiet(env: Env<'_>, row: &mut SessionRow, event: Event) -> Result<(), ApiError> {
    drive(env, row, event).map(|_| ())
}

/// Where the session's application logs went: under the application's log URI, by group and
/// session (SPEC §10 #12).
fn set_log_location(env: Env<'_>, row: &mut SessionRow) -> Result<(), ApiError> {
    let Some(app) = env.tx.applications().get(env.part, &row.app_id)? else {
        return Ok(());
    };
    if let Some(base) = app.application_log_output_uri.filter(|u| !u.is_empty()) {
        row.doc.log_file_location_uri = Some(crate::domain::lifecycle::log_location(&base, &row.group_id, &row.id));
    }
    Ok(())
}
