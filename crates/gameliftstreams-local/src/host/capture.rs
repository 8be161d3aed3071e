//! A session's video, on a thread of its own: the display's window management at all times
//! and, while the stream layer holds a feed, capture at up to [`FPS`] frames a second, BGRX
//! to I420, and H.264. A picture that has not changed since the last one sent is not encoded
//! again (the stream repeats it), but for a keyframe at least every [`REFRESH`]. Input from
//! the page goes to the display through the same value.

use super::screen::Screen;
use crate::media::{bgrx_to_i420, H264};
use crate::ops::engine::apps::{EncodedFrame, Input, VideoFeed};
use serde::Serialize;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames a second a game is captured at.
pub const FPS: u32 = 30;

/// An unchanged picture is sent again (as a keyframe) at least this often.
const REFRESH: Duration = Duration::from_secs(2);

/// How often the display is looked at while nobody watches it.
const IDLE_TICK: Duration = Duration::from_millis(100);

/// How long the thread waits for the display's events while the display is watched, at most:
/// how soon a keyframe asked for (or due) is sent when nothing is drawn. Drawing wakes it at once.
const WATCH_TICK: Duration = Duration::from_millis(20);

/// How often the display is looked at where its events cannot be waited for.
const NO_EVENTS_TICK: Duration = Duration::from_millis(2);

/// A capture may come this much before its turn (so that captures keep to [`FPS`] on average).
const EARLY: Duration = Duration::from_micros(200);

/// For this long after input, pictures are captured up to twice as often: what the input
/// changed reaches the page sooner.
const AFTER_INPUT: Duration = Duration::from_millis(200);

/// How long the display has to take a connection.
const CONNECT: Duration = Duration::from_secs(10);

/// What the capture has done, for the admin API and the statistics.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureStats {
    /// Pictures captured.
    pub captured: u64,
    /// Pictures encoded and sent.
    pub encoded: u64,
    /// Encoded bytes sent.
    pub bytes: u64,
    /// Time spent capturing, converting and encoding, in milliseconds.
    pub capture_ms: f64,
    /// See `capture_ms`.
    pub convert_ms: f64,
    /// See `capture_ms`.
    pub encode_ms: f64,
    /// Captures through shared memory (else through the socket).
    pub shared_memory: bool,
}

/// The video and input side of one session's display.
pub struct SessionMedia {
    screen: Mutex<Option<Screen>>,
    feed: Mutex<Option<SyncSender<EncodedFrame>>>,
    keyframe: Arc<AtomicBool>,
    stop: AtomicBool,
    mapped: AtomicBool,
    cursor_hidden: AtomicBool,
    last_input: Mutex<Option<Instant>>,
    size: Mutex<(u32, u32)>,
    stats: Mutex<CaptureStats>,
}

impl SessionMedia {
    /// Connect to `display` and run the session's video thread; `mapped` is called once, when
    /// the game first has a window.
    pub fn start(
        display: String,
        size: (u32, u32),
        thread: String,
        mapped: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Arc<SessionMedia>> {
        let media = Arc::new(SessionMedia {
            screen: Mutex::new(None),
            feed: Mutex::new(None),
            keyframe: Arc::new(AtomicBool::new(true)),
            stop: AtomicBool::new(false),
            mapped: AtomicBool::new(false),
            cursor_hidden: AtomicBool::new(false),
            last_input: Mutex::new(None),
            size: Mutex::new(size),
            stats: Mutex::default(),
        });
        let m = media.clone();
        std::thread::Builder::new()
            .name(thread)
            .spawn(move || m.run(&display, mapped))?;
        Ok(media)
    }

    /// The thread ends (at its next tick).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the game has a window mapped.
    pub fn window_mapped(&self) -> bool {
        self.mapped.load(Ordering::SeqCst)
    }

    /// Whether the game hides its cursor.
    pub fn cursor_hidden(&self) -> bool {
        self.cursor_hidden.load(Ordering::SeqCst)
    }

    /// What the capture has done so far.
    pub fn stats(&self) -> CaptureStats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A feed of the game's video for the stream layer (replacing any earlier one).
    pub fn feed(&self) -> VideoFeed {
        let (tx, rx) = sync_channel(2);
        *self.feed.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        self.keyframe.store(true, Ordering::SeqCst);
        let (width, height) = *self.size.lock().unwrap_or_else(|p| p.into_inner());
        VideoFeed {
            frames: rx,
            keyframe: self.keyframe.clone(),
            width,
            height,
        }
    }

    /// Input from the page; false before the display is connected.
    pub fn input(&self, input: &Input) -> bool {
        *self.last_input.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let screen = self.screen.lock().unwrap_or_else(|p| p.into_inner());
        let Some(screen) = screen.as_ref() else { return false };
        let clamp = |v: f64, max: u16| v.round().clamp(0.0, f64::from(max.saturating_sub(1))) as i16;
        let done = match input {
            Input::Key { code, down } => screen.key(code, *down).map(|_| ()),
            Input::Pointer { x, y } => screen.motion(clamp(*x, screen.width), clamp(*y, screen.height)),
            Input::Motion { dx, dy } => {
                let by = |v: f64| v.round().clamp(-4096.0, 4096.0) as i16;
                screen.motion_by(by(*dx), by(*dy))
            }
            Input::Button { button, down } => screen.button(*button, *down),
            Input::Wheel { dy } => screen.wheel(*dy),
        };
        if let Err(e) = &done {
            tracing::debug!(error = %e, "input could not be injected");
        }
        done.is_ok()
    }

    fn run(&self, x_display: &str, on_mapped: impl FnOnce()) {
        let mut on_mapped = Some(on_mapped);
        let end = Instant::now() + CONNECT;
        let screen = loop {
            match Screen::connect(x_display) {
                Ok(s) => break s,
                Err(e) if Instant::now() >= end => {
                    tracing::warn!(display = %x_display, error = %e, "the session's display cannot be reached; no game video");
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        // The thread sleeps until the display has something to say (a window, drawing), a
        // capture is due, or a tick passes: not on a fixed short tick.
        let events = screen.events_fd().ok();
        *self.size.lock().unwrap_or_else(|p| p.into_inner()) = (u32::from(screen.width), u32::from(screen.height));
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).shared_memory = screen.shared_memory();
        *self.screen.lock().unwrap_or_else(|p| p.into_inner()) = Some(screen);
        let mut video = Video::default();
        let frame = Duration::from_secs(1) / FPS;
        let mut last_grab: Option<Instant> = None;
        while !self.stop.load(Ordering::SeqCst) {
            let feed = self.feed.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let mut wait = match (&feed, &events) {
                (_, None) => NO_EVENTS_TICK,
                (Some(_), Some(_)) => WATCH_TICK,
                (None, Some(_)) => IDLE_TICK,
            };
            let grabbed = {
                let mut screen = self.screen.lock().unwrap_or_else(|p| p.into_inner());
                let Some(screen) = screen.as_mut() else { return };
                if !self.look(screen, x_display, &mut on_mapped) {
                    return;
                }
                // A capture when something was drawn (DAMAGE says so), a keyframe is asked for
                // or due, at most FPS times a second (twice that just after input); only the
                // capture holds the display, so input goes in while the picture encodes.
                let now = Instant::now();
                let wanted = screen.damaged() || self.keyframe.load(Ordering::SeqCst) || video.stale(now);
                let lively = self
                    .last_input
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some_and(|t| now.duration_since(t) < AFTER_INPUT);
                let spacing = if lively { frame / 2 } else { frame };
                // (A little early rather than late: captures keep to FPS on average.)
                let due = last_grab.map_or(now, |t| t + spacing.saturating_sub(EARLY));
                match &feed {
                    Some(_) if wanted && now >= due => {
                        last_grab = Some(now);
                        let grabbed = video.grab(screen);
                        // Events read while the capture waited for its reply: the wait below
                        // only sees what is still on the socket.
                        if !self.look(screen, x_display, &mut on_mapped) {
                            return;
                        }
                        grabbed.map(Some)
                    }
                    Some(_) if wanted => {
                        wait = wait.min(due - now);
                        Ok(None)
                    }
                    _ => Ok(None),
                }
            };
            let sent = match (grabbed, &feed) {
                (Ok(Some(grabbed)), Some(tx)) => video.frame(grabbed, tx, &self.keyframe, &self.stats),
                (Err(()), _) => Err(false),
                _ => Ok(()),
            };
            if let Err(gone) = sent {
                if gone {
                    *self.feed.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
            }
            match &events {
                Some(fd) => {
                    let timeout = rustix::event::Timespec::try_from(wait).ok();
                    let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
                    // (An error, e.g. EINTR, is a shorter wait.)
                    let _ = rustix::event::poll(&mut fds, timeout.as_ref());
                }
                None => std::thread::sleep(wait),
            }
        }
    }

    /// Handle what happened on the display: windows, drawing, the cursor. False when the
    /// display went away.
    fn look(&self, screen: &mut Screen, x_display: &str, on_mapped: &mut Option<impl FnOnce()>) -> bool {
        match screen.manage() {
            Ok(mapped) => {
                self.mapped.store(mapped, Ordering::SeqCst);
                if mapped {
                    if let Some(f) = on_mapped.take() {
                        f();
                    }
                }
                self.cursor_hidden.store(screen.cursor_hidden(), Ordering::SeqCst);
                true
            }
            Err(e) => {
                tracing::debug!(display = %x_display, error = %e, "the display went away");
                false
            }
        }
    }
}

/// A picture just captured: its rows that changed are in `Video::last`.
struct Grabbed {
    width: usize,
    height: usize,
    changed: Option<Range<usize>>,
    started: Instant,
    captured: Instant,
}

/// The capture and encoding state of a session's video.
#[derive(Default)]
struct Video {
    /// The screen as last captured (BGRX).
    last: Vec<u8>,
    /// `last` in I420, for the rows converted so far.
    i420: Vec<u8>,
    /// Every row of `i420` has been converted.
    whole: bool,
    encoder: Option<H264>,
    last_sent: Option<Instant>,
}

impl Video {
    /// A keyframe is due: nothing was sent for [`REFRESH`].
    fn stale(&self, now: Instant) -> bool {
        self.last_sent.is_none_or(|t| now.duration_since(t) >= REFRESH)
    }

    /// Capture what the screen drew since the last time, and keep the rows that changed.
    fn grab(&mut self, screen: &mut Screen) -> Result<Grabbed, ()> {
        let t0 = Instant::now();
        let rows = match screen.capture() {
            Ok(rows) => rows,
            Err(e) => {
                tracing::debug!(error = %e, "capture failed");
                return Err(());
            }
        };
        let (width, height) = (usize::from(screen.width), usize::from(screen.height));
        let row = width * 4;
        let pixels = screen.pixels();
        self.last.resize(row * height, 0);
        let mut changed: Option<Range<usize>> = None;
        for y in rows.start..rows.end.min(height) {
            let (now, was) = (&pixels[y * row..(y + 1) * row], &mut self.last[y * row..(y + 1) * row]);
            if now != was {
                was.copy_from_slice(now);
                changed = Some(changed.map_or(y..y + 1, |c| c.start..y + 1));
            }
        }
        Ok(Grabbed {
            width,
            height,
            changed,
            started: t0,
            captured: Instant::now(),
        })
    }

    /// Send the picture just grabbed if it changed (or a keyframe is asked for or due).
    /// `Err(true)`: the feed's receiver is gone.
    fn frame(
        &mut self,
        grabbed: Grabbed,
        tx: &SyncSender<EncodedFrame>,
        keyframe: &AtomicBool,
        stats: &Mutex<CaptureStats>,
    ) -> Result<(), bool> {
        let (w, h) = (grabbed.width & !1, grabbed.height & !1);
        let (t0, captured) = (grabbed.started, grabbed.captured);
        let stale = self.stale(captured);
        let mut force = keyframe.swap(false, Ordering::SeqCst);
        if grabbed.changed.is_none() && !force && !stale {
            stats.lock().unwrap_or_else(|p| p.into_inner()).captured += 1;
            return Ok(());
        }
        force |= stale;
        // Only the rows that changed are converted again (all of them the first time).
        let rows = match (self.whole, grabbed.changed) {
            (false, _) => 0..h,
            (true, Some(rows)) => rows,
            (true, None) => 0..0,
        };
        self.whole = true;
        if let Err(e) = bgrx_to_i420(&self.last, grabbed.width * 4, w, h, rows, &mut self.i420) {
            tracing::warn!(error = %e, "conversion failed");
            return Err(false);
        }
        let converted = Instant::now();
        if self.encoder.is_none() {
            match H264::new(w, h, FPS * 2, 2, FPS * 4) {
                Ok(e) => self.encoder = Some(e),
                Err(e) => {
                    tracing::error!(error = %e, "the H.264 encoder could not start; no game video");
                    return Err(false);
                }
            }
        }
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(false);
        };
        let data = match encoder.encode(&self.i420, force) {
            Ok(d) if !d.is_empty() => d,
            Ok(_) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "encoding a frame failed");
                return Err(false);
            }
        };
        let encoded = Instant::now();
        {
            let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
            s.captured += 1;
            s.encoded += 1;
            s.bytes += data.len() as u64;
            s.capture_ms += captured.duration_since(t0).as_secs_f64() * 1000.0;
            s.convert_ms += converted.duration_since(captured).as_secs_f64() * 1000.0;
            s.encode_ms += encoded.duration_since(converted).as_secs_f64() * 1000.0;
        }
        self.last_sent = Some(captured);
        match tx.try_send(EncodedFrame { data, captured: t0 }) {
            Ok(()) => Ok(()),
            // The peer is behind: this frame is dropped, and the next one must stand alone.
            Err(TrySendError::Full(_)) => {
                keyframe.store(true, Ordering::SeqCst);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(true),
        }
    }
}
