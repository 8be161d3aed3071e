//! What the engine and the stream layer tell the layer that runs applications (`host`,
//! which implements [`Apps`]), and what it gives back. A session was placed, so its game may
//! start: the hint is given inside the transaction that placed the session, and the host acts
//! on it only once it reads the session placed (a rolled-back placement starts nothing). The
//! stream layer takes a session's game video ([`VideoFeed`]: frames captured and encoded on the
//! host's thread, for the peer only to packetize) and hands the page's input back
//! ([`Input`]). Defined here, below both, so that neither layer uses the other.

use super::Env;
use crate::domain::ApiError;
use crate::store::BuildState;
use gls_model::RuntimeEnvironmentType;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

/// What a session of an application streams: its game, or the test card (and why, where
/// there is something to say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Game {
    /// Its build is ready and this host runs applications of its runtime.
    Runs,
    /// The test card; the reason is the card's caption.
    Card(Option<String>),
}

/// What the sessions of application `app_id` stream: the one decision placement (a game's
/// session is ACTIVE once the game is up) and the card's caption take from the build and
/// the host.
pub fn game(env: Env<'_>, app_id: &str) -> Result<Game, ApiError> {
    // Applications from before builds were read have none: nothing to say.
    let Some(build) = env.tx.builds().get(env.part, app_id)? else {
        return Ok(Game::Card(None));
    };
    let what = build.message.unwrap_or_default();
    Ok(match build.state {
        // "no build at s3://…: <path> is not a folder": the URI is what the user wrote.
        BuildState::Missing => Game::Card(what.split(": ").next().map(str::to_string)),
        BuildState::Ready => {
            let Some(apps) = env.apps else {
                return Ok(Game::Card(Some("applications do not run here".into())));
            };
            let runtime = env
                .tx
                .applications()
                .get(env.part, app_id)?
                .and_then(|a| a.runtime_environment.map(|r| r.type_))
                .unwrap_or_default();
            match apps.why_not(runtime) {
                Some(why) => Game::Card(Some(why)),
                None => Game::Runs,
            }
        }
        _ => Game::Card(Some(what)),
    })
}

/// One encoded picture of a game's display.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// H.264, Annex B.
    pub data: Vec<u8>,
    /// When the picture was captured.
    pub captured: Instant,
}

/// A session's game video as the stream layer takes it: frames as they are encoded, and a
/// flag with which the peer asks for a keyframe. Dropping it stops the encoding.
pub struct VideoFeed {
    /// The frames.
    pub frames: Receiver<EncodedFrame>,
    /// Set to have the next frame be a keyframe.
    pub keyframe: Arc<AtomicBool>,
    /// The picture's size.
    pub width: u32,
    /// See `width`.
    pub height: u32,
}

/// A session's game sound as the stream layer takes it: Opus packets of 20 ms (48 kHz,
/// stereo), as the game plays them; none while nothing plays. Dropping it stops the sending.
pub struct AudioFeed {
    /// The packets.
    pub packets: Receiver<Vec<u8>>,
}

/// What a session's game uses, against what its stream class gives it (the performance
/// statistics a page with `SharedWithClient` gets).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GameUsage {
    /// CPU over the last second, as a share of the class's vCPUs (0 to 1).
    pub cpu_normalized: f64,
    /// Memory in use, bytes.
    pub memory_bytes: u64,
    /// The same as a share of the class's memory (0 to 1).
    pub memory_normalized: f64,
}

/// Input from the page, in the stream's pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A key, by the browser's `KeyboardEvent.code`, goes down or up.
    Key {
        /// `KeyA`, `ArrowLeft`, ...
        code: String,
        /// Pressed (else released).
        down: bool,
    },
    /// The pointer is at (x, y).
    Pointer {
        /// Pixels from the left.
        x: f64,
        /// Pixels from the top.
        y: f64,
    },
    /// The pointer moves by (dx, dy): relative mouse, while the page's pointer is locked
    /// (the game hides its cursor).
    Motion {
        /// Pixels to the right.
        dx: f64,
        /// Pixels down.
        dy: f64,
    },
    /// A mouse button (the browser's numbering: 0 left, 1 middle, 2 right) goes down or up.
    Button {
        /// The button.
        button: u8,
        /// Pressed (else released).
        down: bool,
    },
    /// The wheel turns (the browser's deltaY: positive scrolls down).
    Wheel {
        /// deltaY.
        dy: f64,
    },
}

/// The layer that runs each placed session's application.
pub trait Apps: Send + Sync {
    /// `session` was placed (it is ACTIVE once this transaction commits).
    fn placed(&self, session: &str);
    /// Why a session of `runtime` cannot run its game on this host (it streams the test card
    /// instead), if it cannot.
    fn why_not(&self, runtime: RuntimeEnvironmentType) -> Option<String>;
    /// The session's game video, if its game runs; a new feed replaces the one before.
    fn video(&self, session: &str) -> Option<VideoFeed>;
    /// The session's game sound, if its game runs with sound; a new feed replaces the one
    /// before.
    fn audio(&self, session: &str) -> Option<AudioFeed>;
    /// Sound from the session's page's microphone (one Opus packet, as it came), for its
    /// game's default input; false if no game of the session runs with sound.
    fn microphone(&self, session: &str, packet: &[u8]) -> bool;
    /// Input from the session's page, for its game; false if no game of the session runs.
    fn input(&self, session: &str, input: &Input) -> bool;
    /// An application message from the session's page: to its game, queued until the game
    /// connects to its message endpoint (AWS's rule); false (dropped) for a session whose game
    /// neither runs nor is starting.
    fn to_game(&self, session: &str, data: &[u8]) -> bool;
    /// Whether the session's game hides its cursor (the page then locks the pointer and sends
    /// relative motion); `None` when no game runs.
    fn cursor_hidden(&self, session: &str) -> Option<bool>;
    /// What the session's game used over the last second; `None` when no game runs.
    fn usage(&self, session: &str) -> Option<GameUsage>;
}

/// Where the host keeps one session's folders and files, under its root: the host makes and
/// writes them, the export archive reads them once the game has stopped.
pub struct SessionDirs {
    /// The session's own folder, holding all below.
    pub root: PathBuf,
    /// The working directory: the copy of the build.
    pub app: PathBuf,
    /// HOME.
    pub home: PathBuf,
    /// TMPDIR.
    pub tmp: PathBuf,
    /// XDG_RUNTIME_DIR (mode 0700).
    pub run: PathBuf,
    /// The application's stdout and stderr.
    pub app_log: PathBuf,
    /// The X server's log.
    pub xvfb_log: PathBuf,
    /// Made as the game starts: what it writes later is newer.
    pub started: PathBuf,
    /// The per-second statistics.
    pub stats: PathBuf,
    /// A Windows build's Wine prefix (its user's folder is `home`).
    pub wine: PathBuf,
}

impl SessionDirs {
    /// The folders of session `id` under the host's root `host_root` (nothing is made).
    pub fn of(host_root: &Path, id: &str) -> SessionDirs {
        let root = host_root.join("sessions").join(id);
        SessionDirs {
            app: root.join("app"),
            home: root.join("home"),
            tmp: root.join("tmp"),
            run: root.join("run"),
            app_log: root.join("app.log"),
            xvfb_log: root.join("xvfb.log"),
            started: root.join("started"),
            stats: root.join("stats.csv"),
            wine: root.join("wine"),
            root,
        }
    }
}
