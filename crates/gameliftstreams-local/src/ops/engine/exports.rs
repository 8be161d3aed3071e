//! Session file exports through an outbox. When a session with a pending export ends, the
//! outcome is decided in the same transaction where that needs no I/O (an injected failure,
//! an ERROR, no client ever connected); otherwise an export job is recorded there. The
//! [`ExportWorker`] then writes the archive (session metadata, application logs, performance
//! stats, as a ZIP) to the OutputUri, which maps `s3://bucket/key` to `<s3 root>/bucket/key`
//! or is uploaded to a configured S3 endpoint, outside any transaction, and records
//! SUCCEEDED or FAILED in a short one. A crash in between leaves the job to be done again:
//! the archive is a function of the session and its end time, so a retry rewrites the same
//! bytes to the same place.

use super::apps::SessionDirs;
use super::Env;
use crate::domain::catalog;
use crate::domain::lifecycle::{export_outcome, ExportOutcome};
use crate::domain::ApiError;
use crate::ops::Settings;
use crate::store::{ExportJob, SessionRow, Store};
use gls_model::{ExportFilesStatus, GetApplicationOutput, Timestamp};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The file an `s3://bucket/key` URI maps to under the local S3 root `root` (a folder per
/// bucket), or why it cannot.
pub fn local_path(root: &Path, uri: &str) -> Result<PathBuf, String> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{uri} is not an s3:// URI"))?;
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| format!("{uri} names no object key"))?;
    if !catalog::is_bucket_name(bucket) {
        return Err(format!("bucket name {bucket:?} is not valid"));
    }
    let mut path = root.join(bucket);
    for seg in key.split('/') {
        let bad =
            seg.is_empty() || seg == "." || seg == ".." || seg.chars().any(|c| c.is_control() || c == '\\' || c == ':');
        if bad {
            return Err(format!("object key {key:?} cannot be stored safely"));
        }
        path.push(seg);
    }
    Ok(path)
}

/// Store `bytes` at `uri`: under the local S3 root, or on the S3 endpoint.
pub fn put_object(settings: &Settings, uri: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), String> {
    match &settings.s3 {
        Some(sink) => sink.put(uri, bytes, content_type),
        None => write_file(&local_path(&settings.s3_root, uri)?, &bytes),
    }
}

/// A file of an archive bigger than this is left out (and named in `skipped.txt`).
const ARCHIVE_FILE_LIMIT: u64 = 64 << 20;

/// The files under `dir` (recursively, following no links), as (path inside, path on disk),
/// those modified after `since` only when it is given, in a stable order.
fn files_under(dir: &Path, since: Option<std::time::SystemTime>) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new(), 0)];
    while let Some((d, rel, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let inner = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.is_dir() && depth < 64 {
                stack.push((e.path(), inner, depth + 1));
            } else if meta.is_file() && since.is_none_or(|s| meta.modified().is_ok_and(|m| m > s)) {
                out.push((inner, e.path()));
            }
        }
    }
    out.sort();
    out
}

fn archive(
    session: &SessionRow,
    app: Option<&GetApplicationOutput>,
    now: Timestamp,
    host_dir: Option<&SessionDirs>,
) -> Result<Vec<u8>, String> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let err = |e: zip::result::ZipError| e.to_string();
        let io = |e: std::io::Error| e.to_string();
        let meta = serde_json::to_vec_pretty(&session.doc).map_err(|e| e.to_string())?;
        zip.start_file("session.json", opts).map_err(err)?;
        zip.write_all(&meta).map_err(io)?;
        // A session whose game ran: what it wrote, its output, its statistics.
        let started = host_dir
            .and_then(|d| std::fs::metadata(&d.started).ok())
            .and_then(|m| m.modified().ok());
        if let (Some(dir), Some(started)) = (host_dir, started) {
            let mut skipped = Vec::new();
            let parts = [
                ("application", &dir.app, Some(started)),
                ("profile", &dir.home, None),
                ("temp", &dir.tmp, None),
            ];
            for (folder, local, since) in parts {
                zip.add_directory(format!("{folder}/"), opts).map_err(err)?;
                for (inner, path) in files_under(local, since) {
                    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    if size > ARCHIVE_FILE_LIMIT {
                        skipped.push(format!("{folder}/{inner} ({size} bytes)"));
                        continue;
                    }
                    let bytes = std::fs::read(&path).map_err(io)?;
                    zip.start_file(format!("{folder}/{inner}"), opts).map_err(err)?;
                    zip.write_all(&bytes).map_err(io)?;
                }
            }
            for (name, file) in [
                ("application-output.log", &dir.app_log),
                ("performance-stats.csv", &dir.stats),
            ] {
                if let Ok(bytes) = std::fs::read(file) {
                    zip.start_file(name, opts).map_err(err)?;
                    zip.write_all(&bytes).map_err(io)?;
                }
            }
            if !skipped.is_empty() {
                zip.start_file("skipped.txt", opts).map_err(err)?;
                writeln!(
                    zip,
                    "Files over {ARCHIVE_FILE_LIMIT} bytes, left out:\n{}",
                    skipped.join("\n")
                )
                .map_err(io)?;
            }
            zip.finish().map_err(err)?;
            return Ok(buf.into_inner());
        }
        zip.add_directory("profile/", opts).map_err(err)?;
        zip.add_directory("temp/", opts).map_err(err)?;
        let paths = app.and_then(|a| a.application_log_paths.clone()).unwrap_or_default();
        let names: Vec<String> = if paths.is_empty() {
            vec!["game.log".into()]
        } else {
            paths
        };
        for (i, p) in names.iter().enumerate() {
            let base = p
                .trim_end_matches(['/', '\\'])
                .rsplit(['/', '\\'])
                .next()
                .filter(|b| !b.is_empty())
                .unwrap_or("log");
            zip.start_file(format!("application/{i:02}-{base}.log"), opts)
                .map_err(err)?;
            writeln!(zip, "gameliftstreams-local application log for {p}").map_err(io)?;
            writeln!(
                zip,
                "session {} started {:?}",
                session.id,
                session.doc.created_at.map(|t| t.millis())
            )
            .map_err(io)?;
            if let Some(code) = session.internal.exit_code {
                writeln!(zip, "application exited with code {code}").map_err(io)?;
            }
            writeln!(zip, "session ended at {}", now.millis()).map_err(io)?;
        }
        zip.start_file("performance-stats.csv", opts).map_err(err)?;
        writeln!(zip, "timestamp,cpu_percent,gpu_percent,memory_mb,fps,round_trip_ms").map_err(io)?;
        let start = session
            .doc
            .streaming_started_at
            .or(session.doc.application_started_at)
            .unwrap_or(now)
            .millis();
        let mut t = start;
        let mut i = 0u64;
        while t <= now.millis() && i < 360 {
            writeln!(
                zip,
                "{:.3},{},{},{},{},{}",
                t as f64 / 1000.0,
                35 + i % 20,
                60 + i % 30,
                4096 + i % 512,
                60 - i % 3,
                18 + i % 7
            )
            .map_err(io)?;
            t += 10_000;
            i += 1;
        }
        zip.finish().map_err(err)?;
    }
    Ok(buf.into_inner())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().ok_or("no parent directory")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("partial");
    let mut f = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
    f.write_all(bytes).map_err(|e| e.to_string())?;
    f.sync_all().map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

/// The session has ended: decide its pending export where no I/O is needed, else queue the
/// archive for the worker.
pub fn finish(env: Env<'_>, row: &mut SessionRow) -> Result<(), ApiError> {
    let outcome = export_outcome(&row.doc, &row.internal, (&row.app_id, &row.group_id, &row.id), env.now);
    match outcome {
        None => {}
        Some(ExportOutcome::Archive(uri)) => {
            env.tx.exports().add(env.part, &row.id, &uri, env.now.millis())?;
            env.exports.queued();
        }
        Some(ExportOutcome::Failed(reason)) => record(row, Err(reason), ""),
    }
    Ok(())
}

/// Put the outcome of an export on the session.
fn record(row: &mut SessionRow, outcome: Result<(), String>, uri: &str) {
    let meta = row.doc.export_files_metadata.get_or_insert_with(Default::default);
    match outcome {
        Ok(()) => {
            meta.status = Some(ExportFilesStatus::Succeeded);
            meta.output_uri = Some(uri.to_string());
            meta.status_reason = None;
        }
        Err(reason) => {
            meta.status = Some(ExportFilesStatus::Failed);
            meta.status_reason = Some(reason.chars().take(1024).collect());
        }
    }
}

/// Where the crash tests ask the worker to stop the process (the hidden `serve --failpoint`):
/// right before writing an archive, or right after writing it and before recording it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failpoint {
    /// Abort before the archive is written.
    BeforeArchive,
    /// Abort after the archive is written, before SUCCEEDED is recorded.
    AfterArchive,
}

/// Writes queued export archives, one job at a time, outside any store transaction.
pub struct ExportWorker {
    maybe_pending: AtomicBool,
    running: Mutex<()>,
    failpoint: Option<Failpoint>,
}

impl Default for ExportWorker {
    fn default() -> Self {
        ExportWorker::new(None)
    }
}

impl ExportWorker {
    /// A worker; jobs left from before a restart are looked for on its first run.
    pub fn new(failpoint: Option<Failpoint>) -> Self {
        ExportWorker {
            maybe_pending: AtomicBool::new(true),
            running: Mutex::new(()),
            failpoint,
        }
    }

    /// A job was queued (its transaction may still roll back: then the worker finds nothing).
    pub fn queued(&self) {
        self.maybe_pending.store(true, Ordering::SeqCst);
    }

    /// How many jobs wait.
    pub fn pending(&self, store: &dyn Store) -> Result<usize, ApiError> {
        Ok(store.read(|tx| tx.exports().count())?.max(0) as usize)
    }

    /// Write every queued archive. Cheap when nothing was queued; a failure to reach the
    /// store leaves the jobs for the next run. The lock is taken first: a caller whose job
    /// another thread already took waits for that thread to write it, so a request that
    /// queued a job answers only once its archive is written.
    pub fn run(&self, store: &dyn Store, settings: &Settings) {
        let _one_at_a_time = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if !self.maybe_pending.load(Ordering::SeqCst) {
            return;
        }
        loop {
            self.maybe_pending.store(false, Ordering::SeqCst);
            let jobs = match store.read(|tx| tx.exports().pending(16)) {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::error!(error = %e, "export outbox unreadable; will retry");
                    self.queued();
                    return;
                }
            };
            if jobs.is_empty() {
                return;
            }
            for job in jobs {
                if let Err(e) = self.run_job(store, settings, &job) {
                    tracing::error!(session = %job.session, uri = %job.uri, error = %e, "export job failed; will retry");
                    self.queued();
                    return;
                }
            }
        }
    }

    fn run_job(&self, store: &dyn Store, settings: &Settings, job: &ExportJob) -> Result<(), ApiError> {
        let found = store.read(|tx| {
            let Some(row) = tx.sessions().get(job.part, &job.session)? else {
                return Ok::<_, ApiError>(None);
            };
            let app = tx.applications().get(job.part, &row.app_id)?;
            Ok(Some((row, app)))
        })?;
        let Some((row, app)) = found else {
            store.write(|tx| tx.exports().done(job.seq))?;
            return Ok(());
        };
        if self.failpoint == Some(Failpoint::BeforeArchive) {
            std::process::abort();
        }
        let outcome = write_archive(settings, &row, app.as_ref(), job)
            .map_err(|e| format!("The files could not be written to {}: {e}", job.uri));
        if self.failpoint == Some(Failpoint::AfterArchive) {
            std::process::abort();
        }
        store.write(|tx| {
            if !tx.exports().done(job.seq)? {
                return Ok::<_, ApiError>(());
            }
            let Some(mut row) = tx.sessions().get(job.part, &job.session)? else {
                return Ok(());
            };
            record(&mut row, outcome, &job.uri);
            tx.sessions().update(job.part, &row)?;
            Ok(())
        })
    }
}

fn write_archive(
    settings: &Settings,
    row: &SessionRow,
    app: Option<&GetApplicationOutput>,
    job: &ExportJob,
) -> Result<(), String> {
    let host_dir = settings.host_root.as_ref().map(|r| SessionDirs::of(r, &row.id));
    let bytes = archive(row, app, Timestamp(job.ended_at), host_dir.as_ref())?;
    put_object(settings, &job.uri, bytes, "application/zip")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_map_under_the_root_and_never_escape_it() {
        let root = Path::new("/data");
        assert_eq!(
            local_path(root, "s3://my-bucket/a/b.zip").unwrap(),
            Path::new("/data/my-bucket/a/b.zip")
        );
        for bad in [
            "s3://my-bucket/../x.zip",
            "s3://my-bucket/a/../../x.zip",
            "s3://my-bucket//etc/passwd.zip",
            "s3://my-bucket/a\\..\\b.zip",
            "s3://../x.zip",
            "s3://my-bucket/a\u{0}.zip",
            "s3://My_Bucket/x.zip",
            "s3://bucket",
            "http://bucket/x.zip",
        ] {
            assert!(local_path(root, bad).is_err(), "{bad}");
        }
    }
}
