//! Strict mode: SigV4 verification against the keys of a credentials file. The expected
//! signature is computed with the official `aws-sigv4` signer over exactly the headers the
//! client says it signed; failures answer the codes AWS uses. The 15-minute skew window is
//! checked against the real wall clock, never the advanceable service clock.

use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use axum::http::HeaderMap;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The service name requests must be signed for.
pub const SERVICE: &str = "gameliftstreams";
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The refusal of a request that carries no signature at all.
pub fn missing_signature() -> AuthError {
    AuthError {
        status: 403,
        code: "MissingAuthenticationTokenException",
        message: "Missing Authentication Token".into(),
    }
}

/// Whether a request carries a signature to check (header or presigned query), judged from
/// its head alone.
pub fn is_signed(headers: &HeaderMap, query: Option<&str>) -> bool {
    headers.contains_key(axum::http::header::AUTHORIZATION) || query.is_some_and(|q| q.contains("X-Amz-Signature="))
}

/// Who a verified request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The access key id that signed it.
    pub access_key: String,
    /// The account that key belongs to.
    pub account: String,
    /// The region of the credential scope.
    pub region: String,
    /// The key is marked `admin = true`: it may reset every account.
    pub admin: bool,
}

/// A rejected request, as AWS answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// HTTP status.
    pub status: u16,
    /// The `x-amzn-ErrorType`.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

fn incomplete(message: impl Into<String>) -> AuthError {
    AuthError {
        status: 400,
        code: "IncompleteSignatureException",
        message: message.into(),
    }
}

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError {
        status: 403,
        code: "InvalidSignatureException",
        message: message.into(),
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    credentials: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
    /// May act on every account through the admin API (`POST /_local/reset` of everything).
    #[serde(default)]
    admin: bool,
}

/// The configured keys.
#[derive(Debug, Default)]
pub struct Verifier {
    keys: HashMap<String, (String, String)>,
    admins: std::collections::HashSet<String>,
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthError> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        incomplete(format!(
            "Authorization header requires the AWS4-HMAC-SHA256 algorithm. Authorization={value}"
        ))
    })?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let need = |name: &str| {
        incomplete(format!(
            "Authorization header requires '{name}' parameter. Authorization={value}"
        ))
    };
    let credential = credential.ok_or_else(|| need("Credential"))?;
    let signed = signed.ok_or_else(|| need("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| need("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(incomplete(format!(
            "Credential should be scoped to a valid region, service and aws4_request terminator. Credential={credential}"
        )));
    };
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(incomplete("Signature must be 64 hexadecimal characters."));
    }
    Ok(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.split(';').filter(|h| !h.is_empty()).collect(),
        signature,
    })
}

/// Seconds since the epoch of `YYYYMMDDTHHMMSSZ`.
fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))?
            .parse::<i64>()
            .ok()
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let stamp = crate::domain::lifecycle::export_stamp(gls_model::Timestamp(secs * 1000));
    // export_stamp is YYYYMMDD-HHMMSS.
    format!("{}T{}Z", &stamp[0..8], &stamp[9..15])
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Verifier {
    /// Read a credentials file: `[[credentials]]` tables with `access_key_id`,
    /// `secret_access_key` and `account_id` (12 digits).
    pub fn from_toml(text: &str) -> Result<Verifier, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.credentials.is_empty() {
            return Err("no [[credentials]] entries".to_string());
        }
        let mut keys = HashMap::new();
        let mut admins = std::collections::HashSet::new();
        for e in file.credentials {
            if e.account_id.len() != 12 || !e.account_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "account_id {:?} of {} is not 12 digits",
                    e.account_id, e.access_key_id
                ));
            }
            if e.access_key_id.is_empty() || e.secret_access_key.is_empty() {
                return Err("access_key_id and secret_access_key must not be empty".to_string());
            }
            if e.admin {
                admins.insert(e.access_key_id.clone());
            }
            keys.insert(e.access_key_id, (e.secret_access_key, e.account_id));
        }
        Ok(Verifier { keys, admins })
    }

    /// Check a request's signature. `path_and_query` is the raw request target.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        wall_now: SystemTime,
    ) -> Result<Caller, AuthError> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            if path_and_query.contains("X-Amz-Signature=") {
                return self.verify_presigned(method, path_and_query, headers, body, wall_now);
            }
            return Err(missing_signature());
        };
        let value = value
            .to_str()
            .map_err(|_| incomplete("The Authorization header is not valid text."))?;
        let auth = parse_authorization(value)?;
        let (secret, account) = self.key(&auth)?;
        let date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or_else(|| {
            incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        })?;
        let signed_time = signing_time(date)?;
        if &date[..8] != auth.date {
            return Err(invalid(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
                auth.date,
                &date[..8]
            )));
        }
        if signed_time + MAX_SKEW < wall_now {
            return Err(invalid(format!(
                "Signature expired: {date} is now earlier than {} ({} - 15 min.)",
                amz_date(wall_now - MAX_SKEW),
                amz_date(wall_now)
            )));
        }
        not_in_the_future(date, signed_time, wall_now)?;
        if !auth.signed_headers.contains(&"host") {
            return Err(incomplete("The host header must be signed."));
        }
        let signed = signed_headers(&auth, headers)?;
        let body = match headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()) {
            Some(h) => SignableBody::Precomputed(h.to_string()),
            None => SignableBody::Bytes(body),
        };
        let expected = signature(
            &auth,
            secret,
            method,
            path_and_query,
            &signed,
            body,
            signed_time,
            SigningSettings::default(),
        )?;
        if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
            return Err(mismatch());
        }
        Ok(self.caller(&auth, account))
    }

    /// The query-string form: `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
    /// `X-Amz-Expires`, `X-Amz-SignedHeaders` and `X-Amz-Signature` in the URL; valid from
    /// 15 minutes before its date until it expires.
    fn verify_presigned(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        wall_now: SystemTime,
    ) -> Result<Caller, AuthError> {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut params: HashMap<&str, String> = HashMap::new();
        let mut kept: Vec<&str> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "X-Amz-Algorithm"
                | "X-Amz-Credential"
                | "X-Amz-Date"
                | "X-Amz-Expires"
                | "X-Amz-SignedHeaders"
                | "X-Amz-Signature"
                | "X-Amz-Security-Token" => {
                    params.insert(
                        k,
                        percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned(),
                    );
                }
                _ => kept.push(pair),
            }
        }
        let get = |k: &str| {
            params
                .get(k)
                .map(String::as_str)
                .ok_or_else(|| incomplete(format!("The presigned URL lacks {k}.")))
        };
        if get("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
            return Err(incomplete("X-Amz-Algorithm must be AWS4-HMAC-SHA256."));
        }
        // The same parts as the header form, read through one Authorization value.
        let header = format!(
            "AWS4-HMAC-SHA256 Credential={}, SignedHeaders={}, Signature={}",
            get("X-Amz-Credential")?,
            get("X-Amz-SignedHeaders")?,
            get("X-Amz-Signature")?
        );
        let auth = parse_authorization(&header)?;
        let (secret, account) = self.key(&auth)?;
        let date = get("X-Amz-Date")?;
        let signed_time = signing_time(date)?;
        let expires: u64 = get("X-Amz-Expires")?
            .parse()
            .map_err(|_| incomplete("X-Amz-Expires must be a number of seconds."))?;
        if expires > 604_800 {
            return Err(invalid("X-Amz-Expires must be at most 604800 seconds (7 days)."));
        }
        not_in_the_future(date, signed_time, wall_now)?;
        if signed_time + Duration::from_secs(expires) < wall_now {
            return Err(invalid(format!(
                "Signature expired: {date} + {expires} s is now earlier than {}",
                amz_date(wall_now)
            )));
        }
        let signed = signed_headers(&auth, headers)?;
        let target = if kept.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", kept.join("&"))
        };
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires));
        // Clients sign the body's hash or, as for most presigned URLs, UNSIGNED-PAYLOAD.
        for payload in [SignableBody::Bytes(body), SignableBody::UnsignedPayload] {
            let expected = signature(
                &auth,
                secret,
                method,
                &target,
                &signed,
                payload,
                signed_time,
                settings.clone(),
            )?;
            if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
                return Ok(self.caller(&auth, account));
            }
        }
        Err(mismatch())
    }

    /// The secret and account of the signing key, for this service's scope.
    fn key(&self, auth: &Authorization<'_>) -> Result<(&str, &str), AuthError> {
        let Some((secret, account)) = self.keys.get(auth.access_key) else {
            return Err(AuthError {
                status: 403,
                code: "UnrecognizedClientException",
                message: "The security token included in the request is invalid.".into(),
            });
        };
        if auth.service != SERVICE {
            return Err(invalid(format!(
                "Credential should be scoped to correct service: '{SERVICE}'."
            )));
        }
        Ok((secret, account))
    }
}

impl Verifier {
    fn caller(&self, auth: &Authorization<'_>, account: &str) -> Caller {
        Caller {
            access_key: auth.access_key.to_string(),
            account: account.to_string(),
            region: auth.region.to_string(),
            admin: self.admins.contains(auth.access_key),
        }
    }
}

fn mismatch() -> AuthError {
    invalid(
        "The request signature we calculated does not match the signature you provided. Check your AWS \
         Secret Access Key and signing method. Consult the service documentation for details.",
    )
}

/// The time an `X-Amz-Date` names.
fn signing_time(date: &str) -> Result<SystemTime, AuthError> {
    let secs = parse_amz_date(date).ok_or_else(|| incomplete(format!("X-Amz-Date {date} is not a valid date.")))?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

fn not_in_the_future(date: &str, signed_time: SystemTime, wall_now: SystemTime) -> Result<(), AuthError> {
    if signed_time > wall_now + MAX_SKEW {
        return Err(invalid(format!(
            "Signature not yet current: {date} is still later than {} ({} + 15 min.)",
            amz_date(wall_now + MAX_SKEW),
            amz_date(wall_now)
        )));
    }
    Ok(())
}

/// Exactly the headers the client signed, as it sent them.
fn signed_headers<'a, 'h>(
    auth: &Authorization<'a>,
    headers: &'h HeaderMap,
) -> Result<Vec<(&'a str, &'h str)>, AuthError> {
    let mut signed = Vec::new();
    for name in &auth.signed_headers {
        for v in headers.get_all(*name) {
            let v = v
                .to_str()
                .map_err(|_| incomplete(format!("Header {name} is not valid text.")))?;
            signed.push((*name, v));
        }
    }
    Ok(signed)
}

/// The signature the official signer computes for this request with the client's key, scope
/// and time, over exactly `signed` (double URI encoding, no header left out).
#[allow(clippy::too_many_arguments)]
fn signature(
    auth: &Authorization<'_>,
    secret: &str,
    method: &str,
    target: &str,
    signed: &[(&str, &str)],
    body: SignableBody<'_>,
    time: SystemTime,
    mut settings: SigningSettings,
) -> Result<String, AuthError> {
    settings.percent_encoding_mode = PercentEncodingMode::Double;
    settings.excluded_headers = Some(Vec::new());
    let identity =
        aws_credential_types::Credentials::new(auth.access_key, secret, None, None, "credentials-file").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(SERVICE)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| incomplete(e.to_string()))?
        .into();
    let request = SignableRequest::new(method, target, signed.iter().copied(), body)
        .map_err(|e| incomplete(format!("The request cannot be canonicalized: {e}")))?;
    Ok(sign(request, &params)
        .map_err(|e| incomplete(e.to_string()))?
        .into_parts()
        .1)
}

#[cfg(test)]
mod tests;
