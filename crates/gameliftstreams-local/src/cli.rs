//! Client commands of the binary (`sessions list|get|terminate`, `applications list`,
//! `stream-groups list`), modelled on the AWS CLI's names, flags and JSON output, over the
//! official SDK with the standard AWS configuration chain and the boto3-style paginators.

use aws_sdk_gameliftstreams::primitives::DateTime;
use aws_sdk_gameliftstreams::types::{
    ApplicationSummary, ExportFilesMetadata, ExportFilesStatus, StreamGroupSummary, StreamSessionStatus,
    StreamSessionSummary,
};
use aws_sdk_gameliftstreams::Client;
use clap::{Args, Subcommand, ValueEnum};
use gameliftstreams_paginate::{
    list_applications, list_stream_groups, list_stream_sessions, list_stream_sessions_by_account, Operation,
    PaginationConfig, PaginationError, Paginator,
};
use serde_json::{json, Map, Value};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Where and how to call the service: the AWS CLI's global options.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// The endpoint, e.g. http://127.0.0.1:9080 (default: the AWS configuration chain,
    /// including AWS_ENDPOINT_URL_GAMELIFTSTREAMS and AWS_ENDPOINT_URL).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// The region (default: the AWS configuration chain).
    #[arg(long)]
    pub region: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Json)]
    pub output: Output,
}

/// Output formats.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Output {
    /// The AWS CLI's JSON.
    Json,
    /// Aligned columns and a summary line.
    Table,
}

/// The AWS CLI's pagination options.
#[derive(Args, Debug, Clone)]
pub struct Paging {
    /// Stop after this many items and print a NextToken to resume from.
    #[arg(long)]
    pub max_items: Option<usize>,
    /// Items per service call.
    #[arg(long)]
    pub page_size: Option<i32>,
    /// Resume from a NextToken of an earlier listing (this tool's, the AWS CLI's or boto3's).
    #[arg(long)]
    pub starting_token: Option<String>,
}

/// `sessions ...`
#[derive(Subcommand, Debug)]
pub enum Sessions {
    /// List stream sessions: of the account, or of one stream group.
    List {
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// Only sessions with an export in this status.
        #[arg(long)]
        export_files_status: Option<String>,
        /// Only this stream group (ID or ARN): ListStreamSessions instead of ListStreamSessionsByAccount.
        #[arg(long)]
        stream_group: Option<String>,
        #[command(flatten)]
        paging: Paging,
        #[command(flatten)]
        conn: Connection,
    },
    /// Show one stream session.
    Get {
        /// The stream group (ID or ARN).
        #[arg(long)]
        stream_group: String,
        /// The session (ID or ARN).
        #[arg(long)]
        session: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Terminate one stream session.
    Terminate {
        /// The stream group (ID or ARN).
        #[arg(long)]
        stream_group: String,
        /// The session (ID or ARN).
        #[arg(long)]
        session: String,
        #[command(flatten)]
        conn: Connection,
    },
}

/// `applications ...` / `stream-groups ...`
#[derive(Subcommand, Debug)]
pub enum Listing {
    /// List them.
    List {
        #[command(flatten)]
        paging: Paging,
        #[command(flatten)]
        conn: Connection,
    },
}

/// The AWS CLI's words when the configuration has no region or no credentials.
const NO_REGION: &str = "You must specify a region. You can also configure your region by running \"aws configure\".";
const NO_CREDENTIALS: &str =
    "Unable to locate credentials. You can configure credentials by running \"aws configure\".";

/// A client of the endpoint, and the endpoint as the messages name it.
struct Api {
    client: Client,
    endpoint: String,
}

/// A client from the AWS configuration chain and the flags, refused as the AWS CLI refuses
/// one without a region or credentials; an https:// endpoint (this command speaks plain HTTP
/// to a local endpoint) is refused before anything is sent.
async fn client(conn: &Connection) -> anyhow::Result<Api> {
    use aws_credential_types::provider::ProvideCredentials;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_smithy_http_client::Builder::new().build_http());
    if let Some(url) = &conn.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &conn.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    let region = sdk.region().ok_or_else(|| anyhow::anyhow!(NO_REGION))?.to_string();
    let credentials = sdk
        .credentials_provider()
        .ok_or_else(|| anyhow::anyhow!(NO_CREDENTIALS))?;
    if credentials.provide_credentials().await.is_err() {
        anyhow::bail!(NO_CREDENTIALS);
    }
    let endpoint = conn
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_GAMELIFTSTREAMS").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .or_else(|| sdk.endpoint_url().map(str::to_string))
        .unwrap_or_else(|| format!("https://gameliftstreams.{region}.api.aws"));
    if !endpoint.starts_with("http://") {
        anyhow::bail!(
            "Could not connect to the endpoint URL: \"{endpoint}\" (this command speaks plain HTTP to a local \
             endpoint: pass --endpoint-url http://127.0.0.1:9080 or set AWS_ENDPOINT_URL_GAMELIFTSTREAMS)"
        );
    }
    Ok(Api {
        client: Client::new(&sdk),
        endpoint,
    })
}

/// Epoch seconds, as the AWS CLI prints this service's timestamps.
fn ts(t: Option<&DateTime>) -> Option<Value> {
    t.map(|d| json!(millis(d) as f64 / 1000.0))
}

/// The millisecond the service sent (the SDK's float parsing leaves nanosecond noise).
fn millis(d: &DateTime) -> i64 {
    d.secs() * 1000 + (f64::from(d.subsec_nanos()) / 1e6).round() as i64
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_string(), v);
    }
}

fn s(v: Option<&str>) -> Option<Value> {
    v.map(|x| json!(x))
}

fn export_json(e: &ExportFilesMetadata) -> Value {
    let mut m = Map::new();
    put(&mut m, "Status", s(e.status().map(|x| x.as_str())));
    put(&mut m, "StatusReason", s(e.status_reason()));
    put(&mut m, "OutputUri", s(e.output_uri()));
    Value::Object(m)
}

/// A StreamSessionSummary as the service sent it (keys in the model's order).
pub fn session_summary_json(x: &StreamSessionSummary) -> Value {
    let mut m = Map::new();
    put(&mut m, "Arn", s(x.arn()));
    put(&mut m, "UserId", s(x.user_id()));
    put(&mut m, "Status", s(x.status().map(|v| v.as_str())));
    put(&mut m, "StatusReason", s(x.status_reason().map(|v| v.as_str())));
    put(&mut m, "Protocol", s(x.protocol().map(|v| v.as_str())));
    put(&mut m, "LastUpdatedAt", ts(x.last_updated_at()));
    put(&mut m, "CreatedAt", ts(x.created_at()));
    put(&mut m, "ApplicationArn", s(x.application_arn()));
    put(
        &mut m,
        "ExportFilesMetadata",
        x.export_files_metadata().map(export_json),
    );
    put(&mut m, "Location", s(x.location()));
    put(&mut m, "RoleArn", s(x.role_arn()));
    Value::Object(m)
}

fn application_json(x: &ApplicationSummary) -> Value {
    let mut m = Map::new();
    put(&mut m, "Arn", Some(json!(x.arn())));
    put(&mut m, "Id", s(x.id()));
    put(&mut m, "Description", s(x.description()));
    put(&mut m, "Status", s(x.status().map(|v| v.as_str())));
    put(&mut m, "CreatedAt", ts(x.created_at()));
    put(&mut m, "LastUpdatedAt", ts(x.last_updated_at()));
    put(
        &mut m,
        "RuntimeEnvironment",
        x.runtime_environment()
            .map(|r| json!({"Type": r.r#type().as_str(), "Version": r.version()})),
    );
    Value::Object(m)
}

fn group_json(x: &StreamGroupSummary) -> Value {
    let mut m = Map::new();
    put(&mut m, "Arn", Some(json!(x.arn())));
    put(&mut m, "Id", s(x.id()));
    put(&mut m, "Description", s(x.description()));
    put(
        &mut m,
        "DefaultApplication",
        x.default_application().map(|d| {
            let mut dm = Map::new();
            put(&mut dm, "Id", s(d.id()));
            put(&mut dm, "Arn", s(d.arn()));
            Value::Object(dm)
        }),
    );
    put(&mut m, "StreamClass", s(x.stream_class().map(|v| v.as_str())));
    put(&mut m, "Status", s(x.status().map(|v| v.as_str())));
    put(&mut m, "CreatedAt", ts(x.created_at()));
    put(&mut m, "LastUpdatedAt", ts(x.last_updated_at()));
    put(&mut m, "ExpiresAt", ts(x.expires_at()));
    Value::Object(m)
}

/// Print JSON as the AWS CLI does (4-space indent).
fn print_json(v: &Value) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    serde::Serialize::serialize(v, &mut ser)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.write_all(b"\n")?;
    Ok(())
}

/// Shows how many items were fetched, on a terminal, once a listing takes over a second.
struct Progress {
    started: Instant,
    shown: bool,
    tty: bool,
}

impl Progress {
    fn new() -> Self {
        Progress {
            started: Instant::now(),
            shown: false,
            tty: std::io::stderr().is_terminal(),
        }
    }
    fn update(&mut self, items: usize) {
        if self.tty && self.started.elapsed() > Duration::from_secs(1) {
            eprint!("\r{items} items fetched...");
            self.shown = true;
        }
    }
    fn done(&self) {
        if self.shown {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Walk a paginator to the end (or max_items), with progress.
async fn collect<O: Operation>(mut p: Paginator<O>) -> Result<(Vec<O::Item>, Option<String>), PaginationError> {
    let mut items = Vec::new();
    let mut progress = Progress::new();
    while let Some(page) = p.next_page().await {
        items.extend(page?.items);
        progress.update(items.len());
    }
    progress.done();
    Ok((items, p.resume_token().map(str::to_string)))
}

fn config(p: &Paging) -> PaginationConfig {
    PaginationConfig {
        max_items: p.max_items,
        page_size: p.page_size,
        starting_token: p.starting_token.clone(),
    }
}

fn list_json(items: Vec<Value>, next: Option<String>) -> Value {
    let mut m = Map::new();
    m.insert("Items".into(), Value::Array(items));
    if let Some(t) = next {
        m.insert("NextToken".into(), json!(t));
    }
    Value::Object(m)
}

/// Aligned columns.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

fn summary_line(what: &str, statuses: &[String], next: Option<&str>) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for st in statuses {
        match counts.iter_mut().find(|(s, _)| s == st) {
            Some((_, n)) => *n += 1,
            None => counts.push((st.clone(), 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let mut line = format!("{} {what}", statuses.len());
    if !parts.is_empty() {
        line.push_str(&format!(": {}", parts.join(", ")));
    }
    if let Some(t) = next {
        line.push_str(&format!("\nNextToken: {t}"));
    }
    line
}

fn time_text(t: Option<&DateTime>) -> String {
    t.and_then(|d| {
        DateTime::from_millis(millis(d))
            .fmt(aws_sdk_gameliftstreams::primitives::DateTimeFormat::DateTime)
            .ok()
    })
    .unwrap_or_default()
}

impl Api {
    /// A failed call as the AWS CLI reports it: the service's error code and message, or the
    /// endpoint it could not reach.
    fn fail(&self, operation: &str, e: PaginationError) -> anyhow::Error {
        match e {
            PaginationError::Service(err) => {
                use aws_sdk_gameliftstreams::error::ProvideErrorMetadata;
                if let Some(connector) = cause::<aws_smithy_runtime_api::client::result::ConnectorError>(&*err) {
                    let why = if connector.is_timeout() { " (timed out)" } else { "" };
                    return anyhow::anyhow!("Could not connect to the endpoint URL: \"{}\"{why}", self.endpoint);
                }
                match err.code() {
                    Some(code) => anyhow::anyhow!(
                        "An error occurred ({code}) when calling the {operation} operation: {}",
                        err.message().unwrap_or("")
                    ),
                    // Not an AWS error answer: say what went wrong, all of it.
                    None => anyhow::anyhow!(
                        "An error occurred when calling the {operation} operation on {}: {}",
                        self.endpoint,
                        causes(&*err)
                    ),
                }
            }
            other => anyhow::anyhow!("{other}"),
        }
    }
}

/// The first error of type `T` in the chain of `e`.
fn cause<'a, T: std::error::Error + 'static>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        next = err.source();
    }
    None
}

/// Every message of the chain of `e`, joined.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

fn session_row(x: &StreamSessionSummary) -> Vec<String> {
    vec![
        x.arn()
            .and_then(|a| a.rsplit('/').next())
            .unwrap_or_default()
            .to_string(),
        x.status().map(|v| v.as_str().to_string()).unwrap_or_default(),
        x.status_reason().map(|v| v.as_str().to_string()).unwrap_or_default(),
        x.location().unwrap_or_default().to_string(),
        x.export_files_metadata()
            .and_then(|e| e.status())
            .map(|v| v.as_str().to_string())
            .unwrap_or_default(),
        x.user_id().unwrap_or_default().to_string(),
        time_text(x.created_at()),
    ]
}

/// Run `sessions ...`.
pub async fn sessions(cmd: Sessions) -> anyhow::Result<()> {
    match cmd {
        Sessions::List {
            status,
            export_files_status,
            stream_group,
            paging,
            conn,
        } => {
            let api = client(&conn).await?;
            let c = &api.client;
            let status = status.map(|x| StreamSessionStatus::from(x.as_str()));
            let export = export_files_status.map(|x| ExportFilesStatus::from(x.as_str()));
            let cmd = ListCommand {
                operation: if stream_group.is_some() {
                    "ListStreamSessions"
                } else {
                    "ListStreamSessionsByAccount"
                },
                what: "sessions",
                headers: &["SESSION", "STATUS", "REASON", "LOCATION", "EXPORT", "USER", "CREATED"],
                json: session_summary_json,
                row: session_row,
            };
            let output = conn.output;
            match stream_group {
                Some(g) => {
                    let mut op = list_stream_sessions(c, g);
                    if let Some(st) = status {
                        op = op.status(st);
                    }
                    if let Some(e) = export {
                        op = op.export_files_status(e);
                    }
                    run_list(&api, op.paginate(config(&paging)), output, cmd).await
                }
                None => {
                    let mut op = list_stream_sessions_by_account(c);
                    if let Some(st) = status {
                        op = op.status(st);
                    }
                    if let Some(e) = export {
                        op = op.export_files_status(e);
                    }
                    run_list(&api, op.paginate(config(&paging)), output, cmd).await
                }
            }
        }
        Sessions::Get {
            stream_group,
            session,
            conn,
        } => {
            let api = client(&conn).await?;
            let c = &api.client;
            let out = c
                .get_stream_session()
                .identifier(&stream_group)
                .stream_session_identifier(&session)
                .send()
                .await
                .map_err(|e| api.fail("GetStreamSession", e.into()))?;
            let mut m = Map::new();
            put(&mut m, "Arn", s(out.arn()));
            put(&mut m, "Description", s(out.description()));
            put(&mut m, "StreamGroupId", s(out.stream_group_id()));
            put(&mut m, "UserId", s(out.user_id()));
            put(&mut m, "Status", s(out.status().map(|v| v.as_str())));
            put(&mut m, "StatusReason", s(out.status_reason().map(|v| v.as_str())));
            put(&mut m, "Protocol", s(out.protocol().map(|v| v.as_str())));
            put(&mut m, "Location", s(out.location()));
            put(
                &mut m,
                "ConnectionTimeoutSeconds",
                out.connection_timeout_seconds().map(|v| json!(v)),
            );
            put(
                &mut m,
                "SessionLengthSeconds",
                out.session_length_seconds().map(|v| json!(v)),
            );
            put(&mut m, "WebSdkProtocolUrl", s(out.web_sdk_protocol_url()));
            put(&mut m, "LastUpdatedAt", ts(out.last_updated_at()));
            put(&mut m, "CreatedAt", ts(out.created_at()));
            put(&mut m, "ApplicationArn", s(out.application_arn()));
            put(
                &mut m,
                "ExportFilesMetadata",
                out.export_files_metadata().map(export_json),
            );
            put(&mut m, "RoleArn", s(out.role_arn()));
            match conn.output {
                Output::Json => print_json(&Value::Object(m)),
                Output::Table => {
                    let rows: Vec<Vec<String>> = m
                        .iter()
                        .map(|(k, v)| {
                            // Times as ISO 8601, as `sessions list --output table` shows them.
                            let text = match k.as_str() {
                                "LastUpdatedAt" => time_text(out.last_updated_at()),
                                "CreatedAt" => time_text(out.created_at()),
                                _ => v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
                            };
                            vec![k.clone(), text]
                        })
                        .collect();
                    print!("{}", table(&["FIELD", "VALUE"], &rows));
                    Ok(())
                }
            }
        }
        Sessions::Terminate {
            stream_group,
            session,
            conn,
        } => {
            let api = client(&conn).await?;
            let c = &api.client;
            c.terminate_stream_session()
                .identifier(&stream_group)
                .stream_session_identifier(&session)
                .send()
                .await
                .map_err(|e| api.fail("TerminateStreamSession", e.into()))?;
            Ok(())
        }
    }
}

/// One list command: paginate, then print as JSON or as a table.
struct ListCommand<'a, T> {
    operation: &'a str,
    what: &'a str,
    headers: &'a [&'a str],
    json: fn(&T) -> Value,
    row: fn(&T) -> Vec<String>,
}

async fn run_list<O: Operation>(
    api: &Api,
    p: Paginator<O>,
    output: Output,
    cmd: ListCommand<'_, O::Item>,
) -> anyhow::Result<()> {
    let (items, next) = collect(p).await.map_err(|e| api.fail(cmd.operation, e))?;
    match output {
        Output::Json => print_json(&list_json(items.iter().map(cmd.json).collect(), next)),
        Output::Table => {
            let rows: Vec<Vec<String>> = items.iter().map(cmd.row).collect();
            print!("{}", table(cmd.headers, &rows));
            let statuses: Vec<String> = rows.iter().map(|r| r[1].clone()).collect();
            println!("{}", summary_line(cmd.what, &statuses, next.as_deref()));
            Ok(())
        }
    }
}

/// Run `applications list`.
pub async fn applications(cmd: Listing) -> anyhow::Result<()> {
    let Listing::List { paging, conn } = cmd;
    let api = client(&conn).await?;
    let c = &api.client;
    let cmd = ListCommand {
        operation: "ListApplications",
        what: "applications",
        headers: &["APPLICATION", "STATUS", "DESCRIPTION", "CREATED"],
        json: application_json,
        row: |x: &ApplicationSummary| {
            vec![
                x.id().unwrap_or_default().to_string(),
                x.status().map(|v| v.as_str().to_string()).unwrap_or_default(),
                x.description().unwrap_or_default().to_string(),
                time_text(x.created_at()),
            ]
        },
    };
    run_list(&api, list_applications(c).paginate(config(&paging)), conn.output, cmd).await
}

/// Run `stream-groups list`.
pub async fn stream_groups(cmd: Listing) -> anyhow::Result<()> {
    let Listing::List { paging, conn } = cmd;
    let api = client(&conn).await?;
    let c = &api.client;
    let cmd = ListCommand {
        operation: "ListStreamGroups",
        what: "stream groups",
        headers: &["STREAM GROUP", "STATUS", "CLASS", "DESCRIPTION", "CREATED"],
        json: group_json,
        row: |x: &StreamGroupSummary| {
            vec![
                x.id().unwrap_or_default().to_string(),
                x.status().map(|v| v.as_str().to_string()).unwrap_or_default(),
                x.stream_class().map(|v| v.as_str().to_string()).unwrap_or_default(),
                x.description().unwrap_or_default().to_string(),
                time_text(x.created_at()),
            ]
        },
    };
    run_list(&api, list_stream_groups(c).paginate(config(&paging)), conn.output, cmd).await
}
