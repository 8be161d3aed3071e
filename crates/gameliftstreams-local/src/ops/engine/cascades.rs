//! What one resource's change does to others: ending a group's (or a location's) sessions,
//! and the application side of associations (linking, unlinking, pruning replications).

use super::{drive_quiet, Env};
use crate::domain::associations;
use crate::domain::session::Event;
use crate::domain::ApiError;
use crate::store::LiveBy;
use gls_model::{GetApplicationOutput, StreamGroupLocationStatus};

/// End the live sessions of a group, or only those served by (or waiting only for) one of
/// its locations.
pub fn end_sessions(env: Env<'_>, group_id: &str, location: Option<&str>) -> Result<(), ApiError> {
    let live = crate::domain::session::LIVE;
    for mut row in env
        .tx
        .sessions()
        .in_statuses(env.part, LiveBy::Group(group_id), &live)?
    {
        let here = match location {
            None => true,
            Some(loc) => row.doc.location.as_deref() == Some(loc) || row.internal.locations.iter().all(|l| l == loc),
        };
        if here {
            drive_quiet(env, &mut row, Event::End)?;
        }
    }
    Ok(())
}

/// Change an application (by id) in place, if it still exists.
pub fn update_app(
    env: Env<'_>,
    app_id: &str,
    f: impl FnOnce(&mut GetApplicationOutput) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let Some(mut app) = env.tx.applications().get(env.part, app_id)? else {
        return Ok(());
    };
    f(&mut app)?;
    env.tx.applications().update(env.part, app_id, &app)?;
    Ok(())
}

/// The group's applications start replicating to `locations`.
pub fn link_apps(env: Env<'_>, app_ids: &[String], group_arn: &str, locations: &[String]) -> Result<(), ApiError> {
    for app_id in app_ids {
        update_app(env, app_id, |app| {
            associations::link_app(app, group_arn, locations, env.now);
            Ok(())
        })?;
    }
    Ok(())
}

/// Drop the group from an application and forget replications to locations that no other
/// associated group has.
pub fn unlink_app(env: Env<'_>, app_id: &str, group_arn: &str) -> Result<(), ApiError> {
    update_app(env, app_id, |app| {
        if let Some(groups) = app.associated_stream_groups.as_mut() {
            groups.retain(|g| g != group_arn);
        }
        app.last_updated_at = Some(env.now);
        prune_replications(env, app)
    })
}

/// Keep only replication entries for locations of the application's associated groups.
pub fn prune_replications(env: Env<'_>, app: &mut GetApplicationOutput) -> Result<(), ApiError> {
    let mut keep: Vec<String> = Vec::new();
    for arn in app.associated_stream_groups.iter().flatten() {
        if let Some(g) = env.tx.groups().get(env.part, associations::id_of(arn))? {
            keep.extend(
                g.location_states
                    .iter()
                    .flatten()
                    .filter(|l| l.status != Some(StreamGroupLocationStatus::Removing))
                    .filter_map(|l| l.location_name.clone()),
            );
        }
    }
    if let Some(reps) = app.replication_statuses.as_mut() {
        reps.retain(|r| r.location.as_ref().is_some_and(|l| keep.contains(l)));
    }
    Ok(())
}
