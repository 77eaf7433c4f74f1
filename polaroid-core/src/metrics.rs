//! What every door reports, in Prometheus' model (prometheus-client):
//! requests by door and outcome, latency by door, rows ingested. Gauges of
//! the core's state (handles, bytes, budget, streams, query slots) are read
//! when scraped.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::core::CoreStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// `grpc`, `flight`, `http`, `ilp-tcp`, `pgwire`.
    door: String,
    /// What the request is (`/exec`, `Fetch`, ...).
    route: String,
    /// The door's own status code (`200`, `400`, `OK`, `NOT_FOUND`).
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DoorLabels {
    door: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    table: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

/// The server's metrics. Cheap to update from any thread.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<DoorLabels, Histogram>,
    ingested: Family<TableLabels, Counter>,
    source_rows: Family<SourceLabels, Counter>,
    source_dropped: Family<SourceLabels, Counter>,
    source_reconnects: Family<SourceLabels, Counter>,
    handles: Gauge,
    handle_bytes: Gauge,
    memory_budget: Gauge,
    active_streams: Gauge,
    running_queries: Gauge,
    queued_queries: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("polaroid");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("requests", "Requests answered, by door, route and status code", requests.clone());
        // 100 µs to ~13 s.
        let latency = Family::<DoorLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        registry.register("request_duration_seconds", "Time to answer a request (to its first byte for streams)", latency.clone());
        let ingested = Family::<TableLabels, Counter>::default();
        registry.register("ingested_rows", "Rows appended to tables (ILP, INSERT, import)", ingested.clone());
        let source_rows = Family::<SourceLabels, Counter>::default();
        registry.register("source_rows", "Rows a live source appended to its table", source_rows.clone());
        let source_dropped = Family::<SourceLabels, Counter>::default();
        registry.register("source_dropped_rows", "Rows a live source dropped because its writer fell behind", source_dropped.clone());
        let source_reconnects = Family::<SourceLabels, Counter>::default();
        registry.register("source_reconnects", "Times a live source reconnected after losing its feed", source_reconnects.clone());
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let handles = gauge(&mut registry, "handles", "Live handles, all tenants");
        let handle_bytes = gauge(&mut registry, "handle_bytes", "Estimated bytes of materialized handles, all tenants");
        let memory_budget = gauge(&mut registry, "memory_budget_bytes", "The memory budget for materialized handles");
        let active_streams = gauge(&mut registry, "active_result_streams", "Results being streamed now (Fetch, DoGet, /exec)");
        let running_queries = gauge(&mut registry, "running_queries", "Requests holding a query slot");
        let queued_queries = gauge(&mut registry, "queued_queries", "Requests waiting for a query slot");
        Self {
            registry,
            requests,
            latency,
            ingested,
            source_rows,
            source_dropped,
            source_reconnects,
            handles,
            handle_bytes,
            memory_budget,
            active_streams,
            running_queries,
            queued_queries,
        }
    }
}

impl Metrics {
    /// One request answered by `door` on `route` with `code`, after `elapsed`.
    pub fn request(&self, door: &str, route: &str, code: &str, elapsed: Duration) {
        let labels = RequestLabels { door: door.into(), route: route.into(), code: code.into() };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&DoorLabels { door: door.into() }).observe(elapsed.as_secs_f64());
    }

    /// A request refused before any timed work (a malformed ILP line):
    /// counted, but kept out of the latency histogram, where a zero would
    /// pull the door's quantiles down.
    pub fn refused(&self, door: &str, route: &str, code: &str) {
        let labels = RequestLabels { door: door.into(), route: route.into(), code: code.into() };
        self.requests.get_or_create(&labels).inc();
    }

    /// Rows appended to `table`.
    pub fn ingested(&self, table: &str, rows: u64) {
        self.ingested.get_or_create(&TableLabels { table: table.into() }).inc_by(rows);
    }

    /// Rows live source `source` appended.
    pub fn source_rows(&self, source: &str, rows: u64) {
        self.source_rows.get_or_create(&SourceLabels { source: source.into() }).inc_by(rows);
    }

    /// Rows live source `source` dropped (its writer fell behind).
    pub fn source_dropped(&self, source: &str, rows: u64) {
        self.source_dropped.get_or_create(&SourceLabels { source: source.into() }).inc_by(rows);
    }

    /// Live source `source` lost its feed and connected again.
    pub fn source_reconnected(&self, source: &str) {
        self.source_reconnects.get_or_create(&SourceLabels { source: source.into() }).inc();
    }

    /// The text exposition format, with gauges read from `stats` (which
    /// must be the server-wide numbers).
    pub fn render(&self, all: &CoreStats) -> String {
        self.handles.set(all.handles as i64);
        self.handle_bytes.set(all.bytes as i64);
        self.memory_budget.set(all.memory_budget as i64);
        self.active_streams.set(all.active_fetches as i64);
        self.running_queries.set(all.running_queries as i64);
        self.queued_queries.set(all.queued_queries as i64);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_request_is_counted_but_not_timed() {
        let metrics = Metrics::default();
        metrics.request("ilp-tcp", "batch", "ok", Duration::from_millis(3));
        metrics.refused("ilp-tcp", "line", "invalid");
        let text = metrics.render(&CoreStats::default());
        let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix} in\n{text}")).to_string();
        assert!(line("polaroid_requests_total{door=\"ilp-tcp\",route=\"line\",code=\"invalid\"}").ends_with(" 1"));
        // One observation (the batch), not two.
        assert!(line("polaroid_request_duration_seconds_count{door=\"ilp-tcp\"}").ends_with(" 1"), "{text}");
    }
}
