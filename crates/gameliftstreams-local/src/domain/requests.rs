//! Rules on request values beyond the model's constraints: display resolutions and role ARNs.

use super::ApiError;
use gls_model::DisplayConfiguration;

const MAX_PIXELS: i64 = 1920 * 1080;

/// A requested resolution: even width and height, at most 1920x1080 pixels.
pub fn check_display(d: Option<&DisplayConfiguration>) -> Result<(), ApiError> {
    let Some(r) = d.and_then(|d| d.resolution.as_ref()) else {
        return Ok(());
    };
    if r.width % 2 != 0 || r.height % 2 != 0 {
        return Err(ApiError::validation(format!(
            "Resolution {}x{}: width and height must be even numbers.",
            r.width, r.height
        )));
    }
    if i64::from(r.width) * i64::from(r.height) > MAX_PIXELS {
        return Err(ApiError::validation(format!(
            "Resolution {}x{} has more than {MAX_PIXELS} pixels (1920x1080).",
            r.width, r.height
        )));
    }
    Ok(())
}

/// The rules on RoleArn beyond its pattern: the `GameLiftStreams-` name prefix, no
/// service-linked role, and the caller's own account.
pub fn check_role(account_id: &str, role: Option<&str>) -> Result<(), ApiError> {
    let Some(role) = role else { return Ok(()) };
    let account = role.split(':').nth(4).unwrap_or("");
    let path = role.split_once(":role/").map(|(_, p)| p).unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    if path.starts_with("aws-service-role/") {
        return Err(ApiError::validation("RoleArn must not be a service-linked role."));
    }
    if !name.starts_with("GameLiftStreams-") {
        return Err(ApiError::validation(
            "The name of the role in RoleArn must start with GameLiftStreams-.",
        ));
    }
    if account != account_id {
        return Err(ApiError::validation(
            "RoleArn must be a role of the caller's own account.",
        ));
    }
    Ok(())
}
