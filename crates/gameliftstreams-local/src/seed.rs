//! Bulk data straight into the store: believable applications, stream groups and sessions
//! with a realistic mix of statuses and export states, for benchmarks and demos.

use crate::domain::ids::{self, Scope};
use crate::domain::lifecycle::export_stamp;
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
}

/// The accounts seeding writes to: the default account, then 100000000001, ...
pub fn account(i: u32) -> String {
    if i == 0 {
        ids::DEFAULT_ACCOUNT.to_string()
    } else {
        format!("{:012}", 100_000_000_000u64 + u64::from(i))
    }
}

/// Status mix, in per-mille: mostly history, a live tail.
const MIX: [(StreamSessionStatus, u32); 8] = [
    (StreamSessionStatus::Terminated, 600),
    (StreamSessionStatus::Error, 80),
    (StreamSessionStatus::Connected, 150),
    (StreamSessionStatus::Active, 90),
    (StreamSessionStatus::Activating, 20),
    (StreamSessionStatus::PendingClientReconnection, 30),
    (StreamSessionStatus::Reconnecting, 10),
    (StreamSessionStatus::Terminating, 20),
];

fn pick_status(rng: &mut StdRng) -> StreamSessionStatus {
    let mut x = rng.random_range(0..1000u32);
    for (s, w) in MIX {
        if x < w {
            return s;
        }
        x -= w;
    }
    StreamSessionStatus::Terminated
}

fn ready_app(scope: &Scope, id: &str, at: Timestamp, group_arn: &str, locations: &[&str]) -> GetApplicationOutput {
    GetApplicationOutput {
        arn: scope.app_arn(id),
        id: Some(id.to_string()),
        description: Some("Seeded game".into()),
        runtime_environment: Some(RuntimeEnvironment {
            type_: RuntimeEnvironmentType::Proton,
            version: "20241007".into(),
        }),
        executable_path: Some("Game/Binaries/Game.exe".into()),
        application_source_uri: Some("s3://gameliftstreams-local-seed/game/".into()),
        status: Some(ApplicationStatus::Ready),
        replication_statuses: Some(
            locations
                .iter()
                .map(|l| ReplicationStatus {
                    location: Some((*l).to_string()),
                    status: Some(ReplicationStatusType::Completed),
                })
                .collect(),
        ),
        created_at: Some(at),
        last_updated_at: Some(at),
        associated_stream_groups: Some(vec![group_arn.to_string()]),
        ..Default::default()
    }
}

fn active_group(scope: &Scope, id: &str, app_id: &str, at: Timestamp, locations: &[&str]) -> GetStreamGroupOutput {
    GetStreamGroupOutput {
        arn: scope.group_arn(id),
        id: Some(id.to_string()),
        description: Some("Seeded stream group".into()),
        default_application: Some(DefaultApplication {
            id: Some(app_id.to_string()),
            arn: Some(scope.app_arn(app_id)),
        }),
        associated_applications: Some(vec![scope.app_arn(app_id)]),
        location_states: Some(
            locations
                .iter()
                .map(|l| LocationState {
                    location_name: Some((*l).to_string()),
                    status: Some(StreamGroupLocationStatus::Active),
                    always_on_capacity: Some(10),
                    on_demand_capacity: Some(90),
                    target_idle_capacity: Some(0),
                    maximum_capacity: Some(100),
                    requested_capacity: Some(10),
                    allocated_capacity: Some(10),
                    idle_capacity: Some(10),
                    ..Default::default()
                })
                .collect(),
        ),
        stream_class: Some(StreamClass::Gen5nUltra),
        status: Some(StreamGroupStatus::Active),
        created_at: Some(at),
        last_updated_at: Some(at),
        expires_at: Some(Timestamp(at.millis() + 365 * 86_400_000)),
        ..Default::default()
    }
}

fn session(rng: &mut StdRng, scope: &Scope, group_id: &str, app_id: &str, locations: &[&str], at: i64) -> SessionRow {
    use StreamSessionStatus::*;
    let id = ids::new_session_id(rng);
    let status = pick_status(rng);
    let location = locations[rng.random_range(0..locations.len())];
    let placed = !(status == Activating || (status == Error && rng.random_bool(0.5)));
    let ended_at = at + rng.random_range(60_000..3_600_000);
    let reason = match status {
        Terminated => Some(
            [
                StreamSessionStatusReason::ApiTerminated,
                StreamSessionStatusReason::ConnectionTimeout,
                StreamSessionStatusReason::IdleTimeout,
                StreamSessionStatusReason::ApplicationExit,
                StreamSessionStatusReason::ReconnectionTimeout,
            ][rng.random_range(0..5)],
        ),
        Error if placed => Some(StreamSessionStatusReason::InternalError),
        Error => Some(StreamSessionStatusReason::PlacementTimeout),
        Terminating => Some(StreamSessionStatusReason::ApiTerminated),
        _ => None,
    };
    let export = match status {
        Terminated | Error => match rng.random_range(0..100) {
            0..=19 => Some(ExportFilesStatus::Succeeded),
            20..=24 => Some(ExportFilesStatus::Failed),
            _ => None,
        },
        Activating => None,
        _ => rng.random_bool(0.1).then_some(ExportFilesStatus::Pending),
    };
    let export_files_metadata = export.map(|s| ExportFilesMetadata {
        status: Some(s),
        status_reason: (s == ExportFilesStatus::Failed)
            .then(|| "Session ended before files could be collected".to_string()),
        output_uri: Some(match s {
            ExportFilesStatus::Succeeded => format!(
                "s3://gameliftstreams-local-exports/sessions/{}-{app_id}-{group_id}-{id}.zip",
                export_stamp(Timestamp(ended_at))
            ),
            _ => "s3://gameliftstreams-local-exports/sessions/".to_string(),
        }),
    });
    let ended = matches!(status, Terminated | Error | Terminating);
    let doc = GetStreamSessionOutput {
        arn: Some(scope.session_arn(group_id, &id)),
        stream_group_id: Some(group_id.to_string()),
        user_id: Some(format!("player-{}", rng.random_range(1..50_000))),
        status: Some(status),
        status_reason: reason,
        protocol: Some(Protocol::WebRtc),
        location: placed.then(|| location.to_string()),
        connection_timeout_seconds: Some(120),
        session_length_seconds: Some(43_200),
        created_at: Some(Timestamp(at)),
        last_updated_at: Some(Timestamp(if ended { ended_at } else { at + 5_000 })),
        application_arn: Some(scope.app_arn(app_id)),
        export_files_metadata,
        application_started_at: placed.then_some(Timestamp(at + 5_000)),
        ..Default::default()
    };
    SessionRow {
        id,
        group_id: group_id.to_string(),
        app_id: app_id.to_string(),
        created_at: at,
        doc,
        internal: SessionInternal {
            locations: vec![location.to_string()],
            ..Default::default()
        },
    }
}

/// Write the data set. Sessions are spread evenly over accounts and, inside each, created
/// in time order over the 30 days before `now_ms`.
pub fn seed(store: &dyn Store, opts: &SeedOptions) -> Result<SeedReport, StoreError> {
    let mut rng = StdRng::seed_from_u64(opts.rng_seed);
    let mut report = SeedReport::default();
    let locations = ["us-west-2", "us-east-1"];
    let span_ms: i64 = 30 * 86_400_000;
    let accounts = opts.accounts.max(1);
    for a in 0..accounts {
        let scope = Scope::new(account(a), opts.region.clone());
        let n = opts.sessions / u64::from(accounts) + u64::from(u64::from(a) < opts.sessions % u64::from(accounts));
        let start = opts.now_ms - span_ms;
        let app_id = ids::new_app_id(&mut rng);
        let group_id = ids::new_group_id(&mut rng);
        let setup_at = Timestamp(start - 86_400_000);
        store.bulk(|tx| {
            let part = tx.partitions().part(&scope.account, &scope.region)?;
            let app = ready_app(&scope, &app_id, setup_at, &scope.group_arn(&group_id), &locations);
            let group = active_group(&scope, &group_id, &app_id, setup_at, &locations);
            tx.applications()
                .insert(part, &app_id, setup_at.millis(), &app, &Tags::new())?;
            tx.groups()
                .insert(part, &group_id, setup_at.millis(), &group, &Tags::new())?;
            Ok(())
        })?;
        report.applications += 1;
        report.stream_groups += 1;
        let step = if n == 0 { 0 } else { span_ms / n as i64 };
        let mut written = 0u64;
        while written < n {
            let batch = (n - written).min(50_000);
            store.bulk(|tx| {
                let part = tx.partitions().part(&scope.account, &scope.region)?;
                for i in 0..batch {
                    let at = start + (written + i) as i64 * step + rng.random_range(0..step.max(1));
                    tx.sessions()
                        .insert(part, &session(&mut rng, &scope, &group_id, &app_id, &locations, at))?;
                }
                Ok(())
            })?;
            written += batch;
        }
        report.sessions += n;
    }
    Ok(report)
}

/// The flag that says the demo account was created.
const DEMO: &str = "demo_created";

/// Create the small demo account once: a ready application, an active stream group and
/// sessions in several statuses. Returns false if it was already there.
pub fn demo(store: &dyn Store, now_ms: i64) -> Result<bool, StoreError> {
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
        },
    )?;
    store.write(|tx| tx.meta().set_flag(DEMO))?;
    Ok(true)
}
