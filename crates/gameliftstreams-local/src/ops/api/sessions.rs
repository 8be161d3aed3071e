//! StartStreamSession, GetStreamSession, TerminateStreamSession, ExportStreamSessionFiles,
//! CreateStreamSessionConnection, ListStreamSessions and ListStreamSessionsByAccount.

use crate::domain::session::{self, Event, Refusal};
use crate::domain::signal as domain_signal;
use crate::domain::views;
use crate::domain::ApiError;
use crate::ops::engine::{self, launch, resources, signal};
use crate::ops::{Ctx, Listing};
use crate::store::{SessionFilter, Tx};
use gls_model::{
    CreateStreamSessionConnectionInput, CreateStreamSessionConnectionOutput, ExportFilesMetadata, ExportFilesStatus,
    ExportStreamSessionFilesInput, ExportStreamSessionFilesOutput, GetStreamSessionInput, GetStreamSessionOutput,
    ListStreamSessionsByAccountInput, ListStreamSessionsInput, ListStreamSessionsOutput, Op, StartStreamSessionInput,
    StreamGroupStatus, StreamSessionStatus, StreamSessionStatusReason, StreamSessionSummary,
    TerminateStreamSessionInput,
};

pub(crate) fn start(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: StartStreamSessionInput,
) -> Result<GetStreamSessionOutput, ApiError> {
    Ok(launch::launch(ctx, tx, input)?.doc)
}

pub(crate) fn get(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: GetStreamSessionInput,
) -> Result<GetStreamSessionOutput, ApiError> {
    let row = resources::session(ctx, tx, &input.identifier, &input.stream_session_identifier)?;
    Ok(views::session_via(row.doc, ctx.host))
}

pub(crate) fn terminate(ctx: &Ctx<'_>, tx: &dyn Tx, input: TerminateStreamSessionInput) -> Result<(), ApiError> {
    let mut row = resources::session(ctx, tx, &input.identifier, &input.stream_session_identifier)?;
    match engine::drive(ctx.env(tx), &mut row, Event::Terminate)? {
        Ok(()) => Ok(()),
        Err(_) => Err(ApiError::validation(
            "The stream session is still activating and cannot be terminated yet. Try again once it is ACTIVE.",
        )),
    }
}

pub(crate) fn export_files(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: ExportStreamSessionFilesInput,
) -> Result<ExportStreamSessionFilesOutput, ApiError> {
    let mut row = resources::session(ctx, tx, &input.identifier, &input.stream_session_identifier)?;
    let status = row.doc.status.unwrap_or_default();
    if !session::is_running(status) {
        return Err(ApiError::validation(format!(
            "Stream session {} is {}; files can be exported only while it is ACTIVE, CONNECTED, \
             PENDING_CLIENT_RECONNECTION or RECONNECTING.",
            row.id,
            status.as_str()
        )));
    }
    row.doc.export_files_metadata = Some(ExportFilesMetadata {
        status: Some(ExportFilesStatus::Pending),
        status_reason: None,
        output_uri: Some(input.output_uri),
    });
    row.doc.last_updated_at = Some(ctx.now);
    tx.sessions().update(ctx.part, &row)?;
    Ok(ExportStreamSessionFilesOutput {})
}

/// The filter values a NextToken is bound to ("" for absent).
fn token_filters(filter: &SessionFilter) -> [&'static str; 2] {
    [
        filter.status.map(|s| s.as_str()).unwrap_or(""),
        filter.export.map(|s| s.as_str()).unwrap_or(""),
    ]
}

/// One page of sessions: the group's (ListStreamSessions, full export metadata) or the
/// account's (ListStreamSessionsByAccount, export status only).
fn page(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    op: Op,
    filter: SessionFilter,
    next_token: Option<&str>,
    max_results: Option<i32>,
) -> Result<(Vec<StreamSessionSummary>, Option<String>), ApiError> {
    let listing = Listing {
        op,
        parent: filter.group.as_deref().unwrap_or(""),
        filters: &token_filters(&filter),
        next_token,
        max_results,
    };
    let (docs, next) = ctx.page(&listing, |after, limit| {
        tx.sessions().page(ctx.part, &filter, after, limit)
    })?;
    let full_export = filter.group.is_some();
    let items = docs
        .into_iter()
        .map(|d| views::session_summary(d, full_export))
        .collect();
    Ok((items, next))
}

pub(crate) fn list(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: ListStreamSessionsInput,
) -> Result<ListStreamSessionsOutput, ApiError> {
    let (group_id, _) = resources::group(ctx, tx, &input.identifier)?;
    let filter = SessionFilter {
        group: Some(group_id),
        status: input.status,
        export: input.export_files_status,
    };
    let (items, next_token) = page(
        ctx,
        tx,
        Op::ListStreamSessions,
        filter,
        input.next_token.as_deref(),
        input.max_results,
    )?;
    Ok(ListStreamSessionsOutput {
        items: Some(items),
        next_token,
    })
}

pub(crate) fn list_by_account(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: ListStreamSessionsByAccountInput,
) -> Result<Vec<u8>, ApiError> {
    let filter = SessionFilter {
        group: None,
        status: input.status,
        export: input.export_files_status,
    };
    let listing = Listing {
        op: Op::ListStreamSessionsByAccount,
        parent: "",
        filters: &token_filters(&filter),
        next_token: input.next_token.as_deref(),
        max_results: input.max_results,
    };
    // The page is the stored summaries (JSON this service wrote) joined as they are.
    let mut out = Vec::with_capacity(512 * (1 + input.max_results.unwrap_or(25).clamp(1, 100) as usize));
    out.extend_from_slice(b"{\"Items\":[");
    let next_token = ctx.page_with(&listing, |after, limit| {
        tx.sessions().page_summaries(ctx.part, &filter, after, limit, &mut out)
    })?;
    out.push(b']');
    if let Some(token) = next_token {
        out.extend_from_slice(b",\"NextToken\":");
        serde_json::to_writer(&mut out, &token).map_err(ApiError::internal)?;
    }
    out.push(b'}');
    Ok(out)
}

pub(crate) fn create_connection(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: CreateStreamSessionConnectionInput,
) -> Result<CreateStreamSessionConnectionOutput, ApiError> {
    let (group_id, group) = resources::group(ctx, tx, &input.identifier)?;
    let mut row = resources::session(ctx, tx, &input.identifier, &input.stream_session_identifier)?;
    if group.status != Some(StreamGroupStatus::Active) {
        return Err(ApiError::conflict(format!(
            "Stream group {group_id} is {}; connections need an ACTIVE stream group.",
            group.status.unwrap_or_default().as_str()
        )));
    }
    if row.internal.from_url {
        return Err(ApiError::validation(
            "A session started from a stream URL is a single play: it takes no new connection.",
        ));
    }
    if row.doc.signal_request.as_deref() == Some(input.signal_request.as_str()) {
        return Err(ApiError::validation(
            "SignalRequest must be a new offer, different from the one the session was started with.",
        ));
    }
    let location = row.doc.location.clone().unwrap_or_else(|| ctx.scope.region.clone());
    let status = row.doc.status.unwrap_or_default();
    if !matches!(
        status,
        StreamSessionStatus::Active | StreamSessionStatus::PendingClientReconnection
    ) {
        return Err(ApiError::conflict(format!(
            "A new connection is not possible while the stream session is {}.",
            status.as_str()
        )));
    }
    let env = ctx.env(tx);
    let Some(answer) = signal::answer(env, &row, &input.signal_request, &location) else {
        // As in AWS, an unusable offer ends the session: ERROR/invalidSignalRequest.
        engine::drive_quiet(
            env,
            &mut row,
            Event::Fault(StreamSessionStatusReason::InvalidSignalRequest),
        )?;
        return Ok(CreateStreamSessionConnectionOutput {
            signal_response: Some(domain_signal::placeholder(&row.id, &location)),
        });
    };
    if let Err(Refusal::WrongState(why)) = engine::drive(env, &mut row, Event::Reconnect(answer.clone()))? {
        return Err(ApiError::conflict(why));
    }
    Ok(CreateStreamSessionConnectionOutput {
        signal_response: Some(domain_signal::rehost_answer(&answer, ctx.host)),
    })
}
