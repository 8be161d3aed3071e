//! Applications and stream groups linked to each other: whether an application fits a
//! group, and the application side of an association.

use super::catalog;
use super::ApiError;
use gls_model::{
    ApplicationStatus, GetApplicationOutput, GetStreamGroupOutput, ReplicationStatus, ReplicationStatusType,
    StreamClass, Timestamp,
};

/// An application can be linked to a group of `class`: READY and of a runtime the class runs.
pub fn check_app_fits(app_id: &str, app: &GetApplicationOutput, class: StreamClass) -> Result<(), ApiError> {
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

/// Record that `app` is associated with the group and starts replicating to its locations.
pub fn link_app(app: &mut GetApplicationOutput, group_arn: &str, locations: &[String], at: Timestamp) {
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

/// The ids of a group's associated applications.
pub fn app_ids(g: &GetStreamGroupOutput) -> Vec<String> {
    g.associated_applications
        .iter()
        .flatten()
        .filter_map(|a| a.rsplit('/').next().map(str::to_string))
        .collect()
}

/// The id at the end of a resource ARN.
pub fn id_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or_default()
}
