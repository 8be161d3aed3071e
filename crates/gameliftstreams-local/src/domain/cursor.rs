//! The pagination cursor: an opaque, authenticated `NextToken` that names a position (the
//! last key returned) in a (CreatedAt, Id) ordered listing, bound to the operation, account,
//! region, parent resource and filter values it was issued for.
//!
//! Layout before the MAC: version (1) | binding hash (8) | expires at (8) | created at (8) |
//! id (utf-8). The MAC is HMAC-SHA256 over that, cut to 16 bytes, and the whole is hex: URL-safe,
//! never base64 of JSON and never holding `___`, so botocore passes it through untouched.

use super::ApiError;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 8 + 8 + 8;
/// How long a token stays valid, in milliseconds of service time.
pub const TOKEN_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// A position in a listing: the last key already returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// CreatedAt of the last item, epoch millis.
    pub created_at: i64,
    /// Id of the last item.
    pub id: String,
}

/// What a token is bound to: it is only valid for the same listing.
#[derive(Debug)]
pub struct Binding<'a> {
    /// The operation name.
    pub operation: &'a str,
    /// Caller's account.
    pub account: &'a str,
    /// Caller's region.
    pub region: &'a str,
    /// The parent resource (stream group id) or "".
    pub parent: &'a str,
    /// Filter values in a fixed order, "" for absent.
    pub filters: &'a [&'a str],
}

impl Binding<'_> {
    fn hash(&self) -> [u8; 8] {
        let mut h = Sha256::new();
        for part in [self.operation, self.account, self.region, self.parent]
            .iter()
            .chain(self.filters)
        {
            h.update((part.len() as u32).to_be_bytes());
            h.update(part.as_bytes());
        }
        let d = h.finalize();
        let mut out = [0u8; 8];
        out.copy_from_slice(&d[..8]);
        out
    }
}

/// Issues and checks tokens with a per-data-dir secret.
#[derive(Clone)]
pub struct TokenCodec {
    secret: Vec<u8>,
}

fn invalid() -> ApiError {
    ApiError::validation("The NextToken is not valid for this request.")
}

impl TokenCodec {
    /// A codec keyed with `secret`.
    pub fn new(secret: Vec<u8>) -> Self {
        TokenCodec { secret }
    }

    fn mac(&self, data: &[u8]) -> [u8; MAC_LEN] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!());
        m.update(data);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// A keyed digest of `subject` for `purpose` (hex): a capability that only this data dir
    /// issues, such as the play page's right to connect to one session.
    pub fn capability(&self, purpose: &str, subject: &str) -> String {
        let mut data = Vec::with_capacity(purpose.len() + 1 + subject.len());
        data.extend_from_slice(purpose.as_bytes());
        data.push(0);
        data.extend_from_slice(subject.as_bytes());
        hex::encode(self.mac(&data))
    }

    /// Whether `token` is the capability for `subject` and `purpose` (constant time).
    pub fn is_capability(&self, purpose: &str, subject: &str, token: &str) -> bool {
        let want = self.capability(purpose, subject);
        want.len() == token.len() && want.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    /// A token for the position after `pos`, issued at `now_ms`.
    pub fn encode(&self, binding: &Binding<'_>, pos: &Position, now_ms: i64) -> String {
        let mut data = Vec::with_capacity(HEADER_LEN + pos.id.len() + MAC_LEN);
        data.push(VERSION);
        data.extend_from_slice(&binding.hash());
        data.extend_from_slice(&(now_ms + TOKEN_LIFETIME_MS).to_be_bytes());
        data.extend_from_slice(&pos.created_at.to_be_bytes());
        data.extend_from_slice(pos.id.as_bytes());
        let mac = self.mac(&data);
        data.extend_from_slice(&mac);
        hex::encode(data)
    }

    /// The position a token names, if it is authentic, unexpired and issued for `binding`.
    pub fn decode(&self, binding: &Binding<'_>, token: &str, now_ms: i64) -> Result<Position, ApiError> {
        if !token.len().is_multiple_of(2) || token.len() < 2 * (HEADER_LEN + 1 + MAC_LEN) || token.len() > 512 {
            return Err(invalid());
        }
        let data = hex::decode(token).map_err(|_| invalid())?;
        let (body, mac) = data.split_at(data.len() - MAC_LEN);
        // Constant-time comparison through the hmac crate's verifier.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).map_err(|_| invalid())?;
        m.update(body);
        m.verify_truncated_left(mac).map_err(|_| invalid())?;
        if body[0] != VERSION || body[1..9] != binding.hash() {
            return Err(invalid());
        }
        let field = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[at..at + 8]);
            i64::from_be_bytes(b)
        };
        if field(9) < now_ms {
            return Err(ApiError::validation(
                "The NextToken has expired. Start the listing again.",
            ));
        }
        let id = String::from_utf8(body[HEADER_LEN..].to_vec()).map_err(|_| invalid())?;
        Ok(Position {
            created_at: field(17),
            id,
        })
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    const FILTERS: &[&str] = &["ACTIVE", ""];

    fn binding() -> Binding<'static> {
        Binding {
            operation: "ListStreamSessionsByAccount",
            account: "111122223333",
            region: "us-west-2",
            parent: "",
            filters: FILTERS,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any text is a token or a ValidationException, never a panic.
        #[test]
        fn any_text_decodes_or_is_refused(token in "\\PC{0,600}") {
            let c = TokenCodec::new(b"secret".to_vec());
            if let Err(e) = c.decode(&binding(), &token, 0) {
                prop_assert_eq!(e.code, gls_model::ErrorCode::ValidationException);
            }
        }

        /// Hex of every length, the decoder's own alphabet.
        #[test]
        fn any_hex_decodes_or_is_refused(token in "[0-9a-fA-F]{0,520}") {
            let c = TokenCodec::new(b"secret".to_vec());
            let _ = c.decode(&binding(), &token, 0);
        }

        /// A token changed in one place is refused (or, if the change is a no-op, the same).
        #[test]
        fn a_changed_token_is_refused(created in any::<i64>(), id in "[A-Za-z0-9]{1,40}", at in any::<usize>(), to in "[0-9a-z]") {
            let c = TokenCodec::new(b"secret".to_vec());
            let pos = Position { created_at: created, id };
            let token = c.encode(&binding(), &pos, 0);
            let mut bytes = token.clone().into_bytes();
            let i = at % bytes.len();
            bytes[i] = to.as_bytes()[0];
            let changed = String::from_utf8(bytes).unwrap_or_default();
            match c.decode(&binding(), &changed, 1) {
                Ok(p) => prop_assert!(changed.eq_ignore_ascii_case(&token) && p == pos),
                Err(e) => prop_assert_eq!(e.code, gls_model::ErrorCode::ValidationException),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding<'a>(filters: &'a [&'a str]) -> Binding<'a> {
        Binding {
            operation: "ListStreamSessionsByAccount",
            account: "111122223333",
            region: "us-west-2",
            parent: "",
            filters,
        }
    }

    #[test]
    fn round_trips_and_is_reusable() {
        let c = TokenCodec::new(b"secret".to_vec());
        let pos = Position {
            created_at: 1_753_307_934_293,
            id: "ABC123def4567".into(),
        };
        let t = c.encode(&binding(&["ACTIVE", ""]), &pos, 0);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!t.contains("___"));
        assert_eq!(c.decode(&binding(&["ACTIVE", ""]), &t, 1).unwrap(), pos);
        assert_eq!(
            c.decode(&binding(&["ACTIVE", ""]), &t, 2).unwrap(),
            pos,
            "a token can be used again"
        );
    }

    #[test]
    fn rejects_tampering_foreign_bindings_and_expiry() {
        let c = TokenCodec::new(b"secret".to_vec());
        let pos = Position {
            created_at: 5,
            id: "X".into(),
        };
        let t = c.encode(&binding(&["ACTIVE", ""]), &pos, 0);
        let mut bad = t.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(c.decode(&binding(&["ACTIVE", ""]), &bad, 0).is_err());
        assert!(c.decode(&binding(&["CONNECTED", ""]), &t, 0).is_err(), "other filters");
        let other = Binding {
            account: "999999999999",
            ..binding(&["ACTIVE", ""])
        };
        assert!(c.decode(&other, &t, 0).is_err(), "other account");
        assert!(TokenCodec::new(b"other".to_vec())
            .decode(&binding(&["ACTIVE", ""]), &t, 0)
            .is_err());
        assert!(
            c.decode(&binding(&["ACTIVE", ""]), &t, TOKEN_LIFETIME_MS + 1).is_err(),
            "expired"
        );
        for garbage in ["", "abc", "zz", "eyJOZXh0VG9rZW4iOiAiMiJ9", &"0".repeat(1000)] {
            let e = c.decode(&binding(&["ACTIVE", ""]), garbage, 0).unwrap_err();
            assert_eq!(e.code, gls_model::ErrorCode::ValidationException);
        }
    }
}
