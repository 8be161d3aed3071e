//! The rules an application's build must follow, as pure functions over a listing of its
//! files: where `ApplicationSourceUri` leads, the size limits, that `ExecutablePath` stays
//! inside the build and names one of its files, and what that file must be for the runtime.
//! No I/O: the engine lists and reads, these decide.

use gls_model::{ApplicationStatusReason, RuntimeEnvironmentType};

/// The limits of one application's build (AWS's, per the developer guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Files in the build.
    pub files: usize,
    /// Bytes of one file.
    pub file_bytes: u64,
    /// Bytes of the whole build.
    pub total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        const GIB: u64 = 1 << 30;
        Limits {
            files: 30_000,
            file_bytes: 80 * GIB,
            total_bytes: 100 * GIB,
        }
    }
}

/// One file of a build: its path inside the build (`/`-separated) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path inside the build.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a build cannot be used: the application's StatusReason and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The application's StatusReason.
    pub reason: ApplicationStatusReason,
    /// What was wrong, for the log.
    pub message: String,
}

impl Refused {
    fn internal(message: String) -> Refused {
        Refused {
            reason: ApplicationStatusReason::InternalError,
            message,
        }
    }
}

/// `s3://bucket/prefix` as (bucket, prefix): the prefix without leading slashes and, unless
/// it is empty, with one trailing slash (the build is the "folder" it names).
pub fn source(uri: &str) -> Option<(&str, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = prefix.trim_matches('/');
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    Some((bucket, prefix))
}

/// A path inside the build: its `/`-separated segments, or `None` when it is absolute,
/// empty, or climbs out of the build (`..` past its root).
pub fn inside(path: &str) -> Option<String> {
    let path = path.replace('\\', "/");
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The listing against the limits.
pub fn check_listing(entries: &[Entry], limits: &Limits) -> Result<(), Refused> {
    if entries.len() > limits.files {
        return Err(Refused::internal(format!(
            "the build has {} files; an application may have at most {}",
            entries.len(),
            limits.files
        )));
    }
    if let Some(big) = entries.iter().find(|e| e.size > limits.file_bytes) {
        return Err(Refused::internal(format!(
            "{} is {} bytes; a file may have at most {}",
            big.path, big.size, limits.file_bytes
        )));
    }
    let total: u64 = entries.iter().map(|e| e.size).sum();
    if total > limits.total_bytes {
        return Err(Refused::internal(format!(
            "the build has {total} bytes; an application may have at most {}",
            limits.total_bytes
        )));
    }
    Ok(())
}

/// `ExecutablePath` as a path of the listing: inside the build, one of its files, with a name
/// its runtime launches. Returns the path inside the build.
pub fn executable(
    runtime: RuntimeEnvironmentType,
    executable_path: &str,
    entries: &[Entry],
) -> Result<String, Refused> {
    let Some(path) = inside(executable_path) else {
        return Err(Refused::internal(format!(
            "ExecutablePath {executable_path:?} is not a path inside the build"
        )));
    };
    if !entries.iter().any(|e| e.path == path) {
        let dir = format!("{path}/");
        let what = if entries.iter().any(|e| e.path.starts_with(&dir)) {
            "is a folder, not a file"
        } else {
            "is not in the build"
        };
        return Err(Refused::internal(format!("ExecutablePath {executable_path:?} {what}")));
    }
    if matches!(
        runtime,
        RuntimeEnvironmentType::Windows | RuntimeEnvironmentType::Proton
    ) {
        let lower = path.to_ascii_lowercase();
        if ![".exe", ".cmd", ".bat"].iter().any(|s| lower.ends_with(s)) {
            return Err(Refused::internal(format!(
                "ExecutablePath {executable_path:?} must end in .exe, .cmd or .bat for {}",
                runtime.as_str()
            )));
        }
    }
    Ok(path)
}

/// What an UBUNTU executable must start with: an ELF binary or a `#!` script.
pub fn launchable(runtime: RuntimeEnvironmentType, head: &[u8], path: &str) -> Result<(), Refused> {
    if runtime != RuntimeEnvironmentType::Ubuntu || head.starts_with(b"\x7fELF") || head.starts_with(b"#!") {
        return Ok(());
    }
    Err(Refused::internal(format!(
        "ExecutablePath {path:?} is neither an ELF binary nor a script starting with #!"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, size: u64) -> Entry {
        Entry {
            path: path.into(),
            size,
        }
    }

    #[test]
    fn sources_name_a_bucket_and_a_folder() {
        assert_eq!(source("s3://b/game"), Some(("b", "game/".into())));
        assert_eq!(source("s3://b/game/"), Some(("b", "game/".into())));
        assert_eq!(source("s3://b//a/b//"), Some(("b", "a/b/".into())));
        assert_eq!(source("s3://b"), Some(("b", String::new())));
        assert_eq!(source("s3://b/"), Some(("b", String::new())));
        assert_eq!(source("https://b/x"), None);
    }

    #[test]
    fn executable_paths_stay_inside_the_build() {
        assert_eq!(inside("run.sh").as_deref(), Some("run.sh"));
        assert_eq!(inside("./bin//game").as_deref(), Some("bin/game"));
        assert_eq!(inside("bin/../run.sh").as_deref(), Some("run.sh"));
        assert_eq!(inside("Game\\Game.exe").as_deref(), Some("Game/Game.exe"));
        for out in ["/usr/bin/game", "../game", "bin/../../game", "", ".", "a/.."] {
            assert_eq!(inside(out), None, "{out}");
        }
    }

    #[test]
    fn the_executable_is_a_file_of_the_build_the_runtime_launches() {
        let files = [e("run.sh", 10), e("bin/game", 100), e("Game/Game.exe", 5)];
        use RuntimeEnvironmentType::*;
        assert_eq!(executable(Ubuntu, "./run.sh", &files).unwrap(), "run.sh");
        assert_eq!(executable(Proton, "Game/Game.exe", &files).unwrap(), "Game/Game.exe");
        let refused = |rt, p: &str| executable(rt, p, &files).unwrap_err().message;
        assert!(refused(Ubuntu, "missing").contains("is not in the build"));
        assert!(refused(Ubuntu, "bin").contains("is a folder"));
        assert!(refused(Ubuntu, "../run.sh").contains("not a path inside"));
        assert!(refused(Windows, "run.sh").contains(".exe, .cmd or .bat"));
        assert!(launchable(Ubuntu, b"\x7fELF\x02\x01", "bin/game").is_ok());
        assert!(launchable(Ubuntu, b"#!/bin/sh\n", "run.sh").is_ok());
        assert!(launchable(Ubuntu, b"echo hi", "run.sh").is_err());
        assert!(launchable(Proton, b"MZ", "Game/Game.exe").is_ok());
    }

    #[test]
    fn the_limits_hold() {
        let limits = Limits {
            files: 2,
            file_bytes: 10,
            total_bytes: 15,
        };
        assert!(check_listing(&[e("a", 10), e("b", 5)], &limits).is_ok());
        assert!(check_listing(&[e("a", 1), e("b", 1), e("c", 1)], &limits).is_err());
        assert!(check_listing(&[e("a", 11)], &limits).is_err());
        assert!(check_listing(&[e("a", 10), e("b", 6)], &limits).is_err());
        let d = Limits::default();
        assert_eq!((d.files, d.file_bytes, d.total_bytes), (30_000, 80 << 30, 100 << 30));
    }
}
