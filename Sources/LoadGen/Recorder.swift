import EdgeInsightCore
import Synchronization

/// One measurement window.
public struct WindowResult: Sendable, Codable {
    public var seconds: Double
    public var completed: Int
    public var failed: Int
    /// Failed requests by HTTP status, with the server's message.
    public var failures = Failures()
    /// Requests started in the window (open loop: what was actually offered).
    public var sent: Int
    public var requestsPerSecond: Double
    public var latency: LatencySummary
    /// Actual send time minus intended send time (open loop only).
    public var lateness: LatencySummary?
    public var serverQueueMeanNs: Double?
    public var serverComputeMeanNs: Double?
    public var clientReceiveMeanNs: Double
}

/// Collects completions from many tasks into the current window. A mutex, not an actor: every
/// request passes here, and an actor hop per completion would add to the latency it measures.
final class Recorder: Sendable {
    private struct State {
        var latency = LatencyHistogram()
        var lateness = LatencyHistogram()
        var completed = 0, failed = 0, sent = 0
        var failures = Failures()
        var queueNs: UInt64 = 0, computeNs: UInt64 = 0, serverSamples = 0
        var receiveNs: UInt64 = 0
        var opened = MonotonicClock.now()
        var sendTimes: [(intended: UInt64, actual: UInt64)] = []
    }

    private let state = Mutex(State())
    private let keepSendTimes: Bool

    init(keepSendTimes: Bool = false) { self.keepSendTimes = keepSendTimes }

    /// Notes a send; `intended` is when the schedule wanted it (the send time itself in a closed loop).
    func sent(at time: UInt64, intended: UInt64? = nil) {
        state.withLock {
            $0.sent += 1
            if let intended { $0.lateness.record(nanoseconds: time > intended ? time - intended : 0) }
            if keepSendTimes && $0.sendTimes.count < 1_000_000 { $0.sendTimes.append((intended ?? time, time)) }
        }
    }

    func record(_ outcome: CallOutcome, latencyNs: UInt64) {
        state.withLock {
            guard outcome.ok else {
                $0.failed += 1
                $0.failures.add(status: outcome.status, message: outcome.message)
                return
            }
            $0.completed += 1
            $0.latency.record(nanoseconds: latencyNs)
            $0.receiveNs += outcome.receiveNs
            if let queue = outcome.serverQueueNs, let compute = outcome.serverComputeNs {
                $0.queueNs += queue
                $0.computeNs += compute
                $0.serverSamples += 1
            }
        }
    }

    var completedInWindow: Int { state.withLock { $0.completed + $0.failed } }

    /// Closes the current window and opens the next; returns its summary and its latency
    /// histogram, taken under the same lock so the two describe the same requests.
    func rotate(openLoop: Bool) -> (WindowResult, LatencyHistogram) {
        let now = MonotonicClock.now()
        let s = state.withLock { state -> State in
            let closed = state
            state = State()
            state.opened = now
            state.sendTimes = closed.sendTimes
            return closed
        }
        let seconds = Double(now - s.opened) / 1e9
        let window = WindowResult(
            seconds: seconds, completed: s.completed, failed: s.failed, failures: s.failures, sent: s.sent,
            requestsPerSecond: seconds > 0 ? Double(s.completed) / seconds : 0,
            latency: s.latency.summary, lateness: openLoop ? s.lateness.summary : nil,
            serverQueueMeanNs: s.serverSamples > 0 ? Double(s.queueNs) / Double(s.serverSamples) : nil,
            serverComputeMeanNs: s.serverSamples > 0 ? Double(s.computeNs) / Double(s.serverSamples) : nil,
            clientReceiveMeanNs: s.completed > 0 ? Double(s.receiveNs) / Double(s.completed) : 0)
        return (window, s.latency)
    }

    /// Every send so far, intended and actual (kept only when asked for, for distribution checks).
    var sendTimes: [(intended: UInt64, actual: UInt64)] { state.withLock { $0.sendTimes } }
}
