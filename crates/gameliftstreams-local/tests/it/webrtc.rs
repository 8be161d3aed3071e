//! A WebRTC client for tests and benchmarks: a str0m peer (its own ICE agent, DTLS, SRTP and
//! SCTP) on its own thread and UDP socket, that offers as the Web SDK does (no candidates, the
//! two data channels, recvonly audio and video, JSON with LF line endings) and records what
//! the server sends. Also used by `examples/stream_bench.rs`.

use serde_json::{json, Value};
use std::net::UdpSocket;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol as NetProtocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

/// The longest any wait in these tests may take.
pub const BOUND: Duration = Duration::from_secs(20);

/// A client's thread ends after this long at the latest.
const LIFETIME: Duration = Duration::from_secs(600);

/// Base64 as the wire format uses it.
pub fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// How many of the last audio packets [`Seen`] keeps (2 s).
pub const AUDIO_KEPT: usize = 100;

/// What the client has seen so far.
#[derive(Default, Debug)]
pub struct Seen {
    pub connected: bool,
    pub channels_open: bool,
    pub video_frames: u64,
    pub keyframes: u64,
    pub audio_packets: u64,
    /// The last audio packets (Opus), at most [`AUDIO_KEPT`].
    pub audio: std::collections::VecDeque<Vec<u8>>,
    /// Parsed JSON messages from the server's clientMessageChannel.
    pub messages: Vec<Value>,
    /// The peer ended (the server closed it, or ICE was lost).
    pub ended: bool,
}

pub enum Command {
    Input(Value),
    Message(Value),
    /// Stop answering (the client goes silent, as a closed or crashed tab does).
    Vanish,
}

/// A WebRTC client on its own thread.
pub struct Client {
    pub seen: Arc<Mutex<Seen>>,
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

/// An offer made as the Web SDK makes it, and what is needed to finish the connection.
pub struct Offer {
    rtc: Rtc,
    socket: UdpSocket,
    pending: SdpPendingOffer,
    input: ChannelId,
    messages: ChannelId,
    video: Mid,
    audio: Mid,
    /// The SignalRequest: the SDK's JSON, its SDP without candidates and with LF endings.
    pub signal_request: String,
}

pub fn offer() -> Offer {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rtc = Rtc::builder().build(Instant::now());
    rtc.add_local_candidate(Candidate::host(socket.local_addr().unwrap(), "udp").unwrap());
    let mut api = rtc.sdp_api();
    let audio = api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    let video = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    let input = api.add_channel_with_config(ChannelConfig {
        label: "inputChannel".into(),
        ordered: false,
        reliability: Reliability::MaxRetransmits { retransmits: 0 },
        ..Default::default()
    });
    let messages = api.add_channel("clientMessageChannel".into());
    let (offer, pending) = api.apply().unwrap();
    let sdp: String = offer
        .to_sdp_string()
        .lines()
        .filter(|l| !l.starts_with("a=candidate") && !l.starts_with("a=end-of-candidates"))
        .map(|l| format!("{l}\n"))
        .collect();
    let signal_request = json!({"type": "offer", "sdp": sdp, "webSdkVersion": "1.1.0"}).to_string();
    Offer {
        rtc,
        socket,
        pending,
        input,
        messages,
        video,
        audio,
        signal_request,
    }
}

impl Offer {
    /// Apply the SignalResponse and run the client until told to vanish or the peer ends.
    pub fn connect(mut self, signal_response: &str) -> Client {
        let response: Value = serde_json::from_str(signal_response).unwrap();
        let sdp = response["sdp"].as_str().unwrap();
        self.rtc
            .sdp_api()
            .accept_answer(self.pending, SdpAnswer::from_sdp_string(sdp).unwrap())
            .unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (commands, rx) = mpsc::channel();
        let shared = seen.clone();
        let (rtc, socket, ids) = (
            self.rtc,
            self.socket,
            (self.input, self.messages, self.video, self.audio),
        );
        let thread = std::thread::spawn(move || run(rtc, socket, ids, shared, rx));
        Client {
            seen,
            commands,
            thread: Some(thread),
        }
    }
}

fn run(
    mut rtc: Rtc,
    socket: UdpSocket,
    (input, messages, video, audio): (ChannelId, ChannelId, Mid, Mid),
    seen: Arc<Mutex<Seen>>,
    commands: mpsc::Receiver<Command>,
) {
    let local = socket.local_addr().unwrap();
    let mut buf = vec![0u8; 2048];
    let end = Instant::now() + LIFETIME;
    let mut open = (false, false);
    while Instant::now() < end {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination);
                }
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Event(e)) => {
                    let mut s = seen.lock().unwrap();
                    match e {
                        Event::Connected => s.connected = true,
                        Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
                            s.ended = true
                        }
                        Event::ChannelOpen(id, _) => {
                            open.0 |= id == input;
                            open.1 |= id == messages;
                            s.channels_open = open.0 && open.1;
                        }
                        Event::ChannelData(d) if d.id == messages => {
                            if let Ok(v) = serde_json::from_slice(&d.data) {
                                s.messages.push(v);
                            }
                        }
                        Event::MediaData(d) if d.mid == video => {
                            s.video_frames += 1;
                            // Annex B: an IDR slice (NAL type 5) marks a keyframe.
                            if d.data.windows(4).any(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 5) {
                                s.keyframes += 1;
                            }
                        }
                        Event::MediaData(d) if d.mid == audio => {
                            s.audio_packets += 1;
                            s.audio.push_back(d.data.to_vec());
                            if s.audio.len() > AUDIO_KEPT {
                                s.audio.pop_front();
                            }
                        }
                        _ => {}
                    }
                }
                Err(_) => {
                    rtc.disconnect();
                    break Instant::now();
                }
            }
        };
        if !rtc.is_alive() {
            seen.lock().unwrap().ended = true;
            return;
        }
        while let Ok(command) = commands.try_recv() {
            let (id, message) = match command {
                Command::Input(m) => (input, m),
                Command::Message(m) => (messages, m),
                Command::Vanish => return,
            };
            if let Some(mut ch) = rtc.channel(id) {
                ch.write(false, message.to_string().as_bytes()).unwrap();
            }
        }
        let wait = timeout
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), Duration::from_millis(2));
        socket.set_read_timeout(Some(wait)).unwrap();
        let input = match socket.recv_from(&mut buf) {
            Ok((n, source)) => Input::Receive(
                Instant::now(),
                Receive {
                    proto: NetProtocol::Udp,
                    source,
                    destination: local,
                    contents: buf[..n].try_into().unwrap(),
                },
            ),
            Err(_) => Input::Timeout(Instant::now()),
        };
        if rtc.handle_input(input).is_err() {
            rtc.disconnect();
        }
    }
}

impl Client {
    pub fn until(&self, what: &str, f: impl Fn(&Seen) -> bool) {
        let end = Instant::now() + BOUND;
        while Instant::now() < end {
            if f(&self.seen.lock().unwrap()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}: {:?}", self.seen.lock().unwrap());
    }

    pub fn send(&self, command: Command) {
        self.commands.send(command).unwrap();
    }

    pub fn vanish(mut self) {
        let _ = self.commands.send(Command::Vanish);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Vanish);
    }
}
