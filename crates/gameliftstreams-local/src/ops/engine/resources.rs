//! Resources named by the caller: by ID or ARN inside the caller's partition (a miss is the
//! API's ResourceNotFoundException), or, for the admin API, by ID or ARN in any partition.

use crate::domain::ids::{self, Scope};
use crate::domain::ApiError;
use crate::ops::Ctx;
use crate::store::{SessionRow, Tx, UrlRow};
use gls_model::{GetApplicationOutput, GetStreamGroupOutput};

/// An application by ID or ARN, or 404.
pub fn app(ctx: &Ctx<'_>, tx: &dyn Tx, ident: &str) -> Result<(String, GetApplicationOutput), ApiError> {
    let id = ids::resolve_app(ctx.scope, ident)?;
    match tx.applications().get(ctx.part, &id)? {
        Some(doc) => Ok((id, doc)),
        None => Err(ApiError::not_found(format!("Application {ident} not found."))),
    }
}

/// A stream group by ID or ARN, or 404.
pub fn group(ctx: &Ctx<'_>, tx: &dyn Tx, ident: &str) -> Result<(String, GetStreamGroupOutput), ApiError> {
    let id = ids::resolve_group(ctx.scope, ident)?;
    match tx.groups().get(ctx.part, &id)? {
        Some(doc) => Ok((id, doc)),
        None => Err(ApiError::not_found(format!("Stream group {ident} not found."))),
    }
}

/// A session of a group (both by ID or ARN), or 404.
pub fn session(ctx: &Ctx<'_>, tx: &dyn Tx, group: &str, session: &str) -> Result<SessionRow, ApiError> {
    let group_id = ids::resolve_group(ctx.scope, group)?;
    if tx.groups().get(ctx.part, &group_id)?.is_none() {
        return Err(ApiError::not_found(format!("Stream group {group} not found.")));
    }
    let id = ids::resolve_session(ctx.scope, &group_id, session)?;
    match tx.sessions().get(ctx.part, &id)? {
        Some(row) if row.group_id == group_id => Ok(row),
        _ => Err(ApiError::not_found(format!(
            "Stream session {session} not found in stream group {group_id}."
        ))),
    }
}

/// A stream URL named by the path's group and an ID or ARN. The group may be gone: a URL
/// outlives it.
pub fn url(ctx: &Ctx<'_>, tx: &dyn Tx, group: &str, ident: &str) -> Result<UrlRow, ApiError> {
    let group_id = ids::resolve_group(ctx.scope, group)?;
    let id = ids::resolve_url(ctx.scope, &group_id, ident)?;
    match tx.urls().get(ctx.part, &id)? {
        Some(row) if row.group_id == group_id => Ok(row),
        _ => Err(ApiError::not_found(format!(
            "Stream URL {ident} not found in stream group {group_id}."
        ))),
    }
}

/// What the admin API may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A stream session.
    Session,
    /// A stream group.
    Group,
}

/// The partition and id of a resource named by ID or ARN, whatever the caller's scope (the
/// admin API names sessions without their group; ids are unique across partitions). With
/// `owner` (strict mode's signed caller) only that partition's resources are found.
pub fn locate(tx: &dyn Tx, kind: Kind, ident: &str, owner: Option<&Scope>) -> Result<Option<(i64, String)>, ApiError> {
    let arn_kind = match kind {
        Kind::Session => "streamsession",
        Kind::Group => "streamgroup",
    };
    let id = match ids::parse_arn(ident) {
        Some(arn) if arn.kind == arn_kind => arn.path.last().map(|s| (*s).to_string()).unwrap_or_default(),
        Some(_) => return Ok(None),
        None => ident.to_string(),
    };
    let part = match kind {
        Kind::Session => tx.sessions().locate(&id)?,
        Kind::Group => tx.groups().locate(&id)?,
    };
    let Some(part) = part else { return Ok(None) };
    if let Some(owner) = owner {
        if tx.partitions().part(&owner.account, &owner.region)? != part {
            return Ok(None);
        }
    }
    Ok(Some((part, id)))
}
