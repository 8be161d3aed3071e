//! The quotas that look across resources: applications per account and region, GPUs per
//! stream-class family and location over all groups, GPUs per group.

use crate::domain::catalog;
use crate::domain::ApiError;
use crate::ops::Ctx;
use crate::store::Tx;
use gls_model::{ErrorCode, GetStreamGroupOutput, LocationState, StreamClass, StreamGroupStatus};

/// ServiceQuotaExceededException with `message`.
pub fn quota_error(message: String) -> ApiError {
    ApiError::new(ErrorCode::ServiceQuotaExceededException, message)
}

/// Every stream group of the caller's account and region.
pub fn all_groups(ctx: &Ctx<'_>, tx: &dyn Tx) -> Result<Vec<(String, GetStreamGroupOutput)>, ApiError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = tx.groups().page(ctx.part, after.as_ref(), 500)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        out.extend(page.into_iter().map(|(pos, doc)| (pos.id, doc)));
    }
    Ok(out)
}

/// The GPU quotas: per stream-class family and location over all groups of the account and
/// region, and per group over its locations. `locations` is the group's would-be state.
pub fn check_gpu_quota(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
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

/// Room for one more application in the caller's account and region.
pub fn check_app_quota(ctx: &Ctx<'_>, tx: &dyn Tx) -> Result<(), ApiError> {
    let quota = ctx.settings.quotas.applications;
    if tx.applications().count(ctx.part)? >= quota {
        return Err(quota_error(format!(
            "The account already has {quota} applications in {}, the quota.",
            ctx.scope.region
        )));
    }
    Ok(())
}
