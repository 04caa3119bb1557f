import Histogram

/// Latencies in nanoseconds kept in an HdrHistogram (3 significant digits, no per-sample allocation).
public struct LatencyHistogram: Sendable {
    private var histogram: Histogram<UInt64>

    public init() {
        // 1 ns .. 1 hour covers every latency we time; autoResize guards the rest.
        histogram = Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
    }

    /// Records one latency.
    @inline(__always)
    public mutating func record(nanoseconds: UInt64) {
        _ = histogram.record(max(1, nanoseconds))
    }

    /// Adds every sample of another histogram.
    public mutating func merge(_ other: LatencyHistogram) { histogram.add(other.histogram) }

    /// Number of samples.
    public var count: Int { Int(histogram.totalCount) }

    /// The value at a percentile (0–100), in nanoseconds.
    public func percentile(_ p: Double) -> UInt64 { count == 0 ? 0 : histogram.valueAtPercentile(p) }

    /// The distribution in 100 numbers: the value at each percentile 1…99, then at 99.9 (what a model
    /// of a stage needs; the HdrHistogram itself keeps 3 significant digits).
    public var quantiles: [Double] {
        guard count > 0 else { return [] }
        return (1...99).map { Double(percentile(Double($0))) } + [Double(percentile(99.9))]
    }

    /// Count, mean, min, max and the usual percentiles.
    public var summary: LatencySummary {
        guard count > 0 else { return LatencySummary() }
        return LatencySummary(
            count: count, meanNs: histogram.mean, minNs: Double(histogram.min),
            p50Ns: Double(percentile(50)), p90Ns: Double(percentile(90)), p95Ns: Double(percentile(95)),
            p99Ns: Double(percentile(99)), maxNs: Double(histogram.max))
    }
}

/// Summary statistics of a set of latencies, in nanoseconds.
public struct LatencySummary: Sendable, Codable, Equatable {
    public var count = 0
    public var meanNs = 0.0
    public var minNs = 0.0
    public var p50Ns = 0.0
    public var p90Ns = 0.0
    public var p95Ns = 0.0
    public var p99Ns = 0.0
    public var maxNs = 0.0

    public init() {}

    public init(count: Int, meanNs: Double, minNs: Double, p50Ns: Double, p90Ns: Double, p95Ns: Double, p99Ns: Double, maxNs: Double) {
        self.count = count
        self.meanNs = meanNs
        self.minNs = minNs
        self.p50Ns = p50Ns
        self.p90Ns = p90Ns
        self.p95Ns = p95Ns
        self.p99Ns = p99Ns
        self.maxNs = maxNs
    }
}
