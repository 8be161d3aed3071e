//! Stream group operations (create, get, list, update, delete, add and remove locations,
//! associate and disassociate applications) and the capacity, quota and tag rules they apply.

use super::engine;
use super::urls::{self, UrlOwner};
use super::{applications, doc_json, fingerprint, list_docs, parse_doc, remember, replayed, Ctx};
use crate::domain::capacity;
use crate::domain::catalog;
use crate::domain::ids;
use crate::domain::lifecycle::TimerKind;
use crate::domain::session::Event;
use crate::domain::ApiError;
use crate::store::sessions::{self as rows, LiveBy};
use crate::store::{self, DocTable};
use gls_model::{
    AddStreamGroupLocationsInput, AddStreamGroupLocationsOutput, AssociateApplicationsInput,
    AssociateApplicationsOutput, DeleteStreamGroupInput, DisassociateApplicationsInput, DisassociateApplicationsOutput,
    ErrorCode, GetApplicationOutput, RemoveStreamGroupLocationsInput, UpdateStreamGroupInput,
};
use gls_model::{
    ApplicationStatus, CreateStreamGroupInput, DefaultApplication, GetStreamGroupInput, GetStreamGroupOutput,
    ListStreamGroupsInput, ListStreamGroupsOutput, LocationConfiguration, LocationState, Op, ReplicationStatus,
    ReplicationStatusType, StreamClass, StreamGroupLocationStatus, StreamGroupStatus, StreamGroupSummary, Timestamp,
    VpcTransitConfigurationResponse,
};
use rusqlite::Transaction;
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

/// Tag keys may not use the reserved `aws:` prefix.
pub fn check_tags(tags: Option<&BTreeMap<String, String>>) -> Result<(), ApiError> {
    for key in tags.into_iter().flat_map(|t| t.keys()) {
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::validation(format!(
                "Tag key {key} uses the reserved prefix aws:."
            )));
        }
    }
    Ok(())
}

/// Load a stream group by ID or ARN, or 404.
pub fn load(ctx: &Ctx<'_>, tx: &Transaction<'_>, ident: &str) -> Result<(String, GetStreamGroupOutput), ApiError> {
    let id = ids::resolve_group(ctx.scope, ident)?;
    match store::doc_get(tx, DocTable::StreamGroups, ctx.part, &id)? {
        Some((doc, _)) => Ok((id, parse_doc(&doc)?)),
        None => Err(ApiError::not_found(format!("Stream group {ident} not found."))),
    }
}

/// Turn one LocationConfiguration into the location's initial state, checking the
/// capacity rules of the class.
pub fn location_state(
    class: StreamClass,
    cfg: &LocationConfiguration,
    bare_default: i32,
) -> Result<LocationState, ApiError> {
    let name = &cfg.location_name;
    if !catalog::is_location(name) {
        return Err(ApiError::validation(format!(
            "Location {name} is not a supported location. Supported locations: {}.",
            catalog::LOCATIONS.join(", ")
        )));
    }
    if cfg.on_demand_capacity.is_some() && (cfg.maximum_capacity.is_some() || cfg.target_idle_capacity.is_some()) {
        return Err(ApiError::validation(format!(
            "Location {name}: OnDemandCapacity cannot be combined with MaximumCapacity or TargetIdleCapacity."
        )));
    }
    let tenancy = catalog::tenancy(class);
    let no_numbers = cfg.always_on_capacity.is_none()
        && cfg.on_demand_capacity.is_none()
        && cfg.maximum_capacity.is_none()
        && cfg.target_idle_capacity.is_none();
    let always_on = cfg
        .always_on_capacity
        .unwrap_or(if no_numbers { bare_default } else { 0 });
    let maximum = match (cfg.maximum_capacity, cfg.on_demand_capacity) {
        (Some(m), _) => m,
        (None, Some(od)) => always_on.saturating_add(od),
        (None, None) => always_on,
    };
    let target_idle = cfg.target_idle_capacity.unwrap_or(0);
    for (what, v) in [
        ("AlwaysOnCapacity", always_on),
        ("MaximumCapacity", maximum),
        ("TargetIdleCapacity", target_idle),
    ] {
        if v % tenancy != 0 {
            return Err(ApiError::validation(format!(
                "Location {name}: {what} {v} must be a multiple of {tenancy}, the number of sessions one {} host runs.",
                class.as_str()
            )));
        }
    }
    if maximum < always_on {
        return Err(ApiError::validation(format!(
            "Location {name}: MaximumCapacity {maximum} must be at least AlwaysOnCapacity {always_on}."
        )));
    }
    if target_idle > maximum {
        return Err(ApiError::validation(format!(
            "Location {name}: TargetIdleCapacity {target_idle} must not exceed MaximumCapacity {maximum}."
        )));
    }
    Ok(LocationState {
        location_name: Some(name.clone()),
        status: Some(StreamGroupLocationStatus::Activating),
        always_on_capacity: Some(always_on),
        on_demand_capacity: Some(maximum - always_on),
        target_idle_capacity: Some(target_idle),
        maximum_capacity: Some(maximum),
        requested_capacity: Some(always_on),
        allocated_capacity: Some(0),
        idle_capacity: Some(0),
        internal_vpc_ipv4_cidr_block: None,
        vpc_transit_configuration: cfg
            .vpc_transit_configuration
            .as_ref()
            .map(|v| VpcTransitConfigurationResponse {
                vpc_id: Some(v.vpc_id.clone()),
                ipv4_cidr_blocks: Some(v.ipv4_cidr_blocks.clone()),
                ..Default::default()
            }),
    })
}

fn initial_locations(
    ctx: &Ctx<'_>,
    class: StreamClass,
    cfgs: Option<&Vec<LocationConfiguration>>,
) -> Result<Vec<LocationState>, ApiError> {
    let primary = ctx.scope.region.as_str();
    let tenancy = catalog::tenancy(class);
    let Some(cfgs) = cfgs else {
        let cfg = LocationConfiguration {
            location_name: primary.to_string(),
            ..Default::default()
        };
        return Ok(vec![location_state(class, &cfg, tenancy)?]);
    };
    let mut states: Vec<LocationState> = Vec::with_capacity(cfgs.len() + 1);
    for cfg in cfgs {
        if states
            .iter()
            .any(|s| s.location_name.as_deref() == Some(cfg.location_name.as_str()))
        {
            return Err(ApiError::validation(format!(
                "Location {} is listed more than once.",
                cfg.location_name
            )));
        }
        states.push(location_state(class, cfg, tenancy)?);
    }
    if catalog::is_location(primary) && !states.iter().any(|s| s.location_name.as_deref() == Some(primary)) {
        let cfg = LocationConfiguration {
            location_name: primary.to_string(),
            always_on_capacity: Some(0),
            maximum_capacity: Some(0),
            ..Default::default()
        };
        states.insert(0, location_state(class, &cfg, 0)?);
    }
    Ok(states)
}

/// An application can be linked to a group of `class`: READY and of a runtime the class runs.
fn check_app_fits(app_id: &str, app: &GetApplicationOutput, class: StreamClass) -> Result<(), ApiError> {
    if app.status != Some(ApplicationStatus::Ready) {
        return Err(ApiError::validation(format!(
            "Application {app_id} is not READY (status {}).",
            app.status.unwrap_or_default().as_str()
        )));
    }
    let rt = app.runtime_environment.as_ref().map(|r| r.type_).unwrap_or_default();
    if !catalog::runtime_fits_class(rt, class) {
        return Err(ApiError::validation(format!(
            "Application {app_id} uses the {} runtime, which stream class {} cannot run.",
            rt.as_str(),
            class.as_str()
        )));
    }
    Ok(())
}

fn quota_error(message: String) -> ApiError {
    ApiError::new(ErrorCode::ServiceQuotaExceededException, message)
}

/// Every stream group of the caller's account and region.
pub fn all_groups(ctx: &Ctx<'_>, tx: &Transaction<'_>) -> Result<Vec<(String, GetStreamGroupOutput)>, ApiError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store::doc_page(tx, DocTable::StreamGroups, ctx.part, after.as_ref(), 500)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (pos, doc) in page {
            out.push((pos.id, parse_doc(&doc)?));
        }
    }
    Ok(out)
}

/// The GPU quotas: per stream-class family and location over all groups of the account and
/// region, and per group over its locations. `locations` is the group's would-be state.
fn check_gpu_quota(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    class: StreamClass,
    group_id: Option<&str>,
    locations: &[LocationState],
) -> Result<(), ApiError> {
    let q = &ctx.settings.quotas;
    let gpus_of = |l: &LocationState| catalog::gpus(class, l.maximum_capacity.unwrap_or(0));
    let total: i64 = locations.iter().map(gpus_of).sum();
    if total > q.gpus_per_group {
        return Err(quota_error(format!(
            "The stream group would use {total} GPUs; a stream group can use at most {}.",
            q.gpus_per_group
        )));
    }
    let family = catalog::gpu_family(class);
    let others = all_groups(ctx, tx)?;
    for loc in locations {
        let name = loc.location_name.as_deref().unwrap_or_default();
        let wanted = gpus_of(loc);
        if wanted == 0 {
            continue;
        }
        let used: i64 = others
            .iter()
            .filter(|(id, g)| {
                Some(id.as_str()) != group_id
                    && g.status != Some(StreamGroupStatus::Deleting)
                    && g.stream_class.map(catalog::gpu_family) == Some(family)
            })
            .flat_map(|(_, g)| {
                let their_class = g.stream_class.unwrap_or_default();
                g.location_states
                    .iter()
                    .flatten()
                    .filter(|l| l.location_name.as_deref() == Some(name))
                    .map(move |l| catalog::gpus(their_class, l.maximum_capacity.unwrap_or(0)))
            })
            .sum();
        if used + wanted > q.gpus_per_family_location {
            return Err(quota_error(format!(
                "Location {name} would use {} {family} GPUs; the quota for this account is {}.",
                used + wanted,
                q.gpus_per_family_location
            )));
        }
    }
    Ok(())
}

/// Record that `app` is associated with the group and starts replicating to its locations.
pub fn link_app(app: &mut gls_model::GetApplicationOutput, group_arn: &str, locations: &[String], at: Timestamp) {
    let groups = app.associated_stream_groups.get_or_insert_with(Vec::new);
    if !groups.iter().any(|g| g == group_arn) {
        groups.push(group_arn.to_string());
    }
    let reps = app.replication_statuses.get_or_insert_with(Vec::new);
    for loc in locations {
        if !reps.iter().any(|r| r.location.as_ref() == Some(loc)) {
            reps.push(ReplicationStatus {
                location: Some(loc.clone()),
                status: Some(ReplicationStatusType::Replicating),
            });
        }
    }
    app.last_updated_at = Some(at);
}

pub(super) fn create(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: CreateStreamGroupInput,
) -> Result<GetStreamGroupOutput, ApiError> {
    let fp = fingerprint(&input);
    if let Some(id) = replayed(ctx, tx, Op::CreateStreamGroup, input.client_token.as_deref(), &fp)? {
        return Ok(load(ctx, tx, &id)?.1);
    }
    check_tags(input.tags.as_ref())?;
    let class = input.stream_class;
    let locations = initial_locations(ctx, class, input.location_configurations.as_ref())?;
    let mut app = match input.default_application_identifier.as_deref() {
        Some(ident) => {
            let (app_id, app) = applications::load(ctx, tx, ident)?;
            check_app_fits(&app_id, &app, class)?;
            Some((app_id, app))
        }
        None => None,
    };
    check_gpu_quota(ctx, tx, class, None, &locations)?;
    let id = ids::new_group_id(&mut rand::rng());
    let arn = ctx.scope.group_arn(&id);
    let names: Vec<String> = locations.iter().filter_map(|l| l.location_name.clone()).collect();
    if let Some((app_id, app)) = app.as_mut() {
        link_app(app, &arn, &names, ctx.now);
        applications::save(ctx, tx, app_id, app)?;
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
        location_states: Some(locations),
        stream_class: Some(class),
        status: Some(StreamGroupStatus::Activating),
        status_reason: None,
        created_at: Some(ctx.now),
        last_updated_at: Some(ctx.now),
        expires_at: Some(Timestamp(ctx.now.millis() + 365 * DAY_MS)),
    };
    let tags = serde_json::to_string(&input.tags.unwrap_or_default()).map_err(ApiError::internal)?;
    store::doc_insert(
        tx,
        DocTable::StreamGroups,
        ctx.part,
        &id,
        ctx.now.millis(),
        &doc_json(&doc)?,
        &tags,
    )?;
    schedule_update(ctx, tx, &id)?;
    store::timer_add(
        tx,
        ctx.now.millis() + 365 * DAY_MS,
        ctx.part,
        TimerKind::GroupExpired,
        &id,
    )?;
    remember(ctx, tx, Op::CreateStreamGroup, input.client_token.as_deref(), &fp, &id)?;
    Ok(doc)
}

pub(super) fn get(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: GetStreamGroupInput,
) -> Result<GetStreamGroupOutput, ApiError> {
    Ok(load(ctx, tx, &input.identifier)?.1)
}

pub(super) fn list(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: ListStreamGroupsInput,
) -> Result<ListStreamGroupsOutput, ApiError> {
    let (items, next_token) = list_docs(
        ctx,
        tx,
        DocTable::StreamGroups,
        Op::ListStreamGroups,
        input.next_token.as_deref(),
        input.max_results,
        |g: GetStreamGroupOutput| StreamGroupSummary {
            arn: g.arn,
            id: g.id,
            description: g.description,
            default_application: g.default_application,
            stream_class: g.stream_class,
            status: g.status,
            created_at: g.created_at,
            last_updated_at: g.last_updated_at,
            expires_at: g.expires_at,
        },
    )?;
    Ok(ListStreamGroupsOutput {
        items: Some(items),
        next_token,
    })
}

/// Save a changed stream group document.
pub fn save(ctx: &Ctx<'_>, tx: &Transaction<'_>, id: &str, doc: &GetStreamGroupOutput) -> Result<(), ApiError> {
    store::doc_update(tx, DocTable::StreamGroups, ctx.part, id, &doc_json(doc)?)?;
    Ok(())
}

fn location_names(g: &GetStreamGroupOutput) -> Vec<String> {
    g.location_states
        .iter()
        .flatten()
        .filter_map(|l| l.location_name.clone())
        .collect()
}

fn group_age_days(ctx: &Ctx<'_>, g: &GetStreamGroupOutput) -> i64 {
    (ctx.now.millis() - g.created_at.unwrap_or(ctx.now).millis()) / DAY_MS
}

fn require_status(
    id: &str,
    g: &GetStreamGroupOutput,
    allowed: &[StreamGroupStatus],
    conflict: bool,
) -> Result<(), ApiError> {
    let status = g.status.unwrap_or_default();
    if allowed.contains(&status) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
    let msg = format!(
        "Stream group {id} is {}; this needs it to be {}.",
        status.as_str(),
        names.join(" or ")
    );
    Err(if conflict {
        ApiError::conflict(msg)
    } else {
        ApiError::validation(msg)
    })
}

/// Change an application (by id) in place, if it still exists.
fn update_app(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    app_id: &str,
    f: impl FnOnce(&mut GetApplicationOutput) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let Some((doc, _)) = store::doc_get(tx, DocTable::Applications, ctx.part, app_id)? else {
        return Ok(());
    };
    let mut app: GetApplicationOutput = parse_doc(&doc)?;
    f(&mut app)?;
    applications::save(ctx, tx, app_id, &app)
}

/// The ids of a group's associated applications.
fn app_ids(g: &GetStreamGroupOutput) -> Vec<String> {
    g.associated_applications
        .iter()
        .flatten()
        .filter_map(|a| a.rsplit('/').next().map(str::to_string))
        .collect()
}

/// Drop the group from an application and forget replications to locations that no other
/// associated group has.
fn unlink_app(ctx: &Ctx<'_>, tx: &Transaction<'_>, app_id: &str, group_arn: &str) -> Result<(), ApiError> {
    update_app(ctx, tx, app_id, |app| {
        if let Some(groups) = app.associated_stream_groups.as_mut() {
            groups.retain(|g| g != group_arn);
        }
        app.last_updated_at = Some(ctx.now);
        prune_replications(ctx, tx, app)
    })
}

/// Keep only replication entries for locations of the application's associated groups.
fn prune_replications(ctx: &Ctx<'_>, tx: &Transaction<'_>, app: &mut GetApplicationOutput) -> Result<(), ApiError> {
    let mut keep: Vec<String> = Vec::new();
    for arn in app.associated_stream_groups.iter().flatten() {
        let gid = arn.rsplit('/').next().unwrap_or_default();
        if let Some((doc, _)) = store::doc_get(tx, DocTable::StreamGroups, ctx.part, gid)? {
            let g: GetStreamGroupOutput = parse_doc(&doc)?;
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

fn end_sessions(ctx: &Ctx<'_>, tx: &Transaction<'_>, group_id: &str, location: Option<&str>) -> Result<(), ApiError> {
    for mut row in rows::live(tx, ctx.part, LiveBy::Group(group_id))? {
        let here = match location {
            None => true,
            Some(loc) => row.doc.location.as_deref() == Some(loc) || row.internal.locations.iter().all(|l| l == loc),
        };
        if here {
            engine::drive_quiet(tx, ctx.settings, ctx.part, &mut row, Event::End, ctx.now)?;
        }
    }
    Ok(())
}

fn schedule_update(ctx: &Ctx<'_>, tx: &Transaction<'_>, id: &str) -> Result<(), ApiError> {
    store::timer_add(
        tx,
        ctx.now.millis() + ctx.settings.delays.group_active_ms,
        ctx.part,
        TimerKind::GroupActive,
        id,
    )?;
    Ok(())
}

pub(super) fn update(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: UpdateStreamGroupInput,
) -> Result<GetStreamGroupOutput, ApiError> {
    let (id, mut g) = load(ctx, tx, &input.identifier)?;
    require_status(&id, &g, &[StreamGroupStatus::Active], true)?;
    let class = g.stream_class.unwrap_or_default();
    if let Some(ident) = input.default_application_identifier.as_deref() {
        let (app_id, app) = applications::load(ctx, tx, ident)?;
        check_app_fits(&app_id, &app, class)?;
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
            let next = location_state(class, cfg, 0)?;
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
        check_gpu_quota(ctx, tx, class, Some(&id), &states)?;
        g.location_states = Some(states);
    }
    if let Some(d) = input.description {
        g.description = Some(d);
    }
    g.last_updated_at = Some(ctx.now);
    save(ctx, tx, &id, &g)?;
    if input.location_configurations.is_some() {
        // New capacity may serve sessions that wait for it.
        engine::place_waiting(tx, ctx.settings, ctx.part, &id, ctx.now)?;
        g = load(ctx, tx, &id)?.1;
    }
    Ok(g)
}

pub(super) fn delete(ctx: &Ctx<'_>, tx: &Transaction<'_>, input: DeleteStreamGroupInput) -> Result<(), ApiError> {
    let (id, mut g) = load(ctx, tx, &input.identifier)?;
    if g.status == Some(StreamGroupStatus::Deleting) {
        return Ok(());
    }
    end_sessions(ctx, tx, &id, None)?;
    for app_arn in g.associated_applications.take().unwrap_or_default() {
        let app_id = app_arn.rsplit('/').next().unwrap_or_default();
        unlink_app(ctx, tx, app_id, &g.arn)?;
    }
    g.associated_applications = Some(Vec::new());
    g.default_application = None;
    g.status = Some(StreamGroupStatus::Deleting);
    g.status_reason = None;
    g.last_updated_at = Some(ctx.now);
    save(ctx, tx, &id, &g)?;
    urls::revoke_for(ctx, tx, UrlOwner::Group(&id))?;
    store::timer_add(
        tx,
        ctx.now.millis() + ctx.settings.delays.group_deleted_ms,
        ctx.part,
        TimerKind::GroupDeleted,
        &id,
    )?;
    Ok(())
}

pub(super) fn add_locations(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: AddStreamGroupLocationsInput,
) -> Result<AddStreamGroupLocationsOutput, ApiError> {
    let (id, mut g) = load(ctx, tx, &input.identifier)?;
    require_status(&id, &g, &[StreamGroupStatus::Active], false)?;
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
        let state = location_state(class, cfg, catalog::tenancy(class))?;
        states.push(state.clone());
        added.push(state);
    }
    check_gpu_quota(ctx, tx, class, Some(&id), &states)?;
    let new_names: Vec<String> = added.iter().filter_map(|l| l.location_name.clone()).collect();
    for app_id in app_ids(&g) {
        update_app(ctx, tx, &app_id, |app| {
            link_app(app, &g.arn, &new_names, ctx.now);
            Ok(())
        })?;
    }
    g.location_states = Some(states);
    g.status = Some(StreamGroupStatus::UpdatingLocations);
    g.last_updated_at = Some(ctx.now);
    save(ctx, tx, &id, &g)?;
    schedule_update(ctx, tx, &id)?;
    Ok(AddStreamGroupLocationsOutput {
        identifier: g.arn,
        locations: added,
    })
}

pub(super) fn remove_locations(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: RemoveStreamGroupLocationsInput,
) -> Result<(), ApiError> {
    let (id, mut g) = load(ctx, tx, &input.identifier)?;
    require_status(
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
    save(ctx, tx, &id, &g)?;
    for name in &input.locations {
        end_sessions(ctx, tx, &id, Some(name))?;
    }
    for app_id in app_ids(&g) {
        update_app(ctx, tx, &app_id, |app| prune_replications(ctx, tx, app))?;
    }
    schedule_update(ctx, tx, &id)?;
    Ok(())
}

pub(super) fn associate(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: AssociateApplicationsInput,
) -> Result<AssociateApplicationsOutput, ApiError> {
    let (id, mut g) = load(ctx, tx, &input.identifier)?;
    require_status(&id, &g, &[StreamGroupStatus::Active], false)?;
    if group_age_days(ctx, &g) >= 180 {
        return Err(ApiError::validation(format!(
            "Stream group {id} is 180 days old or more; applications can no longer be associated with it."
        )));
    }
    let class = g.stream_class.unwrap_or_default();
    let names = location_names(&g);
    let mut arns = Vec::new();
    let mut apps = Vec::new();
    for ident in &input.application_identifiers {
        let (app_id, app) = applications::load(ctx, tx, ident)?;
        check_app_fits(&app_id, &app, class)?;
        arns.push(app.arn.clone());
        apps.push((app_id, app));
    }
    let associated = g.associated_applications.get_or_insert_with(Vec::new);
    for (app_id, app) in apps.iter_mut() {
        if associated.contains(&app.arn) {
            continue;
        }
        if associated.len() >= ctx.settings.quotas.apps_per_group {
            return Err(quota_error(format!(
                "Stream group {id} already has {} applications, the limit.",
                ctx.settings.quotas.apps_per_group
            )));
        }
        let groups = app.associated_stream_groups.as_ref().map_or(0, Vec::len);
        if groups >= ctx.settings.quotas.groups_per_app {
            return Err(quota_error(format!(
                "Application {app_id} is already associated with {groups} stream groups, the limit."
            )));
        }
        associated.push(app.arn.clone());
        link_app(app, &g.arn, &names, ctx.now);
        applications::save(ctx, tx, app_id, app)?;
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
    save(ctx, tx, &id, &g)?;
    schedule_update(ctx, tx, &id)?;
    Ok(AssociateApplicationsOutput {
        arn: Some(g.arn),
        application_arns: Some(arns),
    })
}

pub(super) fn disassociate(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: DisassociateApplicationsInput,
) -> Result<DisassociateApplicationsOutput, ApiError> {
    let (id, mut g) = load(ctx, tx, &input.identifier)?;
    require_status(&id, &g, &[StreamGroupStatus::Active], false)?;
    let mut arns = Vec::new();
    for ident in &input.application_identifiers {
        let (app_id, app) = applications::load(ctx, tx, ident)?;
        arns.push(app.arn.clone());
        let associated = g.associated_applications.get_or_insert_with(Vec::new);
        if let Some(pos) = associated.iter().position(|a| *a == app.arn) {
            associated.remove(pos);
            save(ctx, tx, &id, &g)?;
            unlink_app(ctx, tx, &app_id, &g.arn)?;
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
    save(ctx, tx, &id, &g)?;
    Ok(DisassociateApplicationsOutput {
        arn: Some(g.arn),
        application_arns: Some(arns),
    })
}
