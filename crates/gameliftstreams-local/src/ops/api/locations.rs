//! AddStreamGroupLocations, RemoveStreamGroupLocations, AssociateApplications and
//! DisassociateApplications: a stream group's locations and applications.

use crate::domain::associations;
use crate::domain::catalog;
use crate::domain::lifecycle;
use crate::domain::locations;
use crate::domain::timer::TimerKind;
use crate::domain::ApiError;
use crate::ops::engine::{cascades, quotas, resources};
use crate::ops::Ctx;
use crate::store::Tx;
use gls_model::{
    AddStreamGroupLocationsInput, AddStreamGroupLocationsOutput, AssociateApplicationsInput,
    AssociateApplicationsOutput, DefaultApplication, DisassociateApplicationsInput, DisassociateApplicationsOutput,
    RemoveStreamGroupLocationsInput, StreamGroupLocationStatus, StreamGroupStatus,
};

/// The group's locations and replications settle after the activation delay.
fn schedule_update(ctx: &Ctx<'_>, tx: &dyn Tx, id: &str) -> Result<(), ApiError> {
    ctx.env(tx)
        .schedule(TimerKind::GroupActive, ctx.settings.delays.group_active_ms, id)
}

pub(crate) fn add(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: AddStreamGroupLocationsInput,
) -> Result<AddStreamGroupLocationsOutput, ApiError> {
    let (id, mut g) = resources::group(ctx, tx, &input.identifier)?;
    lifecycle::require_group_status(&id, &g, &[StreamGroupStatus::Active], false)?;
    let class = g.stream_class.unwrap_or_default();
    let mut states = g.location_states.clone().unwrap_or_default();
    let mut added = Vec::new();
    for cfg in &input.location_configurations {
        let name = cfg.location_name.as_str();
        if name == ctx.scope.region {
            return Err(ApiError::validation(format!(
                "Location {name} is the primary location of stream group {id}."
            )));
        }
        if states.iter().any(|l| l.location_name.as_deref() == Some(name)) {
            return Err(ApiError::validation(format!(
                "Location {name} is already a location of stream group {id}."
            )));
        }
        let state = locations::location_state(class, cfg, catalog::tenancy(class))?;
        states.push(state.clone());
        added.push(state);
    }
    quotas::check_gpu_quota(ctx, tx, class, Some(&id), &states)?;
    let new_names: Vec<String> = added.iter().filter_map(|l| l.location_name.clone()).collect();
    cascades::link_apps(ctx.env(tx), &associations::app_ids(&g), &g.arn, &new_names)?;
    g.location_states = Some(states);
    g.status = Some(StreamGroupStatus::UpdatingLocations);
    g.last_updated_at = Some(ctx.now);
    tx.groups().update(ctx.part, &id, &g)?;
    schedule_update(ctx, tx, &id)?;
    Ok(AddStreamGroupLocationsOutput {
        identifier: g.arn,
        locations: added,
    })
}

pub(crate) fn remove(ctx: &Ctx<'_>, tx: &dyn Tx, input: RemoveStreamGroupLocationsInput) -> Result<(), ApiError> {
    let (id, mut g) = resources::group(ctx, tx, &input.identifier)?;
    lifecycle::require_group_status(
        &id,
        &g,
        &[StreamGroupStatus::Active, StreamGroupStatus::ActiveWithErrors],
        false,
    )?;
    let mut states = g.location_states.clone().unwrap_or_default();
    for name in &input.locations {
        if *name == ctx.scope.region {
            return Err(ApiError::validation(format!(
                "Location {name} is the primary location of stream group {id} and cannot be removed."
            )));
        }
        let Some(state) = states
            .iter_mut()
            .find(|l| l.location_name.as_deref() == Some(name.as_str()))
        else {
            return Err(ApiError::validation(format!(
                "Location {name} is not a location of stream group {id}."
            )));
        };
        if state.status == Some(StreamGroupLocationStatus::Activating) {
            return Err(ApiError::validation(format!(
                "Location {name} is still ACTIVATING and cannot be removed yet."
            )));
        }
        state.status = Some(StreamGroupLocationStatus::Removing);
    }
    g.location_states = Some(states);
    g.status = Some(StreamGroupStatus::UpdatingLocations);
    g.last_updated_at = Some(ctx.now);
    tx.groups().update(ctx.part, &id, &g)?;
    let env = ctx.env(tx);
    for name in &input.locations {
        cascades::end_sessions(env, &id, Some(name))?;
    }
    for app_id in associations::app_ids(&g) {
        cascades::update_app(env, &app_id, |app| cascades::prune_replications(env, app))?;
    }
    schedule_update(ctx, tx, &id)?;
    Ok(())
}

pub(crate) fn associate(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: AssociateApplicationsInput,
) -> Result<AssociateApplicationsOutput, ApiError> {
    let (id, mut g) = resources::group(ctx, tx, &input.identifier)?;
    lifecycle::require_group_status(&id, &g, &[StreamGroupStatus::Active], false)?;
    if lifecycle::group_age_days(&g, ctx.now) >= 180 {
        return Err(ApiError::validation(format!(
            "Stream group {id} is 180 days old or more; applications can no longer be associated with it."
        )));
    }
    let class = g.stream_class.unwrap_or_default();
    let names = locations::names(&g);
    let mut arns = Vec::new();
    let mut apps = Vec::new();
    for ident in &input.application_identifiers {
        let (app_id, app) = resources::app(ctx, tx, ident)?;
        associations::check_app_fits(&app_id, &app, class)?;
        arns.push(app.arn.clone());
        apps.push((app_id, app));
    }
    let associated = g.associated_applications.get_or_insert_with(Vec::new);
    for (app_id, app) in apps.iter_mut() {
        if associated.contains(&app.arn) {
            continue;
        }
        if associated.len() >= ctx.settings.quotas.apps_per_group {
            return Err(quotas::quota_error(format!(
                "Stream group {id} already has {} applications, the limit.",
                ctx.settings.quotas.apps_per_group
            )));
        }
        let groups = app.associated_stream_groups.as_ref().map_or(0, Vec::len);
        if groups >= ctx.settings.quotas.groups_per_app {
            return Err(quotas::quota_error(format!(
                "Application {app_id} is already associated with {groups} stream groups, the limit."
            )));
        }
        associated.push(app.arn.clone());
        associations::link_app(app, &g.arn, &names, ctx.now);
        tx.applications().update(ctx.part, app_id, app)?;
    }
    if g.default_application.is_none() {
        if let Some((app_id, app)) = apps.first() {
            g.default_application = Some(DefaultApplication {
                id: Some(app_id.clone()),
                arn: Some(app.arn.clone()),
            });
        }
    }
    g.last_updated_at = Some(ctx.now);
    tx.groups().update(ctx.part, &id, &g)?;
    schedule_update(ctx, tx, &id)?;
    Ok(AssociateApplicationsOutput {
        arn: Some(g.arn),
        application_arns: Some(arns),
    })
}

pub(crate) fn disassociate(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: DisassociateApplicationsInput,
) -> Result<DisassociateApplicationsOutput, ApiError> {
    let (id, mut g) = resources::group(ctx, tx, &input.identifier)?;
    lifecycle::require_group_status(&id, &g, &[StreamGroupStatus::Active], false)?;
    let mut arns = Vec::new();
    for ident in &input.application_identifiers {
        let (app_id, app) = resources::app(ctx, tx, ident)?;
        arns.push(app.arn.clone());
        let associated = g.associated_applications.get_or_insert_with(Vec::new);
        if let Some(pos) = associated.iter().position(|a| *a == app.arn) {
            associated.remove(pos);
            tx.groups().update(ctx.part, &id, &g)?;
            cascades::unlink_app(ctx.env(tx), &app_id, &g.arn)?;
        }
    }
    let default_gone = g
        .default_application
        .as_ref()
        .and_then(|d| d.arn.as_ref())
        .is_some_and(|arn| !g.associated_applications.iter().flatten().any(|a| a == arn));
    if default_gone {
        g.default_application = g
            .associated_applications
            .iter()
            .flatten()
            .next()
            .map(|arn| DefaultApplication {
                id: arn.rsplit('/').next().map(str::to_string),
                arn: Some(arn.clone()),
            });
    }
    g.last_updated_at = Some(ctx.now);
    tx.groups().update(ctx.part, &id, &g)?;
    Ok(DisassociateApplicationsOutput {
        arn: Some(g.arn),
        application_arns: Some(arns),
    })
}
