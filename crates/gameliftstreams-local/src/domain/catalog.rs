//! Static facts of the service: streaming locations, stream classes (tenancy, OS family),
//! runtime environments and which runtimes a class can run.

use gls_model::{RuntimeEnvironmentType, StreamClass};

/// The locations a stream group can stream from.
pub const LOCATIONS: [&str; 12] = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-north-1",
    "sa-east-1",
];

/// Whether `name` is a region of the service, one whose name a request may be signed for:
/// the regions it streams from (its four primary regions among them).
pub fn is_region(name: &str) -> bool {
    is_location(name)
}

/// Whether `name` is a streaming location.
pub fn is_location(name: &str) -> bool {
    LOCATIONS.contains(&name)
}

/// How many stream sessions one host of the class runs.
pub fn tenancy(class: StreamClass) -> i32 {
    use StreamClass::*;
    match class {
        Gen4nHigh | Gen5nHigh | Gen6nHigh => 2,
        Gen6nSmall => 12,
        Gen6nMedium => 4,
        _ => 1,
    }
}

/// Whether the class runs Windows (the `*_win2022` classes).
pub fn is_windows_class(class: StreamClass) -> bool {
    class.as_str().ends_with("_win2022")
}

/// Whether an application with this runtime can run on the class.
pub fn runtime_fits_class(runtime: RuntimeEnvironmentType, class: StreamClass) -> bool {
    match runtime {
        RuntimeEnvironmentType::Windows => is_windows_class(class),
        RuntimeEnvironmentType::Ubuntu | RuntimeEnvironmentType::Proton => !is_windows_class(class),
    }
}

/// The runtime versions the service offers for each type.
pub fn runtime_versions(t: RuntimeEnvironmentType) -> &'static [&'static str] {
    match t {
        RuntimeEnvironmentType::Ubuntu => &["22_04_LTS"],
        RuntimeEnvironmentType::Windows => &["2022"],
        RuntimeEnvironmentType::Proton => &["20260204", "20250516", "20241007", "20230704"],
    }
}

/// The one bucket-name rule: 3 to 63 lowercase letters, digits, dots and hyphens, beginning
/// and ending with a letter or digit.
pub fn is_bucket_name(bucket: &str) -> bool {
    let b = bucket.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Whether an S3 URI names a valid bucket (`s3://bucket[/key]`).
pub fn is_s3_uri(uri: &str) -> bool {
    uri.strip_prefix("s3://")
        .is_some_and(|rest| is_bucket_name(rest.split('/').next().unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_runtimes() {
        assert_eq!(tenancy(StreamClass::Gen4nHigh), 2);
        assert_eq!(tenancy(StreamClass::Gen6nSmall), 12);
        assert_eq!(tenancy(StreamClass::Gen6ePro), 1);
        assert!(runtime_fits_class(
            RuntimeEnvironmentType::Windows,
            StreamClass::Gen5nWin2022
        ));
        assert!(!runtime_fits_class(
            RuntimeEnvironmentType::Proton,
            StreamClass::Gen5nWin2022
        ));
        assert!(runtime_fits_class(
            RuntimeEnvironmentType::Proton,
            StreamClass::Gen6nUltra
        ));
        assert!(is_s3_uri("s3://my-bucket/game"));
        assert!(!is_s3_uri("s3://ab"));
        assert!(!is_s3_uri("https://x/y"));
        assert!(!is_s3_uri("s3://-bucket/x"));
        assert!(!is_s3_uri("s3://bucket-/x"));
        assert!(!is_bucket_name("My_Bucket"));
    }
}

/// The GPU family a class's quota is counted in.
pub fn gpu_family(class: StreamClass) -> &'static str {
    let s = class.as_str();
    s.split('_').next().unwrap_or(s)
}

/// Service quotas; exceeding one answers ServiceQuotaExceededException (402).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Applications per account and region (adjustable in AWS; default 20 there).
    pub applications: i64,
    /// GPUs per stream-class family per location, over all groups of the account and region
    /// (adjustable; 0 in new AWS accounts).
    pub gpus_per_family_location: i64,
    /// GPUs in one stream group over all its locations.
    pub gpus_per_group: i64,
    /// Applications associated with one stream group.
    pub apps_per_group: usize,
    /// Stream groups one application is associated with.
    pub groups_per_app: usize,
}

impl Quotas {
    /// Adjustable quotas raised so that tests rarely meet them; fixed limits as in AWS. The
    /// GPU quota is ten times what a seeded or demo stream group can take in one location (at
    /// most 100 GPUs), so that a seeded account still has room for whatever is created next.
    pub fn generous() -> Self {
        Quotas {
            applications: 200,
            gpus_per_family_location: 1_000,
            gpus_per_group: 2_500,
            apps_per_group: 100,
            groups_per_app: 100,
        }
    }

    /// What a new AWS account has: 20 applications per region and no GPU quota at all.
    pub fn realistic() -> Self {
        Quotas {
            applications: 20,
            gpus_per_family_location: 0,
            ..Self::generous()
        }
    }
}

impl Default for Quotas {
    fn default() -> Self {
        Self::generous()
    }
}

/// GPUs a location configuration holds: its maximum capacity in whole hosts.
pub fn gpus(class: StreamClass, maximum_capacity: i32) -> i64 {
    let t = i64::from(tenancy(class));
    (i64::from(maximum_capacity.max(0)) + t - 1) / t
}
