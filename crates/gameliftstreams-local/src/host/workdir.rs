//! A session's folders: a fresh writable copy of its application's build as the working
//! directory (files of 1 MiB and more hard-linked from the snapshot, smaller ones copied: a
//! session never sees what another wrote, as long as big files are replaced rather than
//! rewritten in place), its own HOME, TMPDIR and XDG_RUNTIME_DIR, and its log files.

use std::io;
use std::path::{Path, PathBuf};

/// Files this big or bigger are hard links to the snapshot rather than copies.
const LINK_AT: u64 = 1 << 20;

/// Folders a build may nest.
const MAX_DEPTH: usize = 64;

/// The folders and files of one session.
pub struct SessionDirs {
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
}

impl SessionDirs {
    /// Make the session's folders under `root` (anything there before goes), with the build's
    /// copy from `build`.
    pub fn make(root: &Path, build: &Path) -> io::Result<SessionDirs> {
        if root.exists() {
            std::fs::remove_dir_all(root)?;
        }
        let dirs = SessionDirs {
            app: root.join("app"),
            home: root.join("home"),
            tmp: root.join("tmp"),
            run: root.join("run"),
            app_log: root.join("app.log"),
            xvfb_log: root.join("xvfb.log"),
            started: root.join("started"),
            stats: root.join("stats.csv"),
        };
        for d in [&dirs.home, &dirs.tmp, &dirs.run] {
            std::fs::create_dir_all(d)?;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dirs.run, std::fs::Permissions::from_mode(0o700))?;
        copy_tree(build, &dirs.app, 0)?;
        Ok(dirs)
    }
}

fn copy_tree(from: &Path, to: &Path, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!("{} nests too deep", from.display())));
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::metadata(&src)?;
        if meta.is_dir() {
            copy_tree(&src, &dst, depth + 1)?;
        } else if meta.len() >= LINK_AT {
            if std::fs::hard_link(&src, &dst).is_err() {
                std::fs::copy(&src, &dst)?;
            }
        } else {
            std::fs::copy(&src, &dst)?;
            // The snapshot's files are read-only; a session's own copies are its to write.
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() | 0o200;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}
