//! The stream session state machine as one pure function: `apply(session, event, now, timing)`
//! changes the session and returns the effects the engine must carry out (timers to schedule,
//! a capacity slot to release, an export to finish), or refuses the event and changes nothing.
//!
//! Timers are never cancelled: each deadline is kept on the session, and a timer whose due time
//! is no longer the session's deadline is stale and ignored. That makes "restart the connection
//! timer" a matter of writing a new deadline.

use gls_model::{GetStreamSessionOutput, StreamSessionStatus, StreamSessionStatusReason, Timestamp};
use serde::{Deserialize, Serialize};

use super::timer::TimerKind;

/// Sixty minutes without user input end a connected session.
pub const IDLE_TIMEOUT_MS: i64 = 60 * 60 * 1000;

/// Service-side facts of a session that no API shape carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionInternal {
    /// The requested locations, in priority order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
    /// A client has been connected at least once.
    #[serde(default)]
    pub ever_connected: bool,
    /// The location whose capacity slot the session holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The session waits for capacity (its first placement attempt found none).
    #[serde(default)]
    pub waiting: bool,
    /// ERROR/placementTimeout at this time unless placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_deadline: Option<i64>,
    /// connectionTimeout / reconnectionTimeout at this time unless a client connects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_deadline: Option<i64>,
    /// idleTimeout at this time unless input arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_deadline: Option<i64>,
    /// maxSessionLengthTimeout at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length_deadline: Option<i64>,
    /// Started through a stream URL: a dropped client is not expected back.
    #[serde(default)]
    pub from_url: bool,
    /// The exit code when the application exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// An injected export failure: the pending export ends FAILED with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_failure: Option<String>,
    /// Placed, and its game is starting: ACTIVE once the game's window is up (or the grace
    /// has passed), with this location and answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launching: Option<Launching>,
}

/// A placed session whose game is starting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Launching {
    /// Where it was placed.
    pub location: String,
    /// Its WebRTC answer.
    pub answer: String,
    /// ACTIVE at this time even if the game has shown no window.
    pub grace_deadline: i64,
}

/// Something that happens to a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The engine found capacity in `location`.
    Placed {
        /// Where.
        location: String,
        /// The WebRTC answer.
        answer: String,
    },
    /// The engine found capacity in `location` for a session whose game is to start: it stays
    /// ACTIVATING, holding the slot, until the game is up.
    Launching {
        /// Where.
        location: String,
        /// The WebRTC answer.
        answer: String,
    },
    /// The session's game is up (its window is mapped): a launching session is ACTIVE.
    AppStarted,
    /// The launch grace (due at the given time) passed: a launching session is ACTIVE anyway.
    LaunchGrace(i64),
    /// The placement deadline (due at the given time) passed.
    PlacementTimeout(i64),
    /// A client connected.
    ClientConnected,
    /// The client went away.
    ClientDisconnected,
    /// The user sent input.
    UserInput,
    /// The application process exited.
    ApplicationExited(i32),
    /// The connection deadline (due at the given time) passed.
    ConnectionTimeout(i64),
    /// The idle deadline (due at the given time) passed.
    IdleTimeout(i64),
    /// The session length deadline (due at the given time) passed.
    MaxLength(i64),
    /// TerminateStreamSession.
    Terminate,
    /// The session's group, location or URL goes away: any live session ends.
    End,
    /// TERMINATING is over.
    Terminated,
    /// CreateStreamSessionConnection with a new answer.
    Reconnect(String),
    /// The reconnection completed.
    Reconnected,
    /// An injected failure.
    Fault(StreamSessionStatusReason),
    /// The application's logs could not be stored where the application sends them (found
    /// once the session has ended and its game has stopped): TERMINATED becomes
    /// ERROR/applicationLogS3DestinationError.
    LogUploadFailed,
}

impl Event {
    /// The event a session timer of `kind`, due at `due`, stands for. `None` for timers that
    /// are not a state-machine event (placement attempts and expunging are engine work) and
    /// for timers of other resources.
    pub fn from_timer(kind: TimerKind, due: i64) -> Option<Event> {
        match kind {
            TimerKind::PlacementTimeout => Some(Event::PlacementTimeout(due)),
            TimerKind::ConnectionTimeout => Some(Event::ConnectionTimeout(due)),
            TimerKind::IdleTimeout => Some(Event::IdleTimeout(due)),
            TimerKind::MaxLength => Some(Event::MaxLength(due)),
            TimerKind::SessionTerminated => Some(Event::Terminated),
            TimerKind::SessionReconnected => Some(Event::Reconnected),
            TimerKind::LaunchGrace => Some(Event::LaunchGrace(due)),
            _ => None,
        }
    }
}

/// What the engine must do after a transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Schedule a timer for this session.
    Timer(TimerKind, i64),
    /// The capacity slot held in this location is free again.
    ReleaseSlot(String),
    /// The session has ended (TERMINATED or ERROR): a pending export completes.
    Finished,
}

/// Why an event was refused; the session is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The status does not allow it (API: Conflict where declared; admin API: 409).
    WrongState(String),
    /// TerminateStreamSession on an ACTIVATING session (API: ValidationException).
    StillActivating,
}

impl Refusal {
    /// Why, in words.
    pub fn message(&self) -> String {
        match self {
            Refusal::WrongState(why) => why.clone(),
            Refusal::StillActivating => "The stream session is still activating.".to_string(),
        }
    }
}

/// How long the timed parts of the lifecycle take.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// RECONNECTING -> ACTIVE.
    pub reconnect_ms: i64,
    /// TERMINATING -> TERMINATED.
    pub terminate_ms: i64,
    /// A launching session is ACTIVE after this long even if its game shows no window.
    pub launch_grace_ms: i64,
}

/// A session and what the service keeps beside it.
pub struct Session<'a> {
    /// The API document.
    pub doc: &'a mut GetStreamSessionOutput,
    /// Service-side facts.
    pub internal: &'a mut SessionInternal,
}

use StreamSessionStatus::*;

fn status(s: &Session<'_>) -> StreamSessionStatus {
    s.doc.status.unwrap_or_default()
}

/// The statuses of a session that is running or starting (not ending, not ended).
pub const LIVE: [StreamSessionStatus; 5] = [Activating, Active, Connected, PendingClientReconnection, Reconnecting];

/// The statuses of a session that is placed and running: what exports and admin shells need.
pub const RUNNING: [StreamSessionStatus; 4] = [Active, Connected, PendingClientReconnection, Reconnecting];

/// Whether a session in this status is running or starting (not ending, not ended).
pub fn is_live(status: StreamSessionStatus) -> bool {
    LIVE.contains(&status)
}

/// Whether a session in this status is placed and running.
pub fn is_running(status: StreamSessionStatus) -> bool {
    RUNNING.contains(&status)
}

fn connection_ms(s: &Session<'_>) -> i64 {
    i64::from(s.doc.connection_timeout_seconds.unwrap_or(120)) * 1000
}

fn set(s: &mut Session<'_>, status: StreamSessionStatus, reason: Option<StreamSessionStatusReason>, now: Timestamp) {
    s.doc.status = Some(status);
    s.doc.status_reason = reason;
    s.doc.last_updated_at = Some(now);
}

/// The deadlines a session gets when it is created; returns the timers to schedule.
pub fn start(s: &mut Session<'_>, now: Timestamp, placement_timeout_ms: i64) -> Vec<Effect> {
    let placement = now.millis().saturating_add(placement_timeout_ms);
    let max_len = now.millis() + i64::from(s.doc.session_length_seconds.unwrap_or(43_200)) * 1000;
    s.internal.placement_deadline = Some(placement);
    s.internal.max_length_deadline = Some(max_len);
    vec![
        Effect::Timer(TimerKind::PlacementTimeout, placement),
        Effect::Timer(TimerKind::MaxLength, max_len),
    ]
}

/// Leave the live states for good: deadlines cleared, streaming end stamped, slot released.
fn finish(
    s: &mut Session<'_>,
    status: StreamSessionStatus,
    reason: StreamSessionStatusReason,
    now: Timestamp,
) -> Vec<Effect> {
    set(s, status, Some(reason), now);
    if s.doc.streaming_started_at.is_some() && s.doc.streaming_ended_at.is_none() {
        s.doc.streaming_ended_at = Some(now);
    }
    let i = &mut *s.internal;
    i.placement_deadline = None;
    i.connection_deadline = None;
    i.idle_deadline = None;
    i.max_length_deadline = None;
    i.waiting = false;
    let mut effects = Vec::new();
    if matches!(status, Terminated | StreamSessionStatus::Error) {
        if let Some(loc) = i.slot.take() {
            effects.push(Effect::ReleaseSlot(loc));
        }
        effects.push(Effect::Finished);
    }
    effects
}

fn arm_connection(s: &mut Session<'_>, now: Timestamp) -> Effect {
    let due = now.millis() + connection_ms(s);
    s.internal.connection_deadline = Some(due);
    Effect::Timer(TimerKind::ConnectionTimeout, due)
}

fn arm_idle(s: &mut Session<'_>, now: Timestamp) -> Effect {
    let due = now.millis() + IDLE_TIMEOUT_MS;
    s.internal.idle_deadline = Some(due);
    Effect::Timer(TimerKind::IdleTimeout, due)
}

fn wrong(s: &Session<'_>, what: &str) -> Refusal {
    Refusal::WrongState(format!(
        "{what} is not possible while the stream session is {}.",
        status(s).as_str()
    ))
}

/// Apply `event` at `now`. On success the session has changed (or the event was a stale timer,
/// which changes nothing and has no effects).
pub fn apply(s: &mut Session<'_>, event: Event, now: Timestamp, timing: &Timing) -> Result<Vec<Effect>, Refusal> {
    let st = status(s);
    let mut fx = Vec::new();
    match event {
        Event::Placed { location, answer } => {
            if st != Activating || s.internal.launching.is_some() {
                return Err(wrong(s, "Placement"));
            }
            set(s, Active, None, now);
            s.doc.location = Some(location.clone());
            s.doc.signal_response = Some(answer);
            s.doc.application_started_at = Some(now);
            s.internal.slot = Some(location);
            s.internal.waiting = false;
            s.internal.placement_deadline = None;
            fx.push(arm_connection(s, now));
        }
        Event::Launching { location, answer } => {
            if st != Activating || s.internal.launching.is_some() {
                return Err(wrong(s, "Placement"));
            }
            let grace_deadline = now.millis().saturating_add(timing.launch_grace_ms);
            s.doc.last_updated_at = Some(now);
            s.doc.application_started_at = Some(now);
            s.internal.slot = Some(location.clone());
            s.internal.waiting = false;
            s.internal.placement_deadline = None;
            s.internal.launching = Some(Launching {
                location,
                answer,
                grace_deadline,
            });
            fx.push(Effect::Timer(TimerKind::LaunchGrace, grace_deadline));
        }
        Event::AppStarted | Event::LaunchGrace(_) => {
            let Some(launch) = s.internal.launching.clone().filter(|_| st == Activating) else {
                return match event {
                    Event::AppStarted => Err(wrong(s, "A game start")),
                    _ => Ok(fx), // stale
                };
            };
            if matches!(event, Event::LaunchGrace(due) if due != launch.grace_deadline) {
                return Ok(fx);
            }
            s.internal.launching = None;
            set(s, Active, None, now);
            s.doc.location = Some(launch.location);
            s.doc.signal_response = Some(launch.answer);
            fx.push(arm_connection(s, now));
        }
        Event::PlacementTimeout(due) => {
            if st != Activating || s.internal.placement_deadline != Some(due) {
                return Ok(fx);
            }
            fx = finish(
                s,
                StreamSessionStatus::Error,
                StreamSessionStatusReason::PlacementTimeout,
                now,
            );
        }
        Event::ClientConnected => {
            if st != Active {
                return Err(wrong(s, "A client connection"));
            }
            set(s, Connected, None, now);
            s.internal.ever_connected = true;
            s.internal.connection_deadline = None;
            if s.doc.streaming_started_at.is_none() {
                s.doc.streaming_started_at = Some(now);
            }
            fx.push(arm_idle(s, now));
        }
        Event::ClientDisconnected => {
            if st != Connected {
                return Err(wrong(s, "A client disconnection"));
            }
            set(s, PendingClientReconnection, None, now);
            s.internal.idle_deadline = None;
            fx.push(arm_connection(s, now));
        }
        Event::UserInput => {
            if st != Connected {
                return Err(wrong(s, "User input"));
            }
            s.doc.last_updated_at = Some(now);
            fx.push(arm_idle(s, now));
        }
        Event::ApplicationExited(code) => {
            let launching = st == Activating && s.internal.launching.is_some();
            if !matches!(st, Active | Connected | PendingClientReconnection | Reconnecting) && !launching {
                return Err(wrong(s, "An application exit"));
            }
            s.internal.launching = None;
            s.internal.exit_code = Some(code);
            fx = finish(s, Terminated, StreamSessionStatusReason::ApplicationExit, now);
        }
        Event::ConnectionTimeout(due) => {
            if !matches!(st, Active | PendingClientReconnection) || s.internal.connection_deadline != Some(due) {
                return Ok(fx);
            }
            let reason = if s.internal.ever_connected {
                StreamSessionStatusReason::ReconnectionTimeout
            } else {
                StreamSessionStatusReason::ConnectionTimeout
            };
            fx = finish(s, Terminated, reason, now);
        }
        Event::IdleTimeout(due) => {
            if st != Connected || s.internal.idle_deadline != Some(due) {
                return Ok(fx);
            }
            fx = finish(s, Terminated, StreamSessionStatusReason::IdleTimeout, now);
        }
        Event::MaxLength(due) => {
            if !is_live(st) || s.internal.max_length_deadline != Some(due) {
                return Ok(fx);
            }
            fx = finish(s, Terminated, StreamSessionStatusReason::MaxSessionLengthTimeout, now);
        }
        Event::Terminate | Event::End => {
            match st {
                Terminating | Terminated | StreamSessionStatus::Error => return Ok(fx),
                Activating if event == Event::Terminate => return Err(Refusal::StillActivating),
                _ => {}
            }
            fx = finish(s, Terminating, StreamSessionStatusReason::ApiTerminated, now);
            fx.push(Effect::Timer(
                TimerKind::SessionTerminated,
                now.millis().saturating_add(timing.terminate_ms),
            ));
        }
        Event::Terminated => {
            if st != Terminating {
                return Ok(fx);
            }
            fx = finish(s, Terminated, StreamSessionStatusReason::ApiTerminated, now);
        }
        Event::Reconnect(answer) => match st {
            PendingClientReconnection => {
                set(s, Reconnecting, None, now);
                s.doc.signal_response = Some(answer);
                s.internal.connection_deadline = None;
                fx.push(Effect::Timer(
                    TimerKind::SessionReconnected,
                    now.millis().saturating_add(timing.reconnect_ms),
                ));
            }
            Active => {
                s.doc.signal_response = Some(answer);
                s.doc.last_updated_at = Some(now);
                fx.push(arm_connection(s, now));
            }
            _ => return Err(wrong(s, "A new connection")),
        },
        Event::Reconnected => {
            if st != Reconnecting {
                return Ok(fx);
            }
            set(s, Active, None, now);
            fx.push(arm_connection(s, now));
        }
        Event::LogUploadFailed => {
            if st != Terminated {
                return Err(wrong(s, "A log upload failure"));
            }
            set(
                s,
                StreamSessionStatus::Error,
                Some(StreamSessionStatusReason::ApplicationLogS3DestinationError),
                now,
            );
        }
        Event::Fault(reason) => {
            if matches!(st, Terminated | StreamSessionStatus::Error) {
                return Err(wrong(s, "A fault"));
            }
            if reason == StreamSessionStatusReason::AssumeRoleFailed && s.doc.role_arn.is_none() {
                return Err(Refusal::WrongState(
                    "assumeRoleFailed needs a session started with a RoleArn.".to_string(),
                ));
            }
            fx = finish(s, StreamSessionStatus::Error, reason, now);
        }
    }
    Ok(fx)
}

#[cfg(test)]
mod tests;
