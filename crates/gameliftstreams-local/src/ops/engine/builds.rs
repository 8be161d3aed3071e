//! Application builds: the snapshot of each application's `ApplicationSourceUri` taken into
//! the data dir while the application is INITIALIZED/PROCESSING. CreateApplication records
//! a pending build; the [`BuildWorker`], on a thread of its own and outside any transaction,
//! lists the source (the local S3 root `<s3 root>/<bucket>/<prefix>/`, or the S3 endpoint),
//! checks it against the rules of `domain::builds`, copies it to `<builds root>/<app id>/`
//! and records what it came to. The application's READY timer decides by that record, or,
//! falling due while the snapshot is still being taken, leaves the application for the
//! worker to finish. Snapshots of deleted applications are removed by the same worker.

use super::s3::S3Sink;
use crate::domain::builds::{self, Entry, Limits, Refused};
use crate::domain::lifecycle::{self, BuildOutcome};
use crate::domain::ApiError;
use crate::ops::Settings;
use crate::store::{BuildRow, BuildState, Store};
use gls_model::{ApplicationStatusReason, GetApplicationOutput, RuntimeEnvironmentType, Timestamp};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Folders a build may nest (a link loop ends here).
const MAX_DEPTH: usize = 64;

/// What the READY step makes of a stored build.
pub fn outcome(row: &BuildRow, settings: &Settings) -> Option<BuildOutcome> {
    match row.state {
        BuildState::Ready => Some(BuildOutcome::Ready),
        BuildState::Missing => Some(BuildOutcome::Missing {
            required: settings.builds_required,
        }),
        BuildState::Failed => Some(BuildOutcome::Failed(match row.reason.as_deref() {
            Some("accessDenied") => ApplicationStatusReason::AccessDenied,
            _ => ApplicationStatusReason::InternalError,
        })),
        BuildState::Pending | BuildState::Deleted => None,
    }
}

/// Where a build's snapshot lives.
pub fn snapshot_dir(settings: &Settings, app_id: &str) -> PathBuf {
    settings.builds_root.join(app_id)
}

/// The folder of the local S3 root that `uri` names (no S3 endpoint configured).
fn local_source(settings: &Settings, uri: &str) -> Option<PathBuf> {
    let (bucket, prefix) = builds::source(uri)?;
    Some(settings.s3_root.join(bucket).join(prefix.trim_end_matches('/')))
}

/// Record a new application's build in its CreateApplication transaction. A source in the
/// local S3 root that is not there is known at once (one `stat`): the build is missing and
/// the application goes on as before builds were read. Anything else is the worker's.
pub fn add(env: super::Env<'_>, app_id: &str, uri: &str) -> Result<(), ApiError> {
    env.tx.builds().add(env.part, app_id)?;
    if env.settings.s3.is_none() {
        if let Some(dir) = local_source(env.settings, uri).filter(|d| !d.is_dir()) {
            let message = format!("no build at {uri}: {} is not a folder", dir.display());
            log_missing(env.settings, app_id, uri, &message);
            env.tx
                .builds()
                .set(env.part, app_id, BuildState::Missing, None, Some(&message))?;
            return Ok(());
        }
    }
    env.builds.queued();
    Ok(())
}

fn log_missing(settings: &Settings, app_id: &str, uri: &str, message: &str) {
    let then = if settings.builds_required {
        "the application ends in ERROR (--app-builds required)"
    } else {
        "its sessions stream the test card"
    };
    tracing::warn!(app = %app_id, uri, "application build missing, {then}: {message}");
}

/// What taking a snapshot came to.
#[derive(Debug)]
enum Taken {
    /// On disk, every rule kept.
    Ready(String),
    /// Nothing at the source.
    Missing(String),
}

/// The files of a local build folder, following links, in a stable order.
fn list_local(root: &Path, limits: &Limits) -> Result<Vec<(Entry, PathBuf)>, Refused> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(refused(format!(
                "{} nests folders deeper than {MAX_DEPTH}",
                dir.display()
            )));
        }
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| unreadable(&dir, e))?
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let name = name.to_string_lossy();
            let inner = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            let meta = std::fs::metadata(&path).map_err(|e| unreadable(&path, e))?;
            if meta.is_dir() {
                stack.push((path, inner, depth + 1));
            } else if meta.is_file() {
                out.push((
                    Entry {
                        path: inner,
                        size: meta.len(),
                    },
                    path,
                ));
                if out.len() > limits.files {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

fn refused(message: String) -> Refused {
    Refused {
        reason: ApplicationStatusReason::InternalError,
        message,
    }
}

fn unreadable(path: &Path, e: std::io::Error) -> Refused {
    Refused {
        reason: ApplicationStatusReason::AccessDenied,
        message: format!("{} cannot be read: {e}", path.display()),
    }
}

fn io(path: &Path, e: std::io::Error) -> Refused {
    refused(format!("{}: {e}", path.display()))
}

/// Take the snapshot of `app`'s build into `dest` (a folder that does not exist yet).
fn take(settings: &Settings, app: &GetApplicationOutput, dest: &Path) -> Result<Taken, Refused> {
    let uri = app.application_source_uri.as_deref().unwrap_or_default();
    let Some((bucket, prefix)) = builds::source(uri) else {
        return Ok(Taken::Missing(format!("{uri} is not an s3:// URI")));
    };
    let runtime = app.runtime_environment.as_ref().map(|r| r.type_).unwrap_or_default();
    let exec_path = app.executable_path.as_deref().unwrap_or_default();
    let limits = Limits::default();
    let files: Vec<(Entry, Origin<'_>)> = match &settings.s3 {
        None => {
            let root = local_source(settings, uri).unwrap_or_default();
            if !root.is_dir() {
                return Ok(Taken::Missing(format!(
                    "no build at {uri}: {} is not a folder",
                    root.display()
                )));
            }
            list_local(&root, &limits)?
                .into_iter()
                .map(|(e, path)| (e, Origin::File(path)))
                .collect()
        }
        Some(s3) => match list_s3(s3, bucket, &prefix, uri, &limits)? {
            Some(files) => files,
            None => return Ok(Taken::Missing(format!("no build at {uri}: no objects under it"))),
        },
    };
    let entries: Vec<Entry> = files.iter().map(|(e, _)| e.clone()).collect();
    builds::check_listing(&entries, &limits)?;
    let exec = builds::executable(runtime, exec_path, &entries)?;
    for (entry, from) in &files {
        let to = dest.join(&entry.path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        match from {
            Origin::File(path) => {
                std::fs::copy(path, &to).map_err(|e| unreadable(path, e))?;
            }
            Origin::Key(s3, key) => s3.download(bucket, key, &to).map_err(|e| Refused {
                reason: ApplicationStatusReason::AccessDenied,
                message: format!("s3://{bucket}/{key} cannot be read: {e}"),
            })?,
        }
    }
    let path = dest.join(&exec);
    let mut head = [0u8; 4];
    let n = std::fs::File::open(&path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| io(&path, e))?;
    builds::launchable(runtime, &head[..n], exec_path)?;
    if runtime == RuntimeEnvironmentType::Ubuntu {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).map_err(|e| io(&path, e))?.permissions().mode();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o755)).map_err(|e| io(&path, e))?;
    }
    read_only(dest).map_err(|e| io(dest, e))?;
    Ok(Taken::Ready(format!("snapshot of {uri}")))
}

/// Take the write bits off the snapshot's files: sessions hard-link the big ones, and a
/// program that is not root cannot rewrite them in place.
fn read_only(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            read_only(&entry.path())?;
        } else {
            let mode = meta.permissions().mode() & !0o222;
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// Where a build's file is read from.
enum Origin<'a> {
    /// A file of the local build folder.
    File(PathBuf),
    /// An object's key in the build's bucket at the S3 endpoint.
    Key(&'a S3Sink, String),
}

/// The objects under the build's prefix at the S3 endpoint: `None` when nothing is there.
fn list_s3<'a>(
    s3: &'a S3Sink,
    bucket: &str,
    prefix: &str,
    uri: &str,
    limits: &Limits,
) -> Result<Option<Vec<(Entry, Origin<'a>)>>, Refused> {
    let listed = match s3.list(bucket, prefix, limits.files) {
        Ok(l) => l,
        Err(e) if e.code.as_deref() == Some("NoSuchBucket") => return Ok(None),
        Err(e) => {
            return Err(Refused {
                reason: ApplicationStatusReason::AccessDenied,
                message: format!("{uri} cannot be listed: {e}"),
            })
        }
    };
    let mut files = Vec::new();
    for (key, size) in listed {
        let Some(rel) = key.strip_prefix(prefix).filter(|r| !r.is_empty() && !r.ends_with('/')) else {
            continue;
        };
        // A key that would leave the snapshot (`..`, an absolute path) is not copied.
        let Some(path) = builds::inside(rel).filter(|p| p == rel) else {
            return Err(refused(format!("{uri} holds {key:?}, which cannot be stored safely")));
        };
        files.push((Entry { path, size }, Origin::Key(s3, key)));
    }
    Ok((!files.is_empty()).then_some(files))
}

/// Takes pending snapshots and removes deleted ones, outside any transaction, on a thread of
/// its own that waits on its [`Waiter`].
pub struct BuildWorker {
    wanted: Arc<(Mutex<Wanted>, Condvar)>,
    queued: AtomicBool,
    sweep: AtomicBool,
}

impl Default for BuildWorker {
    fn default() -> Self {
        BuildWorker {
            wanted: Arc::new((
                Mutex::new(Wanted {
                    work: true,
                    running: false,
                    retry: false,
                }),
                Condvar::new(),
            )),
            queued: AtomicBool::new(false),
            sweep: AtomicBool::new(true),
        }
    }
}

impl BuildWorker {
    /// A build was queued, or an application deleted, in a transaction not yet committed:
    /// the worker is woken once it is ([`BuildWorker::committed`]).
    pub fn queued(&self) {
        self.queued.store(true, Ordering::SeqCst);
    }

    /// A write committed: wake the worker if it queued work.
    pub fn committed(&self) {
        if self.queued.swap(false, Ordering::SeqCst) {
            self.wake();
        }
    }

    fn wake(&self) {
        let (lock, cv) = &*self.wanted;
        lock.lock().unwrap_or_else(|p| p.into_inner()).work = true;
        cv.notify_all();
    }

    /// Wait (at most `limit`) until the worker has nothing left that was asked of it before
    /// this call: a clock advance lets a snapshot of a few seconds finish before the READY
    /// timers it fires look at it, so a frozen-clock test sees READY at once.
    pub fn settle(&self, limit: Duration) {
        let (lock, cv) = &*self.wanted;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let _ = cv.wait_timeout_while(guard, limit, |w| w.work || w.running);
    }

    /// The store was emptied: snapshots no row claims are removed on the next run.
    pub fn swept(&self) {
        self.sweep.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// What the worker's thread waits on.
    pub fn waiter(&self) -> Waiter {
        Waiter(self.wanted.clone())
    }

    /// Take every pending snapshot and remove every deleted one; `now` is the service time
    /// the applications it finishes change at. A failure to reach the store leaves the work
    /// for a retry a second later (true). Only the worker's thread calls it.
    pub fn run(&self, store: &dyn Store, settings: &Settings, now: &dyn Fn() -> Timestamp) -> bool {
        if self.sweep.swap(false, Ordering::SeqCst) {
            if let Err(e) = sweep(store, settings) {
                tracing::warn!(error = %e, "builds: leftover snapshots could not be removed");
            }
        }
        for _ in 0..1000 {
            let rows = match store.read(|tx| tx.builds().todo(8)) {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "builds: queue unreadable; will retry");
                    return true;
                }
            };
            if rows.is_empty() {
                return false;
            }
            for row in rows {
                if let Err(e) = self.one(store, settings, &row, now) {
                    tracing::error!(app = %row.app, error = %e, "builds: could not record a build; will retry");
                    return true;
                }
            }
        }
        true
    }

    fn one(
        &self,
        store: &dyn Store,
        settings: &Settings,
        row: &BuildRow,
        now: &dyn Fn() -> Timestamp,
    ) -> Result<(), ApiError> {
        let dir = snapshot_dir(settings, &row.app);
        if row.state == BuildState::Deleted {
            remove_dir(&dir);
            return store.write(|tx| Ok(tx.builds().remove(row.part, &row.app)?));
        }
        let Some(app) = store.read(|tx| tx.applications().get(row.part, &row.app))? else {
            return store.write(|tx| Ok(tx.builds().remove(row.part, &row.app)?));
        };
        let partial = settings.builds_root.join(format!(".{}.partial", row.app));
        remove_dir(&partial);
        remove_dir(&dir);
        let taken = std::fs::create_dir_all(&partial)
            .map_err(|e| io(&partial, e))
            .and_then(|()| take(settings, &app, &partial))
            .and_then(|t| {
                if matches!(t, Taken::Ready(_)) {
                    std::fs::rename(&partial, &dir).map_err(|e| io(&dir, e))?;
                }
                Ok(t)
            });
        remove_dir(&partial);
        let uri = app.application_source_uri.as_deref().unwrap_or_default();
        let (state, reason, message) = match &taken {
            Ok(Taken::Ready(m)) => {
                tracing::info!(app = %row.app, build = %m, "application build snapshotted");
                (BuildState::Ready, None, m.clone())
            }
            Ok(Taken::Missing(m)) => {
                log_missing(settings, &row.app, uri, m);
                (BuildState::Missing, None, m.clone())
            }
            Err(r) => {
                tracing::warn!(app = %row.app, uri, reason = r.reason.as_str(), "application build refused: {}", r.message);
                (BuildState::Failed, Some(r.reason.as_str()), r.message.clone())
            }
        };
        let recorded = store.write(|tx| {
            if !tx.builds().set(row.part, &row.app, state, reason, Some(&message))? {
                return Ok::<_, ApiError>(false);
            }
            let Some(b) = tx.builds().get(row.part, &row.app)? else {
                return Ok(false);
            };
            if let (true, Some(result)) = (b.awaiting, outcome(&b, settings)) {
                if let Some(mut app) = tx.applications().get(row.part, &row.app)? {
                    if lifecycle::app_built(&mut app, now(), result) {
                        tx.applications().update(row.part, &row.app, &app)?;
                    }
                }
            }
            Ok(true)
        })?;
        if !recorded {
            // The application went (or the store was reset) meanwhile: nothing claims it.
            remove_dir(&dir);
        }
        Ok(())
    }
}

/// What the worker's thread was asked for, whether it is at it, and whether its last run
/// left work to retry.
struct Wanted {
    work: bool,
    running: bool,
    retry: bool,
}

/// Blocks the worker's thread until there is work, or a second has passed.
pub struct Waiter(Arc<(Mutex<Wanted>, Condvar)>);

impl Waiter {
    /// Wait (at most a second) for work; if there is some, or the last run left some to
    /// retry, run `f` (which says whether it left work again) and then say the worker is
    /// idle. The store is not read while nothing was asked for.
    pub fn serve(&self, f: impl FnOnce() -> bool) {
        let (lock, cv) = &*self.0;
        {
            let mut want = lock.lock().unwrap_or_else(|p| p.into_inner());
            if !want.work {
                want = cv
                    .wait_timeout(want, Duration::from_secs(1))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            if !(want.work || want.retry) {
                return;
            }
            want.work = false;
            want.retry = false;
            want.running = true;
        }
        let retry = f();
        let mut want = lock.lock().unwrap_or_else(|p| p.into_inner());
        want.running = false;
        want.retry = retry;
        drop(want);
        cv.notify_all();
    }
}

fn remove_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "builds: a snapshot could not be removed");
        }
    }
}

/// Remove the snapshots that no build row claims (after a reset, or a crash mid-copy).
fn sweep(store: &dyn Store, settings: &Settings) -> Result<(), ApiError> {
    let Ok(entries) = std::fs::read_dir(&settings.builds_root) else {
        return Ok(());
    };
    let claimed: std::collections::HashSet<String> = store.read(|tx| tx.builds().all_apps())?.into_iter().collect();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !claimed.contains(&name) {
            remove_dir(&entry.path());
        }
    }
    Ok(())
}
