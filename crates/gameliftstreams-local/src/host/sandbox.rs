//! A game's sandbox: bubblewrap (Debian's `bwrap`) gives each game a root of its own with the
//! system's programs and libraries read-only (`/usr`, `/etc`, the `/lib*` and `/bin` links),
//! its session's folders read-write at their own paths, the build's files it shares with the
//! snapshot read-only, its display's and audio server's sockets, a private `/tmp`, `/dev` and
//! `/proc` (a PID namespace: no other process is visible), no capabilities, and, with
//! `--app-network none`, a network namespace of its own with only a loopback. Nothing else of
//! the machine is there: not the data dir, not the server's files, not another session's. A
//! sandboxed game starts blocked (`--block-fd 0`) so that the host can put it in its cgroup
//! and open its message endpoint inside its network before it runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The system's folders a game sees, read-only, when the machine has them.
const SYSTEM: &[&str] = &["/usr", "/etc", "/opt", "/var/cache/fontconfig", "/var/lib/dbus"];

/// The top-level links (or folders) into `/usr` of a merged-usr system.
const TOP: &[&str] = &["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// bubblewrap, checked to work on this kernel.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
}

/// What one game's sandbox holds.
pub struct Jail<'a> {
    /// Folders the game writes, bound at their own paths (its session's).
    pub writable: Vec<&'a Path>,
    /// Files inside those that it only reads (the build's files hard-linked to the snapshot).
    pub read_only: Vec<PathBuf>,
    /// Sockets (or their folders) it connects to: its display's, its audio server's.
    pub sockets: Vec<PathBuf>,
    /// Its working directory.
    pub workdir: &'a Path,
    /// Whether it reaches the network (else: a loopback of its own).
    pub network: bool,
    /// The sandbox's host name.
    pub hostname: String,
}

impl Sandbox {
    /// bubblewrap at `bwrap`, if it can make a sandbox here (user, PID and network namespaces
    /// and mounts): else why not, in the kernel's or bubblewrap's words.
    pub fn probe(bwrap: &Path) -> Result<Sandbox, String> {
        let sandbox = Sandbox { bwrap: bwrap.into() };
        let truth = super::find_on_path("true").unwrap_or_else(|| PathBuf::from("/bin/true"));
        let jail = Jail {
            writable: vec![],
            read_only: vec![],
            sockets: vec![],
            workdir: Path::new("/"),
            network: false,
            hostname: "probe".into(),
        };
        let mut cmd = Command::new(bwrap);
        cmd.args(sandbox.args(&jail)).arg(&truth).env_clear();
        match cmd.output() {
            Ok(out) if out.status.success() => Ok(sandbox),
            Ok(out) => Err(format!(
                "{} cannot make a sandbox here: {}",
                bwrap.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(format!("{}: {e}", bwrap.display())),
        }
    }

    /// The command that runs `program` in `jail`, if `blocked` only once a byte arrives on its
    /// stdin (through `setpriv` when the machine has it, as every process the host starts).
    pub fn command(&self, jail: &Jail, setpriv: Option<&Path>, program: &Path, blocked: bool) -> Command {
        let mut cmd = super::process::command(&self.bwrap, setpriv);
        if blocked {
            cmd.args(["--block-fd", "0"]);
        }
        cmd.args(self.args(jail)).arg(program);
        cmd
    }

    /// bubblewrap's arguments for `jail`, up to the program.
    fn args(&self, jail: &Jail) -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = Vec::new();
        let mut push = |parts: &[&std::ffi::OsStr]| a.extend(parts.iter().map(|p| p.to_os_string()));
        let s = |t: &'static str| std::ffi::OsStr::new(t);
        push(&[
            s("--die-with-parent"),
            s("--unshare-pid"),
            s("--unshare-uts"),
            s("--unshare-cgroup-try"),
        ]);
        push(&[s("--hostname"), jail.hostname.as_ref()]);
        push(&[s("--cap-drop"), s("ALL")]);
        if !jail.network {
            push(&[s("--unshare-net")]);
        }
        for dir in SYSTEM {
            push(&[s("--ro-bind-try"), s(dir), s(dir)]);
        }
        for top in TOP {
            let path = Path::new(top);
            match std::fs::read_link(path) {
                Ok(target) => push(&[s("--symlink"), target.as_os_str(), s(top)]),
                Err(_) if path.is_dir() => push(&[s("--ro-bind"), s(top), s(top)]),
                Err(_) => {}
            }
        }
        push(&[s("--proc"), s("/proc"), s("--dev"), s("/dev"), s("--tmpfs"), s("/tmp")]);
        push(&[s("--tmpfs"), s("/run"), s("--dir"), s("/var/tmp")]);
        for dir in &jail.writable {
            push(&[s("--bind"), dir.as_os_str(), dir.as_os_str()]);
        }
        for file in &jail.read_only {
            push(&[s("--ro-bind"), file.as_os_str(), file.as_os_str()]);
        }
        for socket in &jail.sockets {
            push(&[s("--bind"), socket.as_os_str(), socket.as_os_str()]);
        }
        push(&[s("--chdir"), jail.workdir.as_os_str(), s("--")]);
        a
    }
}

/// The files under `dir` that are hard links (more than one name): the build's files a
/// session's copy shares with the snapshot.
pub fn shared_files(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() && depth < 64 {
                stack.push((e.path(), depth + 1));
            } else if meta.is_file() && meta.nlink() > 1 {
                out.push(e.path());
            }
        }
    }
    out
}

/// The process the sandbox runs the game under: the first child of bubblewrap's process
/// `pid` (its PID namespace's init), once it has one (`None` after `within`).
pub fn inner_pid(pid: i32, within: std::time::Duration) -> Option<i32> {
    let end = std::time::Instant::now() + within;
    loop {
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(first) = children.split_whitespace().next().and_then(|c| c.parse().ok()) {
            return Some(first);
        }
        if std::time::Instant::now() >= end {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Open a TCP listener on `127.0.0.1:port` inside the network namespace of process `pid`
/// (a sandbox without the network): on a thread that enters it and ends. Needs the right to
/// enter it (CAP_SYS_ADMIN over it: a server running as root).
pub fn listen_inside(pid: i32, port: u16) -> std::io::Result<std::net::TcpListener> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    std::thread::Builder::new()
        .name("gls-netns".into())
        .spawn(move || {
            use std::os::fd::AsFd;
            rustix::thread::move_into_link_name_space(ns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))?;
            std::net::TcpListener::bind(("127.0.0.1", port))
        })?
        .join()
        .map_err(|_| std::io::Error::other("the thread that entered the game's network panicked"))?
}
