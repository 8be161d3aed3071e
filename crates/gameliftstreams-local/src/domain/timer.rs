//! The kinds of timed transition, by the names they are stored under. A leaf: it depends on
//! nothing else of the domain.

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
    /// A session's placement deadline.
    PlacementTimeout,
    /// A session's connection deadline.
    ConnectionTimeout,
    /// A session's idle deadline.
    IdleTimeout,
    /// A session's maximum length.
    MaxLength,
    /// More capacity has come up in a group's location (resource `group/location`).
    ScaleUp,
    /// An ended session's retention is over: it is deleted.
    SessionExpunged,
    /// A launching session's game has had its time to show a window: it is ACTIVE anyway.
    LaunchGrace,
}

impl TimerKind {
    const NAMES: [(TimerKind, &'static str); 18] = [
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
        (TimerKind::PlacementTimeout, "session.placement_timeout"),
        (TimerKind::ConnectionTimeout, "session.connection_timeout"),
        (TimerKind::IdleTimeout, "session.idle_timeout"),
        (TimerKind::MaxLength, "session.max_length"),
        (TimerKind::ScaleUp, "location.scale_up"),
        (TimerKind::SessionExpunged, "session.expunged"),
        (TimerKind::LaunchGrace, "session.launch_grace"),
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
