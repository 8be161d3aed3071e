//! Creating stream sessions: every precondition of StartStreamSession (group state,
//! application association and status, locations, display, role) and the new ACTIVATING
//! session with its deadlines and first placement attempt. Stream URL activations come
//! through here too.

use super::resources;
use crate::domain::ids;
use crate::domain::locations;
use crate::domain::requests;
use crate::domain::session::{self, Session};
use crate::domain::signal::web_sdk_url;
use crate::domain::timer::TimerKind;
use crate::domain::ApiError;
use crate::ops::Ctx;
use crate::store::{SessionInternal, SessionRow, Tx};
use gls_model::{
    ApplicationStatus, GetStreamSessionOutput, PerformanceStatsConfiguration, StartStreamSessionInput,
    StreamGroupStatus, StreamSessionStatus,
};

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
pub fn check_launch(ctx: &Ctx<'_>, tx: &dyn Tx, input: &StartStreamSessionInput) -> Result<Checked, ApiError> {
    let (group_id, group) = resources::group(ctx, tx, &input.identifier)?;
    let (app_id, app) = resources::app(ctx, tx, &input.application_identifier)?;
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
    requests::check_display(input.display_configuration.as_ref())?;
    requests::check_role(&ctx.scope.account, input.role_arn.as_deref())?;
    let placement_timeout_ms = locations::placement_timeout_ms(&group, &requested);
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
pub fn launch(ctx: &Ctx<'_>, tx: &dyn Tx, input: StartStreamSessionInput) -> Result<SessionRow, ApiError> {
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
        web_sdk_protocol_url: Some(web_sdk_url(ctx.host, &group_id)),
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
    tx.sessions().insert(ctx.part, &row)?;
    let env = ctx.env(tx);
    for fx in deadlines {
        if let session::Effect::Timer(kind, due) = fx {
            env.schedule_at(kind, due, &id)?;
        }
    }
    env.schedule(TimerKind::SessionPlaced, ctx.settings.delays.session_placed_ms, &id)?;
    Ok(row)
}
