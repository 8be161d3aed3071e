//! The tag rules beyond the model's constraints: no reserved `aws:` keys, at most 50 tags.

use super::ApiError;
use std::collections::BTreeMap;

/// At most this many tags on one resource.
pub const MAX_TAGS: usize = 50;

/// Tag keys may not use the reserved `aws:` prefix.
pub fn check_keys(tags: Option<&BTreeMap<String, String>>) -> Result<(), ApiError> {
    for key in tags.into_iter().flat_map(|t| t.keys()) {
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::validation(format!(
                "Tag key {key} uses the reserved prefix aws:."
            )));
        }
    }
    Ok(())
}

/// A resource may carry at most [`MAX_TAGS`] tags.
pub fn check_count(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::validation(format!(
            "A resource can have at most {MAX_TAGS} tags; this would make {}.",
            tags.len()
        )));
    }
    Ok(())
}
