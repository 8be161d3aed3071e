//! A game's resources: what its stream class gives in AWS (vCPUs and RAM, scaled by
//! `--host-scale`), enforced with a cgroup of its own where the server can make one (v2, or
//! the v1 `memory` and `cpu` controllers, with `cpuacct` for its usage), else with an rlimit
//! on its data (memory only). The cgroup also tells what the game used (the statistics the
//! page gets) and whether the kernel killed it for its memory.

use gls_model::StreamClass;
use std::io;
use std::path::{Path, PathBuf};

/// How the host's cgroup folders are named: this, then a hash of the data dir's path.
pub const PREFIX: &str = "gameliftstreams-local-";

/// What a session's game may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    /// vCPUs (a share of the machine's CPU time: 1.0 is one core).
    pub vcpus: f64,
    /// Memory, bytes.
    pub memory: u64,
}

/// The class's vCPUs and RAM (GiB), as AWS gives them.
pub fn class_figures(class: StreamClass) -> (u32, u32) {
    use StreamClass::*;
    match class {
        Gen6nSmall => (1, 4),
        Gen6nMedium | Gen6nSmallWin2022 => (2, 8),
        Gen4nHigh | Gen5nHigh | Gen6nHigh => (4, 16),
        Gen6nPro | Gen6nProWin2022 => (16, 64),
        Gen6ePro | Gen6eProWin2022 => (16, 128),
        _ => (8, 32),
    }
}

/// What a game of `class` gets on a host scaled by `scale`.
pub fn of_class(class: StreamClass, scale: f64) -> Resources {
    let (vcpus, gib) = class_figures(class);
    Resources {
        vcpus: f64::from(vcpus) * scale,
        memory: (f64::from(gib) * scale * (1u64 << 30) as f64) as u64,
    }
}

/// How the host limits its games.
#[derive(Debug, Clone)]
pub enum Limiter {
    /// A cgroup v2 folder of the host's, whose children are the sessions'.
    V2(PathBuf),
    /// v1: the host's folder in each controller's hierarchy (memory first, then cpu and
    /// cpuacct where mounted).
    V1(Vec<(&'static str, PathBuf)>),
    /// No cgroup: memory by `prlimit --data` (util-linux), CPU not limited; why.
    Rlimit(Option<PathBuf>, String),
}

/// One cgroup mount of this process: its type's controllers and where it is.
struct Mount {
    v2: bool,
    options: Vec<String>,
    at: PathBuf,
}

fn mounts() -> Vec<Mount> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let at = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            let fstype = r.next()?;
            let options = r.nth(1).unwrap_or_default();
            (fstype == "cgroup" || fstype == "cgroup2").then(|| Mount {
                v2: fstype == "cgroup2",
                options: options.split(',').map(str::to_string).collect(),
                at: PathBuf::from(at),
            })
        })
        .collect()
}

/// This process's cgroup path in the v1 hierarchy of `controller`, or in v2 (`""`).
fn own_path(controller: &str) -> Option<String> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    groups.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let hit = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        hit.then(|| path.trim_start_matches('/').to_string())
    })
}

fn make_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

impl Limiter {
    /// Find how games can be limited here, making the host's cgroup folder `name` (left
    /// sessions' folders in it are removed); `prlimit` is util-linux's, for the fallback.
    pub fn detect(name: &str, prlimit: Option<PathBuf>) -> Limiter {
        let all = mounts();
        let mut why = Vec::new();
        // v1, where the kernel mounts the memory controller on its own hierarchy.
        if let Some(m) = all.iter().find(|m| !m.v2 && m.options.iter().any(|o| o == "memory")) {
            let mut dirs = Vec::new();
            for c in ["memory", "cpu", "cpuacct"] {
                let Some(mount) = all.iter().find(|m| !m.v2 && m.options.iter().any(|o| o == c)) else {
                    continue;
                };
                let Some(own) = own_path(c) else { continue };
                let dir = mount.at.join(own).join(name);
                match make_dir(&dir) {
                    Ok(()) => dirs.push((c, dir)),
                    Err(e) if c == "memory" => {
                        why.push(format!("cgroup v1 {}: {e}", m.at.display()));
                        break;
                    }
                    Err(_) => {}
                }
            }
            if dirs.first().is_some_and(|(c, _)| *c == "memory") {
                let limiter = Limiter::V1(dirs);
                limiter.sweep();
                return limiter;
            }
        }
        // v2: the host's folder needs the memory and cpu controllers delegated to it.
        if let (Some(m), Some(own)) = (all.iter().find(|m| m.v2), own_path("")) {
            let base = m.at.join(own);
            let dir = base.join(name);
            let tried = (|| -> io::Result<()> {
                let _ = std::fs::write(base.join("cgroup.subtree_control"), "+memory +cpu");
                make_dir(&dir)?;
                std::fs::write(dir.join("cgroup.subtree_control"), "+memory +cpu")
            })();
            match tried {
                Ok(()) => {
                    let limiter = Limiter::V2(dir);
                    limiter.sweep();
                    return limiter;
                }
                Err(e) => why.push(format!("cgroup v2 {}: {e}", dir.display())),
            }
        }
        if why.is_empty() {
            why.push("no cgroup memory controller is mounted".into());
        }
        Limiter::Rlimit(prlimit, why.join("; "))
    }

    /// How a game's limits are enforced, as the process view names it: by its cgroup
    /// (`cgroup v1` or `v2`) when it got one, else by rlimit or not at all.
    pub fn enforced_by(&self, has_cgroup: bool) -> &'static str {
        match (has_cgroup, self) {
            (true, Limiter::V1(_)) => "cgroup v1",
            (true, _) => "cgroup v2",
            (false, Limiter::Rlimit(Some(_), _)) => "rlimit",
            (false, _) => "none",
        }
    }

    /// What the start-up line says of it.
    pub fn describe(&self) -> String {
        match self {
            Limiter::V2(dir) => format!("cgroup v2 {}", dir.display()),
            Limiter::V1(dirs) => format!(
                "cgroup v1 {}",
                dirs.iter().map(|(c, _)| *c).collect::<Vec<_>>().join("+")
            ),
            Limiter::Rlimit(Some(_), why) => format!("rlimit (memory only: {why})"),
            Limiter::Rlimit(None, why) => format!("none ({why}; no prlimit)"),
        }
    }

    /// The host's cgroup folders (one per hierarchy; none for rlimits).
    fn folders(&self) -> Vec<&PathBuf> {
        match self {
            Limiter::V2(dir) => vec![dir],
            Limiter::V1(dirs) => dirs.iter().map(|(_, d)| d).collect(),
            Limiter::Rlimit(..) => vec![],
        }
    }

    /// Remove the host's cgroup folders, as the server stops (its games are gone by then).
    pub fn close(&self) {
        self.sweep();
        let dirs = self.folders();
        for dir in dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// Remove the sessions' cgroups a previous run left (their processes are gone by now),
    /// and the folders of servers that were killed before they could remove theirs: the kernel
    /// refuses to remove a cgroup that holds a process, so one in use stays.
    fn sweep(&self) {
        let dirs = self.folders();
        let children = |dir: &Path| {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect::<Vec<_>>()
        };
        for dir in dirs {
            for session in children(dir) {
                let _ = std::fs::remove_dir(session);
            }
            let Some(parent) = dir.parent() else { continue };
            for other in children(parent) {
                let ours = other
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(PREFIX));
                if ours && &other != dir {
                    for session in children(&other) {
                        let _ = std::fs::remove_dir(session);
                    }
                    let _ = std::fs::remove_dir(&other);
                }
            }
        }
    }

    /// A cgroup for session `id` limited to `r` (none for the rlimit fallback).
    pub fn create(&self, id: &str, r: Resources) -> io::Result<Option<Cgroup>> {
        const PERIOD: u64 = 100_000;
        let quota = ((r.vcpus * PERIOD as f64) as u64).max(1_000);
        match self {
            Limiter::V2(dir) => {
                let d = dir.join(id);
                make_dir(dir)?;
                make_dir(&d)?;
                std::fs::write(d.join("memory.max"), r.memory.to_string())?;
                let _ = std::fs::write(d.join("memory.swap.max"), "0");
                std::fs::write(d.join("cpu.max"), format!("{quota} {PERIOD}"))?;
                Ok(Some(Cgroup {
                    v2: true,
                    dirs: vec![("", d)],
                }))
            }
            Limiter::V1(dirs) => {
                let mut made = Vec::new();
                for (c, dir) in dirs {
                    let d = dir.join(id);
                    make_dir(dir)?;
                    make_dir(&d)?;
                    made.push((*c, d));
                }
                let g = Cgroup { v2: false, dirs: made };
                if let Some(m) = g.dir("memory") {
                    std::fs::write(m.join("memory.limit_in_bytes"), r.memory.to_string())?;
                    // Where the machine swaps: no more memory plus swap than memory.
                    let _ = std::fs::write(m.join("memory.memsw.limit_in_bytes"), r.memory.to_string());
                }
                if let Some(c) = g.dir("cpu") {
                    std::fs::write(c.join("cpu.cfs_period_us"), PERIOD.to_string())?;
                    std::fs::write(c.join("cpu.cfs_quota_us"), quota.to_string())?;
                }
                Ok(Some(g))
            }
            Limiter::Rlimit(..) => Ok(None),
        }
    }

    /// `prlimit --data=BYTES --`, for the fallback: what wraps the game's command.
    pub fn rlimit(&self, r: Resources) -> Option<(PathBuf, Vec<String>)> {
        match self {
            Limiter::Rlimit(Some(prlimit), _) => {
                Some((prlimit.clone(), vec![format!("--data={}", r.memory), "--".into()]))
            }
            _ => None,
        }
    }
}

/// One session's cgroup.
#[derive(Debug)]
pub struct Cgroup {
    v2: bool,
    dirs: Vec<(&'static str, PathBuf)>,
}

impl Cgroup {
    fn dir(&self, controller: &str) -> Option<&Path> {
        if self.v2 {
            return self.dirs.first().map(|(_, d)| d.as_path());
        }
        self.dirs
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, d)| d.as_path())
    }

    /// Put process `pid` in it (what it starts later is in it too).
    pub fn add(&self, pid: i32) -> io::Result<()> {
        for (_, d) in &self.dirs {
            std::fs::write(d.join("cgroup.procs"), pid.to_string())?;
        }
        Ok(())
    }

    /// How many times the kernel killed a process of it for going over its memory.
    pub fn oom_kills(&self) -> u64 {
        let (file, key) = if self.v2 {
            ("memory.events", "oom_kill")
        } else {
            ("memory.oom_control", "oom_kill")
        };
        let Some(dir) = self.dir("memory") else { return 0 };
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The memory its processes use now, bytes (without the page cache where the kernel says).
    pub fn memory_bytes(&self) -> Option<u64> {
        let dir = self.dir("memory")?;
        let (usage, stat, cache) = if self.v2 {
            ("memory.current", "memory.stat", "file ")
        } else {
            ("memory.usage_in_bytes", "memory.stat", "total_cache ")
        };
        let used: u64 = std::fs::read_to_string(dir.join(usage)).ok()?.trim().parse().ok()?;
        let stat = std::fs::read_to_string(dir.join(stat)).unwrap_or_default();
        let cached: u64 = stat
            .lines()
            .find_map(|l| l.strip_prefix(cache)?.trim().parse().ok())
            .unwrap_or(0);
        Some(used.saturating_sub(cached))
    }

    /// CPU seconds its processes have used.
    pub fn cpu_seconds(&self) -> Option<f64> {
        if self.v2 {
            let stat = std::fs::read_to_string(self.dir("")?.join("cpu.stat")).ok()?;
            let us: u64 = stat
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse().ok())?;
            return Some(us as f64 / 1e6);
        }
        let ns: u64 = std::fs::read_to_string(self.dir("cpuacct")?.join("cpuacct.usage"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(ns as f64 / 1e9)
    }

    /// Remove it, once its processes are gone (tried for up to `within`).
    pub fn remove(&self, within: std::time::Duration) {
        let end = std::time::Instant::now() + within;
        for (_, d) in &self.dirs {
            while std::fs::remove_dir(d).is_err() && d.exists() && std::time::Instant::now() < end {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_get_their_aws_figures_scaled() {
        assert_eq!(
            of_class(StreamClass::Gen6nSmall, 1.0),
            Resources {
                vcpus: 1.0,
                memory: 4 << 30
            }
        );
        assert_eq!(
            of_class(StreamClass::Gen5nUltra, 0.25),
            Resources {
                vcpus: 2.0,
                memory: 8 << 30
            }
        );
        assert_eq!(class_figures(StreamClass::Gen6eProWin2022), (16, 128));
        assert_eq!(class_figures(StreamClass::Gen4nWin2022), (8, 32));
    }
}
