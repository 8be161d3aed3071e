//! The layering rules of `src/`, checked on the source text: `domain/` (and `clock`) use no
//! layer below them, `store/` uses no `ops` and no `server`, `ops/` uses no `server` and no
//! `host`, `host/` and `stream/` use neither each other nor `server`,
//! nothing outside `store/` names `rusqlite`, engine modules never use `ops::api`, and an
//! `ops/api/` module never uses another api module. Also: the workspace's one exception to its
//! `unsafe_code` lint stays the one it is.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The api modules (file stems under `ops/api/`, but for `mod`).
fn api_modules(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src.join("ops/api"), &mut files);
    files
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|s| s != "mod")
        .collect()
}

/// Check one file, named by its path relative to `src/` (with `/`), against the rules: one
/// `file:line: rule` per broken rule.
fn check(rel: &str, text: &str, api: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let in_dir = |d: &str| rel.starts_with(d);
    let api_self = rel
        .strip_prefix("ops/api/")
        .and_then(|f| f.strip_suffix(".rs"))
        .filter(|s| *s != "mod");
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut flag = |rule: &str| out.push(format!("{rel}:{}: {rule}", i + 1));
        let names_server = code.contains("crate::server") || code.contains("gameliftstreams_local::server");
        if (in_dir("domain/") || in_dir("store/") || in_dir("ops/") || rel == "clock.rs") && names_server {
            flag("domain, store and ops must not use the server layer");
        }
        // The host (applications, displays, processes) and the streams (WebRTC) sit beside each
        // other over `ops`: nothing below uses them, and neither uses the other or the server.
        let names =
            |layer: &str| code.contains(&format!("crate::{layer}")) || code.contains(&format!("super::{layer}"));
        if (in_dir("domain/") || in_dir("store/") || in_dir("ops/") || rel == "clock.rs") && names("host") {
            flag("domain, store and ops must not use the host layer");
        }
        if in_dir("host/") && (names("stream") || names_server) {
            flag("the host must not use the stream or server layers");
        }
        if in_dir("stream/") && names("host") {
            flag("the stream layer must not use the host layer");
        }
        if (in_dir("domain/") || rel == "clock.rs") && (code.contains("crate::store") || code.contains("crate::ops")) {
            flag("domain must not use store or ops");
        }
        if in_dir("store/") && code.contains("crate::ops") {
            flag("store must not use ops");
        }
        if !in_dir("store/") && code.contains("rusqlite") {
            flag("only store/ may name rusqlite");
        }
        if in_dir("ops/engine/") && (code.contains("ops::api") || code.contains("super::api")) {
            flag("the engine must not use ops::api");
        }
        if let Some(me) = api_self {
            for other in api.iter().filter(|o| o.as_str() != me) {
                let sibling = [
                    format!("api::{other}"),
                    format!("super::{other}"),
                    format!("super::{{{other}"),
                    format!(", {other}}}"),
                ];
                if code.contains("use super::") && sibling.iter().any(|s| code.contains(s.as_str()))
                    || code.contains(&format!("ops::api::{other}"))
                    || code.contains(&format!("super::{other}::"))
                {
                    flag("an api module must not use another api module");
                }
            }
        }
    }
    out
}

#[test]
fn the_layers_only_use_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let api = api_modules(&src);
    assert!(api.len() >= 7, "api modules: {api:?}");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        violations.extend(check(&rel, &std::fs::read_to_string(f).unwrap(), &api));
    }
    assert!(files.len() > 40, "{} files", files.len());
    assert!(violations.is_empty(), "layering violations: {violations:#?}");
}

/// The workspace denies `unsafe_code`; one function may allow it (mapping the capture segment,
/// argued where it is). Any other `allow` of it, in any crate, fails here.
#[test]
fn unsafe_code_is_allowed_in_one_place_only() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap() {
        let krate = krate.unwrap().path();
        for dir in ["src", "tests", "examples", "benches"] {
            if krate.join(dir).is_dir() {
                rust_files(&krate.join(dir), &mut files);
            }
        }
    }
    assert!(files.len() > 60, "{} files", files.len());
    // (Spelled in two parts, so that this file does not name it.)
    let needles = [
        ["allow(", "unsafe_code)"].concat(),
        ["expect(", "unsafe_code)"].concat(),
    ];
    let allowed: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let rel = f.strip_prefix(&crates).unwrap().to_string_lossy().replace('\\', "/");
            text.lines()
                .filter(|l| {
                    needles
                        .iter()
                        .any(|n| l.split("//").next().unwrap_or("").contains(n.as_str()))
                })
                .map(|_| rel.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        allowed,
        ["gameliftstreams-local/src/host/screen.rs"],
        "where unsafe code is allowed"
    );
    let screen = std::fs::read_to_string(crates.join("gameliftstreams-local/src/host/screen.rs")).unwrap();
    assert_eq!(
        screen.matches("unsafe {").count(),
        1,
        "one unsafe block in host/screen.rs"
    );
}

#[test]
fn the_checker_finds_each_kind_of_violation() {
    let api = vec!["groups".to_string(), "sessions".to_string()];
    let cases = [
        ("domain/x.rs", "use crate::server::AppState;"),
        ("store/x.rs", "use crate::server::sigv4;"),
        ("ops/engine/x.rs", "use crate::server::throttle::Throttle;"),
        ("domain/x.rs", "use crate::store::Tx;"),
        ("store/x.rs", "use crate::ops::Ctx;"),
        ("ops/engine/x.rs", "use rusqlite::Connection;"),
        ("seed.rs", "fn f(t: &rusqlite::Transaction<'_>) {}"),
        ("ops/engine/x.rs", "use crate::ops::api::groups;"),
        ("ops/api/sessions.rs", "use crate::ops::api::groups;"),
        ("ops/api/sessions.rs", "use super::groups;"),
        ("ops/api/sessions.rs", "use super::{applications, groups};"),
        ("ops/api/sessions.rs", "    let g = super::groups::load(ctx);"),
    ];
    for (file, line) in cases {
        assert_eq!(check(file, line, &api).len(), 1, "{file}: {line}");
    }
    let fine = [
        ("store/sqlite.rs", "use rusqlite::Connection;"),
        ("ops/api/sessions.rs", "use crate::ops::engine::{self, resources};"),
        ("ops/api/sessions.rs", "use crate::domain::session::{self, Event};"),
        ("server/mod.rs", "use crate::ops::Service;"),
        ("ops/api/groups.rs", "// not code: crate::server"),
    ];
    for (file, line) in fine {
        assert!(check(file, line, &api).is_empty(), "{file}: {line}");
    }
}
