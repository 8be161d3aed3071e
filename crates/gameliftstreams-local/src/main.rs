//! The `gameliftstreams-local` binary: `serve` runs the service, `seed` fills a data dir.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use gameliftstreams_local::cli;
use gameliftstreams_local::clock::{self, ClockKind};
use gameliftstreams_local::domain::catalog::Quotas;
use gameliftstreams_local::domain::ids;
use gameliftstreams_local::domain::lifecycle::Delays;
use gameliftstreams_local::domain::signal::SignalMode;
use gameliftstreams_local::host::{find_on_path, Host, HostConfig};
use gameliftstreams_local::ops::engine::exports::Failpoint;
use gameliftstreams_local::ops::engine::s3::S3Sink;
use gameliftstreams_local::ops::{Service, Settings};
use gameliftstreams_local::seed::{self, SeedOptions};
use gameliftstreams_local::server::{self, sigv4::Verifier, AppState};
use gameliftstreams_local::store::{lock_dir, redacted, PgStore, SqliteStore, Store};
use gameliftstreams_local::stream::StreamHub;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "gameliftstreams-local",
    version,
    about = "A local Amazon GameLift Streams control plane"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve(Box<ServeArgs>),
    /// Write sessions straight into a data dir, for benchmarks and demos.
    Seed(SeedArgs),
    /// Stream sessions: list, get, terminate (a client of any GameLift Streams endpoint).
    Sessions {
        #[command(subcommand)]
        cmd: cli::Sessions,
    },
    /// Applications: list.
    Applications {
        #[command(subcommand)]
        cmd: cli::Listing,
    },
    /// Stream groups: list.
    #[command(name = "stream-groups")]
    StreamGroups {
        #[command(subcommand)]
        cmd: cli::Listing,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (`HOST:PORT`, or a bare port on 127.0.0.1); port 0 takes a free port.
    #[arg(long, env = "GLS_LISTEN", default_value = "127.0.0.1:9080", value_parser = parse_listen)]
    listen: String,
    /// Where state is kept.
    #[arg(
        long,
        env = "GLS_DATA_DIR",
        default_value = ".gameliftstreams-local",
        conflicts_with = "in_memory"
    )]
    data_dir: PathBuf,
    /// Keep state in memory only.
    #[arg(long, env = "GLS_IN_MEMORY")]
    in_memory: bool,
    /// Keep state in PostgreSQL at this URL (`postgres://user@host:port/db`, or a libpq
    /// connection string) instead of the data dir's SQLite file. The data dir still holds this
    /// instance's files (builds, the local S3 root, game sessions).
    #[arg(long, env = "GLS_STORE", value_name = "URL", conflicts_with = "in_memory")]
    store: Option<String>,
    /// Create a small demo account once (an application, a stream group, sessions).
    #[arg(long, env = "GLS_DEMO")]
    demo: bool,
    /// Durations of the timed transitions: `fast` (waiters succeed at once) or `realistic`
    /// (close to AWS: minutes to bring up a stream group or scale up capacity).
    #[arg(long, env = "GLS_TIMING", value_enum, default_value_t = TimingProfile::Fast)]
    timing: TimingProfile,
    /// Milliseconds an application takes from INITIALIZED to PROCESSING.
    #[arg(long, env = "GLS_APP_PROCESSING_MS")]
    app_processing_ms: Option<i64>,
    /// Milliseconds an application takes from PROCESSING to READY.
    #[arg(long, env = "GLS_APP_READY_MS")]
    app_ready_ms: Option<i64>,
    /// Milliseconds a stream group takes from ACTIVATING to ACTIVE.
    #[arg(long, env = "GLS_GROUP_ACTIVE_MS")]
    group_active_ms: Option<i64>,
    /// Milliseconds a stream session takes from ACTIVATING to ACTIVE.
    #[arg(long, env = "GLS_SESSION_PLACED_MS")]
    session_placed_ms: Option<i64>,
    /// Milliseconds a stream session takes from TERMINATING to TERMINATED.
    #[arg(long, env = "GLS_SESSION_TERMINATED_MS")]
    session_terminated_ms: Option<i64>,
    /// Milliseconds a stream session takes from RECONNECTING to ACTIVE.
    #[arg(long, env = "GLS_SESSION_RECONNECTED_MS")]
    session_reconnected_ms: Option<i64>,
    /// Milliseconds an application stays DELETING before it is gone.
    #[arg(long, env = "GLS_APP_DELETED_MS")]
    app_deleted_ms: Option<i64>,
    /// Milliseconds a stream group stays DELETING before it is gone.
    #[arg(long, env = "GLS_GROUP_DELETED_MS")]
    group_deleted_ms: Option<i64>,
    /// Milliseconds a location takes to bring up more capacity.
    #[arg(long, env = "GLS_SCALE_UP_MS")]
    scale_up_ms: Option<i64>,
    /// Quota profile: `generous` (adjustable quotas raised) or `realistic` (a new AWS account:
    /// 20 applications per region, no GPU quota).
    #[arg(long, env = "GLS_QUOTAS", value_enum, default_value_t = QuotaProfile::Generous)]
    quotas: QuotaProfile,
    /// Override the applications-per-region quota.
    #[arg(long, env = "GLS_QUOTA_APPLICATIONS")]
    quota_applications: Option<i64>,
    /// Override the GPUs per stream-class family per location quota.
    #[arg(long, env = "GLS_QUOTA_GPUS")]
    quota_gpus: Option<i64>,
    /// Upload exported files to this S3-compatible endpoint (plain HTTP, path-style) instead of
    /// writing them under `<data-dir>/s3/`. Credentials and region come from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_REGION when set.
    #[arg(long, env = "GLS_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// The local S3 root: `s3://bucket/key` is `DIR/bucket/key`, for application builds
    /// (`ApplicationSourceUri`), exported files and application logs (default
    /// `<data-dir>/s3`). Not used with --s3-endpoint.
    #[arg(long, env = "GLS_S3_ROOT", value_name = "DIR")]
    s3_root: Option<PathBuf>,
    /// An application whose `ApplicationSourceUri` holds no build: `optional` (it becomes
    /// READY and its sessions stream the test card) or `required` (ERROR/accessDenied, as in
    /// AWS).
    #[arg(long, env = "GLS_APP_BUILDS", value_enum, default_value_t = AppBuilds::Optional)]
    app_builds: AppBuilds,
    /// Run each session's application (its build) on a virtual display of its own: `on`
    /// (needs Debian's `xvfb`) or `off` (API only: every session streams the test card).
    #[arg(long, env = "GLS_APPS", value_enum, default_value_t = OnOff::On)]
    apps: OnOff,
    /// Milliseconds an application whose session ended has between SIGTERM and SIGKILL.
    #[arg(long, env = "GLS_APP_STOP_GRACE_MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    app_stop_grace_ms: u64,
    /// Run each game in a sandbox of its own (bubblewrap: its session's folders, the system's
    /// programs read-only, nothing else of this machine): `on` where the kernel allows it (the
    /// server says at start-up when it does not), or `off`.
    #[arg(long, env = "GLS_APP_SANDBOX", value_enum, default_value_t = OnOff::On)]
    app_sandbox: OnOff,
    /// What a sandboxed game reaches: `on` (the network, as the server does) or `none` (a
    /// loopback of its own; its message endpoint stays in its reach).
    #[arg(long, env = "GLS_APP_NETWORK", value_enum, default_value_t = AppNetwork::On)]
    app_network: AppNetwork,
    /// Wine for PROTON and WINDOWS builds: a `wine` program of your own (a Proton or Wine
    /// build); by default Debian's `wine` on PATH, when installed.
    #[arg(long, env = "GLS_WINE", value_name = "PATH")]
    wine: Option<PathBuf>,
    /// The share of its stream class's vCPUs and memory each game gets (1: AWS's figures, e.g.
    /// gen6n_small 1 vCPU and 4 GiB; 0.25 on a small machine gives it a quarter).
    #[arg(long, env = "GLS_HOST_SCALE", default_value_t = 1.0, value_parser = host_scale)]
    host_scale: f64,
    /// Strict mode: verify SigV4 signatures against the keys of this TOML file
    /// (`[[credentials]]` with `access_key_id`, `secret_access_key`, `account_id`).
    #[arg(long, env = "GLS_CREDENTIALS")]
    credentials: Option<PathBuf>,
    /// Days an ended (TERMINATED or ERROR) session stays listable before it is deleted; 0 keeps
    /// them forever.
    #[arg(long, env = "GLS_SESSION_RETENTION_DAYS", default_value_t = 90)]
    session_retention_days: i64,
    /// Enforce AWS's per-operation request rates (ThrottlingException beyond them).
    #[arg(long, env = "GLS_THROTTLE")]
    throttle: bool,
    /// The service clock: `system` (wall time plus the persisted offset) or `frozen` (moves
    /// only through POST /_local/clock).
    #[arg(long, env = "GLS_CLOCK", value_enum, default_value_t = ClockArg::System)]
    clock: ClockArg,
    /// The address of the one ICE host candidate of every WebRTC answer (and of the UDP socket).
    #[arg(long, env = "GLS_STREAM_ADDRESS", default_value = "127.0.0.1")]
    stream_address: std::net::IpAddr,
    /// The UDP port of the streams; 0 takes a free port (printed as `streaming on udp://...`).
    #[arg(long, env = "GLS_STREAM_PORT", default_value_t = 0)]
    stream_port: u16,
    /// Milliseconds a client has to send a request's headers (also how long a kept-alive
    /// connection may sit idle).
    #[arg(long, env = "GLS_HEADER_READ_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    header_read_timeout_ms: u64,
    /// Milliseconds a client has to send a request's body once its headers are in.
    #[arg(long, env = "GLS_BODY_READ_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    body_read_timeout_ms: u64,
    /// Open connections at once. Beyond it, a new connection takes the place of the one idle
    /// longest (a kept-alive connection between requests, or one still sending its headers);
    /// when every connection has a request in flight it is answered 503
    /// ServiceUnavailableException.
    #[arg(long, env = "GLS_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// A SignalRequest that is not a usable WebRTC offer: `lenient` gives the session a
    /// placeholder answer (no media); `strict` ends it ERROR/invalidSignalRequest, as in AWS.
    #[arg(long, env = "GLS_SIGNAL", value_enum, default_value_t = SignalArg::Lenient)]
    signal: SignalArg,
    /// The origin whose browser pages may call the server (CORS `Access-Control-Allow-Origin`);
    /// `*` lets any page call it.
    #[arg(long, env = "GLS_CORS_ORIGIN", default_value = "*", value_parser = parse_origin)]
    cors_origin: CorsOrigin,
    /// Accept requests signed for any region (default: only the regions of the service's
    /// catalogue; others answer ValidationException naming them).
    #[arg(long, env = "GLS_ALLOW_ANY_REGION")]
    allow_any_region: bool,
    /// Log format on stderr: `text` or `json` (one object per line). The level is GLS_LOG
    /// (e.g. `info` logs every request; default: warnings, the start-up summary and shutdown).
    #[arg(long, env = "GLS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Crash tests only: abort the process in the export worker at this point.
    #[arg(long, value_enum, hide = true)]
    failpoint: Option<FailpointArg>,
}

/// `--cors-origin`: one origin, or any (`*`: `None`).
#[derive(Clone, Debug)]
struct CorsOrigin(Option<axum::http::HeaderValue>);

/// `--listen 9080` means 127.0.0.1:9080; anything else is an address as given.
fn parse_listen(s: &str) -> Result<String, String> {
    if s.chars().all(|c| c.is_ascii_digit()) {
        let port: u16 = s.parse().map_err(|_| format!("{s} is not a port (0 to 65535)"))?;
        return Ok(format!("127.0.0.1:{port}"));
    }
    Ok(s.to_string())
}

fn parse_origin(s: &str) -> Result<CorsOrigin, String> {
    if s == "*" {
        return Ok(CorsOrigin(None));
    }
    let ok = (s.starts_with("http://") || s.starts_with("https://")) && !s.ends_with('/');
    let value = axum::http::HeaderValue::from_str(s).ok().filter(|_| ok);
    value
        .map(|v| CorsOrigin(Some(v)))
        .ok_or_else(|| format!("{s:?} is not an origin (scheme://host[:port], no path) or *"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ClockArg {
    System,
    Frozen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum AppNetwork {
    On,
    None,
}

/// `--host-scale`: a positive number up to 64.
fn host_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 64.0 => Ok(f),
        _ => Err(format!("{s} is not a number above 0 and at most 64")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum AppBuilds {
    Optional,
    Required,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SignalArg {
    Lenient,
    Strict,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum FailpointArg {
    ExportBeforeArchive,
    ExportAfterArchive,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum TimingProfile {
    Fast,
    Realistic,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum QuotaProfile {
    Generous,
    Realistic,
}

#[derive(Args)]
struct SeedArgs {
    /// The data dir to write into (created if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// Write into the PostgreSQL store at this URL instead of the data dir's SQLite file (as
    /// `serve --store`).
    #[arg(long, env = "GLS_STORE", value_name = "URL")]
    store: Option<String>,
    /// How many sessions.
    #[arg(long)]
    sessions: u64,
    /// Over how many accounts (the first is 111122223333).
    #[arg(long, default_value_t = 1)]
    accounts: u32,
    /// The region.
    #[arg(long, default_value = ids::DEFAULT_REGION)]
    region: String,
    /// Seed of the random generator.
    #[arg(long, default_value_t = 1)]
    rng_seed: u64,
    /// The delays `serve` will run with: transient statuses are seeded within them.
    #[arg(long, value_enum, default_value_t = TimingProfile::Fast)]
    timing: TimingProfile,
}

/// Where the start-up summary and the shutdown line are logged (on at the default level).
const LIFECYCLE_LOG: &str = "gameliftstreams_local::lifecycle";

fn main() {
    let cli = Cli::parse();
    // A client command speaks as the AWS CLI does: its errors, not the SDK's warnings.
    let (format, default_filter) = match &cli.command {
        Command::Serve(a) => (a.log_format, format!("warn,{LIFECYCLE_LOG}=info")),
        Command::Seed(_) => (LogFormat::Text, "warn".to_string()),
        _ => (LogFormat::Text, "error".to_string()),
    };
    init_logging(format, &default_filter);
    let result = match cli.command {
        Command::Serve(a) => serve(*a),
        Command::Seed(a) => run_seed(a),
        Command::Sessions { cmd } => client_command(cli::sessions(cmd)),
        Command::Applications { cmd } => client_command(cli::applications(cmd)),
        Command::StreamGroups { cmd } => client_command(cli::stream_groups(cmd)),
    };
    // One clear line (the causes joined), never a backtrace, whatever RUST_BACKTRACE says.
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Logs on stderr at the level of GLS_LOG (default `default_filter`: for `serve` warnings, the
/// start-up summary and the shutdown line), as text (colours only on a terminal) or one JSON
/// object per line.
fn init_logging(format: LogFormat, default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("GLS_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).init(),
    }
}

/// Run a client command; failures print like the AWS CLI's and exit 255.
fn client_command(f: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    if let Err(e) = rt.block_on(f) {
        eprintln!("\n{e}");
        std::process::exit(255);
    }
    Ok(())
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let verifier = match &a.credentials {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Some(Verifier::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // The addresses first: a start that cannot listen touches no data dir.
    let (listener, hub) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("binding {}", a.listen))?;
        let stream_addr = std::net::SocketAddr::new(a.stream_address, a.stream_port);
        let hub = StreamHub::start(stream_addr).with_context(|| format!("binding udp://{stream_addr}"))?;
        anyhow::Ok((listener, hub))
    })?;
    let files_root = if a.in_memory {
        std::env::temp_dir().join(format!("gameliftstreams-local-{}", std::process::id()))
    } else {
        a.data_dir.clone()
    };
    let s3_root = a.s3_root.clone().unwrap_or_else(|| files_root.join("s3"));
    // With a store elsewhere, the data dir still holds this process's files: its lock too.
    let mut _data_dir_lock = None;
    let store: Arc<dyn Store> = if let Some(url) = &a.store {
        std::fs::create_dir_all(&a.data_dir).with_context(|| format!("making data dir {}", a.data_dir.display()))?;
        _data_dir_lock =
            Some(lock_dir(&a.data_dir).with_context(|| format!("opening data dir {}", a.data_dir.display()))?);
        Arc::new(PgStore::connect(url).with_context(|| format!("opening the store at {}", redacted(url)))?)
    } else if a.in_memory {
        Arc::new(SqliteStore::in_memory()?)
    } else {
        Arc::new(
            SqliteStore::open_dir(&a.data_dir).with_context(|| format!("opening data dir {}", a.data_dir.display()))?,
        )
    };
    // After the store: its lock says this process owns the data dir, and so the processes
    // that a previous run of it left (which the host ends as it starts).
    let host = Host::start(HostConfig {
        root: files_root.join("host"),
        enabled: a.apps == OnOff::On,
        xvfb: find_on_path("Xvfb"),
        setpriv: find_on_path("setpriv"),
        sound: match (find_on_path("pulseaudio"), find_on_path("parec"), find_on_path("pacat")) {
            (Some(pulseaudio), Some(parec), Some(pacat)) => Some(gameliftstreams_local::host::audio::SoundTools {
                pulseaudio,
                parec,
                pacat,
            }),
            _ => None,
        },
        stop_grace: std::time::Duration::from_millis(a.app_stop_grace_ms),
        bwrap: (a.app_sandbox == OnOff::On).then(|| find_on_path("bwrap")).flatten(),
        network: a.app_network == AppNetwork::On,
        scale: a.host_scale,
        prlimit: find_on_path("prlimit"),
        wine: a.wine.clone().or_else(|| find_on_path("wine")),
    })
    .with_context(|| format!("starting the application host in {}", files_root.display()))?;
    let host_config = host.summary();
    let settings = Settings {
        delays: {
            let mut d = match a.timing {
                TimingProfile::Fast => Delays::default(),
                TimingProfile::Realistic => Delays::realistic(),
            };
            let overrides = [
                (a.app_processing_ms, &mut d.app_processing_ms),
                (a.app_ready_ms, &mut d.app_ready_ms),
                (a.group_active_ms, &mut d.group_active_ms),
                (a.session_placed_ms, &mut d.session_placed_ms),
                (a.session_terminated_ms, &mut d.session_terminated_ms),
                (a.session_reconnected_ms, &mut d.session_reconnected_ms),
                (a.app_deleted_ms, &mut d.app_deleted_ms),
                (a.group_deleted_ms, &mut d.group_deleted_ms),
                (a.scale_up_ms, &mut d.scale_up_ms),
            ];
            for (value, slot) in overrides {
                if let Some(v) = value {
                    *slot = v.max(0);
                }
            }
            d
        },
        signal: match a.signal {
            SignalArg::Lenient => SignalMode::Lenient,
            SignalArg::Strict => SignalMode::Strict,
        },
        session_retention_days: (a.session_retention_days > 0).then_some(a.session_retention_days),
        s3_root: s3_root.clone(),
        s3: a.s3_endpoint.as_deref().map(|url| s3_sink(url, rt.handle().clone())),
        builds_root: files_root.join("builds"),
        host_root: Some(files_root.join("host")),
        builds_required: a.app_builds == AppBuilds::Required,
        quotas: {
            let mut q = match a.quotas {
                QuotaProfile::Generous => Quotas::generous(),
                QuotaProfile::Realistic => Quotas::realistic(),
            };
            if let Some(n) = a.quota_applications {
                q.applications = n;
            }
            if let Some(n) = a.quota_gpus {
                q.gpus_per_family_location = n;
            }
            q
        },
    };
    let delays = settings.delays.clone();
    let quotas = settings.quotas.clone();
    let clock_kind = match a.clock {
        ClockArg::System => ClockKind::System,
        ClockArg::Frozen => ClockKind::Frozen,
    };
    let failpoint = a.failpoint.map(|f| match f {
        FailpointArg::ExportBeforeArchive => Failpoint::BeforeArchive,
        FailpointArg::ExportAfterArchive => Failpoint::AfterArchive,
    });
    rt.block_on(async move {
        let addr = listener.local_addr()?;
        let service = Service::builder(store.clone())
            .settings(settings)
            .clock(clock_kind)
            .failpoint(failpoint)
            .streams(hub.clone())
            .apps(host.clone())
            .build()
            .map_err(|e| anyhow::anyhow!("data dir {}: {e}", a.data_dir.display()))?;
        let service = Arc::new(service);
        hub.attach(&service);
        host.attach(&service);
        service.start_build_worker()?;
        if a.demo {
            // The demo's application is the sample game, where this machine can build it.
            let game = if a.apps == OnOff::On {
                gameliftstreams_local::host::sample::install(&s3_root)
                    .map_err(|why| tracing::warn!("the demo streams the test card: {why}"))
                    .ok()
            } else {
                None
            };
            if seed::demo(store.as_ref(), service.now().millis(), &delays, game)? {
                service.builds_queued();
            }
        }
        let limits = server::conn::Limits {
            header_read: std::time::Duration::from_millis(a.header_read_timeout_ms),
            body_read: std::time::Duration::from_millis(a.body_read_timeout_ms),
            max_connections: a.max_connections as usize,
            ..Default::default()
        };
        let api = format!("http://{addr}");
        let streaming = format!("udp://{}", hub.addr());
        let effective = effective_settings(&a, &api, &streaming, &host_config, &delays, &quotas);
        let state = AppState::builder(service)
            .verifier(verifier)
            .throttle(a.throttle)
            .streams(hub.clone())
            .host(host.clone())
            .limits(limits)
            .cors_origin(a.cors_origin.0.clone())
            .any_region(a.allow_any_region)
            .settings(effective.clone())
            .build();
        {
            // One write: a reader that takes the first line and closes the pipe still gets both.
            let mut out = std::io::stdout().lock();
            out.write_all(format!("listening on {api}\nstreaming on {streaming}\n").as_bytes())?;
            out.flush()?;
        }
        let field = |k: &str| {
            effective
                .get(k)
                .map_or_else(String::new, |v| v.as_str().map_or(v.to_string(), str::to_string))
        };
        tracing::info!(
            target: LIFECYCLE_LOG,
            version = env!("CARGO_PKG_VERSION"),
            data = %field("data"),
            mode = %field("mode"),
            timing = %field("timing"),
            clock = %field("clock"),
            quotas = %field("quotas"),
            api = %api,
            admin = %format!("{api}/_local/"),
            dashboard = %format!("{api}/_local/ui"),
            streaming = %streaming,
            apps = %host_config,
            startup_ms = started.elapsed().as_millis() as u64,
            "gameliftstreams-local started"
        );
        let shutdown = async {
            let signal = stop_signal().await;
            tracing::info!(target: LIFECYCLE_LOG, signal, "shutting down: finishing the requests in flight");
            let _ = writeln!(
                std::io::stdout(),
                "shutting down ({signal}): finishing the requests in flight"
            );
        };
        server::serve(listener, state, shutdown).await?;
        // No application outlives the server.
        let stopping = host.clone();
        tokio::task::spawn_blocking(move || stopping.shutdown()).await?;
        tracing::info!(target: LIFECYCLE_LOG, "stopped");
        let _ = writeln!(std::io::stdout(), "stopped");
        Ok(())
    })
}

/// The settings `serve` runs with, flags and GLS_* variables applied, as `/_local/health`
/// and the start-up summary show them.
fn effective_settings(
    a: &ServeArgs,
    api: &str,
    streaming: &str,
    apps: &str,
    d: &Delays,
    q: &Quotas,
) -> serde_json::Value {
    fn name(v: &impl clap::ValueEnum) -> Option<String> {
        v.to_possible_value().map(|p| p.get_name().to_string())
    }
    serde_json::json!({
        "listen": api,
        "streaming": streaming,
        "data": if a.in_memory {
            "in memory".to_string()
        } else {
            std::path::absolute(&a.data_dir).unwrap_or_else(|_| a.data_dir.clone()).display().to_string()
        },
        "store": a.store.as_deref().map_or_else(|| "sqlite".to_string(), redacted),
        "mode": match &a.credentials {
            Some(path) => format!("strict ({})", path.display()),
            None => "default".to_string(),
        },
        "timing": name(&a.timing),
        "delaysMs": {
            "appProcessing": d.app_processing_ms,
            "appReady": d.app_ready_ms,
            "groupActive": d.group_active_ms,
            "sessionPlaced": d.session_placed_ms,
            "sessionTerminated": d.session_terminated_ms,
            "sessionReconnected": d.session_reconnected_ms,
            "appDeleted": d.app_deleted_ms,
            "groupDeleted": d.group_deleted_ms,
            "scaleUp": d.scale_up_ms,
        },
        "quotas": name(&a.quotas),
        "quotaValues": {
            "applications": q.applications,
            "gpusPerFamilyLocation": q.gpus_per_family_location,
            "gpusPerGroup": q.gpus_per_group,
            "appsPerGroup": q.apps_per_group,
            "groupsPerApp": q.groups_per_app,
        },
        "clock": name(&a.clock),
        "signal": name(&a.signal),
        "throttle": a.throttle,
        "allowAnyRegion": a.allow_any_region,
        "corsOrigin": a.cors_origin.0.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("*"),
        "sessionRetentionDays": a.session_retention_days,
        "s3Endpoint": a.s3_endpoint,
        "s3Root": a.s3_endpoint.is_none().then(|| {
            let root = a.s3_root.clone().unwrap_or_else(|| a.data_dir.join("s3"));
            std::path::absolute(&root).unwrap_or(root).display().to_string()
        }),
        "appBuilds": name(&a.app_builds),
        "apps": apps,
        "appStopGraceMs": a.app_stop_grace_ms,
        "appSandbox": name(&a.app_sandbox),
        "appNetwork": name(&a.app_network),
        "hostScale": a.host_scale,
        "wine": a.wine.clone().or_else(|| find_on_path("wine")).map(|w| w.display().to_string()),
        "headerReadTimeoutMs": a.header_read_timeout_ms,
        "bodyReadTimeoutMs": a.body_read_timeout_ms,
        "maxConnections": a.max_connections,
        "demo": a.demo,
        "logFormat": name(&a.log_format),
    })
}

/// The first of SIGTERM (what `docker stop`, systemd and Kubernetes send) and SIGINT
/// (ctrl-c), by name.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}

fn s3_sink(endpoint: &str, runtime: tokio::runtime::Handle) -> S3Sink {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(env("AWS_REGION", "us-east-1")))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            env("AWS_ACCESS_KEY_ID", "gameliftstreams-local"),
            env("AWS_SECRET_ACCESS_KEY", "gameliftstreams-local"),
            None,
            None,
            "gameliftstreams-local",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    S3Sink {
        client: aws_sdk_s3::Client::from_conf(conf),
        runtime,
    }
}

fn run_seed(a: SeedArgs) -> anyhow::Result<()> {
    let mut _data_dir_lock = None;
    let store: Box<dyn Store> = match &a.store {
        Some(url) => {
            std::fs::create_dir_all(&a.data_dir)
                .with_context(|| format!("making data dir {}", a.data_dir.display()))?;
            _data_dir_lock =
                Some(lock_dir(&a.data_dir).with_context(|| format!("opening data dir {}", a.data_dir.display()))?);
            Box::new(PgStore::connect(url).with_context(|| format!("opening the store at {}", redacted(url)))?)
        }
        None => Box::new(
            SqliteStore::open_dir(&a.data_dir).with_context(|| format!("opening data dir {}", a.data_dir.display()))?,
        ),
    };
    let (offset, frozen) = store.read(|tx| tx.meta().clock())?;
    let now_ms = clock::resume(ClockKind::System, offset, frozen)
        .map_err(|e| anyhow::anyhow!("data dir {}: {e}", a.data_dir.display()))?
        .now()
        .millis();
    let started = Instant::now();
    let report = seed::seed(
        store.as_ref(),
        &SeedOptions {
            sessions: a.sessions,
            accounts: a.accounts,
            region: a.region,
            rng_seed: a.rng_seed,
            now_ms,
            delays: match a.timing {
                TimingProfile::Fast => Delays::default(),
                TimingProfile::Realistic => Delays::realistic(),
            },
            game: None,
        },
    )?;
    println!(
        "seeded {} sessions, {} applications, {} stream groups, {} timers in {:.1}s",
        report.sessions,
        report.applications,
        report.stream_groups,
        report.timers,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
