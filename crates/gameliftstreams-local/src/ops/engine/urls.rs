//! The stream URL lifecycle across resources: revocation when the group or application goes
//! (with or without ending its sessions), expiry, and activation (an end user opening the
//! URL, which starts a session exactly as StartStreamSession does).

use super::{drive_quiet, launch, Env};
use crate::domain::ids::Scope;
use crate::domain::session::{self, Event};
use crate::domain::timer::TimerKind;
use crate::domain::ApiError;
use crate::ops::Ctx;
use crate::store::{Tx, UrlRow};
use gls_model::{
    ErrorCode, GetStreamSessionOutput, Protocol, StartStreamSessionInput, StreamSessionStatus, StreamUrlStatus,
    StreamUrlStatusReason,
};

/// Whose removal revokes URLs.
#[derive(Debug, Clone, Copy)]
pub enum UrlOwner<'a> {
    /// An application being deleted.
    App(&'a str),
    /// A stream group being deleted.
    Group(&'a str),
}

/// Mark a URL revoked.
pub fn set_revoked(row: &mut UrlRow, reason: StreamUrlStatusReason) {
    row.doc.status = Some(StreamUrlStatus::Revoked);
    row.doc.status_reason = Some(reason);
}

/// End the URL's live sessions; returns how many were ended.
pub fn end_sessions(env: Env<'_>, row: &UrlRow) -> Result<usize, ApiError> {
    let mut ended = 0;
    for sid in &row.internal.sessions {
        let Some(mut s) = env.tx.sessions().get(env.part, sid)? else {
            continue;
        };
        if session::is_live(s.doc.status.unwrap_or_default()) {
            drive_quiet(env, &mut s, Event::End)?;
            ended += 1;
        }
    }
    Ok(ended)
}

/// Revoke every URL of a group or application that is going away.
pub fn revoke_for(env: Env<'_>, owner: UrlOwner<'_>) -> Result<(), ApiError> {
    let (group, reason) = match owner {
        UrlOwner::Group(g) => (Some(g), StreamUrlStatusReason::StreamGroupDeleted),
        UrlOwner::App(_) => (None, StreamUrlStatusReason::ApplicationDeleted),
    };
    for mut row in env.tx.urls().all(env.part, group)? {
        if let UrlOwner::App(a) = owner {
            if row.internal.app_id != a {
                continue;
            }
        }
        set_revoked(&mut row, reason);
        env.tx.urls().update(env.part, &row)?;
    }
    Ok(())
}

/// ExpiresAt passed: an ACTIVE URL becomes EXPIRED (LIMIT_REACHED and REVOKED stay).
pub fn on_expired(env: Env<'_>, id: &str) -> Result<(), ApiError> {
    if let Some(mut row) = env.tx.urls().get(env.part, id)? {
        if row.doc.status == Some(StreamUrlStatus::Active) {
            row.doc.status = Some(StreamUrlStatus::Expired);
            env.tx.urls().update(env.part, &row)?;
        }
    }
    Ok(())
}

/// After REVOKE_AND_TERMINATE_SESSIONS: once every session has ended, say so.
pub fn on_sessions_ended(env: Env<'_>, id: &str) -> Result<(), ApiError> {
    let Some(mut row) = env.tx.urls().get(env.part, id)? else {
        return Ok(());
    };
    if row.doc.status_reason != Some(StreamUrlStatusReason::RevokedAndTerminatingSessions) {
        return Ok(());
    }
    let mut all_ended = true;
    for sid in &row.internal.sessions {
        if let Some(s) = env.tx.sessions().get(env.part, sid)? {
            let status = s.doc.status.unwrap_or_default();
            if session::is_live(status) || status == StreamSessionStatus::Terminating {
                all_ended = false;
            }
        }
    }
    if all_ended {
        row.doc.status_reason = Some(StreamUrlStatusReason::RevokedAndSessionsTerminated);
        env.tx.urls().update(env.part, &row)?;
    } else {
        env.schedule(
            TimerKind::UrlSessionsEnded,
            env.settings.delays.session_terminated_ms.max(100),
            id,
        )?;
    }
    Ok(())
}

/// What opening a URL led to.
pub enum Activation {
    /// A session was started.
    Started(Box<GetStreamSessionOutput>),
    /// Refused, with the reason to show; no use was spent.
    Refused(String),
}

/// The scope and secret token of a URL id, for the public page (which carries no
/// credentials).
pub fn locate(tx: &dyn Tx, id: &str) -> Result<Option<(Scope, String)>, ApiError> {
    let Some((part, row)) = tx.urls().find(id)? else {
        return Ok(None);
    };
    let Some((account, region)) = tx.partitions().scope(part)? else {
        return Ok(None);
    };
    Ok(Some((Scope::new(account, region), row.internal.token)))
}

/// An end user opened the URL: spend a use and start a session, or say why not.
pub fn activate(ctx: &Ctx<'_>, tx: &dyn Tx, id: &str) -> Result<Activation, ApiError> {
    let Some(mut row) = tx.urls().get(ctx.part, id)? else {
        return Ok(Activation::Refused("This stream link does not exist.".into()));
    };
    match row.doc.status.unwrap_or_default() {
        StreamUrlStatus::Active => {}
        StreamUrlStatus::Expired => return Ok(Activation::Refused("This stream link has expired.".into())),
        StreamUrlStatus::LimitReached => {
            return Ok(Activation::Refused(
                "This stream link has been used as many times as it allows.".into(),
            ))
        }
        StreamUrlStatus::Revoked => return Ok(Activation::Refused("This stream link has been revoked.".into())),
    }
    let d = &row.doc;
    let input = StartStreamSessionInput {
        identifier: row.group_id.clone(),
        application_identifier: row.internal.app_id.clone(),
        protocol: d.protocol.unwrap_or(Protocol::WebRtc),
        signal_request: "NO_CLIENT_CONNECTION".into(),
        locations: d.locations.clone(),
        session_length_seconds: d.session_length_seconds,
        additional_launch_args: d.additional_launch_args.clone(),
        additional_environment_variables: d.additional_environment_variables.clone(),
        role_arn: d.role_arn.clone(),
        display_configuration: d.display_configuration.clone(),
        ..Default::default()
    };
    let mut session = match launch::launch(ctx, tx, input) {
        Ok(s) => s,
        Err(e) if e.code != ErrorCode::InternalServerException => {
            return Ok(Activation::Refused(format!(
                "No stream could be started: {}",
                e.message
            )))
        }
        Err(e) => return Err(e),
    };
    // A URL-born session carries no signal request of its own, and no reconnection.
    session.doc.signal_request = None;
    session.internal.from_url = true;
    tx.sessions().update(ctx.part, &session)?;
    let remaining = row.doc.remaining_uses.unwrap_or(0).saturating_sub(1).max(0);
    row.doc.remaining_uses = Some(remaining);
    if remaining == 0 {
        row.doc.status = Some(StreamUrlStatus::LimitReached);
    }
    row.internal.sessions.push(session.id.clone());
    tx.urls().update(ctx.part, &row)?;
    Ok(Activation::Started(Box::new(session.doc)))
}
