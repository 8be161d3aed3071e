//! Requests signed by the official signer verify; any single-byte change does not.

use super::*;
use axum::http::{HeaderName, HeaderValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FILE: &str = r#"
[[credentials]]
access_key_id = "AKIAEXAMPLE1"
secret_access_key = "secret-one"
account_id = "123456789012"
"#;

struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn signed(req: &Req, key: &str, secret: &str, region: &str, at: SystemTime) -> HeaderMap {
    let identity = aws_credential_types::Credentials::new(key, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        &req.method,
        req.path.as_str(),
        req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&req.body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut map = HeaderMap::new();
    for (k, v) in &req.headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    for (k, v) in instructions.headers() {
        map.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

fn random_request(rng: &mut StdRng) -> Req {
    let label: String = (0..rng.random_range(3..12))
        .map(|_| rng.random_range(b'a'..=b'z') as char)
        .collect();
    let (method, path) = match rng.random_range(0..4) {
        0 => ("GET", format!("/streamsessions?MaxResults={}&Status=ACTIVE", rng.random_range(1..100))),
        1 => ("GET", format!("/streamgroups/arn%3Aaws%3Agameliftstreams%3Aus-west-2%3A123456789012%3Astreamgroup%2Fsg-{label}")),
        2 => ("POST", format!("/streamgroups/sg-{label}/streamsessions")),
        _ => ("DELETE", format!("/tags/arn%3Aaws%3Agameliftstreams%3Aus-west-2%3A123456789012%3Aapplication%2Fa-{label}?tagKeys=a&tagKeys=b")),
    };
    let body = if method == "POST" {
        format!("{{\"Protocol\":\"WebRTC\",\"SignalRequest\":\"{label}\"}}").into_bytes()
    } else {
        Vec::new()
    };
    let mut headers = vec![("host".to_string(), "127.0.0.1:9080".to_string())];
    if !body.is_empty() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    headers.push((
        "amz-sdk-invocation-id".into(),
        format!("{label}-{}", rng.random::<u32>()),
    ));
    Req {
        method: method.into(),
        path,
        headers,
        body,
    }
}

#[test]
fn signed_requests_verify_and_every_single_byte_change_is_rejected() {
    let v = Verifier::from_toml(FILE).unwrap();
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..60 {
        let req = random_request(&mut rng);
        let headers = signed(&req, "AKIAEXAMPLE1", "secret-one", "us-west-2", now());
        let caller = v.verify(&req.method, &req.path, &headers, &req.body, now()).unwrap();
        assert_eq!(
            caller,
            Caller {
                access_key: "AKIAEXAMPLE1".into(),
                account: "123456789012".into(),
                region: "us-west-2".into(),
                admin: false,
            }
        );

        // One byte of the path or query.
        let mut path = req.path.clone().into_bytes();
        let i = rng.random_range(1..path.len());
        path[i] = if path[i] == b'x' { b'y' } else { b'x' };
        let path = String::from_utf8(path).unwrap();
        assert!(
            v.verify(&req.method, &path, &headers, &req.body, now()).is_err(),
            "path {path}"
        );
        // The method.
        assert!(v.verify("PUT", &req.path, &headers, &req.body, now()).is_err());
        // One byte of the body.
        if !req.body.is_empty() {
            let mut body = req.body.clone();
            let i = rng.random_range(0..body.len());
            body[i] ^= 0x01;
            assert!(
                v.verify(&req.method, &req.path, &headers, &body, now()).is_err(),
                "body"
            );
        }
        // One byte of a signed header value.
        let mut tampered = headers.clone();
        let id = tampered
            .get("amz-sdk-invocation-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        tampered.insert(
            "amz-sdk-invocation-id",
            HeaderValue::from_str(&format!("{id}0")).unwrap(),
        );
        assert!(
            v.verify(&req.method, &req.path, &tampered, &req.body, now()).is_err(),
            "header"
        );
        // One character of the signature.
        let mut tampered = headers.clone();
        let auth = tampered.get("authorization").unwrap().to_str().unwrap().to_string();
        let last = auth.chars().last().unwrap();
        let flipped = format!("{}{}", &auth[..auth.len() - 1], if last == '0' { '1' } else { '0' });
        tampered.insert("authorization", HeaderValue::from_str(&flipped).unwrap());
        let e = v
            .verify(&req.method, &req.path, &tampered, &req.body, now())
            .unwrap_err();
        assert_eq!(e.code, "InvalidSignatureException");
    }
}

#[test]
fn each_failure_has_its_aws_code() {
    let v = Verifier::from_toml(FILE).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let req = random_request(&mut rng);
    let code = |headers: &HeaderMap, at: SystemTime| {
        v.verify(&req.method, &req.path, headers, &req.body, at)
            .map_err(|e| (e.status, e.code))
    };

    let good = signed(&req, "AKIAEXAMPLE1", "secret-one", "us-west-2", now());
    assert!(code(&good, now()).is_ok());
    assert!(
        code(&good, now() + Duration::from_secs(14 * 60)).is_ok(),
        "within the 15-minute window"
    );
    assert_eq!(
        code(&good, now() + Duration::from_secs(20 * 60)),
        Err((403, "InvalidSignatureException")),
        "expired"
    );
    assert_eq!(
        code(&good, now() - Duration::from_secs(20 * 60)),
        Err((403, "InvalidSignatureException")),
        "not yet current"
    );
    let wrong_secret = signed(&req, "AKIAEXAMPLE1", "not-the-secret", "us-west-2", now());
    assert_eq!(code(&wrong_secret, now()), Err((403, "InvalidSignatureException")));
    let unknown = signed(&req, "AKIAUNKNOWN", "secret-one", "us-west-2", now());
    assert_eq!(code(&unknown, now()), Err((403, "UnrecognizedClientException")));
    assert_eq!(
        code(&HeaderMap::new(), now()),
        Err((403, "MissingAuthenticationTokenException"))
    );
    let mut malformed = good.clone();
    malformed.insert(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE1/20260101"),
    );
    assert_eq!(code(&malformed, now()), Err((400, "IncompleteSignatureException")));
    let mut no_date = good.clone();
    no_date.remove("x-amz-date");
    assert_eq!(code(&no_date, now()), Err((400, "IncompleteSignatureException")));
    // Another region's scope signs another request: the signature does not match.
    let mut other_region = signed(&req, "AKIAEXAMPLE1", "secret-one", "eu-central-1", now());
    assert!(
        code(&other_region, now()).is_ok(),
        "a valid signature for another region is accepted: the region is the caller's"
    );
    let auth = other_region
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .replace("eu-central-1", "us-west-2");
    other_region.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert_eq!(code(&other_region, now()), Err((403, "InvalidSignatureException")));
}

#[test]
fn amz_dates_parse_exactly() {
    assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
    assert_eq!(parse_amz_date("20250723T215854Z"), Some(1_753_307_934));
    assert_eq!(
        amz_date(UNIX_EPOCH + Duration::from_secs(1_753_307_934)),
        "20250723T215854Z"
    );
    for bad in ["2025-07-23T21:58:54Z", "20251323T000000Z", "20250723T215854", ""] {
        assert_eq!(parse_amz_date(bad), None, "{bad}");
    }
}

#[test]
fn credentials_files_are_checked() {
    assert!(Verifier::from_toml("").is_err());
    assert!(Verifier::from_toml(
        "[[credentials]]\naccess_key_id = \"A\"\nsecret_access_key = \"s\"\naccount_id = \"12\""
    )
    .is_err());
    assert!(Verifier::from_toml(FILE).is_ok());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any Authorization text parses or is refused, never a panic.
        #[test]
        fn any_authorization_header_parses_or_is_refused(value in "\\PC{0,300}") {
            let _ = parse_authorization(&value);
        }

        /// Texts close to a real header: every part present, any contents.
        #[test]
        fn near_valid_headers_never_panic(
            key in "\\PC{0,20}", date in "\\PC{0,10}", region in "\\PC{0,12}", service in "\\PC{0,16}",
            signed in "\\PC{0,40}", signature in "\\PC{0,70}", sep in "(, |,| |;)",
        ) {
            let value = format!(
                "AWS4-HMAC-SHA256 Credential={key}/{date}/{region}/{service}/aws4_request{sep}SignedHeaders={signed}{sep}Signature={signature}"
            );
            let _ = parse_authorization(&value);
        }

        /// The whole verification with arbitrary headers and targets.
        #[test]
        fn verification_never_panics(
            auth in "\\PC{0,200}", date in "\\PC{0,20}", target in "/\\PC{0,80}",
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let v = Verifier::from_toml(FILE).unwrap();
            let mut headers = HeaderMap::new();
            if let Ok(a) = HeaderValue::from_str(&auth) {
                headers.insert(axum::http::header::AUTHORIZATION, a);
            }
            if let Ok(d) = HeaderValue::from_str(&date) {
                headers.insert(HeaderName::from_static("x-amz-date"), d);
            }
            let _ = v.verify("POST", &target, &headers, &body, now());
        }
    }
}
