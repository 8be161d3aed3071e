//! The request guard, before any route: target, header and body limits answered in the AWS
//! error shape (JSON `message`, `x-amzn-ErrorType`), the body read within its time limit, and
//! in strict mode an unsigned request refused before its body is read.

use super::{protocol, request_id, sigv4, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Response};
use axum::middleware::Next;
use std::sync::Arc;

/// The largest request body (every input of the model fits in far less).
pub const MAX_BODY: usize = 2 << 20;
/// The longest request target (path and query).
pub const MAX_TARGET: usize = 16 << 10;
/// The most header bytes (names and values) and header lines.
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// See [`MAX_HEADER_BYTES`].
pub const MAX_HEADERS: usize = 200;

fn refuse(status: u16, code: &'static str, message: String) -> Response<Body> {
    let e = sigv4::AuthError { status, code, message };
    let mut response = protocol::auth_error(&e, &request_id());
    if status == 408 || status == 413 {
        // The rest of the body is not read: the connection cannot carry another request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The guard as a middleware over every route.
pub(super) async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response<Body> {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_TARGET {
        return refuse(
            414,
            "RequestURITooLongException",
            format!("The request target is longer than {MAX_TARGET} bytes."),
        );
    }
    let headers = request.headers();
    let header_bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return refuse(
            431,
            "RequestHeaderFieldsTooLargeException",
            format!("The request has more than {MAX_HEADERS} headers or {MAX_HEADER_BYTES} bytes of them."),
        );
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return refuse(
            413,
            "RequestEntityTooLargeException",
            format!("The request body is larger than {MAX_BODY} bytes."),
        );
    }
    if state.verifier.is_some()
        && !super::is_open(request.method(), request.uri().path())
        && !sigv4::is_signed(request.headers(), request.uri().query())
    {
        let e = sigv4::missing_signature();
        return protocol::auth_error(&e, &request_id());
    }
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(state.limits.body_read, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            // axum reports the limit only in its text.
            let too_large = e.to_string().contains("length limit");
            return if too_large {
                refuse(
                    413,
                    "RequestEntityTooLargeException",
                    format!("The request body is larger than {MAX_BODY} bytes."),
                )
            } else {
                refuse(
                    400,
                    "SerializationException",
                    "The request body could not be read.".into(),
                )
            };
        }
        Err(_) => {
            return refuse(
                408,
                "RequestTimeoutException",
                format!(
                    "The request body did not arrive within {} ms.",
                    state.limits.body_read.as_millis()
                ),
            )
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
