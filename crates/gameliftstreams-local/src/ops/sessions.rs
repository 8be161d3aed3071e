//! StartStreamSession, GetStreamSession, TerminateStreamSession, ExportStreamSessionFiles,
//! ListStreamSessions and ListStreamSessionsByAccount.

use super::engine;
use super::{applications, fingerprint, groups, page_size, remember, replayed, split_page, Ctx};
use crate::domain::cursor::Binding;
use crate::domain::ids;
use crate::domain::lifecycle::TimerKind;
use crate::domain::session::{self, Event, Refusal, Session};
use crate::domain::ApiError;
use crate::store::sessions::{self as rows, SessionFilter, SessionInternal, SessionRow};
use crate::store::{self, DocTable};
use gls_model::{
    ApplicationStatus, CreateStreamSessionConnectionInput, CreateStreamSessionConnectionOutput, DisplayConfiguration,
    ExportFilesMetadata, ExportFilesStatus, ExportStreamSessionFilesInput, ExportStreamSessionFilesOutput,
    GetStreamSessionInput, GetStreamSessionOutput, ListStreamSessionsByAccountInput, ListStreamSessionsByAccountOutput,
    ListStreamSessionsInput, ListStreamSessionsOutput, Op, PerformanceStatsConfiguration, StartStreamSessionInput,
    StreamGroupStatus, StreamSessionStatus, StreamSessionSummary, TerminateStreamSessionInput,
};
use rusqlite::Transaction;
use sha2::{Digest, Sha256};

const MAX_PIXELS: i64 = 1920 * 1080;

/// Load a session of a group (both by ID or ARN), or 404.
pub fn load(ctx: &Ctx<'_>, tx: &Transaction<'_>, group: &str, session: &str) -> Result<SessionRow, ApiError> {
    let group_id = ids::resolve_group(ctx.scope, group)?;
    if store::doc_get(tx, DocTable::StreamGroups, ctx.part, &group_id)?.is_none() {
        return Err(ApiError::not_found(format!("Stream group {group} not found.")));
    }
    let id = ids::resolve_session(ctx.scope, &group_id, session)?;
    match rows::get(tx, ctx.part, &id)? {
        Some(row) if row.group_id == group_id => Ok(row),
        _ => Err(ApiError::not_found(format!(
            "Stream session {session} not found in stream group {group_id}."
        ))),
    }
}

fn check_display(d: Option<&DisplayConfiguration>) -> Result<(), ApiError> {
    let Some(r) = d.and_then(|d| d.resolution.as_ref()) else {
        return Ok(());
    };
    if r.width % 2 != 0 || r.height % 2 != 0 {
        return Err(ApiError::validation(format!(
            "Resolution {}x{}: width and height must be even numbers.",
            r.width, r.height
        )));
    }
    if i64::from(r.width) * i64::from(r.height) > MAX_PIXELS {
        return Err(ApiError::validation(format!(
            "Resolution {}x{} has more than {MAX_PIXELS} pixels (1920x1080).",
            r.width, r.height
        )));
    }
    Ok(())
}

/// The rules on RoleArn beyond its pattern: the `GameLiftStreams-` name prefix, no
/// service-linked role, and the caller's own account.
pub fn check_role(ctx: &Ctx<'_>, role: Option<&str>) -> Result<(), ApiError> {
    let Some(role) = role else { return Ok(()) };
    let account = role.split(':').nth(4).unwrap_or("");
    let path = role.split_once(":role/").map(|(_, p)| p).unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    if path.starts_with("aws-service-role/") {
        return Err(ApiError::validation("RoleArn must not be a service-linked role."));
    }
    if !name.starts_with("GameLiftStreams-") {
        return Err(ApiError::validation(
            "The name of the role in RoleArn must start with GameLiftStreams-.",
        ));
    }
    if account != ctx.scope.account {
        return Err(ApiError::validation(
            "RoleArn must be a role of the caller's own account.",
        ));
    }
    Ok(())
}

fn web_sdk_url(group_id: &str) -> String {
    let digest = Sha256::digest(group_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("https://gameliftstreams-local.localhost/webrtc/{hex}.js")
}

/// A stand-in for the WebRTC answer the real service returns.
pub fn signal_response(session_id: &str, location: &str) -> String {
    format!("{{\"type\":\"answer\",\"sdp\":\"v=0\\r\\no=gameliftstreams-local {session_id} 2 IN IP4 127.0.0.1\\r\\ns={location}\\r\\n\"}}")
}

pub(super) fn start(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: StartStreamSessionInput,
) -> Result<GetStreamSessionOutput, ApiError> {
    let fp = fingerprint(&input);
    if let Some(id) = replayed(ctx, tx, Op::StartStreamSession, input.client_token.as_deref(), &fp)? {
        let (group, session) = id.split_once('/').unwrap_or(("", id.as_str()));
        return Ok(load(ctx, tx, group, session)?.doc);
    }
    let token = input.client_token.clone();
    let row = launch(ctx, tx, input)?;
    remember(
        ctx,
        tx,
        Op::StartStreamSession,
        token.as_deref(),
        &fp,
        &format!("{}/{}", row.group_id, row.id),
    )?;
    Ok(row.doc)
}

/// What a checked StartStreamSession request resolved to.
pub struct Checked {
    /// The stream group id.
    pub group_id: String,
    /// The application id.
    pub app_id: String,
    /// The application ARN.
    pub app_arn: String,
    /// Locations in priority order (the primary when none was asked for).
    pub requested: Vec<String>,
    /// How long the session may wait for capacity.
    pub placement_timeout_ms: i64,
}

/// Every precondition of StartStreamSession: group state, application association and
/// status, locations, display and role.
pub fn check_launch(ctx: &Ctx<'_>, tx: &Transaction<'_>, input: &StartStreamSessionInput) -> Result<Checked, ApiError> {
    let (group_id, group) = groups::load(ctx, tx, &input.identifier)?;
    let (app_id, app) = applications::load(ctx, tx, &input.application_identifier)?;
    match group.status.unwrap_or_default() {
        StreamGroupStatus::Active | StreamGroupStatus::UpdatingLocations | StreamGroupStatus::ActiveWithErrors => {}
        other => {
            return Err(ApiError::conflict(format!(
                "Stream group {group_id} is {}; stream sessions can start only in an ACTIVE stream group.",
                other.as_str()
            )))
        }
    }
    if !group.associated_applications.iter().flatten().any(|a| *a == app.arn) {
        return Err(ApiError::validation(format!(
            "Application {app_id} is not associated with stream group {group_id}."
        )));
    }
    if app.status != Some(ApplicationStatus::Ready) {
        return Err(ApiError::validation(format!(
            "Application {app_id} is not READY (status {}).",
            app.status.unwrap_or_default().as_str()
        )));
    }
    let group_locations: Vec<&str> = group
        .location_states
        .iter()
        .flatten()
        .filter_map(|l| l.location_name.as_deref())
        .collect();
    let requested: Vec<String> = match input.locations.as_ref() {
        Some(locs) if !locs.is_empty() => {
            for l in locs {
                if !group_locations.contains(&l.as_str()) {
                    return Err(ApiError::validation(format!(
                        "Location {l} is not a location of stream group {group_id}."
                    )));
                }
            }
            locs.clone()
        }
        _ => {
            let primary = group_locations
                .iter()
                .find(|l| **l == ctx.scope.region)
                .or(group_locations.first())
                .ok_or_else(|| ApiError::validation(format!("Stream group {group_id} has no locations.")))?;
            vec![(*primary).to_string()]
        }
    };
    check_display(input.display_configuration.as_ref())?;
    check_role(ctx, input.role_arn.as_deref())?;
    let placement_timeout_ms = super::engine::placement_timeout_ms(&group, &requested);
    Ok(Checked {
        group_id,
        app_id,
        app_arn: app.arn,
        requested,
        placement_timeout_ms,
    })
}

/// Check a StartStreamSession request against its group and application and create the
/// session, ACTIVATING, with its placement due. Stream URL activations come through here too.
pub fn launch(ctx: &Ctx<'_>, tx: &Transaction<'_>, input: StartStreamSessionInput) -> Result<SessionRow, ApiError> {
    let Checked {
        group_id,
        app_id,
        app_arn,
        requested,
        placement_timeout_ms,
    } = check_launch(ctx, tx, &input)?;
    let id = ids::new_session_id(&mut rand::rng());
    let doc = GetStreamSessionOutput {
        arn: Some(ctx.scope.session_arn(&group_id, &id)),
        description: input.description,
        stream_group_id: Some(group_id.clone()),
        user_id: input.user_id,
        status: Some(StreamSessionStatus::Activating),
        protocol: Some(input.protocol),
        signal_request: Some(input.signal_request),
        connection_timeout_seconds: Some(input.connection_timeout_seconds.unwrap_or(120)),
        session_length_seconds: Some(input.session_length_seconds.unwrap_or(43_200)),
        additional_launch_args: Some(input.additional_launch_args.unwrap_or_default()),
        additional_environment_variables: Some(input.additional_environment_variables.unwrap_or_default()),
        performance_stats_configuration: Some(input.performance_stats_configuration.unwrap_or(
            PerformanceStatsConfiguration {
                shared_with_client: Some(false),
            },
        )),
        web_sdk_protocol_url: Some(web_sdk_url(&group_id)),
        created_at: Some(ctx.now),
        last_updated_at: Some(ctx.now),
        application_arn: Some(app_arn),
        role_arn: input.role_arn,
        display_configuration: input.display_configuration,
        ..Default::default()
    };
    let mut row = SessionRow {
        id: id.clone(),
        group_id: group_id.clone(),
        app_id,
        created_at: ctx.now.millis(),
        doc,
        internal: SessionInternal {
            locations: requested,
            ..Default::default()
        },
    };
    let deadlines = session::start(
        &mut Session {
            doc: &mut row.doc,
            internal: &mut row.internal,
        },
        ctx.now,
        placement_timeout_ms,
    );
    rows::insert(tx, ctx.part, &row)?;
    for fx in deadlines {
        if let session::Effect::Timer(kind, due) = fx {
            store::timer_add(tx, due, ctx.part, kind, &id)?;
        }
    }
    store::timer_add(
        tx,
        ctx.now.millis() + ctx.settings.delays.session_placed_ms,
        ctx.part,
        TimerKind::SessionPlaced,
        &id,
    )?;
    Ok(row)
}

pub(super) fn get(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: GetStreamSessionInput,
) -> Result<GetStreamSessionOutput, ApiError> {
    Ok(load(ctx, tx, &input.identifier, &input.stream_session_identifier)?.doc)
}

pub(super) fn terminate(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: TerminateStreamSessionInput,
) -> Result<(), ApiError> {
    let mut row = load(ctx, tx, &input.identifier, &input.stream_session_identifier)?;
    match engine::drive(tx, ctx.settings, ctx.part, &mut row, Event::Terminate, ctx.now)? {
        Ok(()) => Ok(()),
        Err(_) => Err(ApiError::validation(
            "The stream session is still activating and cannot be terminated yet. Try again once it is ACTIVE.",
        )),
    }
}

pub(super) fn export_files(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: ExportStreamSessionFilesInput,
) -> Result<ExportStreamSessionFilesOutput, ApiError> {
    let mut row = load(ctx, tx, &input.identifier, &input.stream_session_identifier)?;
    use StreamSessionStatus::*;
    let status = row.doc.status.unwrap_or_default();
    if !matches!(status, Active | Connected | PendingClientReconnection | Reconnecting) {
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
    rows::update(tx, ctx.part, &row)?;
    Ok(ExportStreamSessionFilesOutput {})
}

/// The list item of a session.
pub fn summary(doc: GetStreamSessionOutput, full_export: bool) -> StreamSessionSummary {
    StreamSessionSummary {
        arn: doc.arn,
        user_id: doc.user_id,
        status: doc.status,
        status_reason: doc.status_reason,
        protocol: doc.protocol,
        last_updated_at: doc.last_updated_at,
        created_at: doc.created_at,
        application_arn: doc.application_arn,
        export_files_metadata: if full_export {
            doc.export_files_metadata
        } else {
            doc.export_files_metadata.map(|e| ExportFilesMetadata {
                status: e.status,
                ..Default::default()
            })
        },
        location: doc.location,
        role_arn: doc.role_arn,
    }
}

struct Listing<'a> {
    op: Op,
    filter: SessionFilter,
    next_token: Option<&'a str>,
    max_results: Option<i32>,
    full_export: bool,
}

fn list_sessions(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    l: Listing<'_>,
) -> Result<(Vec<StreamSessionSummary>, Option<String>), ApiError> {
    let status = l.filter.status.map(|s| s.as_str()).unwrap_or("");
    let export = l.filter.export.map(|s| s.as_str()).unwrap_or("");
    let binding = Binding {
        operation: l.op.name(),
        account: &ctx.scope.account,
        region: &ctx.scope.region,
        parent: l.filter.group.as_deref().unwrap_or(""),
        filters: &[status, export],
    };
    let after = ctx.position(&binding, l.next_token)?;
    let limit = page_size(l.max_results);
    let page = rows::page(tx, ctx.part, &l.filter, after.as_ref(), limit + 1)?;
    let (docs, next) = split_page(page, limit);
    let items = docs.into_iter().map(|d| summary(d, l.full_export)).collect();
    Ok((items, next.map(|p| ctx.token(&binding, &p))))
}

pub(super) fn list(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: ListStreamSessionsInput,
) -> Result<ListStreamSessionsOutput, ApiError> {
    let (group_id, _) = groups::load(ctx, tx, &input.identifier)?;
    let (items, next_token) = list_sessions(
        ctx,
        tx,
        Listing {
            op: Op::ListStreamSessions,
            filter: SessionFilter {
                group: Some(group_id),
                status: input.status,
                export: input.export_files_status,
            },
            next_token: input.next_token.as_deref(),
            max_results: input.max_results,
            full_export: true,
        },
    )?;
    Ok(ListStreamSessionsOutput {
        items: Some(items),
        next_token,
    })
}

pub(super) fn list_by_account(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: ListStreamSessionsByAccountInput,
) -> Result<ListStreamSessionsByAccountOutput, ApiError> {
    let (items, next_token) = list_sessions(
        ctx,
        tx,
        Listing {
            op: Op::ListStreamSessionsByAccount,
            filter: SessionFilter {
                group: None,
                status: input.status,
                export: input.export_files_status,
            },
            next_token: input.next_token.as_deref(),
            max_results: input.max_results,
            full_export: false,
        },
    )?;
    Ok(ListStreamSessionsByAccountOutput {
        items: Some(items),
        next_token,
    })
}

pub(super) fn create_connection(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: CreateStreamSessionConnectionInput,
) -> Result<CreateStreamSessionConnectionOutput, ApiError> {
    let fp = fingerprint(&input);
    if let Some(answer) = replayed(
        ctx,
        tx,
        Op::CreateStreamSessionConnection,
        input.client_token.as_deref(),
        &fp,
    )? {
        return Ok(CreateStreamSessionConnectionOutput {
            signal_response: Some(answer),
        });
    }
    let (group_id, group) = groups::load(ctx, tx, &input.identifier)?;
    let mut row = load(ctx, tx, &input.identifier, &input.stream_session_identifier)?;
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
    let answer = signal_response(&format!("{}-{}", row.id, ctx.now.millis()), &location);
    if let Err(Refusal::WrongState(why)) = engine::drive(
        tx,
        ctx.settings,
        ctx.part,
        &mut row,
        Event::Reconnect(answer.clone()),
        ctx.now,
    )? {
        return Err(ApiError::conflict(why));
    }
    remember(
        ctx,
        tx,
        Op::CreateStreamSessionConnection,
        input.client_token.as_deref(),
        &fp,
        &answer,
    )?;
    Ok(CreateStreamSessionConnectionOutput {
        signal_response: Some(answer),
    })
}
