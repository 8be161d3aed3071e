//! Modeled errors as the official SDK sees them.

use crate::common::{app_and_group, start_sessions, Server};
use aws_sdk_gameliftstreams::types::StreamSessionStatus;

#[tokio::test(flavor = "multi_thread")]
async fn bad_page_sizes_and_tokens_are_validation_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    for bad in [0, 101, -1] {
        let e = client
            .list_stream_sessions_by_account()
            .max_results(bad)
            .send()
            .await
            .unwrap_err();
        assert!(e.into_service_error().is_validation_exception(), "MaxResults {bad}");
    }
    for bad in ["garbage", "eyJOZXh0VG9rZW4iOiAiMiJ9", "00", &"ab".repeat(300)] {
        let e = client
            .list_stream_sessions_by_account()
            .next_token(bad)
            .send()
            .await
            .unwrap_err();
        let e = e.into_service_error();
        assert!(e.is_validation_exception(), "token {bad}: {e:?}");
    }
    let (app, group) = app_and_group(&server, &client).await;
    start_sessions(&client, &group, &app, 3).await;
    // A token issued for other filters, or for the group-scoped listing, is refused.
    let page = client
        .list_stream_sessions_by_account()
        .max_results(1)
        .send()
        .await
        .unwrap();
    let token = page.next_token().unwrap();
    let e = client
        .list_stream_sessions_by_account()
        .status(StreamSessionStatus::Active)
        .next_token(token)
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_validation_exception());
    let e = client
        .list_stream_sessions()
        .identifier(&group)
        .next_token(token)
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_validation_exception());
    let e = client.list_applications().next_token(token).send().await.unwrap_err();
    assert!(e.into_service_error().is_validation_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_resources_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let e = client
        .get_application()
        .identifier("a-000000000")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    let e = client
        .get_stream_group()
        .identifier("sg-000000000")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    let e = client
        .list_stream_sessions()
        .identifier("sg-000000000")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    let (app, group) = app_and_group(&server, &client).await;
    let e = client
        .get_stream_session()
        .identifier(&group)
        .stream_session_identifier("AAAAAAAAAAAAA")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    let e = client
        .start_stream_session()
        .identifier(&group)
        .application_identifier("a-000000000")
        .protocol(aws_sdk_gameliftstreams::types::Protocol::Webrtc)
        .signal_request("x")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    // A session ARN naming another group is not found under this one.
    let ids = start_sessions(&client, &group, &app, 1).await;
    let foreign = format!(
        "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-000000000/{}",
        ids[0]
    );
    let e = client
        .get_stream_session()
        .identifier(&group)
        .stream_session_identifier(foreign)
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn constraints_botocore_skips_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let start = || {
        client
            .start_stream_session()
            .identifier(&group)
            .application_identifier(&app)
            .protocol(aws_sdk_gameliftstreams::types::Protocol::Webrtc)
            .signal_request("NO_CLIENT_CONNECTION")
    };
    for bad in [
        start().connection_timeout_seconds(3601),
        start().session_length_seconds(86_401),
        start().description("bad#description"),
        start().user_id("has space"),
        start().locations("mars-1"),
        start().additional_environment_variables("1BAD", "x"),
        start().protocol(aws_sdk_gameliftstreams::types::Protocol::from("UDP")),
    ] {
        let e = bad.send().await.unwrap_err();
        assert!(e.into_service_error().is_validation_exception());
    }
    let e = client
        .create_stream_group()
        .description("odd capacity")
        .stream_class(aws_sdk_gameliftstreams::types::StreamClass::Gen4nHigh)
        .location_configurations(
            aws_sdk_gameliftstreams::types::LocationConfiguration::builder()
                .location_name("us-west-2")
                .always_on_capacity(3)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error().is_validation_exception(),
        "capacity must be a multiple of the tenancy"
    );
    let e = client
        .create_application()
        .description("bad runtime")
        .runtime_environment(
            aws_sdk_gameliftstreams::types::RuntimeEnvironment::builder()
                .r#type(aws_sdk_gameliftstreams::types::RuntimeEnvironmentType::Ubuntu)
                .version("20_04_LTS")
                .build()
                .unwrap(),
        )
        .executable_path("game")
        .application_source_uri("s3://bucket/game")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_validation_exception());
    // An application that a stream group uses cannot be deleted.
    let e = client.delete_application().identifier(&app).send().await.unwrap_err();
    assert!(e.into_service_error().is_validation_exception());
}
