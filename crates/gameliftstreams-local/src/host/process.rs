//! Processes the host starts: each in a process group of its own, with an explicit minimal
//! environment that carries the host's ownership marker, owned by one [`Group`] value whose
//! `stop` (or `Drop`) ends the whole group, SIGTERM then SIGKILL. A record per session on
//! disk names its groups, so that a server killed with `kill -9` has them ended by the next
//! start ([`sweep`]), which kills only groups whose processes still carry the marker.

use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A command for `program` that dies with the thread that starts it: through util-linux's
/// `setpriv --pdeathsig KILL` when the machine has it (the kernel then ends the program when
/// the server ends, even by `kill -9`; what the program itself starts is left to the next
/// start's [`sweep`]).
pub fn command(program: &Path, setpriv: Option<&Path>) -> Command {
    match setpriv {
        Some(setpriv) => {
            let mut cmd = Command::new(setpriv);
            cmd.args(["--pdeathsig", "KILL", "--"]).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// The environment variable every process the host starts carries: the host root, which
/// tells the next start which leftover processes are its own.
pub const MARKER: &str = "GAMELIFTSTREAMS_LOCAL_HOST";

/// A process group the host started and owns; the group ends when this is stopped or
/// dropped.
pub struct Group {
    pgid: i32,
    /// The leader, until its waiter takes it.
    child: Mutex<Option<Child>>,
}

impl Group {
    /// Start `cmd` as the leader of a new process group.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<Group> {
        use std::os::unix::process::CommandExt;
        let child = cmd.process_group(0).stdin(Stdio::null()).spawn()?;
        let pgid = child.id() as i32;
        Ok(Group {
            pgid,
            child: Mutex::new(Some(child)),
        })
    }

    /// Start `cmd` as the leader of a new process group, with a pipe to its stdin.
    pub fn spawn_fed(cmd: &mut Command) -> std::io::Result<(Group, std::process::ChildStdin)> {
        use std::os::unix::process::CommandExt;
        let mut child = cmd.process_group(0).stdin(Stdio::piped()).spawn()?;
        let stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
        let pgid = child.id() as i32;
        Ok((
            Group {
                pgid,
                child: Mutex::new(Some(child)),
            },
            stdin,
        ))
    }

    /// The process group id (the leader's pid).
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// The leader's stdout, once (for a child started with a piped stdout).
    pub fn take_stdout(&self) -> Option<std::process::ChildStdout> {
        self.child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()?
            .stdout
            .take()
    }

    /// Wait for the leader on a thread of its own; `then` gets its exit status (a signal
    /// that ended it as 128 + the signal's number, as a shell reports it).
    pub fn watch(&self, name: &str, then: impl FnOnce(i32) + Send + 'static) -> std::io::Result<()> {
        let child = self.child.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut child) = child else { return Ok(()) };
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || then(child.wait().map_or(-1, exit_code)))?;
        Ok(())
    }

    /// Whether any process of the group still runs (a zombie, dead but not yet reaped by
    /// whoever inherited it, does not count).
    pub fn alive(&self) -> bool {
        Pid::from_raw(self.pgid).is_some_and(|p| test_kill_process_group(p).is_ok())
            && group_members(self.pgid).any(|m| m.state != 'Z' && m.state != 'X')
    }

    /// SIGTERM to the group, without waiting.
    pub fn terminate(&self) {
        if let Some(pid) = Pid::from_raw(self.pgid) {
            let _ = kill_process_group(pid, Signal::TERM);
        }
    }

    /// End the group: SIGTERM, then SIGKILL to what is left after `grace`. Returns once the
    /// group is gone (or a further second has passed after the SIGKILL).
    pub fn stop(&self, grace: Duration) {
        let Some(pid) = Pid::from_raw(self.pgid) else { return };
        if kill_process_group(pid, Signal::TERM).is_err() {
            return; // already gone
        }
        let end = Instant::now() + grace;
        while Instant::now() < end && self.alive() {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.alive() {
            let _ = kill_process_group(pid, Signal::KILL);
            let end = Instant::now() + Duration::from_secs(1);
            while Instant::now() < end && self.alive() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // An unwatched leader is reaped here (no zombie stays behind).
        if let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = child.try_wait();
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = Pid::from_raw(self.pgid) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
        if let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = child.wait();
        }
    }
}

/// An exit status as a shell reports it: the code, or 128 + the signal that ended it.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(-1)
}

/// A virtual X display: Xvfb at `width`x`height`, on a display number it picks itself
/// (`-displayfd`: two servers on one machine never collide), its log in `log`.
pub struct Display {
    /// The X server's process group.
    pub group: Group,
    /// `:N`.
    pub name: String,
}

impl Display {
    /// Start Xvfb and wait (at most `within`) until it says which display it took.
    pub fn start(
        xvfb: &Path,
        setpriv: Option<&Path>,
        (width, height): (u32, u32),
        env: &[(String, String)],
        log: &Path,
        within: Duration,
    ) -> Result<Display, String> {
        let err_log = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = command(xvfb, setpriv);
        cmd.args(["-displayfd", "1", "-nolisten", "tcp", "-noreset", "-screen", "0"])
            .arg(format!("{width}x{height}x24"))
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(err_log);
        let group = Group::spawn(&mut cmd).map_err(|e| format!("{} could not start: {e}", xvfb.display()))?;
        let out = group.take_stdout().ok_or("Xvfb has no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("gls-xvfb-fd".into())
            .spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(out).read_line(&mut line);
                let _ = tx.send(line);
            })
            .map_err(|e| e.to_string())?;
        match rx.recv_timeout(within) {
            Ok(line) if line.trim().parse::<u32>().is_ok() => Ok(Display {
                group,
                name: format!(":{}", line.trim()),
            }),
            _ => {
                group.stop(Duration::from_millis(200));
                let said = std::fs::read_to_string(log).unwrap_or_default();
                let last = said
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no display");
                Err(format!("Xvfb did not start: {last}"))
            }
        }
    }
}

/// The file naming the process groups of a session, under `dir`.
pub fn record_path(dir: &Path, session: &str) -> PathBuf {
    dir.join(session)
}

/// Write the groups a session runs, before they can outlive a crash of this process.
pub fn record(dir: &Path, session: &str, pgids: &[i32]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text: String = pgids.iter().map(|p| format!("{p}\n")).collect();
    std::fs::write(record_path(dir, session), text)
}

/// A process as `/proc/<pid>/stat` shows it.
struct Member {
    pid: i32,
    state: char,
}

/// The processes of group `pgid`, from /proc.
fn group_members(pgid: i32) -> impl Iterator<Item = Member> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().filter_map(Result::ok);
    entries.filter_map(move |entry| {
        let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
        let stat = stat_fields(pid)?;
        let state = stat.first()?.chars().next()?;
        let pgrp = stat.get(2)?.parse::<i32>().ok()?;
        (pgrp == pgid).then_some(Member { pid, state })
    })
}

/// The fields of `/proc/<pid>/stat` after the command name (`state ppid pgrp …`: the name may
/// hold spaces and parentheses, so it is cut at the last `)`).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// CPU seconds (user + system) and resident bytes of process `pid`, from /proc.
pub fn usage(pid: i32) -> (Option<f64>, Option<u64>) {
    // utime and stime are the stat file's fields 14 and 15; these start at field 3.
    let fields = stat_fields(pid).unwrap_or_default();
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok());
    let cpu = ticks(14).zip(ticks(15)).map(|(u, s)| (u + s) / 100.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024);
    (cpu, rss)
}

/// CPU seconds and resident bytes of all processes of group `pgid` (a sandboxed game's
/// group holds the sandbox and the game's own processes), from /proc.
pub fn group_usage(pgid: i32) -> (Option<f64>, Option<u64>) {
    let mut total: (Option<f64>, Option<u64>) = (None, None);
    for m in group_members(pgid) {
        let (cpu, rss) = usage(m.pid);
        total.0 = Some(total.0.unwrap_or(0.0) + cpu.unwrap_or(0.0));
        total.1 = Some(total.1.unwrap_or(0) + rss.unwrap_or(0));
    }
    total
}

/// Whether a process of group `pgid` carries `marker` in its environment.
fn marked_in_group(pgid: i32, marker: &[u8]) -> bool {
    group_members(pgid).any(|m| {
        let environ = std::fs::read(format!("/proc/{}/environ", m.pid)).unwrap_or_default();
        environ.split(|b| *b == 0).any(|kv| kv == marker)
    })
}

/// End what a previous run of this host left running (it was killed before it could): every
/// recorded group that still has a process carrying this host's marker is killed; the records
/// go. Returns how many groups were ended, and the sessions whose records there were.
pub fn sweep(dir: &Path, marker_value: &str) -> (usize, Vec<String>) {
    let marker = format!("{MARKER}={marker_value}").into_bytes();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, Vec::new());
    };
    let mut ended = 0;
    let mut sessions = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        sessions.extend(entry.file_name().into_string());
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for pgid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let Some(pid) = Pid::from_raw(pgid) else { continue };
            if marked_in_group(pgid, &marker) && kill_process_group(pid, Signal::KILL).is_ok() {
                ended += 1;
            }
        }
        let _ = std::fs::remove_file(entry.path());
    }
    (ended, sessions)
}
