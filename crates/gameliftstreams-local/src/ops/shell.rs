//! CreateStreamSessionAdminShell and ListApplicationShaderCaches.

use super::{applications, sessions, Ctx};
use crate::domain::ApiError;
use gls_model::{
    CreateStreamSessionAdminShellInput, CreateStreamSessionAdminShellOutput, ErrorCode,
    ListApplicationShaderCachesInput, ListApplicationShaderCachesOutput, StreamSessionStatus,
};
use rand::Rng;
use rusqlite::Transaction;

fn hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| format!("{:x}", rng.random_range(0..16u8))).collect()
}

pub(super) fn create_admin_shell(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: CreateStreamSessionAdminShellInput,
) -> Result<CreateStreamSessionAdminShellOutput, ApiError> {
    let row = sessions::load(ctx, tx, &input.identifier, &input.stream_session_identifier)?;
    use StreamSessionStatus::*;
    match row.doc.status.unwrap_or_default() {
        Active | Connected | PendingClientReconnection | Reconnecting => {}
        Activating => {
            return Err(ApiError::new(
                ErrorCode::StreamSessionAccessNotReadyException,
                format!(
                    "Stream session {} is still activating; its admin shell is not ready. Try again shortly.",
                    row.id
                ),
            ))
        }
        other => {
            return Err(ApiError::validation(format!(
                "Stream session {} is {}; an admin shell needs a running session.",
                row.id,
                other.as_str()
            )))
        }
    }
    let session_id = format!("gls-{}", hex(16));
    Ok(CreateStreamSessionAdminShellOutput {
        stream_url: Some(format!(
            "wss://ssmmessages.{}.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe",
            ctx.scope.region
        )),
        session_id: Some(session_id),
        token_value: Some(hex(64)),
    })
}

pub(super) fn list_shader_caches(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    input: ListApplicationShaderCachesInput,
) -> Result<ListApplicationShaderCachesOutput, ApiError> {
    applications::load(ctx, tx, &input.identifier)?;
    // No operation of the API creates a shader cache; an application starts with none.
    Ok(ListApplicationShaderCachesOutput {
        items: Some(Vec::new()),
    })
}
