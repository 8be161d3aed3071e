//! A session's sound: a PulseAudio server of its own (Debian's `pulseaudio`, started and owned
//! by the host like its X server) with a null sink that is the game's default output and a
//! virtual microphone that is its default input. The sink's monitor is read by `parec`
//! (Debian's `pulseaudio-utils`) and encoded to Opus (48 kHz stereo, 20 ms frames; `opus-rs`)
//! on a thread of its own, for the stream layer's audio track; the page's microphone (Opus
//! packets) is decoded on another and played by `pacat` into the microphone's sink, every
//! 20 ms (started at the page's first packet: until then the sink's monitor, the game's
//! microphone, is silent by itself).

use super::process::{self, Group};
use crate::ops::engine::apps::AudioFeed;
use opus_rs::{Application, OpusDecoder, OpusEncoder};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Samples a second.
pub const RATE: u32 = 48_000;
/// Samples a channel in one 20 ms frame.
pub const FRAME: usize = 960;
/// Opus bits a second for the game's sound (stereo music and effects).
const BITRATE: i32 = 128_000;
/// The name of the sink the game plays into.
pub const SINK: &str = "game";
/// The name of the source the game records from.
pub const SOURCE: &str = "microphone";
/// The sink the page's microphone plays into (its monitor is [`SOURCE`]).
pub const MIC_SINK: &str = "mic";

/// The programs sound needs, where the machine has them.
#[derive(Debug, Clone)]
pub struct SoundTools {
    /// `pulseaudio`.
    pub pulseaudio: PathBuf,
    /// `parec`.
    pub parec: PathBuf,
    /// `pacat` (the same package's player).
    pub pacat: PathBuf,
}

/// Where the audio server of session `id` listens: in its run folder `run`, or, where that
/// path is too long for a unix socket (at most 107 bytes), in [`spare_socket_dir`].
pub fn socket_dir(run: &Path, id: &str) -> PathBuf {
    let here = run.join("pulse");
    if here.join("native").as_os_str().len() <= 100 {
        here
    } else {
        spare_socket_dir(id)
    }
}

/// The audio server's socket folder of session `id` when its run folder's path is too long:
/// under the system's temporary folder (removed when the session's sound stops, or by the next
/// start after a crash).
pub fn spare_socket_dir(id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gls-audio-{id}"))
}

/// One session's sound.
pub struct Sound {
    /// The PulseAudio server.
    pub server: Group,
    /// `parec`, reading the game's sink.
    pub capture: Group,
    /// `pacat`, playing the page's microphone, once the page sends it.
    playback: Arc<Mutex<Option<Group>>>,
    /// The page's microphone packets, for its thread.
    mic: SyncSender<Vec<u8>>,
    mic_stop: Arc<AtomicBool>,
    dir: PathBuf,
    socket: PathBuf,
    feed: Arc<Mutex<Option<SyncSender<Vec<u8>>>>>,
    stats: Arc<Mutex<SoundStats>>,
}

/// What the sound's capture has done.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SoundStats {
    /// 20 ms frames encoded.
    pub frames: u64,
    /// Of which not silent.
    pub audible: u64,
    /// Packets from the page's microphone played to the game.
    pub microphone_packets: u64,
    /// Opus bytes.
    pub bytes: u64,
    /// Time spent encoding, in milliseconds.
    pub encode_ms: f64,
}

impl Sound {
    /// Start session `id`'s audio server (its configuration and log in `run`) and the capture
    /// of its sink; `env` is the environment both get (the host's marker, PATH).
    pub fn start(
        tools: &SoundTools,
        setpriv: Option<&Path>,
        id: &str,
        run: &Path,
        env: &[(String, String)],
        within: Duration,
    ) -> Result<Sound, String> {
        let dir = socket_dir(run, id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let socket = dir.join("native");
        let script = run.join("pulse.pa");
        std::fs::write(&script, config(&socket)).map_err(|e| format!("{}: {e}", script.display()))?;
        let log_path = run.join("pulse.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let home = run.join("pulse-home");
        std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        let mut own: Vec<(String, String)> = env.to_vec();
        own.push(("HOME".into(), home.display().to_string()));
        own.push(("XDG_RUNTIME_DIR".into(), dir.display().to_string()));
        let mut cmd = process::command(&tools.pulseaudio, setpriv);
        cmd.args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--log-target=stderr",
        ])
        .arg("--file")
        .arg(&script)
        .env_clear()
        .envs(own.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(log);
        let server =
            Group::spawn(&mut cmd).map_err(|e| format!("{} could not start: {e}", tools.pulseaudio.display()))?;
        let end = Instant::now() + within;
        while !socket.exists() {
            if Instant::now() >= end || !server.alive() {
                server.stop(Duration::from_millis(200));
                let said = std::fs::read_to_string(&log_path).unwrap_or_default();
                let last = said.lines().rev().find(|l| l.starts_with("E:")).unwrap_or("no socket");
                return Err(format!("the audio server did not start: {last}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut cmd = pulse_client(&tools.parec, setpriv, &socket, &own);
        cmd.arg(format!("--device={SINK}.monitor"))
            .args(["--channels=2", "--latency-msec=20"])
            .stdout(Stdio::piped());
        let capture = match Group::spawn(&mut cmd) {
            Ok(c) => c,
            Err(e) => {
                server.stop(Duration::from_millis(200));
                return Err(format!("{} could not start: {e}", tools.parec.display()));
            }
        };
        let pcm = capture.take_stdout().ok_or("parec has no stdout")?;
        let player = Player {
            pacat: tools.pacat.clone(),
            setpriv: setpriv.map(Path::to_path_buf),
            socket: socket.clone(),
            env: own.clone(),
        };
        let playback: Arc<Mutex<Option<Group>>> = Arc::default();
        let feed: Arc<Mutex<Option<SyncSender<Vec<u8>>>>> = Arc::default();
        let stats: Arc<Mutex<SoundStats>> = Arc::default();
        let short: String = id.chars().take(6).collect();
        let (f, s) = (feed.clone(), stats.clone());
        std::thread::Builder::new()
            .name(format!("gls-audio-{short}"))
            .spawn(move || encode(pcm, &f, &s))
            .map_err(|e| e.to_string())?;
        let (mic, packets) = sync_channel(25);
        let mic_stop = Arc::new(AtomicBool::new(false));
        let (stop, s, slot) = (mic_stop.clone(), stats.clone(), playback.clone());
        std::thread::Builder::new()
            .name(format!("gls-mic-{short}"))
            .spawn(move || play(&packets, &player, &slot, &stop, &s))
            .map_err(|e| e.to_string())?;
        Ok(Sound {
            server,
            capture,
            playback,
            mic,
            mic_stop,
            dir,
            socket,
            feed,
            stats,
        })
    }

    /// What the game's environment gets: its default output and input are this session's.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("PULSE_SERVER".into(), format!("unix:{}", self.socket.display())),
            ("PULSE_SINK".into(), SINK.into()),
            ("PULSE_SOURCE".into(), SOURCE.into()),
        ]
    }

    /// The encoded sound for the stream layer (replacing any earlier feed).
    pub fn feed(&self) -> AudioFeed {
        let (tx, rx) = sync_channel(16);
        *self.feed.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        AudioFeed { packets: rx }
    }

    /// A packet of the page's microphone, for the game; false if it cannot take it now.
    pub fn microphone(&self, packet: &[u8]) -> bool {
        self.mic.try_send(packet.to_vec()).is_ok()
    }

    /// The process groups it runs from its start (the microphone's player, started later by a
    /// thread of its own, ends with that thread).
    pub fn groups(&self) -> [i32; 2] {
        [self.server.pgid(), self.capture.pgid()]
    }

    /// What the capture has done so far.
    pub fn stats(&self) -> SoundStats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The folder of the audio server's socket (a sandboxed game's own view needs it).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// End the capture and the server, and remove the socket's folder.
    pub fn stop(&self) {
        self.mic_stop.store(true, Ordering::SeqCst);
        if let Some(playback) = self.playback.lock().unwrap_or_else(|p| p.into_inner()).take() {
            playback.stop(Duration::from_millis(200));
        }
        self.capture.stop(Duration::from_millis(200));
        self.server.stop(Duration::from_millis(500));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `parec` or `pacat` of the session's audio server (`socket`), raw 16-bit PCM at 48 kHz,
/// with environment `env`.
fn pulse_client(
    program: &Path,
    setpriv: Option<&Path>,
    socket: &Path,
    env: &[(String, String)],
) -> std::process::Command {
    let mut cmd = process::command(program, setpriv);
    cmd.arg(format!("--server=unix:{}", socket.display()))
        .args(["--raw", "--format=s16le"])
        .arg(format!("--rate={RATE}"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stderr(Stdio::null());
    cmd
}

/// The audio server's configuration: its socket (anyone who can reach it may use it: only the
/// session's game can), the game's sink, and the microphone's sink and source.
fn config(socket: &Path) -> String {
    format!(
        "load-module module-native-protocol-unix socket={socket} auth-anonymous=1\n\
         load-module module-null-sink sink_name={SINK} rate={RATE} channels=2 sink_properties=device.description=Stream\n\
         load-module module-null-sink sink_name={MIC_SINK} rate={RATE} channels=1 sink_properties=device.description=Page\n\
         load-module module-remap-source master={MIC_SINK}.monitor source_name={SOURCE} source_properties=device.description=Microphone\n\
         set-default-sink {SINK}\n\
         set-default-source {SOURCE}\n",
        socket = socket.display()
    )
}

/// Read 20 ms of PCM at a time from `pcm` until it ends, encode each to Opus and hand it to
/// the feed, when there is one.
fn encode(mut pcm: impl Read, feed: &Mutex<Option<SyncSender<Vec<u8>>>>, stats: &Mutex<SoundStats>) {
    let mut encoder = match OpusEncoder::new(RATE as i32, 2, Application::Audio) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = e, "the Opus encoder could not start; no game sound");
            return;
        }
    };
    encoder.bitrate_bps = BITRATE;
    let mut bytes = vec![0u8; FRAME * 2 * 2];
    let mut samples = vec![0i16; FRAME * 2];
    let mut out = vec![0u8; 4000];
    while pcm.read_exact(&mut bytes).is_ok() {
        for (s, b) in samples.iter_mut().zip(bytes.chunks_exact(2)) {
            *s = i16::from_le_bytes([b[0], b[1]]);
        }
        let t0 = Instant::now();
        let n = match encoder.encode_i16(&samples, FRAME, &mut out) {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = e, "an audio frame could not be encoded");
                continue;
            }
        };
        {
            let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
            s.frames += 1;
            s.audible += u64::from(samples.iter().any(|v| v.unsigned_abs() > 64));
            s.bytes += n as u64;
            s.encode_ms += t0.elapsed().as_secs_f64() * 1000.0;
        }
        let mut feed = feed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = feed.as_ref() {
            match tx.try_send(out[..n].to_vec()) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => *feed = None,
            }
        }
    }
}

/// Play the page's microphone into the microphone's sink through `speaker` (`pacat`'s stdin):
/// 20 ms every 20 ms, of what came from the page (decoded) or else silence, so that the game
/// always records (silence when the page sends nothing) and what it hears is at most ~100 ms
/// behind the page.
/// What starts `pacat` into the microphone's sink.
struct Player {
    pacat: PathBuf,
    setpriv: Option<PathBuf>,
    socket: PathBuf,
    env: Vec<(String, String)>,
}

impl Player {
    fn start(&self) -> std::io::Result<(Group, std::process::ChildStdin)> {
        let mut cmd = pulse_client(&self.pacat, self.setpriv.as_deref(), &self.socket, &self.env);
        cmd.arg(format!("--device={MIC_SINK}"))
            .args(["--playback", "--channels=1", "--latency-msec=40"])
            .stdout(Stdio::null());
        Group::spawn_fed(&mut cmd)
    }
}

/// The page's microphone into the game's: nothing until its first packet; then `pacat`
/// (kept in `slot`, for the sound's stop) gets 20 ms of it at a time, silence where the page
/// sent none.
fn play(
    packets: &Receiver<Vec<u8>>,
    player: &Player,
    slot: &Mutex<Option<Group>>,
    stop: &AtomicBool,
    stats: &Mutex<SoundStats>,
) {
    let first = loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match packets.recv_timeout(Duration::from_millis(200)) {
            Ok(p) => break p,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
    };
    let mut speaker = match player.start() {
        Ok((group, stdin)) => {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(group);
            stdin
        }
        Err(e) => {
            tracing::warn!(error = %e, "pacat could not start; the game's microphone stays silent");
            return;
        }
    };
    let mut first = Some(first);
    let mut decoder = match OpusDecoder::new(RATE as i32, 1) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(
                error = e,
                "the Opus decoder could not start; the game's microphone is silent"
            );
            return;
        }
    };
    let tick = Duration::from_millis(20);
    let mut pcm = vec![0f32; FRAME * 6];
    let mut heard: std::collections::VecDeque<i16> = Default::default();
    let mut bytes = Vec::with_capacity(FRAME * 2);
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        while let Some(p) = first.take().or_else(|| packets.try_recv().ok()) {
            // (A packet of up to 120 ms; a broken one is skipped.)
            if let Ok(n) = decoder.decode(&p, FRAME * 6, &mut pcm) {
                heard.extend(pcm[..n].iter().map(|v| (v.clamp(-1.0, 1.0) * 32767.0) as i16));
                stats.lock().unwrap_or_else(|p| p.into_inner()).microphone_packets += 1;
            }
        }
        // Keep at most 100 ms waiting: the oldest goes.
        while heard.len() > FRAME * 5 {
            heard.pop_front();
        }
        bytes.clear();
        for _ in 0..FRAME {
            bytes.extend_from_slice(&heard.pop_front().unwrap_or(0).to_le_bytes());
        }
        if speaker.write_all(&bytes).is_err() {
            return; // pacat ended: the session's sound is stopping
        }
        next += tick;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > tick * 5 {
            next = now; // behind (the machine was busy): start the pace again
        }
    }
}
