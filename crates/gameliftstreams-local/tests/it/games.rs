//! A session's game over real WebRTC: the sample game (built by the test command into
//! `$GLS_SAMPLE_GAME`) on its own display; a game that hides its cursor makes the page lock the
//! pointer (the server tells it), relative motion from the page moves the game's marker, and a
//! held key repeats as on a local keyboard.
//! Skipped where the machine has no Xvfb or the sample game is not built.

use crate::common::Server;
use crate::webrtc::{offer, Command, BOUND};
use aws_sdk_gameliftstreams::types::{
    Protocol, RuntimeEnvironment, RuntimeEnvironmentType, StreamClass, StreamSessionStatus,
};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A server with the sample game as an application, and a session of it started with `args`
/// (and the performance statistics shared with the page if `stats`) and ACTIVE (its game's
/// window is up), connected: the server (keep it), the session's id and the connected client.
/// `None` (skipped) where the machine has no Xvfb or no sample game.
async fn game_session(dir: &Path, args: &[&str], stats: bool) -> Option<(Server, String, crate::webrtc::Client)> {
    let Some(game) = std::env::var_os("GLS_SAMPLE_GAME").filter(|_| Path::new("/usr/bin/Xvfb").exists()) else {
        eprintln!("skipped: no sample game build (GLS_SAMPLE_GAME) or no Xvfb");
        return None;
    };
    copy_dir(Path::new(&game), &dir.join("s3/games/sample"));
    let server = Server::start_with(dir, &["--clock", "frozen"]);
    let client = server.client();
    let app = client
        .create_application()
        .description("Sample game")
        .runtime_environment(
            RuntimeEnvironment::builder()
                .r#type(RuntimeEnvironmentType::Ubuntu)
                .version("22_04_LTS")
                .build()
                .unwrap(),
        )
        .executable_path("run-game.sh")
        .application_source_uri("s3://games/sample")
        .send()
        .await
        .unwrap();
    server.advance(5);
    let group = client
        .create_stream_group()
        .description("g")
        .stream_class(StreamClass::Gen4nHigh)
        .default_application_identifier(app.id().unwrap())
        .location_configurations(
            aws_sdk_gameliftstreams::types::LocationConfiguration::builder()
                .location_name("us-west-2")
                .always_on_capacity(2)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let group = group.id().unwrap().to_string();
    server.advance(1);
    let first = offer();
    let arn = client
        .start_stream_session()
        .identifier(&group)
        .application_identifier(app.arn())
        .protocol(Protocol::Webrtc)
        .signal_request(&first.signal_request)
        .set_additional_launch_args(Some(args.iter().map(|a| a.to_string()).collect()))
        .performance_stats_configuration(
            aws_sdk_gameliftstreams::types::PerformanceStatsConfiguration::builder()
                .shared_with_client(stats)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let id = arn.rsplit('/').next().unwrap().to_string();
    server.advance(2);
    // ACTIVATING until the game's window is up, then ACTIVE.
    let end = Instant::now() + BOUND;
    let got = loop {
        let got = client
            .get_stream_session()
            .identifier(&group)
            .stream_session_identifier(&arn)
            .send()
            .await
            .unwrap();
        if got.status() == Some(&StreamSessionStatus::Active) {
            break got;
        }
        assert_eq!(got.status(), Some(&StreamSessionStatus::Activating));
        assert!(Instant::now() < end, "the game never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let peer = first.connect(got.signal_response().unwrap());
    Some((server, id, peer))
}

fn app_info(server: &Server, id: &str) -> Value {
    let (status, body) = server.http("GET", &format!("/_local/sessions/{id}/app"), "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_game_that_hides_its_cursor_gets_relative_mouse_and_held_keys_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let Some((server, id, peer)) = game_session(dir.path(), &["--relative-mouse"], false).await else {
        return;
    };
    peer.until("the game hides its cursor: the page is told", |s| {
        s.connected && s.messages.iter().any(|m| m["t"] == "cursor" && m["visible"] == false)
    });
    assert_eq!(app_info(&server, &id)["cursorHidden"], true);
    // Relative motion from a locked pointer reaches the game as relative motion.
    let end = Instant::now() + BOUND;
    loop {
        peer.send(Command::Input(
            json!({"t": "mouse", "type": "mousemove", "x": 0, "y": 0, "mx": 25, "my": -10, "locked": true, "buttons": 0, "button": 0, "dx": 0, "dy": 0}),
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let tail = app_info(&server, &id)["logTail"].to_string();
        if tail.contains("mouse rel 25,-10") {
            break;
        }
        assert!(Instant::now() < end, "no relative motion in the game: {tail}");
    }
    // A held key repeats as on a local keyboard (the display's autorepeat).
    let key =
        |kind: &str| json!({"t": "key", "type": kind, "key": "ArrowRight", "code": "ArrowRight", "repeat": false});
    peer.send(Command::Input(key("keydown")));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    peer.send(Command::Input(key("keyup")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tail = app_info(&server, &id)["logTail"].to_string();
    let repeats = tail.matches("key down: Right").count();
    assert!(repeats >= 3, "a held key did not repeat: {tail}");
}

/// The frequency of a tone in mono samples at 48 kHz, from its rising zero crossings.
fn frequency(samples: &[f32]) -> f64 {
    // The strongest of 100..2000 Hz in 2 Hz steps (Goertzel): a gap or a click in the sound, as
    // a busy machine makes them, does not move the peak.
    let power = |hz: f64| {
        let k = 2.0 * (2.0 * std::f64::consts::PI * hz / 48_000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in samples {
            let s = f64::from(x) + k * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - k * s1 * s2
    };
    (50..1000)
        .map(|i| f64::from(i) * 2.0)
        .max_by(|a, b| power(*a).total_cmp(&power(*b)))
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_games_sound_reaches_the_page_as_opus() {
    if gameliftstreams_local::host::find_on_path("pulseaudio").is_none() {
        eprintln!("skipped: no PulseAudio");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((server, id, peer)) = game_session(dir.path(), &["--tone", "440"], false).await else {
        return;
    };
    // A second of the game's sound, decoded as the browser decodes it, is its tone.
    peer.until("a second of the game's sound", |s| {
        s.connected && s.audio.iter().rev().take(50).filter(|p| p.len() > 3).count() == 50
    });
    let packets: Vec<Vec<u8>> = peer
        .seen
        .lock()
        .unwrap()
        .audio
        .iter()
        .rev()
        .take(50)
        .rev()
        .cloned()
        .collect();
    let mut decoder = opus_rs::OpusDecoder::new(48_000, 2).unwrap();
    let (mut pcm, mut left) = (vec![0f32; 960 * 2], Vec::new());
    for p in &packets {
        let n = decoder.decode(p, 960, &mut pcm).unwrap();
        left.extend(pcm[..n * 2].iter().step_by(2));
    }
    let hz = frequency(&left[4800..]);
    assert!((hz - 440.0).abs() < 10.0, "the page hears {hz:.1} Hz");
    let sound = &app_info(&server, &id)["sound"];
    assert!(sound["audible"].as_u64().unwrap() > 50, "{sound}");
    let tail = app_info(&server, &id)["logTail"].to_string();
    assert!(tail.contains("tone: 440 Hz through pulseaudio"), "{tail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_performance_statistics_are_the_games_own() {
    let dir = tempfile::tempdir().unwrap();
    // 96 MiB taken and one thread busy, in a gen4n_high session (4 vCPUs, 16 GiB).
    let Some((_server, _id, peer)) = game_session(dir.path(), &["--alloc", "96", "--spin", "1"], true).await else {
        return;
    };
    let game_stats =
        |m: &&Value| m["t"] == "stats" && m["application"]["memoryUtilizationMb"].as_f64().unwrap_or(0.0) >= 96.0;
    peer.until("statistics from the game's cgroup", |s| {
        s.messages.iter().any(|m| game_stats(&m))
    });
    // Two seconds on, for a CPU figure over a whole second of the busy thread.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = peer
        .seen
        .lock()
        .unwrap()
        .messages
        .iter()
        .rev()
        .find(game_stats)
        .cloned()
        .unwrap();
    let app = &stats["application"];
    let mb = app["memoryUtilizationMb"].as_f64().unwrap();
    let share = app["memoryUtilizationNormalized"].as_f64().unwrap();
    assert!((share - mb / 16_384.0).abs() < 0.002, "{stats}");
    // One busy thread of four vCPUs: about a quarter (less when the machine is busy).
    let cpu = app["cpuUtilizationNormalized"].as_f64().unwrap();
    assert!(cpu > 0.05 && cpu <= 0.30, "{stats}");
    assert_eq!(stats["system"]["gpuUtilization"], 0.0);
}
