//! Every operation beyond the core through the official SDK, with its typed errors.

use crate::common::{app_and_group, start_sessions, Server};
use aws_sdk_gameliftstreams::error::ProvideErrorMetadata;
use aws_sdk_gameliftstreams::types::{
    ApplicationStatus, LocationConfiguration, Protocol, RevocationMode, RuntimeEnvironment, RuntimeEnvironmentType,
    StreamClass, StreamGroupStatus, StreamSessionStatus, StreamUrlStatus,
};

async fn ready_app(server: &Server, client: &aws_sdk_gameliftstreams::Client, name: &str) -> String {
    let app = client
        .create_application()
        .description(name)
        .runtime_environment(
            RuntimeEnvironment::builder()
                .r#type(RuntimeEnvironmentType::Proton)
                .version("20241007")
                .build()
                .unwrap(),
        )
        .executable_path("Game.exe")
        .application_source_uri("s3://bucket/game/")
        .send()
        .await
        .unwrap();
    server.advance(2);
    app.id().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn applications_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let app = ready_app(&server, &client, "Upd").await;
    let up = client
        .update_application()
        .identifier(&app)
        .description("Renamed")
        .application_log_paths("logs/")
        .application_log_output_uri("s3://bucket/logs/")
        .send()
        .await
        .unwrap();
    assert_eq!(up.description(), Some("Renamed"));
    let e = client
        .update_application()
        .identifier(&app)
        .application_log_output_uri("")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_validation_exception());
    let e = client
        .update_application()
        .identifier("a-000000000")
        .description("x")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    client.delete_application().identifier(&app).send().await.unwrap();
    let got = client.get_application().identifier(&app).send().await.unwrap();
    assert_eq!(got.status(), Some(&ApplicationStatus::Deleting));
    server.advance(2);
    let e = client.get_application().identifier(&app).send().await.unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    let fresh = client
        .create_application()
        .description("Young")
        .runtime_environment(
            RuntimeEnvironment::builder()
                .r#type(RuntimeEnvironmentType::Proton)
                .version("20241007")
                .build()
                .unwrap(),
        )
        .executable_path("Game.exe")
        .application_source_uri("s3://bucket/game/")
        .send()
        .await
        .unwrap();
    let e = client
        .delete_application()
        .identifier(fresh.id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error().is_conflict_exception(),
        "INITIALIZED cannot be deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_groups_update_locations_associations_delete() {
    let dir = tempfile::tempdir().unwrap();
    // A frozen clock: the transient statuses asserted here hold until the test advances.
    let server = Server::start_with(dir.path(), &["--clock", "frozen"]);
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let other = ready_app(&server, &client, "Other").await;

    let up = client
        .update_stream_group()
        .identifier(&group)
        .description("Bigger")
        .location_configurations(
            LocationConfiguration::builder()
                .location_name("us-west-2")
                .always_on_capacity(2)
                .maximum_capacity(6)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(up.location_states()[0].maximum_capacity(), Some(6));
    let e = client
        .update_stream_group()
        .identifier(&group)
        .default_application_identifier(&other)
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error().is_validation_exception(),
        "default must be associated first"
    );

    let assoc = client
        .associate_applications()
        .identifier(&group)
        .application_identifiers(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(assoc.application_arns().len(), 1);
    let g = client.get_stream_group().identifier(&group).send().await.unwrap();
    assert_eq!(g.associated_applications().len(), 2);
    client
        .update_stream_group()
        .identifier(&group)
        .default_application_identifier(&other)
        .send()
        .await
        .unwrap();
    let e = client
        .associate_applications()
        .identifier(&group)
        .application_identifiers("a-000000000")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());

    let added = client
        .add_stream_group_locations()
        .identifier(&group)
        .location_configurations(
            LocationConfiguration::builder()
                .location_name("eu-west-1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(added.locations()[0].location_name(), Some("eu-west-1"));
    let e = client
        .add_stream_group_locations()
        .identifier(&group)
        .location_configurations(
            LocationConfiguration::builder()
                .location_name("mars-1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_validation_exception());
    server.advance(1);
    assert_eq!(
        client
            .get_stream_group()
            .identifier(&group)
            .send()
            .await
            .unwrap()
            .status(),
        Some(&StreamGroupStatus::Active)
    );
    client
        .remove_stream_group_locations()
        .identifier(&group)
        .locations("eu-west-1")
        .send()
        .await
        .unwrap();
    let e = client
        .remove_stream_group_locations()
        .identifier(&group)
        .locations("us-west-2")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error().is_validation_exception(),
        "the primary location stays"
    );

    let dis = client
        .disassociate_applications()
        .identifier(&group)
        .application_identifiers(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(dis.application_arns().len(), 1);
    let g = client.get_stream_group().identifier(&group).send().await.unwrap();
    assert_eq!(g.default_application().and_then(|d| d.id()), Some(app.as_str()));

    let listed: Vec<_> = client
        .list_stream_groups()
        .into_paginator()
        .page_size(1)
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|g| g.id().unwrap()).collect::<Vec<_>>(),
        vec![group.as_str()]
    );
    assert_eq!(listed[0].description(), Some("Bigger"));

    start_sessions(&client, &group, &app, 1).await;
    client.delete_stream_group().identifier(&group).send().await.unwrap();
    let e = client.get_stream_group().identifier(&group).send().await.unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    let e = client
        .delete_stream_group()
        .identifier(&group)
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    let items = client.list_stream_sessions_by_account().send().await.unwrap();
    assert_eq!(items.items()[0].status(), Some(&StreamSessionStatus::Terminating));
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_shell_and_shader_caches() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client_no_retry();
    let (app, group) = app_and_group(&server, &client).await;
    let id = start_sessions(&client, &group, &app, 1).await.remove(0);
    let e = client
        .create_stream_session_connection()
        .identifier(&group)
        .stream_session_identifier(&id)
        .signal_request("offer-2")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error().is_conflict_exception(),
        "ACTIVATING takes no connection"
    );
    let e = client
        .create_stream_session_admin_shell()
        .identifier(&group)
        .stream_session_identifier(&id)
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_stream_session_access_not_ready_exception());
    server.advance(2);
    let conn = client
        .create_stream_session_connection()
        .identifier(&group)
        .stream_session_identifier(&id)
        .signal_request("offer-2")
        .send()
        .await
        .unwrap();
    assert!(conn.signal_response().is_some());
    let shell = client
        .create_stream_session_admin_shell()
        .identifier(&group)
        .stream_session_identifier(&id)
        .send()
        .await
        .unwrap();
    assert!(shell.session_id().is_some() && shell.token_value().is_some());
    let caches = client
        .list_application_shader_caches()
        .identifier(&app)
        .send()
        .await
        .unwrap();
    assert!(caches.items().is_empty());
    let e = client
        .list_application_shader_caches()
        .identifier("a-000000000")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_on_applications_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let g = client
        .create_stream_group()
        .description("Tagged")
        .stream_class(StreamClass::Gen6nHigh)
        .tags("env", "ci")
        .send()
        .await
        .unwrap();
    let arn = g.arn().to_string();
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags("team", "core")
        .send()
        .await
        .unwrap();
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().map(|t| t.len()), Some(2));
    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = client.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().get("team").map(String::as_str), Some("core"));
    let e = client
        .tag_resource()
        .resource_arn(&arn)
        .tags("aws:reserved", "x")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_validation_exception());
    // ResourceNotFound is not declared for the tag operations: it arrives unmodeled, code intact.
    let missing = arn.replace(g.id().unwrap(), "sg-000000000");
    let e = client
        .list_tags_for_resource()
        .resource_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("ResourceNotFoundException"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_urls_create_get_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = server.client();
    let (app, group) = app_and_group(&server, &client).await;
    let u = client
        .create_stream_url()
        .identifier(&group)
        .application_identifier(&app)
        .protocol(Protocol::Webrtc)
        .url_expires_after_minutes(10)
        .locations("us-west-2")
        .send()
        .await
        .unwrap();
    assert_eq!(u.status(), Some(&StreamUrlStatus::Active));
    assert_eq!(u.remaining_uses(), Some(1));
    let url = u.stream_url().unwrap().to_string();
    let path = url.split_once(&server.addr).unwrap().1.to_string();
    let (status, page) = server.http("GET", &path, "");
    assert_eq!(status, 200, "{page}");
    let got = client
        .get_stream_url()
        .identifier(&group)
        .stream_url_identifier(u.arn())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), Some(&StreamUrlStatus::LimitReached));
    assert_eq!(got.stream_sessions().len(), 1);
    let (status, _) = server.http("GET", &path, "");
    assert_eq!(status, 403, "a used-up URL refuses");
    let listed = client
        .list_stream_urls()
        .status(StreamUrlStatus::LimitReached)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.items().len(), 1);
    client
        .revoke_stream_url()
        .identifier(&group)
        .stream_url_identifier(u.stream_url_id().unwrap())
        .revocation_mode(RevocationMode::RevokeAndTerminateSessions)
        .send()
        .await
        .unwrap();
    let got = client
        .get_stream_url()
        .identifier(&group)
        .stream_url_identifier(u.arn())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), Some(&StreamUrlStatus::Revoked));
    let e = client
        .get_stream_url()
        .identifier(&group)
        .stream_url_identifier("su-000000000")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    let e = client
        .create_stream_url()
        .identifier(&group)
        .application_identifier(&app)
        .protocol(Protocol::Webrtc)
        .url_expires_after_minutes(10)
        .locations("eu-north-1")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.into_service_error().is_validation_exception(),
        "a location outside the group"
    );
}
