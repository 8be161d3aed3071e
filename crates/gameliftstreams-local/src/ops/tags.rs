//! TagResource, UntagResource, ListTagsForResource: tags live on applications and stream groups.

use super::Ctx;
use crate::domain::ids;
use crate::domain::ApiError;
use crate::store::{self, DocTable};
use gls_model::{
    ListTagsForResourceRequest, ListTagsForResourceResponse, TagResourceRequest, TagResourceResponse,
    UntagResourceRequest, UntagResourceResponse,
};
use rusqlite::Transaction;
use std::collections::BTreeMap;

/// At most this many tags on one resource.
const MAX_TAGS: usize = 50;

type Tags = BTreeMap<String, String>;

fn resolve(ctx: &Ctx<'_>, tx: &Transaction<'_>, arn: &str) -> Result<(DocTable, String, Tags), ApiError> {
    let parsed = ids::parse_arn(arn)
        .ok_or_else(|| ApiError::validation(format!("{arn} is not a GameLift Streams resource ARN.")))?;
    let table = match parsed.kind {
        "application" => DocTable::Applications,
        "streamgroup" => DocTable::StreamGroups,
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
    match store::doc_get(tx, table, ctx.part, id)? {
        Some((_, tags)) => Ok((
            table,
            (*id).to_string(),
            serde_json::from_str(&tags).unwrap_or_default(),
        )),
        None => Err(ApiError::not_found(format!("Resource {arn} not found."))),
    }
}

fn save(ctx: &Ctx<'_>, tx: &Transaction<'_>, table: DocTable, id: &str, tags: &Tags) -> Result<(), ApiError> {
    let json = serde_json::to_string(tags).map_err(ApiError::internal)?;
    store::tags_set(tx, table, ctx.part, id, &json)?;
    Ok(())
}

pub(super) fn tag(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: TagResourceRequest,
) -> Result<TagResourceResponse, ApiError> {
    super::groups::check_tags(Some(&input.tags))?;
    let (table, id, mut tags) = resolve(ctx, tx, &input.resource_arn)?;
    tags.extend(input.tags);
    if tags.len() > MAX_TAGS {
        return Err(ApiError::validation(format!(
            "A resource can have at most {MAX_TAGS} tags; this would make {}.",
            tags.len()
        )));
    }
    save(ctx, tx, table, &id, &tags)?;
    Ok(TagResourceResponse {})
}

pub(super) fn untag(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: UntagResourceRequest,
) -> Result<UntagResourceResponse, ApiError> {
    let (table, id, mut tags) = resolve(ctx, tx, &input.resource_arn)?;
    for k in &input.tag_keys {
        tags.remove(k);
    }
    save(ctx, tx, table, &id, &tags)?;
    Ok(UntagResourceResponse {})
}

pub(super) fn list(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, ApiError> {
    let (_, _, tags) = resolve(ctx, tx, &input.resource_arn)?;
    Ok(ListTagsForResourceResponse { tags: Some(tags) })
}
