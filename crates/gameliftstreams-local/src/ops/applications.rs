//! CreateApplication, GetApplication, ListApplications, UpdateApplication, DeleteApplication.

use super::urls::UrlOwner;
use super::{doc_json, fingerprint, list_docs, parse_doc, remember, replayed, Ctx};
use crate::domain::catalog;
use crate::domain::ids;
use crate::domain::lifecycle::TimerKind;
use crate::domain::ApiError;
use crate::store::sessions::{self as rows, LiveBy};
use crate::store::{self, DocTable};
use gls_model::{
    ApplicationStatus, ApplicationSummary, CreateApplicationInput, DeleteApplicationInput, GetApplicationInput,
    GetApplicationOutput, ListApplicationsInput, ListApplicationsOutput, Op, UpdateApplicationInput,
};
use rusqlite::Transaction;

/// Load an application document by ID or ARN, or 404.
pub fn load(ctx: &Ctx<'_>, tx: &Transaction<'_>, ident: &str) -> Result<(String, GetApplicationOutput), ApiError> {
    let id = ids::resolve_app(ctx.scope, ident)?;
    match store::doc_get(tx, DocTable::Applications, ctx.part, &id)? {
        Some((doc, _)) => Ok((id, parse_doc(&doc)?)),
        None => Err(ApiError::not_found(format!("Application {ident} not found."))),
    }
}

/// Save a changed application document.
pub fn save(ctx: &Ctx<'_>, tx: &Transaction<'_>, id: &str, doc: &GetApplicationOutput) -> Result<(), ApiError> {
    store::doc_update(tx, DocTable::Applications, ctx.part, id, &doc_json(doc)?)?;
    Ok(())
}

fn check_create(input: &CreateApplicationInput) -> Result<(), ApiError> {
    let rt = &input.runtime_environment;
    let versions = catalog::runtime_versions(rt.type_);
    if !versions.contains(&rt.version.as_str()) {
        return Err(ApiError::validation(format!(
            "RuntimeEnvironment {} version {} is not supported. Supported versions: {}.",
            rt.type_.as_str(),
            rt.version,
            versions.join(", ")
        )));
    }
    if !catalog::is_s3_uri(&input.application_source_uri) {
        return Err(ApiError::validation(format!(
            "ApplicationSourceUri {} is not a valid Amazon S3 URI (s3://bucket/prefix).",
            input.application_source_uri
        )));
    }
    let has_paths = input.application_log_paths.as_ref().is_some_and(|p| !p.is_empty());
    let has_uri = input.application_log_output_uri.as_ref().is_some_and(|u| !u.is_empty());
    if has_paths && !has_uri {
        return Err(ApiError::validation(
            "ApplicationLogOutputUri is required when ApplicationLogPaths is not empty.",
        ));
    }
    crate::ops::groups::check_tags(input.tags.as_ref())
}

pub(super) fn create(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: CreateApplicationInput,
) -> Result<GetApplicationOutput, ApiError> {
    check_create(&input)?;
    let fp = fingerprint(&input);
    if let Some(id) = replayed(ctx, tx, Op::CreateApplication, input.client_token.as_deref(), &fp)? {
        return Ok(load(ctx, tx, &id)?.1);
    }
    let quota = ctx.settings.quotas.applications;
    if store::doc_count(tx, DocTable::Applications, ctx.part)? >= quota {
        return Err(ApiError::new(
            gls_model::ErrorCode::ServiceQuotaExceededException,
            format!(
                "The account already has {quota} applications in {}, the quota.",
                ctx.scope.region
            ),
        ));
    }
    let id = ids::new_app_id(&mut rand::rng());
    let doc = GetApplicationOutput {
        arn: ctx.scope.app_arn(&id),
        id: Some(id.clone()),
        description: Some(input.description),
        runtime_environment: Some(input.runtime_environment),
        executable_path: Some(input.executable_path),
        application_source_uri: Some(input.application_source_uri),
        application_log_paths: input.application_log_paths,
        application_log_output_uri: input.application_log_output_uri,
        status: Some(ApplicationStatus::Initialized),
        created_at: Some(ctx.now),
        last_updated_at: Some(ctx.now),
        ..Default::default()
    };
    let tags = serde_json::to_string(&input.tags.unwrap_or_default()).map_err(ApiError::internal)?;
    store::doc_insert(
        tx,
        DocTable::Applications,
        ctx.part,
        &id,
        ctx.now.millis(),
        &doc_json(&doc)?,
        &tags,
    )?;
    store::timer_add(
        tx,
        ctx.now.millis() + ctx.settings.delays.app_processing_ms,
        ctx.part,
        TimerKind::AppProcessing,
        &id,
    )?;
    remember(ctx, tx, Op::CreateApplication, input.client_token.as_deref(), &fp, &id)?;
    Ok(doc)
}

pub(super) fn get(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: GetApplicationInput,
) -> Result<GetApplicationOutput, ApiError> {
    Ok(load(ctx, tx, &input.identifier)?.1)
}

pub(super) fn list(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: ListApplicationsInput,
) -> Result<ListApplicationsOutput, ApiError> {
    let (items, next_token) = list_docs(
        ctx,
        tx,
        DocTable::Applications,
        Op::ListApplications,
        input.next_token.as_deref(),
        input.max_results,
        |a: GetApplicationOutput| ApplicationSummary {
            arn: a.arn,
            id: a.id,
            description: a.description,
            status: a.status,
            created_at: a.created_at,
            last_updated_at: a.last_updated_at,
            runtime_environment: a.runtime_environment,
        },
    )?;
    Ok(ListApplicationsOutput {
        items: Some(items),
        next_token,
    })
}

pub(super) fn update(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: UpdateApplicationInput,
) -> Result<GetApplicationOutput, ApiError> {
    let (id, mut doc) = load(ctx, tx, &input.identifier)?;
    if doc.status == Some(ApplicationStatus::Deleting) {
        return Err(ApiError::validation(format!(
            "Application {id} is being deleted and cannot be updated."
        )));
    }
    if let Some(d) = input.description {
        doc.description = Some(d);
    }
    if let Some(p) = input.application_log_paths {
        doc.application_log_paths = Some(p);
    }
    if let Some(u) = input.application_log_output_uri {
        doc.application_log_output_uri = Some(u);
    }
    let has_paths = doc.application_log_paths.as_ref().is_some_and(|p| !p.is_empty());
    let has_uri = doc.application_log_output_uri.as_ref().is_some_and(|u| !u.is_empty());
    if has_paths && !has_uri {
        return Err(ApiError::validation(
            "ApplicationLogOutputUri is required when ApplicationLogPaths is not empty.",
        ));
    }
    doc.last_updated_at = Some(ctx.now);
    save(ctx, tx, &id, &doc)?;
    Ok(doc)
}

pub(super) fn delete(ctx: &Ctx<'_>, tx: &Transaction<'_>, input: DeleteApplicationInput) -> Result<(), ApiError> {
    let (id, mut doc) = load(ctx, tx, &input.identifier)?;
    match doc.status.unwrap_or_default() {
        ApplicationStatus::Deleting => return Ok(()),
        ApplicationStatus::Ready | ApplicationStatus::Error => {}
        other => {
            return Err(ApiError::conflict(format!(
                "Application {id} is {}; it can be deleted once it is READY or ERROR.",
                other.as_str()
            )))
        }
    }
    if let Some(g) = doc.associated_stream_groups.as_ref().and_then(|g| g.first()) {
        return Err(ApiError::validation(format!(
            "Application {id} is associated with stream group {g}. Disassociate it first."
        )));
    }
    if !rows::live(tx, ctx.part, LiveBy::App(&id))?.is_empty() {
        return Err(ApiError::conflict(format!(
            "Application {id} is used by stream sessions that are still running."
        )));
    }
    doc.status = Some(ApplicationStatus::Deleting);
    doc.last_updated_at = Some(ctx.now);
    save(ctx, tx, &id, &doc)?;
    crate::ops::urls::revoke_for(ctx, tx, UrlOwner::App(&id))?;
    store::timer_add(
        tx,
        ctx.now.millis() + ctx.settings.delays.app_deleted_ms,
        ctx.part,
        TimerKind::AppDeleted,
        &id,
    )?;
    Ok(())
}
