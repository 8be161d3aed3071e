//! CreateStreamSessionAdminShell and ListApplicationShaderCaches.

use crate::domain::ids::random_hex;
use crate::domain::session;
use crate::domain::ApiError;
use crate::ops::engine::resources;
use crate::ops::Ctx;
use crate::store::Tx;
use gls_model::{
    CreateStreamSessionAdminShellInput, CreateStreamSessionAdminShellOutput, ErrorCode,
    ListApplicationShaderCachesInput, ListApplicationShaderCachesOutput, StreamSessionStatus,
};

pub(crate) fn create_admin_shell(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: CreateStreamSessionAdminShellInput,
) -> Result<CreateStreamSessionAdminShellOutput, ApiError> {
    let row = resources::session(ctx, tx, &input.identifier, &input.stream_session_identifier)?;
    let status = row.doc.status.unwrap_or_default();
    if status == StreamSessionStatus::Activating {
        return Err(ApiError::new(
            ErrorCode::StreamSessionAccessNotReadyException,
            format!(
                "Stream session {} is still activating; its admin shell is not ready. Try again shortly.",
                row.id
            ),
        ));
    }
    if !session::is_running(status) {
        return Err(ApiError::validation(format!(
            "Stream session {} is {}; an admin shell needs a running session.",
            row.id,
            status.as_str()
        )));
    }
    let session_id = format!("gls-{}", random_hex(16));
    Ok(CreateStreamSessionAdminShellOutput {
        stream_url: Some(format!(
            "wss://ssmmessages.{}.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe",
            ctx.scope.region
        )),
        session_id: Some(session_id),
        token_value: Some(random_hex(64)),
    })
}

pub(crate) fn list_shader_caches(
    ctx: &Ctx<'_>,
    tx: &dyn Tx,
    input: ListApplicationShaderCachesInput,
) -> Result<ListApplicationShaderCachesOutput, ApiError> {
    resources::app(ctx, tx, &input.identifier)?;
    // No operation of the API creates a shader cache; an application starts with none.
    Ok(ListApplicationShaderCachesOutput {
        items: Some(Vec::new()),
    })
}
