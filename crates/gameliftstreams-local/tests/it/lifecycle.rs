//! Session statuses over time, identifiers by ARN, and durability across restarts.

use crate::common::{app_and_group, start_sessions, Server};
use aws_sdk_gameliftstreams::types::{
    ExportFilesStatus, StreamGroupStatus, StreamSessionStatus, StreamSessionStatusReason,
};

#[tokio::test(flavor = "multi_thread")]
async fn sessions_activate_terminate_and_export() {
    let dir = tempfile::tempdir().unwrap();
    // A frozen clock: the transient statuses asserted here hold until the test advances.
    let server = Server::start_with(dir.path(), &["--clock", "frozen"]);
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let g = client.get_stream_group().identifier(&group).send().await.unwrap();
    assert_eq!(g.status(), Some(&StreamGroupStatus::Active));
    let id = start_sessions(&client, &group, &app, 1).await.remove(0);
    let get = || {
        client
            .get_stream_session()
            .identifier(&group)
            .stream_session_identifier(&id)
            .send()
    };
    let s = get().await.unwrap();
    assert_eq!(s.status(), Some(&StreamSessionStatus::Activating));
    assert!(s.location().is_none() && s.signal_response().is_none());
    let e = client
        .terminate_stream_session()
        .identifier(&group)
        .stream_session_identifier(&id)
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error().is_validation_exception(),
        "ACTIVATING cannot be terminated"
    );
    let e = client
        .export_stream_session_files()
        .identifier(&group)
        .stream_session_identifier(&id)
        .output_uri("s3://exports/x/")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error().is_validation_exception(),
        "no export while ACTIVATING"
    );

    server.advance(2);
    let s = get().await.unwrap();
    assert_eq!(s.status(), Some(&StreamSessionStatus::Active));
    assert_eq!(s.location(), Some("us-west-2"));
    assert!(s.signal_response().is_some());

    let e = client
        .export_stream_session_files()
        .identifier(&group)
        .stream_session_identifier(&id)
        .output_uri("s3://exports/no-suffix")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error().is_validation_exception(),
        "OutputUri must end in / or .zip"
    );
    client
        .export_stream_session_files()
        .identifier(&group)
        .stream_session_identifier(&id)
        .output_uri("s3://exports/x/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        get().await.unwrap().export_files_metadata().unwrap().status(),
        Some(&ExportFilesStatus::Pending)
    );

    let (status, body) = server.event(&id, "clientConnected");
    assert_eq!(status, 200, "{body}");
    client
        .terminate_stream_session()
        .identifier(&group)
        .stream_session_identifier(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(get().await.unwrap().status(), Some(&StreamSessionStatus::Terminating));
    // Idempotent while ending.
    client
        .terminate_stream_session()
        .identifier(&group)
        .stream_session_identifier(&id)
        .send()
        .await
        .unwrap();
    server.advance(2);
    let s = get().await.unwrap();
    assert_eq!(s.status(), Some(&StreamSessionStatus::Terminated));
    assert_eq!(s.status_reason(), Some(&StreamSessionStatusReason::ApiTerminated));
    let meta = s.export_files_metadata().unwrap();
    assert_eq!(meta.status(), Some(&ExportFilesStatus::Succeeded));
    let uri = meta.output_uri().unwrap();
    assert!(
        uri.starts_with("s3://exports/x/") && uri.ends_with(&format!("-{app}-{group}-{id}.zip")),
        "{uri}"
    );
    let file = dir.path().join("s3").join(uri.trim_start_matches("s3://"));
    let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(bytes.starts_with(b"PK"), "a ZIP archive");
}

#[tokio::test(flavor = "multi_thread")]
async fn arns_work_wherever_identifiers_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let g = client.get_stream_group().identifier(&group).send().await.unwrap();
    let group_arn = g.arn().to_string();
    let a = client
        .get_application()
        .identifier(format!(
            "arn:aws:gameliftstreams:us-west-2:111122223333:application/{app}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(a.id(), Some(app.as_str()));
    let s = client
        .start_stream_session()
        .identifier(&group_arn)
        .application_identifier(a.arn())
        .protocol(aws_sdk_gameliftstreams::types::Protocol::Webrtc)
        .signal_request("NO_CLIENT_CONNECTION")
        .send()
        .await
        .unwrap();
    let session_arn = s.arn().unwrap();
    let got = client
        .get_stream_session()
        .identifier(&group_arn)
        .stream_session_identifier(session_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.arn(), Some(session_arn));
    assert_eq!(got.stream_group_id(), Some(group.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn state_and_clock_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, group, before) = {
        let server = Server::start(dir.path());
        let client = server.client();
        let (app, group) = app_and_group(&server, &client).await;
        let ids = start_sessions(&client, &group, &app, 5).await;
        server.advance(60); // less than the 120 s connection timeout
        let (_, body) = server.http("GET", "/_local/clock", "");
        let now: serde_json::Value = serde_json::from_str(&body).unwrap();
        (ids, group, now["now"].as_f64().unwrap())
    };
    let server = Server::start(dir.path());
    let client = server.client();
    let items = client.list_stream_sessions().identifier(&group).send().await.unwrap();
    let got: Vec<String> = items
        .items()
        .iter()
        .map(|s| s.arn().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(got, ids);
    assert!(items
        .items()
        .iter()
        .all(|s| s.status() == Some(&StreamSessionStatus::Active)));
    let (_, body) = server.http("GET", "/_local/clock", "");
    let now: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(now["now"].as_f64().unwrap() >= before, "the advanced clock persists");
    let (status, body) = server.http("GET", "/_local/health", "");
    assert_eq!(status, 200);
    assert!(body.contains("\"ok\""));
}
