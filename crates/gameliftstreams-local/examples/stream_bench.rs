//! How many concurrent test-card streams the server sends at full frame rate: starts the
//! server, connects 1, 2, 4, … WebRTC clients (str0m, in this process, over loopback) to
//! sessions of 1280x720, and measures for each level the frames every client received, the
//! server's CPU, and the time from the answer to the first frame. Stops at the first level
//! where a stream falls below 95 % of the card's frame rate (see tools/bench-streams.sh).
//!
//! Usage: stream_bench <server-binary> [max-streams] [seconds-per-level]
#![allow(clippy::unwrap_used)] // a benchmark fails loudly

#[path = "../tests/it/webrtc.rs"]
#[allow(dead_code)]
mod webrtc;

mod support;

use aws_sdk_gameliftstreams::types::{
    LocationConfiguration, Protocol, RuntimeEnvironment, RuntimeEnvironmentType, StreamClass, StreamSessionStatus,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::client;

/// The card's frame rate (stream/card.rs).
const FPS: f64 = 15.0;

fn post(addr: &str, path: &str, body: &str) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

/// CPU seconds (user + system) a process has used.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .expect("usage: stream_bench <server-binary> [max-streams] [seconds]");
    let max: usize = args.get(2).map_or(64, |s| s.parse().unwrap());
    let window = Duration::from_secs(args.get(3).map_or(10, |s| s.parse().unwrap()));
    let dir = std::env::temp_dir().join(format!("gls-stream-bench-{}", std::process::id()));
    let mut server = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = server.id().to_string();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on http://").unwrap().to_string();
    let url = format!("http://{addr}");
    let c = client(&url);

    let app = c
        .create_application()
        .description("Bench game")
        .runtime_environment(
            RuntimeEnvironment::builder()
                .r#type(RuntimeEnvironmentType::Proton)
                .version("20241007")
                .build()
                .unwrap(),
        )
        .executable_path("Game.exe")
        .application_source_uri("s3://bench-bucket/game/")
        .send()
        .await
        .unwrap();
    post(&addr, "/_local/clock", "{\"advanceSeconds\": 5}");
    let group = c
        .create_stream_group()
        .description("Bench group")
        .stream_class(StreamClass::Gen5nUltra)
        .default_application_identifier(app.id().unwrap())
        .location_configurations(
            LocationConfiguration::builder()
                .location_name("us-west-2")
                .always_on_capacity(max as i32)
                .maximum_capacity(max as i32)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let group = group.id().unwrap().to_string();
    post(&addr, "/_local/clock", "{\"advanceSeconds\": 1}");

    let idle_from = cpu_seconds(&pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = (cpu_seconds(&pid) - idle_from) / 2.0;
    println!("server idle: {:.1} % of a core", idle * 100.0);
    println!("streams | fps min / mean | server CPU (% of a core) | per stream | answer→first frame p50 / max");

    let mut clients: Vec<webrtc::Client> = Vec::new();
    let mut first_frames: Vec<Duration> = Vec::new();
    let mut level = 1;
    while level <= max {
        while clients.len() < level {
            let offer = webrtc::offer();
            let arn = c
                .start_stream_session()
                .identifier(&group)
                .application_identifier(app.arn())
                .protocol(Protocol::Webrtc)
                .signal_request(&offer.signal_request)
                .send()
                .await
                .unwrap()
                .arn()
                .unwrap()
                .to_string();
            let end = Instant::now() + Duration::from_secs(20);
            let response = loop {
                let s = c
                    .get_stream_session()
                    .identifier(&group)
                    .stream_session_identifier(&arn)
                    .send()
                    .await
                    .unwrap();
                if s.status() == Some(&StreamSessionStatus::Active) {
                    break s.signal_response().unwrap().to_string();
                }
                assert!(Instant::now() < end, "the session was not placed: {s:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let applied = Instant::now();
            let client = offer.connect(&response);
            client.until("a first frame", |s| s.video_frames > 0);
            first_frames.push(applied.elapsed());
            clients.push(client);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let frames = |clients: &[webrtc::Client]| -> Vec<u64> {
            clients.iter().map(|c| c.seen.lock().unwrap().video_frames).collect()
        };
        let (f0, cpu0, t0) = (frames(&clients), cpu_seconds(&pid), Instant::now());
        tokio::time::sleep(window).await;
        let (f1, cpu1, secs) = (frames(&clients), cpu_seconds(&pid), t0.elapsed().as_secs_f64());
        let fps: Vec<f64> = f0.iter().zip(&f1).map(|(a, b)| (b - a) as f64 / secs).collect();
        let min = fps.iter().cloned().fold(f64::MAX, f64::min);
        let mean = fps.iter().sum::<f64>() / fps.len() as f64;
        let cpu = (cpu1 - cpu0) / secs;
        let mut ff = first_frames.clone();
        ff.sort();
        println!(
            "{level:>7} | {min:>5.1} / {mean:>5.1} | {:>6.1} % | {:>5.1} % | {:>4.0} / {:>4.0} ms",
            cpu * 100.0,
            (cpu - idle) / level as f64 * 100.0,
            ff[ff.len() / 2].as_secs_f64() * 1000.0,
            ff[ff.len() - 1].as_secs_f64() * 1000.0,
        );
        if min < FPS * 0.95 {
            println!("frames drop at {level} streams");
            break;
        }
        level = if level < 4 { level * 2 } else { level + 4 };
    }
    drop(clients);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
