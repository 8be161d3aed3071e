//! restJson1 on the wire: route matching on the raw path (labels percent-decoded after the
//! split), assembling the input from labels, query and body, checking it against the model,
//! and rendering results and errors (status, `x-amzn-ErrorType`, `message` and `Message`).

use crate::domain::ids::{self, Scope};
use crate::domain::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use gls_model::schema::{Kind, Location};
use gls_model::{Op, SHAPES};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// An operation matched with its decoded path labels.
#[derive(Debug, PartialEq)]
pub struct Matched {
    /// The operation.
    pub op: Op,
    /// Label name and decoded value.
    pub labels: Vec<(&'static str, String)>,
}

/// Why no operation matched.
#[derive(Debug, PartialEq)]
pub enum NoRoute {
    /// No template has this path.
    NotFound,
    /// A template has this path, but not with this method.
    MethodNotAllowed,
}

/// One segment of a route template.
enum Segment {
    Literal(&'static str),
    Label(&'static str),
}

/// Every operation's URI template, split once.
static ROUTES: LazyLock<Vec<(Op, Vec<Segment>)>> = LazyLock::new(|| {
    Op::ALL
        .iter()
        .map(|op| {
            let segs = op
                .spec()
                .uri
                .trim_start_matches('/')
                .split('/')
                .map(|t| match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    Some(name) => Segment::Label(name),
                    None => Segment::Literal(t),
                })
                .collect();
            (*op, segs)
        })
        .collect()
});

/// Find the operation for a method and raw (still percent-encoded) path.
pub fn route(method: &str, raw_path: &str) -> Result<Matched, NoRoute> {
    let segs: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
    let mut path_matched = false;
    for (op, tmpl) in ROUTES.iter() {
        let fits = tmpl.len() == segs.len()
            && tmpl.iter().zip(&segs).all(|(t, s)| match t {
                Segment::Literal(l) => l == s,
                // An empty label still selects the operation; the model's length check then
                // answers it with a ValidationException.
                Segment::Label(_) => true,
            });
        if !fits {
            continue;
        }
        path_matched = true;
        if op.spec().method == method {
            let labels = tmpl
                .iter()
                .zip(&segs)
                .filter_map(|(t, s)| match t {
                    Segment::Label(name) => Some((*name, percent_decode_str(s).decode_utf8_lossy().into_owned())),
                    Segment::Literal(_) => None,
                })
                .collect();
            return Ok(Matched { op: *op, labels });
        }
    }
    Err(if path_matched {
        NoRoute::MethodNotAllowed
    } else {
        NoRoute::NotFound
    })
}

/// Split a raw query string into decoded (key, value) pairs.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// Assemble the operation's input structure from labels, query and body.
pub fn assemble(m: &Matched, query: &[(String, String)], body: &[u8]) -> Result<Value, ApiError> {
    let spec = m.op.spec();
    let mut out = Map::new();
    let members = spec.input_members();
    if members.iter().any(|mem| mem.location == Location::Body) && !body.iter().all(u8::is_ascii_whitespace) {
        let parsed: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::validation(format!("The request body is not valid JSON: {e}")))?;
        let Value::Object(obj) = parsed else {
            return Err(ApiError::validation("The request body must be a JSON object."));
        };
        for mem in members.iter().filter(|mem| mem.location == Location::Body) {
            if let Some(v) = obj.get(mem.name) {
                out.insert(mem.name.to_string(), v.clone());
            }
        }
    }
    for mem in members {
        match mem.location {
            Location::Uri => {
                if let Some((_, v)) = m.labels.iter().find(|(n, _)| *n == mem.wire_name) {
                    out.insert(mem.name.to_string(), Value::String(v.clone()));
                }
            }
            Location::Query => {
                let values: Vec<&String> = query
                    .iter()
                    .filter(|(k, _)| k == mem.wire_name)
                    .map(|(_, v)| v)
                    .collect();
                if values.is_empty() {
                    // Clients send no parameter at all for an empty list.
                    if mem.required && matches!(SHAPES[mem.shape].kind, Kind::List { .. }) {
                        out.insert(mem.name.to_string(), Value::Array(Vec::new()));
                    }
                    continue;
                }
                let v = match &SHAPES[mem.shape].kind {
                    Kind::List { .. } => Value::Array(values.iter().map(|s| Value::String((*s).clone())).collect()),
                    Kind::Integer { .. } => {
                        let raw = values[values.len() - 1];
                        let n: i64 = raw.parse().map_err(|_| {
                            ApiError::validation(format!("Value '{raw}' at '{}' must be an integer.", mem.wire_name))
                        })?;
                        Value::from(n)
                    }
                    _ => Value::String(values[values.len() - 1].clone()),
                };
                out.insert(mem.name.to_string(), v);
            }
            Location::Header | Location::Body => {}
        }
    }
    let value = Value::Object(out);
    if let Some(shape) = spec.input {
        gls_model::validate::validate(shape, &value).map_err(|e| ApiError::validation(e.message()))?;
    }
    Ok(value)
}

/// Account and region of the caller, from the SigV4 credential scope.
pub fn scope_of(headers: &HeaderMap, query: &[(String, String)]) -> Scope {
    let credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split("Credential=").nth(1))
        .map(|c| c.split([',', ' ']).next().unwrap_or("").to_string())
        .or_else(|| {
            query
                .iter()
                .find(|(k, _)| k == "X-Amz-Credential")
                .map(|(_, v)| v.clone())
        });
    let mut parts = credential.as_deref().unwrap_or("").split('/');
    let akid = parts.next().unwrap_or("");
    let region = parts.nth(1).filter(|r| !r.is_empty()).unwrap_or(ids::DEFAULT_REGION);
    Scope::new(ids::account_for_access_key(akid), region)
}

fn base(status: u16, request_id: &str) -> axum::http::response::Builder {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("x-amzn-RequestId", request_id)
}

/// A success response: JSON body, or nothing for 204.
pub fn success(status: u16, body: Vec<u8>, request_id: &str) -> Response<Body> {
    let b = base(status, request_id);
    let built = if status == 204 {
        b.body(Body::empty())
    } else {
        // An output without members serializes to something other than an object.
        let json = if body.first() == Some(&b'{') {
            body
        } else {
            b"{}".to_vec()
        };
        b.header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Body::from(json))
    };
    built.unwrap_or_else(|_| Response::new(Body::empty()))
}

/// An error response as AWS sends it.
pub fn error(e: &ApiError, request_id: &str) -> Response<Body> {
    render_error(e.status(), e.code.as_str(), &e.message, request_id)
}

/// A signature failure (strict mode) as AWS sends it: not a modeled error of this service.
pub fn auth_error(e: &crate::server::sigv4::AuthError, request_id: &str) -> Response<Body> {
    render_error(e.status, e.code, &e.message, request_id)
}

/// A request that names no operation of the service (404, as AWS's front end answers it).
pub fn unknown_operation(message: &str, request_id: &str) -> Response<Body> {
    render_error(404, "UnknownOperationException", message, request_id)
}

fn render_error(status: u16, code: &str, message: &str, request_id: &str) -> Response<Body> {
    let body = serde_json::json!({ "message": message, "Message": message });
    base(status, request_id)
        .header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("x-amzn-ErrorType", code)
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Whether the method is one this protocol uses.
pub fn known_method(m: &Method) -> bool {
    [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(m)
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any method, raw path, query and body routes and decodes to a request or an error,
        /// never a panic.
        #[test]
        fn routing_and_decoding_never_panic(
            method in "(GET|POST|PUT|DELETE|PATCH|HEAD|[A-Z]{1,7})",
            segments in proptest::collection::vec("(applications|streamgroups|streamsessions|streamsessionsbyaccount|tags|connections|exports|locations|[a-zA-Z0-9%._~:+-]{0,24})", 0..6),
            query in "\\PC{0,80}",
            body in proptest::collection::vec(any::<u8>(), 0..300),
            json in "\\PC{0,120}",
        ) {
            let path = format!("/{}", segments.join("/"));
            if let Ok(m) = route(&method, &path) {
                let pairs = query_pairs(Some(&query));
                let _ = assemble(&m, &pairs, &body);
                let _ = assemble(&m, &pairs, json.as_bytes());
            }
        }

        /// Bodies shaped like the operation's input but with any JSON values.
        #[test]
        fn any_json_values_are_validated_not_panicked_on(
            op in 0usize..Op::ALL.len(),
            key in "[A-Za-z]{1,20}",
            value in prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<f64>().prop_map(|f| serde_json::json!(f)),
                "\\PC{0,40}".prop_map(serde_json::Value::from),
                Just(serde_json::json!([[[{}]]])),
                Just(serde_json::json!({"a": [1, "b", null]})),
            ],
        ) {
            let op = Op::ALL[op];
            let spec = op.spec();
            let path = spec.uri.split('?').next().unwrap_or("/").replace(['{', '}', '+'], "");
            if let Ok(m) = route(spec.method, &path) {
                let body = serde_json::json!({ key: value }).to_string();
                let _ = assemble(&m, &[], body.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_routes_to_itself() {
        for op in Op::ALL {
            let spec = op.spec();
            let path = spec
                .uri
                .replace("{Identifier}", "sg-1")
                .replace("{StreamSessionIdentifier}", "S1")
                .replace("{StreamUrlIdentifier}", "su-1")
                .replace("{ResourceArn}", "arn");
            let m = route(spec.method, &path).unwrap_or_else(|_| panic!("{} {}", spec.method, path));
            assert_eq!(m.op, op, "{path}");
        }
    }

    #[test]
    fn arn_labels_are_decoded_after_the_split() {
        let p = "/streamgroups/arn%3Aaws%3Agameliftstreams%3Aus-west-2%3A111122223333%3Astreamgroup%2Fsg-1AB2C3De4/streamsessions/arn%3Aaws%3Agameliftstreams%3Aus-west-2%3A111122223333%3Astreamsession%2Fsg-1AB2C3De4%2FABC123def4567";
        let m = route("GET", p).unwrap();
        assert_eq!(m.op, Op::GetStreamSession);
        assert_eq!(
            m.labels[0].1,
            "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-1AB2C3De4"
        );
        assert_eq!(
            m.labels[1].1,
            "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-1AB2C3De4/ABC123def4567"
        );
    }

    #[test]
    fn unknown_paths_and_methods() {
        assert_eq!(route("GET", "/nope"), Err(NoRoute::NotFound));
        assert_eq!(route("PUT", "/applications"), Err(NoRoute::MethodNotAllowed));
    }

    #[test]
    fn query_lists_and_integers_bind() {
        let m = route("DELETE", "/streamgroups/sg-1/locations").unwrap();
        let q = query_pairs(Some("locations=us-east-1&locations=eu-central-1"));
        let v = assemble(&m, &q, b"").unwrap();
        assert_eq!(v["Locations"], serde_json::json!(["us-east-1", "eu-central-1"]));
        let m = route("GET", "/streamsessions").unwrap();
        let e = assemble(&m, &query_pairs(Some("MaxResults=abc")), b"").unwrap_err();
        assert_eq!(e.code, gls_model::ErrorCode::ValidationException);
        let e = assemble(&m, &query_pairs(Some("MaxResults=101")), b"").unwrap_err();
        assert!(e.message.contains("less than or equal to 100"), "{}", e.message);
    }

    #[test]
    fn region_and_account_come_from_the_credential_scope() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=123456789012/20261128/eu-central-1/gameliftstreams/aws4_request, SignedHeaders=host, Signature=x"),
        );
        let s = scope_of(&h, &[]);
        assert_eq!(s, Scope::new("123456789012", "eu-central-1"));
        assert_eq!(
            scope_of(&HeaderMap::new(), &[]),
            Scope::new(ids::DEFAULT_ACCOUNT, ids::DEFAULT_REGION)
        );
    }
}
