//! Status transitions of applications, stream groups and stream sessions as pure functions on
//! the resource documents. The scheduler decides *when* (durable due-times); these decide *what*.

use super::ApiError;
use gls_model::{
    ApplicationStatus, ApplicationStatusReason, ExportFilesStatus, GetApplicationOutput, GetStreamGroupOutput,
    GetStreamSessionOutput, ReplicationStatusType, RuntimeEnvironmentType, StreamGroupLocationStatus,
    StreamGroupStatus, StreamSessionStatus, StreamSessionStatusReason, Timestamp,
};

/// A timed transition, stored durably with its due time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// Application INITIALIZED -> PROCESSING.
    AppProcessing,
    /// Application PROCESSING -> READY (or ERROR).
    AppReady,
    /// Application DELETING -> gone.
    AppDeleted,
    /// Stream group ACTIVATING or UPDATING_LOCATIONS -> ACTIVE: activating locations come up,
    /// removing ones go, replications complete.
    GroupActive,
    /// Stream group DELETING -> gone.
    GroupDeleted,
    /// Stream group reaches ExpiresAt -> EXPIRED.
    GroupExpired,
    /// Session ACTIVATING -> ACTIVE (placed).
    SessionPlaced,
    /// Session RECONNECTING -> ACTIVE.
    SessionReconnected,
    /// Session TERMINATING -> TERMINATED.
    SessionTerminated,
    /// Stream URL reaches ExpiresAt -> EXPIRED.
    UrlExpired,
    /// A URL revoked with its sessions: all of them have ended -> revokedAndSessionsTerminated.
    UrlSessionsEnded,
}

impl TimerKind {
    const NAMES: [(TimerKind, &'static str); 11] = [
        (TimerKind::AppProcessing, "app.processing"),
        (TimerKind::AppReady, "app.ready"),
        (TimerKind::AppDeleted, "app.deleted"),
        (TimerKind::GroupActive, "group.active"),
        (TimerKind::GroupDeleted, "group.deleted"),
        (TimerKind::GroupExpired, "group.expired"),
        (TimerKind::SessionPlaced, "session.placed"),
        (TimerKind::SessionReconnected, "session.reconnected"),
        (TimerKind::SessionTerminated, "session.terminated"),
        (TimerKind::UrlExpired, "url.expired"),
        (TimerKind::UrlSessionsEnded, "url.sessions_ended"),
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .unwrap_or("unknown")
    }
    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(_, n)| *n == s).map(|(k, _)| *k)
    }
}

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

/// ACTIVATING or UPDATING_LOCATIONS -> ACTIVE (ACTIVE_WITH_ERRORS if a location is in ERROR):
/// ACTIVATING locations come up with capacity at always-on, REMOVING ones are dropped.
pub fn group_active(doc: &mut GetStreamGroupOutput, at: Timestamp) -> bool {
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
            let always_on = loc.always_on_capacity.unwrap_or(0);
            loc.requested_capacity = Some(always_on);
            loc.allocated_capacity = Some(always_on);
            loc.idle_capacity = Some(always_on);
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

/// ACTIVATING -> ACTIVE: the session is placed in `location` and answers the signal.
pub fn session_placed(
    doc: &mut GetStreamSessionOutput,
    location: &str,
    signal_response: String,
    at: Timestamp,
) -> bool {
    if doc.status != Some(StreamSessionStatus::Activating) {
        return false;
    }
    doc.status = Some(StreamSessionStatus::Active);
    doc.location = Some(location.to_string());
    doc.signal_response = Some(signal_response);
    doc.application_started_at = Some(at);
    doc.last_updated_at = Some(at);
    true
}

/// TerminateStreamSession. `Ok(true)`: now TERMINATING; `Ok(false)`: already ending, nothing
/// to do; an ACTIVATING session cannot be terminated yet.
pub fn session_terminate_requested(doc: &mut GetStreamSessionOutput, at: Timestamp) -> Result<bool, ApiError> {
    use StreamSessionStatus::*;
    match doc.status.unwrap_or_default() {
        Activating => Err(ApiError::validation(
            "The stream session is still activating and cannot be terminated yet. Try again once it is ACTIVE.",
        )),
        Terminating | Terminated | Error => Ok(false),
        Active | Connected | PendingClientReconnection | Reconnecting => Ok(session_end(doc, at)),
    }
}

/// Whether the session has not ended (nor is ending).
pub fn session_is_live(doc: &GetStreamSessionOutput) -> bool {
    use StreamSessionStatus::*;
    matches!(
        doc.status.unwrap_or_default(),
        Activating | Active | Connected | PendingClientReconnection | Reconnecting
    )
}

/// Any live session -> TERMINATING (apiTerminated): what deleting its group, removing its
/// location or revoking its URL does. Returns whether it changed.
pub fn session_end(doc: &mut GetStreamSessionOutput, at: Timestamp) -> bool {
    if !session_is_live(doc) {
        return false;
    }
    doc.status = Some(StreamSessionStatus::Terminating);
    doc.status_reason = Some(StreamSessionStatusReason::ApiTerminated);
    if doc.streaming_started_at.is_some() {
        doc.streaming_ended_at = Some(at);
    }
    doc.last_updated_at = Some(at);
    true
}

/// CreateStreamSessionConnection: PENDING_CLIENT_RECONNECTION -> RECONNECTING (true: a
/// RECONNECTING -> ACTIVE transition is due); ACTIVE stays ACTIVE with a new answer (false).
pub fn session_reconnect(doc: &mut GetStreamSessionOutput, answer: String, at: Timestamp) -> Result<bool, ApiError> {
    use StreamSessionStatus::*;
    let status = doc.status.unwrap_or_default();
    let reconnecting = match status {
        PendingClientReconnection => true,
        Active => false,
        other => {
            return Err(ApiError::conflict(format!(
                "The stream session is {}; a connection can be created only while it is ACTIVE or \
                 PENDING_CLIENT_RECONNECTION.",
                other.as_str()
            )))
        }
    };
    if reconnecting {
        doc.status = Some(Reconnecting);
    }
    doc.signal_response = Some(answer);
    doc.last_updated_at = Some(at);
    Ok(reconnecting)
}

/// RECONNECTING -> ACTIVE.
pub fn session_reconnected(doc: &mut GetStreamSessionOutput, at: Timestamp) -> bool {
    if doc.status != Some(StreamSessionStatus::Reconnecting) {
        return false;
    }
    doc.status = Some(StreamSessionStatus::Active);
    doc.last_updated_at = Some(at);
    true
}

/// TERMINATING -> TERMINATED. A pending export completes: the archive name is resolved
/// from the end time when the caller gave a prefix.
pub fn session_terminated(doc: &mut GetStreamSessionOutput, app_id: &str, at: Timestamp) -> bool {
    if doc.status != Some(StreamSessionStatus::Terminating) {
        return false;
    }
    doc.status = Some(StreamSessionStatus::Terminated);
    doc.status_reason = Some(StreamSessionStatusReason::ApiTerminated);
    doc.last_updated_at = Some(at);
    if let Some(export) = doc.export_files_metadata.as_mut() {
        if export.status == Some(ExportFilesStatus::Pending) {
            export.status = Some(ExportFilesStatus::Succeeded);
            if let Some(uri) = export.output_uri.as_mut() {
                if uri.ends_with('/') {
                    let group = doc.stream_group_id.clone().unwrap_or_default();
                    let id = doc
                        .arn
                        .as_deref()
                        .and_then(|a| a.rsplit('/').next())
                        .unwrap_or_default();
                    uri.push_str(&format!("{}-{app_id}-{group}-{id}.zip", export_stamp(at)));
                }
            }
        }
    }
    true
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
    use gls_model::{ExportFilesMetadata, RuntimeEnvironment};

    fn session(status: StreamSessionStatus) -> GetStreamSessionOutput {
        GetStreamSessionOutput {
            arn: Some("arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-000000001/ABCDEFGHIJKLM".into()),
            stream_group_id: Some("sg-000000001".into()),
            status: Some(status),
            ..Default::default()
        }
    }

    #[test]
    fn stamp_is_utc_calendar_time() {
        assert_eq!(export_stamp(Timestamp(0)), "19700101-000000");
        assert_eq!(export_stamp(Timestamp(1_753_307_934_293)), "20250723-215854");
    }

    #[test]
    fn terminate_follows_the_state_machine() {
        use StreamSessionStatus::*;
        for s in StreamSessionStatus::ALL {
            let mut doc = session(s);
            let r = session_terminate_requested(&mut doc, Timestamp(5));
            match s {
                Activating => assert!(r.is_err()),
                Terminating | Terminated | Error => {
                    assert_eq!(r, Ok(false));
                    assert_eq!(doc.status, Some(s));
                }
                _ => {
                    assert_eq!(r, Ok(true));
                    assert_eq!(doc.status, Some(Terminating));
                }
            }
        }
    }

    #[test]
    fn termination_completes_a_pending_export() {
        let mut doc = session(StreamSessionStatus::Terminating);
        doc.export_files_metadata = Some(ExportFilesMetadata {
            status: Some(ExportFilesStatus::Pending),
            output_uri: Some("s3://bucket/prefix/".into()),
            ..Default::default()
        });
        assert!(session_terminated(&mut doc, "a-123456789", Timestamp(0)));
        let e = doc.export_files_metadata.unwrap();
        assert_eq!(e.status, Some(ExportFilesStatus::Succeeded));
        assert_eq!(
            e.output_uri.unwrap(),
            "s3://bucket/prefix/19700101-000000-a-123456789-sg-000000001-ABCDEFGHIJKLM.zip"
        );
        assert_eq!(doc.status_reason, Some(StreamSessionStatusReason::ApiTerminated));
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
}
