import Foundation

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

    /// A trial's window: the frames it answered, and their median and p99 latency.
    public struct FrameWindow: Sendable, Equatable {
        public var frames: Int
        public var p50: Double
        public var p99: Double
        public init(frames: Int, p50: Double, p99: Double) {
            self.frames = frames
            self.p50 = p50
            self.p99 = p99
        }
    }

    /// The rule for a trial's equal windows of frames: perf_analyzer's, less the noise a few frames
    /// carry, so a window holding 2 or 3 frames (0.5 s at 5 fps) is not unstable by counting alone.
    /// - Throughput: a window's edge moves at most one frame in or out, so the counts agree when
    ///   (most − 1) / (fewest + 1) ≤ 1 + percent/100.
    /// - Latency: each window's median, not its p99 — with a handful of frames a p99 is the
    ///   window's slowest frame, whose spread is the frames' own (under a 4 ms CFS quota, bimodal),
    ///   not a drift. The medians agree when ln(max/min) ≤ ln(1 + percent/100) + 1.96·√(s₁² + s₂²),
    ///   sᵢ = 1.2533·σ/√nᵢ the standard error of a median of nᵢ log-normal frames, for the two
    ///   windows of the extremes; σ, the frames' spread, pools the windows' own (root mean square)
    ///   of ln(p99/p50) / (z₉₉ − z₅₀), each z where the window's reported frames stand among its nᵢ
    ///   (`MeasuredPercentile`: of 2 frames the p50 is the faster, the p99 the slower).
    /// False while there are fewer than `windows` windows, or when one answered nothing.
    public func isSteady(_ all: [FrameWindow]) -> Bool {
        let last = Array(all.suffix(windows))
        guard windows >= 1, last.count == windows, last.allSatisfy({ $0.frames > 0 && $0.p50 > 0 }) else { return false }
        let counts = last.map(\.frames)
        guard Double(counts.max()! - 1) / Double(counts.min()! + 1) <= 1 + percent / 100 else { return false }
        let spreads = last.compactMap { w -> Double? in
            let apart = MeasuredPercentile.z(0.99, of: w.frames) - MeasuredPercentile.z(0.5, of: w.frames)
            return apart > 0.1 ? max(0, log(max(w.p99, w.p50) / w.p50)) / apart : nil
        }
        let sigma = spreads.isEmpty ? 0 : (spreads.reduce(0) { $0 + $1 * $1 } / Double(spreads.count)).squareRoot()
        let low = last.min { $0.p50 < $1.p50 }!, high = last.max { $0.p50 < $1.p50 }!
        func standardError(_ w: FrameWindow) -> Double { 1.2533 * sigma / Double(w.frames).squareRoot() }
        let allowed = log(1 + percent / 100) + 1.96 * (pow(standardError(low), 2) + pow(standardError(high), 2)).squareRoot()
        return log(high.p50 / low.p50) <= allowed
    }
}
