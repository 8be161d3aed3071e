//! What the `/_local/` admin API does, as [`Service`] methods: client and application events,
//! injected faults, the stream URL page that stands in for an end user's browser, and the
//! dashboard's partitions and session counts.
//! Resources are named by ID or ARN in any partition; with `owner` (strict mode's signed
//! caller) only in the caller's own.

use crate::domain::ids::Scope;
use crate::domain::session::{Event, Refusal};
use crate::domain::ApiError;
use crate::ops::engine::resources::{self, Kind};
use crate::ops::engine::urls::{self, Activation};
use crate::ops::engine::{self, exports, faults, signal, Env};
use crate::ops::Service;
use crate::store::SessionCounts;
use gls_model::{ExportFilesStatus, GetStreamSessionOutput, StreamSessionStatus, StreamSessionStatusReason};

/// What happened to an event sent to a session.
pub enum Outcome {
    /// Applied: the session as it is now.
    Applied(Box<GetStreamSessionOutput>),
    /// The session's status does not allow it; nothing changed.
    Refused(Refusal),
    /// No such session (for this caller).
    NotFound,
}

impl Service {
    fn env_in<'a>(&'a self, tx: &'a dyn crate::store::Tx, part: i64, now: gls_model::Timestamp) -> Env<'a> {
        self.parts().env(tx, part, now)
    }

    /// The injected failures still pending: (account, region, fault), only `owner`'s with one.
    pub fn pending_faults(
        &self,
        owner: Option<&Scope>,
    ) -> Result<Vec<(String, String, faults::PendingFault)>, ApiError> {
        let pending = self.faults.pending();
        // One read for the partitions that placement faults name.
        let out = self.store.read(|tx| {
            let mut out = Vec::new();
            for f in pending {
                let (account, region) = match &f {
                    faults::PendingFault::Operation { account, region, .. } => (account.clone(), region.clone()),
                    faults::PendingFault::Placement { part, .. } => match tx.partitions().scope(*part)? {
                        Some(scope) => scope,
                        None => continue,
                    },
                };
                if owner.is_none_or(|o| o.account == account && o.region == region) {
                    out.push((account, region, f));
                }
            }
            Ok::<_, crate::store::StoreError>(out)
        })?;
        Ok(out)
    }

    /// Forget the injected failures still pending: all of them, or only `owner`'s.
    pub fn clear_faults(&self, owner: Option<&Scope>) -> Result<(), ApiError> {
        match owner {
            None => self.faults.clear(),
            Some(o) => {
                let part = self.store.part(&o.account, &o.region)?;
                self.faults.clear_scope(&o.account, &o.region, part);
            }
        }
        Ok(())
    }

    /// Every (account, region) the store knows, for the dashboard's pickers.
    pub fn partitions(&self) -> Result<Vec<(String, String)>, ApiError> {
        Ok(self.store.read(|tx| tx.partitions().all())?)
    }

    /// The sessions of (account, region) by status and by export status.
    pub fn session_counts(&self, scope: &Scope) -> Result<SessionCounts, ApiError> {
        let part = self.store.part(&scope.account, &scope.region)?;
        Ok(self.store.read(|tx| tx.sessions().counts(part))?)
    }

    /// Drive a session with what a WebRTC client or the game process would cause.
    pub fn session_event(&self, owner: Option<&Scope>, ident: &str, event: Event) -> Result<Outcome, ApiError> {
        self.write_engine(|tx, now| {
            let Some((part, id)) = resources::locate(tx, Kind::Session, ident, owner)? else {
                return Ok(Outcome::NotFound);
            };
            let Some(mut row) = tx.sessions().get(part, &id)? else {
                return Ok(Outcome::NotFound);
            };
            Ok(match engine::drive(self.env_in(tx, part, now), &mut row, event)? {
                Ok(()) => Outcome::Applied(Box::new(row.doc)),
                Err(r) => Outcome::Refused(r),
            })
        })
    }

    /// Injected: the session goes to ERROR with `reason`.
    pub fn fault_session(
        &self,
        owner: Option<&Scope>,
        ident: &str,
        reason: StreamSessionStatusReason,
    ) -> Result<Outcome, ApiError> {
        self.session_event(owner, ident, Event::Fault(reason))
    }

    /// Injected: the session's pending (or next) export ends FAILED. False: no such session.
    pub fn fail_export(&self, owner: Option<&Scope>, ident: &str, reason: &str) -> Result<bool, ApiError> {
        self.write_engine(|tx, now| match resources::locate(tx, Kind::Session, ident, owner)? {
            None => Ok(false),
            Some((part, id)) => faults::fail_export(self.env_in(tx, part, now), &id, reason),
        })
    }

    /// Injected: a location of a group goes to ERROR. False: no such group or location.
    pub fn fail_location(&self, owner: Option<&Scope>, group: &str, location: &str) -> Result<bool, ApiError> {
        self.write_engine(|tx, now| match resources::locate(tx, Kind::Group, group, owner)? {
            None => Ok(false),
            Some((part, id)) => faults::fail_location(self.env_in(tx, part, now), &id, location),
        })
    }

    /// Injected: the next `count` placements in a group's location find no capacity. False:
    /// no such group.
    pub fn fail_placements(
        &self,
        owner: Option<&Scope>,
        group: &str,
        location: &str,
        count: u32,
    ) -> Result<bool, ApiError> {
        self.write_engine(|tx, _| match resources::locate(tx, Kind::Group, group, owner)? {
            None => Ok(false),
            Some((part, id)) => {
                self.faults.fail_placements(part, &id, location, count);
                Ok(true)
            }
        })
    }

    /// A session's finished export archive as written under the data dir: (file name, bytes),
    /// or why there is none to read (no such session, no SUCCEEDED export, uploaded to
    /// `--s3-endpoint`).
    pub fn export_archive(
        &self,
        owner: Option<&Scope>,
        ident: &str,
    ) -> Result<Result<(String, Vec<u8>), String>, ApiError> {
        let row = self
            .store
            .write(|tx| match resources::locate(tx, Kind::Session, ident, owner)? {
                None => Ok::<_, ApiError>(None),
                Some((part, id)) => Ok(tx.sessions().get(part, &id)?),
            })?;
        let Some(row) = row else {
            return Ok(Err("no such session".into()));
        };
        let meta = row.doc.export_files_metadata.unwrap_or_default();
        let (Some(ExportFilesStatus::Succeeded), Some(uri)) = (meta.status, meta.output_uri) else {
            return Ok(Err("the session has no SUCCEEDED export".into()));
        };
        if self.settings.s3.is_some() {
            return Ok(Err(format!("the archive was uploaded to {uri} (--s3-endpoint)")));
        }
        let path = match exports::local_path(&self.settings.s3_root, &uri) {
            Ok(p) => p,
            Err(why) => return Ok(Err(why)),
        };
        let name = uri.rsplit('/').next().unwrap_or("export.zip").to_string();
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Ok((name, bytes))),
            Err(e) => Ok(Err(format!("{}: {e}", path.display()))),
        }
    }

    /// The id of a session named by ID or ARN (for this caller), if it exists.
    pub fn locate_session(&self, owner: Option<&Scope>, ident: &str) -> Result<Option<String>, ApiError> {
        self.store
            .write(|tx| Ok(resources::locate(tx, Kind::Session, ident, owner)?.map(|(_, id)| id)))
    }

    /// The token with which a play page served to the session's owner connects (strict mode).
    pub fn play_token(&self, session_id: &str) -> String {
        self.codec.capability("play", session_id)
    }

    /// Whether `token` is the play token of this session.
    pub fn is_play_token(&self, session_id: &str, token: &str) -> bool {
        self.codec.is_capability("play", session_id, token)
    }

    /// A session's status and reason, by id (what its stream shows and follows).
    pub fn stream_view(
        &self,
        id: &str,
    ) -> Result<Option<(StreamSessionStatus, Option<StreamSessionStatusReason>)>, ApiError> {
        self.store.read(|tx| {
            let Some(part) = tx.sessions().locate(id)? else {
                return Ok(None);
            };
            Ok(tx
                .sessions()
                .get(part, id)?
                .map(|row| (row.doc.status.unwrap_or_default(), row.doc.status_reason)))
        })
    }

    /// A browser attaches to a session (the play page): the same path as
    /// CreateStreamSessionConnection. `Err(status)` when the session's status does not take a
    /// connection now; `Ok(None)` when the offer is not usable (the session then ends
    /// ERROR/invalidSignalRequest); `Ok(Some(answer))` otherwise.
    pub fn connect_client(
        &self,
        owner: Option<&Scope>,
        ident: &str,
        request: &str,
    ) -> Result<Option<Result<Option<String>, StreamSessionStatus>>, ApiError> {
        self.write_engine(|tx, now| {
            let Some((part, id)) = resources::locate(tx, Kind::Session, ident, owner)? else {
                return Ok(None);
            };
            let Some(mut row) = tx.sessions().get(part, &id)? else {
                return Ok(None);
            };
            let status = row.doc.status.unwrap_or_default();
            if !matches!(
                status,
                StreamSessionStatus::Active | StreamSessionStatus::PendingClientReconnection
            ) {
                return Ok(Some(Err(status)));
            }
            let env = self.env_in(tx, part, now);
            let location = row.doc.location.clone().unwrap_or_default();
            let Some(answer) = signal::answer(env, &row, request, &location) else {
                engine::drive_quiet(
                    env,
                    &mut row,
                    Event::Fault(StreamSessionStatusReason::InvalidSignalRequest),
                )?;
                return Ok(Some(Ok(None)));
            };
            match engine::drive(env, &mut row, Event::Reconnect(answer.clone()))? {
                Ok(()) => Ok(Some(Ok(Some(answer)))),
                Err(_) => Ok(Some(Err(status))),
            }
        })
    }

    /// An end user opened a stream URL with `token`: spend a use and start a session, or say
    /// why not. `None`: no such URL, or the wrong token.
    pub fn open_stream_url(&self, id: &str, token: &str, host: &str) -> Result<Option<Activation>, ApiError> {
        let located = self.store.read(|tx| urls::locate(tx, id))?;
        match located {
            Some((scope, secret)) if secret == token => self
                .write_as(&scope, host, |ctx, tx| urls::activate(ctx, tx, id))
                .map(Some),
            _ => Ok(None),
        }
    }
}

/// What the host needs to start a session's application, as the session and its
/// application's build stand now.
#[derive(Debug, Clone)]
pub struct LaunchView {
    /// The session's ARN.
    pub arn: String,
    /// Its status now.
    pub status: StreamSessionStatus,
    /// Placed, its game to start (it is ACTIVATING until the game is up).
    pub launching: bool,
    /// The application id.
    pub app_id: String,
    /// The application's runtime.
    pub runtime: gls_model::RuntimeEnvironmentType,
    /// `ExecutablePath`, as a path inside the build.
    pub executable: Option<String>,
    /// The build's snapshot, when it is ready: the folder.
    pub build: Option<std::path::PathBuf>,
    /// What became of the build (for the card): `None` for an application without one.
    pub build_state: Option<crate::store::BuildState>,
    /// The display: the session's `DisplayConfiguration`, else 1920x1080 (the model's default).
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// `AdditionalEnvironmentVariables`.
    pub env: Vec<(String, String)>,
    /// `AdditionalLaunchArgs`.
    pub args: Vec<String>,
    /// The application's `ApplicationLogPaths`.
    pub log_paths: Vec<String>,
    /// Where they go when the session ends (its `LogFileLocationUri`), if anywhere.
    pub log_location: Option<String>,
    /// Its stream group's class: what its game may use.
    pub stream_class: gls_model::StreamClass,
}

impl Service {
    /// What starting session `id`'s application takes; `None` for no such session.
    pub fn launch_view(&self, id: &str) -> Result<Option<LaunchView>, ApiError> {
        let found = self.store.read(|tx| {
            let Some(part) = tx.sessions().locate(id)? else {
                return Ok::<_, ApiError>(None);
            };
            let Some(row) = tx.sessions().get(part, id)? else {
                return Ok(None);
            };
            let app = tx.applications().get(part, &row.app_id)?;
            let build = tx.builds().get(part, &row.app_id)?;
            let class = tx.groups().get(part, &row.group_id)?.and_then(|g| g.stream_class);
            Ok(Some((row, app, build, class)))
        })?;
        let Some((row, app, build, class)) = found else {
            return Ok(None);
        };
        // A game's display is the model's default when the session asked for none.
        let (width, height) = crate::domain::views::resolution(&row.doc).unwrap_or((1920, 1080));
        let build_state = build.map(|b| b.state);
        let log_paths = app
            .as_ref()
            .and_then(|a| a.application_log_paths.clone())
            .unwrap_or_default();
        let log_location = app
            .as_ref()
            .and_then(|a| a.application_log_output_uri.as_deref())
            .filter(|u| !u.is_empty())
            .map(|base| crate::domain::lifecycle::log_location(base, &row.group_id, &row.id));
        let ready = build_state == Some(crate::store::BuildState::Ready);
        Ok(Some(LaunchView {
            arn: row.doc.arn.clone().unwrap_or_default(),
            status: row.doc.status.unwrap_or_default(),
            launching: row.internal.launching.is_some(),
            runtime: app
                .as_ref()
                .and_then(|a| a.runtime_environment.as_ref())
                .map(|r| r.type_)
                .unwrap_or_default(),
            executable: app
                .as_ref()
                .and_then(|a| a.executable_path.as_deref())
                .and_then(crate::domain::builds::inside),
            build: ready.then(|| engine::builds::snapshot_dir(&self.settings, &row.app_id)),
            build_state,
            stream_class: class.unwrap_or_default(),
            app_id: row.app_id,
            width,
            height,
            env: row
                .doc
                .additional_environment_variables
                .unwrap_or_default()
                .into_iter()
                .collect(),
            args: row.doc.additional_launch_args.unwrap_or_default(),
            log_paths,
            log_location,
        }))
    }

    /// Store `bytes` at `uri` (the local S3 root, or the S3 endpoint).
    pub fn put_object(&self, uri: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), String> {
        exports::put_object(&self.settings, uri, bytes, content_type)
    }
}
