//! The `/_local/` admin API: health, the service clock, reset, and the stream URL pages that
//! stand in for an end user's browser. JSON bodies, camelCase keys.

use crate::ops::urls::{self, Activation};
use crate::ops::Service;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
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
        .route("/_local/streamurls/{id}", get(open_stream_url))
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

#[derive(Deserialize)]
struct UrlQuery {
    #[serde(default)]
    token: String,
}

fn page(status: StatusCode, title: &str, body: &str) -> (StatusCode, Html<String>) {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><h1>{title}</h1>{body}<p><small>gameliftstreams-local</small></p></body></html>"
        )),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What an end user's browser sees when it opens a stream URL: one use is spent and a
/// session starts, exactly as through StartStreamSession; or a page saying why not.
async fn open_stream_url(
    State(s): State<Arc<Service>>,
    Path(id): Path<String>,
    Query(q): Query<UrlQuery>,
    headers: axum::http::HeaderMap,
) -> (StatusCode, Html<String>) {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let result = tokio::task::spawn_blocking(move || {
        let located = s.store.read(|tx| urls::locate(tx, &id))?;
        match located {
            Some((scope, token)) if token == q.token => s
                .write_as(&scope, &host, |ctx, tx| urls::activate(ctx, tx, &id))
                .map(Some),
            _ => Ok(None),
        }
    })
    .await;
    match result {
        Ok(Ok(Some(Activation::Started(doc)))) => {
            let arn = escape(&doc.arn.unwrap_or_default());
            let status = doc.status.unwrap_or_default().as_str();
            page(
                StatusCode::OK,
                "Your stream is starting",
                &format!(
                    "<p>Stream session <code id=\"arn\">{arn}</code></p><p>Status: <b id=\"status\">{status}</b></p>"
                ),
            )
        }
        Ok(Ok(Some(Activation::Refused(why)))) => page(
            StatusCode::FORBIDDEN,
            "This stream is not available",
            &format!("<p id=\"reason\">{}</p>", escape(&why)),
        ),
        Ok(Ok(None)) => page(
            StatusCode::NOT_FOUND,
            "Unknown stream link",
            "<p>This stream link is not valid.</p>",
        ),
        Ok(Err(e)) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            &format!("<p>{}</p>", escape(&e.message)),
        ),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            &format!("<p>{}</p>", escape(&e.to_string())),
        ),
    }
}
