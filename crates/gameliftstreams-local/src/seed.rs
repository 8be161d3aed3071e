//! Bulk data straight into the store: a consistent world of applications, stream groups and
//! sessions for benchmarks and demos. Every session is the state machine driven through a
//! believable history that ends before "now": ended sessions fill the 30 days before it, the
//! live ones are a recent tail that fits its group's capacity, transient statuses lie within
//! their timer's reach, exports end only as the lifecycle ends them, and the live sessions'
//! timers are scheduled, so a seeded world keeps moving when the clock advances.

use crate::domain::capacity;
use crate::domain::catalog;
use crate::domain::ids::{self, Scope};
use crate::domain::lifecycle::{export_outcome, Delays, ExportOutcome};
use crate::domain::session::{self, Effect, Event, Session, Timing, IDLE_TIMEOUT_MS};
use crate::domain::signal;
use crate::domain::timer::TimerKind;
use crate::store::{SessionInternal, SessionRow, Store, StoreError, Tags};
use gls_model::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Sessions in all, spread over the accounts.
    pub sessions: u64,
    /// Number of accounts; the first is the default account.
    pub accounts: u32,
    /// The region.
    pub region: String,
    /// Seed of the random generator (same seed, same data).
    pub rng_seed: u64,
    /// Service time "now": sessions are created over the 30 days before it.
    pub now_ms: i64,
    /// The delays the service will run with: transient statuses are seeded within them.
    pub delays: Delays,
    /// A Linux build for the applications (`s3://…` of a folder with `run-game.sh`): they are
    /// UBUNTU applications whose builds the service snapshots as it starts. `None`: PROTON
    /// applications with no build (their sessions stream the test card).
    pub game: Option<String>,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    /// Sessions written.
    pub sessions: u64,
    /// Applications written.
    pub applications: u64,
    /// Stream groups written.
    pub stream_groups: u64,
    /// Timers scheduled for the live sessions.
    pub timers: u64,
}

/// The accounts seeding writes to: the default account, then 100000000001, ...
pub fn account(i: u32) -> String {
    if i == 0 {
        ids::DEFAULT_ACCOUNT.to_string()
    } else {
        format!("{:012}", 100_000_000_000u64 + u64::from(i))
    }
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// Ended sessions are created over this span before "now".
const SPAN_MS: i64 = 30 * 24 * HOUR;
/// ... up to this long before "now" (every ended path fits in the time left).
const HISTORY_END_MS: i64 = 10 * MINUTE;
/// Live sessions are this share of an account's sessions, up to its group's capacity.
const LIVE_PER_MILLE: u64 = 320;
/// Capacity of each location of a seeded group: always-on, and the most the live tail may
/// hold there. A location's MaximumCapacity is what its live sessions need plus `ALWAYS_ON`
/// of headroom, in tens, within `MAXIMUM`: the group takes no more of the account's GPU quota
/// than its load calls for, and leaves room for the groups a user creates next.
const ALWAYS_ON: i32 = 10;
const MAXIMUM: i32 = 100;
/// Live sessions per account: they fit the two locations (each at most `MAXIMUM`) whatever
/// locations they ask for.
const LIVE_CAP: u64 = 150;
/// The placement deadline of a group with always-on capacity.
const PLACEMENT_TIMEOUT_MS: i64 = 75_000;
/// The host written into seeded sessions' protocol-script address. Reads answer it with the
/// host and port the caller reached the server by (`views::session_via`), as for every session.
const HOST: &str = "127.0.0.1:9080";
/// The export prefix of seeded export requests.
const EXPORT_PREFIX: &str = "s3://gameliftstreams-local-exports/sessions/";

/// The live statuses of the recent tail, in per-mille of it.
const LIVE_MIX: [(StreamSessionStatus, u32); 6] = [
    (StreamSessionStatus::Connected, 470),
    (StreamSessionStatus::Active, 280),
    (StreamSessionStatus::PendingClientReconnection, 94),
    (StreamSessionStatus::Activating, 62),
    (StreamSessionStatus::Terminating, 62),
    (StreamSessionStatus::Reconnecting, 32),
];

/// How ended sessions ended, in per-mille.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    PlacementTimeout,
    InternalError,
    ConnectionTimeout,
    ApiTerminated,
    ApplicationExit,
    IdleTimeout,
    ReconnectionTimeout,
    MaxLength,
}

const ENDINGS: [(Ending, u32); 8] = [
    (Ending::ApiTerminated, 310),
    (Ending::ApplicationExit, 220),
    (Ending::IdleTimeout, 130),
    (Ending::InternalError, 90),
    (Ending::ReconnectionTimeout, 90),
    (Ending::ConnectionTimeout, 70),
    (Ending::MaxLength, 60),
    (Ending::PlacementTimeout, 30),
];

fn pick<T: Copy>(rng: &mut StdRng, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (t, w) in table {
        if x < *w {
            return *t;
        }
        x -= w;
    }
    table[0].0
}

/// A random duration in `lo..hi` (`lo` when the range is empty).
fn between(rng: &mut StdRng, lo: i64, hi: i64) -> i64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

/// The two locations of a seeded group: the region's own (when it is a streaming location),
/// then a neighbour in the same part of the world.
fn locations_for(region: &str) -> [&'static str; 2] {
    let primary = catalog::LOCATIONS
        .iter()
        .copied()
        .find(|l| *l == region)
        .unwrap_or("us-west-2");
    let second = match primary {
        "us-east-1" => "us-east-2",
        "us-east-2" | "us-west-2" | "sa-east-1" => "us-east-1",
        "ap-south-1" | "ap-northeast-2" | "ap-southeast-2" => "ap-northeast-1",
        "ap-northeast-1" => "ap-northeast-2",
        "eu-central-1" => "eu-west-1",
        _ => "eu-central-1",
    };
    [primary, second]
}

/// One account's world: its application, group and what its sessions share.
struct World {
    scope: Scope,
    app_id: String,
    group_id: String,
    app_arn: String,
    protocol_url: String,
    locations: [&'static str; 2],
    now: i64,
    delays: Delays,
    timing: Timing,
    game: Option<String>,
}

/// A session being built by driving the state machine, and the timers it set.
struct Build {
    row: SessionRow,
    timers: Vec<(TimerKind, i64)>,
}

impl Build {
    /// StartStreamSession at `t0`.
    fn start(rng: &mut StdRng, w: &World, t0: i64) -> Build {
        let requested = requested(rng, w);
        let id = ids::new_session_id(rng);
        let length: i32 = match rng.random_range(0..10) {
            0 => 4 * 3600,
            1 => 86_400,
            _ => 43_200,
        };
        let doc = GetStreamSessionOutput {
            arn: Some(w.scope.session_arn(&w.group_id, &id)),
            stream_group_id: Some(w.group_id.clone()),
            user_id: Some(format!("player-{}", rng.random_range(1..50_000))),
            status: Some(StreamSessionStatus::Activating),
            protocol: Some(Protocol::WebRtc),
            signal_request: Some("NO_CLIENT_CONNECTION".into()),
            connection_timeout_seconds: Some(120),
            session_length_seconds: Some(length),
            additional_launch_args: Some(Vec::new()),
            additional_environment_variables: Some(Default::default()),
            performance_stats_configuration: Some(PerformanceStatsConfiguration {
                shared_with_client: Some(false),
            }),
            web_sdk_protocol_url: Some(w.protocol_url.clone()),
            created_at: Some(Timestamp(t0)),
            last_updated_at: Some(Timestamp(t0)),
            application_arn: Some(w.app_arn.clone()),
            ..Default::default()
        };
        let mut b = Build {
            row: SessionRow {
                id,
                group_id: w.group_id.clone(),
                app_id: w.app_id.clone(),
                created_at: t0,
                doc,
                internal: SessionInternal {
                    locations: requested,
                    ..Default::default()
                },
            },
            timers: Vec::new(),
        };
        let fx = session::start(&mut b.session(), Timestamp(t0), PLACEMENT_TIMEOUT_MS);
        b.effects(fx, t0);
        b
    }

    fn session(&mut self) -> Session<'_> {
        Session {
            doc: &mut self.row.doc,
            internal: &mut self.row.internal,
        }
    }

    fn effects(&mut self, fx: Vec<Effect>, at: i64) {
        for f in fx {
            match f {
                Effect::Timer(kind, due) => self.timers.push((kind, due)),
                Effect::Finished => self.finish_export(at),
                Effect::ReleaseSlot(_) => {}
            }
        }
    }

    /// `event` at `at`, as the engine applies it.
    fn on(&mut self, w: &World, event: Event, at: i64) {
        let timing = w.timing;
        let result = session::apply(&mut self.session(), event, Timestamp(at), &timing);
        debug_assert!(result.is_ok(), "seeded history refused: {result:?}");
        if let Ok(fx) = result {
            self.effects(fx, at);
        }
    }

    /// The session is placed at `at` in the first requested location that `free` allows.
    fn place(&mut self, w: &World, at: i64, free: &mut dyn FnMut(&str) -> bool) {
        let location = self
            .row
            .internal
            .locations
            .iter()
            .find(|l| free(l))
            .cloned()
            .unwrap_or_else(|| w.locations[0].to_string());
        let answer = signal::placeholder(&self.row.id, &location);
        self.on(w, Event::Placed { location, answer }, at);
    }

    /// A browser attaches seconds after `placed` (CreateStreamSessionConnection, as after
    /// `NO_CLIENT_CONNECTION`) and connects a moment later; returns when it connected.
    fn connect(&mut self, rng: &mut StdRng, w: &World, placed: i64) -> i64 {
        let at = placed + between(rng, 1_500, 20_000);
        let location = self.row.doc.location.clone().unwrap_or_default();
        let answer = signal::placeholder(&format!("{}-{at}", self.row.id), &location);
        self.on(w, Event::Reconnect(answer), at);
        let connected = at + between(rng, 300, 3_000);
        self.on(w, Event::ClientConnected, connected);
        connected
    }

    /// ExportStreamSessionFiles at `at` (the session is running).
    fn export(&mut self, at: i64) {
        self.row.doc.export_files_metadata = Some(ExportFilesMetadata {
            status: Some(ExportFilesStatus::Pending),
            status_reason: None,
            output_uri: Some(EXPORT_PREFIX.to_string()),
        });
        self.row.doc.last_updated_at = Some(Timestamp(at));
    }

    /// The session ended at `at`: its pending export ends as the engine ends it. The archive
    /// of a SUCCEEDED one is not written (seeding writes the store only).
    fn finish_export(&mut self, at: i64) {
        let r = &self.row;
        let outcome = export_outcome(&r.doc, &r.internal, (&r.app_id, &r.group_id, &r.id), Timestamp(at));
        let Some(meta) = self.row.doc.export_files_metadata.as_mut() else {
            return;
        };
        match outcome {
            Some(ExportOutcome::Archive(uri)) => {
                meta.status = Some(ExportFilesStatus::Succeeded);
                meta.output_uri = Some(uri);
            }
            Some(ExportOutcome::Failed(reason)) => {
                meta.status = Some(ExportFilesStatus::Failed);
                meta.status_reason = Some(reason);
            }
            None => {}
        }
    }

    /// The timers still to fire: each deadline the session holds, and the transient status's.
    fn pending_timers(&self, w: &World) -> Vec<(TimerKind, i64)> {
        let i = &self.row.internal;
        let status = self.row.doc.status.unwrap_or_default();
        let mut out: Vec<(TimerKind, i64)> = self
            .timers
            .iter()
            .copied()
            .filter(|(kind, due)| {
                let current = match kind {
                    TimerKind::PlacementTimeout => i.placement_deadline,
                    TimerKind::ConnectionTimeout => i.connection_deadline,
                    TimerKind::IdleTimeout => i.idle_deadline,
                    TimerKind::MaxLength => i.max_length_deadline,
                    TimerKind::SessionTerminated if status == StreamSessionStatus::Terminating => Some(*due),
                    TimerKind::SessionReconnected if status == StreamSessionStatus::Reconnecting => Some(*due),
                    _ => None,
                };
                current == Some(*due)
            })
            .collect();
        out.dedup();
        if status == StreamSessionStatus::Activating {
            out.push((
                TimerKind::SessionPlaced,
                self.row.created_at + w.delays.session_placed_ms,
            ));
        }
        out
    }
}

/// The locations a session asks for: mostly the group's default, sometimes both, the other
/// first.
fn requested(rng: &mut StdRng, w: &World) -> Vec<String> {
    if rng.random_bool(0.3) {
        vec![w.locations[1].to_string(), w.locations[0].to_string()]
    } else {
        vec![w.locations[0].to_string()]
    }
}

/// An ended session created at `t0`, with at least `HISTORY_END_MS` left before "now".
fn ended(rng: &mut StdRng, w: &World, t0: i64) -> SessionRow {
    let budget = w.now - t0;
    let mut b = Build::start(rng, w, t0);
    let length = i64::from(b.row.doc.session_length_seconds.unwrap_or(43_200)) * 1000;
    let mut ending = pick(rng, &ENDINGS);
    if (ending == Ending::MaxLength && budget <= length + MINUTE)
        || (ending == Ending::IdleTimeout && budget <= IDLE_TIMEOUT_MS + 5 * MINUTE)
    {
        ending = Ending::ApiTerminated;
    }
    if ending == Ending::PlacementTimeout {
        b.on(
            w,
            Event::PlacementTimeout(t0 + PLACEMENT_TIMEOUT_MS),
            t0 + PLACEMENT_TIMEOUT_MS,
        );
        return b.row;
    }
    let placed = t0 + w.delays.session_placed_ms;
    b.place(w, placed, &mut |_| true);
    let export = rng.random_bool(0.25);
    if export {
        b.export(placed + between(rng, 200, 1_000));
    }
    if ending == Ending::ConnectionTimeout {
        let due = placed + 120_000;
        b.on(w, Event::ConnectionTimeout(due), due);
        return b.row;
    }
    let connected = b.connect(rng, w, placed);
    // How long it streams: up to three hours, within the session length and the time left.
    let room = (budget - (connected - t0) - 3 * MINUTE).min(length - (connected - t0) - MINUTE);
    let play = between(rng, MINUTE, room.min(3 * HOUR));
    let end = connected + play;
    // The last input, within the idle timeout before the end.
    let input = (end - between(rng, 1_000, 50 * MINUTE)).max(connected + 1);
    match ending {
        Ending::InternalError => {
            b.on(w, Event::UserInput, input);
            b.on(w, Event::Fault(StreamSessionStatusReason::InternalError), end);
        }
        Ending::ApiTerminated => {
            b.on(w, Event::UserInput, input);
            b.on(w, Event::Terminate, end);
            b.on(w, Event::Terminated, end + w.delays.session_terminated_ms);
        }
        Ending::ApplicationExit => {
            b.on(w, Event::UserInput, input);
            let code = if rng.random_bool(0.9) { 0 } else { 1 };
            b.on(w, Event::ApplicationExited(code), end);
        }
        Ending::IdleTimeout => {
            let input = (end - IDLE_TIMEOUT_MS).max(connected + 1);
            b.on(w, Event::UserInput, input);
            let due = b.row.internal.idle_deadline.unwrap_or(input + IDLE_TIMEOUT_MS);
            b.on(w, Event::IdleTimeout(due), due);
        }
        Ending::ReconnectionTimeout => {
            b.on(w, Event::UserInput, input);
            b.on(w, Event::ClientDisconnected, end);
            let due = b.row.internal.connection_deadline.unwrap_or(end + 120_000);
            b.on(w, Event::ConnectionTimeout(due), due);
        }
        Ending::MaxLength => {
            let due = b.row.internal.max_length_deadline.unwrap_or(t0 + length);
            b.on(w, Event::UserInput, due - between(rng, 1_000, 50 * MINUTE));
            b.on(w, Event::MaxLength(due), due);
        }
        Ending::PlacementTimeout | Ending::ConnectionTimeout => {}
    }
    b.row
}

/// A seeded session and the timers (kind, due at) it has pending.
type Seeded = (SessionRow, Vec<(TimerKind, i64)>);

/// A live session in `status` at "now", placed where `free` has room.
fn live(rng: &mut StdRng, w: &World, status: StreamSessionStatus, free: &mut dyn FnMut(&str) -> bool) -> Seeded {
    use StreamSessionStatus::*;
    let now = w.now;
    let placed_ms = w.delays.session_placed_ms;
    let t0 = match status {
        Activating => now - between(rng, 0, placed_ms),
        Active => now - between(rng, 0, 110_000) - placed_ms,
        // Connected at some point: within the shortest session length, minutes to hours ago.
        _ => now - between(rng, 5 * MINUTE, 3 * HOUR + 30 * MINUTE),
    };
    let mut b = Build::start(rng, w, t0);
    if status != Activating {
        let placed = t0 + placed_ms;
        b.place(w, placed, free);
        let exported = rng.random_bool(0.1);
        if exported {
            b.export(placed + (now - placed) / 2);
        }
        if status != Active {
            let connected = b.connect(rng, w, placed);
            // The last event before "now" within its own timer's reach, the last input
            // within the idle timeout before that.
            let last = match status {
                Reconnecting => now - between(rng, 0, w.delays.session_reconnected_ms),
                Terminating => now - between(rng, 0, w.delays.session_terminated_ms),
                PendingClientReconnection => now - between(rng, 0, 110_000),
                _ => now,
            };
            let input = (last - between(rng, 1_000, 55 * MINUTE)).max(connected + 1);
            b.on(w, Event::UserInput, input);
            match status {
                PendingClientReconnection => b.on(w, Event::ClientDisconnected, last),
                Reconnecting => {
                    b.on(
                        w,
                        Event::ClientDisconnected,
                        (last - between(rng, 2_000, 60_000)).max(input + 1),
                    );
                    let location = b.row.doc.location.clone().unwrap_or_default();
                    let answer = signal::placeholder(&format!("{}-{last}", b.row.id), &location);
                    b.on(w, Event::Reconnect(answer), last);
                }
                Terminating => b.on(w, Event::Terminate, last),
                _ => {}
            }
        }
    }
    let timers = b.pending_timers(w);
    (b.row, timers)
}

fn ready_app(w: &World, at: Timestamp) -> GetApplicationOutput {
    let (runtime, version, executable, source) = match &w.game {
        Some(uri) => (RuntimeEnvironmentType::Ubuntu, "22_04_LTS", "run-game.sh", uri.as_str()),
        None => (
            RuntimeEnvironmentType::Proton,
            "20241007",
            "Game/Binaries/Game.exe",
            "s3://gameliftstreams-local-seed/game/",
        ),
    };
    GetApplicationOutput {
        arn: w.app_arn.clone(),
        id: Some(w.app_id.clone()),
        description: Some(if w.game.is_some() { "Sample game" } else { "Seeded game" }.into()),
        runtime_environment: Some(RuntimeEnvironment {
            type_: runtime,
            version: version.into(),
        }),
        executable_path: Some(executable.into()),
        application_source_uri: Some(source.into()),
        status: Some(ApplicationStatus::Ready),
        replication_statuses: Some(
            w.locations
                .iter()
                .map(|l| ReplicationStatus {
                    location: Some((*l).to_string()),
                    status: Some(ReplicationStatusType::Completed),
                })
                .collect(),
        ),
        created_at: Some(at),
        last_updated_at: Some(at),
        associated_stream_groups: Some(vec![w.scope.group_arn(&w.group_id)]),
        ..Default::default()
    }
}

/// A location's MaximumCapacity for the sessions that hold a slot there and those still to be
/// placed there: their number plus `ALWAYS_ON` of headroom, rounded up to ten, within
/// `ALWAYS_ON..=MAXIMUM`.
fn maximum_for(needed: i32) -> i32 {
    ((needed + ALWAYS_ON + 9) / 10 * 10).clamp(ALWAYS_ON, MAXIMUM)
}

/// The group, sized to the sessions that hold or will want a slot in each location.
fn active_group(w: &World, at: Timestamp, in_use: &[i32; 2], needed: &[i32; 2]) -> GetStreamGroupOutput {
    let class = StreamClass::Gen5nUltra;
    let tenancy = catalog::tenancy(class);
    GetStreamGroupOutput {
        arn: w.scope.group_arn(&w.group_id),
        id: Some(w.group_id.clone()),
        description: Some("Seeded stream group".into()),
        default_application: Some(DefaultApplication {
            id: Some(w.app_id.clone()),
            arn: Some(w.app_arn.clone()),
        }),
        associated_applications: Some(vec![w.app_arn.clone()]),
        location_states: Some(
            w.locations
                .iter()
                .zip(in_use.iter().zip(needed))
                .map(|(l, (used, needed))| {
                    let maximum = maximum_for(*needed);
                    let mut state = LocationState {
                        location_name: Some((*l).to_string()),
                        status: Some(StreamGroupLocationStatus::Active),
                        always_on_capacity: Some(ALWAYS_ON),
                        on_demand_capacity: Some(maximum - ALWAYS_ON),
                        target_idle_capacity: Some(0),
                        maximum_capacity: Some(maximum),
                        requested_capacity: Some(ALWAYS_ON),
                        allocated_capacity: Some(*used),
                        idle_capacity: Some(0),
                        ..Default::default()
                    };
                    capacity::rescale(&mut state, tenancy);
                    state
                })
                .collect(),
        ),
        stream_class: Some(class),
        status: Some(StreamGroupStatus::Active),
        created_at: Some(at),
        last_updated_at: Some(at),
        expires_at: Some(Timestamp(at.millis() + 365 * 86_400_000)),
        ..Default::default()
    }
}

/// The live tail of one account's sessions (oldest first) with its timers, the slots it holds
/// per location, and the slots it will want there (those held, and one for each session still
/// to be placed, in the first location it asks for).
fn live_tail(rng: &mut StdRng, w: &World, n: u64) -> (Vec<Seeded>, [i32; 2], [i32; 2]) {
    let count = (n * LIVE_PER_MILLE).div_ceil(1000).min(LIVE_CAP).min(n);
    let mut in_use = [0i32; 2];
    let mut waiting = [0i32; 2];
    let mut tail = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let status = pick(rng, &LIVE_MIX);
        let mut free = |l: &str| {
            let i = usize::from(l != w.locations[0]);
            in_use[i] < MAXIMUM
        };
        let (row, timers) = live(rng, w, status, &mut free);
        if let Some(slot) = row.internal.slot.as_deref() {
            in_use[usize::from(slot != w.locations[0])] += 1;
        } else if row.doc.status == Some(StreamSessionStatus::Activating) {
            let first = row.internal.locations.first().map(String::as_str);
            waiting[usize::from(first != Some(w.locations[0]))] += 1;
        }
        tail.push((row, timers));
    }
    tail.sort_by_key(|(r, _)| r.created_at);
    let needed = [in_use[0] + waiting[0], in_use[1] + waiting[1]];
    (tail, in_use, needed)
}

/// Write the data set. Sessions are spread evenly over accounts; in each, the ended ones are
/// created in time order over the 30 days before `now_ms` and the live ones are the tail.
pub fn seed(store: &dyn Store, opts: &SeedOptions) -> Result<SeedReport, StoreError> {
    let mut rng = StdRng::seed_from_u64(opts.rng_seed);
    let mut report = SeedReport::default();
    let accounts = opts.accounts.max(1);
    for a in 0..accounts {
        let scope = Scope::new(account(a), opts.region.clone());
        let n = opts.sessions / u64::from(accounts) + u64::from(u64::from(a) < opts.sessions % u64::from(accounts));
        let app_id = ids::new_app_id(&mut rng);
        let group_id = ids::new_group_id(&mut rng);
        let w = World {
            app_arn: scope.app_arn(&app_id),
            protocol_url: signal::web_sdk_url(HOST, &group_id),
            scope,
            app_id,
            group_id,
            locations: locations_for(&opts.region),
            now: opts.now_ms,
            delays: opts.delays.clone(),
            timing: opts.delays.timing(),
            game: opts.game.clone(),
        };
        let (tail, in_use, needed) = live_tail(&mut rng, &w, n);
        let setup_at = Timestamp(opts.now_ms - SPAN_MS - 86_400_000);
        store.bulk(|tx| {
            let part = tx.partitions().part(&w.scope.account, &w.scope.region)?;
            let app = ready_app(&w, setup_at);
            let group = active_group(&w, setup_at, &in_use, &needed);
            tx.applications()
                .insert(part, &w.app_id, setup_at.millis(), &app, &Tags::new())?;
            if w.game.is_some() {
                // Its build is snapshotted by the service's build worker when it starts.
                tx.builds().add(part, &w.app_id)?;
            }
            tx.groups()
                .insert(part, &w.group_id, setup_at.millis(), &group, &Tags::new())?;
            Ok(())
        })?;
        report.applications += 1;
        report.stream_groups += 1;
        // The ended sessions, created evenly over the span, then the live tail.
        let history = n - tail.len() as u64;
        let start = opts.now_ms - SPAN_MS;
        let step = if history == 0 {
            0
        } else {
            (SPAN_MS - HISTORY_END_MS) / history as i64
        };
        let mut written = 0u64;
        while written < history {
            let batch = (history - written).min(50_000);
            store.bulk(|tx| {
                let part = tx.partitions().part(&w.scope.account, &w.scope.region)?;
                for i in 0..batch {
                    let at = start + (written + i) as i64 * step + between(&mut rng, 0, step);
                    tx.sessions().insert(part, &ended(&mut rng, &w, at))?;
                }
                Ok(())
            })?;
            written += batch;
        }
        store.bulk(|tx| {
            let part = tx.partitions().part(&w.scope.account, &w.scope.region)?;
            for (row, timers) in &tail {
                tx.sessions().insert(part, row)?;
                for (kind, due) in timers {
                    tx.timers().add(*due, part, kind.as_str(), &row.id)?;
                }
            }
            Ok(())
        })?;
        report.timers += tail.iter().map(|(_, t)| t.len() as u64).sum::<u64>();
        report.sessions += n;
    }
    Ok(report)
}

/// The flag that says the demo account was created.
const DEMO: &str = "demo_created";

/// Create the small demo account once: a ready application (of `game`, a Linux build, when
/// there is one), an active stream group and sessions in several statuses. Returns false if it
/// was already there.
pub fn demo(store: &dyn Store, now_ms: i64, delays: &Delays, game: Option<String>) -> Result<bool, StoreError> {
    if store.read(|tx| tx.meta().flag(DEMO))? {
        return Ok(false);
    }
    seed(
        store,
        &SeedOptions {
            sessions: 24,
            accounts: 1,
            region: ids::DEFAULT_REGION.into(),
            rng_seed: 20_180_510,
            now_ms,
            delays: delays.clone(),
            game,
        },
    )?;
    store.write(|tx| tx.meta().set_flag(DEMO))?;
    Ok(true)
}
