import EdgeInsightCore
import Foundation
import Synchronization

/// How load is offered in one step.
public enum LoadMode: Sendable, Equatable, CustomStringConvertible {
    /// Closed loop: N requests always outstanding.
    case concurrency(Int)
    /// Open loop: requests at the arrival process's intended times (a rate, or gaps from a file);
    /// latency counts from the intended send time.
    case open(ArrivalProcess)

    public var description: String {
        switch self {
        case .concurrency(let n): "concurrency \(n)"
        case .open(.constant(let r)): "\(UnitFormat.significant(r)) req/s constant"
        case .open(.poisson(let r, _)): "\(UnitFormat.significant(r)) req/s Poisson"
        case .open(let process): process.description
        }
    }

    var isOpenLoop: Bool { if case .concurrency = self { false } else { true } }
}

/// perf_analyzer's measurement rule, with our defaults: windows of 5 s (or ≥ N requests), until the
/// stability rule holds on mean latency and throughput or the windows run out.
public struct MeasurementPolicy: Sendable {
    public var windowTime: Duration = .seconds(5)
    /// When set, a window ends after this many completed requests instead.
    public var windowRequests: Int?
    public var stability = StabilityRule()
    public var stableWindows: Int { stability.windows }
    public var maxWindows = 10
    public var warmup: Duration = .seconds(1)
    /// When set, warm up until this many requests completed instead.
    public var warmupRequests: Int?

    public init() {}
}

/// The result of one load step.
public struct StepResult: Sendable, Codable {
    public var mode: String
    public var concurrency: Int?
    public var targetRate: Double?
    public var stable: Bool
    public var windows: [WindowResult]
    /// Over the last `stableWindows` windows (or all, when unstable).
    public var requestsPerSecond: Double
    public var samplesPerSecond: Double
    public var sentPerSecond: Double
    public var latency: LatencySummary
    public var lateness: LatencySummary?
    public var serverQueueMeanNs: Double?
    public var serverComputeMeanNs: Double?
    public var clientReceiveMeanNs: Double
    public var failed: Int
    /// Failed requests by HTTP status, with the server's message, over the windows used.
    public var failures = Failures()
    /// Open loop: the client sent later than intended (p99 lateness above 10% of the mean gap, or 1 ms).
    public var clientFellBehind: Bool
}

/// Offers load to an Open Inference Protocol server and measures it.
public final class LoadGenerator: Sendable {
    let client: OIPClient
    let requests: [PreparedRequest]
    private let bound: [BoundRequest]
    /// The same requests as wire bytes, for the closed loop's own connections (plain http only).
    private let wire: (host: String, port: Int, requests: [WireRequest])?

    public init(client: OIPClient, model: String, version: String? = nil, requests: [PreparedRequest]) {
        self.client = client
        let path = "/v2/models/\(model)" + (version.map { "/versions/\($0)" } ?? "") + "/infer"
        self.requests = requests
        let bound = requests.map { client.bind(path, $0) }
        self.bound = bound
        wire = client.plain.map { ($0.host, $0.port, bound.map(\.wire)) }
    }

    /// Runs one step until stable or out of windows. `keepSendTimes` retains every send's intended
    /// and actual time (returned alongside) for checks of the arrival process.
    public func run(_ mode: LoadMode, policy: MeasurementPolicy, keepSendTimes: Bool = false,
                    progress: @escaping @Sendable (Int, WindowResult) -> Void = { _, _ in }) async throws(LoadError) -> (StepResult, [(intended: UInt64, actual: UInt64)]) {
        switch mode {
        case .concurrency(let n) where n < 1: throw .badPlan("concurrency must be at least 1")
        case .open(.asFastAsPossible): throw .badPlan("an open loop needs a schedule; use a concurrency for a closed loop")
        case .open(let process): if let problem = process.problem { throw .badPlan(problem) }
        default: break
        }
        let recorder = Recorder(keepSendTimes: keepSendTimes)
        let stop = Flag()
        var windows: [WindowResult] = []
        var histograms: [LatencyHistogram] = []
        let started = MonotonicClock.now()

        await withTaskGroup(of: Void.self) { group in
            switch mode {
            case .concurrency(let n):
                for worker in 0..<n {
                    group.addTask { await self.closedLoop(worker: worker, recorder: recorder, stop: stop) }
                }
            case .open(let process):
                group.addTask { await self.openLoop(process, start: started, recorder: recorder, stop: stop) }
            }
            if let count = policy.warmupRequests {
                while recorder.completedInWindow < count { try? await Task.sleep(for: .milliseconds(2)) }
            } else {
                try? await Task.sleep(for: policy.warmup)
            }
            _ = recorder.rotate(openLoop: mode.isOpenLoop)   // the warm-up window is discarded
            while windows.count < policy.maxWindows {
                if let count = policy.windowRequests {
                    while recorder.completedInWindow < count { try? await Task.sleep(for: .milliseconds(5)) }
                } else {
                    try? await Task.sleep(for: policy.windowTime)
                }
                let (window, histogram) = recorder.rotate(openLoop: mode.isOpenLoop)
                windows.append(window)
                histograms.append(histogram)
                progress(windows.count, window)
                if Self.isStable(windows, policy: policy) { break }
            }
            stop.set()
            group.cancelAll()
        }
        let stable = Self.isStable(windows, policy: policy)
        let used = stable ? Array(windows.suffix(policy.stableWindows)) : windows
        var merged = LatencyHistogram()
        for histogram in (stable ? Array(histograms.suffix(policy.stableWindows)) : histograms) { merged.merge(histogram) }
        let seconds = used.reduce(0) { $0 + $1.seconds }
        let completed = used.reduce(0) { $0 + $1.completed }
        let sent = used.reduce(0) { $0 + $1.sent }
        let served = used.filter { $0.serverQueueMeanNs != nil }
        let samples = requests.first?.samples ?? 1
        var lateness: LatencySummary?
        if mode.isOpenLoop {
            // The worst window's percentiles: lateness is about whether the client kept up at all.
            lateness = used.compactMap(\.lateness).max { $0.p99Ns < $1.p99Ns }
        }
        let meanGapNs: Double = { if case .open(let process) = mode, let rate = process.rate { 1e9 / rate } else { 0 } }()
        let fellBehind = mode.isOpenLoop && (lateness?.p99Ns ?? 0) > max(1e6, 0.1 * meanGapNs)
        let result = StepResult(
            mode: mode.description,
            concurrency: { if case .concurrency(let n) = mode { n } else { nil } }(),
            targetRate: { if case .open(.constant(let r)) = mode { r } else if case .open(.poisson(let r, _)) = mode { r } else { nil } }(),
            stable: stable, windows: windows,
            requestsPerSecond: seconds > 0 ? Double(completed) / seconds : 0,
            samplesPerSecond: seconds > 0 ? Double(completed * samples) / seconds : 0,
            sentPerSecond: seconds > 0 ? Double(sent) / seconds : 0,
            latency: merged.summary, lateness: lateness,
            serverQueueMeanNs: served.isEmpty ? nil : served.reduce(0) { $0 + $1.serverQueueMeanNs! } / Double(served.count),
            serverComputeMeanNs: served.isEmpty ? nil : served.reduce(0) { $0 + $1.serverComputeMeanNs! } / Double(served.count),
            clientReceiveMeanNs: used.isEmpty ? 0 : used.reduce(0) { $0 + $1.clientReceiveMeanNs } / Double(used.count),
            failed: used.reduce(0) { $0 + $1.failed }, failures: used.reduce(into: Failures()) { $0.merge($1.failures) },
            clientFellBehind: fellBehind)
        return (result, recorder.sendTimes)
    }

    /// The stability rule over the windows, with each window's mean latency (perf_analyzer's default).
    static func isStable(_ windows: [WindowResult], policy: MeasurementPolicy) -> Bool {
        policy.stability.isStable(windows.map { StabilityRule.Window(throughput: $0.requestsPerSecond, latency: $0.latency.meanNs) })
    }

    /// One closed-loop worker: each completion, on the event loop, records and sends the next — on a
    /// connection of its own writing pre-encoded bytes, or through the client (HTTPS, or if that cannot connect).
    private func closedLoop(worker: Int, recorder: Recorder, stop: Flag) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            guard let wire else { return send(worker, recorder: recorder, stop: stop, done: done) }
            ClosedLoopConnection.start(host: wire.host, port: wire.port, group: OIPClient.loop, requests: wire.requests, first: worker,
                                       recorder: recorder, stop: stop, finished: { done.resume() })
                .whenFailure { _ in self.send(worker, recorder: recorder, stop: stop, done: done) }
        }
    }

    private func send(_ index: Int, recorder: Recorder, stop: Flag, done: CheckedContinuation<Void, Never>) {
        guard !stop.isSet else { return done.resume() }
        let sent = MonotonicClock.now()
        recorder.sent(at: sent)
        client.infer(bound[index % bound.count]) { outcome in
            if !stop.isSet { recorder.record(outcome, latencyNs: MonotonicClock.now() - sent) }
            self.send(index + 1, recorder: recorder, stop: stop, done: done)
        }
    }

    /// Sends at intended times whatever the server does; each request's latency counts from its
    /// intended time, so a server that falls behind shows it (no coordinated omission).
    private func openLoop(_ process: ArrivalProcess, start: UInt64, recorder: Recorder, stop: Flag) async {
        var schedule = process.schedule(from: start)
        var intended = schedule.next() ?? start
        var index = 0
        let clock = ContinuousClock()
        let origin = clock.now
        await withDiscardingTaskGroup { group in
            while !stop.isSet && !Task.isCancelled {
                let wait = Int64(intended) - Int64(MonotonicClock.now())
                if wait > 0 { try? await clock.sleep(until: origin + .nanoseconds(Int64(intended - start)), tolerance: .microseconds(50)) }
                if stop.isSet { break }
                let request = bound[index % bound.count]
                let due = intended
                group.addTask {
                    let actual = MonotonicClock.now()
                    recorder.sent(at: actual, intended: due)
                    let outcome = await self.client.infer(request)
                    if !stop.isSet { recorder.record(outcome, latencyNs: MonotonicClock.now() - due) }
                }
                index += 1
                intended = schedule.next() ?? MonotonicClock.now()
            }
            group.cancelAll()
        }
    }
}

/// A stop flag shared by the load tasks.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

