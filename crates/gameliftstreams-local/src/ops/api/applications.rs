//! CreateApplication, GetApplication, ListApplications, UpdateApplication, DeleteApplication.

use crate::domain::catalog;
use crate::domain::ids;
use crate::domain::session::LIVE;
use crate::domain::tags;
use crate::domain::timer::TimerKind;
use crate::domain::views;
use crate::domain::ApiError;
use crate::ops::engine::urls::{self, UrlOwner};
use crate::ops::engine::{builds, quotas, resources};
use crate::ops::{Ctx, Listing};
use crate::store::{LiveBy, Tx};
use gls_model::{
    ApplicationStatus, CreateApplicationInput, DeleteApplicationInput, GetApplicationInput, GetApplicationOutput,
    ListApplicationsInput, ListApplicationsOutput, Op, UpdateApplicationInput,
};

fn check_log_output(doc_paths: Option<&Vec<String>>, uri: Option<&String>) -> Result<(), ApiError> {
    let has_paths = doc_paths.is_some_and(|p| !p.is_empty());
    let has_uri = uri.is_some_and(|u| !u.is_empty());
    if has_paths && !has_uri {
        return Err(ApiError::validation(
            "ApplicationLogOutputUri is required when ApplicationLogPaths is not empty.",
        ));
    }
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
    check_log_output(
        input.application_log_paths.as_ref(),
        input.application_log_output_uri.as_ref(),
    )?;
    tags::check_keys(input.tags.as_ref())
}

pub(crate) fn create(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: CreateApplicationInput,
) -> Result<GetApplicationOutput, ApiError> {
    check_create(&input)?;
    quotas::check_app_quota(ctx, tx)?;
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
    tx.applications()
        .insert(ctx.part, &id, ctx.now.millis(), &doc, &input.tags.unwrap_or_default())?;
    // The build is snapshotted outside this transaction, by the build worker.
    let uri = doc.application_source_uri.as_deref().unwrap_or_default();
    builds::add(ctx.env(tx), &id, uri)?;
    ctx.env(tx)
        .schedule(TimerKind::AppProcessing, ctx.settings.delays.app_processing_ms, &id)?;
    Ok(doc)
}

pub(crate) fn get(ctx: &Ctx<'_>, tx: &dyn Tx, input: GetApplicationInput) -> Result<GetApplicationOutput, ApiError> {
    Ok(resources::app(ctx, tx, &input.identifier)?.1)
}

pub(crate) fn list(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: ListApplicationsInput,
) -> Result<ListApplicationsOutput, ApiError> {
    let listing = Listing {
        op: Op::ListApplications,
        parent: "",
        filters: &[],
        next_token: input.next_token.as_deref(),
        max_results: input.max_results,
    };
    let (items, next_token) = ctx.page(&listing, |after, limit| tx.applications().page(ctx.part, after, limit))?;
    Ok(ListApplicationsOutput {
        items: Some(items.into_iter().map(views::application_summary).collect()),
        next_token,
    })
}

pub(crate) fn update(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: UpdateApplicationInput,
) -> Result<GetApplicationOutput, ApiError> {
    let (id, mut doc) = resources::app(ctx, tx, &input.identifier)?;
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
    check_log_output(
        doc.application_log_paths.as_ref(),
        doc.application_log_output_uri.as_ref(),
    )?;
    doc.last_updated_at = Some(ctx.now);
    tx.applications().update(ctx.part, &id, &doc)?;
    Ok(doc)
}

pub(crate) fn delete(ctx: &Ctx<'_>, tx: &dyn Tx, input: DeleteApplicationInput) -> Result<(), ApiError> {
    let (id, mut doc) = resources::app(ctx, tx, &input.identifier)?;
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
    if !tx.sessions().in_statuses(ctx.part, LiveBy::App(&id), &LIVE)?.is_empty() {
        return Err(ApiError::conflict(format!(
            "Application {id} is used by stream sessions that are still running."
        )));
    }
    doc.status = Some(ApplicationStatus::Deleting);
    doc.last_updated_at = Some(ctx.now);
    tx.applications().update(ctx.part, &id, &doc)?;
    let env = ctx.env(tx);
    urls::revoke_for(env, UrlOwner::App(&id))?;
    env.schedule(TimerKind::AppDeleted, ctx.settings.delays.app_deleted_ms, &id)?;
    Ok(())
}
