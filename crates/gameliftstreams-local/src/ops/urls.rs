//! Stream URLs: CreateStreamUrl, GetStreamUrl, ListStreamUrls, RevokeStreamUrl, their timed
//! transitions, revocation when the group or application goes, and activation (an end user
//! opening the URL, which starts a session exactly as StartStreamSession does).

use super::engine;
use super::{fingerprint, groups, page_size, remember, replayed, sessions, split_page, Ctx, Settings};
use crate::domain::cursor::Binding;
use crate::domain::ids;
use crate::domain::lifecycle::TimerKind;
use crate::domain::session::{self, Event};
use crate::domain::ApiError;
use crate::store;
use crate::store::sessions as session_rows;
use crate::store::urls::{self as rows, UrlInternal, UrlRow};
use gls_model::{
    CreateStreamUrlInput, GetStreamUrlInput, GetStreamUrlOutput, ListStreamUrlsInput, ListStreamUrlsOutput, Op,
    Protocol, RevocationMode, RevokeStreamUrlInput, StartStreamSessionInput, StreamGroupStatus, StreamSessionStatus,
    StreamUrlStatus, StreamUrlStatusReason, StreamUrlSummary, Timestamp,
};
use rand::Rng;
use rusqlite::Transaction;

/// Whose removal revokes URLs.
#[derive(Debug, Clone, Copy)]
pub enum UrlOwner<'a> {
    /// An application being deleted.
    App(&'a str),
    /// A stream group being deleted.
    Group(&'a str),
}

fn secret() -> String {
    let mut rng = rand::rng();
    (0..32).map(|_| format!("{:x}", rng.random_range(0..16u8))).collect()
}

/// The page that activates a URL, served by this server.
pub fn public_url(host: &str, id: &str, token: &str) -> String {
    format!("http://{host}/_local/streamurls/{id}?token={token}")
}

pub(super) fn create(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: CreateStreamUrlInput,
) -> Result<GetStreamUrlOutput, ApiError> {
    let fp = fingerprint(&input);
    if let Some(id) = replayed(ctx, tx, Op::CreateStreamUrl, input.client_token.as_deref(), &fp)? {
        return rows::get(tx, ctx.part, &id)?
            .map(|r| r.doc)
            .ok_or_else(|| ApiError::internal("lost stream URL"));
    }
    // The same checks as StartStreamSession, without starting anything.
    let probe = StartStreamSessionInput {
        identifier: input.identifier.clone(),
        application_identifier: input.application_identifier.clone(),
        protocol: input.protocol,
        signal_request: "NO_CLIENT_CONNECTION".into(),
        locations: Some(input.locations.clone()),
        role_arn: input.role_arn.clone(),
        display_configuration: input.display_configuration.clone(),
        ..Default::default()
    };
    let (group_id, group) = groups::load(ctx, tx, &input.identifier)?;
    if group.status != Some(StreamGroupStatus::Active) {
        return Err(ApiError::conflict(format!(
            "Stream group {group_id} is {}; stream URLs can be created only in an ACTIVE stream group.",
            group.status.unwrap_or_default().as_str()
        )));
    }
    let app_id = sessions::check_launch(ctx, tx, &probe)?.app_id;
    let id = ids::new_url_id(&mut rand::rng());
    let token = secret();
    let usage = input.usage_limit.unwrap_or(1);
    let doc = GetStreamUrlOutput {
        arn: ctx.scope.url_arn(&group_id, &id),
        stream_url_id: Some(id.clone()),
        stream_url: Some(public_url(ctx.host, &id, &token)),
        status: Some(StreamUrlStatus::Active),
        status_reason: None,
        expires_at: Some(Timestamp(
            ctx.now.millis() + i64::from(input.url_expires_after_minutes) * 60_000,
        )),
        created_at: Some(ctx.now),
        usage_limit: Some(usage),
        remaining_uses: Some(usage),
        stream_group_arn: Some(group.arn.clone()),
        application_arn: Some(ctx.scope.app_arn(&app_id)),
        protocol: Some(input.protocol),
        locations: Some(input.locations),
        session_length_seconds: Some(input.session_length_seconds.unwrap_or(43_200)),
        description: input.description,
        additional_launch_args: input.additional_launch_args,
        additional_environment_variables: input.additional_environment_variables,
        role_arn: input.role_arn,
        display_configuration: input.display_configuration,
        stream_sessions: None,
    };
    let row = UrlRow {
        id: id.clone(),
        group_id,
        created_at: ctx.now.millis(),
        doc,
        internal: UrlInternal {
            token,
            app_id,
            sessions: Vec::new(),
        },
    };
    rows::insert(tx, ctx.part, &row)?;
    if let Some(expires) = row.doc.expires_at {
        store::timer_add(tx, expires.millis(), ctx.part, TimerKind::UrlExpired, &id)?;
    }
    remember(ctx, tx, Op::CreateStreamUrl, input.client_token.as_deref(), &fp, &id)?;
    Ok(row.doc)
}

/// A URL named by the path's group and an ID or ARN. The group may be gone: a URL outlives it.
fn load(ctx: &Ctx<'_>, tx: &Transaction<'_>, group: &str, ident: &str) -> Result<UrlRow, ApiError> {
    let group_id = ids::resolve_group(ctx.scope, group)?;
    let id = ids::resolve_url(ctx.scope, &group_id, ident)?;
    match rows::get(tx, ctx.part, &id)? {
        Some(row) if row.group_id == group_id => Ok(row),
        _ => Err(ApiError::not_found(format!(
            "Stream URL {ident} not found in stream group {group_id}."
        ))),
    }
}

pub(super) fn get(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: GetStreamUrlInput,
) -> Result<GetStreamUrlOutput, ApiError> {
    let row = load(ctx, tx, &input.identifier, &input.stream_url_identifier)?;
    let mut doc = row.doc;
    let mut items = Vec::with_capacity(row.internal.sessions.len());
    for sid in &row.internal.sessions {
        if let Some(s) = session_rows::get(tx, ctx.part, sid)? {
            items.push(sessions::summary(s.doc, true));
        }
    }
    doc.stream_sessions = Some(items);
    Ok(doc)
}

pub(super) fn list(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: ListStreamUrlsInput,
) -> Result<ListStreamUrlsOutput, ApiError> {
    let group = input
        .stream_group_identifier
        .as_deref()
        .map(|g| ids::resolve_group(ctx.scope, g))
        .transpose();
    // An unknown or foreign group filter matches nothing rather than failing: NotFound is not
    // declared, and URLs of deleted groups stay listable.
    let group = match group {
        Ok(g) => g,
        Err(_) => Some(String::new()),
    };
    let status = input.status.map(|s| s.as_str()).unwrap_or("");
    let binding = Binding {
        operation: Op::ListStreamUrls.name(),
        account: &ctx.scope.account,
        region: &ctx.scope.region,
        parent: group.as_deref().unwrap_or(""),
        filters: &[status],
    };
    let after = ctx.position(&binding, input.next_token.as_deref())?;
    let limit = page_size(input.max_results);
    let page = rows::page(
        tx,
        ctx.part,
        group.as_deref(),
        input.status.map(|s| s.as_str()),
        after.as_ref(),
        limit + 1,
    )?;
    let (items, next) = split_page(page, limit);
    let items = items
        .into_iter()
        .map(|r| {
            let d = r.doc;
            StreamUrlSummary {
                arn: d.arn,
                stream_url_id: d.stream_url_id,
                stream_url: d.stream_url,
                status: d.status,
                status_reason: d.status_reason,
                expires_at: d.expires_at,
                created_at: d.created_at,
                usage_limit: d.usage_limit,
                remaining_uses: d.remaining_uses,
                stream_group_arn: d.stream_group_arn,
                application_arn: d.application_arn,
                session_length_seconds: d.session_length_seconds,
                description: d.description,
            }
        })
        .collect();
    Ok(ListStreamUrlsOutput {
        items: Some(items),
        next_token: next.map(|p| ctx.token(&binding, &p)),
    })
}

fn set_revoked(row: &mut UrlRow, reason: StreamUrlStatusReason) {
    row.doc.status = Some(StreamUrlStatus::Revoked);
    row.doc.status_reason = Some(reason);
}

/// End the URL's live sessions; returns how many were ended.
fn end_sessions(
    ctx_part: i64,
    tx: &Transaction<'_>,
    settings: &Settings,
    row: &UrlRow,
    at: Timestamp,
) -> Result<usize, ApiError> {
    let mut ended = 0;
    for sid in &row.internal.sessions {
        let Some(mut s) = session_rows::get(tx, ctx_part, sid)? else {
            continue;
        };
        if session::is_live(s.doc.status.unwrap_or_default()) {
            engine::drive_quiet(tx, settings, ctx_part, &mut s, Event::End, at)?;
            ended += 1;
        }
    }
    Ok(ended)
}

pub(super) fn revoke(ctx: &Ctx<'_>, tx: &Transaction<'_>, input: RevokeStreamUrlInput) -> Result<(), ApiError> {
    let mut row = load(ctx, tx, &input.identifier, &input.stream_url_identifier)?;
    let mode = input.revocation_mode.unwrap_or(RevocationMode::RevokeUrl);
    let revoked = row.doc.status == Some(StreamUrlStatus::Revoked);
    match mode {
        RevocationMode::RevokeUrl => {
            if revoked {
                return Ok(());
            }
            set_revoked(&mut row, StreamUrlStatusReason::UserRevoked);
        }
        RevocationMode::RevokeAndTerminateSessions => {
            if revoked && row.doc.status_reason != Some(StreamUrlStatusReason::UserRevoked) {
                return Ok(());
            }
            if end_sessions(ctx.part, tx, ctx.settings, &row, ctx.now)? > 0 {
                set_revoked(&mut row, StreamUrlStatusReason::RevokedAndTerminatingSessions);
                store::timer_add(
                    tx,
                    ctx.now.millis() + ctx.settings.delays.session_terminated_ms,
                    ctx.part,
                    TimerKind::UrlSessionsEnded,
                    &row.id,
                )?;
            } else {
                set_revoked(&mut row, StreamUrlStatusReason::RevokedAndSessionsTerminated);
            }
        }
    }
    rows::update(tx, ctx.part, &row)?;
    Ok(())
}

/// Revoke every URL of a group or application that is going away.
pub fn revoke_for(ctx: &Ctx<'_>, tx: &Transaction<'_>, owner: UrlOwner<'_>) -> Result<(), ApiError> {
    let (group, reason) = match owner {
        UrlOwner::Group(g) => (Some(g), StreamUrlStatusReason::StreamGroupDeleted),
        UrlOwner::App(_) => (None, StreamUrlStatusReason::ApplicationDeleted),
    };
    for mut row in rows::all(tx, ctx.part, group)? {
        if let UrlOwner::App(a) = owner {
            if row.internal.app_id != a {
                continue;
            }
        }
        set_revoked(&mut row, reason);
        rows::update(tx, ctx.part, &row)?;
    }
    Ok(())
}

/// ExpiresAt passed: an ACTIVE URL becomes EXPIRED (LIMIT_REACHED and REVOKED stay).
pub fn on_expired(tx: &Transaction<'_>, part: i64, id: &str, at: Timestamp) -> Result<(), ApiError> {
    let _ = at;
    if let Some(mut row) = rows::get(tx, part, id)? {
        if row.doc.status == Some(StreamUrlStatus::Active) {
            row.doc.status = Some(StreamUrlStatus::Expired);
            rows::update(tx, part, &row)?;
        }
    }
    Ok(())
}

/// After REVOKE_AND_TERMINATE_SESSIONS: once every session has ended, say so.
pub fn on_sessions_ended(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    id: &str,
    at: Timestamp,
) -> Result<(), ApiError> {
    let Some(mut row) = rows::get(tx, part, id)? else {
        return Ok(());
    };
    if row.doc.status_reason != Some(StreamUrlStatusReason::RevokedAndTerminatingSessions) {
        return Ok(());
    }
    let mut all_ended = true;
    for sid in &row.internal.sessions {
        if let Some(s) = session_rows::get(tx, part, sid)? {
            if session::is_live(s.doc.status.unwrap_or_default())
                || s.doc.status == Some(StreamSessionStatus::Terminating)
            {
                all_ended = false;
            }
        }
    }
    if all_ended {
        row.doc.status_reason = Some(StreamUrlStatusReason::RevokedAndSessionsTerminated);
        rows::update(tx, part, &row)?;
    } else {
        store::timer_add(
            tx,
            at.millis() + settings.delays.session_terminated_ms.max(100),
            part,
            TimerKind::UrlSessionsEnded,
            id,
        )?;
    }
    Ok(())
}

/// What opening a URL led to.
pub enum Activation {
    /// A session was started.
    Started(Box<gls_model::GetStreamSessionOutput>),
    /// Refused, with the reason to show; no use was spent.
    Refused(String),
}

/// An end user opened the URL: spend a use and start a session, or say why not.
pub fn activate(ctx: &Ctx<'_>, tx: &Transaction<'_>, id: &str) -> Result<Activation, ApiError> {
    let Some(mut row) = rows::get(tx, ctx.part, id)? else {
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
    let mut session = match sessions::launch(ctx, tx, input) {
        Ok(s) => s,
        Err(e) if e.code != gls_model::ErrorCode::InternalServerException => {
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
    session_rows::update(tx, ctx.part, &session)?;
    let remaining = row.doc.remaining_uses.unwrap_or(0).saturating_sub(1).max(0);
    row.doc.remaining_uses = Some(remaining);
    if remaining == 0 {
        row.doc.status = Some(StreamUrlStatus::LimitReached);
    }
    row.internal.sessions.push(session.id.clone());
    rows::update(tx, ctx.part, &row)?;
    Ok(Activation::Started(Box::new(session.doc)))
}

/// The partition and scope of a URL id, for the public page.
pub fn locate(tx: &Transaction<'_>, id: &str) -> Result<Option<(ids::Scope, String)>, ApiError> {
    let Some((part, row)) = rows::find(tx, id)? else {
        return Ok(None);
    };
    let Some((account, region)) = store::part_scope(tx, part)? else {
        return Ok(None);
    };
    Ok(Some((ids::Scope::new(account, region), row.internal.token)))
}
