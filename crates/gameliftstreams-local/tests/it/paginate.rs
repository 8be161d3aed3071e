//! The boto3-style paginators of `gameliftstreams-paginate` against the real server: every
//! paginator, every configuration around page boundaries, starting tokens of every form.

use crate::common::{app_and_group, start_sessions, Server};
use aws_sdk_gameliftstreams::types::{StreamSessionStatus, StreamUrlStatus};
use gameliftstreams_paginate::{
    encode_resume_token, list_applications, list_stream_groups, list_stream_sessions, list_stream_sessions_by_account,
    list_stream_urls, PaginationConfig, PaginationError, ResumePoint,
};

fn id(arn: Option<&str>) -> String {
    arn.unwrap().rsplit('/').next().unwrap().to_string()
}

fn cfg(max_items: Option<usize>, page_size: Option<i32>, starting_token: Option<String>) -> PaginationConfig {
    PaginationConfig {
        max_items,
        page_size,
        starting_token,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_config_walks_every_item_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let ids = start_sessions(&client, &group, &app, 11).await;

    // max_items below, at and above a page boundary, and above the total; page sizes 1..100.
    for page_size in [Some(1), Some(3), Some(4), Some(100), None] {
        for max_items in [1usize, 2, 3, 4, 5, 8, 11, 12, 50] {
            let mut got = Vec::new();
            let mut token = None;
            let mut rounds = 0;
            loop {
                let r = list_stream_sessions_by_account(&client)
                    .paginate(cfg(Some(max_items), page_size, token.clone()))
                    .build_full_result()
                    .await
                    .unwrap();
                assert!(r.items.len() <= max_items);
                got.extend(r.items.iter().map(|s| id(s.arn())));
                rounds += 1;
                assert!(rounds <= 20);
                match r.next_token {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            assert_eq!(got, ids, "page_size {page_size:?} max_items {max_items}");
        }
    }
    // Without max_items there is no resume token.
    let all = list_stream_sessions_by_account(&client)
        .paginate(cfg(None, Some(2), None))
        .build_full_result()
        .await
        .unwrap();
    assert_eq!(all.items.len(), 11);
    assert!(all.next_token.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_tokens_are_botocores_and_every_starting_form_works() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let ids = start_sessions(&client, &group, &app, 7).await;

    // Mid-page: the token names the page that was cut and how much of it was returned.
    let mut p = list_stream_sessions_by_account(&client).paginate(cfg(Some(3), Some(2), None));
    let mut pages = Vec::new();
    while let Some(page) = p.next_page().await {
        pages.push(page.unwrap());
    }
    assert_eq!(pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(), vec![2, 1]);
    let first_token = pages[0].next_token.clone().unwrap();
    let expected = encode_resume_token(&ResumePoint {
        next_token: Some(first_token.clone()),
        truncate: Some(1),
    });
    assert_eq!(p.resume_token(), Some(expected.as_str()));
    // At a page boundary: no truncate amount.
    let r = list_stream_sessions_by_account(&client)
        .paginate(cfg(Some(4), Some(2), None))
        .build_full_result()
        .await
        .unwrap();
    let boundary = r.next_token.unwrap();
    let point = gameliftstreams_paginate::parse_starting_token(&boundary).unwrap();
    assert_eq!(point.truncate, None);
    // A raw service token, botocore's old `token___n` form, and our own tokens all resume.
    let raw = list_stream_sessions_by_account(&client).paginate(cfg(None, Some(100), Some(first_token.clone())));
    let got: Vec<String> = raw
        .build_full_result()
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| id(s.arn()))
        .collect();
    assert_eq!(got, ids[2..].to_vec());
    let old_form = format!("{first_token}___1");
    let got: Vec<String> = list_stream_sessions_by_account(&client)
        .paginate(cfg(None, Some(2), Some(old_form)))
        .build_full_result()
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| id(s.arn()))
        .collect();
    assert_eq!(got, ids[3..].to_vec());
    // A token that is base64 JSON with foreign keys is refused as botocore refuses it.
    let bad = aws_smithy_types::base64::encode("{\"Marker\": \"x\"}");
    let e = list_stream_sessions_by_account(&client)
        .paginate(cfg(None, None, Some(bad)))
        .build_full_result()
        .await
        .unwrap_err();
    assert!(matches!(e, PaginationError::BadStartingToken(_)), "{e}");
    // A service token the server does not accept is the service's ValidationException.
    let e = list_stream_sessions_by_account(&client)
        .paginate(cfg(None, None, Some("garbage".into())))
        .build_full_result()
        .await
        .unwrap_err();
    assert!(
        matches!(e, PaginationError::Service(ref s) if matches!(**s, aws_sdk_gameliftstreams::Error::ValidationException(_))),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_paginator_with_filters_and_empty_results() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    // Empty results first.
    assert!(list_applications(&client)
        .paginate(cfg(Some(5), Some(1), None))
        .build_full_result()
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(list_stream_urls(&client)
        .paginate(Default::default())
        .build_full_result()
        .await
        .unwrap()
        .items
        .is_empty());

    let (app, group) = app_and_group(&server, &client).await;
    let ids = start_sessions(&client, &group, &app, 5).await;
    server.advance(2);
    client
        .terminate_stream_session()
        .identifier(&group)
        .stream_session_identifier(&ids[1])
        .send()
        .await
        .unwrap();
    server.advance(2);
    for _ in 0..3 {
        client
            .create_stream_url()
            .identifier(&group)
            .application_identifier(&app)
            .protocol(aws_sdk_gameliftstreams::types::Protocol::Webrtc)
            .url_expires_after_minutes(5)
            .locations("us-west-2")
            .send()
            .await
            .unwrap();
    }

    let apps = list_applications(&client)
        .paginate(cfg(None, Some(1), None))
        .build_full_result()
        .await
        .unwrap();
    assert_eq!(
        apps.items.iter().map(|a| a.id().unwrap()).collect::<Vec<_>>(),
        vec![app.as_str()]
    );
    let groups = list_stream_groups(&client)
        .paginate(cfg(Some(1), Some(1), None))
        .build_full_result()
        .await
        .unwrap();
    assert_eq!(groups.items.len(), 1);
    assert!(groups.next_token.is_none(), "exactly at the end: nothing to resume");
    let in_group = list_stream_sessions(&client, group.clone())
        .status(StreamSessionStatus::Terminated)
        .paginate(cfg(None, Some(1), None))
        .build_full_result()
        .await
        .unwrap();
    assert_eq!(
        in_group.items.iter().map(|s| id(s.arn())).collect::<Vec<_>>(),
        vec![ids[1].clone()]
    );
    let active = list_stream_sessions_by_account(&client)
        .status(StreamSessionStatus::Active)
        .paginate(cfg(Some(2), Some(100), None))
        .build_full_result()
        .await
        .unwrap();
    assert_eq!(active.items.len(), 2);
    assert!(active.next_token.is_some());
    let urls = list_stream_urls(&client)
        .status(StreamUrlStatus::Active)
        .stream_group_identifier(group.clone())
        .paginate(cfg(Some(2), Some(1), None))
        .build_full_result()
        .await
        .unwrap();
    assert_eq!(urls.items.len(), 2);
    let rest = list_stream_urls(&client)
        .status(StreamUrlStatus::Active)
        .stream_group_identifier(group.clone())
        .paginate(cfg(None, Some(1), urls.next_token))
        .build_full_result()
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    // Streams of pages and items.
    use futures_util::StreamExt;
    let pages: Vec<_> = list_stream_sessions_by_account(&client)
        .paginate(cfg(None, Some(2), None))
        .into_pages()
        .collect()
        .await;
    assert_eq!(pages.len(), 3);
    let items: Vec<_> = list_stream_sessions_by_account(&client)
        .paginate(cfg(Some(4), Some(3), None))
        .into_items()
        .collect()
        .await;
    assert_eq!(items.len(), 4);
}
