import EdgeInsightCore
import Foundation
import InferenceProtocol

/// The answer to one request, with the server's own timings.
struct Completion: Sendable {
    var outputs: [WireTensor]
    var queueNs: UInt64
    var computeNs: UInt64
    var batchRows: Int
}

/// Queues requests for one model and runs them in batches on its instances (the dynamic batcher).
/// A batch forms from the head of the queue up to `max_batch_size` rows; when it is not full it
/// waits at most `max_queue_delay` for more. Past `max_queue` waiting requests, new ones are refused.
actor Scheduler {
    let model: any ServedModel
    let statistics: ModelStatistics
    private var queue: [Pending] = []
    private var head = 0
    private var freeInstances: [Int]
    private var timerArmed = false

    private struct Pending {
        var inputs: [WireTensor]
        var rows: Int
        var enqueued: UInt64
        var continuation: CheckedContinuation<Completion, any Error>
    }

    /// Where the scheduler's tasks run (nil: the shared pool), as the server's requests do.
    private let executor: (any TaskExecutor)?

    init(model: any ServedModel, statistics: ModelStatistics, executor: (any TaskExecutor)? = nil) {
        self.model = model
        self.statistics = statistics
        self.executor = executor
        freeInstances = Array((0..<model.config.instances).reversed())
    }

    var waiting: Int { queue.count - head }

    /// Runs a request (inputs validated, `rows` its batch size) and returns its outputs.
    func submit(_ inputs: [WireTensor], rows: Int) async throws -> Completion {
        guard waiting < model.config.maxQueue else {
            throw ProtocolError(503, "model '\(model.name)' is overloaded: \(waiting) requests already wait (max_queue \(model.config.maxQueue)); retry later")
        }
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Pending(inputs: inputs, rows: rows, enqueued: MonotonicClock.now(), continuation: continuation))
            dispatch()
        }
    }

    private func dispatch() {
        while !freeInstances.isEmpty && head < queue.count {
            let limit = max(1, model.config.maxBatchSize)
            var end = head, rows = 0
            while end < queue.count, model.config.maxBatchSize > 0 || end == head, rows + queue[end].rows <= limit {
                rows += queue[end].rows
                end += 1
            }
            if end == head { end = head + 1 }   // a lone request larger than the limit was refused earlier
            let full = rows >= limit || end < queue.count
            let waited = Duration.nanoseconds(Int64(MonotonicClock.now() - queue[head].enqueued))
            if !full && waited < model.config.maxQueueDelay {
                armTimer(after: model.config.maxQueueDelay - waited)
                return
            }
            let batch = Array(queue[head..<end])
            head = end
            if head > 256 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            let instance = freeInstances.removeLast()
            Task(executorPreference: executor) { await self.run(batch, on: instance) }
        }
    }

    private func armTimer(after delay: Duration) {
        guard !timerArmed else { return }
        timerArmed = true
        Task(executorPreference: executor) {
            try? await Task.sleep(for: delay)
            await self.timerFired()
        }
    }

    private func timerFired() {
        timerArmed = false
        dispatch()
    }

    private func run(_ batch: [Pending], on instance: Int) async {
        let started = MonotonicClock.now()
        do {
            let result = try await model.execute(batch.map(\.inputs), rows: batch.map(\.rows), instance: instance)
            let finished = MonotonicClock.now()
            statistics.recordExecution(rows: batch.reduce(0) { $0 + $1.rows }, inputNs: result.inputNs, inferNs: result.inferNs)
            for (pending, outputs) in zip(batch, result.outputs) {
                pending.continuation.resume(returning: Completion(
                    outputs: outputs, queueNs: started - pending.enqueued, computeNs: finished - started,
                    batchRows: batch.reduce(0) { $0 + $1.rows }))
            }
        } catch {
            for pending in batch { pending.continuation.resume(throwing: error) }
        }
        freeInstances.append(instance)
        dispatch()
    }
}
