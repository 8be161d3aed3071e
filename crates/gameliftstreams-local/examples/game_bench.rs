//! Game streams on this machine: the sample game (games/sample, `--animate --tone 440`: its
//! picture changes every frame and it plays a tone) runs in 1, 2, 3, … sessions at
//! WIDTHxHEIGHT, each watched by a WebRTC client (str0m, in this process, over loopback). For
//! each level: the frames every client received a second (target 30), the server's CPU per
//! stream (capture, conversion, encoding and sending: the games and their X servers are other
//! processes, reported apart), the part of it spent in the sessions' video threads (capture,
//! conversion and encoding: the pipeline), the sound's CPU (the server's Opus threads and each
//! session's PulseAudio, parec and pacat), the capture's own split per frame from
//! `GET /_local/sessions/{id}/app`. Stops at the first level where a stream falls below 95 %
//! of 30 fps. Then, with a still game, the latency from a key sent on the input channel to the
//! first video frame that shows its effect (the first frame that is not a periodic keyframe:
//! the picture of a still game changes only with input), and StartStreamSession to the game's
//! first encoded frame (the median of 5).
//!
//! Usage: game_bench <server-binary> <sample-game-build> [WIDTHxHEIGHT] [max-streams] [seconds]
//! (`GLS_BENCH_SERVER_ARGS`: more `serve` flags, e.g. `--app-sandbox off`)
#![allow(clippy::unwrap_used)] // a benchmark fails loudly

#[path = "../tests/it/webrtc.rs"]
#[allow(dead_code)]
mod webrtc;

mod support;

use aws_sdk_gameliftstreams::types::{
    DisplayConfiguration, LocationConfiguration, Protocol, Resolution, RuntimeEnvironment, RuntimeEnvironmentType,
    StreamClass, StreamSessionStatus,
};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::client;

const FPS: f64 = 30.0;

fn http(addr: &str, method: &str, path: &str, body: &str) -> Value {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap_or("{}")).unwrap_or(Value::Null)
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split(' ').collect();
    (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0)) / 100.0
}

/// The CPU seconds of the processes whose parent is `pid` and whose name is one of `names`
/// (the sessions' PulseAudio, parec and pacat).
fn children_cpu_seconds(pid: u32, names: &[&str]) -> f64 {
    let Ok(all) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    all.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let comm = stat
                .split_once('(')
                .and_then(|(_, r)| r.rsplit_once(')'))
                .map(|(c, _)| c);
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, r)| r.split(' ').nth(1)?.parse::<u32>().ok());
            ppid == Some(pid) && comm.is_some_and(|c| names.contains(&c))
        })
        .map(cpu_seconds)
        .sum()
}

/// The CPU seconds of `pid`'s threads whose name starts with `prefix` (the sessions' video
/// threads, `gls-video-…`: capture, conversion and encoding, nothing else).
fn threads_cpu_seconds(pid: u32, prefix: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with(prefix)))
        .map(|t| {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                return 0.0;
            };
            let f: Vec<&str> = rest.split(' ').collect();
            (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0)) / 100.0
        })
        .sum()
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
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

struct Stream {
    id: String,
    arn: String,
    client: webrtc::Client,
    game_pid: u32,
    display_pid: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: game_bench <server-binary> <sample-game-build> [WxH] [max-streams] [seconds]";
    let bin = args.get(1).expect(usage);
    let game = std::path::PathBuf::from(args.get(2).expect(usage));
    let (w, h) = args
        .get(3)
        .and_then(|s| s.split_once('x'))
        .map_or((1280, 720), |(a, b)| (a.parse().unwrap(), b.parse().unwrap()));
    let max: usize = args.get(4).map_or(8, |s| s.parse().unwrap());
    let window = Duration::from_secs(args.get(5).map_or(8, |s| s.parse().unwrap()));
    let dir = std::env::temp_dir().join(format!("gls-game-bench-{}", std::process::id()));
    copy_dir(&game, &dir.join("s3/bench/sample"));
    let extra = std::env::var("GLS_BENCH_SERVER_ARGS").unwrap_or_default();
    let mut server = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .args(extra.split_whitespace())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let server_pid = server.id();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on http://").unwrap().to_string();
    let c = client(&format!("http://{addr}"));
    let app = c
        .create_application()
        .description("Bench game")
        .runtime_environment(
            RuntimeEnvironment::builder()
                .r#type(RuntimeEnvironmentType::Ubuntu)
                .version("22_04_LTS")
                .build()
                .unwrap(),
        )
        .executable_path("run-game.sh")
        .application_source_uri("s3://bench/sample")
        .send()
        .await
        .unwrap();
    http(&addr, "POST", "/_local/clock", "{\"advanceSeconds\": 5}");
    let group = c
        .create_stream_group()
        .description("Bench group")
        .stream_class(StreamClass::Gen4nHigh)
        .default_application_identifier(app.id().unwrap())
        .location_configurations(
            LocationConfiguration::builder()
                .location_name("us-west-2")
                .always_on_capacity((max.div_ceil(2) * 2) as i32 + 2)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let group = group.id().unwrap().to_string();
    http(&addr, "POST", "/_local/clock", "{\"advanceSeconds\": 1}");

    let terminate = |arn: &str| {
        let (c, group, arn) = (c.clone(), group.clone(), arn.to_string());
        async move {
            c.terminate_stream_session()
                .identifier(&group)
                .stream_session_identifier(&arn)
                .send()
                .await
                .unwrap();
        }
    };

    // One stream: start it, connect, wait for the game's picture.
    let start = |extra: Vec<&'static str>| {
        let (c, group, app_arn, addr) = (c.clone(), group.clone(), app.arn().to_string(), addr.clone());
        async move {
            let offer = webrtc::offer();
            let started = Instant::now();
            let mut req = c
                .start_stream_session()
                .identifier(&group)
                .application_identifier(app_arn)
                .protocol(Protocol::Webrtc)
                .signal_request(&offer.signal_request)
                .display_configuration(
                    DisplayConfiguration::builder()
                        .resolution(Resolution::builder().width(w).height(h).build().unwrap())
                        .build(),
                );
            for a in extra {
                req = req.additional_launch_args(a);
            }
            let arn = req.send().await.unwrap().arn().unwrap().to_string();
            let id = arn.rsplit('/').next().unwrap().to_string();
            let end = Instant::now() + Duration::from_secs(30);
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
                assert!(Instant::now() < end, "not placed: {s:?}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            let client = offer.connect(&response);
            let end = Instant::now() + Duration::from_secs(30);
            let info = loop {
                let info = http(&addr, "GET", &format!("/_local/sessions/{id}/app"), "");
                if info["capture"]["encoded"].as_u64().unwrap_or(0) > 0 {
                    break info;
                }
                assert!(Instant::now() < end, "no game frame: {info}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            let first = started.elapsed();
            let game_pid = info["pid"].as_u64().unwrap() as u32;
            let display = info["display"].as_str().unwrap().to_string();
            let display_pid = xvfb_pid(&display);
            (
                Stream {
                    id,
                    arn,
                    client,
                    game_pid,
                    display_pid,
                },
                first,
            )
        }
    };

    println!("{w}x{h}, the sample game --animate --tone 440 at 30 fps (server flags: {extra:?})");
    println!("streams | fps min / mean | server CPU per stream | of which the pipeline | sound CPU per stream (Opus / PulseAudio / parec + pacat) | capture / convert / encode ms a frame | game + Xvfb CPU per stream");
    let mut streams: Vec<Stream> = Vec::new();
    let mut level = 1;
    while level <= max {
        while streams.len() < level {
            streams.push(start(vec!["--animate", "--tone", "440"]).await.0);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let frames =
            |s: &[Stream]| -> Vec<u64> { s.iter().map(|s| s.client.seen.lock().unwrap().video_frames).collect() };
        let split = |s: &[Stream]| -> Vec<Value> {
            s.iter()
                .map(|s| http(&addr, "GET", &format!("/_local/sessions/{}/app", s.id), "")["capture"].clone())
                .collect()
        };
        // A game's CPU is its cgroup's (in its sandbox, its process group's leader is
        // bubblewrap), as the admin API shows it.
        let others = |s: &[Stream]| -> f64 {
            s.iter()
                .map(|s| {
                    let game = http(&addr, "GET", &format!("/_local/sessions/{}/app", s.id), "")["cpuSeconds"]
                        .as_f64()
                        .unwrap_or_else(|| cpu_seconds(s.game_pid));
                    game + cpu_seconds(s.display_pid)
                })
                .sum()
        };
        // The sound: the server's Opus threads, the sessions' PulseAudio, their parec and pacat.
        let sound = || {
            [
                threads_cpu_seconds(server_pid, "gls-audio-") + threads_cpu_seconds(server_pid, "gls-mic-"),
                children_cpu_seconds(server_pid, &["pulseaudio"]),
                children_cpu_seconds(server_pid, &["parec", "pacat"]),
            ]
        };
        let (f0, c0, p0, a0, o0, s0, t0) = (
            frames(&streams),
            cpu_seconds(server_pid),
            threads_cpu_seconds(server_pid, "gls-video-"),
            sound(),
            others(&streams),
            split(&streams),
            Instant::now(),
        );
        tokio::time::sleep(window).await;
        let (f1, c1, p1, a1, o1, s1, secs) = (
            frames(&streams),
            cpu_seconds(server_pid),
            threads_cpu_seconds(server_pid, "gls-video-"),
            sound(),
            others(&streams),
            split(&streams),
            t0.elapsed().as_secs_f64(),
        );
        let fps: Vec<f64> = f0.iter().zip(&f1).map(|(a, b)| (b - a) as f64 / secs).collect();
        let min = fps.iter().cloned().fold(f64::MAX, f64::min);
        let mean = fps.iter().sum::<f64>() / fps.len() as f64;
        let per = |k: &str| -> f64 {
            let (mut ms, mut n) = (0.0, 0.0);
            for (a, b) in s0.iter().zip(&s1) {
                ms += b[k].as_f64().unwrap_or(0.0) - a[k].as_f64().unwrap_or(0.0);
                n += (b["encoded"].as_u64().unwrap_or(0) - a["encoded"].as_u64().unwrap_or(0)) as f64;
            }
            ms / n.max(1.0)
        };
        println!(
            "{level:>7} | {min:>5.1} / {mean:>5.1} | {:>6.1} % of a core | {:>6.1} % | {:>5.1} % ({:.1} / {:.1} / {:.1}) | {:.2} / {:.2} / {:.2} | {:>6.1} %",
            (c1 - c0) / secs / level as f64 * 100.0,
            (p1 - p0) / secs / level as f64 * 100.0,
            a1.iter().zip(&a0).map(|(b, a)| b - a).sum::<f64>() / secs / level as f64 * 100.0,
            (a1[0] - a0[0]) / secs / level as f64 * 100.0,
            (a1[1] - a0[1]) / secs / level as f64 * 100.0,
            (a1[2] - a0[2]) / secs / level as f64 * 100.0,
            per("captureMs"),
            per("convertMs"),
            per("encodeMs"),
            (o1 - o0) / secs / level as f64 * 100.0,
        );
        if min < FPS * 0.95 {
            println!("frames drop at {level} streams");
            break;
        }
        level += 1;
    }
    // Their games stop before the latency is measured: nothing else runs then.
    for s in &streams {
        terminate(&s.arn).await;
    }
    drop(streams);
    http(&addr, "POST", "/_local/clock", "{\"advanceSeconds\": 2}");
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Latency: a still game; a key moves its player; the first frame after it that is not a
    // periodic keyframe is the one that shows it.
    let (still, first_frame) = start(vec![]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut latencies = Vec::new();
    for i in 0..60 {
        let code = if i % 2 == 0 { "ArrowRight" } else { "ArrowLeft" };
        let before = {
            let s = still.client.seen.lock().unwrap();
            (s.video_frames, s.keyframes)
        };
        let sent = Instant::now();
        still.client.send(webrtc::Command::Input(
            json!({"t": "key", "type": "keydown", "key": code, "code": code}),
        ));
        let end = sent + Duration::from_secs(2);
        let got = loop {
            let s = still.client.seen.lock().unwrap();
            if s.video_frames - before.0 > s.keyframes - before.1 {
                break Some(sent.elapsed());
            }
            drop(s);
            if Instant::now() > end {
                break None;
            }
            std::thread::sleep(Duration::from_micros(500));
        };
        still.client.send(webrtc::Command::Input(
            json!({"t": "key", "type": "keyup", "key": code, "code": code}),
        ));
        if let Some(l) = got {
            latencies.push(l);
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "key → first frame that shows it: p50 {:.1} ms, p99 {:.1} ms ({} of 60 keys)",
        pct(0.5),
        pct(0.99),
        latencies.len()
    );
    terminate(&still.arn).await;
    drop(still);
    // StartStreamSession to the first frame, five times (one session at a time).
    let mut firsts = vec![first_frame];
    http(&addr, "POST", "/_local/clock", "{\"advanceSeconds\": 2}");
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (s, first) = start(vec![]).await;
        firsts.push(first);
        terminate(&s.arn).await;
        drop(s);
        http(&addr, "POST", "/_local/clock", "{\"advanceSeconds\": 2}");
    }
    firsts.sort();
    println!(
        "StartStreamSession → the game's first encoded frame: median {:.0} ms (of 5: {})",
        firsts[2].as_secs_f64() * 1000.0,
        firsts
            .iter()
            .map(|f| format!("{:.0}", f.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = Command::new("kill").arg(server_pid.to_string()).status();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Xvfb serving `display` (`:N`): its lock file names it.
fn xvfb_pid(display: &str) -> u32 {
    let n = display.trim_start_matches(':');
    std::fs::read_to_string(format!("/tmp/.X{n}-lock"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}
