//! Session file exports: when a session with a pending export ends, its archive (session
//! metadata, application logs, performance stats) is written as a ZIP to the OutputUri, which
//! maps `s3://bucket/key` to `<root>/s3/bucket/key` (or is uploaded to a configured S3 endpoint); the export ends SUCCEEDED with the final
//! URI, or FAILED with the reason.

use super::{parse_doc, Settings};
use crate::domain::lifecycle::export_stamp;
use crate::domain::ApiError;
use crate::store::sessions::SessionRow;
use crate::store::{self, DocTable};
use gls_model::{ExportFilesStatus, GetApplicationOutput, StreamSessionStatus, Timestamp};
use rusqlite::Transaction;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file an `s3://bucket/key` URI maps to under `root`, or why it cannot.
pub fn local_path(root: &Path, uri: &str) -> Result<PathBuf, String> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{uri} is not an s3:// URI"))?;
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| format!("{uri} names no object key"))?;
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !bucket.starts_with('.');
    if !bucket_ok {
        return Err(format!("bucket name {bucket:?} is not valid"));
    }
    let mut path = root.join("s3").join(bucket);
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

fn archive(session: &SessionRow, app: Option<&GetApplicationOutput>, now: Timestamp) -> Result<Vec<u8>, String> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let err = |e: zip::result::ZipError| e.to_string();
        let io = |e: std::io::Error| e.to_string();
        let meta = serde_json::to_vec_pretty(&session.doc).map_err(|e| e.to_string())?;
        zip.start_file("session.json", opts).map_err(err)?;
        zip.write_all(&meta).map_err(io)?;
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

/// Where export archives go when an S3 endpoint is configured.
#[derive(Clone, Debug)]
pub struct S3Sink {
    /// The S3 client, pointed at the endpoint.
    pub client: aws_sdk_s3::Client,
    /// The runtime the client's futures run on.
    pub runtime: tokio::runtime::Handle,
}

fn split_uri(uri: &str) -> Result<(&str, &str), String> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{uri} is not an s3:// URI"))?;
    rest.split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| format!("{uri} names no object key"))
}

impl S3Sink {
    /// Upload the archive. Runs on a blocking thread (the store's writer), never on the runtime.
    fn put(&self, uri: &str, bytes: Vec<u8>) -> Result<(), String> {
        let (bucket, key) = split_uri(uri)?;
        let request = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/zip")
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
            .send();
        self.runtime.block_on(request).map(|_| ()).map_err(|e| {
            use aws_sdk_s3::error::ProvideErrorMetadata;
            let e = e.into_service_error();
            format!(
                "{}: {}",
                e.code().unwrap_or("error"),
                e.message().unwrap_or("upload failed")
            )
        })
    }
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

/// The session has ended: complete its pending export, if it has one.
pub fn finish(
    tx: &Transaction<'_>,
    settings: &Settings,
    part: i64,
    row: &mut SessionRow,
    now: Timestamp,
) -> Result<(), ApiError> {
    let Some(meta) = row.doc.export_files_metadata.as_ref() else {
        return Ok(());
    };
    if meta.status != Some(ExportFilesStatus::Pending) {
        return Ok(());
    }
    let mut uri = meta.output_uri.clone().unwrap_or_default();
    if uri.ends_with('/') {
        let group = row.group_id.clone();
        uri.push_str(&format!("{}-{}-{group}-{}.zip", export_stamp(now), row.app_id, row.id));
    }
    let outcome = if let Some(reason) = row.internal.export_failure.clone() {
        Err(reason)
    } else if row.doc.status == Some(StreamSessionStatus::Error) {
        Err("The stream session ended in ERROR before its files could be collected.".to_string())
    } else if !row.internal.ever_connected {
        Err("Session ended before files could be collected: no client ever connected.".to_string())
    } else {
        let app: Option<GetApplicationOutput> = store::doc_get(tx, DocTable::Applications, part, &row.app_id)?
            .map(|(d, _)| parse_doc(&d))
            .transpose()?;
        let written = match &settings.s3 {
            Some(sink) => archive(row, app.as_ref(), now).and_then(|bytes| sink.put(&uri, bytes)),
            None => local_path(&settings.export_root, &uri)
                .and_then(|path| archive(row, app.as_ref(), now).and_then(|bytes| write_file(&path, &bytes))),
        };
        written.map_err(|e| format!("The files could not be written to {uri}: {e}"))
    };
    let meta = row.doc.export_files_metadata.get_or_insert_with(Default::default);
    match outcome {
        Ok(()) => {
            meta.status = Some(ExportFilesStatus::Succeeded);
            meta.output_uri = Some(uri);
            meta.status_reason = None;
        }
        Err(reason) => {
            meta.status = Some(ExportFilesStatus::Failed);
            meta.status_reason = Some(reason.chars().take(1024).collect());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_map_under_the_root_and_never_escape_it() {
        let root = Path::new("/data");
        assert_eq!(
            local_path(root, "s3://my-bucket/a/b.zip").unwrap(),
            Path::new("/data/s3/my-bucket/a/b.zip")
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
