//! Status transitions of applications, stream groups and stream sessions as pure functions on
//! the resource documents. The scheduler decides *when* (durable due-times); these decide *what*.

use super::session::SessionInternal;
use super::ApiError;
use gls_model::{
    ApplicationStatus, ApplicationStatusReason, ExportFilesStatus, GetApplicationOutput, GetStreamGroupOutput,
    GetStreamSessionOutput, ReplicationStatusType, RuntimeEnvironmentType, StreamGroupLocationStatus,
    StreamGroupStatus, StreamSessionStatus, Timestamp,
};

/// A session whose game is starting is ACTIVE once the game's window is up, or after this long
/// (service time) in any case: a game that shows no window (a server, a console program) still
/// gets its session.
pub const LAUNCH_GRACE_MS: i64 = 30_000;

/// How long each timed transition takes, in milliseconds of service time.
#[derive(Clone, Debug)]
pub struct Delays {
    /// INITIALIZED -> PROCESSING.
    pub app_processing_ms: i64,
    /// PROCESSING -> READY.
    pub app_ready_ms: i64,
    /// Stream group ACTIVATING -> ACTIVE.
    pub group_active_ms: i64,
    /// Session ACTIVATING -> ACTIVE.
    pub session_placed_ms: i64,
    /// Session TERMINATING -> TERMINATED.
    pub session_terminated_ms: i64,
    /// Session RECONNECTING -> ACTIVE.
    pub session_reconnected_ms: i64,
    /// Application DELETING -> gone.
    pub app_deleted_ms: i64,
    /// Stream group DELETING -> gone.
    pub group_deleted_ms: i64,
    /// A location's allocated capacity grows by a step.
    pub scale_up_ms: i64,
}

impl Default for Delays {
    /// Short delays: every waiter of the model succeeds on its first or second poll.
    fn default() -> Self {
        Delays {
            app_processing_ms: 300,
            app_ready_ms: 700,
            group_active_ms: 0,
            session_placed_ms: 1000,
            session_terminated_ms: 1000,
            session_reconnected_ms: 500,
            app_deleted_ms: 1000,
            group_deleted_ms: 0,
            scale_up_ms: 2000,
        }
    }
}

impl Delays {
    /// Durations close to what AWS takes: minutes to process an application or bring up a
    /// stream group, seconds to place a session, minutes to scale up on-demand capacity.
    pub fn realistic() -> Self {
        Delays {
            app_processing_ms: 5_000,
            app_ready_ms: 90_000,
            group_active_ms: 10 * 60_000,
            session_placed_ms: 8_000,
            session_terminated_ms: 10_000,
            session_reconnected_ms: 3_000,
            app_deleted_ms: 30_000,
            group_deleted_ms: 60_000,
            scale_up_ms: 5 * 60_000,
        }
    }

    /// The session state machine's share of these.
    pub fn timing(&self) -> crate::domain::session::Timing {
        crate::domain::session::Timing {
            reconnect_ms: self.session_reconnected_ms,
            terminate_ms: self.session_terminated_ms,
            launch_grace_ms: LAUNCH_GRACE_MS,
        }
    }
}

fn executable_is_plausible(doc: &GetApplicationOutput) -> bool {
    let (Some(rt), Some(path)) = (&doc.runtime_environment, &doc.executable_path) else {
        return false;
    };
    match rt.type_ {
        RuntimeEnvironmentType::Windows | RuntimeEnvironmentType::Proton => {
            let lower = path.to_ascii_lowercase();
            [".exe", ".cmd", ".bat"].iter().any(|s| lower.ends_with(s))
        }
        RuntimeEnvironmentType::Ubuntu => !path.ends_with('/'),
    }
}

/// INITIALIZED -> PROCESSING. Returns whether anything changed.
pub fn app_processing(doc: &mut GetApplicationOutput, at: Timestamp) -> bool {
    if doc.status != Some(ApplicationStatus::Initialized) {
        return false;
    }
    doc.status = Some(ApplicationStatus::Processing);
    doc.last_updated_at = Some(at);
    true
}

/// PROCESSING -> READY, or ERROR when the executable cannot be what the runtime launches.
pub fn app_ready(doc: &mut GetApplicationOutput, at: Timestamp) -> bool {
    if doc.status != Some(ApplicationStatus::Processing) {
        return false;
    }
    if executable_is_plausible(doc) {
        doc.status = Some(ApplicationStatus::Ready);
    } else {
        doc.status = Some(ApplicationStatus::Error);
        doc.status_reason = Some(ApplicationStatusReason::InternalError);
    }
    doc.last_updated_at = Some(at);
    true
}

/// Where a session's application logs go: under the application's log URI, by group and
/// session (SPEC §10 #12).
pub fn log_location(base: &str, group_id: &str, session_id: &str) -> String {
    format!("{}/{group_id}/{session_id}/", base.trim_end_matches('/'))
}

/// What the snapshot of an application's build came to, for its PROCESSING -> READY step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildOutcome {
    /// The build is on disk and follows every rule.
    Ready,
    /// Nothing at the source URI; `required`: `serve --app-builds required`.
    Missing {
        /// A missing build is an error, as in AWS.
        required: bool,
    },
    /// The build broke a rule or could not be read.
    Failed(ApplicationStatusReason),
}

/// PROCESSING -> READY or ERROR by what the build came to: a missing one is judged as
/// before builds were read (the card streams), unless builds are required (accessDenied, as
/// AWS answers a source it cannot read). Returns whether anything changed.
pub fn app_built(doc: &mut GetApplicationOutput, at: Timestamp, build: BuildOutcome) -> bool {
    let failed = match build {
        BuildOutcome::Missing { required: false } => return app_ready(doc, at),
        BuildOutcome::Ready => None,
        BuildOutcome::Missing { required: true } => Some(ApplicationStatusReason::AccessDenied),
        BuildOutcome::Failed(reason) => Some(reason),
    };
    if doc.status != Some(ApplicationStatus::Processing) {
        return false;
    }
    doc.status = Some(if failed.is_some() {
        ApplicationStatus::Error
    } else {
        ApplicationStatus::Ready
    });
    doc.status_reason = failed;
    doc.last_updated_at = Some(at);
    true
}

/// ACTIVATING or UPDATING_LOCATIONS -> ACTIVE (ACTIVE_WITH_ERRORS if a location is in ERROR):
/// ACTIVATING locations come up with capacity at always-on, REMOVING ones are dropped.
pub fn group_active(doc: &mut GetStreamGroupOutput, at: Timestamp) -> bool {
    let tenancy = super::catalog::tenancy(doc.stream_class.unwrap_or_default());
    if !matches!(
        doc.status,
        Some(StreamGroupStatus::Activating | StreamGroupStatus::UpdatingLocations)
    ) {
        return false;
    }
    if let Some(locs) = doc.location_states.as_mut() {
        locs.retain(|l| l.status != Some(StreamGroupLocationStatus::Removing));
    }
    let any_error = doc
        .location_states
        .iter()
        .flatten()
        .any(|l| l.status == Some(StreamGroupLocationStatus::Error));
    doc.status = Some(if any_error {
        StreamGroupStatus::ActiveWithErrors
    } else {
        StreamGroupStatus::Active
    });
    for loc in doc.location_states.iter_mut().flatten() {
        if loc.status == Some(StreamGroupLocationStatus::Activating) {
            loc.status = Some(StreamGroupLocationStatus::Active);
            super::capacity::bring_up(loc, tenancy);
        }
    }
    doc.last_updated_at = Some(at);
    true
}

/// Replication of an application to the locations of a group that just came up completes.
pub fn app_replicated(doc: &mut GetApplicationOutput, locations: &[String], at: Timestamp) -> bool {
    let mut changed = false;
    for r in doc.replication_statuses.iter_mut().flatten() {
        if r.status == Some(ReplicationStatusType::Replicating)
            && r.location.as_ref().is_some_and(|l| locations.contains(l))
        {
            r.status = Some(ReplicationStatusType::Completed);
            changed = true;
        }
    }
    if changed {
        doc.last_updated_at = Some(at);
    }
    changed
}

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Whole days since the group was created.
pub fn group_age_days(g: &GetStreamGroupOutput, now: Timestamp) -> i64 {
    now.millis().saturating_sub(g.created_at.unwrap_or(now).millis()) / DAY_MS
}

/// The group must be in one of `allowed`: else ConflictException (`conflict`) or
/// ValidationException, naming the statuses that would do.
pub fn require_group_status(
    id: &str,
    g: &GetStreamGroupOutput,
    allowed: &[StreamGroupStatus],
    conflict: bool,
) -> Result<(), ApiError> {
    let status = g.status.unwrap_or_default();
    if allowed.contains(&status) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
    let msg = format!(
        "Stream group {id} is {}; this needs it to be {}.",
        status.as_str(),
        names.join(" or ")
    );
    Err(if conflict {
        ApiError::conflict(msg)
    } else {
        ApiError::validation(msg)
    })
}

/// What becomes of a session's pending export when the session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportOutcome {
    /// The archive is to be written to this URI.
    Archive(String),
    /// The export fails, for this reason, with nothing written.
    Failed(String),
}

/// The outcome of the pending export of a session that has just ended at `now` (`None`: it
/// has no pending export). An OutputUri ending in `/` is a prefix: the archive is named
/// `<stamp>-<app>-<group>-<session>.zip` under it. The export fails at once on an injected
/// failure, on ERROR and when no client ever connected; otherwise the archive is written.
pub fn export_outcome(
    doc: &GetStreamSessionOutput,
    internal: &SessionInternal,
    ids: (&str, &str, &str),
    now: Timestamp,
) -> Option<ExportOutcome> {
    let meta = doc.export_files_metadata.as_ref()?;
    if meta.status != Some(ExportFilesStatus::Pending) {
        return None;
    }
    let (app_id, group_id, session_id) = ids;
    let mut uri = meta.output_uri.clone().unwrap_or_default();
    if uri.ends_with('/') {
        uri.push_str(&format!("{}-{app_id}-{group_id}-{session_id}.zip", export_stamp(now)));
    }
    Some(if let Some(reason) = internal.export_failure.clone() {
        ExportOutcome::Failed(reason)
    } else if doc.status == Some(StreamSessionStatus::Error) {
        ExportOutcome::Failed("The stream session ended in ERROR before its files could be collected.".to_string())
    } else if !internal.ever_connected {
        ExportOutcome::Failed("Session ended before files could be collected: no client ever connected.".to_string())
    } else {
        ExportOutcome::Archive(uri)
    })
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn export_stamp(at: Timestamp) -> String {
    let secs = at.millis().div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gls_model::RuntimeEnvironment;

    #[test]
    fn stamp_is_utc_calendar_time() {
        assert_eq!(export_stamp(Timestamp(0)), "19700101-000000");
        assert_eq!(export_stamp(Timestamp(1_753_307_934_293)), "20250723-215854");
    }

    #[test]
    fn apps_error_on_an_implausible_windows_executable() {
        let mut doc = GetApplicationOutput {
            status: Some(ApplicationStatus::Processing),
            runtime_environment: Some(RuntimeEnvironment {
                type_: RuntimeEnvironmentType::Proton,
                version: "20241007".into(),
            }),
            executable_path: Some("Game/run.sh".into()),
            ..Default::default()
        };
        assert!(app_ready(&mut doc, Timestamp(1)));
        assert_eq!(doc.status, Some(ApplicationStatus::Error));
        doc.status = Some(ApplicationStatus::Processing);
        doc.executable_path = Some("Game/Game.EXE".into());
        assert!(app_ready(&mut doc, Timestamp(1)));
        assert_eq!(doc.status, Some(ApplicationStatus::Ready));
    }

    #[test]
    fn a_build_decides_ready_or_error() {
        let processing = || GetApplicationOutput {
            status: Some(ApplicationStatus::Processing),
            runtime_environment: Some(gls_model::RuntimeEnvironment {
                type_: RuntimeEnvironmentType::Ubuntu,
                version: "22_04_LTS".into(),
            }),
            executable_path: Some("run.sh".into()),
            ..Default::default()
        };
        let cases = [
            (BuildOutcome::Ready, ApplicationStatus::Ready, None),
            (
                BuildOutcome::Missing { required: false },
                ApplicationStatus::Ready,
                None,
            ),
            (
                BuildOutcome::Missing { required: true },
                ApplicationStatus::Error,
                Some(ApplicationStatusReason::AccessDenied),
            ),
            (
                BuildOutcome::Failed(ApplicationStatusReason::InternalError),
                ApplicationStatus::Error,
                Some(ApplicationStatusReason::InternalError),
            ),
        ];
        for (build, status, reason) in cases {
            let mut doc = processing();
            assert!(app_built(&mut doc, Timestamp(2), build));
            assert_eq!((doc.status, doc.status_reason), (Some(status), reason), "{build:?}");
            assert!(!app_built(&mut doc, Timestamp(3), build), "only from PROCESSING");
        }
    }
}
