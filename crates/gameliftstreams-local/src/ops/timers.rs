//! The timed-transition engine: fires every durable timer that has fallen due, in due order,
//! each at its own due time, inside the caller's write transaction.

use super::{doc_json, engine, parse_doc, urls, Settings};
use crate::domain::lifecycle::{self, TimerKind};
use crate::domain::ApiError;
use crate::store::{self, DocTable, Timer};
use gls_model::{
    ApplicationStatus, GetApplicationOutput, GetStreamGroupOutput, StreamGroupLocationStatus, StreamGroupStatus,
    Timestamp,
};
use rusqlite::Transaction;

/// Fire due timers until none is left at or before `now`.
pub fn fire_due(tx: &Transaction<'_>, settings: &Settings, now: Timestamp) -> Result<usize, ApiError> {
    let mut fired = 0;
    while let Some(t) = store::timer_first_due(tx, now.millis())? {
        store::timer_delete(tx, t.seq)?;
        fire(tx, settings, &t)?;
        fired += 1;
    }
    Ok(fired)
}

fn load_doc<T: serde::de::DeserializeOwned>(
    tx: &Transaction<'_>,
    table: DocTable,
    part: i64,
    id: &str,
) -> Result<Option<T>, ApiError> {
    store::doc_get(tx, table, part, id)?
        .map(|(d, _)| parse_doc(&d))
        .transpose()
}

fn fire(tx: &Transaction<'_>, settings: &Settings, t: &Timer) -> Result<(), ApiError> {
    let at = Timestamp(t.due_at);
    match t.kind {
        TimerKind::AppProcessing | TimerKind::AppReady => {
            let Some(mut app) = load_doc::<GetApplicationOutput>(tx, DocTable::Applications, t.part, &t.resource)?
            else {
                return Ok(());
            };
            if t.kind == TimerKind::AppProcessing {
                if lifecycle::app_processing(&mut app, at) {
                    store::timer_add(
                        tx,
                        t.due_at + settings.delays.app_ready_ms,
                        t.part,
                        TimerKind::AppReady,
                        &t.resource,
                    )?;
                }
            } else {
                lifecycle::app_ready(&mut app, at);
            }
            store::doc_update(tx, DocTable::Applications, t.part, &t.resource, &doc_json(&app)?)?;
        }
        TimerKind::GroupActive => {
            let Some(mut group) = load_doc::<GetStreamGroupOutput>(tx, DocTable::StreamGroups, t.part, &t.resource)?
            else {
                return Ok(());
            };
            if lifecycle::group_active(&mut group, at) {
                store::doc_update(tx, DocTable::StreamGroups, t.part, &t.resource, &doc_json(&group)?)?;
            }
            // Applications finish replicating to every ACTIVE location of the group.
            let locations: Vec<String> = group
                .location_states
                .iter()
                .flatten()
                .filter(|l| l.status == Some(StreamGroupLocationStatus::Active))
                .filter_map(|l| l.location_name.clone())
                .collect();
            for app_arn in group.associated_applications.iter().flatten() {
                let app_id = app_arn.rsplit('/').next().unwrap_or_default();
                if let Some(mut app) = load_doc::<GetApplicationOutput>(tx, DocTable::Applications, t.part, app_id)? {
                    if lifecycle::app_replicated(&mut app, &locations, at) {
                        store::doc_update(tx, DocTable::Applications, t.part, app_id, &doc_json(&app)?)?;
                    }
                }
            }
            // Sessions that started while locations were coming up may be placed now.
            engine::place_waiting(tx, settings, t.part, &t.resource, at)?;
        }
        TimerKind::AppDeleted => {
            let app = load_doc::<GetApplicationOutput>(tx, DocTable::Applications, t.part, &t.resource)?;
            if app.is_some_and(|a| a.status == Some(ApplicationStatus::Deleting)) {
                store::doc_delete(tx, DocTable::Applications, t.part, &t.resource)?;
            }
        }
        TimerKind::GroupDeleted => {
            let g = load_doc::<GetStreamGroupOutput>(tx, DocTable::StreamGroups, t.part, &t.resource)?;
            if g.is_some_and(|g| g.status == Some(StreamGroupStatus::Deleting)) {
                store::doc_delete(tx, DocTable::StreamGroups, t.part, &t.resource)?;
            }
        }
        TimerKind::GroupExpired => {
            if let Some(mut g) = load_doc::<GetStreamGroupOutput>(tx, DocTable::StreamGroups, t.part, &t.resource)? {
                if g.status != Some(StreamGroupStatus::Deleting) && g.status != Some(StreamGroupStatus::Expired) {
                    g.status = Some(StreamGroupStatus::Expired);
                    g.last_updated_at = Some(at);
                    store::doc_update(tx, DocTable::StreamGroups, t.part, &t.resource, &doc_json(&g)?)?;
                }
            }
        }
        TimerKind::UrlExpired => urls::on_expired(tx, t.part, &t.resource, at)?,
        TimerKind::UrlSessionsEnded => urls::on_sessions_ended(tx, settings, t.part, &t.resource, at)?,
        TimerKind::SessionPlaced
        | TimerKind::SessionReconnected
        | TimerKind::SessionTerminated
        | TimerKind::PlacementTimeout
        | TimerKind::ConnectionTimeout
        | TimerKind::IdleTimeout
        | TimerKind::MaxLength
        | TimerKind::SessionExpunged => engine::session_timer(tx, settings, t.part, &t.resource, t.kind, t.due_at)?,
        TimerKind::ScaleUp => engine::scale_up(tx, settings, t.part, &t.resource, at)?,
    }
    Ok(())
}
