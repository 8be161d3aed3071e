//! Real streams: a WebRTC peer per session (str0m, sans-IO, pure-Rust crypto) on one UDP
//! socket for all sessions, demultiplexed by ICE credentials; the session's video (its game's
//! display, from the host layer through `ops::engine::apps::Apps`, or else a live H.264 test
//! card) and silent Opus audio; the two data channels of the Web SDK (input, application
//! messages); and the connection driving the session's lifecycle through the same domain
//! events as the admin API. One thread runs the socket and the peers, which only packetize:
//! every video source captures or draws and encodes on a thread of its own. Uses `ops`;
//! nothing below it uses this layer (the engine reaches it through
//! `ops::engine::signal::Streams`).

pub mod card;
mod peer;

use crate::ops::engine::signal::{PeerSpec, Streams};
use crate::ops::Service;
use peer::Peer;
use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::{Candidate, Rtc};

/// The protocol script served at every session's `webSdkProtocolUrl`.
pub const PROTOCOL_SCRIPT: &str = include_str!("protocol.js");

/// The page of `GET /_local/play/{session}`, with `{{SESSION}}` and `{{SESSION_PATH}}`.
pub const PLAY_PAGE: &str = include_str!("play.html");

/// At most this many messages from the page are kept per session.
const MESSAGES_KEPT: usize = 1000;

/// A message the page sent to the application.
#[derive(Debug, Clone)]
pub struct Received {
    /// The bytes.
    pub data: Vec<u8>,
    /// Service time it arrived, epoch millis.
    pub at: i64,
}

/// What the stream of a session looks like from outside.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamInfo {
    /// A peer exists for the session.
    pub peer: bool,
    /// ICE and DTLS are up.
    pub connected: bool,
    /// Both data channels are open.
    pub channels_open: bool,
    /// Video frames sent.
    pub frames_sent: u64,
    /// The last input received, as the card shows it.
    pub last_input: Option<String>,
    /// The last application message received, as text.
    pub last_message: Option<String>,
    /// Why the session streams the test card (its caption says the same).
    pub card_note: Option<String>,
    /// What the video shows: `game` (the game's display) or `card` (the test card).
    pub source: &'static str,
    /// The encoded size.
    pub width: u32,
    /// See `width`.
    pub height: u32,
}

/// Per-session state shared between the peer thread and the HTTP handlers.
#[derive(Default)]
struct Mailbox {
    received: VecDeque<Received>,
    /// What went to the page (from the game, or the admin API), the last 1,000.
    sent: VecDeque<Received>,
    outbox: Vec<Vec<u8>>,
    info: StreamInfo,
}

/// Why a message cannot be delivered.
#[derive(Debug, PartialEq, Eq)]
pub enum Undeliverable {
    /// No client is connected to the session.
    NoClient,
}

/// The streaming layer: answers offers, owns the UDP socket and the peer thread.
pub struct StreamHub {
    addr: SocketAddr,
    incoming: Mutex<Vec<Peer>>,
    mail: Mutex<HashMap<String, Mailbox>>,
    service: OnceLock<Weak<Service>>,
}

impl StreamHub {
    /// Bind the UDP socket at `addr` (port 0: a free port) and start the peer thread. The
    /// hub answers offers at once; it drives sessions once [`StreamHub::attach`] has been called.
    pub fn start(addr: SocketAddr) -> std::io::Result<Arc<StreamHub>> {
        str0m::crypto::from_feature_flags().install_process_default();
        let socket = UdpSocket::bind(addr)?;
        let addr = socket.local_addr()?;
        let hub = Arc::new(StreamHub {
            addr,
            incoming: Mutex::default(),
            mail: Mutex::default(),
            service: OnceLock::new(),
        });
        let weak = Arc::downgrade(&hub);
        std::thread::Builder::new()
            .name("gls-streams".into())
            .spawn(move || peer::run(socket, weak))?;
        Ok(hub)
    }

    /// The address of the one host candidate of every answer.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service whose sessions the peers drive.
    pub fn attach(&self, service: &Arc<Service>) {
        let _ = self.service.set(Arc::downgrade(service));
    }

    fn service(&self) -> Option<Arc<Service>> {
        self.service.get().and_then(Weak::upgrade)
    }

    fn mail<T>(&self, session: &str, f: impl FnOnce(&mut Mailbox) -> T) -> T {
        let mut mail = self.mail.lock().unwrap_or_else(|p| p.into_inner());
        f(mail.entry(session.to_string()).or_default())
    }

    /// The messages the page sent to the application (the last 1,000).
    pub fn received(&self, session: &str) -> Vec<Received> {
        self.mail(session, |m| m.received.iter().cloned().collect())
    }

    /// Deliver a message to the page of a connected client.
    pub fn deliver(&self, session: &str, data: Vec<u8>) -> Result<(), Undeliverable> {
        let at = self.service().map(|s| s.now().millis()).unwrap_or(0);
        self.mail(session, |m| {
            if !(m.info.connected && m.info.channels_open) {
                return Err(Undeliverable::NoClient);
            }
            m.sent.push_back(Received { data: data.clone(), at });
            while m.sent.len() > MESSAGES_KEPT {
                m.sent.pop_front();
            }
            m.outbox.push(data);
            Ok(())
        })
    }

    /// The messages that went to the page (the last 1,000).
    pub fn sent(&self, session: &str) -> Vec<Received> {
        self.mail(session, |m| m.sent.iter().cloned().collect())
    }

    /// How many sessions have a client connected to their stream now.
    pub fn open_streams(&self) -> usize {
        let mail = self.mail.lock().unwrap_or_else(|p| p.into_inner());
        mail.values().filter(|m| m.info.connected).count()
    }

    /// What the session's stream looks like now.
    pub fn info(&self, session: &str) -> StreamInfo {
        self.mail(session, |m| m.info.clone())
    }
}

impl Streams for StreamHub {
    fn answer(&self, spec: &PeerSpec, offer: &str) -> Result<String, String> {
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| format!("the offer does not parse: {e}"))?;
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .build(Instant::now());
        let candidate = Candidate::host(self.addr, "udp").map_err(|e| e.to_string())?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("the offer cannot be accepted: {e}"))?
            .to_sdp_string();
        check_answer(&answer)?;
        let peer = Peer::new(spec.clone(), rtc);
        self.incoming.lock().unwrap_or_else(|p| p.into_inner()).push(peer);
        Ok(answer)
    }

    fn to_page(&self, session: &str, data: Vec<u8>) -> bool {
        self.deliver(session, data).is_ok()
    }
}

/// The answer must stream H.264 video and carry the data channels.
fn check_answer(sdp: &str) -> Result<(), String> {
    let mut video = false;
    let mut h264 = false;
    let mut data = false;
    let mut in_video = false;
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            let accepted = m.split(' ').nth(1).is_some_and(|port| port != "0");
            in_video = m.starts_with("video") && accepted;
            video |= in_video;
            data |= m.starts_with("application") && accepted;
        } else if in_video && line.starts_with("a=rtpmap:") && line.contains("H264/90000") {
            h264 = true;
        }
    }
    match (video && h264, data) {
        (false, _) => Err("the offer receives no H.264 video".into()),
        (_, false) => Err("the offer has no data channel".into()),
        _ => Ok(()),
    }
}

/// How often peers look at their session's status.
const RECONCILE: Duration = Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::signal::{classify, Signal};

    /// What Chromium 156 offers through the Web SDK (LF line endings, `b=` lines at the end of
    /// the video section), as the test client makes it.
    const CHROMIUM_OFFER: &str = include_str!("testdata/chromium-156-offer.sdp");

    fn spec() -> PeerSpec {
        PeerSpec {
            session_id: "abc123".into(),
            width: 1280,
            height: 720,
            shared_stats: false,
            card_note: None,
        }
    }

    #[test]
    fn a_chromium_offer_is_answered_with_h264_audio_and_the_data_channels() {
        let hub = StreamHub::start("127.0.0.1:0".parse().expect("address")).expect("hub");
        let json = serde_json::json!({"type": "offer", "sdp": CHROMIUM_OFFER, "webSdkVersion": "1.1.0"});
        let Signal::Offer(sdp) = classify(&json.to_string()) else {
            panic!("not an offer")
        };
        let answer = hub.answer(&spec(), &sdp).expect("answered");
        let media: Vec<&str> = answer.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(media.len(), 3, "{answer}");
        assert!(media[0].starts_with("m=audio 9 "), "{answer}");
        assert!(media[1].starts_with("m=video 9 "), "{answer}");
        assert!(media[2].starts_with("m=application 9 "), "{answer}");
        let video: Vec<&str> = answer
            .split("m=video")
            .nth(1)
            .and_then(|v| v.split("m=application").next())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("a=rtpmap:"))
            .collect();
        assert!(
            !video.is_empty()
                && video
                    .iter()
                    .all(|l| l.contains("H264/90000") || l.contains("rtx/90000")),
            "{video:?}"
        );
        assert!(answer.contains("a=candidate:"), "{answer}");
        assert!(answer.contains(&format!(" {} typ host", hub.addr().port())), "{answer}");
        assert!(answer.contains("a=ice-lite"), "{answer}");
    }

    #[test]
    fn the_raw_offer_is_answered_too() {
        let hub = StreamHub::start("127.0.0.1:0".parse().expect("address")).expect("hub");
        let Signal::Offer(sdp) = classify(CHROMIUM_OFFER) else {
            panic!("not an offer")
        };
        assert!(hub.answer(&spec(), &sdp).is_ok());
    }
}
