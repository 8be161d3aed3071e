//! CreateStreamUrl, GetStreamUrl, ListStreamUrls and RevokeStreamUrl. What happens to URLs
//! over time and when an end user opens one is the engine's (`engine::urls`).

use crate::domain::ids::{self, random_hex};
use crate::domain::timer::TimerKind;
use crate::domain::views;
use crate::domain::ApiError;
use crate::ops::engine::{launch, resources, urls};
use crate::ops::{Ctx, Listing};
use crate::store::{Tx, UrlInternal, UrlRow};
use gls_model::{
    CreateStreamUrlInput, GetStreamUrlInput, GetStreamUrlOutput, ListStreamUrlsInput, ListStreamUrlsOutput, Op,
    RevocationMode, RevokeStreamUrlInput, StartStreamSessionInput, StreamGroupStatus, StreamUrlStatus,
    StreamUrlStatusReason, Timestamp,
};

/// The page that activates a URL, served by this server.
pub fn public_url(host: &str, id: &str, token: &str) -> String {
    format!("http://{host}/_local/streamurls/{id}?token={token}")
}

pub(crate) fn create(ctx: &Ctx<'_>, tx: &dyn Tx, input: CreateStreamUrlInput) -> Result<GetStreamUrlOutput, ApiError> {
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
    let (group_id, group) = resources::group(ctx, tx, &input.identifier)?;
    if group.status != Some(StreamGroupStatus::Active) {
        return Err(ApiError::conflict(format!(
            "Stream group {group_id} is {}; stream URLs can be created only in an ACTIVE stream group.",
            group.status.unwrap_or_default().as_str()
        )));
    }
    let app_id = launch::check_launch(ctx, tx, &probe)?.app_id;
    let id = ids::new_url_id(&mut rand::rng());
    let token = random_hex(32);
    let usage = input.usage_limit.unwrap_or(1);
    let doc = GetStreamUrlOutput {
        arn: ctx.scope.url_arn(&group_id, &id),
        stream_url_id: Some(id.clone()),
        stream_url: Some(public_url(ctx.host, &id, &token)),
        status: Some(StreamUrlStatus::Active),
        status_reason: None,
        expires_at: Some(Timestamp(
            ctx.later(i64::from(input.url_expires_after_minutes) * 60_000),
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
    tx.urls().insert(ctx.part, &row)?;
    if let Some(expires) = row.doc.expires_at {
        ctx.env(tx).schedule_at(TimerKind::UrlExpired, expires.millis(), &id)?;
    }
    Ok(row.doc)
}

pub(crate) fn get(ctx: &Ctx<'_>, tx: &dyn Tx, input: GetStreamUrlInput) -> Result<GetStreamUrlOutput, ApiError> {
    let row = resources::url(ctx, tx, &input.identifier, &input.stream_url_identifier)?;
    let mut doc = row.doc;
    let mut items = Vec::with_capacity(row.internal.sessions.len());
    for sid in &row.internal.sessions {
        if let Some(s) = tx.sessions().get(ctx.part, sid)? {
            items.push(views::session_summary(s.doc, true));
        }
    }
    doc.stream_sessions = Some(items);
    Ok(views::url_via(doc, ctx.host))
}

pub(crate) fn list(ctx: &Ctx<'_>, tx: &dyn Tx, input: ListStreamUrlsInput) -> Result<ListStreamUrlsOutput, ApiError> {
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
    let status = input.status.map(|s| s.as_str());
    let listing = Listing {
        op: Op::ListStreamUrls,
        parent: group.as_deref().unwrap_or(""),
        filters: &[status.unwrap_or("")],
        next_token: input.next_token.as_deref(),
        max_results: input.max_results,
    };
    let (items, next_token) = ctx.page(&listing, |after, limit| {
        tx.urls().page(ctx.part, group.as_deref(), status, after, limit)
    })?;
    Ok(ListStreamUrlsOutput {
        items: Some(
            items
                .into_iter()
                .map(|r| views::url_summary(views::url_via(r.doc, ctx.host)))
                .collect(),
        ),
        next_token,
    })
}

pub(crate) fn revoke(ctx: &Ctx<'_>, tx: &dyn Tx, input: RevokeStreamUrlInput) -> Result<(), ApiError> {
    let mut row = resources::url(ctx, tx, &input.identifier, &input.stream_url_identifier)?;
    let env = ctx.env(tx);
    let mode = input.revocation_mode.unwrap_or(RevocationMode::RevokeUrl);
    let revoked = row.doc.status == Some(StreamUrlStatus::Revoked);
    match mode {
        RevocationMode::RevokeUrl => {
            if revoked {
                return Ok(());
            }
            urls::set_revoked(&mut row, StreamUrlStatusReason::UserRevoked);
        }
        RevocationMode::RevokeAndTerminateSessions => {
            if revoked && row.doc.status_reason != Some(StreamUrlStatusReason::UserRevoked) {
                return Ok(());
            }
            if urls::end_sessions(env, &row)? > 0 {
                urls::set_revoked(&mut row, StreamUrlStatusReason::RevokedAndTerminatingSessions);
                env.schedule(
                    TimerKind::UrlSessionsEnded,
                    ctx.settings.delays.session_terminated_ms,
                    &row.id,
                )?;
            } else {
                urls::set_revoked(&mut row, StreamUrlStatusReason::RevokedAndSessionsTerminated);
            }
        }
    }
    tx.urls().update(ctx.part, &row)?;
    Ok(())
}
