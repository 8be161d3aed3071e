//! Windows builds (the PROTON and WINDOWS runtimes) under Wine: a base prefix made once with
//! `wineboot` and cached under the host's folder, and for each session a prefix of its own
//! (the base's program files hard-linked, read-only in the sandbox; its registry and the rest
//! copied) whose `C:\users\player` is the session's HOME, so that `%USERPROFILE%` is its
//! profile for exports and log paths. An `.exe` runs as `wine GAME.exe ARGS`, a `.cmd` or
//! `.bat` as `wine cmd /c GAME.bat ARGS`.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Windows user a game runs as (`C:\users\player`).
pub const USER: &str = "player";

/// How long making the base prefix may take.
const MAKE_WITHIN: Duration = Duration::from_secs(300);

/// Files of a prefix that Wine only reads: hard links to the base's.
const PROGRAM_FILES: &[&str] = &[
    "dll", "exe", "drv", "sys", "ocx", "cpl", "acm", "ax", "tlb", "ds", "com", "vxd", "msstyles", "nls",
];

/// Where the base prefix stands.
#[derive(Debug, Clone, PartialEq)]
enum Base {
    Missing,
    Making,
    Ready,
    Failed(String),
}

/// Wine, and the base prefix of this host.
pub struct Wine {
    /// The `wine` program (Debian's, or `--wine PATH`).
    pub wine: PathBuf,
    base: PathBuf,
    state: Mutex<Base>,
}

impl Wine {
    /// Wine at `wine`, its base prefix under `root` (the host's folder).
    pub fn new(wine: PathBuf, root: &Path) -> Wine {
        let base = root.join("wine").join("prefix");
        // (It is made beside and moved in place whole: a base that is there is complete.)
        let state = if base.is_dir() { Base::Ready } else { Base::Missing };
        Wine {
            wine,
            base,
            state: Mutex::new(state),
        }
    }

    /// Whether the base prefix is ready: `Ok(false)` while it is being made (the first call
    /// starts making it, on a thread of its own; `run` gives the command that runs a program
    /// with write access to the folders it is given: in the sandbox, or not), `Err` if it
    /// could not be made.
    pub fn ready(
        self: &Arc<Self>,
        run: impl FnOnce(&[&Path], &Path) -> std::process::Command + Send + 'static,
    ) -> Result<bool, String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &*state {
            Base::Ready => return Ok(true),
            Base::Making => return Ok(false),
            Base::Failed(why) => return Err(why.clone()),
            Base::Missing => {}
        }
        *state = Base::Making;
        let me = self.clone();
        let spawned = std::thread::Builder::new().name("gls-wineboot".into()).spawn(move || {
            let started = Instant::now();
            let made = me.make(run);
            let mut state = me.state.lock().unwrap_or_else(|p| p.into_inner());
            *state = match made {
                Ok(()) => {
                    tracing::info!(prefix = %me.base.display(), ms = started.elapsed().as_millis() as u64, "the Wine prefix is made");
                    Base::Ready
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the Wine prefix could not be made");
                    Base::Failed(e)
                }
            };
        });
        if let Err(e) = spawned {
            *state = Base::Failed(e.to_string());
        }
        Ok(false)
    }

    /// Make the base prefix: `wineboot -i` into a folder beside it, then moved in place.
    fn make(&self, run: impl FnOnce(&[&Path], &Path) -> std::process::Command) -> Result<(), String> {
        let partial = self.base.with_extension("partial");
        let home = self.base.with_extension("home");
        for d in [&partial, &home] {
            let _ = std::fs::remove_dir_all(d);
        }
        std::fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        // wineboot, then the wait for the Wine server it started to write the registry and end
        // (`wineserver -w`, beside wine or on PATH).
        let script = r#""$0" wineboot -i; s="$(dirname "$0")/wineserver"; [ -x "$s" ] || s=wineserver; "$s" -w"#;
        let mut cmd = run(&[&partial, &home], Path::new("/bin/sh"));
        cmd.args(["-c", script])
            .arg(&self.wine)
            .current_dir(&home)
            .env_clear()
            .envs(env(&partial))
            .env("HOME", &home)
            .env("PATH", super::BASE_PATH)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let group = super::process::Group::spawn(&mut cmd).map_err(|e| format!("{}: {e}", self.wine.display()))?;
        let end = Instant::now() + MAKE_WITHIN;
        while group.alive() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(100));
        }
        if group.alive() {
            group.stop(Duration::from_secs(1));
            return Err(format!("wineboot did not finish within {} s", MAKE_WITHIN.as_secs()));
        }
        if !partial.join("system.reg").exists() {
            return Err(format!("wineboot made no prefix in {}", partial.display()));
        }
        let _ = std::fs::remove_dir_all(&home);
        // The user's folder is each session's HOME: the base keeps only what Wine made in it.
        let _ = std::fs::remove_dir_all(&self.base);
        std::fs::rename(&partial, &self.base).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The session's own prefix at `prefix`, its user's folder being `home`: the base's
    /// program files hard-linked, the rest copied.
    pub fn session_prefix(&self, prefix: &Path, home: &Path) -> io::Result<()> {
        let _ = std::fs::remove_dir_all(prefix);
        super::workdir::copy_tree(&self.base, prefix, &|file, _| {
            let ext = file.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
            ext.is_some_and(|e| PROGRAM_FILES.contains(&e.as_str()))
        })?;
        let user = prefix.join("drive_c").join("users").join(USER);
        // What Wine made in the user's folder (AppData, …) goes into HOME; the folder becomes
        // a link to it.
        if user.is_dir() {
            move_into(&user, home)?;
            std::fs::remove_dir_all(&user)?;
        }
        std::os::unix::fs::symlink(home, &user)
    }

    /// The program and arguments that run `program` (an `.exe`, `.cmd` or `.bat`).
    pub fn command(&self, program: &Path) -> (PathBuf, Vec<OsString>) {
        let lower = program.to_string_lossy().to_ascii_lowercase();
        if lower.ends_with(".cmd") || lower.ends_with(".bat") {
            (self.wine.clone(), vec!["cmd".into(), "/c".into(), program.into()])
        } else {
            (self.wine.clone(), vec![program.into()])
        }
    }
}

/// What a game under Wine has in its environment, for prefix `prefix`.
pub fn env(prefix: &Path) -> Vec<(String, String)> {
    vec![
        ("WINEPREFIX".into(), prefix.display().to_string()),
        ("USER".into(), USER.into()),
        ("USERNAME".into(), USER.into()),
        // No Mono or Gecko installers asked for; Wine's own messages off unless asked.
        ("WINEDLLOVERRIDES".into(), "mscoree,mshtml=".into()),
        ("WINEDEBUG".into(), "-all".into()),
    ]
}

/// Move what `from` holds into `to` (made if need be); links Wine made to the machine's own
/// folders (Desktop → the user's HOME at the time) are left out.
fn move_into(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_symlink() {
            continue;
        }
        let dst = to.join(entry.file_name());
        if !dst.exists() {
            std::fs::rename(entry.path(), dst)?;
        }
    }
    Ok(())
}
