//! The HTTP face of the service: the AWS routes (restJson1), the `/_local/` admin API and the
//! scheduler task that fires timed transitions. The caller binds the socket.

mod admin;
pub mod conn;
mod guard;
pub mod metrics;
pub mod protocol;
pub mod sigv4;
mod streams;
pub mod throttle;
mod ui;

use crate::ops::Service;
use crate::stream::StreamHub;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::Response;
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What the HTTP layer holds: the service, and in strict mode the signature verifier, and
/// the request throttle when it is on. Built by [`AppState::builder`].
pub struct AppState {
    service: Arc<Service>,
    verifier: Option<sigv4::Verifier>,
    throttle: Option<throttle::Throttle>,
    streams: Option<Arc<StreamHub>>,
    host: Option<Arc<crate::host::Host>>,
    limits: conn::Limits,
    cors_origin: Option<HeaderValue>,
    any_region: bool,
    settings: serde_json::Value,
    metrics: metrics::Metrics,
}

/// Builds an [`AppState`].
pub struct AppStateBuilder {
    service: Arc<Service>,
    verifier: Option<sigv4::Verifier>,
    throttle: bool,
    streams: Option<Arc<StreamHub>>,
    host: Option<Arc<crate::host::Host>>,
    limits: conn::Limits,
    cors_origin: Option<HeaderValue>,
    any_region: bool,
    settings: serde_json::Value,
}

impl AppStateBuilder {
    /// Accept any region in the credential scope, not only the service's catalogue.
    pub fn any_region(mut self, on: bool) -> Self {
        self.any_region = on;
        self
    }

    /// The effective settings the server runs with, shown by `/_local/health`.
    pub fn settings(mut self, settings: serde_json::Value) -> Self {
        self.settings = settings;
        self
    }

    /// The one origin whose browser pages may call the server (CORS); `None`: any (`*`).
    pub fn cors_origin(mut self, origin: Option<HeaderValue>) -> Self {
        self.cors_origin = origin;
        self
    }

    /// Strict mode: verify SigV4 signatures with this verifier.
    pub fn verifier(mut self, verifier: Option<sigv4::Verifier>) -> Self {
        self.verifier = verifier;
        self
    }

    /// Enforce AWS's per-operation request rates.
    pub fn throttle(mut self, on: bool) -> Self {
        self.throttle = on;
        self
    }

    /// The streaming layer (application messages, stream state).
    pub fn streams(mut self, hub: Arc<StreamHub>) -> Self {
        self.streams = Some(hub);
        self
    }

    /// The host that runs the sessions' applications.
    pub fn host(mut self, host: Arc<crate::host::Host>) -> Self {
        self.host = Some(host);
        self
    }

    /// Timeouts and bounds of connections and requests.
    pub fn limits(mut self, limits: conn::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The state.
    pub fn build(self) -> Arc<AppState> {
        Arc::new(AppState {
            service: self.service,
            verifier: self.verifier,
            throttle: self.throttle.then(Default::default),
            streams: self.streams,
            host: self.host,
            limits: self.limits,
            cors_origin: self.cors_origin,
            any_region: self.any_region,
            settings: self.settings,
            metrics: metrics::Metrics::default(),
        })
    }
}

impl AppState {
    /// A builder over `service` (default mode, no throttle).
    pub fn builder(service: Arc<Service>) -> AppStateBuilder {
        AppStateBuilder {
            service,
            verifier: None,
            throttle: false,
            streams: None,
            host: None,
            limits: conn::Limits::default(),
            cors_origin: None,
            any_region: false,
            settings: serde_json::Value::Null,
        }
    }

    /// The service.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// The effective settings (`Value::Null` when the builder was given none).
    pub fn settings(&self) -> &serde_json::Value {
        &self.settings
    }
}

/// The router: admin API under `/_local/`, everything else is the AWS API. With a verifier
/// (strict mode) every request but the health check and the stream URL pages must be signed.
pub fn app(state: Arc<AppState>) -> Router {
    let strict_mode = state.verifier.is_some();
    let router = admin::routes()
        .merge(ui::routes())
        .layer(axum::middleware::from_fn(log_local))
        .fallback(aws)
        .with_state(state.clone())
        // The guard reads and bounds every body; nothing after it needs another limit.
        .layer(axum::extract::DefaultBodyLimit::disable());
    let router = if strict_mode {
        router.layer(axum::middleware::from_fn_with_state(state.clone(), strict))
    } else {
        router
    };
    let inner = router.layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard));
    // Outermost: a browser's preflight is answered before signatures or bounds are checked (it
    // carries no credentials), and every answer to a browser carries the CORS headers. Only a
    // request with an `Origin` (what browsers send across origins, preflights included) goes
    // through the CORS layer: the SDKs and the CLI send none and need none of its headers.
    let with_cors = inner.clone().layer(cors(state.cors_origin.clone()));
    Router::new().fallback_service(tower::service_fn(move |request: axum::extract::Request| {
        use tower::ServiceExt;
        let route = if request.headers().contains_key(axum::http::header::ORIGIN) {
            with_cors.clone()
        } else {
            inner.clone()
        };
        route.oneshot(request)
    }))
}

/// CORS for browser code (the AWS SDK for JavaScript in a web page): any method and request
/// header, the request id and error type readable by the page.
fn cors(origin: Option<HeaderValue>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(origin.map_or(AllowOrigin::any(), AllowOrigin::exact))
        .allow_methods(AllowMethods::mirror_request())
        // Mirrored, not `*`: a wildcard does not cover Authorization, which the SDKs send.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            axum::http::HeaderName::from_static("x-amzn-requestid"),
            axum::http::HeaderName::from_static("x-amzn-errortype"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// What strict mode leaves unsigned, like AWS's stream URLs: what a browser loads without
/// credentials. The protocol script is static (AWS serves it from a CDN); a play page's
/// connect carries the token that the signed request for the page was given (checked by its
/// handler).
fn is_open(method: &Method, path: &str) -> bool {
    (method == Method::GET && (path == "/_local/health" || path == "/_local/metrics" || ui::is_asset(path)))
        || path.starts_with("/_local/streamurls/")
        || path.starts_with("/_local/webrtc/")
        || (method == Method::POST && path.starts_with("/_local/play/") && path.ends_with("/connect"))
}

/// Strict mode: verify the signature, then hand the verified caller to the handlers.
async fn strict(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response<Body> {
    let Some(verifier) = state.verifier.as_ref() else {
        return next.run(request).await;
    };
    if is_open(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let rid = request_id();
    // The guard has read the body already (within its limits).
    let Ok(bytes) = axum::body::to_bytes(body, guard::MAX_BODY).await else {
        let e = sigv4::AuthError {
            status: 400,
            code: "SerializationException",
            message: "The request body could not be read.".into(),
        };
        return protocol::auth_error(&e, &rid);
    };
    let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    match verifier.verify(
        parts.method.as_str(),
        target,
        &parts.headers,
        &bytes,
        crate::clock::wall_now(),
    ) {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => {
            tracing::debug!(code = e.code, message = %e.message, "rejected signature");
            protocol::auth_error(&e, &rid)
        }
    }
}

/// The caller's account and region: the verified caller in strict mode, else the request's
/// credential scope.
pub fn caller_scope(
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> crate::domain::ids::Scope {
    match extensions.get::<sigv4::Caller>() {
        Some(c) => crate::domain::ids::Scope::new(c.account.clone(), c.region.clone()),
        None => protocol::scope_of(headers, query),
    }
}

fn request_id() -> String {
    let h = hex::encode(rand::random::<[u8; 16]>());
    let mut id = String::with_capacity(36);
    for (i, part) in [&h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            id.push('-');
        }
        id.push_str(part);
    }
    id
}

/// Where the one line per request is logged (at info: `GLS_LOG=info`).
const REQUEST_LOG: &str = "gameliftstreams_local::request";

/// The host and port the caller reached the server by (its `Host` header, kept to the
/// characters of an authority), which the addresses of this server's in an answer name;
/// `localhost` when it sent none.
pub(super) fn request_host(headers: &axum::http::HeaderMap) -> String {
    let host: String = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".:-_[]".contains(*c))
        .collect();
    if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    }
}

/// An AWS API request: answered, counted in the metrics, and logged in one line when request
/// logging is on: method and path, operation, HTTP status, error code, latency (monotonic
/// time, not service time), account, region and request id.
async fn aws(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response<Body> {
    let started = std::time::Instant::now();
    let routed = protocol::route(method.as_str(), uri.path());
    let operation = routed.as_ref().map_or("-", |m| m.op.name());
    let logged = tracing::enabled!(target: REQUEST_LOG, tracing::Level::INFO).then(|| {
        let scope = caller_scope(&extensions, &headers, &protocol::query_pairs(uri.query()));
        (scope, method.clone(), uri.path().to_string())
    });
    let response = answer(state.clone(), routed, method, uri, headers, extensions, body).await;
    let elapsed = started.elapsed().as_secs_f64();
    state.metrics.record(operation, response.status().as_u16(), elapsed);
    if let Some((scope, verb, path)) = logged {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string()
        };
        tracing::info!(
            target: REQUEST_LOG,
            operation,
            status = response.status().as_u16(),
            error = %header("x-amzn-ErrorType"),
            ms = format_args!("{:.2}", elapsed * 1000.0),
            account = %scope.account,
            region = %scope.region,
            request_id = %header("x-amzn-RequestId"),
            "{verb} {path}"
        );
    }
    response
}

/// The log line of a `/_local/` request (when request logging is on): method and path, HTTP
/// status, latency; `operation="-"` sets them apart from the AWS API's.
async fn log_local(request: axum::extract::Request, next: axum::middleware::Next) -> Response<Body> {
    if !tracing::enabled!(target: REQUEST_LOG, tracing::Level::INFO) {
        return next.run(request).await;
    }
    let started = std::time::Instant::now();
    let (verb, path) = (request.method().clone(), request.uri().path().to_string());
    let response = next.run(request).await;
    tracing::info!(
        target: REQUEST_LOG,
        operation = "-",
        status = response.status().as_u16(),
        ms = format_args!("{:.2}", started.elapsed().as_secs_f64() * 1000.0),
        "{verb} {path}"
    );
    response
}

async fn answer(
    state: Arc<AppState>,
    routed: Result<protocol::Matched, protocol::NoRoute>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response<Body> {
    let rid = request_id();
    let query = protocol::query_pairs(uri.query());
    let matched = match routed {
        Ok(m) => m,
        Err(protocol::NoRoute::MethodNotAllowed) if protocol::known_method(&method) => {
            let e = crate::domain::ApiError::validation(format!("Method {method} is not allowed on {}.", uri.path()));
            return protocol::error(&e, &rid);
        }
        Err(_) => {
            // Not a resource that is missing but no operation at all, as AWS answers it.
            let message = format!("No GameLift Streams operation at {method} {}.", uri.path());
            return protocol::unknown_operation(&message, &rid);
        }
    };
    let scope = caller_scope(&extensions, &headers, &query);
    let op = matched.op;
    if !state.any_region && !crate::domain::catalog::is_region(&scope.region) {
        let e = crate::domain::ApiError::validation(format!(
            "{} is not a region of Amazon GameLift Streams. Use one of: {} (or start the server with \
             --allow-any-region).",
            scope.region,
            crate::domain::catalog::LOCATIONS.join(", ")
        ));
        return protocol::error(&e, &rid);
    }
    let service = &state.service;
    if let Some(t) = state.throttle.as_ref() {
        if !t.admit(&scope.account, &scope.region, op, crate::clock::wall_now()) {
            let e = crate::domain::ApiError::new(gls_model::ErrorCode::ThrottlingException, "Rate exceeded");
            return protocol::error(&e, &rid);
        }
    }
    if let Some(code) = service.take_operation_fault(&scope, op) {
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
    let host = request_host(&headers);
    // A read with nothing due is answered here: no hand-off to a blocking thread.
    let result = if svc.answers_inline(op) {
        Ok(svc.call(op, &scope, &host, input))
    } else {
        tokio::task::spawn_blocking(move || svc.call(op, &scope, &host, input)).await
    };
    match result {
        Ok(Ok(out)) => protocol::success(op.spec().success, out, &rid),
        Ok(Err(e)) => {
            tracing::debug!(op = op.name(), error = %e, "error");
            protocol::error(&e, &rid)
        }
        Err(join) => protocol::error(&crate::domain::ApiError::internal(join), &rid),
    }
}

/// Fire timers as they fall due (woken early by writes that may schedule one), until `stop`
/// says so; a tick that has begun always finishes.
pub async fn run_scheduler(service: Arc<Service>, mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        let svc = service.clone();
        let next = tokio::task::spawn_blocking(move || svc.tick()).await;
        let now = service.now().millis();
        let wait_ms = match next {
            Ok(Ok(Some(due))) => (due - now).clamp(0, 1000),
            _ => 1000,
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {}
            _ = service.woken() => {}
            _ = stop.changed() => {}
        }
    }
}

/// Serve on `listener` until `shutdown` resolves, with the scheduler running beside it; then
/// stop gracefully (see [`conn::serve`]) and let the scheduler finish its tick.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(run_scheduler(state.service.clone(), stopped));
    let limits = state.limits.clone();
    conn::serve(listener, app(state), limits, shutdown).await;
    let _ = stop.send(true);
    let _ = scheduler.await;
    Ok(())
}
