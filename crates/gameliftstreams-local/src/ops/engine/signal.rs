//! Signalling: the answer a session's SignalRequest gets when the session is placed or a new
//! connection is made. A WebRTC offer goes to the streaming layer through [`Streams`] (which
//! this layer defines and the layer above implements); `NO_CLIENT_CONNECTION`, and in lenient
//! mode anything that is not an offer, get the placeholder answer of a session without media.

use super::Env;
use crate::domain::signal::{self, Signal, SignalMode};
use crate::store::{BuildState, SessionRow};
use gls_model::StreamSessionStatus;

/// What the streaming layer needs to know to make a peer for a session.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    /// The session id.
    pub session_id: String,
    /// The stream's width and height (the session's DisplayConfiguration, else 1280x720).
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// PerformanceStatsConfiguration.SharedWithClient.
    pub shared_stats: bool,
    /// Why the session streams the test card rather than its game, for the card's caption.
    pub card_note: Option<String>,
}

/// A WebRTC peer per session, made by the streaming layer.
pub trait Streams: Send + Sync {
    /// A new peer for `spec` answering `offer` (normalized SDP): its SDP answer, or why the
    /// offer cannot be accepted (no H.264 video, no data channel, unparsable). A new peer for a
    /// session replaces the old one.
    fn answer(&self, spec: &PeerSpec, offer: &str) -> Result<String, String>;
    /// An application message from the session's game to its page; false (and dropped, as in
    /// AWS) when no client is connected.
    fn to_page(&self, session: &str, data: Vec<u8>) -> bool;
}

/// The answer a session gets, or `None` when its SignalRequest is invalid (the session then
/// ends ERROR/invalidSignalRequest).
pub fn answer(env: Env<'_>, row: &SessionRow, request: &str, location: &str) -> Option<String> {
    // A placed session's placeholder names the session; a new connection's is fresh.
    let tag = match row.doc.status {
        Some(StreamSessionStatus::Activating) => row.id.clone(),
        _ => format!("{}-{}", row.id, env.now.millis()),
    };
    match signal::classify(request) {
        Signal::NoClient => Some(signal::placeholder(&tag, location)),
        Signal::Other => match env.settings.signal {
            SignalMode::Lenient => Some(signal::placeholder(&tag, location)),
            SignalMode::Strict => None,
        },
        Signal::Offer(sdp) => {
            let Some(streams) = env.streams else {
                return Some(signal::placeholder(&tag, location));
            };
            match streams.answer(&spec(env, row), &sdp) {
                Ok(answer) => Some(signal::answer_json(
                    &answer,
                    row.doc.web_sdk_protocol_url.as_deref().unwrap_or_default(),
                )),
                Err(why) => {
                    tracing::info!(session = %row.id, error = %why, "offer refused: invalid signal request");
                    None
                }
            }
        }
    }
}

/// Why the session shows the test card: what its application's build came to.
fn card_note(env: Env<'_>, row: &SessionRow) -> Option<String> {
    let build = match env.tx.builds().get(env.part, &row.app_id) {
        Ok(b) => b?,
        Err(e) => {
            tracing::debug!(error = %e, "build unreadable");
            return None;
        }
    };
    let what = build.message.unwrap_or_default();
    Some(match build.state {
        // "no build at s3://…: <path> is not a folder": the URI is what the user wrote.
        BuildState::Missing => what.split(": ").next().unwrap_or_default().to_string(),
        BuildState::Ready => {
            let runtime = env
                .tx
                .applications()
                .get(env.part, &row.app_id)
                .ok()
                .flatten()
                .and_then(|a| a.runtime_environment.map(|r| r.type_))
                .unwrap_or_default();
            match env.apps {
                None => "applications do not run here".to_string(),
                // The game's picture replaces the card as soon as its display is up.
                Some(apps) => apps
                    .why_not(runtime)
                    .unwrap_or_else(|| "the game is starting".to_string()),
            }
        }
        _ => what,
    })
}

fn spec(env: Env<'_>, row: &SessionRow) -> PeerSpec {
    let resolution = row
        .doc
        .display_configuration
        .as_ref()
        .and_then(|d| d.resolution.as_ref())
        .map(|r| (r.width.max(2) as u32, r.height.max(2) as u32));
    let (width, height) = resolution.unwrap_or((1280, 720));
    PeerSpec {
        session_id: row.id.clone(),
        width,
        height,
        shared_stats: row
            .doc
            .performance_stats_configuration
            .as_ref()
            .and_then(|p| p.shared_with_client)
            .unwrap_or(false),
        card_note: card_note(env, row),
    }
}
