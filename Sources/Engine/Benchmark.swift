import EdgeInsightCore
import Foundation
import Synchronization

/// How long and how hard to drive a compiled model.
public struct BenchmarkPlan: Sendable {
    /// Measured time after the first inference.
    public var duration: Duration
    /// Infer requests kept in flight; nil uses the compiled model's optimal number.
    public var requests: Int?
    /// Seed for the random input data.
    public var seed: UInt64 = 1

    public init(duration: Duration, requests: Int? = nil) {
        self.duration = duration
        self.requests = requests
    }
}

/// Progress of a running benchmark, reported about once a second.
public struct BenchmarkProgress: Sendable {
    public var elapsed: Duration
    public var total: Duration
    public var inferences: Int
}

/// What a benchmark measured.
public struct BenchmarkResult: Sendable, Codable {
    public var engine: String
    public var engineVersion: String
    public var applied: AppliedSettings
    public var inputs: [TensorInfo]
    public var outputs: [TensorInfo]
    public var requests: Int
    public var compileMs: Double
    public var firstInferenceMs: Double
    /// Completed infer requests (each carries `applied.batch` samples).
    public var iterations: Int
    public var durationSeconds: Double
    /// Samples per second: iterations × batch ÷ duration.
    public var throughput: Double
    /// Latency of one infer request, start to completion.
    public var latency: LatencySummary
}

/// Runs a compiled model as OpenVINO's benchmark_app does: with one request, synchronous
/// inferences back to back; with N, all kept in flight, each restarted as soon as it completes,
/// latency timed from start to completion callback.
public enum Benchmark {
    public static func run(
        _ model: any CompiledModel, engine: any InferenceEngine, plan: BenchmarkPlan,
        progress: (BenchmarkProgress) -> Void = { _ in }
    ) throws(EngineError) -> BenchmarkResult {
        let count = max(1, plan.requests ?? model.applied.optimalRequests)
        var requests: [any InferRequest] = []
        for index in 0..<count {
            let request = try model.makeRequest()
            try request.fillInputsRandomly(model.inputs, seed: plan.seed &+ UInt64(index))
            requests.append(request)
        }

        let firstStart = MonotonicClock.now()
        try requests[0].infer()
        let firstInferenceNs = MonotonicClock.now() - firstStart

        if count == 1 {
            return try runSynchronously(requests[0], model: model, engine: engine, plan: plan, firstInferenceNs: firstInferenceNs, progress: progress)
        }

        // Each request restarts itself from its completion callback (as OpenVINO's own async
        // samples do): no hop through another thread between one inference and the next, which
        // on a small, fully busy machine costs a scheduling delay per inference.
        let totalNs = UInt64(max(0, plan.duration.nanoseconds))
        let finished = DispatchSemaphore(value: 0)
        let completed = Counter()
        let begin = MonotonicClock.now()
        let loops = requests.map { RequestLoop(request: $0, deadline: begin + totalNs, finished: finished, completed: completed) }
        for loop in loops { try loop.start() }

        var nextReport = begin + 1_000_000_000
        var running = loops.count
        while running > 0 {
            if finished.wait(timeout: .now() + .milliseconds(200)) == .success { running -= 1 }
            let now = MonotonicClock.now()
            if now >= nextReport && running > 0 {
                nextReport += 1_000_000_000
                progress(BenchmarkProgress(elapsed: .nanoseconds(Int64(min(now - begin, totalNs))), total: plan.duration, inferences: completed.value.load(ordering: .relaxed)))
            }
        }
        var histogram = LatencyHistogram()
        var end = begin
        for loop in loops {
            // wait() on a finished request reports how its last inference ended.
            try loop.request.wait()
            if let failure = loop.failure { throw failure }
            histogram.merge(loop.latencies)
            end = max(end, loop.lastEnd)
        }
        return result(model: model, engine: engine, requests: count, firstInferenceNs: firstInferenceNs,
                      seconds: Double(end - begin) / 1e9, histogram: histogram)
    }
}

/// Inferences completed so far, shared by every request's callbacks.
private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// One request driving itself until a deadline. Its state is touched only by that request's
/// completion callbacks, which OpenVINO serialises, and read by the caller after `finished`.
private final class RequestLoop: @unchecked Sendable {
    unowned let request: any InferRequest
    let deadline: UInt64
    let finished: DispatchSemaphore
    let completed: Counter
    var latencies = LatencyHistogram()
    var startedAt: UInt64 = 0
    var lastEnd: UInt64 = 0
    var failure: EngineError?

    init(request: any InferRequest, deadline: UInt64, finished: DispatchSemaphore, completed: Counter) {
        self.request = request
        self.deadline = deadline
        self.finished = finished
        self.completed = completed
    }

    func start() throws(EngineError) {
        try request.setCompletionHandler { [unowned self] in self.completedOne() }
        startedAt = MonotonicClock.now()
        try request.startAsync()
    }

    private func completedOne() {
        let now = MonotonicClock.now()
        latencies.record(nanoseconds: now &- startedAt)
        lastEnd = now
        completed.value.add(1, ordering: .relaxed)
        guard now < deadline else {
            finished.signal()
            return
        }
        startedAt = MonotonicClock.now()
        do throws(EngineError) { try request.startAsync() } catch {
            failure = error
            finished.signal()
        }
    }
}

extension Benchmark {
    /// One request: no callbacks or queue hops, so the latency is the engine's alone.
    private static func runSynchronously(
        _ request: any InferRequest, model: any CompiledModel, engine: any InferenceEngine, plan: BenchmarkPlan,
        firstInferenceNs: UInt64, progress: (BenchmarkProgress) -> Void
    ) throws(EngineError) -> BenchmarkResult {
        var histogram = LatencyHistogram()
        let totalNs = UInt64(max(0, plan.duration.nanoseconds))
        let begin = MonotonicClock.now()
        var now = begin
        var nextReport = begin + 1_000_000_000
        repeat {
            let started = now
            try request.infer()
            now = MonotonicClock.now()
            histogram.record(nanoseconds: now - started)
            if now >= nextReport {
                nextReport += 1_000_000_000
                progress(BenchmarkProgress(elapsed: .nanoseconds(Int64(min(now - begin, totalNs))), total: plan.duration, inferences: histogram.count))
            }
        } while now - begin < totalNs
        let seconds = Double(now - begin) / 1e9
        return result(model: model, engine: engine, requests: 1, firstInferenceNs: firstInferenceNs, seconds: seconds, histogram: histogram)
    }

    static func result(
        model: any CompiledModel, engine: any InferenceEngine, requests: Int, firstInferenceNs: UInt64,
        seconds: Double, histogram: LatencyHistogram
    ) -> BenchmarkResult {
        BenchmarkResult(
            engine: engine.name, engineVersion: engine.version, applied: model.applied,
            inputs: model.inputs, outputs: model.outputs, requests: requests,
            compileMs: model.compileTime.nanoseconds / 1e6, firstInferenceMs: Double(firstInferenceNs) / 1e6,
            iterations: histogram.count, durationSeconds: seconds,
            throughput: seconds > 0 ? Double(histogram.count * model.applied.batch) / seconds : 0,
            latency: histogram.summary)
    }
}

