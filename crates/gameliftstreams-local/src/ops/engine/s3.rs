//! The S3-compatible endpoint of `serve --s3-endpoint` (MinIO, moto_server, LocalStack):
//! uploads (export archives, application logs), and the listing and download of application
//! builds. Its calls block on the runtime from a worker thread, never inside a store
//! transaction.

use aws_sdk_s3::error::ProvideErrorMetadata;
use std::io::Write;
use std::path::Path;

/// The client of the configured S3 endpoint.
#[derive(Clone, Debug)]
pub struct S3Sink {
    /// The S3 client, pointed at the endpoint.
    pub client: aws_sdk_s3::Client,
    /// The runtime the client's futures run on.
    pub runtime: tokio::runtime::Handle,
}

/// `s3://bucket/key` as (bucket, key), both non-empty.
pub fn split_uri(uri: &str) -> Result<(&str, &str), String> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{uri} is not an s3:// URI"))?;
    rest.split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| format!("{uri} names no object key"))
}

/// A failed call: the service's error code (when it gave one) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// `NoSuchBucket`, `AccessDenied`, ... or `None` for a transport failure.
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_deref().unwrap_or("error"), self.message)
    }
}

fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(e: aws_sdk_s3::error::SdkError<E>) -> S3Error {
    // The whole chain: a transport failure says what it is only in its sources.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    S3Error {
        code: e.code().map(str::to_string),
        message: e.message().map(str::to_string).unwrap_or(text),
    }
}

impl S3Sink {
    /// Upload `bytes` to `uri`.
    pub fn put(&self, uri: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), String> {
        let (bucket, key) = split_uri(uri)?;
        let request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
            .send();
        self.runtime
            .block_on(request)
            .map(|_| ())
            .map_err(|e| failed(e).to_string())
    }

    /// Every object under `prefix` in `bucket`: (key, size), at most `limit` (one more tells
    /// the caller the limit is passed).
    pub fn list(&self, bucket: &str, prefix: &str, limit: usize) -> Result<Vec<(String, u64)>, S3Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = self.client.list_objects_v2().bucket(bucket).prefix(prefix);
            if let Some(t) = token.take() {
                request = request.continuation_token(t);
            }
            let page = self.runtime.block_on(request.send()).map_err(failed)?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    out.push((key.to_string(), object.size().unwrap_or(0).max(0) as u64));
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) && out.len() <= limit => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// Download `key` of `bucket` into the file `to`.
    pub fn download(&self, bucket: &str, key: &str, to: &Path) -> Result<(), S3Error> {
        let io = |e: std::io::Error| S3Error {
            code: None,
            message: format!("{}: {e}", to.display()),
        };
        let request = self.client.get_object().bucket(bucket).key(key).send();
        self.runtime.block_on(async {
            let mut object = request.await.map_err(failed)?;
            let mut file = std::fs::File::create(to).map_err(io)?;
            while let Some(chunk) = object.body.try_next().await.map_err(|e| S3Error {
                code: None,
                message: e.to_string(),
            })? {
                file.write_all(&chunk).map_err(io)?;
            }
            file.sync_all().map_err(io)
        })
    }
}
