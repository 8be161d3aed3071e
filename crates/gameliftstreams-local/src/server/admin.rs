//! The `/_local/` admin API: health, the service clock, and reset. JSON bodies, camelCase keys.

use crate::ops::Service;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Reply = (StatusCode, Json<Value>);

pub(super) fn routes() -> Router<Arc<Service>> {
    Router::new()
        .route("/_local/health", get(health))
        .route("/_local/clock", get(clock).post(advance))
        .route("/_local/reset", post(reset))
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn failed(e: impl std::fmt::Display) -> Reply {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": e.to_string() })),
    )
}

fn bad_request(msg: impl Into<String>) -> Reply {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg.into() })))
}

async fn health(State(s): State<Arc<Service>>) -> Reply {
    (
        StatusCode::OK,
        Json(json!({
            "status": "ok",
            "service": "gameliftstreams-local",
            "version": env!("CARGO_PKG_VERSION"),
            "apiVersion": gls_model::API_VERSION,
            "now": secs(s.clock.now().millis()),
        })),
    )
}

async fn clock(State(s): State<Arc<Service>>) -> Reply {
    (
        StatusCode::OK,
        Json(json!({ "now": secs(s.clock.now().millis()), "offsetSeconds": secs(s.clock.offset_ms()) })),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Advance {
    advance_seconds: i64,
}

async fn advance(State(s): State<Arc<Service>>, body: axum::body::Bytes) -> Reply {
    let req: Advance = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("expected {{\"advanceSeconds\": N}}: {e}")),
    };
    if req.advance_seconds < 0 {
        return bad_request("advanceSeconds must not be negative: the service clock only moves forward");
    }
    match tokio::task::spawn_blocking(move || s.advance_clock(req.advance_seconds)).await {
        Ok(Ok(now)) => (StatusCode::OK, Json(json!({ "now": secs(now.millis()) }))),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}

async fn reset(State(s): State<Arc<Service>>) -> Reply {
    match tokio::task::spawn_blocking(move || s.reset()).await {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({ "status": "reset" }))),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(e),
    }
}
