//! What a session leaves behind: the files of its application's `ApplicationLogPaths`,
//! uploaded when the session ends to its `LogFileLocationUri`, and the per-second statistics
//! of its game (`stats.csv` in the session's folder, which exports carry).
//!
//! The rules of log paths (AWS's): a path is relative to the application's folder, or to the
//! session's home when it starts with `$HOME` or `~` (`%USERPROFILE%` for Windows builds,
//! whose `C:\users\player` is that home); a folder yields its `.txt`, `.log` and
//! `.utrace` files, not its subfolders; a file is taken whatever its extension; a file over
//! 50 MB is left out.

use crate::ops::engine::apps::GameUsage;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest log file uploaded.
pub const LOG_FILE_LIMIT: u64 = 50 * 1000 * 1000;

/// Where a log path points: the session's home for `$HOME`, `~` or `%USERPROFILE%` (any
/// case), else the application folder.
pub fn resolve(path: &str, app: &Path, home: &Path) -> PathBuf {
    let path = path.replace('\\', "/");
    const PROFILE: &str = "%USERPROFILE%";
    let profile = path
        .get(..PROFILE.len())
        .filter(|p| p.eq_ignore_ascii_case(PROFILE))
        .map(|_| &path[PROFILE.len()..]);
    for rest in [path.strip_prefix("$HOME"), path.strip_prefix('~'), profile]
        .into_iter()
        .flatten()
    {
        if rest.is_empty() || rest.starts_with('/') {
            return home.join(rest.trim_start_matches('/'));
        }
    }
    app.join(path.trim_start_matches('/'))
}

/// The files the log paths name: (name in the upload, file), in a stable order; files over the
/// limit are named in the second list.
pub fn log_files(paths: &[String], app: &Path, home: &Path) -> (Vec<(String, PathBuf)>, Vec<PathBuf>) {
    let mut take = Vec::new();
    let mut too_big = Vec::new();
    let mut add = |file: PathBuf| {
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if size > LOG_FILE_LIMIT {
            too_big.push(file);
        } else if let Some(name) = file.file_name().map(|n| n.to_string_lossy().to_string()) {
            if !take.iter().any(|(n, _): &(String, PathBuf)| *n == name) {
                take.push((name, file));
            }
        }
    };
    for p in paths {
        let path = resolve(p, app, home);
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_file() {
            add(path);
        } else if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file())
                .filter(|f| {
                    f.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| ["txt", "log", "utrace"].contains(&e.to_ascii_lowercase().as_str()))
                })
                .collect();
            files.sort();
            for f in files {
                add(f);
            }
        }
    }
    (take, too_big)
}

/// The per-second statistics of a running game, appended to `stats.csv`.
pub struct Stats {
    file: Option<std::fs::File>,
    last_cpu: Option<(std::time::Instant, f64)>,
    last_frames: (u64, u64),
    last_bytes: u64,
}

impl Stats {
    /// Statistics into `path` (its header first).
    pub fn create(path: &Path) -> Stats {
        let file = std::fs::File::create(path).ok().and_then(|mut f| {
            writeln!(
                f,
                "timestamp,cpu_percent,memory_mb,frames_captured,frames_encoded,bitrate_kbps,\
                 cpu_utilization_normalized,memory_utilization_normalized"
            )
            .ok()?;
            Some(f)
        });
        Stats {
            file,
            last_cpu: None,
            last_frames: (0, 0),
            last_bytes: 0,
        }
    }

    /// One line at service time `at_ms`: CPU and memory of the game (also against what its
    /// class gives it, `limits`), and what its capture did since the last line; what the game
    /// used, for the page's statistics.
    pub fn record(
        &mut self,
        at_ms: i64,
        (cpu_seconds, memory): (Option<f64>, Option<u64>),
        limits: &super::limits::Resources,
        frames: (u64, u64),
        bytes: u64,
    ) -> GameUsage {
        let now = std::time::Instant::now();
        let cpu = match (cpu_seconds, self.last_cpu) {
            (Some(c), Some((t, before))) => {
                let wall = now.duration_since(t).as_secs_f64().max(1e-3);
                ((c - before) / wall * 100.0).max(0.0)
            }
            _ => 0.0,
        };
        if let Some(c) = cpu_seconds {
            self.last_cpu = Some((now, c));
        }
        let epoch = at_ms as f64 / 1000.0;
        let (captured, encoded) = (
            frames.0 - self.last_frames.0.min(frames.0),
            frames.1 - self.last_frames.1.min(frames.1),
        );
        let kbps = (bytes - self.last_bytes.min(bytes)) as f64 * 8.0 / 1000.0;
        self.last_frames = frames;
        self.last_bytes = bytes;
        let usage = GameUsage {
            cpu_normalized: (cpu / 100.0 / limits.vcpus.max(0.01)).clamp(0.0, 1.0),
            memory_bytes: memory.unwrap_or(0),
            memory_normalized: (memory.unwrap_or(0) as f64 / limits.memory.max(1) as f64).clamp(0.0, 1.0),
        };
        if let Some(f) = self.file.as_mut() {
            let mb = memory.unwrap_or(0) as f64 / 1_048_576.0;
            let (c, m) = (usage.cpu_normalized, usage.memory_normalized);
            let _ = writeln!(
                f,
                "{epoch:.3},{cpu:.1},{mb:.1},{captured},{encoded},{kbps:.0},{c:.3},{m:.3}"
            );
        }
        usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_paths_follow_the_rules() {
        let dir = tempfile::tempdir().unwrap();
        let (app, home) = (dir.path().join("app"), dir.path().join("home"));
        for d in [app.join("logs/old"), home.join("saved")] {
            std::fs::create_dir_all(d).unwrap();
        }
        for (f, body) in [
            ("app/logs/game.log", "x"),
            ("app/logs/notes.TXT", "x"),
            ("app/logs/trace.utrace", "x"),
            ("app/logs/data.bin", "x"),
            ("app/logs/old/older.log", "x"),
            ("app/crash.dmp", "x"),
            ("home/saved/player.log", "x"),
        ] {
            std::fs::write(dir.path().join(f), body).unwrap();
        }
        let paths = [
            "logs/".to_string(),
            "crash.dmp".into(),
            "~/saved".into(),
            "missing/".into(),
        ];
        let (files, big) = log_files(&paths, &app, &home);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["game.log", "notes.TXT", "trace.utrace", "crash.dmp", "player.log"]
        );
        assert!(big.is_empty());
        assert_eq!(resolve("$HOME/x.log", &app, &home), home.join("x.log"));
        assert_eq!(resolve("/abs/x.log", &app, &home), app.join("abs/x.log"));
        assert_eq!(resolve("~x", &app, &home), app.join("~x"));
        assert_eq!(resolve("%USERPROFILE%\\logs\\", &app, &home), home.join("logs/"));
        assert_eq!(resolve("%userprofile%/a.log", &app, &home), home.join("a.log"));
        assert_eq!(resolve("Logs\\b.log", &app, &home), app.join("Logs/b.log"));
    }
}
