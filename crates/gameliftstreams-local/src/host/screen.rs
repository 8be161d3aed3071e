//! A session's display as the host drives it, through one X11 connection (x11rb, pure Rust)
//! to its Xvfb: the part of a window manager that games need (each top-level window the game
//! maps fills the screen and gets the keyboard focus, as on AWS's hosts), capture of the rows
//! that DAMAGE says were drawn on, through MIT-SHM (the segment a memfd that the X server
//! writes and this side maps: the crate's one `unsafe`, argued at [`map_segment`]), whether the
//! game shows its cursor (XFIXES: a game that hides it wants relative mouse), and keyboard and
//! mouse input through XTEST.

use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use x11rb::connection::Connection;
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{
    self, ChangeWindowAttributesAux, ConfigureWindowAux, ConnectionExt as _, EventMask, ImageFormat, InputFocus,
    StackMode,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

/// A display's screen: capture, window management and input.
pub struct Screen {
    conn: RustConnection,
    root: xproto::Window,
    /// The screen's size.
    pub width: u16,
    /// See `width`.
    pub height: u16,
    pixels: Pixels,
    keycodes: HashMap<u32, u8>,
    /// The top-level windows the game has mapped, newest last.
    mapped: Vec<xproto::Window>,
    /// The cursor the game sets is invisible (it wants relative mouse).
    cursor_hidden: bool,
    xfixes: bool,
    /// The DAMAGE object that reports drawing on the screen (else every capture takes it all).
    damage: Option<u32>,
    /// The rows drawn on since the last [`Screen::capture`], if any.
    drawn: Option<Range<u16>>,
}

/// Where the screen's pixels are after a capture: BGRX, `width * 4` bytes a row.
enum Pixels {
    /// The MIT-SHM segment, mapped: the X server writes the rows asked for into it.
    Shared { seg: shm::Seg, map: memmap2::Mmap },
    /// Without MIT-SHM: the rows as they came over the socket.
    Copied(Vec<u8>),
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Screen {
    /// Connect to `display` (`:N`), watch its top-level windows, and set up capture.
    pub fn connect(display: &str) -> Result<Screen, String> {
        let (conn, n) = RustConnection::connect(Some(display)).map_err(err)?;
        let screen = conn.setup().roots.get(n).ok_or("the display has no screen")?;
        let (root, width, height) = (screen.root, screen.width_in_pixels, screen.height_in_pixels);
        conn.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().event_mask(EventMask::SUBSTRUCTURE_NOTIFY),
        )
        .map_err(err)?
        .check()
        .map_err(err)?;
        let keycodes = keycodes(&conn).unwrap_or_default();
        let mut s = Screen {
            conn,
            root,
            width,
            height,
            pixels: Pixels::Copied(Vec::new()),
            keycodes,
            mapped: Vec::new(),
            cursor_hidden: false,
            xfixes: false,
            damage: None,
            drawn: Some(0..height),
        };
        s.damage = s.watch_damage().ok();
        s.pixels = match s.attach_shm() {
            Ok((seg, map)) => Pixels::Shared { seg, map },
            Err(_) => Pixels::Copied(vec![0; usize::from(width) * usize::from(height) * 4]),
        };
        s.xfixes = s.watch_cursor().is_ok();
        if s.xfixes {
            s.cursor_hidden = s.read_cursor().unwrap_or(false);
        }
        Ok(s)
    }

    fn watch_damage(&self) -> Result<u32, String> {
        self.conn
            .damage_query_version(1, 1)
            .map_err(err)?
            .reply()
            .map_err(err)?;
        let id = self.conn.generate_id().map_err(err)?;
        self.conn
            .damage_create(id, self.root, damage::ReportLevel::BOUNDING_BOX)
            .map_err(err)?
            .check()
            .map_err(err)?;
        Ok(id)
    }

    /// Whether anything was drawn since the last capture (always, without DAMAGE).
    pub fn damaged(&self) -> bool {
        self.damage.is_none() || self.drawn.is_some()
    }

    /// A copy of the connection's socket, to wait on for the display's events without holding
    /// the screen.
    pub fn events_fd(&self) -> std::io::Result<OwnedFd> {
        self.conn.stream().as_fd().try_clone_to_owned()
    }

    fn watch_cursor(&self) -> Result<(), String> {
        self.conn
            .xfixes_query_version(4, 0)
            .map_err(err)?
            .reply()
            .map_err(err)?;
        self.conn
            .xfixes_select_cursor_input(self.root, xfixes::CursorNotifyMask::DISPLAY_CURSOR)
            .map_err(err)?
            .check()
            .map_err(err)
    }

    /// Whether the cursor shown now is invisible: no pixel with any opacity (what SDL's
    /// relative mouse mode and `SDL_ShowCursor(0)` set, as engines do).
    fn read_cursor(&self) -> Result<bool, String> {
        let image = self.conn.xfixes_get_cursor_image().map_err(err)?.reply().map_err(err)?;
        Ok(image.cursor_image.iter().all(|argb| argb >> 24 == 0))
    }

    /// Whether the game's cursor is hidden (as of the last [`Screen::manage`]).
    pub fn cursor_hidden(&self) -> bool {
        self.cursor_hidden
    }

    /// Whether capture goes through shared memory (else through the socket).
    pub fn shared_memory(&self) -> bool {
        matches!(self.pixels, Pixels::Shared { .. })
    }

    fn attach_shm(&self) -> Result<(shm::Seg, memmap2::Mmap), String> {
        let version = self.conn.shm_query_version().map_err(err)?.reply().map_err(err)?;
        if (version.major_version, version.minor_version) < (1, 2) {
            return Err("MIT-SHM 1.2 is needed to pass a memfd".into());
        }
        let fd = rustix::fs::memfd_create("gls-capture", rustix::fs::MemfdFlags::CLOEXEC).map_err(err)?;
        let file = File::from(fd);
        file.set_len(u64::from(self.width) * u64::from(self.height) * 4)
            .map_err(err)?;
        let seg = self.conn.generate_id().map_err(err)?;
        let theirs = file.try_clone().map_err(err)?;
        self.conn
            .shm_attach_fd(seg, std::os::fd::OwnedFd::from(theirs), false)
            .map_err(err)?
            .check()
            .map_err(err)?;
        Ok((seg, map_segment(&file)?))
    }

    /// Capture what was drawn since the last capture (the whole screen the first time, or
    /// without DAMAGE) into [`Screen::pixels`]; the rows it took.
    pub fn capture(&mut self) -> Result<Range<usize>, String> {
        let (w, h) = (self.width, self.height);
        let drawn = self.drawn.take();
        let rows = match self.damage {
            Some(d) => {
                // What is drawn from now on reports again (an event this side may read only
                // after the capture: those rows are then taken again next time).
                self.conn.damage_subtract(d, x11rb::NONE, x11rb::NONE).map_err(err)?;
                drawn.unwrap_or(0..0)
            }
            None => 0..h,
        };
        if rows.is_empty() {
            return Ok(0..0);
        }
        let (top, count) = (rows.start, rows.end - rows.start);
        let row = usize::from(w) * 4;
        match &mut self.pixels {
            Pixels::Shared { seg, .. } => {
                let offset = u32::from(top) * u32::from(w) * 4;
                let format = ImageFormat::Z_PIXMAP.into();
                self.conn
                    .shm_get_image(self.root, 0, top as i16, w, count, !0, format, *seg, offset)
                    .map_err(err)?
                    .reply()
                    .map_err(err)?;
            }
            Pixels::Copied(pixels) => {
                let reply = self
                    .conn
                    .get_image(ImageFormat::Z_PIXMAP, self.root, 0, top as i16, w, count, !0)
                    .map_err(err)?
                    .reply()
                    .map_err(err)?;
                let at = &mut pixels[usize::from(top) * row..usize::from(rows.end) * row];
                let n = reply.data.len().min(at.len());
                at[..n].copy_from_slice(&reply.data[..n]);
            }
        }
        Ok(usize::from(rows.start)..usize::from(rows.end))
    }

    /// The screen as of the last capture: BGRX, 4 bytes a pixel, `width * 4` bytes a row.
    pub fn pixels(&self) -> &[u8] {
        match &self.pixels {
            Pixels::Shared { map, .. } => map,
            Pixels::Copied(pixels) => pixels,
        }
    }

    /// Handle what happened on the display since the last look: a top-level window that is
    /// mapped (or moves off the screen's bounds) fills the screen, is raised and gets the
    /// focus. Returns whether the game has a window mapped.
    pub fn manage(&mut self) -> Result<bool, String> {
        while let Some(event) = self.conn.poll_for_event().map_err(err)? {
            match event {
                Event::MapNotify(e) if e.event == self.root && !e.override_redirect => {
                    self.mapped.retain(|w| *w != e.window);
                    self.mapped.push(e.window);
                    self.fill(e.window)?;
                }
                Event::DamageNotify(e) => {
                    let top = e.area.y.max(0) as u16;
                    let bottom =
                        (i32::from(e.area.y) + i32::from(e.area.height)).clamp(0, i32::from(self.height)) as u16;
                    if top < bottom {
                        self.drawn = Some(match self.drawn.take() {
                            Some(r) => r.start.min(top)..r.end.max(bottom),
                            None => top..bottom,
                        });
                    }
                }
                Event::XfixesCursorNotify(_) if self.xfixes => {
                    self.cursor_hidden = self.read_cursor().unwrap_or(self.cursor_hidden);
                }
                Event::UnmapNotify(e) if e.event == self.root => self.mapped.retain(|w| *w != e.window),
                Event::DestroyNotify(e) if e.event == self.root => self.mapped.retain(|w| *w != e.window),
                Event::ConfigureNotify(e)
                    if e.event == self.root
                        && !e.override_redirect
                        && self.mapped.last() == Some(&e.window)
                        && (e.x != 0 || e.y != 0 || e.width != self.width || e.height != self.height) =>
                {
                    self.fill(e.window)?;
                }
                _ => {}
            }
        }
        Ok(!self.mapped.is_empty())
    }

    fn fill(&self, window: xproto::Window) -> Result<(), String> {
        let aux = ConfigureWindowAux::new()
            .x(0)
            .y(0)
            .width(u32::from(self.width))
            .height(u32::from(self.height))
            .border_width(0)
            .stack_mode(StackMode::ABOVE);
        self.conn.configure_window(window, &aux).map_err(err)?;
        self.conn
            .set_input_focus(InputFocus::POINTER_ROOT, window, x11rb::CURRENT_TIME)
            .map_err(err)?;
        self.conn.flush().map_err(err)
    }

    /// A key of the browser's `code` (e.g. `KeyA`, `ArrowLeft`) goes down or up; false for a
    /// key this display's keyboard has no keycode for.
    pub fn key(&self, code: &str, down: bool) -> Result<bool, String> {
        let Some(keycode) = keysym(code).and_then(|k| self.keycodes.get(&k)) else {
            return Ok(false);
        };
        let kind = if down {
            xproto::KEY_PRESS_EVENT
        } else {
            xproto::KEY_RELEASE_EVENT
        };
        self.fake(kind, *keycode, 0, 0)?;
        Ok(true)
    }

    /// The pointer moves to (x, y) of the screen.
    pub fn motion(&self, x: i16, y: i16) -> Result<(), String> {
        self.fake(xproto::MOTION_NOTIFY_EVENT, 0, x, y)
    }

    /// The pointer moves by (dx, dy) (relative mouse: the page's pointer is locked).
    pub fn motion_by(&self, dx: i16, dy: i16) -> Result<(), String> {
        self.fake(xproto::MOTION_NOTIFY_EVENT, 1, dx, dy)
    }

    /// Mouse button `button` of the browser (0 left, 1 middle, 2 right, ...) goes down or up.
    pub fn button(&self, button: u8, down: bool) -> Result<(), String> {
        let x_button = match button {
            0 => 1,
            1 => 2,
            2 => 3,
            n => n.saturating_add(6), // back and forward: 8 and 9
        };
        let kind = if down {
            xproto::BUTTON_PRESS_EVENT
        } else {
            xproto::BUTTON_RELEASE_EVENT
        };
        self.fake(kind, x_button, 0, 0)
    }

    /// The wheel turns by `dy` (the browser's deltaY: positive scrolls down), one click at a
    /// time.
    pub fn wheel(&self, dy: f64) -> Result<(), String> {
        let button = if dy > 0.0 { 5 } else { 4 };
        let clicks = (dy.abs() / 100.0).ceil().clamp(1.0, 10.0) as usize;
        for _ in 0..clicks {
            self.fake(xproto::BUTTON_PRESS_EVENT, button, 0, 0)?;
            self.fake(xproto::BUTTON_RELEASE_EVENT, button, 0, 0)?;
        }
        Ok(())
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) -> Result<(), String> {
        self.conn
            .xtest_fake_input(kind, detail, x11rb::CURRENT_TIME, self.root, x, y, 0)
            .map_err(err)?;
        self.conn.flush().map_err(err)
    }
}

/// Map the capture segment (`width * height * 4` bytes, already sized) to read it in place.
///
/// SAFETY: the mapping is read-only on this side and lives in the [`Screen`] that made it. The
/// memfd is this process's own; it is shared only with the session's X server, through this
/// connection, whose segment id only [`Screen::capture`] uses. The server writes into it while
/// it handles a `ShmGetImage` of ours, and `capture` (`&mut self`) waits for the reply before
/// [`Screen::pixels`] can lend the bytes out; a borrow of them ends before the next capture.
/// (Another client of the same display could name the segment in a request of its own; the
/// bytes read could then change under a comparison or copy, a wrong picture for a frame, but
/// the mapping stays valid and only bytes are read: no pointer or enum is ever read from it.)
#[allow(unsafe_code)]
fn map_segment(file: &File) -> Result<memmap2::Mmap, String> {
    // SAFETY: see above.
    unsafe { memmap2::Mmap::map(file) }.map_err(err)
}

/// The keyboard map: the first keycode of each keysym.
fn keycodes(conn: &RustConnection) -> Result<HashMap<u32, u8>, String> {
    let setup = conn.setup();
    let (min, max) = (setup.min_keycode, setup.max_keycode);
    let reply = conn
        .get_keyboard_mapping(min, max - min + 1)
        .map_err(err)?
        .reply()
        .map_err(err)?;
    let per = usize::from(reply.keysyms_per_keycode.max(1));
    let mut map = HashMap::new();
    for (i, syms) in reply.keysyms.chunks(per).enumerate() {
        for sym in syms.iter().filter(|s| **s != 0) {
            map.entry(*sym).or_insert(min + i as u8);
        }
    }
    Ok(map)
}

/// The X keysym of a browser `KeyboardEvent.code` (the key's place, not its character).
pub fn keysym(code: &str) -> Option<u32> {
    if let Some(c) = code.strip_prefix("Key").filter(|c| c.len() == 1) {
        return c.chars().next().map(|c| u32::from(c.to_ascii_lowercase()));
    }
    if let Some(d) = code.strip_prefix("Digit").filter(|c| c.len() == 1) {
        return d.chars().next().map(u32::from);
    }
    if let Some(d) = code.strip_prefix("Numpad").and_then(|d| d.parse::<u32>().ok()) {
        return (d <= 9).then_some(0xffb0 + d);
    }
    if let Some(n) = code.strip_prefix('F').and_then(|n| n.parse::<u32>().ok()) {
        return (1..=24).contains(&n).then_some(0xffbe + n - 1);
    }
    Some(match code {
        "Escape" => 0xff1b,
        "Enter" | "NumpadEnter" => 0xff0d,
        "Space" => 0x20,
        "Tab" => 0xff09,
        "Backspace" => 0xff08,
        "Delete" => 0xffff,
        "Insert" => 0xff63,
        "Home" => 0xff50,
        "End" => 0xff57,
        "PageUp" => 0xff55,
        "PageDown" => 0xff56,
        "ArrowLeft" => 0xff51,
        "ArrowUp" => 0xff52,
        "ArrowRight" => 0xff53,
        "ArrowDown" => 0xff54,
        "ShiftLeft" => 0xffe1,
        "ShiftRight" => 0xffe2,
        "ControlLeft" => 0xffe3,
        "ControlRight" => 0xffe4,
        "CapsLock" => 0xffe5,
        "AltLeft" => 0xffe9,
        "AltRight" => 0xffea,
        "MetaLeft" => 0xffeb,
        "MetaRight" => 0xffec,
        "Minus" => 0x2d,
        "Equal" => 0x3d,
        "BracketLeft" => 0x5b,
        "BracketRight" => 0x5d,
        "Backslash" => 0x5c,
        "Semicolon" => 0x3b,
        "Quote" => 0x27,
        "Backquote" => 0x60,
        "Comma" => 0x2c,
        "Period" => 0x2e,
        "Slash" => 0x2f,
        "NumpadAdd" => 0xffab,
        "NumpadSubtract" => 0xffad,
        "NumpadMultiply" => 0xffaa,
        "NumpadDivide" => 0xffaf,
        "NumpadDecimal" => 0xffae,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::keysym;

    #[test]
    fn browser_codes_name_x_keysyms() {
        assert_eq!(keysym("KeyA"), Some(0x61));
        assert_eq!(keysym("KeyZ"), Some(0x7a));
        assert_eq!(keysym("Digit7"), Some(0x37));
        assert_eq!(keysym("ArrowLeft"), Some(0xff51));
        assert_eq!(keysym("Escape"), Some(0xff1b));
        assert_eq!(keysym("F1"), Some(0xffbe));
        assert_eq!(keysym("F12"), Some(0xffc9));
        assert_eq!(keysym("Numpad5"), Some(0xffb5));
        assert_eq!(keysym("Space"), Some(0x20));
        assert_eq!(keysym("Keyboard"), None);
        assert_eq!(keysym("Unidentified"), None);
    }
}
