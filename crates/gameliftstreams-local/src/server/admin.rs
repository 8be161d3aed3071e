//! The `/_local/` admin API: health, the service clock, reset, client and application events,
//! fault injection, and the stream URL pages that stand in for an end user's browser. JSON
//! bodies, camelCase keys.

use crate::domain::session::Event;
use crate::ops::engine;
use crate::ops::urls::{self, Activation};
use crate::ops::Service;
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

type Reply = (StatusCode, Json<Value>);

pub(super) fn routes() -> Router<Arc<Service>> {
    Router::new()
        .route("/_local/health", get(health))
        .route("/_local/clock", get(clock).post(advance))
        .route("/_local/reset", post(reset))
        .route("/_local/streamurls/{id}", get(open_stream_url))
        .route("/_local/sessions/{session}/events", post(session_event))
        .route("/_local/faults", post(fault))
}

/// Run store work off the runtime; a panicked task is an internal error like any other.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::domain::ApiError> + Send + 'static,
) -> Result<T, crate::domain::ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(crate::domain::ApiError::internal(e)))
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
    match blocking(move || s.advance_clock(req.advance_seconds)).await {
        Ok(now) => (StatusCode::OK, Json(json!({ "now": secs(now.millis()) }))),
        Err(e) => failed(e),
    }
}

async fn reset(State(s): State<Arc<Service>>) -> Reply {
    match blocking(move || s.reset()).await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "reset" }))),
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
    let result = blocking(move || {
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

fn reply(status: StatusCode, body: Value) -> Reply {
    (status, Json(body))
}

fn session_json(doc: &gls_model::GetStreamSessionOutput) -> Value {
    json!({
        "arn": doc.arn,
        "status": doc.status.map(|s| s.as_str()),
        "statusReason": doc.status_reason.map(|s| s.as_str()),
    })
}

/// `POST /_local/sessions/{session}/events`: what a WebRTC client or the game process would do.
async fn session_event(
    State(s): State<Arc<Service>>,
    Path(ident): Path<String>,
    extensions: axum::http::Extensions,
    body: axum::body::Bytes,
) -> Reply {
    let caller = extensions.get::<Caller>().cloned();
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
    let result = blocking(move || {
        s.write_engine(
            |tx, settings, now| match owned(tx, caller.as_ref(), engine::locate_session(tx, &ident)?)? {
                None => Ok(None),
                Some((part, id)) => engine::session_event(tx, settings, part, &id, event, now).map(Some),
            },
        )
    })
    .await;
    match result {
        Ok(Some(Ok(doc))) => reply(StatusCode::OK, session_json(&doc)),
        Ok(Some(Err(refusal))) => reply(StatusCode::CONFLICT, json!({ "error": refusal.message() })),
        Ok(None) => reply(StatusCode::NOT_FOUND, json!({ "error": "no such stream session" })),
        Err(e) if e.code == gls_model::ErrorCode::ResourceNotFoundException => {
            reply(StatusCode::NOT_FOUND, json!({ "error": e.message }))
        }
        Err(e) => failed(e),
    }
}

/// In strict mode a signed caller reaches only its own account and region's resources.
fn owned(
    tx: &rusqlite::Transaction<'_>,
    caller: Option<&Caller>,
    found: Option<(i64, String)>,
) -> Result<Option<(i64, String)>, crate::domain::ApiError> {
    match (caller, found) {
        (Some(c), Some((part, id))) => {
            let mine = crate::store::part_in(tx, &c.account, &c.region)?;
            Ok((mine == part).then_some((part, id)))
        }
        (_, found) => Ok(found),
    }
}

fn fault_id() -> String {
    let b: [u8; 8] = rand::random();
    format!("fault-{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// `POST /_local/faults`: inject one failure (body shapes in DESIGN.md and the README).
async fn fault(
    State(s): State<Arc<Service>>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    body: axum::body::Bytes,
) -> Reply {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("expected a JSON object: {e}")),
    };
    let caller = extensions.get::<Caller>().cloned();
    let text = |k: &str| req.get(k).and_then(Value::as_str).map(str::to_string);
    let count = req
        .get("count")
        .and_then(Value::as_u64)
        .map(|n| n.min(u64::from(u32::MAX)) as u32)
        .unwrap_or(1);
    let id = fault_id();
    let ok = |id: String| reply(StatusCode::OK, json!({ "faultId": id }));
    match text("target").as_deref() {
        Some("operation") => {
            let Some(op) = text("operation").filter(|o| Op::ALL.iter().any(|x| x.name() == o)) else {
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
            s.settings
                .faults
                .fail_operation(&scope.account, &scope.region, &op, code, count);
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
            let result = blocking(move || {
                s.write_engine(|tx, settings, now| {
                    match owned(tx, caller.as_ref(), engine::locate_session(tx, &ident)?)? {
                        None => Ok(None),
                        Some((part, sid)) => {
                            engine::session_event(tx, settings, part, &sid, Event::Fault(reason), now).map(Some)
                        }
                    }
                })
            })
            .await;
            match result {
                Ok(Some(Ok(_))) => ok(id),
                Ok(Some(Err(refusal))) => reply(StatusCode::CONFLICT, json!({ "error": refusal.message() })),
                Ok(None) => reply(StatusCode::NOT_FOUND, json!({ "error": "no such stream session" })),
                Err(e) => failed(e),
            }
        }
        Some("export") => {
            let (Some(ident), Some(reason)) = (text("session"), text("reason")) else {
                return bad_request("\"session\" and \"reason\" are required");
            };
            let result = blocking(move || {
                s.write_engine(
                    |tx, _, _| match owned(tx, caller.as_ref(), engine::locate_session(tx, &ident)?)? {
                        None => Ok(false),
                        Some((part, sid)) => engine::fail_export(tx, part, &sid, &reason),
                    },
                )
            })
            .await;
            match result {
                Ok(true) => ok(id),
                Ok(false) => reply(StatusCode::NOT_FOUND, json!({ "error": "no such stream session" })),
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
                s.write_engine(|tx, settings, now| {
                    let Some((part, gid)) = owned(tx, caller.as_ref(), engine::locate_group(tx, &group)?)? else {
                        return Ok(false);
                    };
                    if placement {
                        settings.faults.fail_placements(part, &gid, &location, count);
                        Ok(true)
                    } else {
                        engine::fail_location(tx, part, &gid, &location, now)
                    }
                })
            })
            .await;
            match result {
                Ok(true) => ok(id),
                Ok(false) => reply(
                    StatusCode::NOT_FOUND,
                    json!({ "error": "no such stream group or location" }),
                ),
                Err(e) => failed(e),
            }
        }
        _ => bad_request("\"target\" must be operation, session, export, location or placement"),
    }
}
