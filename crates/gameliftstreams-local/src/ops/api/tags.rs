//! TagResource, UntagResource, ListTagsForResource: tags live on applications and stream groups.

use crate::domain::ids;
use crate::domain::tags;
use crate::domain::ApiError;
use crate::ops::Ctx;
use crate::store::{Tags, Tx};
use gls_model::{
    ListTagsForResourceRequest, ListTagsForResourceResponse, TagResourceRequest, TagResourceResponse,
    UntagResourceRequest, UntagResourceResponse,
};

/// The two kinds of resource that carry tags.
#[derive(Clone, Copy)]
enum Tagged {
    App,
    Group,
}

fn resolve(ctx: &Ctx<'_>, tx: &dyn Tx, arn: &str) -> Result<(Tagged, String, Tags), ApiError> {
    let parsed = ids::parse_arn(arn)
        .ok_or_else(|| ApiError::validation(format!("{arn} is not a GameLift Streams resource ARN.")))?;
    let kind = match parsed.kind {
        "application" => Tagged::App,
        "streamgroup" => Tagged::Group,
        other => {
            return Err(ApiError::validation(format!(
                "Resources of type {other} cannot be tagged; only applications and stream groups can."
            )))
        }
    };
    let [id] = parsed.path.as_slice() else {
        return Err(ApiError::validation(format!(
            "{arn} is not a valid {} ARN.",
            parsed.kind
        )));
    };
    if parsed.region != ctx.scope.region || parsed.account != ctx.scope.account {
        return Err(ApiError::not_found(format!("Resource {arn} not found.")));
    }
    let found = match kind {
        Tagged::App => tx.applications().tags(ctx.part, id)?,
        Tagged::Group => tx.groups().tags(ctx.part, id)?,
    };
    match found {
        Some(tags) => Ok((kind, (*id).to_string(), tags)),
        None => Err(ApiError::not_found(format!("Resource {arn} not found."))),
    }
}

fn save(ctx: &Ctx<'_>, tx: &dyn Tx, kind: Tagged, id: &str, tags: &Tags) -> Result<(), ApiError> {
    match kind {
        Tagged::App => tx.applications().set_tags(ctx.part, id, tags)?,
        Tagged::Group => tx.groups().set_tags(ctx.part, id, tags)?,
    }
    Ok(())
}

pub(crate) fn tag(ctx: &Ctx<'_>, tx: &dyn Tx, input: TagResourceRequest) -> Result<TagResourceResponse, ApiError> {
    tags::check_keys(Some(&input.tags))?;
    let (kind, id, mut current) = resolve(ctx, tx, &input.resource_arn)?;
    current.extend(input.tags);
    tags::check_count(&current)?;
    save(ctx, tx, kind, &id, &current)?;
    Ok(TagResourceResponse {})
}

pub(crate) fn untag(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: UntagResourceRequest,
) -> Result<UntagResourceResponse, ApiError> {
    let (kind, id, mut current) = resolve(ctx, tx, &input.resource_arn)?;
    for k in &input.tag_keys {
        current.remove(k);
    }
    save(ctx, tx, kind, &id, &current)?;
    Ok(UntagResourceResponse {})
}

pub(crate) fn list(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, ApiError> {
    let (_, _, tags) = resolve(ctx, tx, &input.resource_arn)?;
    Ok(ListTagsForResourceResponse { tags: Some(tags) })
}
