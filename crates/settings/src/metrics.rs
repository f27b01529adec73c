//! Session statistics metrics: the names, kinds and value indices that
//! `session_stats_metrics()` lists and `session_stats_alert.values` uses.

use crate::generated::METRICS;
pub use crate::generated::NUM_METRICS;

/// Whether a metric accumulates (counter) or is a current level (gauge).
/// The numeric values are `libtorrent.metric_type_t`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
}

/// One metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Metric {
    pub name: &'static str,
    pub kind: MetricType,
    /// Index of the metric's value in a stats sample.
    pub value_index: usize,
}

/// Number of values in a stats sample (one per metric).
pub const NUM_COUNTERS: usize = NUM_METRICS;

/// All metrics, in libtorrent's order.
pub fn metrics() -> impl ExactSizeIterator<Item = Metric> {
    METRICS.iter().map(|&(name, gauge, idx)| Metric {
        name,
        kind: if gauge {
            MetricType::Gauge
        } else {
            MetricType::Counter
        },
        value_index: idx as usize,
    })
}

/// Value index of the metric called `name`, or `None`.
pub fn find_metric_idx(name: &str) -> Option<usize> {
    METRICS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, _, i)| i as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_a_permutation_of_value_indices() {
        assert_eq!(metrics().len(), 318);
        let mut seen = vec![false; NUM_COUNTERS];
        for m in metrics() {
            assert!(!seen[m.value_index], "duplicate index {}", m.value_index);
            seen[m.value_index] = true;
            assert_eq!(find_metric_idx(m.name), Some(m.value_index));
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn lookups() {
        assert_eq!(find_metric_idx("peer.error_peers"), Some(0));
        assert_eq!(find_metric_idx("nope"), None);
        assert_eq!(find_metric_idx(""), None);
        let m = metrics().find(|m| m.name == "dht.dht_allocated_observers");
        assert_eq!(
            m.map(|m| (m.kind, m.value_index)),
            Some((MetricType::Gauge, 304))
        );
    }
}
