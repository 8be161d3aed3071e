//! CreateStreamGroup, GetStreamGroup, ListStreamGroups, UpdateStreamGroup, DeleteStreamGroup.

use crate::domain::associations;
use crate::domain::capacity;
use crate::domain::catalog;
use crate::domain::ids;
use crate::domain::lifecycle::{self, DAY_MS};
use crate::domain::locations;
use crate::domain::tags;
use crate::domain::timer::TimerKind;
use crate::domain::views;
use crate::domain::ApiError;
use crate::ops::engine::urls::{self, UrlOwner};
use crate::ops::engine::{cascades, placement, quotas, resources};
use crate::ops::{Ctx, Listing};
use crate::store::Tx;
use gls_model::{
    CreateStreamGroupInput, DefaultApplication, DeleteStreamGroupInput, GetStreamGroupInput, GetStreamGroupOutput,
    ListStreamGroupsInput, ListStreamGroupsOutput, Op, StreamGroupLocationStatus, StreamGroupStatus, Timestamp,
    UpdateStreamGroupInput,
};

pub(crate) fn create(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: CreateStreamGroupInput,
) -> Result<GetStreamGroupOutput, ApiError> {
    tags::check_keys(input.tags.as_ref())?;
    let class = input.stream_class;
    let states = locations::initial_locations(&ctx.scope.region, class, input.location_configurations.as_ref())?;
    let mut app = match input.default_application_identifier.as_deref() {
        Some(ident) => {
            let (app_id, app) = resources::app(ctx, tx, ident)?;
            associations::check_app_fits(&app_id, &app, class)?;
            Some((app_id, app))
        }
        None => None,
    };
    quotas::check_gpu_quota(ctx, tx, class, None, &states)?;
    let id = ids::new_group_id(&mut rand::rng());
    let arn = ctx.scope.group_arn(&id);
    let names: Vec<String> = states.iter().filter_map(|l| l.location_name.clone()).collect();
    if let Some((app_id, app)) = app.as_mut() {
        associations::link_app(app, &arn, &names, ctx.now);
        tx.applications().update(ctx.part, app_id, app)?;
    }
    let doc = GetStreamGroupOutput {
        arn: arn.clone(),
        id: Some(id.clone()),
        description: Some(input.description),
        default_application: app.as_ref().map(|(app_id, a)| DefaultApplication {
            id: Some(app_id.clone()),
            arn: Some(a.arn.clone()),
        }),
        associated_applications: Some(app.as_ref().map(|(_, a)| vec![a.arn.clone()]).unwrap_or_default()),
        location_states: Some(states),
        stream_class: Some(class),
        status: Some(StreamGroupStatus::Activating),
        status_reason: None,
        created_at: Some(ctx.now),
        last_updated_at: Some(ctx.now),
        expires_at: Some(Timestamp(ctx.later(365 * DAY_MS))),
    };
    tx.groups()
        .insert(ctx.part, &id, ctx.now.millis(), &doc, &input.tags.unwrap_or_default())?;
    let env = ctx.env(tx);
    env.schedule(TimerKind::GroupActive, ctx.settings.delays.group_active_ms, &id)?;
    env.schedule(TimerKind::GroupExpired, 365 * DAY_MS, &id)?;
    Ok(doc)
}

pub(crate) fn get(ctx: &Ctx<'_>, tx: &dyn Tx, input: GetStreamGroupInput) -> Result<GetStreamGroupOutput, ApiError> {
    Ok(resources::group(ctx, tx, &input.identifier)?.1)
}

pub(crate) fn list(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: ListStreamGroupsInput,
) -> Result<ListStreamGroupsOutput, ApiError> {
    let listing = Listing {
        op: Op::ListStreamGroups,
        parent: "",
        filters: &[],
        next_token: input.next_token.as_deref(),
        max_results: input.max_results,
    };
    let (items, next_token) = ctx.page(&listing, |after, limit| tx.groups().page(ctx.part, after, limit))?;
    Ok(ListStreamGroupsOutput {
        items: Some(items.into_iter().map(views::group_summary).collect()),
        next_token,
    })
}

pub(crate) fn update(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: UpdateStreamGroupInput,
) -> Result<GetStreamGroupOutput, ApiError> {
    let (id, mut g) = resources::group(ctx, tx, &input.identifier)?;
    lifecycle::require_group_status(&id, &g, &[StreamGroupStatus::Active], true)?;
    let class = g.stream_class.unwrap_or_default();
    if let Some(ident) = input.default_application_identifier.as_deref() {
        let (app_id, app) = resources::app(ctx, tx, ident)?;
        associations::check_app_fits(&app_id, &app, class)?;
        if !g.associated_applications.iter().flatten().any(|a| *a == app.arn) {
            return Err(ApiError::validation(format!(
                "Application {app_id} is not associated with stream group {id}; associate it first."
            )));
        }
        g.default_application = Some(DefaultApplication {
            id: Some(app_id),
            arn: Some(app.arn),
        });
    }
    if let Some(cfgs) = input.location_configurations.as_ref() {
        let mut states = g.location_states.clone().unwrap_or_default();
        let mut seen: Vec<&str> = Vec::new();
        for cfg in cfgs {
            let name = cfg.location_name.as_str();
            if seen.contains(&name) {
                return Err(ApiError::validation(format!(
                    "Location {name} is listed more than once."
                )));
            }
            seen.push(name);
            let Some(current) = states.iter_mut().find(|l| l.location_name.as_deref() == Some(name)) else {
                return Err(ApiError::validation(format!(
                    "Location {name} is not a location of stream group {id}; add it with AddStreamGroupLocations."
                )));
            };
            if current.status != Some(StreamGroupLocationStatus::Active) {
                return Err(ApiError::conflict(format!(
                    "Location {name} is {}; only an ACTIVE location can be scaled.",
                    current.status.unwrap_or_default().as_str()
                )));
            }
            if let (Some(new), Some(old)) = (&cfg.vpc_transit_configuration, &current.vpc_transit_configuration) {
                if old.vpc_id.as_deref() != Some(new.vpc_id.as_str()) {
                    return Err(ApiError::validation(format!(
                        "Location {name}: the VpcId of a stream group cannot be changed."
                    )));
                }
            }
            let next = locations::location_state(class, cfg, 0)?;
            current.always_on_capacity = next.always_on_capacity;
            current.on_demand_capacity = next.on_demand_capacity;
            current.maximum_capacity = next.maximum_capacity;
            current.target_idle_capacity = next.target_idle_capacity;
            capacity::rescale(current, catalog::tenancy(class));
            if let Some(v) = next.vpc_transit_configuration {
                let entry = current.vpc_transit_configuration.get_or_insert_with(Default::default);
                entry.vpc_id = v.vpc_id;
                entry.ipv4_cidr_blocks = v.ipv4_cidr_blocks;
            }
        }
        quotas::check_gpu_quota(ctx, tx, class, Some(&id), &states)?;
        g.location_states = Some(states);
    }
    if let Some(d) = input.description {
        g.description = Some(d);
    }
    g.last_updated_at = Some(ctx.now);
    tx.groups().update(ctx.part, &id, &g)?;
    if input.location_configurations.is_some() {
        // New capacity may serve sessions that wait for it.
        placement::place_waiting(ctx.env(tx), &id)?;
        g = resources::group(ctx, tx, &id)?.1;
    }
    Ok(g)
}

pub(crate) fn delete(ctx: &Ctx<'_>, tx: &dyn Tx, input: DeleteStreamGroupInput) -> Result<(), ApiError> {
    let (id, mut g) = resources::group(ctx, tx, &input.identifier)?;
    if g.status == Some(StreamGroupStatus::Deleting) {
        return Ok(());
    }
    let env = ctx.env(tx);
    cascades::end_sessions(env, &id, None)?;
    for app_arn in g.associated_applications.take().unwrap_or_default() {
        cascades::unlink_app(env, associations::id_of(&app_arn), &g.arn)?;
    }
    g.associated_applications = Some(Vec::new());
    g.default_application = None;
    g.status = Some(StreamGroupStatus::Deleting);
    g.status_reason = None;
    g.last_updated_at = Some(ctx.now);
    tx.groups().update(ctx.part, &id, &g)?;
    urls::revoke_for(env, UrlOwner::Group(&id))?;
    env.schedule(TimerKind::GroupDeleted, ctx.settings.delays.group_deleted_ms, &id)?;
    Ok(())
}
