//! Optional API rate limits (`--throttle`): a token bucket per (account, region, operation) at
//! the rates AWS documents, answering ThrottlingException (429) when a bucket is empty. Off by
//! default, since clients retry 429s on their own.

use gls_model::Op;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

/// Requests per second AWS allows for an operation, per account and region.
pub fn rate(op: Op) -> f64 {
    use Op::*;
    match op {
        CreateStreamGroup => 1.0,
        AddStreamGroupLocations
        | AssociateApplications
        | CreateApplication
        | DeleteApplication
        | DeleteStreamGroup
        | DisassociateApplications
        | RemoveStreamGroupLocations
        | UpdateApplication
        | UpdateStreamGroup
        | CreateStreamUrl
        | RevokeStreamUrl
        | CreateStreamSessionAdminShell => 5.0,
        GetApplication
        | GetStreamGroup
        | ListApplications
        | ListStreamGroups
        | ListTagsForResource
        | TagResource
        | UntagResource
        | GetStreamUrl
        | ListStreamUrls
        | ListApplicationShaderCaches => 10.0,
        CreateStreamSessionConnection
        | ExportStreamSessionFiles
        | GetStreamSession
        | ListStreamSessions
        | ListStreamSessionsByAccount
        | StartStreamSession
        | TerminateStreamSession => 20.0,
    }
}

/// Tokens left and when they were counted, per (account, region, operation).
type Buckets = HashMap<(String, String, Op), (f64, SystemTime)>;

/// The buckets.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<Buckets>,
}

impl Throttle {
    /// Take a token for this call at `now`; false when the caller is over the rate.
    pub fn admit(&self, account: &str, region: &str, op: Op, now: SystemTime) -> bool {
        let rate = rate(op);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets
            .entry((account.to_string(), region.to_string(), op))
            .or_insert((rate, now));
        let elapsed = now.duration_since(*last).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        *tokens = (*tokens + elapsed * rate).min(rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_allow_the_documented_rate_per_account_region_and_operation() {
        let t = Throttle::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(t.admit("a", "r", Op::CreateStreamGroup, t0));
        assert!(!t.admit("a", "r", Op::CreateStreamGroup, t0 + Duration::from_millis(500)));
        assert!(t.admit("a", "r", Op::CreateStreamGroup, t0 + Duration::from_millis(1_100)));
        assert!(
            t.admit("b", "r", Op::CreateStreamGroup, t0),
            "another account has its own bucket"
        );
        assert!(t.admit("a", "r2", Op::CreateStreamGroup, t0), "another region too");
        let admitted = (0..30).filter(|_| t.admit("a", "r", Op::GetStreamSession, t0)).count();
        assert_eq!(admitted, 20);
        for op in Op::ALL {
            assert!(rate(op) >= 1.0);
        }
    }
}
