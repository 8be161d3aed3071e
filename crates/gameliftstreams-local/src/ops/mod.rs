//! The operations of the API, run against the store: one function per operation taking the
//! validated, typed input and returning the typed output or a modeled error. Also the
//! timed-transition engine that fires due timers in order. No HTTP here.

mod applications;
pub mod engine;
pub mod exports;
mod groups;
mod sessions;
mod shell;
mod tags;
mod timers;
pub mod urls;

use crate::clock::Clock;
use crate::domain::cursor::{Binding, Position, TokenCodec};
use crate::domain::ids::Scope;
use crate::domain::lifecycle::Delays;
use crate::domain::ApiError;
use crate::store::{self, Store, StoreError};
use gls_model::{Op, Timestamp};
use rusqlite::Transaction;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Settings of the service that tests and users may change.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Delays of the timed transitions.
    pub delays: Delays,
    /// Service quotas.
    pub quotas: crate::domain::catalog::Quotas,
    /// Failures injected through the admin API.
    pub faults: Arc<engine::Faults>,
    /// Where exported files go (`<root>/s3/<bucket>/<key>`).
    pub export_root: std::path::PathBuf,
    /// Upload exports to this S3 endpoint instead.
    pub s3: Option<exports::S3Sink>,
    /// Days an ended session stays listable (`None`: forever).
    pub session_retention_days: Option<i64>,
}

/// What every operation sees of the request: who, where, when.
pub struct Ctx<'a> {
    /// Caller's account and region.
    pub scope: &'a Scope,
    /// The store partition of that scope.
    pub part: i64,
    /// The service time of the request.
    pub now: Timestamp,
    /// Service settings.
    pub settings: &'a Settings,
    /// The pagination token codec.
    pub codec: &'a TokenCodec,
    /// The `Host` the request was sent to, for URLs that point back at this server.
    pub host: &'a str,
}

impl Ctx<'_> {
    /// Decode an incoming NextToken for this listing.
    pub fn position(&self, binding: &Binding<'_>, token: Option<&str>) -> Result<Option<Position>, ApiError> {
        token
            .map(|t| self.codec.decode(binding, t, self.now.millis()))
            .transpose()
    }

    /// A NextToken for the position after `pos`.
    pub fn token(&self, binding: &Binding<'_>, pos: &Position) -> String {
        self.codec.encode(binding, pos, self.now.millis())
    }
}

/// Cut a page fetched with `limit + 1` rows: the items and the position to continue from.
pub fn split_page<T>(mut rows: Vec<(Position, T)>, limit: usize) -> (Vec<T>, Option<Position>) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(|(p, _)| p.clone())
    } else {
        None
    };
    (rows.into_iter().map(|(_, t)| t).collect(), next)
}

/// One page of a document table (applications, stream groups), each summarized.
pub fn list_docs<D: DeserializeOwned, S>(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    table: store::DocTable,
    op: Op,
    next_token: Option<&str>,
    max_results: Option<i32>,
    summarize: impl Fn(D) -> S,
) -> Result<(Vec<S>, Option<String>), ApiError> {
    let binding = Binding {
        operation: op.name(),
        account: &ctx.scope.account,
        region: &ctx.scope.region,
        parent: "",
        filters: &[],
    };
    let after = ctx.position(&binding, next_token)?;
    let limit = page_size(max_results);
    let rows = store::doc_page(tx, table, ctx.part, after.as_ref(), limit + 1)?;
    let (docs, next) = split_page(rows, limit);
    let items = docs
        .iter()
        .map(|d| parse_doc(d).map(&summarize))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, next.map(|p| ctx.token(&binding, &p))))
}

/// The page size of a listing: MaxResults (validated 1..100) or 25.
pub fn page_size(max_results: Option<i32>) -> usize {
    max_results.map(|m| m.clamp(1, 100) as usize).unwrap_or(25)
}

/// The service: store, clock, settings and the timer engine's bookkeeping.
pub struct Service {
    /// The store.
    pub store: Arc<Store>,
    /// The service clock.
    pub clock: Arc<Clock>,
    /// Settings.
    pub settings: Settings,
    codec: TokenCodec,
    next_due: AtomicI64,
    /// Woken whenever a write may have scheduled a timer.
    pub wake: Notify,
    /// API rate limits, when switched on.
    pub throttle: Option<crate::server::throttle::Throttle>,
}

/// One request as the protocol layer hands it over.
struct Request<'a> {
    scope: &'a Scope,
    host: &'a str,
    input: Value,
}

type Handler<I, O> = fn(&Ctx<'_>, &Transaction<'_>, I) -> Result<O, ApiError>;

impl Service {
    /// A service over `store`, reading its token secret and clock offset from it.
    pub fn new(store: Arc<Store>, settings: Settings) -> Result<Service, StoreError> {
        let (secret, offset, next) = store.write(|tx| {
            let secret = match store::meta_get(tx, "token_secret")? {
                Some(s) => s,
                None => {
                    let s: [u8; 32] = rand::random();
                    store::meta_set(tx, "token_secret", &s)?;
                    s.to_vec()
                }
            };
            let offset = store::meta_get(tx, "clock_offset_ms")?
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0i64);
            Ok::<_, StoreError>((secret, offset, store::timer_next(tx)?))
        })?;
        Ok(Service {
            store,
            clock: Arc::new(Clock::with_offset(offset)),
            settings,
            codec: TokenCodec::new(secret),
            next_due: AtomicI64::new(next.unwrap_or(i64::MAX)),
            wake: Notify::new(),
            throttle: None,
        })
    }

    /// Run one operation with its input as assembled by the protocol layer (already checked
    /// against the model). Blocking: call from a blocking thread.
    pub fn call(&self, op: Op, scope: &Scope, host: &str, input: Value) -> Result<Value, ApiError> {
        let r = Request { scope, host, input };
        match op {
            Op::CreateApplication => self.write(r, applications::create),
            Op::GetApplication => self.read(r, applications::get),
            Op::ListApplications => self.read(r, applications::list),
            Op::UpdateApplication => self.write(r, applications::update),
            Op::DeleteApplication => self.write(r, applications::delete),
            Op::ListApplicationShaderCaches => self.read(r, shell::list_shader_caches),
            Op::CreateStreamGroup => self.write(r, groups::create),
            Op::GetStreamGroup => self.read(r, groups::get),
            Op::ListStreamGroups => self.read(r, groups::list),
            Op::UpdateStreamGroup => self.write(r, groups::update),
            Op::DeleteStreamGroup => self.write(r, groups::delete),
            Op::AddStreamGroupLocations => self.write(r, groups::add_locations),
            Op::RemoveStreamGroupLocations => self.write(r, groups::remove_locations),
            Op::AssociateApplications => self.write(r, groups::associate),
            Op::DisassociateApplications => self.write(r, groups::disassociate),
            Op::StartStreamSession => self.write(r, sessions::start),
            Op::GetStreamSession => self.read(r, sessions::get),
            Op::TerminateStreamSession => self.write(r, sessions::terminate),
            Op::ListStreamSessions => self.read(r, sessions::list),
            Op::ListStreamSessionsByAccount => self.read(r, sessions::list_by_account),
            Op::ExportStreamSessionFiles => self.write(r, sessions::export_files),
            Op::CreateStreamSessionConnection => self.write(r, sessions::create_connection),
            Op::CreateStreamSessionAdminShell => self.read(r, shell::create_admin_shell),
            Op::TagResource => self.write(r, tags::tag),
            Op::UntagResource => self.write(r, tags::untag),
            Op::ListTagsForResource => self.read(r, tags::list),
            Op::CreateStreamUrl => self.write(r, urls::create),
            Op::GetStreamUrl => self.read(r, urls::get),
            Op::ListStreamUrls => self.read(r, urls::list),
            Op::RevokeStreamUrl => self.write(r, urls::revoke),
        }
    }

    /// Run `f` in a write transaction once due timers have fired (the admin API's entry).
    pub fn write_engine<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &Settings, Timestamp) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let now = self.clock.now();
        let (out, _) = self.store.write_then(
            |tx| {
                timers::fire_due(tx, &self.settings, now)?;
                let out = f(tx, &self.settings, now)?;
                Ok::<_, ApiError>((out, store::timer_next(tx)?))
            },
            |(_, next)| self.publish_next_due(*next),
        )?;
        self.wake.notify_one();
        Ok(out)
    }

    /// Run `f` as a write with the caller's context (every write operation, and the stream-URL
    /// pages).
    pub fn write_as<T>(
        &self,
        scope: &Scope,
        host: &str,
        f: impl FnOnce(&Ctx<'_>, &Transaction<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.write_engine(|tx, _, now| {
            let part = store::part_in(tx, &scope.account, &scope.region)?;
            f(&self.ctx(scope, host, part, now), tx)
        })
    }

    fn ctx<'a>(&'a self, scope: &'a Scope, host: &'a str, part: i64, now: Timestamp) -> Ctx<'a> {
        Ctx {
            scope,
            part,
            now,
            settings: &self.settings,
            codec: &self.codec,
            host,
        }
    }

    fn write<I: DeserializeOwned, O: Serialize>(&self, r: Request<'_>, f: Handler<I, O>) -> Result<Value, ApiError> {
        let input: I = decode(r.input)?;
        let out = self.write_as(r.scope, r.host, |ctx, tx| f(ctx, tx, input))?;
        serde_json::to_value(out).map_err(ApiError::internal)
    }

    fn read<I: DeserializeOwned, O: Serialize>(&self, r: Request<'_>, f: Handler<I, O>) -> Result<Value, ApiError> {
        let input: I = decode(r.input)?;
        let now = self.clock.now();
        // Whatever fell due before this request is applied before it is answered.
        if self.next_due.load(Ordering::SeqCst) <= now.millis() {
            self.fire_due()?;
        }
        let part = self.store.part(&r.scope.account, &r.scope.region)?;
        let out = self
            .store
            .read(|tx| f(&self.ctx(r.scope, r.host, part, now), tx, input))?;
        serde_json::to_value(out).map_err(ApiError::internal)
    }

    /// Fire every timer due by now, in due order. Returns the next due time.
    pub fn fire_due(&self) -> Result<Option<i64>, ApiError> {
        let now = self.clock.now();
        self.store.write_then(
            |tx| {
                timers::fire_due(tx, &self.settings, now)?;
                Ok::<_, ApiError>(store::timer_next(tx)?)
            },
            |next| self.publish_next_due(*next),
        )
    }

    /// Readers skip firing timers when the next one is not due yet, so this is published
    /// only once the commit that decided it is visible, and under the writer lock.
    fn publish_next_due(&self, next: Option<i64>) {
        self.next_due.store(next.unwrap_or(i64::MAX), Ordering::SeqCst);
    }

    /// One scheduler step: fire what is due (touching the store only if something is) and
    /// say when the next timer falls due.
    pub fn tick(&self) -> Result<Option<i64>, ApiError> {
        let next = self.next_due.load(Ordering::SeqCst);
        if next <= self.clock.now().millis() {
            return self.fire_due();
        }
        Ok((next != i64::MAX).then_some(next))
    }

    /// Move the service clock forward and fire what fell due on the way.
    pub fn advance_clock(&self, seconds: i64) -> Result<Timestamp, ApiError> {
        let offset = self.clock.advance(seconds.saturating_mul(1000));
        self.store
            .write(|tx| store::meta_set(tx, "clock_offset_ms", offset.to_string().as_bytes()))?;
        self.fire_due()?;
        Ok(self.clock.now())
    }

    /// Forget all resources and injected faults.
    pub fn reset(&self) -> Result<(), ApiError> {
        self.store.reset()?;
        self.settings.faults.clear();
        self.publish_next_due(None);
        Ok(())
    }
}

fn decode<I: DeserializeOwned>(input: Value) -> Result<I, ApiError> {
    serde_json::from_value(input).map_err(|e| ApiError::validation(format!("The request could not be read: {e}")))
}

/// Parse a stored document.
pub fn parse_doc<T: DeserializeOwned>(s: &str) -> Result<T, ApiError> {
    serde_json::from_str(s).map_err(ApiError::internal)
}

/// Serialize a document for storage.
pub fn doc_json<T: Serialize>(t: &T) -> Result<String, ApiError> {
    Ok(store::to_json(t)?)
}

/// The canonical form of an input for ClientToken comparison: the JSON without the token.
pub fn fingerprint<T: Serialize>(input: &T) -> String {
    let mut v = serde_json::to_value(input).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("ClientToken");
    }
    v.to_string()
}

/// The resource id an earlier call with this ClientToken created, if the parameters match.
pub fn replayed(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    op: Op,
    token: Option<&str>,
    fingerprint: &str,
) -> Result<Option<String>, ApiError> {
    let Some(token) = token else { return Ok(None) };
    match store::client_token_get(tx, ctx.part, op.name(), token)? {
        Some((fp, resource)) if fp == fingerprint => Ok(Some(resource)),
        Some(_) => Err(ApiError::conflict(format!(
            "ClientToken {token} was already used with different parameters."
        ))),
        None => Ok(None),
    }
}

/// Remember what a ClientToken created.
pub fn remember(
    ctx: &Ctx<'_>,
    tx: &Transaction<'_>,
    op: Op,
    token: Option<&str>,
    fingerprint: &str,
    resource: &str,
) -> Result<(), ApiError> {
    if let Some(token) = token {
        store::client_token_put(tx, ctx.part, op.name(), token, fingerprint, resource, ctx.now.millis())?;
    }
    Ok(())
}
