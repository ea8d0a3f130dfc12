//! Counters and histograms the hot path updates without sharing a cache line between cores.
//!
//! prometheus-client's `Histogram` takes a mutex per observation and its `Counter` is one
//! atomic: with every client of the instance updating the same few words, each transaction
//! moved those cache lines between the cores (and the two histogram mutexes were locked per
//! statement). Here every value has one cell per stripe; a thread always adds to its own
//! stripe (one relaxed add on a line no other core writes, as a rule), and a scrape sums the
//! stripes. Same exported series, same text.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// Stripes per block: more than the cores a proxy runs on, so threads rarely share one.
const STRIPES: usize = 16;

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's stripe, handed out in turn the first time the thread counts something.
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

/// Sixteen cells on one cache line pair (128 bytes covers the adjacent-line prefetch of x86),
/// so that two stripes never share a line.
#[repr(align(128))]
struct Line([AtomicU64; CELLS_PER_LINE]);

const CELLS_PER_LINE: usize = 16;

/// A block of `slots` values, each kept as `STRIPES` cells: stripe after stripe, every stripe
/// starting on a line of its own.
struct Block {
    lines: Box<[Line]>,
    lines_per_stripe: usize,
}

impl Block {
    fn new(slots: usize) -> Self {
        let lines_per_stripe = slots.div_ceil(CELLS_PER_LINE).max(1);
        let lines = (0..STRIPES * lines_per_stripe).map(|_| Line(std::array::from_fn(|_| AtomicU64::new(0)))).collect();
        Self { lines, lines_per_stripe }
    }

    fn cell(&self, stripe: usize, slot: usize) -> Option<&AtomicU64> {
        let line = self.lines.get(stripe * self.lines_per_stripe + slot / CELLS_PER_LINE)?;
        line.0.get(slot % CELLS_PER_LINE)
    }

    fn add(&self, slot: usize, v: u64) {
        let stripe = STRIPE.with(|s| *s);
        if let Some(cell) = self.cell(stripe, slot) {
            cell.fetch_add(v, Ordering::Relaxed);
        }
    }

    fn sum(&self, slot: usize) -> u64 {
        (0..STRIPES).filter_map(|s| self.cell(s, slot)).map(|c| c.load(Ordering::Relaxed)).fold(0, u64::wrapping_add)
    }
}

/// A monotonic counter.
#[derive(Clone)]
pub struct StripedCounter {
    block: Arc<Block>,
}

impl std::fmt::Debug for StripedCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripedCounter").field("value", &self.get()).finish()
    }
}

impl Default for StripedCounter {
    fn default() -> Self {
        Self { block: Arc::new(Block::new(1)) }
    }
}

impl StripedCounter {
    pub fn inc(&self) {
        self.block.add(0, 1);
    }

    pub fn inc_by(&self, v: u64) {
        self.block.add(0, v);
    }

    pub fn get(&self) -> u64 {
        self.block.sum(0)
    }
}

impl EncodeMetric for StripedCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Counters of one family, one per label set fixed at creation (e.g. per route kind), indexed
/// by position so counting needs no lookup.
#[derive(Clone)]
pub struct StripedFamily<L> {
    labels: Arc<[L]>,
    block: Arc<Block>,
}

impl<L> std::fmt::Debug for StripedFamily<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripedFamily").field("series", &self.labels.len()).finish()
    }
}

impl<L> StripedFamily<L> {
    pub fn new(labels: impl IntoIterator<Item = L>) -> Self {
        let labels: Arc<[L]> = labels.into_iter().collect();
        Self { block: Arc::new(Block::new(labels.len())), labels }
    }

    /// Adds one to the series at `index` (the label set's position at creation).
    pub fn inc(&self, index: usize) {
        self.block.add(index, 1);
    }

    pub fn get(&self, index: usize) -> u64 {
        self.block.sum(index)
    }
}

impl<L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static> EncodeMetric for StripedFamily<L> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (i, labels) in self.labels.iter().enumerate() {
            encoder.encode_family(labels)?.encode_counter::<NoLabelSet, _, u64>(&self.get(i), None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// A histogram of durations with fixed bucket bounds. The sum is kept in nanoseconds (an
/// integer, so it can be striped; it overflows after 584 years of summed time).
#[derive(Clone)]
pub struct StripedHistogram {
    /// Upper bounds in nanoseconds; a last, implicit bucket takes the rest (+Inf).
    bounds_ns: Arc<[u64]>,
    bounds_s: Arc<[f64]>,
    /// Slots: 0 sum in ns, 1.. one per bucket (bounds, then +Inf). The count is the buckets'
    /// total, so an exported count always equals the +Inf bucket.
    block: Arc<Block>,
}

impl std::fmt::Debug for StripedHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripedHistogram").field("count", &self.count()).finish()
    }
}

const SUM_NS: usize = 0;
const BUCKETS: usize = 1;

impl StripedHistogram {
    /// `bounds` in seconds, ascending.
    pub fn new(bounds: impl IntoIterator<Item = f64>) -> Self {
        let bounds_s: Arc<[f64]> = bounds.into_iter().collect();
        let bounds_ns = bounds_s.iter().map(|s| (s * 1e9).round() as u64).collect();
        let block = Arc::new(Block::new(BUCKETS + bounds_s.len() + 1));
        Self { bounds_ns, bounds_s, block }
    }

    pub fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let bucket = self.bounds_ns.iter().position(|b| ns <= *b).unwrap_or(self.bounds_ns.len());
        self.block.add(SUM_NS, ns);
        self.block.add(BUCKETS + bucket, 1);
    }

    pub fn count(&self) -> u64 {
        (0..=self.bounds_ns.len()).map(|i| self.block.sum(BUCKETS + i)).fold(0, u64::wrapping_add)
    }

    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.block.sum(SUM_NS))
    }

    /// Per-bucket (not cumulative) counts with their upper bounds in seconds, +Inf last.
    fn buckets(&self) -> Vec<(f64, u64)> {
        self.bounds_s
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .enumerate()
            .map(|(i, b)| (b, self.block.sum(BUCKETS + i)))
            .collect()
    }
}

impl EncodeMetric for StripedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets = self.buckets();
        let count = buckets.iter().map(|b| b.1).fold(0, u64::wrapping_add);
        encoder.encode_histogram::<NoLabelSet>(self.sum().as_secs_f64(), count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let c = StripedCounter::default();
        let h = StripedHistogram::new([0.001, 0.01]);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        c.inc_by(2);
                        h.observe(Duration::from_micros(500));
                    }
                });
            }
        });
        assert_eq!(c.get(), 16_000);
        assert_eq!(h.count(), 8000);
        assert_eq!(h.sum(), Duration::from_millis(4000));
    }

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = StripedHistogram::new([0.001, 0.01]);
        h.observe(Duration::from_millis(1)); // on the bound: le="0.001"
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(1));
        h.observe(Duration::from_secs(2));
        assert_eq!(h.buckets(), vec![(0.001, 1), (0.01, 1), (f64::INFINITY, 2)]);
    }

    #[test]
    fn the_text_encoding_is_a_cumulative_histogram() {
        let h = StripedHistogram::new([0.001, 0.01]);
        h.observe(Duration::from_micros(100));
        h.observe(Duration::from_millis(5));
        let mut r = prometheus_client::registry::Registry::default();
        r.register_with_unit("t", "help", prometheus_client::registry::Unit::Seconds, h);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).expect("encodes");
        assert!(text.contains("# TYPE t_seconds histogram"), "{text}");
        assert!(text.contains("t_seconds_count 2"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.001\"} 1"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"0.01\"} 2"), "{text}");
        assert!(text.contains("t_seconds_bucket{le=\"+Inf\"} 2"), "{text}");
    }
}
