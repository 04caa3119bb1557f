/// perf_analyzer's rule for a steady measurement: over the last `windows` windows, max/min of the
/// throughput and max/min of the latency are each at most 1 + `percent`/100. The caller says which
/// latency: trials use each window's p99, the load generator each window's mean (perf_analyzer's default).
public struct StabilityRule: Sendable, Equatable, Codable {
    public var windows: Int
    public var percent: Double

    public init(windows: Int = 3, percent: Double = 10) {
        self.windows = windows
        self.percent = percent
    }

    /// One window's figures, as the rule reads them.
    public struct Window: Sendable, Equatable {
        public var throughput: Double
        public var latency: Double
        public init(throughput: Double, latency: Double) {
            self.throughput = throughput
            self.latency = latency
        }
    }

    /// Whether the last windows are steady; false while there are fewer than `windows`, or when
    /// a window completed nothing.
    public func isStable(_ all: [Window]) -> Bool {
        let last = all.suffix(windows)
        guard windows >= 1, last.count == windows else { return false }
        func steady(_ values: [Double]) -> Bool {
            guard let low = values.min(), let high = values.max(), low > 0 else { return false }
            return high / low <= 1 + percent / 100
        }
        return steady(last.map(\.throughput)) && steady(last.map(\.latency))
    }
}
