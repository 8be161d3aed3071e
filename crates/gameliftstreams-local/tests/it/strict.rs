//! Strict mode with the Rust SDK: its signatures verify; a wrong secret or an unknown key do not.

use crate::common::Server;
use aws_sdk_gameliftstreams::error::ProvideErrorMetadata;

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_sdk_signs_what_strict_mode_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.toml");
    std::fs::write(
        &creds,
        "[[credentials]]\naccess_key_id = \"AKIARUST\"\nsecret_access_key = \"rust-secret\"\naccount_id = \"444455556666\"\n",
    )
    .unwrap();
    let server = Server::start_with(&dir.path().join("data"), &["--credentials", creds.to_str().unwrap()]);
    let good = server.client_with("AKIARUST", "rust-secret", "eu-central-1");
    let g = good
        .create_stream_group()
        .description("Signed")
        .stream_class(aws_sdk_gameliftstreams::types::StreamClass::Gen6nHigh)
        .send()
        .await
        .unwrap();
    assert_eq!(
        g.arn(),
        format!(
            "arn:aws:gameliftstreams:eu-central-1:444455556666:streamgroup/{}",
            g.id().unwrap()
        )
    );
    let listed = good.list_stream_groups().send().await.unwrap();
    assert_eq!(listed.items().len(), 1);
    good.tag_resource()
        .resource_arn(g.arn())
        .tags("k", "v")
        .send()
        .await
        .unwrap();
    let e = good
        .get_stream_group()
        .identifier("sg-000000000")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());

    let wrong = server.client_with("AKIARUST", "not-the-secret", "eu-central-1");
    let e = wrong.list_stream_groups().send().await.unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidSignatureException"));
    let unknown = server.client_with("AKIAOTHER", "rust-secret", "eu-central-1");
    let e = unknown.list_stream_groups().send().await.unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("UnrecognizedClientException"));
    let (status, _) = server.http("GET", "/_local/health", "");
    assert_eq!(status, 200);
    let (status, _) = server.http("POST", "/_local/clock", "{\"advanceSeconds\": 1}");
    assert_eq!(status, 403, "the admin API needs a signature in strict mode");
}
