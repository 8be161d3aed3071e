//! Resource IDs and ARNs in the real service's formats, the caller's scope (account and
//! region), and resolution of `*Identifier` inputs that may be an ID or a full ARN.

use super::ApiError;
use rand::Rng;

/// The account used when the access key id is not a 12-digit account number.
pub const DEFAULT_ACCOUNT: &str = "111122223333";
/// The region used when a request carries no credential scope.
pub const DEFAULT_REGION: &str = "us-west-2";

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Who is calling and where: every resource lives in one (account, region).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The 12-digit account id.
    pub account: String,
    /// The region name.
    pub region: String,
}

impl Scope {
    /// A scope from its parts.
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        Scope {
            account: account.into(),
            region: region.into(),
        }
    }

    fn arn(&self, resource: &str) -> String {
        format!("arn:aws:gameliftstreams:{}:{}:{resource}", self.region, self.account)
    }
    /// ARN of an application.
    pub fn app_arn(&self, id: &str) -> String {
        self.arn(&format!("application/{id}"))
    }
    /// ARN of a stream group.
    pub fn group_arn(&self, id: &str) -> String {
        self.arn(&format!("streamgroup/{id}"))
    }
    /// ARN of a stream session.
    pub fn session_arn(&self, group_id: &str, id: &str) -> String {
        self.arn(&format!("streamsession/{group_id}/{id}"))
    }
}

/// The account an access key id stands for: itself when it is 12 digits.
pub fn account_for_access_key(akid: &str) -> String {
    if akid.len() == 12 && akid.bytes().all(|b| b.is_ascii_digit()) {
        akid.to_string()
    } else {
        DEFAULT_ACCOUNT.to_string()
    }
}

/// `n` random lowercase hex digits: secrets, request and fault ids.
pub fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16usize)]))
        .collect()
}

fn random_chars(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

/// A new application id, `a-` and nine alphanumerics.
pub fn new_app_id(rng: &mut impl Rng) -> String {
    format!("a-{}", random_chars(rng, 9))
}
/// A new stream group id, `sg-` and nine alphanumerics.
pub fn new_group_id(rng: &mut impl Rng) -> String {
    format!("sg-{}", random_chars(rng, 9))
}
/// A new stream session id, thirteen alphanumerics.
pub fn new_session_id(rng: &mut impl Rng) -> String {
    random_chars(rng, 13)
}

/// The parts of one of this service's ARNs.
#[derive(Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    /// Region field.
    pub region: &'a str,
    /// Account field.
    pub account: &'a str,
    /// Resource type (`application`, `streamgroup`, `streamsession`, ...).
    pub kind: &'a str,
    /// The path after the type, split on `/`.
    pub path: Vec<&'a str>,
}

/// Parse `arn:aws:gameliftstreams:<region>:<account>:<type>/<id>[/<id>]`.
pub fn parse_arn(s: &str) -> Option<Arn<'_>> {
    let rest = s.strip_prefix("arn:aws:gameliftstreams:")?;
    let mut parts = rest.splitn(3, ':');
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    let mut segs = resource.split('/');
    let kind = segs.next()?;
    let path: Vec<&str> = segs.collect();
    if path.is_empty() || path.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some(Arn {
        region,
        account,
        kind,
        path,
    })
}

fn resolve<'a>(scope: &Scope, ident: &'a str, kind: &str, what: &str, segs: usize) -> Result<Vec<&'a str>, ApiError> {
    if !ident.starts_with("arn:") {
        return Ok(vec![ident]);
    }
    let not_found = || ApiError::not_found(format!("{what} {ident} not found"));
    let arn = parse_arn(ident).ok_or_else(not_found)?;
    if arn.region != scope.region || arn.account != scope.account || arn.kind != kind || arn.path.len() != segs {
        return Err(not_found());
    }
    Ok(arn.path)
}

/// The application id named by an ID or ARN in this scope.
pub fn resolve_app(scope: &Scope, ident: &str) -> Result<String, ApiError> {
    Ok(resolve(scope, ident, "application", "Application", 1)?[0].to_string())
}

/// The stream group id named by an ID or ARN in this scope.
pub fn resolve_group(scope: &Scope, ident: &str) -> Result<String, ApiError> {
    Ok(resolve(scope, ident, "streamgroup", "Stream group", 1)?[0].to_string())
}

/// The session id named by an ID or ARN, which must belong to `group_id`.
pub fn resolve_session(scope: &Scope, group_id: &str, ident: &str) -> Result<String, ApiError> {
    resolve_child(scope, group_id, ident, "streamsession", "Stream session")
}

/// The stream URL id named by an ID or ARN, which must belong to `group_id`.
pub fn resolve_url(scope: &Scope, group_id: &str, ident: &str) -> Result<String, ApiError> {
    resolve_child(scope, group_id, ident, "streamurl", "Stream URL")
}

fn resolve_child(scope: &Scope, group_id: &str, ident: &str, kind: &str, what: &str) -> Result<String, ApiError> {
    let path = resolve(scope, ident, kind, what, 2)?;
    match path.as_slice() {
        [id] => Ok((*id).to_string()),
        [sg, id] if *sg == group_id => Ok((*id).to_string()),
        _ => Err(ApiError::not_found(format!(
            "{what} {ident} not found in stream group {group_id}"
        ))),
    }
}

/// A new stream URL id, `su-` and nine alphanumerics.
pub fn new_url_id(rng: &mut impl Rng) -> String {
    format!("su-{}", random_chars(rng, 9))
}

impl Scope {
    /// ARN of a stream URL.
    pub fn url_arn(&self, group_id: &str, id: &str) -> String {
        self.arn(&format!("streamurl/{group_id}/{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn scope() -> Scope {
        Scope::new("111122223333", "us-west-2")
    }

    #[test]
    fn ids_have_the_real_formats() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = new_app_id(&mut rng);
        assert!(a.starts_with("a-") && a.len() == 11);
        let g = new_group_id(&mut rng);
        assert!(g.starts_with("sg-") && g.len() == 12);
        let s = new_session_id(&mut rng);
        assert_eq!(s.len(), 13);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn arns_round_trip() {
        let s = scope();
        let arn = s.session_arn("sg-1AB2C3De4", "ABC123def4567");
        assert_eq!(
            arn,
            "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-1AB2C3De4/ABC123def4567"
        );
        let p = parse_arn(&arn).unwrap();
        assert_eq!(p.kind, "streamsession");
        assert_eq!(p.path, vec!["sg-1AB2C3De4", "ABC123def4567"]);
        assert_eq!(resolve_session(&s, "sg-1AB2C3De4", &arn).unwrap(), "ABC123def4567");
    }

    #[test]
    fn foreign_or_mismatched_arns_are_not_found() {
        let s = scope();
        let other_region = "arn:aws:gameliftstreams:us-east-2:111122223333:streamgroup/sg-1AB2C3De4";
        assert!(resolve_group(&s, other_region).is_err());
        let other_account = "arn:aws:gameliftstreams:us-west-2:999999999999:streamgroup/sg-1AB2C3De4";
        assert!(resolve_group(&s, other_account).is_err());
        assert!(
            resolve_app(&s, &s.group_arn("sg-1")).is_err(),
            "a group ARN is not an application"
        );
        let sess = s.session_arn("sg-other", "ABC123def4567");
        assert!(resolve_session(&s, "sg-1AB2C3De4", &sess).is_err());
        assert_eq!(resolve_group(&s, "sg-1AB2C3De4").unwrap(), "sg-1AB2C3De4");
        assert_eq!(resolve_app(&s, &s.app_arn("a-9ZY8X7Wv6")).unwrap(), "a-9ZY8X7Wv6");
    }

    #[test]
    fn account_comes_from_numeric_access_keys_only() {
        assert_eq!(account_for_access_key("123456789012"), "123456789012");
        assert_eq!(account_for_access_key("AKIAEXAMPLE"), DEFAULT_ACCOUNT);
        assert_eq!(account_for_access_key("12345678901"), DEFAULT_ACCOUNT);
    }
}
