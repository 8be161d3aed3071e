//! The dashboard: the page at `/_local/ui` (HTML, script and style embedded in the binary)
//! and the admin reads it needs beside the AWS API — the partitions the store knows, a
//! partition's session counts by status and export status, and a session's export archive.

use super::admin::{bad_request, blocking, failed, limited_scope, owner, Reply};
use super::AppState;
use crate::domain::ids::Scope;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const PAGE: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/app.css");

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(landing).fallback(super::aws))
        .route("/_local/ui", get(page))
        .route("/_local/ui/", get(page))
        .route("/_local/ui/app.js", get(script))
        .route("/_local/ui/app.css", get(style))
        .route("/_local/partitions", get(partitions))
        .route("/_local/counts", get(counts))
        .route("/_local/sessions/{session}/export", get(export_archive))
}

/// Whether a path is the landing page or one of the dashboard's static files (served without
/// a signature in strict mode: a browser cannot sign the page it opens).
pub(super) fn is_asset(path: &str) -> bool {
    matches!(
        path,
        "/" | "/_local/ui" | "/_local/ui/" | "/_local/ui/app.js" | "/_local/ui/app.css"
    )
}

fn asset(kind: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")],
        body,
    )
}

/// `GET /`: what this endpoint is, and where to go from here.
async fn landing(headers: axum::http::HeaderMap) -> impl IntoResponse {
    let host = super::request_host(&headers);
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>gameliftstreams-local</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem">
<h1>gameliftstreams-local {version}</h1>
<p>A local Amazon GameLift Streams endpoint: <code>http://{host}</code></p>
<ul>
<li><a href="/_local/ui">Dashboard</a></li>
<li><a href="/_local/health">Health</a> (with the effective settings) and <a href="/_local/clock">service clock</a></li>
<li><a href="/_local/metrics">Metrics</a> (Prometheus text format)</li>
</ul>
<pre>export AWS_ENDPOINT_URL_GAMELIFTSTREAMS=http://{host}
aws gameliftstreams list-stream-sessions-by-account --region us-west-2

boto3.client("gameliftstreams", endpoint_url="http://{host}", region_name="us-west-2")</pre>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body)
}

async fn page() -> impl IntoResponse {
    asset("text/html; charset=utf-8", PAGE)
}

async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// `GET /_local/partitions` → `{"partitions": [{"account", "region"}, ...]}`; in strict mode
/// a key without `admin = true` sees only its own.
async fn partitions(State(s): State<Arc<AppState>>, extensions: axum::http::Extensions) -> Reply {
    let limit = limited_scope(&extensions);
    let svc = s.service.clone();
    match blocking(move || svc.partitions()).await {
        Ok(all) => {
            let list: Vec<Value> = all
                .into_iter()
                .filter(|(a, r)| limit.as_ref().is_none_or(|l| &l.account == a && &l.region == r))
                .map(|(account, region)| json!({ "account": account, "region": region }))
                .collect();
            (StatusCode::OK, Json(json!({ "partitions": list })))
        }
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountsQuery {
    account: String,
    region: String,
}

/// `GET /_local/counts?account=A&region=R` → `{"account", "region", "total", "byStatus":
/// {"ACTIVE": n, ...}, "byExportStatus": {"NONE": n, "SUCCEEDED": n, ...}}` (statuses with
/// no session left out), from the counts the store keeps as sessions change: O(1).
async fn counts(
    State(s): State<Arc<AppState>>,
    extensions: axum::http::Extensions,
    query: Result<Query<CountsQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Ok(Query(q)) = query else {
        return bad_request("expected ?account=<12 digits>&region=<region>");
    };
    if let Some(l) = limited_scope(&extensions) {
        if l.account != q.account || l.region != q.region {
            return (
                StatusCode::FORBIDDEN,
                Json(json!({ "error": "this key may only read its own account and region" })),
            );
        }
    }
    let scope = Scope::new(q.account.clone(), q.region.clone());
    let svc = s.service.clone();
    match blocking(move || svc.session_counts(&scope)).await {
        Ok(c) => {
            let total: u64 = c.status.iter().map(|(_, n)| n).sum();
            let by_status: Map<String, Value> = c
                .status
                .iter()
                .map(|(s, n)| (s.as_str().to_string(), json!(n)))
                .collect();
            let by_export: Map<String, Value> = c
                .export
                .iter()
                .map(|(s, n)| (s.map_or("NONE", |s| s.as_str()).to_string(), json!(n)))
                .collect();
            (
                StatusCode::OK,
                Json(json!({
                    "account": q.account,
                    "region": q.region,
                    "total": total,
                    "byStatus": by_status,
                    "byExportStatus": by_export,
                })),
            )
        }
        Err(e) => failed(e),
    }
}

/// `GET /_local/sessions/{session}/export`: the session's export archive (a ZIP) when it
/// SUCCEEDED and was written under the data dir; 404 with the reason otherwise.
async fn export_archive(
    State(s): State<Arc<AppState>>,
    Path(ident): Path<String>,
    extensions: axum::http::Extensions,
) -> axum::response::Response {
    let owner = owner(&extensions);
    let svc = s.service.clone();
    match blocking(move || svc.export_archive(owner.as_ref(), &ident)).await {
        Ok(Ok((name, bytes))) => {
            let disposition = format!("attachment; filename=\"{}\"", name.replace(['"', '\\'], "_"));
            (
                [
                    (header::CONTENT_TYPE, "application/zip".to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(Err(why)) => (StatusCode::NOT_FOUND, Json(json!({ "error": why }))).into_response(),
        Err(e) => failed(e).into_response(),
    }
}
