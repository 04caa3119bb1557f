import EdgeInsightCore
import Foundation
import InferenceProtocol

/// MLPerf Inference's scenarios, run against an Open Inference Protocol server.
public enum Scenario: String, Sendable, CaseIterable {
    /// One query at a time, the next when the previous completes; the metric is p90 latency.
    case singleStream = "single-stream"
    /// Queries of N samples (one request with batch N), one at a time; the metric is p99 latency.
    case multiStream = "multi-stream"
    /// Poisson arrivals; the metric is the highest rate whose p99 stays under a bound, found by search.
    case server
    /// Everything at once; the metric is throughput.
    case offline
}

extension Scenario {
    /// MLPerf's server scenario: the closed-loop maximum bounds the search, then the Poisson rate
    /// is bisected six times on whether p99 stays under `bound` (and nothing fails).
    public static func searchServerRate(
        bound: Duration, ceilingConcurrency: Int, seed: UInt64, measure: (LoadMode) async throws -> StepResult
    ) async throws -> Double {
        var low = 0.0, high = try await measure(.concurrency(ceilingConcurrency)).requestsPerSecond
        for _ in 0..<6 {
            let rate = max(1, (low + high) / 2)
            let step = try await measure(.open(.poisson(rate: rate, seed: seed)))
            if step.latency.p99Ns <= Double(bound.nanoseconds) && step.failed == 0 { low = rate } else { high = rate }
        }
        return low
    }
}

/// What one `load` run measures: steps of load (each a concurrency or an arrival process,
/// stopping once a closed-loop step's p99 passes `bound`), or one MLPerf scenario.
public struct LoadPlan: Sendable {
    public var modes: [LoadMode] = []
    public var scenario: Scenario?
    /// The latency bound: where a concurrency sweep stops, and the server scenario's target.
    public var bound: Duration?
    /// Samples per query of the multi-stream scenario.
    public var samples = 8
    /// The concurrency that stands for "everything at once" (offline, and the server search's ceiling).
    public var offlineConcurrency = 16
    public var seed: UInt64 = 1

    public init() {}

    /// Runs the plan, measuring each step with `measure`; returns the lines stating its result.
    public func run(measure: (LoadMode) async throws -> StepResult) async throws -> [String] {
        let format = { (ns: Double) in DurationText.format(nanoseconds: ns) }
        switch scenario {
        case nil:
            for mode in modes {
                let step = try await measure(mode)
                if let bound, case .concurrency = mode, step.latency.p99Ns > Double(bound.nanoseconds) {
                    return ["stopping: p99 \(format(step.latency.p99Ns)) is above the bound \(DurationText.format(bound))"]
                }
            }
            return []
        case .singleStream?:
            return ["single-stream  p90 latency \(format(try await measure(.concurrency(1)).latency.p90Ns))"]
        case .multiStream?:
            return ["multi-stream   \(samples) samples per query, p99 query latency \(format(try await measure(.concurrency(1)).latency.p99Ns))"]
        case .offline?:
            return [String(format: "offline        %.1f samples/s", try await measure(.concurrency(offlineConcurrency)).samplesPerSecond)]
        case .server?:
            guard let bound else { throw LoadError.badPlan("the server scenario needs --latency-bound") }
            let low = try await Scenario.searchServerRate(bound: bound, ceilingConcurrency: offlineConcurrency, seed: seed, measure: measure)
            return [String(format: "server         highest Poisson rate with p99 ≤ %@: %.1f req/s", DurationText.format(bound), low)]
        }
    }

    /// A run in which not one request was answered measured nothing: an error saying why the
    /// requests failed (and, for refused binary tensors, what to try), not a line of 0 req/s.
    public static func check(_ steps: [StepResult], binary: Bool) throws(LoadError) {
        guard !steps.isEmpty, steps.allSatisfy({ $0.failed > 0 && $0.latency.count == 0 }) else { return }
        let failures = steps.reduce(into: Failures()) { $0.merge($1.failures) }
        var text = failures.text
        if binary && failures[400] > 0 { text += "; the server refused the requests: if it does not take binary tensors, try --json-data" }
        throw .nothingAnswered("every request failed (\(text))")
    }
}

/// Parses sweep ranges: `4` → [4], `1:8:2` → 1, 3, 5, 7, `1,2,4` → the list.
public enum RangeText {
    public static func parse(_ text: String) -> [Double]? {
        if text.contains(",") {
            let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            return values.contains(nil) ? nil : values.map { $0! }
        }
        let parts = text.split(separator: ":").map { Double($0) }
        guard !parts.contains(nil), (1...3).contains(parts.count) else { return nil }
        let start = parts[0]!, end = parts.count > 1 ? parts[1]! : start, step = parts.count > 2 ? parts[2]! : (end >= start ? 1 : -1)
        guard step != 0, (end - start) / step >= 0, (end - start) / step < 10_000 else { return nil }
        return stride(from: start, through: end + step * 1e-9, by: step).map { $0 }
    }
}

/// perf_analyzer's CSV: one row per step, times in microseconds.
public enum PerfAnalyzerCSV {
    public static let header = "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency"

    /// `computeSplit` is the server's input/infer/output share of compute when known (from /stats).
    public static func row(_ step: StepResult, computeSplit: (input: Double, infer: Double, output: Double)? = nil) -> String {
        let us = { (ns: Double) in String(Int((ns / 1000).rounded())) }
        let queue = step.serverQueueMeanNs ?? 0
        let compute = step.serverComputeMeanNs ?? 0
        let split = computeSplit ?? (0, compute, 0)
        let receive = step.clientReceiveMeanNs
        let network = max(0, step.latency.meanNs - queue - compute - receive)
        let concurrency = step.concurrency.map(String.init) ?? step.targetRate.map { String(format: "%.1f", $0) } ?? "0"
        return [concurrency, String(format: "%.2f", step.samplesPerSecond), "0", us(network), us(queue), us(split.input), us(split.infer), us(split.output),
                us(receive), us(step.latency.p50Ns), us(step.latency.p90Ns), us(step.latency.p95Ns), us(step.latency.p99Ns)].joined(separator: ",")
    }
}

/// What a server's statistics extension (`GET /v2/models/{m}/stats`, Triton's) says happened
/// between two readings: requests answered and their mean time in each server-side phase.
public struct ServerStatistics: Sendable, Equatable {
    public var requests: Int
    public var queueMeanNs: Double
    public var computeInputMeanNs: Double
    public var computeInferMeanNs: Double
    public var computeOutputMeanNs: Double

    /// The compute phases together: what the server spent on a request once it left the queue.
    public var computeMeanNs: Double { computeInputMeanNs + computeInferMeanNs + computeOutputMeanNs }

    /// The difference of two readings of the model's stats; nil when they hold no inference stats.
    public static func between(_ before: JSONValue, _ after: JSONValue) -> ServerStatistics? {
        func stats(_ v: JSONValue) -> JSONValue? { v["model_stats"]?.array?.first?["inference_stats"] }
        guard let b = stats(before), let a = stats(after) else { return nil }
        func mean(_ key: String) -> Double {
            let count = (a[key]?["count"]?.int ?? 0) - (b[key]?["count"]?.int ?? 0)
            let ns = (a[key]?["ns"]?.int ?? 0) - (b[key]?["ns"]?.int ?? 0)
            return count > 0 ? Double(max(0, ns)) / Double(count) : 0
        }
        let requests = (a["success"]?["count"]?.int ?? 0) - (b["success"]?["count"]?.int ?? 0)
        return ServerStatistics(requests: max(0, requests), queueMeanNs: mean("queue"), computeInputMeanNs: mean("compute_input"),
                                computeInferMeanNs: mean("compute_infer"), computeOutputMeanNs: mean("compute_output"))
    }

    /// `server split  (from /stats, mean per request) queue 0.1 ms, compute_input …, 812 requests`.
    public var description: String {
        let f = { (ns: Double) in DurationText.format(nanoseconds: ns) }
        return "server split  (from /stats, mean per request) queue \(f(queueMeanNs)), compute_input \(f(computeInputMeanNs)), "
            + "compute_infer \(f(computeInferMeanNs)), compute_output \(f(computeOutputMeanNs)), \(requests) requests"
    }
}
