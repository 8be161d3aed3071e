//! Streams over real WebRTC: a str0m client (its own ICE agent, DTLS, SRTP and SCTP) offers
//! as the Web SDK does (no candidates, the two data channels, recvonly audio and video),
//! connects to the server's one UDP socket on loopback and drives the session's lifecycle.

use crate::common::{app_and_group, Server};
use aws_sdk_gameliftstreams::types::{Protocol, StreamSessionStatus, StreamSessionStatusReason};
use base64::Engine as _;
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
const BOUND: Duration = Duration::from_secs(20);

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// What the client has seen so far.
#[derive(Default, Debug)]
struct Seen {
    connected: bool,
    channels_open: bool,
    video_frames: u64,
    keyframes: u64,
    audio_packets: u64,
    /// Parsed JSON messages from the server's clientMessageChannel.
    messages: Vec<Value>,
    /// The peer ended (the server closed it, or ICE was lost).
    ended: bool,
}

enum Command {
    Input(Value),
    Message(Value),
    /// Stop answering (the client goes silent, as a closed or crashed tab does).
    Vanish,
}

/// A WebRTC client on its own thread.
struct Client {
    seen: Arc<Mutex<Seen>>,
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

/// An offer made as the Web SDK makes it, and what is needed to finish the connection.
struct Offer {
    rtc: Rtc,
    socket: UdpSocket,
    pending: SdpPendingOffer,
    input: ChannelId,
    messages: ChannelId,
    video: Mid,
    audio: Mid,
    /// The SignalRequest: the SDK's JSON, its SDP without candidates and with LF endings.
    signal_request: String,
}

fn offer() -> Offer {
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
    fn connect(mut self, signal_response: &str) -> Client {
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
    let end = Instant::now() + Duration::from_secs(90);
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
                        Event::MediaData(d) if d.mid == audio => s.audio_packets += 1,
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
            .clamp(Duration::from_millis(1), Duration::from_millis(20));
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
    fn until(&self, what: &str, f: impl Fn(&Seen) -> bool) {
        let end = Instant::now() + BOUND;
        while Instant::now() < end {
            if f(&self.seen.lock().unwrap()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}: {:?}", self.seen.lock().unwrap());
    }

    fn send(&self, command: Command) {
        self.commands.send(command).unwrap();
    }

    fn vanish(mut self) {
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

async fn until_status(
    client: &aws_sdk_gameliftstreams::Client,
    group: &str,
    arn: &str,
    status: StreamSessionStatus,
) -> aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionOutput {
    let end = Instant::now() + BOUND;
    loop {
        let s = client
            .get_stream_session()
            .identifier(group)
            .stream_session_identifier(arn)
            .send()
            .await
            .unwrap();
        if s.status() == Some(&status) {
            return s;
        }
        assert!(Instant::now() < end, "timed out waiting for {status:?}: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn stream_info(server: &Server, id: &str) -> Value {
    let (status, body) = server.http("GET", &format!("/_local/sessions/{id}/stream"), "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webrtc_client_streams_a_session_and_drives_its_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--clock", "frozen"]);
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;

    let first = offer();
    let started = client
        .start_stream_session()
        .identifier(&group)
        .application_identifier(&app)
        .protocol(Protocol::Webrtc)
        .signal_request(&first.signal_request)
        .performance_stats_configuration(
            aws_sdk_gameliftstreams::types::PerformanceStatsConfiguration::builder()
                .shared_with_client(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = started.arn().unwrap().to_string();
    let id = arn.rsplit('/').next().unwrap().to_string();
    server.advance(2);
    let active = until_status(&client, &group, &arn, StreamSessionStatus::Active).await;
    let response: Value = serde_json::from_str(active.signal_response().unwrap()).unwrap();
    let url = response["webSdkProtocolUrl"].as_str().unwrap();
    assert_eq!(Some(url), active.web_sdk_protocol_url());
    let path = url.strip_prefix(&server.url()).expect("served by this server");
    let (status, script) = server.http("GET", path, "");
    assert_eq!(status, 200);
    assert!(script.contains("GameCastInputModule"));
    let sdp = response["sdp"].as_str().unwrap();
    assert!(sdp.contains("a=ice-lite") && sdp.contains("typ host"), "{sdp}");

    let peer = first.connect(active.signal_response().unwrap());
    peer.until("connected, both channels open, video and audio", |s| {
        s.connected && s.channels_open && s.video_frames >= 10 && s.keyframes >= 1 && s.audio_packets >= 10
    });
    let connected = until_status(&client, &group, &arn, StreamSessionStatus::Connected).await;

    // Input on the data channel: recorded, and a userInput event at the service time.
    server.advance(30);
    let before = connected.last_updated_at().unwrap().secs();
    peer.send(Command::Input(
        json!({"t": "key", "type": "keydown", "key": "g", "code": "KeyG"}),
    ));
    let end = Instant::now() + BOUND;
    while !stream_info(&server, &id)["lastInput"]
        .as_str()
        .unwrap_or("")
        .contains("KeyG")
    {
        assert!(Instant::now() < end, "the input never reached the server");
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = until_status(&client, &group, &arn, StreamSessionStatus::Connected).await;
    assert!(
        after.last_updated_at().unwrap().secs() >= before + 30,
        "the idle timer restarted"
    );

    // Application messages both ways, and performance stats.
    let body = json!({"data": b64().encode("hello client")}).to_string();
    let (status, text) = server.http("POST", &format!("/_local/sessions/{id}/messages"), &body);
    assert_eq!(status, 200, "{text}");
    peer.until("the application message", |s| {
        s.messages
            .iter()
            .any(|m| m["t"] == "app" && m["data"] == b64().encode("hello client"))
    });
    peer.send(Command::Message(
        json!({"t": "app", "data": b64().encode("hello game")}),
    ));
    let end = Instant::now() + BOUND;
    loop {
        let (_, text) = server.http("GET", &format!("/_local/sessions/{id}/messages"), "");
        let got: Value = serde_json::from_str(&text).unwrap();
        let texts: Vec<String> = got["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| String::from_utf8(b64().decode(m["data"].as_str().unwrap()).unwrap()).unwrap())
            .collect();
        if texts.iter().any(|t| t == "hello game") {
            break;
        }
        assert!(Instant::now() < end, "the server never got the message: {texts:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    peer.until("performance stats", |s| {
        s.messages
            .iter()
            .any(|m| m["t"] == "stats" && m["system"]["cpuUtilization"].is_f64())
    });

    // The client goes silent (no close, no consent): PENDING_CLIENT_RECONNECTION within 10 s.
    let gone = Instant::now();
    peer.vanish();
    until_status(&client, &group, &arn, StreamSessionStatus::PendingClientReconnection).await;
    assert!(gone.elapsed() <= Duration::from_secs(10), "{:?}", gone.elapsed());
    let (status, _) = server.http("POST", &format!("/_local/sessions/{id}/messages"), &body);
    assert_eq!(status, 409);

    // A fresh offer through CreateStreamSessionConnection: a fresh answer, CONNECTED again.
    let second = offer();
    let conn = client
        .create_stream_session_connection()
        .identifier(&group)
        .stream_session_identifier(&arn)
        .signal_request(&second.signal_request)
        .send()
        .await
        .unwrap();
    let answer = conn.signal_response().unwrap().to_string();
    assert_ne!(answer, active.signal_response().unwrap());
    let peer = second.connect(&answer);
    peer.until("the second connection", |s| {
        s.connected && s.channels_open && s.video_frames >= 5
    });
    // RECONNECTING -> ACTIVE takes service time; then the connected peer makes it CONNECTED.
    server.advance(5);
    until_status(&client, &group, &arn, StreamSessionStatus::Connected).await;

    // TerminateStreamSession: the client is told, then the peer closes.
    client
        .terminate_stream_session()
        .identifier(&group)
        .stream_session_identifier(&arn)
        .send()
        .await
        .unwrap();
    peer.until("the disconnect message", |s| {
        s.messages
            .iter()
            .any(|m| m["t"] == "disconnect" && m["reason"] == "terminated")
    });
    server.advance(60);
    until_status(&client, &group, &arn, StreamSessionStatus::Terminated).await;
    let end = Instant::now() + BOUND;
    while stream_info(&server, &id)["peer"] == true {
        assert!(Instant::now() < end, "the peer stayed open");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_client_is_told_idle_and_offers_without_video_or_channels_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &["--clock", "frozen"]);
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let start = |signal: String| {
        client
            .start_stream_session()
            .identifier(&group)
            .application_identifier(&app)
            .protocol(Protocol::Webrtc)
            .signal_request(signal)
            .send()
    };

    let first = offer();
    let arn = start(first.signal_request.clone())
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    server.advance(2);
    let active = until_status(&client, &group, &arn, StreamSessionStatus::Active).await;
    let peer = first.connect(active.signal_response().unwrap());
    peer.until("connected", |s| s.connected && s.channels_open);
    until_status(&client, &group, &arn, StreamSessionStatus::Connected).await;
    server.advance(3600);
    peer.until("the idle message", |s| {
        s.messages
            .iter()
            .any(|m| m["t"] == "disconnect" && m["reason"] == "idle")
    });
    let ended = until_status(&client, &group, &arn, StreamSessionStatus::Terminated).await;
    assert_eq!(ended.status_reason(), Some(&StreamSessionStatusReason::IdleTimeout));
    peer.until("the peer closed", |s| s.ended);

    // Real offers the peer cannot accept are invalid even in lenient mode.
    let mut no_channels = Rtc::builder().build(Instant::now());
    let mut api = no_channels.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    let (o, _) = api.apply().unwrap();
    let mut no_video = Rtc::builder().build(Instant::now());
    let mut api = no_video.sdp_api();
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    api.add_channel("inputChannel".into());
    let (v, _) = api.apply().unwrap();
    for sdp in [o.to_sdp_string(), v.to_sdp_string()] {
        let signal = json!({"type": "offer", "sdp": sdp}).to_string();
        let arn = start(signal).await.unwrap().arn().unwrap().to_string();
        server.advance(2);
        let s = until_status(&client, &group, &arn, StreamSessionStatus::Error).await;
        assert_eq!(
            s.status_reason(),
            Some(&StreamSessionStatusReason::InvalidSignalRequest)
        );
    }
}
