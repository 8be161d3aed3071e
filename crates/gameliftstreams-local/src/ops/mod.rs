//! The service: one function per operation (`api`), run against the store under the engine
//! that carries out what happens to resources over time and across them (`engine`). This
//! module owns the [`Service`] (built by [`ServiceBuilder`]), the per-request [`Ctx`], the
//! dispatcher with the steps every operation shares (idempotency by ClientToken, firing due
//! timers first, the export worker after) and the one pagination helper. No HTTP here.

pub mod api;
pub mod engine;

use crate::clock::{self, Clock, ClockError, ClockKind};
use crate::domain::cursor::{Binding, Position, TokenCodec};
use crate::domain::ids::Scope;
use crate::domain::lifecycle::Delays;
use crate::domain::ApiError;
use crate::store::{Store, StoreError, Tx};
use engine::apps::Apps;
use engine::builds::BuildWorker;
use engine::exports::{ExportWorker, Failpoint};
use engine::faults::Faults;
use engine::s3::S3Sink;
use engine::signal::Streams;
use gls_model::{ErrorCode, Op, Timestamp};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// How long a ClientToken is remembered, in milliseconds of service time (SPEC: 24 hours).
const CLIENT_TOKEN_TTL_MS: i64 = 24 * 3600 * 1000;

/// Settings of the service that tests and users may change.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Delays of the timed transitions.
    pub delays: Delays,
    /// Service quotas.
    pub quotas: crate::domain::catalog::Quotas,
    /// The local S3 root: `s3://bucket/key` is `<s3_root>/bucket/key` (exports, logs and
    /// application builds).
    pub s3_root: std::path::PathBuf,
    /// Use this S3 endpoint instead of the local S3 root.
    pub s3: Option<S3Sink>,
    /// Where application builds are snapshotted (`<builds_root>/<app id>/`).
    pub builds_root: std::path::PathBuf,
    /// Where the host keeps each session's folders (`<host_root>/sessions/<id>/`: the game's
    /// files and output, for exports), when applications run.
    pub host_root: Option<std::path::PathBuf>,
    /// A missing build is an error (accessDenied), as in AWS; otherwise its sessions stream
    /// the test card.
    pub builds_required: bool,
    /// Days an ended session stays listable (`None`: forever).
    pub session_retention_days: Option<i64>,
    /// What a SignalRequest that is not an offer gets.
    pub signal: crate::domain::signal::SignalMode,
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
    /// What engine work uses (the settings, injected faults, the workers, and the layers that
    /// stream and host).
    pub parts: engine::Parts<'a>,
    /// The pagination token codec.
    pub codec: &'a TokenCodec,
    /// The `Host` the request was sent to, for URLs that point back at this server.
    pub host: &'a str,
}

/// What a listing is, for its NextToken: the operation, the parent resource and the filters.
pub struct Listing<'a> {
    /// The operation.
    pub op: Op,
    /// The parent (stream group id) or "".
    pub parent: &'a str,
    /// Filter values in a fixed order, "" for absent.
    pub filters: &'a [&'a str],
    /// The incoming NextToken.
    pub next_token: Option<&'a str>,
    /// MaxResults (validated 1..100 by the model), default 25.
    pub max_results: Option<i32>,
}

impl Ctx<'_> {
    /// One page of a listing: decode the position, fetch `limit + 1` rows after it, cut the
    /// page and mint the token for the rest. Every List operation goes through here.
    pub fn page<T>(
        &self,
        l: &Listing<'_>,
        fetch: impl FnOnce(Option<&Position>, usize) -> Result<Vec<(Position, T)>, StoreError>,
    ) -> Result<(Vec<T>, Option<String>), ApiError> {
        let mut items = Vec::new();
        let next = self.page_with(l, |after, limit| {
            let mut rows = fetch(after, limit + 1)?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let last = if more {
                rows.last().map(|(p, _)| p.clone())
            } else {
                None
            };
            items = rows.into_iter().map(|(_, t)| t).collect();
            Ok(last)
        })?;
        Ok((items, next))
    }

    /// [`Ctx::page`] for a fetch that keeps the items itself: given the position to start
    /// after and the page size, it says where the page ended if more items follow.
    pub fn page_with(
        &self,
        l: &Listing<'_>,
        fetch: impl FnOnce(Option<&Position>, usize) -> Result<Option<Position>, StoreError>,
    ) -> Result<Option<String>, ApiError> {
        let binding = Binding {
            operation: l.op.name(),
            account: &self.scope.account,
            region: &self.scope.region,
            parent: l.parent,
            filters: l.filters,
        };
        let after = l
            .next_token
            .map(|t| self.codec.decode(&binding, t, self.now.millis()))
            .transpose()?;
        let limit = l.max_results.map(|m| m.clamp(1, 100) as usize).unwrap_or(25);
        let last = fetch(after.as_ref(), limit)?;
        Ok(last.map(|p| self.codec.encode(&binding, &p, self.now.millis())))
    }

    /// `ms` after the request's time (saturating: a due time past the end of time never falls due).
    pub fn later(&self, ms: i64) -> i64 {
        self.now.millis().saturating_add(ms)
    }
}

/// The service: store, clock, settings, faults and the engine's bookkeeping.
pub struct Service {
    store: Arc<dyn Store>,
    clock: Box<dyn Clock>,
    settings: Settings,
    faults: Faults,
    codec: TokenCodec,
    next_due: AtomicI64,
    /// The order of the write that last published `next_due`.
    published: std::sync::Mutex<u64>,
    wake: Notify,
    exports: ExportWorker,
    builds: BuildWorker,
    streams: Option<Arc<dyn Streams>>,
    apps: Option<Arc<dyn Apps>>,
}

/// Builds a [`Service`] over a store: settings and the clock kind are optional.
pub struct ServiceBuilder {
    store: Arc<dyn Store>,
    settings: Settings,
    clock: ClockKind,
    failpoint: Option<Failpoint>,
    streams: Option<Arc<dyn Streams>>,
    apps: Option<Arc<dyn Apps>>,
}

impl ServiceBuilder {
    /// The settings.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The kind of clock.
    pub fn clock(mut self, kind: ClockKind) -> Self {
        self.clock = kind;
        self
    }

    /// The streaming layer that answers WebRTC offers.
    pub fn streams(mut self, streams: Arc<dyn Streams>) -> Self {
        self.streams = Some(streams);
        self
    }

    /// The layer that runs each placed session's application.
    pub fn apps(mut self, apps: Arc<dyn Apps>) -> Self {
        self.apps = Some(apps);
        self
    }

    /// Where the export worker stops the process (crash tests only).
    pub fn failpoint(mut self, failpoint: Option<Failpoint>) -> Self {
        self.failpoint = failpoint;
        self
    }

    /// Read the token secret and the clock's persisted state from the store and build the
    /// service. A persisted clock that is out of range is refused, naming the fix.
    pub fn build(self) -> Result<Service, String> {
        let store = self.store;
        let loaded = store.write(|tx| {
            let secret = tx.meta().token_secret()?;
            let clock = tx.meta().clock()?;
            Ok::<_, StoreError>((secret, clock, tx.timers().next()?))
        });
        let (secret, (offset, frozen), next) = loaded.map_err(|e| e.to_string())?;
        let clock = clock::resume(self.clock, offset, frozen).map_err(|e| {
            format!(
                "{e}. This data dir was written by a version that let the clock leave that range: \
                 delete its clock state (sqlite3 state.db \"DELETE FROM meta WHERE key LIKE 'clock_%'\") \
                 or start with a new --data-dir"
            )
        })?;
        store
            .write(|tx| tx.meta().set_clock(clock.state()))
            .map_err(|e| e.to_string())?;
        Ok(Service {
            store,
            clock,
            settings: self.settings,
            faults: Faults::default(),
            codec: TokenCodec::new(secret),
            next_due: AtomicI64::new(next.unwrap_or(i64::MAX)),
            published: std::sync::Mutex::new(0),
            wake: Notify::new(),
            exports: ExportWorker::new(self.failpoint),
            builds: BuildWorker::default(),
            streams: self.streams,
            apps: self.apps,
        })
    }
}

/// What `GET /_local/health` reports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Service time.
    pub now: Timestamp,
    /// `system` or `frozen`.
    pub clock: &'static str,
    /// Timers that failed and were set aside.
    pub dead_letters: i64,
    /// Export archives still to be written.
    pub pending_exports: usize,
}

/// What the metrics read at each scrape, besides the health.
pub struct Gauges {
    /// The health: timers set aside, exports pending.
    pub health: Health,
    /// Timers waiting to fire.
    pub pending_timers: i64,
    /// Sessions in each status, over every account and region.
    pub sessions: Vec<(gls_model::StreamSessionStatus, u64)>,
}

type Handler<I, O> = fn(&Ctx<'_>, &dyn Tx, I) -> Result<O, ApiError>;

impl Service {
    /// A builder over `store`.
    pub fn builder(store: Arc<dyn Store>) -> ServiceBuilder {
        ServiceBuilder {
            store,
            settings: Settings::default(),
            clock: ClockKind::System,
            failpoint: None,
            streams: None,
            apps: None,
        }
    }

    /// The streaming layer, when there is one.
    pub fn streams(&self) -> Option<&dyn Streams> {
        self.streams.as_deref()
    }

    /// The layer that runs the sessions' applications, when there is one.
    pub fn apps(&self) -> Option<&dyn Apps> {
        self.apps.as_deref()
    }

    /// The current service time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The kind of clock.
    pub fn clock_kind(&self) -> &'static str {
        self.clock.kind()
    }

    /// How far service time is ahead of wall time, in milliseconds.
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock.offset_ms()
    }

    /// Resolves when a write may have scheduled a timer.
    pub fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// Whether `op` can be answered on the caller's thread: a read (Get*, List*) while no
    /// timer is due, so it neither writes nor waits for the writer. Others are blocking calls.
    pub fn answers_inline(&self, op: Op) -> bool {
        let name = op.name();
        (name.starts_with("Get") || name.starts_with("List"))
            && self.next_due.load(Ordering::SeqCst) > self.clock.now().millis()
    }

    /// Run one operation with its input as assembled by the protocol layer (already checked
    /// against the model); the output's JSON bytes. Blocking: call from a blocking thread
    /// unless [`Service::answers_inline`] says otherwise.
    pub fn call(&self, op: Op, scope: &Scope, host: &str, input: Value) -> Result<Vec<u8>, ApiError> {
        use api::*;
        let r = Request { op, scope, host, input };
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
            Op::AddStreamGroupLocations => self.write(r, locations::add),
            Op::RemoveStreamGroupLocations => self.write(r, locations::remove),
            Op::AssociateApplications => self.write(r, locations::associate),
            Op::DisassociateApplications => self.write(r, locations::disassociate),
            Op::StartStreamSession => self.write(r, sessions::start),
            Op::GetStreamSession => self.read(r, sessions::get),
            Op::TerminateStreamSession => self.write(r, sessions::terminate),
            Op::ListStreamSessions => self.read(r, sessions::list),
            Op::ListStreamSessionsByAccount => self.read_rendered(r, sessions::list_by_account),
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

    /// Run `f` in a write transaction once due timers have fired; then write the export
    /// archives that the transaction (or the timers) queued, outside of it.
    fn write_engine<T>(&self, f: impl FnOnce(&dyn Tx, Timestamp) -> Result<T, ApiError>) -> Result<T, ApiError> {
        self.write_engine_next(f).map(|(out, _)| out)
    }

    /// `write_engine`, also answering when the next timer falls due.
    fn write_engine_next<T>(
        &self,
        f: impl FnOnce(&dyn Tx, Timestamp) -> Result<T, ApiError>,
    ) -> Result<(T, Option<i64>), ApiError> {
        let now = self.clock.now();
        let out = self.store.write_then(
            |tx| {
                engine::timers::fire_due(tx, self.parts(), now)?;
                let out = f(tx, now)?;
                Ok::<_, ApiError>((out, tx.timers().next()?))
            },
            |order, (_, next)| self.publish_next_due(order, *next),
        )?;
        self.wake.notify_one();
        self.builds.committed();
        self.exports.run(self.store.as_ref(), &self.settings);
        Ok(out)
    }

    /// Run `f` as a write with the caller's context.
    fn write_as<T>(
        &self,
        scope: &Scope,
        host: &str,
        f: impl FnOnce(&Ctx<'_>, &dyn Tx) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.write_engine(|tx, now| {
            let part = tx.partitions().part(&scope.account, &scope.region)?;
            f(&self.ctx(scope, host, part, now), tx)
        })
    }

    /// What engine work uses of the service.
    pub(crate) fn parts(&self) -> engine::Parts<'_> {
        engine::Parts {
            settings: &self.settings,
            faults: &self.faults,
            exports: &self.exports,
            builds: &self.builds,
            streams: self.streams.as_deref(),
            apps: self.apps.as_deref(),
        }
    }

    fn ctx<'a>(&'a self, scope: &'a Scope, host: &'a str, part: i64, now: Timestamp) -> Ctx<'a> {
        Ctx {
            scope,
            part,
            now,
            settings: &self.settings,
            parts: self.parts(),
            codec: &self.codec,
            host,
        }
    }

    /// A write operation. When the operation's input has an idempotency token (per the
    /// model) and the caller sent one, a retry with the same parameters within 24 hours gets
    /// the first response again, and one with other parameters a ConflictException.
    fn write<I: DeserializeOwned, O: Serialize>(&self, r: Request<'_>, f: Handler<I, O>) -> Result<Vec<u8>, ApiError> {
        let token = idempotency_token(r.op, &r.input);
        let fingerprint = token.as_ref().map(|(member, _)| fingerprint(&r.input, member));
        let input: I = decode(r.input)?;
        self.write_as(r.scope, r.host, |ctx, tx| {
            if let (Some((_, token)), Some(fp)) = (&token, &fingerprint) {
                let since = ctx.now.millis().saturating_sub(CLIENT_TOKEN_TTL_MS);
                if let Some((seen, response)) = tx.tokens().get(ctx.part, r.op.name(), token, since)? {
                    if seen != *fp {
                        return Err(ApiError::conflict(format!(
                            "ClientToken {token} was already used with different parameters."
                        )));
                    }
                    return Ok(response.into_bytes());
                }
            }
            let out = serde_json::to_vec(&f(ctx, tx, input)?).map_err(ApiError::internal)?;
            if let (Some((_, token)), Some(fp)) = (&token, &fingerprint) {
                let text = std::str::from_utf8(&out).map_err(ApiError::internal)?;
                tx.tokens()
                    .put(ctx.part, r.op.name(), token, fp, text, ctx.now.millis())?;
            }
            Ok(out)
        })
    }

    fn read<I: DeserializeOwned, O: Serialize>(&self, r: Request<'_>, f: Handler<I, O>) -> Result<Vec<u8>, ApiError> {
        self.read_rendered(r, |ctx, tx, input| {
            serde_json::to_vec(&f(ctx, tx, input)?).map_err(ApiError::internal)
        })
    }

    /// `read` for a handler that writes its output's JSON itself.
    fn read_rendered<I: DeserializeOwned>(
        &self,
        r: Request<'_>,
        f: impl FnOnce(&Ctx<'_>, &dyn Tx, I) -> Result<Vec<u8>, ApiError>,
    ) -> Result<Vec<u8>, ApiError> {
        let input: I = decode(r.input)?;
        let now = self.clock.now();
        // Whatever fell due before this request is applied before it is answered.
        if self.next_due.load(Ordering::SeqCst) <= now.millis() {
            self.fire_due()?;
        }
        let part = self.store.part(&r.scope.account, &r.scope.region)?;
        self.store
            .read(|tx| f(&self.ctx(r.scope, r.host, part, now), tx, input))
    }

    /// Fire every timer due by now, in due order, then write queued export archives.
    /// Returns the next due time.
    fn fire_due(&self) -> Result<Option<i64>, ApiError> {
        self.write_engine_next(|_, _| Ok(())).map(|(_, next)| next)
    }

    /// Readers skip firing timers when the next one is not due yet, so this is published
    /// only once the commit that decided it is visible, and only by the latest write (writes
    /// that shared a commit publish in any order; the one that ran last saw all of them).
    fn publish_next_due(&self, order: u64, next: Option<i64>) {
        let mut last = self.published.lock().unwrap_or_else(|p| p.into_inner());
        if order >= *last {
            *last = order;
            self.next_due.store(next.unwrap_or(i64::MAX), Ordering::SeqCst);
        }
    }

    /// Builds were queued outside a request (seeding): wake the build worker.
    pub fn builds_queued(&self) {
        self.builds.queued();
        self.builds.committed();
    }

    /// Start the thread that takes application builds' snapshots (and removes those of
    /// deleted applications); it ends once the service is dropped.
    pub fn start_build_worker(self: &Arc<Self>) -> std::io::Result<()> {
        let weak = Arc::downgrade(self);
        let waiter = self.builds.waiter();
        std::thread::Builder::new().name("gls-builds".into()).spawn(move || {
            while weak.strong_count() > 0 {
                waiter.serve(|| match weak.upgrade() {
                    Some(service) => service
                        .builds
                        .run(service.store.as_ref(), &service.settings, &|| service.clock.now()),
                    None => false,
                });
            }
        })?;
        Ok(())
    }

    /// One scheduler step: fire what is due (touching the store only if something is), write
    /// export archives left from before a restart, and say when the next timer falls due.
    pub fn tick(&self) -> Result<Option<i64>, ApiError> {
        let next = self.next_due.load(Ordering::SeqCst);
        if next <= self.clock.now().millis() {
            return self.fire_due();
        }
        self.exports.run(self.store.as_ref(), &self.settings);
        Ok((next != i64::MAX).then_some(next))
    }

    /// Move the service clock forward and fire what fell due on the way. An advance out of
    /// range changes nothing.
    pub fn advance_clock(&self, seconds: i64) -> Result<Result<Timestamp, ClockError>, ApiError> {
        // Snapshots asked for before this advance get a moment to finish, so that the READY
        // timers it fires find them taken (a long one is finished by its worker later).
        self.builds.settle(std::time::Duration::from_secs(5));
        let state = match self.clock.advance(seconds) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        self.store.write(|tx| tx.meta().set_clock(state))?;
        self.fire_due()?;
        Ok(Ok(self.clock.now()))
    }

    /// Forget all resources and injected faults, and set the clock back to wall time (frozen
    /// or not: nothing is left that an earlier service time could contradict).
    pub fn reset(&self) -> Result<(), ApiError> {
        self.store.reset()?;
        self.builds.swept();
        self.faults.clear();
        self.clock.rewind();
        self.store.write(|tx| tx.meta().clear_clock())?;
        self.fire_due()?;
        Ok(())
    }

    /// Forget the resources and injected faults of one account in one region; the others
    /// and the clock stay.
    pub fn reset_scope(&self, scope: &Scope) -> Result<(), ApiError> {
        let part = self.store.part(&scope.account, &scope.region)?;
        self.store.reset_part(part)?;
        self.builds.swept();
        self.faults.clear_scope(&scope.account, &scope.region, part);
        self.fire_due()?;
        Ok(())
    }

    /// What the health check reports.
    pub fn health(&self) -> Result<Health, ApiError> {
        let dead_letters = self.store.read(|tx| tx.timers().dead_letters())?;
        Ok(Health {
            now: self.clock.now(),
            clock: self.clock.kind(),
            dead_letters,
            pending_exports: self.exports.pending(self.store.as_ref())?,
        })
    }

    /// The health, the timers waiting and the sessions by status (the store's counts: O(1) in
    /// the number of sessions).
    pub fn gauges(&self) -> Result<Gauges, ApiError> {
        let (pending_timers, sessions) = self
            .store
            .read(|tx| Ok::<_, StoreError>((tx.timers().pending()?, tx.sessions().status_totals()?)))?;
        Ok(Gauges {
            health: self.health()?,
            pending_timers,
            sessions,
        })
    }

    /// An injected failure of the operation, if one is left for this caller.
    pub fn take_operation_fault(&self, scope: &Scope, op: Op) -> Option<ErrorCode> {
        self.faults.take_operation(&scope.account, &scope.region, op.name())
    }

    /// The next `count` calls of `op` by this caller answer `code`.
    pub fn fail_operation(&self, scope: &Scope, op: Op, code: ErrorCode, count: u32) {
        self.faults
            .fail_operation(&scope.account, &scope.region, op.name(), code, count);
    }
}

/// One request as the protocol layer hands it over.
struct Request<'a> {
    op: Op,
    scope: &'a Scope,
    host: &'a str,
    input: Value,
}

fn decode<I: DeserializeOwned>(input: Value) -> Result<I, ApiError> {
    serde_json::from_value(input).map_err(|e| ApiError::validation(format!("The request could not be read: {e}")))
}

/// The idempotency-token member of the operation's input (from the model) and its value.
fn idempotency_token(op: Op, input: &Value) -> Option<(&'static str, String)> {
    let member = op.spec().input_members().iter().find(|m| m.idempotency_token)?;
    let token = input.get(member.wire_name)?.as_str()?;
    Some((member.wire_name, token.to_string()))
}

/// The canonical form of an input for ClientToken comparison: the JSON without the token.
fn fingerprint(input: &Value, token_member: &str) -> String {
    match input {
        Value::Object(m) => {
            let mut m = m.clone();
            m.remove(token_member);
            m.sort_keys();
            Value::Object(m).to_string()
        }
        other => other.to_string(),
    }
}
