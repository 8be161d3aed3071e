//! CreateStreamGroup, GetStreamGroup, ListStreamGroups, and the capacity and tag rules they apply.

use super::{applications, doc_json, fingerprint, list_docs, parse_doc, remember, replayed, Ctx};
use crate::domain::catalog;
use crate::domain::ids;
use crate::domain::lifecycle::TimerKind;
use crate::domain::ApiError;
use crate::store::{self, DocTable};
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
            if app.status != Some(ApplicationStatus::Ready) {
                return Err(ApiError::validation(format!(
                    "Application {app_id} is not READY (status {}), so it cannot be the default application.",
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
            Some((app_id, app))
        }
        None => None,
    };
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
    store::timer_add(
        tx,
        ctx.now.millis() + ctx.settings.delays.group_active_ms,
        ctx.part,
        TimerKind::GroupActive,
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
