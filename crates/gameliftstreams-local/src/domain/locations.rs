//! A stream group's locations: the capacity rules of a location configuration, the initial
//! locations of a new group, lookups, and the placement deadline they imply.

use super::catalog;
use super::ApiError;
use gls_model::{
    GetStreamGroupOutput, LocationConfiguration, LocationState, StreamClass, StreamGroupLocationStatus,
    VpcTransitConfigurationResponse,
};

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

/// The locations of a new stream group: the configured ones, with the primary location (the
/// caller's region) first, added with no capacity when it was not configured.
pub fn initial_locations(
    primary: &str,
    class: StreamClass,
    cfgs: Option<&Vec<LocationConfiguration>>,
) -> Result<Vec<LocationState>, ApiError> {
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

/// A location of a group, by name.
pub fn find_mut<'a>(g: &'a mut GetStreamGroupOutput, name: &str) -> Option<&'a mut LocationState> {
    g.location_states
        .iter_mut()
        .flatten()
        .find(|l| l.location_name.as_deref() == Some(name))
}

/// The names of a group's locations.
pub fn names(g: &GetStreamGroupOutput) -> Vec<String> {
    g.location_states
        .iter()
        .flatten()
        .filter_map(|l| l.location_name.clone())
        .collect()
}

/// The number of sessions one host of the group's class runs.
pub fn tenancy(g: &GetStreamGroupOutput) -> i32 {
    catalog::tenancy(g.stream_class.unwrap_or_default())
}

/// The placement deadline of a new session: 75 s when always-on capacity serves one of its
/// locations, else the on-demand wait (90 s Linux and Proton, 600 s Windows).
pub fn placement_timeout_ms(g: &GetStreamGroupOutput, locations: &[String]) -> i64 {
    let always_on = g
        .location_states
        .iter()
        .flatten()
        .filter(|l| l.location_name.as_ref().is_some_and(|n| locations.contains(n)))
        .any(|l| l.always_on_capacity.unwrap_or(0) > 0);
    if always_on {
        75_000
    } else if catalog::is_windows_class(g.stream_class.unwrap_or_default()) {
        600_000
    } else {
        90_000
    }
}
