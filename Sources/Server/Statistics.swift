import EdgeInsightCore
import Foundation
import Synchronization

/// Per-model counters in the shape of Triton's statistics extension (cumulative nanoseconds).
final class ModelStatistics: Sendable {
    struct Counts: Sendable {
        var success = (count: 0, ns: UInt64(0))
        var fail = (count: 0, ns: UInt64(0))
        var queue = (count: 0, ns: UInt64(0))
        var computeInput = (count: 0, ns: UInt64(0))
        var computeInfer = (count: 0, ns: UInt64(0))
        var computeOutput = (count: 0, ns: UInt64(0))
        var inferenceCount = 0
        var executionCount = 0
        var lastInferenceMs: UInt64 = 0
        var batches: [Int: (count: Int, ns: UInt64)] = [:]
    }

    private let counts = Mutex(Counts())

    func recordSuccess(totalNs: UInt64, queueNs: UInt64) {
        counts.withLock {
            $0.success.count += 1
            $0.success.ns += totalNs
            $0.queue.count += 1
            $0.queue.ns += queueNs
            $0.lastInferenceMs = UInt64(Date().timeIntervalSince1970 * 1000)
        }
    }

    func recordFailure(totalNs: UInt64) {
        counts.withLock {
            $0.fail.count += 1
            $0.fail.ns += totalNs
        }
    }

    func recordExecution(rows: Int, inputNs: UInt64, inferNs: UInt64) {
        counts.withLock {
            $0.executionCount += 1
            $0.inferenceCount += rows
            $0.computeInput.count += 1
            $0.computeInput.ns += inputNs
            $0.computeInfer.count += 1
            $0.computeInfer.ns += inferNs
            $0.computeOutput.count += 1
            $0.batches[rows, default: (0, 0)].count += 1
            $0.batches[rows, default: (0, 0)].ns += inferNs
        }
    }

    /// The model's entry of `/v2/models/{m}/stats`, in Triton's field names.
    func entry(name: String, version: String) -> ModelStatsEntry {
        let c = counts.withLock { $0 }
        func pair(_ p: (count: Int, ns: UInt64)) -> ModelStatsEntry.Duration { .init(count: p.count, ns: p.ns) }
        return ModelStatsEntry(
            name: name, version: version, last_inference: c.lastInferenceMs, inference_count: c.inferenceCount, execution_count: c.executionCount,
            inference_stats: .init(success: pair(c.success), fail: pair(c.fail), queue: pair(c.queue), compute_input: pair(c.computeInput),
                                   compute_infer: pair(c.computeInfer), compute_output: pair(c.computeOutput)),
            batch_stats: c.batches.keys.sorted().map { .init(batch_size: $0, compute_infer: pair(c.batches[$0]!)) })
    }
}

/// One model's statistics as Triton's statistics extension spells them (hence the snake case).
struct ModelStatsEntry: Encodable {
    struct Duration: Encodable { var count: Int; var ns: UInt64 }
    struct Inference: Encodable { var success, fail, queue, compute_input, compute_infer, compute_output: Duration }
    struct Batch: Encodable { var batch_size: Int; var compute_infer: Duration }
    var name: String
    var version: String
    var last_inference: UInt64
    var inference_count: Int
    var execution_count: Int
    var inference_stats: Inference
    var batch_stats: [Batch]
}

/// The bodies of the server's JSON answers other than infer, written by an encoder so that any
/// model or tensor name (quotes, backslashes) stays valid JSON.
enum ResponseBody {
    struct Health: Encodable {
        var live: Bool?
        var ready: Bool?
    }
    struct Server: Encodable {
        var name: String
        var version: String
        var extensions: [String]
    }
    struct Tensor: Encodable {
        var name: String
        var datatype: String
        var shape: [Int]
    }
    struct Model: Encodable {
        var name: String
        var versions: [String]
        var platform: String
        var inputs: [Tensor]
        var outputs: [Tensor]
    }
    struct ModelReady: Encodable {
        var name: String
        var ready: Bool
    }
    struct Stats: Encodable {
        var model_stats: [ModelStatsEntry]
    }
    struct Failure: Encodable {
        var error: String
    }
}
