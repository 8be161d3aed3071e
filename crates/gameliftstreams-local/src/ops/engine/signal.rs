//! Signalling: the answer a session's SignalRequest gets when the session is placed or a new
//! connection is made. A WebRTC offer goes to the streaming layer through [`Streams`] (which
//! this layer defines and the layer above implements); `NO_CLIENT_CONNECTION`, and in lenient
//! mode anything that is not an offer, get the placeholder answer of a session without media.

use super::apps::Game;
use super::Env;
use crate::domain::signal::{self, Signal, SignalMode};
use crate::store::SessionRow;
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

/// Why the session shows the test card (its caption): what its application's build came to;
/// a game that runs replaces the card as soon as its display is up.
fn card_note(env: Env<'_>, row: &SessionRow) -> Option<String> {
    match super::apps::game(env, &row.app_id) {
        Ok(Game::Runs) => Some("the game is starting".into()),
        Ok(Game::Card(why)) => why,
        Err(e) => {
            tracing::debug!(error = %e, "build unreadable");
            None
        }
    }
}

fn spec(env: Env<'_>, row: &SessionRow) -> PeerSpec {
    let (width, height) = crate::domain::views::resolution(&row.doc).unwrap_or((1280, 720));
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
