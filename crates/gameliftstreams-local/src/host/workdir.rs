//! A session's folders: a fresh writable copy of its application's build as the working
//! directory (files of 1 MiB and more hard-linked from the snapshot, smaller ones copied: a
//! session never sees what another wrote, as long as big files are replaced rather than
//! rewritten in place), its own HOME, TMPDIR and XDG_RUNTIME_DIR, and its log files.

use crate::ops::engine::apps::SessionDirs;
use std::io;
use std::path::Path;

/// Files this big or bigger are hard links to the snapshot rather than copies.
const LINK_AT: u64 = 1 << 20;

/// Folders a build may nest.
const MAX_DEPTH: usize = 64;

/// Make the session's folders `dirs` (anything there before goes), with the build's copy from
/// `build`.
pub fn make(dirs: &SessionDirs, build: &Path) -> io::Result<()> {
    if dirs.root.exists() {
        std::fs::remove_dir_all(&dirs.root)?;
    }
    for d in [&dirs.home, &dirs.tmp, &dirs.run] {
        std::fs::create_dir_all(d)?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dirs.run, std::fs::Permissions::from_mode(0o700))?;
    copy_tree(build, &dirs.app, &|_, meta| meta.len() >= LINK_AT)
}

/// Copy the tree `from` into `to`: the files `link` chooses as hard links (a copy where a link
/// cannot be made), the others as copies their owner may write, symbolic links as links.
pub fn copy_tree(from: &Path, to: &Path, link: &dyn Fn(&Path, &std::fs::Metadata) -> bool) -> io::Result<()> {
    copy_below(from, to, link, 0)
}

fn copy_below(
    from: &Path,
    to: &Path,
    link: &dyn Fn(&Path, &std::fs::Metadata) -> bool,
    depth: usize,
) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!("{} nests too deep", from.display())));
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&src)?;
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if meta.is_dir() {
            copy_below(&src, &dst, link, depth + 1)?;
        } else if link(&src, &meta) {
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
