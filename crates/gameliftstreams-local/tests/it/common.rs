//! Test harness: runs the real `gameliftstreams-local` binary on port 0 with a temporary data
//! dir, and builds the official AWS SDK client pointed at it.

use aws_sdk_gameliftstreams::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_gameliftstreams::Client;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running server; killed on drop.
pub struct Server {
    child: Child,
    pub addr: String,
    /// The server's stdout, kept open for as long as it runs.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    /// Start on a fresh temporary data dir.
    pub fn start(dir: &Path) -> Server {
        Self::start_with(dir, &[])
    }

    /// Start with extra flags.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gameliftstreams-local"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        stdout.read_line(&mut line).expect("readiness line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_string();
        Server {
            child,
            addr,
            _stdout: stdout,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An SDK client for `account` (as the access key id) in `region`.
    pub fn client_as(&self, access_key: &str, region: &str) -> Client {
        self.client_with(access_key, "secret", region)
    }

    /// An SDK client signing with this key and secret.
    pub fn client_with(&self, access_key: &str, secret: &str, region: &str) -> Client {
        let conf = aws_sdk_gameliftstreams::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(self.url())
            .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        Client::from_conf(conf)
    }

    /// A client for the default account that never retries (for retryable modeled errors).
    pub fn client_no_retry(&self) -> Client {
        let conf = self
            .client()
            .config()
            .to_builder()
            .retry_config(aws_sdk_gameliftstreams::config::retry::RetryConfig::disabled())
            .build();
        Client::from_conf(conf)
    }

    /// A client for the default account in us-west-2.
    pub fn client(&self) -> Client {
        self.client_as("AKIDEXAMPLE", "us-west-2")
    }

    /// A raw HTTP request; returns status and body.
    pub fn http(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = resp
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// Send a client or application event to a session through the admin API.
    pub fn event(&self, session: &str, event: &str) -> (u16, String) {
        self.http(
            "POST",
            &format!("/_local/sessions/{session}/events"),
            &format!("{{\"event\": \"{event}\"}}"),
        )
    }

    /// Move the service clock forward, firing what falls due.
    pub fn advance(&self, seconds: i64) {
        let (status, body) = self.http("POST", "/_local/clock", &format!("{{\"advanceSeconds\": {seconds}}}"));
        assert_eq!(status, 200, "{body}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A READY application and an ACTIVE stream group with it as default.
pub async fn app_and_group(server: &Server, client: &Client) -> (String, String) {
    let app = client
        .create_application()
        .description("Test game")
        .runtime_environment(
            aws_sdk_gameliftstreams::types::RuntimeEnvironment::builder()
                .r#type(aws_sdk_gameliftstreams::types::RuntimeEnvironmentType::Proton)
                .version("20241007")
                .build()
                .unwrap(),
        )
        .executable_path("Game/Game.exe")
        .application_source_uri("s3://test-bucket/game/")
        .send()
        .await
        .unwrap();
    let app_id = app.id().unwrap().to_string();
    server.advance(5);
    let group = client
        .create_stream_group()
        .description("Test group")
        .stream_class(aws_sdk_gameliftstreams::types::StreamClass::Gen5nUltra)
        .default_application_identifier(&app_id)
        .location_configurations(
            aws_sdk_gameliftstreams::types::LocationConfiguration::builder()
                .location_name("us-west-2")
                .always_on_capacity(40)
                .maximum_capacity(40)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let group_id = group.id().unwrap().to_string();
    server.advance(1);
    (app_id, group_id)
}

/// Start `n` sessions; returns their ids in creation order.
pub async fn start_sessions(client: &Client, group: &str, app: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let s = client
            .start_stream_session()
            .identifier(group)
            .application_identifier(app)
            .protocol(aws_sdk_gameliftstreams::types::Protocol::Webrtc)
            .signal_request("NO_CLIENT_CONNECTION")
            .user_id(format!("player-{i}"))
            .send()
            .await
            .unwrap();
        ids.push(s.arn().unwrap().rsplit('/').next().unwrap().to_string());
    }
    ids
}
