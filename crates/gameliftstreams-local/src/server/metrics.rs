//! `GET /_local/metrics`: the server's counters in the Prometheus text format — requests by
//! operation and status, their latency, and at each scrape the sessions by status, timers,
//! export jobs and open streams.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::fmt::Write;

/// An HTTP status as a label value (`"200"`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Status(u16);

impl EncodeLabelValue for Status {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_fmt(format_args!("{}", self.0))
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    operation: &'static str,
    status: Status,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionStatus {
    status: &'static str,
}

type Latency = Family<Operation, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs to about 3.3 s, doubling.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// What a scrape reads from the service and the streams, besides the request counters.
pub struct Snapshot {
    /// Sessions in each status, every account and region.
    pub sessions: Vec<(&'static str, u64)>,
    /// Timers waiting to fire.
    pub timers_pending: i64,
    /// Timers that failed and were set aside.
    pub timers_dead: i64,
    /// Export archives still to be written.
    pub export_jobs: usize,
    /// Sessions with a client connected to their stream.
    pub open_streams: usize,
}

/// The request counters, shared by every connection; a request costs two map lookups under
/// read locks and three atomic adds.
pub struct Metrics {
    registry: Registry,
    requests: Family<Request, Counter>,
    latency: Latency,
    sessions: Family<SessionStatus, Gauge>,
    timers_pending: Gauge,
    timers_dead: Gauge,
    export_jobs: Gauge,
    open_streams: Gauge,
    /// Serializes scrapes: each sets the gauges, then encodes them.
    scrape: std::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gameliftstreams");
        let requests = Family::<Request, Counter>::default();
        registry.register(
            "requests",
            "AWS API requests answered, by operation (- when none matched) and HTTP status",
            requests.clone(),
        );
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Time from a request's body read to its answer, by operation",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let sessions = Family::<SessionStatus, Gauge>::default();
        registry.register(
            "sessions",
            "Stream sessions in the store by status (every account and region)",
            sessions.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let timers_pending = gauge(&mut registry, "timers_pending", "Timed transitions waiting to fire");
        let timers_dead = gauge(
            &mut registry,
            "timers_dead",
            "Timed transitions that failed and were set aside",
        );
        let export_jobs = gauge(
            &mut registry,
            "export_jobs_pending",
            "Export archives still to be written",
        );
        let open_streams = gauge(
            &mut registry,
            "streams_open",
            "Sessions with a client connected to their stream",
        );
        Metrics {
            registry,
            requests,
            latency,
            sessions,
            timers_pending,
            timers_dead,
            export_jobs,
            open_streams,
            scrape: Default::default(),
        }
    }
}

impl Metrics {
    /// Count one answered request.
    pub fn record(&self, operation: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&Request {
                operation,
                status: Status(status),
            })
            .inc();
        self.latency.get_or_create(&Operation { operation }).observe(seconds);
    }

    /// The text exposition format, with the gauges set from `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> Result<String, std::fmt::Error> {
        let _one = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.sessions.clear();
        for (status, n) in &snapshot.sessions {
            self.sessions
                .get_or_create(&SessionStatus { status })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        self.timers_pending.set(snapshot.timers_pending);
        self.timers_dead.set(snapshot.timers_dead);
        self.export_jobs
            .set(i64::try_from(snapshot.export_jobs).unwrap_or(i64::MAX));
        self.open_streams
            .set(i64::try_from(snapshot.open_streams).unwrap_or(i64::MAX));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_latency_and_gauges_are_in_the_text_format() {
        let m = Metrics::default();
        m.record("ListStreamGroups", 200, 0.0004);
        m.record("ListStreamGroups", 200, 0.002);
        m.record("GetApplication", 404, 0.001);
        let text = m
            .render(&Snapshot {
                sessions: vec![("ACTIVE", 3), ("TERMINATED", 7)],
                timers_pending: 2,
                timers_dead: 0,
                export_jobs: 1,
                open_streams: 1,
            })
            .unwrap();
        for line in [
            "gameliftstreams_requests_total{operation=\"ListStreamGroups\",status=\"200\"} 2",
            "gameliftstreams_requests_total{operation=\"GetApplication\",status=\"404\"} 1",
            "gameliftstreams_request_duration_seconds_count{operation=\"ListStreamGroups\"} 2",
            "gameliftstreams_sessions{status=\"TERMINATED\"} 7",
            "gameliftstreams_timers_pending 2",
            "gameliftstreams_export_jobs_pending 1",
            "gameliftstreams_streams_open 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
