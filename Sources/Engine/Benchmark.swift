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

/// Runs a compiled model as OpenVINO's benchmark_app does: N requests kept in flight, each
/// restarted as soon as it completes, latency timed from start to completion callback.
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

        // Completion timestamps are written by engine threads into per-request slots and the
        // request index queued; the loop below restarts requests and records their latencies.
        let completions = CompletionQueue(capacity: count)
        let startTimes = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
        defer { startTimes.deallocate() }
        for (index, request) in requests.enumerated() {
            try request.setCompletionHandler { completions.push(index, at: MonotonicClock.now()) }
        }

        var histogram = LatencyHistogram()
        var iterations = 0
        let totalNs = UInt64(max(0, plan.duration.nanoseconds))
        let begin = MonotonicClock.now()
        let deadline = begin + totalNs
        var nextReport = begin + 1_000_000_000
        for index in 0..<count {
            startTimes[index] = MonotonicClock.now()
            try requests[index].startAsync()
        }
        var inFlight = count
        var end = begin
        var failure: EngineError?
        while inFlight > 0 {
            let (index, finishedAt) = completions.pop()
            // wait() surfaces an error the inference may have ended with.
            do throws(EngineError) { try requests[index].wait() } catch { failure = failure ?? error }
            histogram.record(nanoseconds: finishedAt &- startTimes[index])
            iterations += 1
            end = max(end, finishedAt)
            let now = MonotonicClock.now()
            if now < deadline && failure == nil {
                startTimes[index] = now
                do throws(EngineError) { try requests[index].startAsync() } catch { failure = error; inFlight -= 1 }
            } else {
                inFlight -= 1
            }
            if now >= nextReport {
                nextReport += 1_000_000_000
                progress(BenchmarkProgress(elapsed: .nanoseconds(Int64(min(now - begin, totalNs))), total: plan.duration, inferences: iterations))
            }
        }
        if let failure { throw failure }

        let seconds = Double(end - begin) / 1e9
        return BenchmarkResult(
            engine: engine.name, engineVersion: engine.version, applied: model.applied,
            inputs: model.inputs, outputs: model.outputs, requests: count,
            compileMs: model.compileTime.nanoseconds / 1e6, firstInferenceMs: Double(firstInferenceNs) / 1e6,
            iterations: iterations, durationSeconds: seconds,
            throughput: seconds > 0 ? Double(iterations * model.applied.batch) / seconds : 0,
            latency: histogram.summary)
    }
}

/// A blocking queue of completed request indexes, filled by engine threads.
/// A mutex and a semaphore rather than an actor: the producer is a C callback thread and the
/// consumer a tight loop, and a hop through the concurrency runtime would add to every latency.
final class CompletionQueue: Sendable {
    private let items: Mutex<[(index: Int, at: UInt64)]>
    private let ready = DispatchSemaphore(value: 0)

    init(capacity: Int) {
        var storage: [(index: Int, at: UInt64)] = []
        storage.reserveCapacity(capacity)
        items = Mutex(storage)
    }

    func push(_ index: Int, at time: UInt64) {
        items.withLock { $0.append((index, time)) }
        ready.signal()
    }

    func pop() -> (index: Int, at: UInt64) {
        ready.wait()
        return items.withLock { $0.removeFirst() }
    }
}
