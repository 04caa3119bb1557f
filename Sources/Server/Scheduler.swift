import EdgeInsightCore
import Foundation
import InferenceProtocol
import Synchronization

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
///
/// A request that finds the queue empty, an instance free and no reason to wait for company runs
/// straight away on its own task: no queue, no task of the batcher's, no hand-off between threads.
/// That is every request of an unbatched model below saturation, and what keeps serving cheap next
/// to a real model on a small machine (docs/benchmarks.md, serve-overhead). State sits under a lock
/// rather than in an actor for the same reason: taking it never suspends the request.
final class Scheduler: Sendable {
    let model: any ServedModel
    let statistics: ModelStatistics
    /// Where the batcher's tasks run (nil: the shared pool), as the server's requests do.
    private let executor: (any TaskExecutor)?
    private let state: Mutex<State>

    private struct Pending {
        var inputs: [WireTensor]
        var rows: Int
        /// Batches join only requests whose inputs agree past the batch dimension.
        var shapeKey: [[Int]]
        var enqueued: UInt64
        var continuation: CheckedContinuation<Completion, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var head = 0
        var freeInstances: [Int]
        var timerArmed = false
        var waiting: Int { queue.count - head }
    }

    /// What `dispatch` decided: batches to start now and, if the head must wait for company, how long.
    private struct Decision {
        var batches: [([Pending], Int)] = []
        var timer: Duration?
    }

    init(model: any ServedModel, statistics: ModelStatistics, executor: (any TaskExecutor)? = nil) {
        self.model = model
        self.statistics = statistics
        self.executor = executor
        state = Mutex(State(freeInstances: Array((0..<model.config.instances).reversed())))
    }

    /// Requests waiting for an instance (tests wait on it instead of on time).
    var waiting: Int { state.withLock { $0.waiting } }

    /// Runs a request (inputs validated, `rows` its batch size) and returns its outputs.
    func submit(_ inputs: [WireTensor], rows: Int) async throws -> Completion {
        let enqueued = MonotonicClock.now()
        let config = model.config
        // A lone request waits for company only when batching could add rows to it.
        let waitsForCompany = config.maxBatchSize > 0 && rows < config.maxBatchSize && config.maxQueueDelay > .zero
        let direct: Int? = try state.withLock { state throws(ProtocolError) in
            guard state.waiting < config.maxQueue else {
                throw ProtocolError(503, "model '\(model.name)' is overloaded: \(state.waiting) requests already wait (max_queue \(config.maxQueue)); retry later")
            }
            return state.waiting == 0 && !waitsForCompany ? state.freeInstances.popLast() : nil
        }
        if let instance = direct {
            defer { release(instance) }
            return try await execute([(inputs, rows, enqueued)], on: instance)[0].get()
        }
        return try await withCheckedThrowingContinuation { continuation in
            let decision = state.withLock { state in
                state.queue.append(Pending(inputs: inputs, rows: rows, shapeKey: inputs.map { Array($0.shape.dropFirst()) }, enqueued: enqueued, continuation: continuation))
                return dispatch(&state)
            }
            carryOut(decision)
        }
    }

    /// Takes ready batches off the queue while instances are free.
    private func dispatch(_ state: inout State) -> Decision {
        var decision = Decision()
        let config = model.config
        while !state.freeInstances.isEmpty && state.head < state.queue.count {
            let limit = max(1, config.maxBatchSize)
            var end = state.head, rows = 0
            let shape = state.queue[state.head].shapeKey
            while end < state.queue.count, config.maxBatchSize > 0 || end == state.head, rows + state.queue[end].rows <= limit, state.queue[end].shapeKey == shape {
                rows += state.queue[end].rows
                end += 1
            }
            if end == state.head { end = state.head + 1 }   // a lone request larger than the limit was refused earlier
            let full = rows >= limit || end < state.queue.count
            let waited = Duration.nanoseconds(Int64(MonotonicClock.now() - state.queue[state.head].enqueued))
            if !full && waited < config.maxQueueDelay {
                if !state.timerArmed {
                    state.timerArmed = true
                    decision.timer = config.maxQueueDelay - waited
                }
                break
            }
            decision.batches.append((Array(state.queue[state.head..<end]), state.freeInstances.removeLast()))
            state.head = end
            if state.head > 256 && state.head * 2 > state.queue.count {
                state.queue.removeFirst(state.head)
                state.head = 0
            }
        }
        return decision
    }

    private func carryOut(_ decision: Decision) {
        for (batch, instance) in decision.batches {
            Task(executorPreference: executor) { await self.run(batch, on: instance) }
        }
        if let delay = decision.timer {
            Task(executorPreference: executor) {
                try? await Task.sleep(for: delay)
                let decision = self.state.withLock { state in
                    state.timerArmed = false
                    return self.dispatch(&state)
                }
                self.carryOut(decision)
            }
        }
    }

    private func release(_ instance: Int) {
        let decision = state.withLock { state in
            state.freeInstances.append(instance)
            return dispatch(&state)
        }
        carryOut(decision)
    }

    private func run(_ batch: [Pending], on instance: Int) async {
        defer { release(instance) }
        let results = await execute(batch.map { ($0.inputs, $0.rows, $0.enqueued) }, on: instance)
        for (pending, result) in zip(batch, results) { pending.continuation.resume(with: result) }
    }

    /// Runs one batch on an instance and splits the answer back to its requests.
    private func execute(_ batch: [(inputs: [WireTensor], rows: Int, enqueued: UInt64)], on instance: Int) async -> [Result<Completion, any Error>] {
        let started = MonotonicClock.now()
        do {
            let result = try await model.execute(batch.map(\.inputs), rows: batch.map(\.rows), instance: instance)
            let finished = MonotonicClock.now()
            let rows = batch.reduce(0) { $0 + $1.rows }
            statistics.recordExecution(rows: rows, inputNs: result.inputNs, inferNs: result.inferNs)
            return zip(batch, result.outputs).map { request, outputs in
                .success(Completion(outputs: outputs, queueNs: started - request.enqueued, computeNs: finished - started, batchRows: rows))
            }
        } catch {
            return batch.map { _ in .failure(error) }
        }
    }
}
