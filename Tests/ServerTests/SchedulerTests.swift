import EdgeInsightCore
import InferenceProtocol
@testable import Server
import Testing

/// The dynamic batcher in process, on the `sleep` model (a known compute time per batch). Delays
/// are seconds long where a count depends on them, so a stalled machine cannot change the counts.
@Suite(.timeLimit(.minutes(2))) struct SchedulerTests {
    func sleepModel(maxBatch: Int, queueDelay: Duration, maxQueue: Int = 64, sleep: Duration, instances: Int = 1) -> Scheduler {
        var config = ModelConfig()
        config.maxBatchSize = maxBatch
        config.maxQueueDelay = queueDelay
        config.maxQueue = maxQueue
        config.sleep = sleep
        config.instances = instances
        return Scheduler(model: SleepModel(name: "sleep", config: config), statistics: ModelStatistics())
    }

    func request(_ value: Float, rows: Int = 1, width: Int = 16) -> [WireTensor] {
        let data = (0..<(rows * width)).flatMap { _ in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
        return [WireTensor(name: "input", datatype: .fp32, shape: [rows, width], data: TensorBytes(data))]
    }

    /// A model with dynamic dimensions gets requests of several shapes; a batch joins one shape only.
    /// Two of width 16 wait for company; a width-8 one arrives and cannot join, so the pair leaves at
    /// once; three more of width 8 fill a batch of four with it. The queue delay is a minute, so no
    /// batch here can have left by the timer, however slowly a busy machine runs the test.
    @Test func aBatchJoinsRequestsOfOneShapeOnly() async throws {
        let scheduler = sleepModel(maxBatch: 4, queueDelay: .seconds(60), sleep: .milliseconds(20))
        func submit(_ width: Int) -> Task<Completion, any Error> {
            Task { try await scheduler.submit(self.request(Float(width), width: width), rows: 1) }
        }
        let wide = submit(16)
        while scheduler.waiting < 1 { try await Task.sleep(for: .milliseconds(10)) }
        let wide2 = submit(16)
        while scheduler.waiting < 2 { try await Task.sleep(for: .milliseconds(10)) }
        let narrow = submit(8)
        while scheduler.waiting != 1 { try await Task.sleep(for: .milliseconds(10)) }
        let more = (0..<3).map { _ in submit(8) }
        let pair = [try await wide.value, try await wide2.value]
        var other = [try await narrow.value]
        for task in more { other.append(try await task.value) }
        #expect(pair.map(\.batchRows) == [2, 2] && other.map(\.batchRows) == [4, 4, 4, 4])
        #expect(pair.allSatisfy { $0.outputs[0].shape == [1, 16] } && other.allSatisfy { $0.outputs[0].shape == [1, 8] })
        #expect(pair.allSatisfy { $0.queueNs < 60_000_000_000 }, "the pair left when the narrow request arrived, not by the timer")
    }

    /// Six requests at once, batches of up to four, a 5 s queue delay: four leave together as soon
    /// as the fourth arrives, the other two after the delay; each gets its own rows back. (The delay
    /// is long so that a starved machine still submits all six well within it.)
    @Test func batchesFormUpToTheLimitAndEachRequestGetsItsRows() async throws {
        let scheduler = sleepModel(maxBatch: 4, queueDelay: .seconds(5), sleep: .milliseconds(20))
        let results = try await withThrowingTaskGroup(of: (Float, Completion).self) { group in
            for i in 0..<6 { group.addTask { (Float(i), try await scheduler.submit(self.request(Float(i)), rows: 1)) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.map(\.1.batchRows).sorted() == [2, 2, 4, 4, 4, 4])
        for (value, completion) in results {
            let echoed = Array(completion.outputs[0].data).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(echoed.count == 16 && echoed.allSatisfy { $0 == value })
            #expect(completion.computeNs >= 20_000_000)
        }
        // The pair waited out the queue delay (a full batch would not have).
        #expect(results.filter { $0.1.batchRows == 2 }.allSatisfy { $0.1.queueNs >= 5_000_000_000 })
    }

    /// One instance busy for 3 s at a time, room for two waiting: the fourth request is refused with
    /// 503 naming the limit, and the three others are served in turn.
    @Test func pastMaxQueueRequestsAreRefused() async throws {
        let scheduler = sleepModel(maxBatch: 0, queueDelay: .zero, maxQueue: 2, sleep: .seconds(3))
        let first = Task { try await scheduler.submit(request(1), rows: 1) }
        let waiting = (2...3).map { i in Task { try await scheduler.submit(self.request(Float(i)), rows: 1) } }
        // However slowly a busy machine starts the tasks: one runs, two wait.
        while scheduler.waiting < 2 { try await Task.sleep(for: .milliseconds(10)) }
        do {
            _ = try await scheduler.submit(request(4), rows: 1)
            Issue.record("a third waiting request was accepted")
        } catch let error as ProtocolError {
            #expect(error.status == 503 && error.message.contains("max_queue 2"), "\(error)")
        }
        let served = [try await first.value] + (try await [waiting[0].value, waiting[1].value])
        #expect(served.allSatisfy { $0.batchRows == 1 })
        #expect(served.filter { $0.queueNs >= 1_000_000_000 }.count == 2, "two queued behind the one running")
    }
}
