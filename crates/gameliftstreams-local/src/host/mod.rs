//! The host: each placed session's application runs here, as on AWS's hosts. A session of
//! an application whose build is ready gets a private Xvfb display at its resolution, a fresh
//! writable copy of the build as its working directory, its own HOME, TMPDIR and
//! XDG_RUNTIME_DIR, a clean environment with its `AdditionalEnvironmentVariables`, and its
//! `AdditionalLaunchArgs`; stdout and stderr go to a log file. The process's exit ends the
//! session TERMINATED/applicationExit; a session that ends otherwise has its processes
//! stopped. Nothing the host starts outlives it: a graceful stop ends everything, and after a
//! `kill -9` the next start ends what was left ([`process::sweep`]). Each game runs in a
//! sandbox ([`sandbox`]) where the kernel allows one, limited to its stream class's vCPUs and
//! memory ([`limits`]). Uses `ops`; the engine reaches it through `ops::engine::apps::Apps`.

pub mod audio;
mod capture;
pub mod limits;
mod logs;
mod messages;
pub mod process;
pub mod sample;
pub mod sandbox;
mod screen;
pub mod wine;
mod workdir;

use crate::domain::session::Event;
use crate::ops::api::admin::{LaunchView, Outcome};
use crate::ops::engine::apps::{Apps, AudioFeed, GameUsage, Input, SessionDirs, VideoFeed};
use crate::ops::Service;
use audio::{Sound, SoundStats, SoundTools};
use capture::{CaptureStats, SessionMedia};
use gls_model::{RuntimeEnvironmentType, StreamSessionStatus};
use limits::{Cgroup, Limiter, Resources};
use messages::Endpoint;
use process::{Display, Group};
use sandbox::{Jail, Sandbox};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};
use wine::Wine;

/// How often the host looks at the sessions it runs.
const RECONCILE: Duration = Duration::from_millis(250);

/// How long a placement hint waits for its transaction to commit.
const PLACEMENT_WAIT: Duration = Duration::from_secs(3);

/// How long Xvfb has to say which display it took.
const DISPLAY_START: Duration = Duration::from_secs(10);

/// How the host is set up (`serve` flags).
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where session folders, logs and process records live (`<data-dir>/host`).
    pub root: PathBuf,
    /// `--apps on`: run applications (off: every session streams the test card).
    pub enabled: bool,
    /// The Xvfb binary, when the machine has one.
    pub xvfb: Option<PathBuf>,
    /// util-linux's `setpriv`, when the machine has it: what the host starts dies with it.
    pub setpriv: Option<PathBuf>,
    /// PulseAudio and `parec`, when the machine has them: each game gets its own sound.
    pub sound: Option<SoundTools>,
    /// How long a stopped application has between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// bubblewrap, when the machine has it and games are to be sandboxed (`--app-sandbox on`).
    pub bwrap: Option<PathBuf>,
    /// Whether a sandboxed game reaches the network (`--app-network on`), or has only a
    /// loopback of its own (`none`).
    pub network: bool,
    /// The share of its stream class's vCPUs and memory a game gets (`--host-scale`).
    pub scale: f64,
    /// util-linux's `prlimit`: memory limits where no cgroup can be made.
    pub prlimit: Option<PathBuf>,
    /// Wine, for PROTON and WINDOWS builds (`--wine PATH`, else Debian's on PATH).
    pub wine: Option<PathBuf>,
}

impl HostConfig {
    /// Why no application runs on this host at all, if so.
    pub fn unavailable(&self) -> Option<String> {
        if !self.enabled {
            return Some("applications are off (serve --apps off)".into());
        }
        if self.xvfb.is_none() {
            return Some("Xvfb is not installed (Debian: apt-get install xvfb)".into());
        }
        None
    }
}

/// The first `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Where a session's application stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppState {
    /// The session runs no application (see `reason`; none yet when there is none).
    #[default]
    None,
    /// Its session is placed and its game about to start.
    Starting,
    /// The game runs.
    Running,
    /// The game exited on its own.
    Exited,
    /// Its session ended and the game was stopped.
    Stopped,
}

/// A session's application as the admin API shows it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// Where it stands.
    pub state: AppState,
    /// Why the session runs no application (it streams the test card).
    pub reason: Option<String>,
    /// The application's process id (its process group's).
    pub pid: Option<i32>,
    /// The X display, `:N`.
    pub display: Option<String>,
    /// The display's size.
    pub width: Option<u32>,
    /// See `width`.
    pub height: Option<u32>,
    /// The exit code (128 + N for signal N), once it has exited.
    pub exit_code: Option<i32>,
    /// The command line: the executable (inside the build) and its arguments.
    pub command: Vec<String>,
    /// The working directory (the session's copy of the build).
    pub working_directory: Option<String>,
    /// The file that gets the application's stdout and stderr.
    pub log_file: Option<String>,
    /// CPU seconds used so far (user + system, the whole process group's leader).
    pub cpu_seconds: Option<f64>,
    /// Resident memory of the leader, bytes.
    pub memory_bytes: Option<u64>,
    /// The last lines of its log.
    pub log_tail: Vec<String>,
    /// The game has a window on its display.
    pub window_mapped: bool,
    /// The game hides its cursor (the page locks the pointer: relative mouse).
    pub cursor_hidden: bool,
    /// The message endpoint the game connects to (`host:port`).
    pub message_endpoint: Option<String>,
    /// The game is connected to it.
    pub messages_connected: bool,
    /// Messages delivered to the game, and received from it.
    pub messages_to_game: u64,
    /// See `messages_to_game`.
    pub messages_from_game: u64,
    /// What the display's capture has done.
    pub capture: Option<CaptureStats>,
    /// What the capture of its sound has done (none: the game has no sound; see `sound_reason`).
    pub sound: Option<SoundStats>,
    /// Why the game has no sound, when it has none.
    pub sound_reason: Option<String>,
    /// The game runs in a sandbox (see the host's `sandbox` in `/_local/health`).
    pub sandboxed: bool,
    /// It reaches the network (else it has a loopback of its own).
    pub network: bool,
    /// What its stream class gives it, and how that is enforced.
    pub limits: Option<LimitsInfo>,
    /// Why it ended, when the host knows more than its exit code (over its memory).
    pub exit_reason: Option<String>,
}

/// What a session's game may use.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsInfo {
    /// Its group's stream class.
    pub stream_class: String,
    /// vCPUs (the class's, times `--host-scale`).
    pub vcpus: f64,
    /// Memory, bytes (likewise).
    pub memory_bytes: u64,
    /// How: `cgroup v1`, `cgroup v2`, `rlimit` (memory only) or `none`.
    pub enforced_by: String,
}

/// A running application: its display and its process group.
struct Running {
    display: Display,
    sound: Option<Arc<Sound>>,
    game: Group,
    media: Arc<SessionMedia>,
    messages: Arc<Endpoint>,
    /// The session's folders, for the logs to upload when it ends.
    dirs: SessionDirs,
    log_paths: Vec<String>,
    log_location: Option<String>,
    stats: logs::Stats,
    next_stats: Instant,
    /// Its session ended: it is being stopped, its exit is not an application exit.
    stopping: bool,
    /// Its cgroup, where the host makes them.
    cgroup: Option<Arc<Cgroup>>,
    /// What it may use.
    resources: Resources,
}

enum Msg {
    Placed(String, Instant),
    Mapped(String),
    FromGame(String, Vec<u8>),
    Exited(String, i32),
    Shutdown(mpsc::Sender<()>),
}

/// The host of the applications.
pub struct Host {
    config: HostConfig,
    /// The sandbox games run in, or why they run without one.
    sandbox: Result<Sandbox, String>,
    /// How games are limited.
    limiter: Limiter,
    /// Wine and its base prefix, where the machine has Wine.
    wine: Option<Arc<Wine>>,
    marker: String,
    tx: Mutex<Sender<Msg>>,
    /// Every session the host has heard of, under one lock: what it shows of each, and
    /// what the stream layer reaches while its game runs.
    sessions: Mutex<HashMap<String, Slot>>,
    service: OnceLock<Weak<Service>>,
}

/// What the host keeps of a session.
#[derive(Default)]
struct Slot {
    info: AppInfo,
    /// While its game runs: its video and input.
    media: Option<Arc<SessionMedia>>,
    /// While its game runs: its message endpoint.
    endpoint: Option<Arc<Endpoint>>,
    /// While its game runs: its sound, if it has any.
    sound: Option<Arc<Sound>>,
    /// While its game runs: its cgroup, if it has one.
    cgroup: Option<Arc<Cgroup>>,
    /// While its game runs: what it used over the last second.
    usage: Option<GameUsage>,
    /// Messages from the page while its game is starting, for the endpoint to come.
    early: Vec<Vec<u8>>,
}

impl Host {
    /// Set the host up: end what a previous run left, and start its thread.
    pub fn start(config: HostConfig) -> std::io::Result<Arc<Host>> {
        std::fs::create_dir_all(&config.root)?;
        let root = std::path::absolute(&config.root)?;
        let marker = root.display().to_string();
        let (ended, left) = process::sweep(&root.join("running"), &marker);
        // (The audio servers' socket folders of the sessions a previous run left go too.)
        for id in left {
            let _ = std::fs::remove_dir_all(audio::spare_socket_dir(&id));
        }
        if ended > 0 {
            tracing::warn!(groups = ended, "ended application processes a previous run left behind");
        }
        let on = config.unavailable().is_none();
        let sandbox = match (&config.bwrap, on) {
            (_, false) => Err("applications are off".to_string()),
            (None, true) => {
                Err("bubblewrap is not installed (Debian: apt-get install bubblewrap), or --app-sandbox off".into())
            }
            (Some(bwrap), true) => Sandbox::probe(bwrap),
        };
        if let (Err(why), true) = (&sandbox, on) {
            tracing::warn!(reason = %why, "games run without a sandbox: they see this machine as the server does");
            if !config.network {
                tracing::warn!("--app-network none needs the sandbox: games reach the network");
            }
        }
        // The host's cgroup folder: one per data dir, so a restart finds its own.
        let hash = marker.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let limiter = if on {
            Limiter::detect(
                &format!("{}{:08x}", limits::PREFIX, hash as u32),
                config.prlimit.clone(),
            )
        } else {
            Limiter::Rlimit(None, "applications are off".into())
        };
        if let (Limiter::Rlimit(_, why), true) = (&limiter, on) {
            tracing::warn!(reason = %why, "games get no cgroup: their memory is limited by rlimit only, their CPU not at all");
        }
        let wine = config.wine.clone().map(|w| Arc::new(Wine::new(w, &root)));
        let (tx, rx) = mpsc::channel();
        let host = Arc::new(Host {
            sandbox,
            limiter,
            wine,
            config: HostConfig { root, ..config },
            marker,
            tx: Mutex::new(tx),
            sessions: Mutex::default(),
            service: OnceLock::new(),
        });
        let weak = Arc::downgrade(&host);
        std::thread::Builder::new()
            .name("gls-host".into())
            .spawn(move || run(weak, rx))?;
        Ok(host)
    }

    /// What the start-up line and the health check say of the host: on (with which Xvfb),
    /// or off and why.
    pub fn summary(&self) -> String {
        match (self.config.unavailable(), &self.config.xvfb) {
            (Some(why), _) => format!("off: {why}; sessions stream the test card"),
            (None, Some(xvfb)) => format!(
                "on (Xvfb {}; sound: {}; sandbox: {}; limits: {} at scale {}; Windows builds: {})",
                xvfb.display(),
                match &self.config.sound {
                    Some(t) => format!("PulseAudio {}", t.pulseaudio.display()),
                    None => format!("off, {}", NO_SOUND),
                },
                match &self.sandbox {
                    Ok(_) if self.config.network => "bubblewrap".to_string(),
                    Ok(_) => "bubblewrap, no network".to_string(),
                    Err(why) => format!("off, {why}"),
                },
                self.limiter.describe(),
                self.config.scale,
                match &self.wine {
                    Some(w) => format!("Wine {}", w.wine.display()),
                    None => format!("off, {NO_WINE}"),
                },
            ),
            (None, None) => "on".to_string(),
        }
    }

    /// The service whose sessions it hosts.
    pub fn attach(&self, service: &Arc<Service>) {
        let _ = self.service.set(Arc::downgrade(service));
    }

    fn service(&self) -> Option<Arc<Service>> {
        self.service.get().and_then(Weak::upgrade)
    }

    fn send(&self, msg: Msg) {
        let _ = self.tx.lock().unwrap_or_else(|p| p.into_inner()).send(msg);
    }

    /// Stop every application and display, and wait for them to be gone.
    pub fn shutdown(&self) {
        let (done, wait) = mpsc::channel();
        self.send(Msg::Shutdown(done));
        let _ = wait.recv_timeout(self.config.stop_grace + Duration::from_secs(5));
    }

    /// The session's application, as the admin API shows it.
    pub fn app_info(&self, session: &str) -> AppInfo {
        let (mut info, media, endpoint, sound, cgroup) = self.peek(session, |s| {
            s.map(|s| {
                (
                    s.info.clone(),
                    s.media.clone(),
                    s.endpoint.clone(),
                    s.sound.clone(),
                    s.cgroup.clone(),
                )
            })
            .unwrap_or_default()
        });
        info.sound = sound.map(|s| s.stats());
        if let Some(pid) = info.pid.filter(|_| info.state == AppState::Running) {
            let (cpu, memory) = usage(cgroup.as_deref(), pid);
            info.cpu_seconds = cpu;
            info.memory_bytes = memory;
        }
        if let Some(log) = &info.log_file {
            info.log_tail = tail(Path::new(log), 20);
        }
        if let Some(media) = media {
            info.window_mapped = media.window_mapped();
            info.cursor_hidden = media.cursor_hidden();
            info.capture = Some(media.stats());
        }
        if let Some(ep) = endpoint {
            let (to_game, from_game, connected) = ep.counts();
            info.messages_to_game = to_game;
            info.messages_from_game = from_game;
            info.messages_connected = connected;
        }
        info
    }

    /// Change the session's slot (made on first use).
    fn slot<T>(&self, session: &str, f: impl FnOnce(&mut Slot) -> T) -> T {
        let mut all = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        f(all.entry(session.to_string()).or_default())
    }

    /// Look at the session's slot, if it has one.
    fn peek<T>(&self, session: &str, f: impl FnOnce(Option<&Slot>) -> T) -> T {
        f(self.sessions.lock().unwrap_or_else(|p| p.into_inner()).get(session))
    }

    fn media_of(&self, session: &str) -> Option<Arc<SessionMedia>> {
        self.peek(session, |s| s.and_then(|s| s.media.clone()))
    }

    /// Why a session of `runtime` streams the test card instead of its game, if it does.
    pub fn why_not(&self, runtime: RuntimeEnvironmentType) -> Option<String> {
        if let Some(why) = self.config.unavailable() {
            return Some(why);
        }
        match runtime {
            RuntimeEnvironmentType::Ubuntu => None,
            _ if self.wine.is_some() => None,
            other => Some(format!("{} builds need Wine: {NO_WINE}", other.as_str())),
        }
    }

    /// Start the session's application; what the admin API shows of it. False while it waits
    /// (for the Wine prefix to be made): the host tries again.
    fn launch(&self, view: &LaunchView, running: &mut HashMap<String, Running>) -> bool {
        let id = view.arn.rsplit('/').next().unwrap_or_default().to_string();
        let reason = match (&view.build, &view.executable) {
            _ if running.contains_key(&id) => return true,
            (None, _) => Some(match view.build_state {
                Some(crate::store::BuildState::Missing) | None => "its application has no build".to_string(),
                Some(state) => format!("its application's build is {}", state.as_str()),
            }),
            (Some(_), None) => Some("its application's ExecutablePath is not in its build".into()),
            _ => self.why_not(view.runtime),
        };
        // A Windows build waits for the Wine prefix, made once.
        let reason = match (reason, self.wine_for(view.runtime)) {
            (None, Some(wine)) => match wine.ready(self.wineboot_runner()) {
                Ok(true) => None,
                Ok(false) => {
                    self.slot(&id, |s| s.info.state = AppState::Starting);
                    return false;
                }
                Err(e) => Some(format!("the Wine prefix could not be made: {e}")),
            },
            (reason, _) => reason,
        };
        if let Some(reason) = reason {
            self.slot(&id, |s| {
                s.info.state = AppState::None;
                s.info.reason = Some(reason);
                s.early.clear();
            });
            return true;
        }
        self.slot(&id, |s| s.info.state = AppState::Starting);
        match self.spawn(&id, view) {
            Ok(r) => {
                tracing::info!(session = %id, pid = r.game.pgid(), display = %r.display.name, "application started");
                running.insert(id, r);
                true
            }
            Err(e) => {
                tracing::warn!(session = %id, error = %e, "application could not start");
                let endpoint = self.slot(&id, |s| {
                    s.media = None;
                    s.info.state = AppState::None;
                    s.info.reason = Some(format!("the application could not start: {e}"));
                    s.endpoint.take()
                });
                if let Some(ep) = endpoint {
                    ep.stop();
                }
                true
            }
        }
    }

    /// What runs `wineboot` for the base prefix: in a sandbox where games have one (its
    /// processes, Wine's server among them, end with it), with write access to the folders
    /// given.
    fn wineboot_runner(&self) -> impl FnOnce(&[&Path], &Path) -> std::process::Command + Send + 'static {
        let sandbox = self.sandbox.clone().ok();
        let setpriv = self.config.setpriv.clone();
        move |writable, program| match sandbox {
            Some(sandbox) => {
                let jail = Jail {
                    writable: writable.to_vec(),
                    read_only: vec![],
                    sockets: vec![],
                    workdir: writable.last().copied().unwrap_or(Path::new("/")),
                    network: false,
                    hostname: "gls-wineboot".into(),
                };
                sandbox.command(&jail, setpriv.as_deref(), program, false)
            }
            None => process::command(program, setpriv.as_deref()),
        }
    }

    fn spawn(&self, id: &str, view: &LaunchView) -> Result<Running, String> {
        let (Some(build), Some(exec), Some(xvfb)) = (&view.build, &view.executable, &self.config.xvfb) else {
            return Err("nothing to run".into());
        };
        let dirs = SessionDirs::of(&self.config.root, id);
        workdir::make(&dirs, build).map_err(|e| format!("the session's folders: {e}"))?;
        let marker = (process::MARKER.to_string(), self.marker.clone());
        let messages = self.endpoint(id)?;
        // What the game writes from now on is what an export's application/ folder holds.
        std::fs::write(&dirs.started, b"").map_err(|e| format!("{}: {e}", dirs.started.display()))?;
        let setpriv = self.config.setpriv.as_deref();
        let display = Display::start(
            xvfb,
            setpriv,
            (view.width, view.height),
            &[marker.clone(), ("PATH".into(), BASE_PATH.into())],
            &dirs.xvfb_log,
            DISPLAY_START,
        )?;
        // The game's sound: a missing or failing audio server costs the game its sound only.
        let (sound, sound_reason) = match &self.config.sound {
            None => (None, Some(NO_SOUND.to_string())),
            Some(tools) => {
                let env = [marker.clone(), ("PATH".into(), BASE_PATH.into())];
                match Sound::start(tools, setpriv, id, &dirs.run, &env, DISPLAY_START) {
                    Ok(s) => (Some(Arc::new(s)), None),
                    Err(e) => {
                        tracing::warn!(session = %id, error = %e, "the game gets no sound");
                        (None, Some(e))
                    }
                }
            }
        };
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), BASE_PATH.into()),
            ("LANG".into(), "en_US.UTF-8".into()),
            ("DISPLAY".into(), display.name.clone()),
            ("HOME".into(), dirs.home.display().to_string()),
            ("TMPDIR".into(), dirs.tmp.display().to_string()),
            ("XDG_RUNTIME_DIR".into(), dirs.run.display().to_string()),
            ("GAMELIFTSTREAMS_SESSION_ARN".into(), view.arn.clone()),
            ("GAMELIFTSTREAMS_SESSION_ID".into(), id.to_string()),
            ("GAMELIFTSTREAMS_APPLICATION_ID".into(), view.app_id.clone()),
            ("GAMELIFTSTREAMS_MESSAGE_ENDPOINT".into(), messages.address()),
        ];
        env.extend(sound.iter().flat_map(|s| s.env()));
        let windows = self.wine_for(view.runtime);
        if windows.is_some() {
            env.extend(wine::env(&dirs.wine));
        }
        for (k, v) in &view.env {
            env.retain(|(have, _)| have != k);
            env.push((k.clone(), v.clone()));
        }
        env.retain(|(k, _)| k != process::MARKER);
        env.push(marker);
        let resources = limits::of_class(view.stream_class, self.config.scale);
        let cgroup = match self.limiter.create(id, resources) {
            Ok(c) => c.map(Arc::new),
            Err(e) => {
                tracing::warn!(session = %id, error = %e, "the game's cgroup could not be made: it runs without limits");
                None
            }
        };
        // What runs: the game (under Wine for a Windows build), under prlimit where its memory
        // is limited by an rlimit.
        let program = dirs.app.join(exec);
        let (mut first, mut rest): (PathBuf, Vec<std::ffi::OsString>) =
            (program.clone(), view.args.iter().map(Into::into).collect());
        if let Some(wine) = windows {
            wine.session_prefix(&dirs.wine, &dirs.home)
                .map_err(|e| format!("the session's Wine prefix: {e}"))?;
            let (w, mut args) = wine.command(&program);
            args.append(&mut rest);
            (first, rest) = (w, args);
        }
        if let Some((prlimit, args)) = self.limiter.rlimit(resources) {
            let mut all: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
            all.push(first.into_os_string());
            all.append(&mut rest);
            (first, rest) = (prlimit, all);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&dirs.app_log)
            .map_err(|e| format!("{}: {e}", dirs.app_log.display()))?;
        let err_log = log.try_clone().map_err(|e| e.to_string())?;
        // It starts blocked: in its sandbox (bubblewrap's --block-fd) or in a shell's `read`,
        // until it is in its cgroup and its message endpoint is in its reach.
        let mut cmd = match &self.sandbox {
            Ok(sandbox) => {
                let mut sockets = vec![PathBuf::from(format!(
                    "/tmp/.X11-unix/X{}",
                    display.name.trim_start_matches(':')
                ))];
                sockets.extend(
                    sound
                        .iter()
                        .map(|s| s.socket_dir().to_path_buf())
                        .filter(|d| !d.starts_with(&dirs.run)),
                );
                let mut writable = vec![&*dirs.app, &dirs.home, &dirs.tmp, &dirs.run];
                let mut read_only = sandbox::shared_files(&dirs.app);
                if windows.is_some() {
                    writable.push(&dirs.wine);
                    read_only.extend(sandbox::shared_files(&dirs.wine));
                }
                let jail = Jail {
                    writable,
                    read_only,
                    sockets,
                    workdir: &dirs.app,
                    network: self.config.network,
                    hostname: format!("gls-{}", id.chars().take(8).collect::<String>()),
                };
                sandbox.command(&jail, setpriv, &first, true)
            }
            Err(_) => {
                let mut c = process::command(Path::new("/bin/sh"), setpriv);
                c.args(["-c", "read -r _ && exec \"$0\" \"$@\""]).arg(&first);
                c
            }
        };
        cmd.args(&rest)
            .current_dir(&dirs.app)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(log)
            .stderr(err_log);
        let (game, mut go) = Group::spawn_fed(&mut cmd).map_err(|e| format!("{}: {e}", program.display()))?;
        let inner = match self.sandbox {
            Ok(_) => sandbox::inner_pid(game.pgid(), DISPLAY_START),
            Err(_) => None,
        };
        if let Some(cg) = &cgroup {
            for pid in std::iter::once(game.pgid()).chain(inner) {
                if let Err(e) = cg.add(pid) {
                    tracing::warn!(session = %id, error = %e, "the game could not be put in its cgroup");
                }
            }
        }
        if let (Some(inner), false) = (inner, self.config.network) {
            let inside = sandbox::listen_inside(inner, messages.port()).and_then(|l| messages.also_on(l));
            if let Err(e) = inside {
                tracing::warn!(session = %id, error = %e, "the game has no network and its message endpoint is out of its reach");
            }
        }
        {
            use std::io::Write;
            let _ = go.write_all(b"\n");
        }
        drop(go);
        let host = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let session = id.to_string();
        let media = SessionMedia::start(
            display.name.clone(),
            (view.width, view.height),
            format!("gls-video-{}", id.chars().take(6).collect::<String>()),
            move || {
                let _ = host.send(Msg::Mapped(session));
            },
        )
        .map_err(|e| e.to_string())?;
        self.slot(id, |s| {
            s.media = Some(media.clone());
            s.sound = sound.clone();
            s.cgroup = cgroup.clone();
        });
        let records = self.config.root.join("running");
        let mut groups = vec![display.group.pgid(), game.pgid()];
        groups.extend(sound.iter().flat_map(|s| s.groups()));
        if let Err(e) = process::record(&records, id, &groups) {
            tracing::warn!(error = %e, "the session's processes could not be recorded");
        }
        let host = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let session = id.to_string();
        game.watch("gls-app-wait", move |code| {
            let _ = host.send(Msg::Exited(session, code));
        })
        .map_err(|e| e.to_string())?;
        let mut command = vec![exec.clone()];
        command.extend(view.args.iter().cloned());
        let endpoint = Some(messages.address());
        self.slot(id, |s| {
            s.info = AppInfo {
                state: AppState::Running,
                message_endpoint: endpoint,
                pid: Some(game.pgid()),
                display: Some(display.name.clone()),
                width: Some(view.width),
                height: Some(view.height),
                command,
                working_directory: Some(dirs.app.display().to_string()),
                log_file: Some(dirs.app_log.display().to_string()),
                sound_reason,
                sandboxed: self.sandbox.is_ok(),
                network: self.config.network || self.sandbox.is_err(),
                limits: Some(LimitsInfo {
                    stream_class: view.stream_class.as_str().to_string(),
                    vcpus: resources.vcpus,
                    memory_bytes: resources.memory,
                    enforced_by: self.limiter.enforced_by(cgroup.is_some()).into(),
                }),
                ..Default::default()
            }
        });
        let stats = logs::Stats::create(&dirs.stats);
        Ok(Running {
            display,
            sound,
            game,
            media,
            messages,
            dirs,
            log_paths: view.log_paths.clone(),
            log_location: view.log_location.clone(),
            stats,
            next_stats: Instant::now(),
            stopping: false,
            cgroup,
            resources,
        })
    }

    /// The PROTON/WINDOWS runtimes' Wine, for a session of `runtime` (none for UBUNTU, or
    /// on a host without Wine).
    fn wine_for(&self, runtime: RuntimeEnvironmentType) -> Option<&Arc<Wine>> {
        self.wine.as_ref().filter(|_| runtime != RuntimeEnvironmentType::Ubuntu)
    }

    /// The session's message endpoint, with what the page sent while the game was starting.
    fn endpoint(&self, id: &str) -> Result<Arc<Endpoint>, String> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let session = id.to_string();
        let short: String = id.chars().take(6).collect();
        let ep = Endpoint::start(&short, move |data| {
            let _ = tx.send(Msg::FromGame(session.clone(), data));
        })
        .map_err(|e| format!("the message endpoint: {e}"))?;
        let ep = Arc::new(ep);
        // Under the slot's lock: a message the page sends now is either among those queued
        // here (in order, before it) or finds the endpoint.
        self.slot(id, |s| {
            for m in s.early.drain(..) {
                ep.to_game(&m);
            }
            s.endpoint = Some(ep.clone());
        });
        Ok(ep)
    }

    /// Stop a session's processes on a thread of their own (the grace may take seconds); the
    /// application is then shown in `state`.
    fn stop(&self, id: &str, mut r: Running, state: AppState) {
        r.stopping = true;
        r.media.stop();
        r.messages.stop();
        self.slot(id, |s| {
            s.media = None;
            s.endpoint = None;
            s.sound = None;
            s.cgroup = None;
            s.usage = None;
            s.early.clear();
            s.info.state = state;
        });
        let grace = self.config.stop_grace;
        let record = process::record_path(&self.config.root.join("running"), id);
        let name = format!("gls-stop-{}", id.chars().take(6).collect::<String>());
        let service = self.service.get().cloned();
        let session = id.to_string();
        let stop = move || {
            r.end(grace);
            let _ = std::fs::remove_file(record);
            if let Some(service) = service.and_then(|w| w.upgrade()) {
                upload_logs(&service, &session, &r);
            }
        };
        if let Err(e) = std::thread::Builder::new().name(name).spawn(stop) {
            tracing::warn!(error = %e, "could not start a stopping thread");
        }
    }
}

/// The application's log files to the session's `LogFileLocationUri`, once its game has
/// stopped. A file that cannot be stored is named in the log (the session stays as it ended).
fn upload_logs(service: &Service, session: &str, r: &Running) {
    let Some(location) = &r.log_location else { return };
    let (files, too_big) = logs::log_files(&r.log_paths, &r.dirs.app, &r.dirs.home);
    for f in too_big {
        tracing::warn!(session, file = %f.display(), "a log file over 50 MB is not uploaded");
    }
    let mut failed = false;
    for (name, file) in files {
        let uri = format!("{location}{name}");
        let stored = std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| service.put_object(&uri, bytes, "text/plain"));
        if let Err(e) = stored {
            tracing::warn!(session, uri, error = %e, "an application log could not be uploaded");
            failed = true;
        }
    }
    // As in AWS, the session says so: ERROR/applicationLogS3DestinationError.
    if failed {
        if let Err(e) = service.session_event(None, session, Event::LogUploadFailed) {
            tracing::warn!(session, error = %e, "the failed log upload could not be recorded");
        }
    }
}

/// The PATH every application gets.
const BASE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Why Windows builds show the test card on a host without Wine.
const NO_WINE: &str = "Wine is not installed (Debian: apt-get install wine; or serve --wine PATH)";

/// Why games have no sound on a host without PulseAudio.
const NO_SOUND: &str = "PulseAudio is not installed (Debian: apt-get install pulseaudio pulseaudio-utils)";

impl Apps for Host {
    fn placed(&self, session: &str) {
        // From now until the host has looked, what the page sends waits for the game.
        self.slot(session, |s| {
            if s.info.state == AppState::None && s.info.reason.is_none() {
                s.info.state = AppState::Starting;
            }
        });
        self.send(Msg::Placed(session.to_string(), Instant::now() + PLACEMENT_WAIT));
    }

    fn why_not(&self, runtime: RuntimeEnvironmentType) -> Option<String> {
        Host::why_not(self, runtime)
    }

    fn video(&self, session: &str) -> Option<VideoFeed> {
        // A session placed before this host ran (seeded, or from an earlier run): its game
        // starts when someone watches.
        let (media, unheard) = self.slot(session, |s| {
            let unheard = s.media.is_none() && s.info.state == AppState::None && s.info.reason.is_none();
            if unheard {
                s.info.state = AppState::Starting;
            }
            (s.media.clone(), unheard)
        });
        if unheard {
            self.send(Msg::Placed(session.to_string(), Instant::now() + PLACEMENT_WAIT));
        }
        media.map(|m| m.feed())
    }

    fn audio(&self, session: &str) -> Option<AudioFeed> {
        self.peek(session, |s| s.and_then(|s| s.sound.clone()))
            .map(|s| s.feed())
    }

    fn microphone(&self, session: &str, packet: &[u8]) -> bool {
        self.peek(session, |s| s.and_then(|s| s.sound.clone()))
            .is_some_and(|s| s.microphone(packet))
    }

    fn input(&self, session: &str, input: &Input) -> bool {
        self.media_of(session).is_some_and(|m| m.input(input))
    }

    fn cursor_hidden(&self, session: &str) -> Option<bool> {
        self.media_of(session).map(|m| m.cursor_hidden())
    }

    fn usage(&self, session: &str) -> Option<GameUsage> {
        self.peek(session, |s| s.and_then(|s| s.usage))
    }

    fn to_game(&self, session: &str, data: &[u8]) -> bool {
        let endpoint = {
            let mut all = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            match all.get_mut(session) {
                Some(s) if s.endpoint.is_some() => s.endpoint.clone(),
                Some(s) if s.info.state == AppState::Starting => {
                    if data.len() <= messages::MAX_MESSAGE && s.early.len() < 1_000 {
                        s.early.push(data.to_vec());
                    }
                    return true;
                }
                _ => return false,
            }
        };
        // Outside the lock: a write to a game that does not read may wait.
        endpoint.is_some_and(|ep| {
            ep.to_game(data);
            true
        })
    }
}

/// A session status in which its application runs.
fn runs_in(status: StreamSessionStatus) -> bool {
    use StreamSessionStatus::*;
    matches!(status, Active | Connected | PendingClientReconnection | Reconnecting)
}

/// The host's thread: placement hints, exits, and the reconciliation that stops the
/// applications of ended sessions.
fn run(weak: Weak<Host>, rx: Receiver<Msg>) {
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut placed: Vec<(String, Instant)> = Vec::new();
    let mut next = Instant::now();
    loop {
        let msg = rx.recv_timeout(next.saturating_duration_since(Instant::now()));
        let Some(host) = weak.upgrade() else { return };
        match msg {
            Ok(Msg::Placed(id, until)) => placed.push((id, until)),
            Ok(Msg::Exited(id, code)) => exited(&host, &mut running, &id, code),
            Ok(Msg::Mapped(id)) => {
                // The game is up: a session that waited for it is ACTIVE.
                if let Some(service) = host.service() {
                    if let Err(e) = service.session_event(None, &id, Event::AppStarted) {
                        tracing::warn!(session = %id, error = %e, "the game's start could not be recorded");
                    }
                }
            }
            Ok(Msg::FromGame(id, data)) => {
                // To the page when a client is connected; dropped otherwise, as in AWS.
                if let Some(service) = host.service() {
                    if let Some(streams) = service.streams() {
                        streams.to_page(&id, data);
                    }
                }
            }
            Ok(Msg::Shutdown(done)) => {
                let groups: Vec<Running> = running.drain().map(|(_, r)| r).collect();
                for r in &groups {
                    r.media.stop();
                    r.game.terminate();
                }
                for r in groups {
                    r.end(host.config.stop_grace);
                }
                let _ = std::fs::remove_dir_all(host.config.root.join("running"));
                host.limiter.close();
                let _ = done.send(());
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if Instant::now() >= next {
            next = Instant::now() + RECONCILE;
            reconcile(&host, &mut running, &mut placed);
        }
    }
}

fn exited(host: &Host, running: &mut HashMap<String, Running>, id: &str, code: i32) {
    let Some(r) = running.remove(id) else { return };
    if r.stopping {
        return;
    }
    // The kernel killed it for its memory: its cgroup says so.
    let reason = r.cgroup.as_ref().filter(|c| c.oom_kills() > 0).map(|_| {
        format!(
            "the game went over its memory ({} MiB: its stream class's, times --host-scale) and the kernel ended it",
            r.resources.memory >> 20
        )
    });
    tracing::info!(session = %id, exit_code = code, reason = reason.as_deref().unwrap_or(""), "application exited");
    host.slot(id, |s| {
        s.info.exit_code = Some(code);
        s.info.exit_reason = reason;
    });
    host.stop(id, r, AppState::Exited);
    if let Some(service) = host.service() {
        match service.session_event(None, id, Event::ApplicationExited(code)) {
            Ok(Outcome::Applied(_)) | Ok(Outcome::Refused(_)) | Ok(Outcome::NotFound) => {}
            Err(e) => tracing::warn!(session = %id, error = %e, "the application's exit could not be recorded"),
        }
    }
}

fn reconcile(host: &Host, running: &mut HashMap<String, Running>, placed: &mut Vec<(String, Instant)>) {
    let Some(service) = host.service() else { return };
    let now = Instant::now();
    placed.retain(|(id, until)| match service.launch_view(id) {
        Ok(Some(view)) if runs_in(view.status) || view.launching => {
            // (Kept while it waits.)
            !host.launch(&view, running)
        }
        Ok(Some(view)) if view.status == StreamSessionStatus::Activating => now < *until,
        Ok(_) => false,
        Err(e) => {
            tracing::debug!(error = %e, "session unreadable");
            now < *until
        }
    });
    let service_now = service.now().millis();
    for (id, r) in running.iter_mut().filter(|(_, r)| !r.stopping && now >= r.next_stats) {
        r.next_stats = now + Duration::from_secs(1);
        let used = usage(r.cgroup.as_deref(), r.game.pgid());
        let c = r.media.stats();
        let used = r
            .stats
            .record(service_now, used, &r.resources, (c.captured, c.encoded), c.bytes);
        host.slot(id, |s| s.usage = Some(used));
    }
    let ended: Vec<String> = running
        .iter()
        .filter(|(_, r)| !r.stopping)
        .filter(|(id, _)| match service.stream_view(id) {
            // A session launching its game is ACTIVATING until the game is up.
            Ok(Some((status, _))) => !runs_in(status) && status != StreamSessionStatus::Activating,
            Ok(None) => true,
            Err(_) => false,
        })
        .map(|(id, _)| id.clone())
        .collect();
    for id in ended {
        if let Some(r) = running.remove(&id) {
            tracing::info!(session = %id, "session ended: stopping its application");
            host.stop(&id, r, AppState::Stopped);
        }
    }
}

impl Running {
    /// End its processes: the game (SIGTERM, SIGKILL after `grace`), its display, its sound;
    /// then its cgroup goes.
    fn end(&self, grace: Duration) {
        self.game.stop(grace);
        self.display.group.stop(Duration::from_millis(500));
        if let Some(sound) = &self.sound {
            sound.stop();
        }
        if let Some(cgroup) = &self.cgroup {
            cgroup.remove(Duration::from_secs(2));
        }
    }
}

/// CPU seconds and memory bytes a game has used: its cgroup's where it has one, else its
/// process group's.
fn usage(cgroup: Option<&Cgroup>, pgid: i32) -> (Option<f64>, Option<u64>) {
    match cgroup {
        Some(c) => (c.cpu_seconds(), c.memory_bytes()),
        None => process::group_usage(pgid),
    }
}

/// The last `n` lines of a log file (reading at most its last 64 KiB).
fn tail(path: &Path, n: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}
