//! ListStreamSessionsByAccount and friends, paged by the SDK's own paginator.

use crate::common::{app_and_group, start_sessions, Server};
use aws_sdk_gameliftstreams::types::{ExportFilesStatus, StreamSessionStatus};
use std::collections::HashSet;

fn id_of(arn: &str) -> String {
    arn.rsplit('/').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn paginator_walks_every_session_once_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let ids = start_sessions(&client, &group, &app, 37).await;
    server.advance(2); // every session placed: ACTIVE
                       // Terminate every third session, export files from every fifth live one.
    for (i, id) in ids.iter().enumerate() {
        if i % 5 == 0 && i % 3 != 0 {
            client
                .export_stream_session_files()
                .identifier(&group)
                .stream_session_identifier(id)
                .output_uri("s3://exports/sessions/")
                .send()
                .await
                .unwrap();
        }
        if i % 3 == 0 {
            client
                .terminate_stream_session()
                .identifier(&group)
                .stream_session_identifier(id)
                .send()
                .await
                .unwrap();
        }
    }
    server.advance(2);

    for page_size in [1, 7, 10, 25, 100] {
        let pages: Vec<_> = client
            .list_stream_sessions_by_account()
            .into_paginator()
            .page_size(page_size)
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap();
        let got: Vec<String> = pages
            .iter()
            .flat_map(|p| p.items())
            .map(|s| id_of(s.arn().unwrap()))
            .collect();
        assert_eq!(got, ids, "page size {page_size}: every session once, in creation order");
        for p in &pages[..pages.len() - 1] {
            assert_eq!(p.items().len(), page_size as usize, "only the last page may be short");
            assert!(p.next_token().is_some());
        }
        assert!(
            pages.last().unwrap().next_token().is_none(),
            "the last page has no NextToken"
        );
    }

    let collect = |status: Option<StreamSessionStatus>, export: Option<ExportFilesStatus>| {
        let client = client.clone();
        async move {
            client
                .list_stream_sessions_by_account()
                .set_status(status)
                .set_export_files_status(export)
                .into_paginator()
                .page_size(4)
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .unwrap()
        }
    };
    let terminated = collect(Some(StreamSessionStatus::Terminated), None).await;
    let want: HashSet<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(
        terminated
            .iter()
            .map(|s| id_of(s.arn().unwrap()))
            .collect::<HashSet<_>>(),
        want
    );
    assert!(terminated
        .iter()
        .all(|s| s.status() == Some(&StreamSessionStatus::Terminated)));

    let active = collect(Some(StreamSessionStatus::Active), None).await;
    assert_eq!(active.len() + terminated.len(), ids.len());

    let pending = collect(None, Some(ExportFilesStatus::Pending)).await;
    let want_pending = ids.iter().enumerate().filter(|(i, _)| i % 5 == 0 && i % 3 != 0).count();
    assert_eq!(pending.len(), want_pending);
    for s in &pending {
        let meta = s.export_files_metadata().unwrap();
        assert_eq!(meta.status(), Some(&ExportFilesStatus::Pending));
        assert!(
            meta.output_uri().is_none(),
            "ListStreamSessionsByAccount returns only the export status"
        );
    }
    let both = collect(Some(StreamSessionStatus::Active), Some(ExportFilesStatus::Pending)).await;
    assert_eq!(both.len(), want_pending);
    let none = collect(Some(StreamSessionStatus::Terminated), Some(ExportFilesStatus::Pending)).await;
    assert!(none.is_empty());

    // The group-scoped listing sees the same sessions, with full export metadata.
    let in_group: Vec<_> = client
        .list_stream_sessions()
        .identifier(&group)
        .export_files_status(ExportFilesStatus::Pending)
        .into_paginator()
        .page_size(3)
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(in_group.len(), want_pending);
    assert!(in_group
        .iter()
        .all(|s| s.export_files_metadata().unwrap().output_uri() == Some("s3://exports/sessions/")));
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_mark_positions_not_pages() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let ids = start_sessions(&client, &group, &app, 12).await;

    let first = client
        .list_stream_sessions_by_account()
        .max_results(5)
        .send()
        .await
        .unwrap();
    let token = first.next_token().unwrap().to_string();
    // Reusable: the same token gives the same page again.
    let a = client
        .list_stream_sessions_by_account()
        .max_results(5)
        .next_token(&token)
        .send()
        .await
        .unwrap();
    let b = client
        .list_stream_sessions_by_account()
        .max_results(5)
        .next_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(a.items(), b.items());
    assert_ne!(a.next_token(), Some(token.as_str()), "a token never answers itself");
    // The page size may change between pages.
    let c = client
        .list_stream_sessions_by_account()
        .max_results(100)
        .next_token(&token)
        .send()
        .await
        .unwrap();
    let rest: Vec<String> = c.items().iter().map(|s| id_of(s.arn().unwrap())).collect();
    assert_eq!(rest, ids[5..].to_vec());
    assert!(c.next_token().is_none());
    // Sessions created during a walk are reached.
    let late = start_sessions(&client, &group, &app, 2).await;
    let d = client
        .list_stream_sessions_by_account()
        .next_token(&token)
        .send()
        .await
        .unwrap();
    let got: Vec<String> = d.items().iter().map(|s| id_of(s.arn().unwrap())).collect();
    assert_eq!(&got[got.len() - 2..], late.as_slice());
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_and_regions_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let default = server.client();
    let (app, group) = app_and_group(&server, &default).await;
    start_sessions(&default, &group, &app, 3).await;

    let other_account = server.client_as("123456789012", "us-west-2");
    let r = other_account.list_stream_sessions_by_account().send().await.unwrap();
    assert!(r.items().is_empty());
    let other_region = server.client_as("AKIDEXAMPLE", "eu-central-1");
    assert!(other_region
        .list_stream_sessions_by_account()
        .send()
        .await
        .unwrap()
        .items()
        .is_empty());
    assert!(other_region.get_stream_group().identifier(&group).send().await.is_err());

    // A token from one account is refused in another.
    let page = default
        .list_stream_sessions_by_account()
        .max_results(1)
        .send()
        .await
        .unwrap();
    let err = other_account
        .list_stream_sessions_by_account()
        .max_results(1)
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_validation_exception());
}
