//! The `/_local/` admin API: health, the service clock, reset, client and application events,
//! fault injection, and the stream URL pages that stand in for an end user's browser. JSON
//! bodies, camelCase keys.

use super::AppState;
use crate::domain::ids::{random_hex, Scope};
use crate::domain::session::Event;
use crate::ops::api::admin::Outcome;
use crate::ops::engine::faults::PendingFault;
use crate::ops::engine::urls::Activation;
use crate::server::sigv4::Caller;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use gls_model::{ErrorCode, Op, StreamSessionStatusReason};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) type Reply = (StatusCode, Json<Value>);

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_local/health", get(health))
        .route("/_local/metrics", get(metrics))
        .route("/_local/clock", get(clock).post(advance))
        .route("/_local/reset", post(reset))
        .route("/_local/streamurls/{id}", get(open_stream_url).head(peek_stream_url))
        .route("/_local/sessions/{session}/events", post(session_event))
        .route("/_local/faults", post(fault).get(list_faults).delete(clear_faults))
        .merge(super::streams::routes())
}

/// Run store work off the runtime; a panicked task is an internal error like any other.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::domain::ApiError> + Send + 'static,
) -> Result<T, crate::domain::ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(crate::domain::ApiError::internal(e)))
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

pub(super) fn failed(e: impl std::fmt::Display) -> Reply {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": e.to_string() })),
    )
}

pub(super) fn bad_request(msg: impl Into<String>) -> Reply {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg.into() })))
}

async fn health(State(state): State<Arc<AppState>>) -> Reply {
    let s = state.service.clone();
    match blocking(move || s.health()).await {
        Ok(h) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "service": "gameliftstreams-local",
                "version": env!("CARGO_PKG_VERSION"),
                "apiVersion": gls_model::API_VERSION,
                "now": secs(h.now.millis()),
                "clock": h.clock,
                "deadLetters": h.dead_letters,
                "pendingExports": h.pending_exports,
                "settings": state.settings(),
            })),
        ),
        Err(e) => failed(e),
    }
}

/// `GET /_local/metrics`: the Prometheus (OpenMetrics) text format.
async fn metrics(State(state): State<Arc<AppState>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let s = state.service.clone();
    let gauges = match blocking(move || s.gauges()).await {
        Ok(g) => g,
        Err(e) => return failed(e).into_response(),
    };
    let snapshot = super::metrics::Snapshot {
        sessions: gauges.sessions.iter().map(|(st, n)| (st.as_str(), *n)).collect(),
        timers_pending: gauges.pending_timers,
        timers_dead: gauges.health.dead_letters,
        export_jobs: gauges.health.pending_exports,
        open_streams: state.streams.as_ref().map_or(0, |h| h.open_streams()),
    };
    match state.metrics.render(&snapshot) {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => failed(e).into_response(),
    }
}

async fn clock(State(s): State<Arc<AppState>>) -> Reply {
    let svc = &s.service;
    (
        StatusCode::OK,
        Json(json!({
            "now": secs(svc.now().millis()),
            "offsetSeconds": secs(svc.clock_offset_ms()),
            "clock": svc.clock_kind(),
        })),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Advance {
    advance_seconds: serde_json::Number,
}

/// `POST /_local/clock {"advanceSeconds": N}`: N must be an integer number of seconds in
/// 0..=315,360,000 that keeps the clock at or before 9999-12-31T23:59:59Z; else 400 and
/// nothing changes.
async fn advance(State(s): State<Arc<AppState>>, body: axum::body::Bytes) -> Reply {
    let req: Advance = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("expected {{\"advanceSeconds\": N}}: {e}")),
    };
    let Some(seconds) = req.advance_seconds.as_i64() else {
        return bad_request(format!(
            "advanceSeconds must be an integer from 0 to {}; got {}",
            crate::clock::MAX_ADVANCE_SECONDS,
            req.advance_seconds
        ));
    };
    let s = s.service.clone();
    match blocking(move || s.advance_clock(seconds)).await {
        Ok(Ok(now)) => (StatusCode::OK, Json(json!({ "now": secs(now.millis()) }))),
        Ok(Err(refused)) => bad_request(refused.to_string()),
        Err(e) => failed(e),
    }
}

/// `POST /_local/reset`: everything in default mode and for a strict-mode key marked
/// `admin = true`; only the signer's account and region for any other key.
async fn reset(State(s): State<Arc<AppState>>, extensions: axum::http::Extensions) -> Reply {
    let svc = s.service.clone();
    match limited_scope(&extensions) {
        Some(scope) => {
            let (account, region) = (scope.account.clone(), scope.region.clone());
            match blocking(move || svc.reset_scope(&scope)).await {
                Ok(()) => reply(
                    StatusCode::OK,
                    json!({ "status": "reset", "account": account, "region": region }),
                ),
                Err(e) => failed(e),
            }
        }
        None => match blocking(move || svc.reset()).await {
            Ok(()) => reply(StatusCode::OK, json!({ "status": "reset" })),
            Err(e) => failed(e),
        },
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

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `HEAD` on a stream URL (link previews, checkers): it spends nothing and starts nothing.
async fn peek_stream_url() -> (StatusCode, [(axum::http::HeaderName, &'static str); 2]) {
    (
        StatusCode::OK,
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
    )
}

/// What an end user's browser sees when it opens a stream URL: one use is spent and a
/// session starts, exactly as through StartStreamSession; or a page saying why not.
async fn open_stream_url(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<UrlQuery>,
    headers: axum::http::HeaderMap,
) -> (StatusCode, Html<String>) {
    let host = super::request_host(&headers);
    let s = s.service.clone();
    let result = blocking(move || s.open_stream_url(&id, &q.token, &host)).await;
    match result {
        Ok(Some(Activation::Started(doc))) => {
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
        Ok(Some(Activation::Refused(why))) => page(
            StatusCode::FORBIDDEN,
            "This stream is not available",
            &format!("<p id=\"reason\">{}</p>", escape(&why)),
        ),
        Ok(None) => page(
            StatusCode::NOT_FOUND,
            "Unknown stream link",
            "<p>This stream link is not valid.</p>",
        ),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            &format!("<p>{}</p>", escape(&e.message)),
        ),
    }
}

pub(super) fn reply(status: StatusCode, body: Value) -> Reply {
    (status, Json(body))
}

fn session_json(doc: &gls_model::GetStreamSessionOutput) -> Value {
    json!({
        "arn": doc.arn,
        "status": doc.status.map(|s| s.as_str()),
        "statusReason": doc.status_reason.map(|s| s.as_str()),
    })
}

/// The signed caller's partition in strict mode: the admin API reaches only its resources.
pub(super) fn owner(extensions: &axum::http::Extensions) -> Option<Scope> {
    extensions
        .get::<Caller>()
        .map(|c| Scope::new(c.account.clone(), c.region.clone()))
}

/// What a caller's service-wide admin requests (reset, faults, partitions, counts) are limited
/// to: nothing in default mode or for a strict-mode key marked `admin = true` (`None`), else
/// the signer's own account and region.
pub(super) fn limited_scope(extensions: &axum::http::Extensions) -> Option<Scope> {
    extensions
        .get::<Caller>()
        .filter(|c| !c.admin)
        .map(|c| Scope::new(c.account.clone(), c.region.clone()))
}

fn outcome_reply(
    result: Result<Outcome, crate::domain::ApiError>,
    ok: impl FnOnce(&gls_model::GetStreamSessionOutput) -> Reply,
) -> Reply {
    match result {
        Ok(Outcome::Applied(doc)) => ok(&doc),
        Ok(Outcome::Refused(refusal)) => reply(StatusCode::CONFLICT, json!({ "error": refusal.message() })),
        Ok(Outcome::NotFound) => reply(StatusCode::NOT_FOUND, json!({ "error": "no such stream session" })),
        Err(e) => failed(e),
    }
}

/// `POST /_local/sessions/{session}/events`: what a WebRTC client or the game process would do.
async fn session_event(
    State(s): State<Arc<AppState>>,
    Path(ident): Path<String>,
    extensions: axum::http::Extensions,
    body: axum::body::Bytes,
) -> Reply {
    let owner = owner(&extensions);
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("expected a JSON object: {e}")),
    };
    let event = match req.get("event").and_then(Value::as_str) {
        Some("clientConnected") => Event::ClientConnected,
        Some("clientDisconnected") => Event::ClientDisconnected,
        Some("userInput") => Event::UserInput,
        Some("applicationExited") => {
            let code = req.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
            Event::ApplicationExited(i32::try_from(code).unwrap_or(i32::MAX))
        }
        _ => {
            return bad_request("\"event\" must be clientConnected, clientDisconnected, userInput or applicationExited")
        }
    };
    let s = s.service.clone();
    let result = blocking(move || s.session_event(owner.as_ref(), &ident, event)).await;
    outcome_reply(result, |doc| reply(StatusCode::OK, session_json(doc)))
}

fn fault_id() -> String {
    format!("fault-{}", random_hex(16))
}

pub(super) fn not_found(what: &str) -> Reply {
    reply(StatusCode::NOT_FOUND, json!({ "error": format!("no such {what}") }))
}

/// `GET /_local/faults`: the injected failures still pending (operation and placement faults;
/// the others act at once) → `{"faults": [{"target", "account", "region", ..., "remaining"}]}`.
async fn list_faults(State(s): State<Arc<AppState>>, extensions: axum::http::Extensions) -> Reply {
    let owner = limited_scope(&extensions);
    let svc = s.service.clone();
    match blocking(move || svc.pending_faults(owner.as_ref())).await {
        Ok(list) => {
            let faults: Vec<Value> = list
                .into_iter()
                .map(|(account, region, f)| match f {
                    PendingFault::Operation {
                        operation,
                        error,
                        remaining,
                        ..
                    } => json!({
                        "target": "operation", "account": account, "region": region,
                        "operation": operation, "error": error.as_str(), "remaining": remaining,
                    }),
                    PendingFault::Placement {
                        group,
                        location,
                        remaining,
                        ..
                    } => json!({
                        "target": "placement", "account": account, "region": region,
                        "streamGroup": group, "location": location, "remaining": remaining,
                    }),
                })
                .collect();
            reply(StatusCode::OK, json!({ "faults": faults }))
        }
        Err(e) => failed(e),
    }
}

/// `DELETE /_local/faults`: forget the pending injected failures (a strict-mode key without
/// `admin = true`: only its own account and region's).
async fn clear_faults(State(s): State<Arc<AppState>>, extensions: axum::http::Extensions) -> Reply {
    let owner = limited_scope(&extensions);
    let svc = s.service.clone();
    match blocking(move || svc.clear_faults(owner.as_ref())).await {
        Ok(()) => reply(StatusCode::OK, json!({ "status": "cleared" })),
        Err(e) => failed(e),
    }
}

/// `POST /_local/faults`: inject one failure (body shapes in DESIGN.md and the README).
async fn fault(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    body: axum::body::Bytes,
) -> Reply {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("expected a JSON object: {e}")),
    };
    let owner = owner(&extensions);
    let text = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_string);
    let count = req
        .get("count")
        .and_then(Value::as_u64)
        .map(|n| n.min(u64::from(u32::MAX)) as u32)
        .unwrap_or(1);
    let id = fault_id();
    let ok = |id: String| reply(StatusCode::OK, json!({ "faultId": id }));
    let s = s.service.clone();
    match text("target").as_deref() {
        Some("operation") => {
            let Some(op) = text("operation").and_then(|o| Op::ALL.into_iter().find(|x| x.name() == o)) else {
                return bad_request("\"operation\" must name an operation of the API");
            };
            let code = match text("error").as_deref() {
                Some("ThrottlingException") => ErrorCode::ThrottlingException,
                Some("InternalServerException") => ErrorCode::InternalServerException,
                _ => return bad_request("\"error\" must be ThrottlingException or InternalServerException"),
            };
            if count == 0 {
                return bad_request("\"count\" must be at least 1");
            }
            let scope = crate::server::caller_scope(&extensions, &headers, &[]);
            s.fail_operation(&scope, op, code, count);
            ok(id)
        }
        Some("session") => {
            let (Some(ident), Some(reason)) = (text("session"), text("statusReason")) else {
                return bad_request("\"session\" and \"statusReason\" are required");
            };
            use StreamSessionStatusReason as R;
            let reason = match R::parse(&reason) {
                Some(r @ (R::InternalError | R::InvalidSignalRequest | R::ApplicationLogS3DestinationError | R::AssumeRoleFailed)) => r,
                _ => {
                    return bad_request(
                        "\"statusReason\" must be internalError, invalidSignalRequest, applicationLogS3DestinationError or assumeRoleFailed",
                    )
                }
            };
            let result = blocking(move || s.fault_session(owner.as_ref(), &ident, reason)).await;
            outcome_reply(result, |_| ok(id))
        }
        Some("export") => {
            let (Some(ident), Some(reason)) = (text("session"), text("reason")) else {
                return bad_request("\"session\" and \"reason\" are required");
            };
            match blocking(move || s.fail_export(owner.as_ref(), &ident, &reason)).await {
                Ok(true) => ok(id),
                Ok(false) => not_found("stream session"),
                Err(e) => failed(e),
            }
        }
        Some(target @ ("location" | "placement")) => {
            let (Some(group), Some(location)) = (text("streamGroup"), text("location")) else {
                return bad_request("\"streamGroup\" and \"location\" are required");
            };
            let placement = target == "placement";
            if placement && count == 0 {
                return bad_request("\"count\" must be at least 1");
            }
            let result = blocking(move || {
                if placement {
                    s.fail_placements(owner.as_ref(), &group, &location, count)
                } else {
                    s.fail_location(owner.as_ref(), &group, &location)
                }
            })
            .await;
            match result {
                Ok(true) => ok(id),
                Ok(false) => not_found("stream group or location"),
                Err(e) => failed(e),
            }
        }
        _ => bad_request("\"target\" must be operation, session, export, location or placement"),
    }
}
