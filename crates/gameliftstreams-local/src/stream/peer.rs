//! The peer thread: every session's str0m peer on the one UDP socket, the frames of its video
//! source (the game's, or the test card's, each encoded on its own thread) and its audio (the
//! game's sound, silence where there is none),
//! its data channels, and the reconciliation that turns what the connection
//! does into the session's domain events (connected, input, gone) and the session's end into
//! a message to the page and a closed peer.

use super::card::{self, CardText};
use super::{Received, StreamHub, MESSAGES_KEPT, RECONCILE};
use crate::domain::lifecycle::export_stamp;
use crate::domain::session::Event;
use crate::ops::api::admin::Outcome;
use crate::ops::engine::apps::{AudioFeed, Input as AppInput, VideoFeed};
use crate::ops::engine::signal::PeerSpec;
use base64::Engine as _;
use gls_model::{StreamSessionStatus, StreamSessionStatusReason};
use serde_json::{json, Value};
use std::io::ErrorKind;
use std::net::UdpSocket;
use std::sync::Weak;
use std::time::{Duration, Instant};
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Event as RtcEvent, IceConnectionState, Input, Output, Rtc};

/// A connected peer that hears nothing for this long is gone (the browser sends consent
/// checks every ~5 s and RTCP reports every second).
const SILENCE: Duration = Duration::from_secs(8);

/// A peer that never connects is dropped after this long.
const NEVER_CONNECTED: Duration = Duration::from_secs(300);

/// How often, at most, input restarts the session's idle timer.
const INPUT_EVENT_EVERY: Duration = Duration::from_secs(1);

/// Opus's 20 ms silence frame (TOC 0xF8: CELT full-band 20 ms, no data).
const OPUS_SILENCE: [u8; 3] = [0xF8, 0xFF, 0xFE];

/// The game's sound waits at most this many 20 ms packets to be sent (older ones are dropped):
/// its delay behind the game stays under 100 ms.
const SOUND_QUEUED: usize = 2;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// One session's peer.
pub(super) struct Peer {
    spec: PeerSpec,
    rtc: Rtc,
    created: Instant,
    last_rx: Instant,
    video: Option<(Mid, Pt)>,
    audio: Option<(Mid, Pt)>,
    input: Option<ChannelId>,
    messages: Option<ChannelId>,
    /// ICE and DTLS are up.
    connected: bool,
    /// The client went away (channels closed, ICE lost, silence).
    gone: bool,
    /// ClientConnected was applied for this peer.
    reported: bool,
    /// `close` has begun the shutdown.
    shut: bool,
    /// The card's video, encoded on its own thread, while no game's video is there.
    card: Option<VideoFeed>,
    /// What the card shows, kept current here.
    card_text: std::sync::Arc<std::sync::Mutex<CardText>>,
    /// The game's video, when the session's game runs: it replaces the card.
    feed: Option<VideoFeed>,
    /// The game's sound, when its game runs with sound: it replaces the silence.
    sound: Option<AudioFeed>,
    /// Its packets waiting for their 20 ms turn.
    sound_queue: std::collections::VecDeque<Vec<u8>>,
    /// When to look for the game's video again.
    next_feed_look: Instant,
    started: Instant,
    next_audio: Instant,
    next_stats: Instant,
    audio_time: u64,
    frames: u64,
    input_seen: Option<Instant>,
    input_reported: Option<Instant>,
    last_input: Option<String>,
    last_message: Option<String>,
    status: String,
    /// The page was told the session ended; the peer closes at this time.
    closing: Option<Instant>,
    /// Whether the game's cursor is visible, as last told to the page.
    cursor_told: Option<bool>,
}

impl Peer {
    pub(super) fn new(spec: PeerSpec, rtc: Rtc) -> Peer {
        let now = Instant::now();
        Peer {
            spec,
            rtc,
            created: now,
            last_rx: now,
            video: None,
            audio: None,
            input: None,
            messages: None,
            connected: false,
            gone: false,
            shut: false,
            reported: false,
            card: None,
            card_text: Default::default(),
            feed: None,
            sound: None,
            sound_queue: Default::default(),
            next_feed_look: now,
            started: now,
            next_audio: now,
            next_stats: now,
            audio_time: 0,
            frames: 0,
            input_seen: None,
            input_reported: None,
            last_input: None,
            last_message: None,
            status: "ACTIVE".into(),
            closing: None,
            cursor_told: None,
        }
    }

    fn input(&mut self, input: Input<'_>) {
        if let Input::Receive(at, _) = &input {
            self.last_rx = *at;
        }
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(session = %self.spec.session_id, error = %e, "peer input failed; closing");
            self.rtc.disconnect();
        }
    }

    /// End the peer politely: RTCP BYE, SCTP shutdown and DTLS close_notify, so the browser
    /// knows at once (`disconnect` would leave it to find out by ICE consent, seconds later).
    fn close(&mut self) {
        if self.shut {
            return;
        }
        self.shut = true;
        if self.rtc.close().is_err() {
            self.rtc.disconnect();
        }
    }

    /// Poll the peer until it wants time to pass; returns when.
    fn drive(&mut self, socket: &UdpSocket, hub: &StreamHub) -> Instant {
        loop {
            if !self.rtc.is_alive() {
                return Instant::now() + Duration::from_millis(20);
            }
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    if let Err(e) = socket.send_to(&t.contents, t.destination) {
                        tracing::debug!(error = %e, "udp send failed");
                    }
                }
                Ok(Output::Timeout(t)) => return t,
                Ok(Output::Event(e)) => self.event(e, hub),
                Err(e) => {
                    tracing::debug!(session = %self.spec.session_id, error = %e, "peer failed; closing");
                    self.rtc.disconnect();
                }
            }
        }
    }

    fn event(&mut self, e: RtcEvent, hub: &StreamHub) {
        match e {
            RtcEvent::Connected => {
                let now = Instant::now();
                self.connected = true;
                self.started = now;
                self.next_audio = now;
                self.next_stats = now;
                for feed in [&self.feed, &self.card].into_iter().flatten() {
                    feed.keyframe.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                tracing::info!(session = %self.spec.session_id, "client connected");
            }
            RtcEvent::IceConnectionStateChange(IceConnectionState::Disconnected) | RtcEvent::Closed => self.gone = true,
            RtcEvent::MediaAdded(m) => {
                let Some(writer) = self.rtc.writer(m.mid) else { return };
                let pick = |codec: Codec, mode: Option<u8>| {
                    writer
                        .payload_params()
                        .find(|p| {
                            p.spec().codec == codec && (mode.is_none() || p.spec().format.packetization_mode == mode)
                        })
                        .map(|p| p.pt())
                };
                match m.kind {
                    MediaKind::Video => {
                        self.video = pick(Codec::H264, Some(1))
                            .or_else(|| pick(Codec::H264, None))
                            .map(|pt| (m.mid, pt))
                    }
                    MediaKind::Audio => self.audio = pick(Codec::Opus, None).map(|pt| (m.mid, pt)),
                }
            }
            RtcEvent::ChannelOpen(id, label) => match label.as_str() {
                "clientMessageChannel" => self.messages = Some(id),
                _ if self.input.is_none() => self.input = Some(id),
                _ => {}
            },
            RtcEvent::ChannelData(d) => {
                if Some(d.id) == self.input {
                    self.on_input(&d.data, hub);
                } else if Some(d.id) == self.messages {
                    self.on_message(&d.data, hub);
                }
            }
            RtcEvent::ChannelClose(id) if Some(id) == self.input || Some(id) == self.messages => self.gone = true,
            // The page's microphone (Web SDK `enableMicrophone()`): to the game's default input.
            RtcEvent::MediaData(d) if d.params.spec().codec == Codec::Opus => {
                if let Some(apps) = hub.service().as_ref().and_then(|s| s.apps()) {
                    apps.microphone(&self.spec.session_id, &d.data);
                }
            }
            RtcEvent::KeyframeRequest(_) => {
                for feed in [&self.feed, &self.card].into_iter().flatten() {
                    feed.keyframe.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            _ => {}
        }
    }

    fn on_input(&mut self, data: &[u8], hub: &StreamHub) {
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        if self.feed.is_some() {
            if let Some(service) = hub.service() {
                if let Some(apps) = service.apps() {
                    for input in game_input(&v) {
                        apps.input(&self.spec.session_id, &input);
                    }
                }
            }
        }
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let n = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let text = match v.get("t").and_then(Value::as_str) {
            Some("key") => format!("key {} {} ({})", s("type"), s("key"), s("code")),
            Some("mouse") => format!(
                "mouse {} {},{} buttons={} wheel={}",
                s("type"),
                n("x"),
                n("y"),
                n("buttons"),
                n("dy")
            ),
            Some("gamepad") => {
                let axes = v.get("axes").map(Value::to_string).unwrap_or_default();
                format!("gamepad {} #{} axes={axes}", s("type"), n("index"))
            }
            _ => return,
        };
        self.last_input = Some(text);
        self.input_seen = Some(Instant::now());
    }

    fn on_message(&mut self, data: &[u8], hub: &StreamHub) {
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        if v.get("t").and_then(Value::as_str) != Some("app") {
            return;
        }
        let Some(bytes) = v.get("data").and_then(Value::as_str).and_then(|d| b64().decode(d).ok()) else {
            return;
        };
        let service = hub.service();
        let at = service.as_ref().map(|s| s.now().millis()).unwrap_or(0);
        if let Some(apps) = service.as_ref().and_then(|s| s.apps()) {
            apps.to_game(&self.spec.session_id, &bytes);
        }
        self.last_message = Some(String::from_utf8_lossy(&bytes).chars().take(48).collect());
        hub.mail(&self.spec.session_id, |m| {
            m.received.push_back(Received { data: bytes, at });
            while m.received.len() > MESSAGES_KEPT {
                m.received.pop_front();
            }
        });
    }

    fn send_message(&mut self, message: &Value) {
        let Some(id) = self.messages else { return };
        if let Some(mut ch) = self.rtc.channel(id) {
            let _ = ch.write(false, message.to_string().as_bytes());
        }
    }

    /// The game's sound that has come since the last look, keeping only the newest
    /// [`SOUND_QUEUED`] packets.
    fn take_sound(&mut self) {
        let Some(sound) = &self.sound else { return };
        loop {
            match sound.packets.try_recv() {
                Ok(p) => self.sound_queue.push_back(p),
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.sound = None;
                    break;
                }
            }
        }
        while self.sound_queue.len() > SOUND_QUEUED {
            self.sound_queue.pop_front();
        }
    }

    /// Frames, audio, stats and queued application messages that are due now.
    fn media(&mut self, now: Instant, hub: &StreamHub) {
        if !self.connected || self.gone || !self.rtc.is_alive() {
            return;
        }
        let outbox = hub.mail(&self.spec.session_id, |m| std::mem::take(&mut m.outbox));
        for data in outbox {
            self.send_message(&json!({"t": "app", "data": b64().encode(data)}));
        }
        if self.feed.is_none() && now >= self.next_feed_look {
            // The game may start a moment after its session is placed: look again soon.
            self.next_feed_look = now + Duration::from_millis(500);
            let service = hub.service();
            let apps = service.as_ref().and_then(|s| s.apps());
            self.feed = apps.and_then(|a| a.video(&self.spec.session_id));
            if self.feed.is_some() {
                self.sound = apps.and_then(|a| a.audio(&self.spec.session_id));
            }
        }
        if self.feed.is_some() {
            // The game's picture: the card's thread ends.
            self.card = None;
            self.game_frames(now);
        } else {
            self.card_frames(now, hub);
        }
        if let Some((mid, pt)) = self.audio {
            self.take_sound();
            while now >= self.next_audio {
                self.next_audio += Duration::from_millis(20);
                let at = MediaTime::new(self.audio_time, Frequency::FORTY_EIGHT_KHZ);
                self.audio_time += 960;
                let packet = self.sound_queue.pop_front().unwrap_or_else(|| OPUS_SILENCE.to_vec());
                if let Some(w) = self.rtc.writer(mid) {
                    let _ = w.write(pt, now, at, packet);
                }
            }
        }
        if self.spec.shared_stats && now >= self.next_stats {
            self.next_stats = now + Duration::from_secs(1);
            let t = self.frames as f64;
            let wave = |base: f64, span: f64| base + span * ((t / 40.0).sin() * 0.5 + 0.5);
            let service = hub.service();
            let timestamp = service.as_ref().map(|s| s.now().millis()).unwrap_or(0);
            // A game's statistics are its own (its cgroup's): CPU over its class's vCPUs, memory
            // against its class's; no GPU here. The test card's are a made-up wave.
            let game = self
                .feed
                .as_ref()
                .and_then(|_| service.as_ref()?.apps()?.usage(&self.spec.session_id));
            // (application cpu, memory, MB; system cpu, memory, MB; GPU, VRAM, VRAM MB)
            let [a_cpu, a_mem, a_mb, s_cpu, s_mem, s_mb, gpu, vram, vram_mb] = match game {
                Some(u) => {
                    let mb = (u.memory_bytes as f64 / 1_048_576.0).round();
                    let (cpu, mem) = (u.cpu_normalized, u.memory_normalized);
                    [cpu, mem, mb, cpu, mem, mb, 0.0, 0.0, 0.0]
                }
                None => [
                    wave(0.20, 0.15),
                    wave(0.30, 0.05),
                    wave(2400.0, 300.0).round(),
                    wave(0.25, 0.15),
                    wave(0.40, 0.05),
                    wave(6500.0, 400.0).round(),
                    wave(0.55, 0.25),
                    wave(0.35, 0.05),
                    wave(5200.0, 400.0).round(),
                ],
            };
            self.send_message(&json!({
                "t": "stats",
                "timestamp": timestamp,
                "application": {
                    "cpuUtilizationNormalized": a_cpu,
                    "memoryUtilizationNormalized": a_mem,
                    "memoryUtilizationMb": a_mb,
                },
                "system": {
                    "cpuUtilization": s_cpu,
                    "memoryUtilization": s_mem,
                    "memoryUtilizationMb": s_mb,
                    "gpuUtilization": gpu,
                    "vramUtilization": vram,
                    "vramUtilizationMb": vram_mb,
                }
            }));
        }
    }

    /// Send the frames the game's capture has encoded since the last look.
    fn game_frames(&mut self, now: Instant) {
        if let Some(feed) = self.feed.take() {
            // Once the game's feed ends, the card takes over (its first frame is a keyframe).
            if self.send_frames(&feed, now) {
                self.feed = Some(feed);
            }
        }
    }

    /// Send what `feed` has encoded since the last look, stamped with when it was captured;
    /// false once the feed has ended.
    fn send_frames(&mut self, feed: &VideoFeed, now: Instant) -> bool {
        let Some((mid, pt)) = self.video else { return true };
        loop {
            match feed.frames.try_recv() {
                Ok(frame) => {
                    let since = frame.captured.saturating_duration_since(self.started);
                    let at = MediaTime::new((since.as_micros() as u64) * 9 / 100, Frequency::NINETY_KHZ);
                    if let Some(w) = self.rtc.writer(mid) {
                        if w.write(pt, now, at, frame.data).is_ok() {
                            self.frames += 1;
                        }
                    }
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => return true,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// The card: its text brought up to date, its thread started once, what it encoded sent.
    fn card_frames(&mut self, now: Instant, hub: &StreamHub) {
        if self.video.is_none() {
            return;
        }
        self.card_text(hub);
        if self.card.is_none() {
            let thread = format!("gls-card-{}", self.spec.session_id.chars().take(6).collect::<String>());
            match card::feed(self.spec.width, self.spec.height, self.card_text.clone(), thread) {
                Ok(feed) => self.card = Some(feed),
                Err(e) => {
                    tracing::error!(error = %e, "the card's thread could not start; no video");
                    self.video = None;
                    return;
                }
            }
        }
        if let Some(card) = self.card.take() {
            if self.send_frames(&card, now) {
                self.card = Some(card);
            }
        }
    }

    /// What the card shows now.
    fn card_text(&mut self, hub: &StreamHub) {
        let service_time = hub.service().map(|s| export_stamp(s.now())).unwrap_or_default();
        let mut text = CardText {
            lines: vec![
                "gameliftstreams-local".into(),
                format!("session {}", self.spec.session_id),
                format!("status  {}", self.status),
                format!("time    {service_time}"),
                format!("frame   {}", self.frames),
                format!("input   {}", self.last_input.as_deref().unwrap_or("-")),
                format!("message {}", self.last_message.as_deref().unwrap_or("-")),
            ],
        };
        if let Some(note) = &self.spec.card_note {
            text.lines.push(format!("app     {note}"));
        }
        *self.card_text.lock().unwrap_or_else(|p| p.into_inner()) = text;
    }

    /// Bring the session in line with the connection, and the connection with the session.
    fn reconcile(&mut self, hub: &StreamHub, now: Instant) {
        let Some(service) = hub.service() else { return };
        let id = self.spec.session_id.clone();
        let view = match service.stream_view(&id) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "session status unreadable");
                return;
            }
        };
        let Some((status, reason)) = view else {
            self.close();
            return;
        };
        self.status = match reason {
            Some(r) => format!("{} ({})", status.as_str(), r.as_str()),
            None => status.as_str().to_string(),
        };
        if self.connected && now.duration_since(self.last_rx) > SILENCE {
            self.gone = true;
        }
        let event = |e: Event| match service.session_event(None, &id, e) {
            Ok(Outcome::Applied(_)) => true,
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "a stream event could not be applied");
                false
            }
        };
        use StreamSessionStatus::*;
        if self.gone {
            if self.reported && status == Connected {
                event(Event::ClientDisconnected);
            }
            self.close();
        } else if matches!(status, Terminating | Terminated | Error) {
            match self.closing {
                None => {
                    let reason = if reason == Some(StreamSessionStatusReason::IdleTimeout) {
                        "idle"
                    } else {
                        "terminated"
                    };
                    self.send_message(&json!({"t": "disconnect", "reason": reason}));
                    self.closing = Some(now + Duration::from_millis(300));
                }
                Some(at) if now >= at => self.close(),
                Some(_) => {}
            }
        } else if self.reported && matches!(status, PendingClientReconnection | Reconnecting) {
            // The session let this client go (or another one is connecting).
            self.close();
        } else if self.connected && !self.reported {
            if status == Active {
                self.reported = event(Event::ClientConnected);
            } else if status == Connected {
                self.reported = true;
            }
        } else if !self.connected && now.duration_since(self.created) > NEVER_CONNECTED {
            self.close();
        }
        if self.connected && self.messages.is_some() && self.feed.is_some() {
            let visible = service.apps().and_then(|a| a.cursor_hidden(&id)).map(|hidden| !hidden);
            if let Some(visible) = visible.filter(|v| Some(*v) != self.cursor_told) {
                self.send_message(&json!({"t": "cursor", "visible": visible}));
                self.cursor_told = Some(visible);
            }
        }
        let input_due = match (self.input_seen, self.input_reported) {
            (Some(seen), Some(sent)) => seen > sent && now.duration_since(sent) >= INPUT_EVENT_EVERY,
            (Some(_), None) => true,
            _ => false,
        };
        if self.reported && status == Connected && input_due && event(Event::UserInput) {
            self.input_reported = Some(now);
        }
        let info = super::StreamInfo {
            peer: self.rtc.is_alive(),
            connected: self.connected && !self.gone && self.rtc.is_alive(),
            channels_open: self.input.is_some() && self.messages.is_some(),
            frames_sent: self.frames,
            last_input: self.last_input.clone(),
            last_message: self.last_message.clone(),
            card_note: self.spec.card_note.clone(),
            source: if self.feed.is_some() { "game" } else { "card" },
            width: self
                .feed
                .as_ref()
                .or(self.card.as_ref())
                .map_or(self.spec.width, |f| f.width),
            height: self
                .feed
                .as_ref()
                .or(self.card.as_ref())
                .map_or(self.spec.height, |f| f.height),
        };
        hub.mail(&id, |m| m.info = info);
    }
}

/// Take the peers answered since the last look; a new peer for a session replaces the old one.
fn adopt(peers: &mut Vec<Peer>, hub: &StreamHub) {
    let incoming = std::mem::take(&mut *hub.incoming.lock().unwrap_or_else(|p| p.into_inner()));
    for p in incoming {
        for old in peers.iter_mut().filter(|o| o.spec.session_id == p.spec.session_id) {
            // Its end is the new client's start, not a disconnection to report.
            old.reported = false;
            old.close();
        }
        peers.push(p);
    }
}

/// The peer thread's loop: adopt new peers, reconcile, send media, poll, read the socket.
pub(super) fn run(socket: UdpSocket, weak: Weak<StreamHub>) {
    let Ok(local) = socket.local_addr() else { return };
    let mut peers: Vec<Peer> = Vec::new();
    let mut buf = vec![0u8; 2048];
    let mut next_reconcile = Instant::now();
    loop {
        let Some(hub) = weak.upgrade() else { return };
        adopt(&mut peers, &hub);
        let now = Instant::now();
        if now >= next_reconcile {
            next_reconcile = now + RECONCILE;
            for p in &mut peers {
                p.reconcile(&hub, now);
            }
        }
        for p in &mut peers {
            p.media(now, &hub);
        }
        let mut wake = now + Duration::from_millis(20);
        for p in &mut peers {
            wake = wake.min(p.drive(&socket, &hub));
            if p.connected && !p.gone {
                // Frames (the game's or the card's) arrive from their threads as they are
                // encoded: look for them often.
                wake = wake.min(now + Duration::from_millis(4));
            }
        }
        // A peer that ended (the browser closed it, DTLS or SCTP ended) reports its client
        // gone before it is dropped.
        for p in peers.iter_mut().filter(|p| !p.rtc.is_alive()) {
            p.gone = true;
            p.reconcile(&hub, now);
        }
        peers.retain(|p| {
            let alive = p.rtc.is_alive();
            if !alive {
                hub.mail(&p.spec.session_id, |m| {
                    m.info.peer = false;
                    m.info.connected = false;
                });
            }
            alive
        });
        drop(hub);
        let wait = wake
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        if socket.set_read_timeout(Some(wait)).is_err() {
            std::thread::sleep(wait);
        }
        match socket.recv_from(&mut buf) {
            Ok((n, source)) => {
                if let Ok(contents) = buf[..n].try_into() {
                    let input = Input::Receive(
                        Instant::now(),
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: local,
                            contents,
                        },
                    );
                    let mut at = peers.iter().position(|p| p.rtc.accepts(&input));
                    if at.is_none() {
                        // A client can be faster than the loop: its first check may come for
                        // a peer answered since the loop last looked.
                        if let Some(hub) = weak.upgrade() {
                            adopt(&mut peers, &hub);
                        }
                        at = peers.iter().position(|p| p.rtc.accepts(&input));
                    }
                    if let Some(i) = at {
                        peers[i].input(input);
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                tracing::debug!(error = %e, "udp receive failed");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let now = Instant::now();
        for p in &mut peers {
            p.input(Input::Timeout(now));
        }
    }
}

/// The page's input message as its game takes it: keys (the browser's own repeats left out:
/// the display repeats a held key as a local keyboard does), the pointer's position, buttons
/// and the wheel. Gamepads reach no game (none on UBUNTU, as in AWS).
fn game_input(v: &Value) -> Vec<AppInput> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let n = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    // With the page's pointer locked (the game hides its cursor) the mouse is relative.
    let locked = v.get("locked").and_then(Value::as_bool).unwrap_or(false);
    let pointer = || {
        if locked {
            AppInput::Motion {
                dx: n("mx"),
                dy: n("my"),
            }
        } else {
            AppInput::Pointer { x: n("x"), y: n("y") }
        }
    };
    let button = |down| AppInput::Button {
        button: n("button").clamp(0.0, 15.0) as u8,
        down,
    };
    match (s("t"), s("type")) {
        ("key", "keydown") if !v.get("repeat").and_then(Value::as_bool).unwrap_or(false) => vec![AppInput::Key {
            code: s("code").to_string(),
            down: true,
        }],
        ("key", "keyup") => vec![AppInput::Key {
            code: s("code").to_string(),
            down: false,
        }],
        ("mouse", "mousemove") => vec![pointer()],
        ("mouse", "mousedown") if locked => vec![button(true)],
        ("mouse", "mouseup") if locked => vec![button(false)],
        ("mouse", "mousedown") => vec![pointer(), button(true)],
        ("mouse", "mouseup") => vec![pointer(), button(false)],
        ("mouse", "wheel") => vec![AppInput::Wheel { dy: n("dy") }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_input_becomes_game_input() {
        let key = |t: &str, repeat: bool| json!({"t": "key", "type": t, "key": "a", "code": "KeyA", "repeat": repeat});
        assert_eq!(
            game_input(&key("keydown", false)),
            vec![AppInput::Key {
                code: "KeyA".into(),
                down: true
            }]
        );
        assert!(
            game_input(&key("keydown", true)).is_empty(),
            "the display repeats held keys"
        );
        assert_eq!(
            game_input(&key("keyup", false)),
            vec![AppInput::Key {
                code: "KeyA".into(),
                down: false
            }]
        );
        let click =
            json!({"t": "mouse", "type": "mousedown", "x": 10, "y": 20, "button": 2, "buttons": 2, "dx": 0, "dy": 0});
        assert_eq!(
            game_input(&click),
            vec![
                AppInput::Pointer { x: 10.0, y: 20.0 },
                AppInput::Button { button: 2, down: true }
            ]
        );
        let locked = json!({"t": "mouse", "type": "mousemove", "x": 5, "y": 5, "mx": 3, "my": -2, "locked": true});
        assert_eq!(game_input(&locked), vec![AppInput::Motion { dx: 3.0, dy: -2.0 }]);
        let wheel = json!({"t": "mouse", "type": "wheel", "x": 0, "y": 0, "dy": -120});
        assert_eq!(game_input(&wheel), vec![AppInput::Wheel { dy: -120.0 }]);
        assert!(game_input(&json!({"t": "gamepad", "type": "state"})).is_empty());
    }
}
