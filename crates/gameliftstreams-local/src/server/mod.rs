//! The HTTP face of the service: the AWS routes (restJson1), the `/_local/` admin API and the
//! scheduler task that fires timed transitions. The caller binds the socket.

mod admin;
pub mod protocol;

use crate::ops::Service;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The router: admin API under `/_local/`, everything else is the AWS API.
pub fn app(service: Arc<Service>) -> Router {
    admin::routes().fallback(aws).with_state(service)
}

fn request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

async fn aws(
    State(service): State<Arc<Service>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let rid = request_id();
    let query = protocol::query_pairs(uri.query());
    let matched = match protocol::route(method.as_str(), uri.path()) {
        Ok(m) => m,
        Err(protocol::NoRoute::MethodNotAllowed) if protocol::known_method(&method) => {
            let e = crate::domain::ApiError::validation(format!("Method {method} is not allowed on {}.", uri.path()));
            return protocol::error(&e, &rid);
        }
        Err(_) => {
            let e = crate::domain::ApiError::not_found(format!(
                "No GameLift Streams operation at {method} {}.",
                uri.path()
            ));
            return protocol::error(&e, &rid);
        }
    };
    let scope = protocol::scope_of(&headers, &query);
    let op = matched.op;
    if let Some(code) = service
        .settings
        .faults
        .take_operation(&scope.account, &scope.region, op.name())
    {
        let e = crate::domain::ApiError::new(
            code,
            format!("Injected fault: {} answers {}.", op.name(), code.as_str()),
        );
        return protocol::error(&e, &rid);
    }
    let input = match protocol::assemble(&matched, &query, &body) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(op = op.name(), error = %e, "rejected");
            return protocol::error(&e, &rid);
        }
    };
    let svc = service.clone();
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let result = tokio::task::spawn_blocking(move || svc.call(op, &scope, &host, input)).await;
    match result {
        Ok(Ok(out)) => protocol::success(op.spec().success, &out, &rid),
        Ok(Err(e)) => {
            tracing::debug!(op = op.name(), error = %e, "error");
            protocol::error(&e, &rid)
        }
        Err(join) => protocol::error(&crate::domain::ApiError::internal(join), &rid),
    }
}

/// Fire timers as they fall due (woken early by writes that may schedule one).
pub async fn run_scheduler(service: Arc<Service>) {
    loop {
        let svc = service.clone();
        let next = tokio::task::spawn_blocking(move || svc.tick()).await;
        let now = service.clock.now().millis();
        let wait_ms = match next {
            Ok(Ok(Some(due))) => (due - now).clamp(0, 1000),
            _ => 1000,
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {}
            _ = service.wake.notified() => {}
        }
    }
}

/// Serve on `listener` until `shutdown` resolves, with the scheduler running beside it.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let scheduler = tokio::spawn(run_scheduler(service.clone()));
    let result = axum::serve(listener, app(service))
        .with_graceful_shutdown(shutdown)
        .await;
    scheduler.abort();
    result
}
