//! Checks a request value against its model shape: required members, types, length and size
//! bounds, integer ranges, enum membership and patterns (full match). Works on the JSON value
//! that the protocol layer assembles from labels, query and body, so one checker serves every
//! operation, including the ones botocore does not check on the client side.

use crate::schema::{Kind, Shape};
use crate::{PATTERNS, SHAPES};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

static COMPILED: LazyLock<Vec<Option<Regex>>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|p| Regex::new(&format!("^(?:{p})$")).ok())
        .collect()
});

/// Whether `s` fully matches pattern number `idx` of the model.
pub fn matches_pattern(idx: usize, s: &str) -> bool {
    match COMPILED.get(idx) {
        Some(Some(re)) => re.is_match(s),
        // A pattern that does not compile is caught by a unit test; never reject on it.
        _ => true,
    }
}

/// Every constraint violation found, in AWS's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<String>);

impl ValidationErrors {
    /// The message AWS sends: "N validation error(s) detected: a; b".
    pub fn message(&self) -> String {
        let n = self.0.len();
        format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            self.0.join("; ")
        )
    }
}

/// Validate `value` against shape `shape`. `value` is the whole input structure.
pub fn validate(shape: usize, value: &Value) -> Result<(), ValidationErrors> {
    let mut errs = Vec::new();
    check(&SHAPES[shape], value, "", &mut errs);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errs))
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_string()
    } else {
        format!("{path}.{seg}")
    }
}

fn shown(shape: &Shape, v: &Value) -> String {
    if shape.sensitive {
        return "Value".to_string();
    }
    match v {
        Value::String(s) => format!("Value '{s}'"),
        other => format!("Value '{other}'"),
    }
}

fn check(shape: &Shape, v: &Value, path: &str, errs: &mut Vec<String>) {
    let at = if path.is_empty() { "input" } else { path };
    match &shape.kind {
        Kind::Structure(members) => {
            let Some(obj) = v.as_object() else {
                errs.push(format!(
                    "Value at '{at}' failed to satisfy constraint: Member must be a structure"
                ));
                return;
            };
            for m in members.iter() {
                let p = join(path, &lower_first(m.name));
                match obj.get(m.name) {
                    None | Some(Value::Null) => {
                        if m.required {
                            errs.push(format!(
                                "Value null at '{p}' failed to satisfy constraint: Member must not be null"
                            ));
                        }
                    }
                    Some(mv) => check(&SHAPES[m.shape], mv, &p, errs),
                }
            }
        }
        Kind::String {
            min,
            max,
            pattern,
            values,
        } => {
            let Some(s) = v.as_str() else {
                errs.push(format!(
                    "Value at '{at}' failed to satisfy constraint: Member must be a string"
                ));
                return;
            };
            let len = s.chars().count() as i64;
            if let Some(min) = min {
                if len < *min {
                    errs.push(format!(
                        "{} at '{at}' failed to satisfy constraint: Member must have length greater than or equal to {min}",
                        shown(shape, v)
                    ));
                }
            }
            if let Some(max) = max {
                if len > *max {
                    errs.push(format!(
                        "{} at '{at}' failed to satisfy constraint: Member must have length less than or equal to {max}",
                        shown(shape, v)
                    ));
                }
            }
            if !values.is_empty() && !values.contains(&s) {
                errs.push(format!(
                    "{} at '{at}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    shown(shape, v),
                    values.join(", ")
                ));
            }
            if let Some(p) = pattern {
                if !matches_pattern(*p, s) {
                    errs.push(format!(
                        "{} at '{at}' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
                        shown(shape, v),
                        PATTERNS[*p]
                    ));
                }
            }
        }
        Kind::Integer { min, max } => {
            let Some(n) = v.as_i64().filter(|_| !v.is_f64()) else {
                errs.push(format!(
                    "Value at '{at}' failed to satisfy constraint: Member must be an integer"
                ));
                return;
            };
            if let Some(min) = min {
                if n < *min {
                    errs.push(format!(
                        "Value '{n}' at '{at}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
                    ));
                }
            }
            if let Some(max) = max {
                if n > *max {
                    errs.push(format!(
                        "Value '{n}' at '{at}' failed to satisfy constraint: Member must have value less than or equal to {max}"
                    ));
                }
            }
            if max.is_none() && n > i64::from(i32::MAX) && shape.name != "Long" {
                errs.push(format!(
                    "Value '{n}' at '{at}' failed to satisfy constraint: Member must fit in a 32-bit integer"
                ));
            }
        }
        Kind::Boolean => {
            if !v.is_boolean() {
                errs.push(format!(
                    "Value at '{at}' failed to satisfy constraint: Member must be a boolean"
                ));
            }
        }
        Kind::Timestamp => {
            if !v.is_number() {
                errs.push(format!(
                    "Value at '{at}' failed to satisfy constraint: Member must be a timestamp"
                ));
            }
        }
        Kind::List { member, min, max } => {
            let Some(items) = v.as_array() else {
                errs.push(format!(
                    "Value at '{at}' failed to satisfy constraint: Member must be a list"
                ));
                return;
            };
            size_bounds(items.len(), *min, *max, at, errs);
            for (i, item) in items.iter().enumerate() {
                check(&SHAPES[*member], item, &format!("{at}.{}.member", i + 1), errs);
            }
        }
        Kind::Map { key, value, min, max } => {
            let Some(obj) = v.as_object() else {
                errs.push(format!(
                    "Value at '{at}' failed to satisfy constraint: Member must be a map"
                ));
                return;
            };
            size_bounds(obj.len(), *min, *max, at, errs);
            for (k, item) in obj {
                check(&SHAPES[*key], &Value::String(k.clone()), &format!("{at}.key"), errs);
                check(&SHAPES[*value], item, &format!("{at}.{k}"), errs);
            }
        }
    }
}

fn size_bounds(len: usize, min: Option<i64>, max: Option<i64>, at: &str, errs: &mut Vec<String>) {
    let len = len as i64;
    if let Some(min) = min {
        if len < min {
            errs.push(format!(
                "Value at '{at}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
            ));
        }
    }
    if let Some(max) = max {
        if len > max {
            errs.push(format!(
                "Value at '{at}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{shape, Op};
    use serde_json::json;

    #[test]
    fn every_pattern_compiles() {
        for (i, p) in PATTERNS.iter().enumerate() {
            assert!(COMPILED[i].is_some(), "pattern {p} does not compile");
        }
    }

    #[test]
    fn description_pattern_is_anchored_and_exact() {
        let d = shape::DESCRIPTION;
        assert!(validate_one(d, "My game 1.0"));
        assert!(!validate_one(d, " leading space"));
        assert!(!validate_one(d, "bad#char"));
        assert!(!validate_one(d, ""));
        assert!(!validate_one(d, &"a".repeat(81)));
    }

    #[test]
    fn identifier_accepts_id_and_arn_only() {
        let i = shape::IDENTIFIER;
        assert!(validate_one(i, "sg-1AB2C3De4"));
        assert!(validate_one(
            i,
            "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-1AB2C3De4"
        ));
        assert!(!validate_one(i, "arn:aws:s3:::bucket"));
        assert!(!validate_one(i, "has space"));
    }

    #[test]
    fn log_output_uri_allows_empty_or_s3() {
        let s = shape::APPLICATION_LOG_OUTPUT_URI;
        assert!(validate_one(s, ""));
        assert!(validate_one(s, "s3://my-bucket/logs/"));
        assert!(!validate_one(s, "http://x"));
    }

    fn validate_one(shape: usize, s: &str) -> bool {
        let mut errs = Vec::new();
        check(&SHAPES[shape], &json!(s), "x", &mut errs);
        errs.is_empty()
    }

    #[test]
    fn structure_checks_required_ranges_and_enums() {
        let input = Op::ListStreamSessionsByAccount.spec().input.unwrap();
        assert!(validate(input, &json!({})).is_ok());
        assert!(validate(input, &json!({"MaxResults": 100, "Status": "ACTIVE"})).is_ok());
        let e = validate(input, &json!({"MaxResults": 101, "Status": "BOGUS"})).unwrap_err();
        assert_eq!(e.0.len(), 2, "{e:?}");
        assert!(e.message().starts_with("2 validation errors detected"));
        let start = Op::StartStreamSession.spec().input.unwrap();
        let e = validate(start, &json!({"Identifier": "sg-1"})).unwrap_err();
        assert_eq!(e.0.len(), 3, "Protocol, SignalRequest, ApplicationIdentifier: {e:?}");
    }

    #[test]
    fn maps_and_lists_check_bounds_and_members() {
        let tags = shape::TAGS;
        let mut errs = Vec::new();
        check(&SHAPES[tags], &json!({}), "tags", &mut errs);
        assert_eq!(errs.len(), 1);
        let env = shape::ENVIRONMENT_VARIABLES;
        let mut errs = Vec::new();
        check(&SHAPES[env], &json!({"1BAD": "x", "OK": "y"}), "env", &mut errs);
        assert_eq!(errs.len(), 1, "{errs:?}");
    }
}
