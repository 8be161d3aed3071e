//! The `/_local/` routes of real streams: the protocol script at every session's
//! `webSdkProtocolUrl`, the play page that streams a session in any browser, the
//! application messages between the game and the page, and the session's application
//! process as the host runs it.

use super::admin::{bad_request, blocking, failed, not_found, owner, reply, Reply};
use super::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_local/webrtc/{name}", get(protocol_script))
        .route("/_local/play/{session}", get(play_page))
        .route("/_local/play/{session}/connect", post(connect))
        .route("/_local/sessions/{session}/messages", get(messages).post(send_message))
        .route("/_local/sessions/{session}/stream", get(stream_info))
        .route("/_local/sessions/{session}/app", get(app_info))
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The protocol script: any name under `/_local/webrtc/` (sessions name theirs by group), with
/// CORS, since the Web SDK loads it with `crossorigin` from the game's own origin.
async fn protocol_script(Path(_name): Path<String>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        crate::stream::PROTOCOL_SCRIPT,
    )
        .into_response()
}

/// A page that streams the session (named by ID or ARN) in the browser that opens it. In
/// strict mode the request for the page is signed (a presigned URL, in a browser) and the page
/// gets the session's play token, with which its connect request needs no signature.
async fn play_page(
    State(s): State<Arc<AppState>>,
    Path(session): Path<String>,
    extensions: axum::http::Extensions,
) -> Response {
    let id = match session_id(&s, &extensions, session.clone()).await {
        Ok(id) => id,
        Err(reply) => return reply.into_response(),
    };
    let query = if s.verifier.is_some() {
        format!("?token={}", s.service.play_token(&id))
    } else {
        String::new()
    };
    let path = percent_encoding::utf8_percent_encode(&session, percent_encoding::NON_ALPHANUMERIC).to_string();
    let html = crate::stream::PLAY_PAGE
        .replace("{{SESSION_PATH}}", &path)
        .replace("{{CONNECT_QUERY}}", &query)
        .replace("{{SESSION}}", &super::admin::escape(&session));
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connect {
    signal_request: String,
}

#[derive(Deserialize)]
struct PlayToken {
    token: Option<String>,
}

/// The play page's offer: the same path as CreateStreamSessionConnection. In strict mode,
/// signed by the owner or carrying the session's play token.
async fn connect(
    State(s): State<Arc<AppState>>,
    Path(session): Path<String>,
    Query(query): Query<PlayToken>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    body: axum::body::Bytes,
) -> Reply {
    let Ok(req) = serde_json::from_slice::<Connect>(&body) else {
        return bad_request("expected {\"signalRequest\": \"...\"}");
    };
    let signed = extensions.get::<super::sigv4::Caller>().is_some();
    let id = match session_id(&s, &extensions, session).await {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    if s.verifier.is_some() && !signed && !query.token.is_some_and(|t| s.service.is_play_token(&id, &t)) {
        return reply(
            StatusCode::FORBIDDEN,
            json!({ "error": "strict mode: sign this request or open the play page with a signed (presigned) URL" }),
        );
    }
    let svc = s.service.clone();
    match blocking(move || svc.connect_client(None, &id, &req.signal_request)).await {
        Ok(None) => not_found("stream session"),
        Ok(Some(Ok(Some(answer)))) => {
            let answer = crate::domain::signal::rehost_answer(&answer, &super::request_host(&headers));
            reply(StatusCode::OK, json!({ "signalResponse": answer }))
        }
        Ok(Some(Ok(None))) => bad_request("the offer is not usable: the session ended ERROR/invalidSignalRequest"),
        Ok(Some(Err(status))) => reply(
            StatusCode::CONFLICT,
            json!({ "error": format!("the session is {}; waiting until it takes a connection", status.as_str()), "status": status.as_str() }),
        ),
        Err(e) => failed(e),
    }
}

/// The session id behind an ID or ARN, for this caller; `Err` is the reply to give.
async fn session_id(s: &Arc<AppState>, extensions: &axum::http::Extensions, ident: String) -> Result<String, Reply> {
    let owner = owner(extensions);
    let svc = s.service.clone();
    match blocking(move || svc.locate_session(owner.as_ref(), &ident)).await {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(not_found("stream session")),
        Err(e) => Err(failed(e)),
    }
}

/// `GET /_local/sessions/{session}/messages`: what the page sent to the application
/// (`messages`) and what went to the page, from the game or the admin API (`toPage`).
async fn messages(
    State(s): State<Arc<AppState>>,
    Path(ident): Path<String>,
    extensions: axum::http::Extensions,
) -> Reply {
    let id = match session_id(&s, &extensions, ident).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let listed = |got: Vec<crate::stream::Received>| -> Vec<Value> {
        got.iter()
            .map(|m| json!({ "data": b64().encode(&m.data), "receivedAt": m.at as f64 / 1000.0 }))
            .collect()
    };
    let (received, sent) = match s.streams.as_ref() {
        Some(h) => (h.received(&id), h.sent(&id)),
        None => Default::default(),
    };
    reply(
        StatusCode::OK,
        json!({ "messages": listed(received), "toPage": listed(sent) }),
    )
}

#[derive(Deserialize)]
struct Outgoing {
    data: String,
    /// `page` (the default: what the application would send) or `application` (what the page
    /// would send: to the session's game, queued until it connects).
    #[serde(default)]
    to: Option<String>,
}

/// `POST /_local/sessions/{session}/messages {"data": "<base64>"}`: a message from the
/// application to the page; 409 when no client is connected. With `"to": "application"`, a
/// message from the page to the session's game instead (queued until the game connects; 409
/// when the session runs no game).
async fn send_message(
    State(s): State<Arc<AppState>>,
    Path(ident): Path<String>,
    extensions: axum::http::Extensions,
    body: axum::body::Bytes,
) -> Reply {
    let parsed = serde_json::from_slice::<Outgoing>(&body).ok();
    let to_game = match parsed.as_ref().and_then(|o| o.to.as_deref()) {
        None | Some("page") => false,
        Some("application") => true,
        Some(_) => return bad_request("\"to\" must be page or application"),
    };
    let Some(data) = parsed.and_then(|o| b64().decode(o.data).ok()) else {
        return bad_request("expected {\"data\": \"<base64>\"}");
    };
    let id = match session_id(&s, &extensions, ident).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    if to_game {
        let service = s.service.clone();
        let runs =
            blocking(move || Ok::<_, crate::domain::ApiError>(service.apps().is_some_and(|a| a.to_game(&id, &data))))
                .await;
        return match runs {
            Ok(true) => reply(StatusCode::OK, json!({ "delivered": true })),
            Ok(false) => reply(
                StatusCode::CONFLICT,
                json!({ "error": "this stream session runs no application" }),
            ),
            Err(e) => failed(e),
        };
    }
    match s.streams.as_ref().map(|h| h.deliver(&id, data)) {
        Some(Ok(())) => reply(StatusCode::OK, json!({ "delivered": true })),
        _ => reply(
            StatusCode::CONFLICT,
            json!({ "error": "no client is connected to this stream session" }),
        ),
    }
}

/// `GET /_local/sessions/{session}/stream`: the stream as the server sees it.
async fn stream_info(
    State(s): State<Arc<AppState>>,
    Path(ident): Path<String>,
    extensions: axum::http::Extensions,
) -> Reply {
    let id = match session_id(&s, &extensions, ident).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let info = s.streams.as_ref().map(|h| h.info(&id)).unwrap_or_default();
    (StatusCode::OK, Json(serde_json::to_value(info).unwrap_or_default()))
}

/// `GET /_local/sessions/{session}/app`: the session's application process (state, pid,
/// display, CPU, memory, exit code, the last lines of its log), or why it runs none.
async fn app_info(
    State(s): State<Arc<AppState>>,
    Path(ident): Path<String>,
    extensions: axum::http::Extensions,
) -> Reply {
    let id = match session_id(&s, &extensions, ident).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let info = match &s.host {
        Some(host) => {
            let host = host.clone();
            match blocking(move || Ok::<_, crate::domain::ApiError>(host.app_info(&id))).await {
                Ok(info) => info,
                Err(e) => return failed(e),
            }
        }
        None => crate::host::AppInfo {
            reason: Some("this server runs no applications".into()),
            ..Default::default()
        },
    };
    (StatusCode::OK, Json(serde_json::to_value(info).unwrap_or_default()))
}
