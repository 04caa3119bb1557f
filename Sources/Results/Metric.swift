import EdgeInsightCore

/// Every measurement EdgeInsight records or predicts: its key (the database's and the CSV's column
/// name), its unit, which way is better, and what it means — this table is the only place a metric
/// is named. A measured trial and a prediction hold the same `MetricValue`s of these metrics.
public struct Metric: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Which way a metric is better, for rankings and verdicts.
    public enum Direction: String, Sendable, Codable {
        case lowerIsBetter = "lower is better"
        case higherIsBetter = "higher is better"
        /// A setting or a count that describes rather than judges (the offered rate, a flag).
        case neither
    }

    public let key: String
    /// The unit the value is in (`ms`, `fps`, `B`); empty for flags and counts of nothing.
    public let unit: String
    public let direction: Direction
    /// One line saying what it is.
    public let meaning: String

    private init(_ key: String, _ unit: String, _ direction: Direction, _ meaning: String) {
        self.key = key
        self.unit = unit
        self.direction = direction
        self.meaning = meaning
    }

    public var description: String { key }
    public static func == (a: Metric, b: Metric) -> Bool { a.key == b.key }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    // MARK: The table

    public static let offeredRate = Metric("offered_fps", "fps", .neither, "frames per second the camera offered in the measurement")
    public static let throughput = Metric("throughput_fps", "fps", .higherIsBetter, "frames per second answered")
    public static let framesProcessed = Metric("frames_processed", "frames", .higherIsBetter, "frames answered in the measurement")
    public static let framesDropped = Metric("frames_dropped", "frames", .lowerIsBetter, "frames dropped because the device's queue was full")
    public static let framesFailed = Metric("frames_failed", "frames", .lowerIsBetter, "frames whose inference or request failed")
    public static let latencyMean = Metric("latency_mean_ms", "ms", .lowerIsBetter, "mean end-to-end latency, from each frame's intended capture")
    public static let latencyP50 = Metric("latency_p50_ms", "ms", .lowerIsBetter, "median end-to-end latency")
    public static let latencyP90 = Metric("latency_p90_ms", "ms", .lowerIsBetter, "90th percentile of end-to-end latency")
    public static let latencyP99 = Metric("latency_p99_ms", "ms", .lowerIsBetter, "99th percentile of end-to-end latency")
    public static let frameBytes = Metric("frame_bytes", "B", .lowerIsBetter, "mean size of the camera's JPEG frame")
    public static let tensorBytes = Metric("tensor_bytes", "B", .neither, "bytes of the model's input tensor for one frame")
    public static let requestBytes = Metric("request_bytes", "B", .lowerIsBetter, "mean body of a request to the cloud node")
    public static let edgeCPUSeconds = Metric("edge_cpu_seconds", "s", .lowerIsBetter, "CPU time the edge node used, warm-up included")
    public static let edgeCPUCores = Metric("edge_cpu_cores", "cores", .lowerIsBetter, "the edge node's CPU time per wall-clock second")
    public static let edgePeakRSS = Metric("edge_peak_rss_mb", "MB", .lowerIsBetter, "the edge node's peak resident memory")
    public static let serverQueue = Metric("server_queue_ms", "ms", .lowerIsBetter, "mean time a request waited in the cloud node's queue")
    public static let serverCompute = Metric("server_compute_ms", "ms", .lowerIsBetter, "mean time the cloud node computed a request")
    public static let cloudCPUSeconds = Metric("cloud_cpu_seconds", "s", .lowerIsBetter, "CPU time the cloud node used during the trial")
    public static let cloudPeakRSS = Metric("cloud_peak_rss_mb", "MB", .lowerIsBetter, "the cloud node's peak resident memory")
    public static let uplinkBytesPerFrame = Metric("uplink_bytes_per_frame", "B", .lowerIsBetter, "bytes the link carried towards the cloud per request")
    public static let downlinkBytesPerFrame = Metric("downlink_bytes_per_frame", "B", .lowerIsBetter, "bytes the link carried back per request")
    public static let uplinkAchieved = Metric("uplink_achieved_mbit", "Mbit/s", .higherIsBetter, "the rate the proxy's uplink delivered at while busy")
    public static let framesLost = Metric("frames_lost", "frames", .lowerIsBetter, "frames sent through the broker and never answered, warm-up included")
    public static let framesLate = Metric("frames_late", "frames", .lowerIsBetter, "answers through the broker that came after their frame was given up")
    public static let framesDuplicated = Metric("frames_duplicated", "frames", .neither, "answers through the broker that came twice (QoS 1 delivers at least once)")
    public static let brokerDisconnections = Metric("broker_disconnections", "", .lowerIsBetter, "times the device's connection to the broker went down")
    public static let stable = Metric("stable", "", .neither, "1 when the last windows met the stability rule, else 0")
    public static let sloP99Met = Metric("slo_p99_met", "", .higherIsBetter, "1 when p99 met slo.p99 and frames were answered, else 0")

    /// The mean time of one stage, under the key the runner stores it by (`stage_infer_ms`).
    public static func stage(_ stage: Stage) -> Metric {
        Metric("stage_\(stage.rawValue)_ms", "ms", .lowerIsBetter, "mean time of the \(stage.rawValue) stage")
    }

    /// The metrics holding a prediction's 90% interval (`latency_p99_ms` → `latency_p99_low_ms`,
    /// `latency_p99_high_ms`; `throughput_fps` → `throughput_low_fps`): where 90% of trials of that
    /// length land.
    public static func band(_ metric: Metric) -> (low: Metric, high: Metric) {
        let suffix = "_" + metric.unit
        let stem = metric.key.hasSuffix(suffix) ? String(metric.key.dropLast(suffix.count)) : metric.key
        return (Metric(stem + "_low" + suffix, metric.unit, .neither, "low end of the 90% interval of \(metric.key)"),
                Metric(stem + "_high" + suffix, metric.unit, .neither, "high end of the 90% interval of \(metric.key)"))
    }

    /// What a prediction gives an interval for.
    public static let banded: [Metric] = [throughput, latencyP50, latencyP99]

    /// Every metric, in the order tables and exports list them.
    public static let all: [Metric] = [
        offeredRate, throughput, framesProcessed, framesDropped, framesFailed, latencyMean, latencyP50, latencyP90, latencyP99,
        frameBytes, tensorBytes, requestBytes, edgeCPUSeconds, edgeCPUCores, edgePeakRSS, serverQueue, serverCompute, cloudCPUSeconds,
        cloudPeakRSS, uplinkBytesPerFrame, downlinkBytesPerFrame, uplinkAchieved, framesLost, framesLate, framesDuplicated, brokerDisconnections,
        stable, sloP99Met,
    ] + Stage.allCases.map(stage) + banded.flatMap { [band($0).low, band($0).high] }

    private static let byKey = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })

    /// The metric with this key, or nil.
    public init?(key: String) {
        guard let metric = Self.byKey[key] else { return nil }
        self = metric
    }

    /// The metric a user named (a `--metric` flag), or a one-line error listing the keys.
    public static func named(_ key: String) throws(ResultsError) -> Metric {
        guard let metric = Metric(key: key) else { throw .invalid("unknown metric '\(key)' (metrics: \(all.map(\.key).joined(separator: ", ")))") }
        return metric
    }

    public init(from decoder: any Decoder) throws {
        let key = try decoder.singleValueContainer().decode(String.self)
        guard let metric = Metric(key: key) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown metric '\(key)'"))
        }
        self = metric
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(key)
    }
}

/// One value of one metric: what a trial measured or a prediction says.
public struct MetricValue: Sendable, Codable, Equatable {
    public var metric: Metric
    public var value: Double

    public init(_ metric: Metric, _ value: Double) {
        self.metric = metric
        self.value = value
    }
}

extension Array where Element == MetricValue {
    /// The value of `metric`, if present.
    public func value(_ metric: Metric) -> Double? { first { $0.metric == metric }?.value }
}
