//! Streams over real WebRTC: the str0m client of `webrtc.rs` offers as the Web SDK does,
//! connects to the server's one UDP socket on loopback and drives the session's lifecycle.

use crate::common::{app_and_group, Server};
use crate::webrtc::{b64, offer, Command, BOUND};
use aws_sdk_gameliftstreams::types::{Protocol, StreamSessionStatus, StreamSessionStatusReason};
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use str0m::media::{Direction, MediaKind};
use str0m::Rtc;

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
    // No build at the application's source: the card says so.
    assert_eq!(
        stream_info(&server, &id)["cardNote"],
        "no build at s3://test-bucket/game/"
    );

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
