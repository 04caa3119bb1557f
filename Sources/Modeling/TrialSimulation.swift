import EdgeInsightCore
import Foundation
import Link

/// Everything a simulated trial needs, in nanoseconds and bytes: what the configuration and the
/// component models say about each stage.
public struct SimulationSetup: Sendable {
    public var arrivals: ArrivalProcess
    public var warmupNs: Double
    public var durationNs: Double
    public var queueCapacity: Int
    /// The source's work per frame before it is queued (capture, encode); the source is one thread,
    /// so a source slower than its rate falls behind.
    public var source: StageTime
    /// Frames the device works on at once: 1 for `edge`, the requests in flight for the cloud.
    public var processors: Int
    /// The device's work per frame in core-nanoseconds (all of it for `edge`; the request's
    /// preparation for the cloud placements), run at `deviceRate` cores under `deviceQuota`,
    /// keeping `deviceBusy` cores busy (what the quota charges; nil: `deviceRate`).
    public var device: StageTime
    public var deviceRate: Double
    public var deviceBusy: Double?
    public var deviceQuota: CPUQuota
    /// The link and the cloud node, for the cloud placements.
    public var cloud: CloudLeg?
    /// σ of the logarithm of a per-trial factor on every compute time of the trial (the source's,
    /// the device's, the cloud node's), drawn once per simulated trial with median 1: a measured
    /// trial runs on the machine as it is then, and the prediction on a model with its own error;
    /// both move a whole trial, not a frame. Widens the bands; the medians stay.
    public var trialLogSigma = 0.0
    /// Every replication's factor on compute times, fixed (nil: drawn with `trialLogSigma`): a
    /// deployment on a machine that far from the model's median, for the long run's interval.
    public var fixedPace: Double?
    /// Measured frames to simulate at least (repeating the trial with new seeds): enough for a p99.
    public var minimumFrames = 2000
    /// Percentiles of the distribution (what a deployment sees over time) rather than those a
    /// trial of this length reports.
    public var longRun = false
    public var seed: UInt64 = 1

    public init(arrivals: ArrivalProcess, warmupNs: Double, durationNs: Double, queueCapacity: Int, source: StageTime, processors: Int,
                device: StageTime, deviceRate: Double = 1, deviceQuota: CPUQuota = CPUQuota(cores: nil, periodNs: 4e6), cloud: CloudLeg? = nil) {
        self.arrivals = arrivals
        self.warmupNs = warmupNs
        self.durationNs = durationNs
        self.queueCapacity = queueCapacity
        self.source = source
        self.processors = processors
        self.device = device
        self.deviceRate = deviceRate
        self.deviceQuota = deviceQuota
        self.cloud = cloud
    }
}

/// The link to the cloud node and the node itself.
public struct CloudLeg: Sendable {
    public var requestBytes: Double
    public var responseBytes: Double
    public var uplink: Bandwidth?
    public var downlink: Bandwidth?
    public var rttNs: Double
    public var jitterNs: Double
    public var loss: Double
    /// What a request costs beyond the physics (HTTP, the client, the proxy), per round trip.
    public var overheadNs: Double
    public var instances: Int
    /// Largest batch the server forms from waiting requests (1: no batching).
    public var maxBatch: Int
    /// Server time of a batch of b requests: `computePerItem`·b + `computeFixed`, each item's drawn.
    public var compute: StageTime
    public var computeFixedNs: Double

    public init(requestBytes: Double, responseBytes: Double, uplink: Bandwidth?, downlink: Bandwidth?, rttNs: Double, jitterNs: Double, loss: Double,
                overheadNs: Double, instances: Int, maxBatch: Int, compute: StageTime, computeFixedNs: Double = 0) {
        self.requestBytes = requestBytes
        self.responseBytes = responseBytes
        self.uplink = uplink
        self.downlink = downlink
        self.rttNs = rttNs
        self.jitterNs = jitterNs
        self.loss = loss
        self.overheadNs = overheadNs
        self.instances = instances
        self.maxBatch = maxBatch
        self.compute = compute
        self.computeFixedNs = computeFixedNs
    }
}

extension CloudLeg {
    var retransmissionTimeoutNs: Double { TCPModel.retransmissionTimeoutNs(rttNs: rttNs, jitterNs: jitterNs) }

    /// The mean cost of loss for a message of `bytes`: one lost segment among its segments costs an
    /// RTT (fast retransmit), or the RTO when it is one of the last three (no duplicate ACKs follow).
    public static func expectedLossPenaltyNs(bytes: Double, loss: Double, rttNs: Double, jitterNs: Double) -> Double {
        guard loss > 0 else { return 0 }
        let message = MessageLoss(bytes: bytes, loss: loss), segments = Double(message.segments)
        let late = min(Double(TCPModel.duplicateACKs), segments) / segments
        return (1 - message.clean) * (late * TCPModel.retransmissionTimeoutNs(rttNs: rttNs, jitterNs: jitterNs) + (1 - late) * rttNs)
    }
}

/// What a simulated trial predicts, in the units Results stores.
public struct SimulatedTrial: Sendable, Equatable {
    public var offeredRate: Double
    public var throughput: Double
    /// Share of offered frames dropped at the device's queue.
    public var dropShare: Double
    public var latencyMeanNs: Double
    public var latencyP50Ns: Double
    public var latencyP90Ns: Double
    public var latencyP99Ns: Double
    /// Where 90% of trials of this length report their p50 and p99 and their throughput (5th to
    /// 95th percentile over the simulated trials, each with its own speed draw); nil for the long run.
    public var latencyP50BandNs: ClosedRange<Double>?
    public var latencyP99BandNs: ClosedRange<Double>?
    public var throughputBand: ClosedRange<Double>?
    /// Mean time per frame in each part: `source`, `queue`, `device`, `network`, `server_queue`, `server_compute`.
    public var stageMeansNs: [String: Double]
    public var framesSimulated: Int
}

/// A seeded discrete-event simulation of one trial, the way the edge node and testbed run it:
/// frames offered by the arrival process after the source's own work, a bounded queue that drops
/// when full, `processors` frames in progress on a device whose CPU quota is kept period by
/// period, and for the cloud placements the request's serialisation on a shared uplink, the round
/// trip, jitter and loss (a lost segment costs an RTT, or the RTO near the end of the request), the
/// cloud node's queue, batches and instances, and the reply. Latency counts from the intended
/// capture time, as the edge node measures it.
public enum TrialSimulation {
    public static func run(_ setup: SimulationSetup) -> SimulatedTrial {
        var latencies: [Double] = []
        var stageSums = Parts()
        var offered = 0, processed = 0, dropped = 0
        var measuredSeconds = 0.0
        var replication: UInt64 = 0
        /// Each replication's latencies, sorted: a trial of this length, as it would report them.
        var trials: [[Double]] = []
        /// Each replication's throughput: what a trial of this length reports.
        var throughputs: [Double] = []
        repeat {
            // Each replication's seed is mixed, not stepped: SplitMix64 walks its state in steps of
            // 0x9E37…7C15, so seeds that far apart would give the same numbers shifted by one.
            var mixer = SeededRandom(seed: setup.seed ^ (replication &* 0xD1B5_4A32_D192_ED03))
            var run = Replication(setup: setup, seed: mixer.next())
            run.simulate()
            latencies += run.latencies
            if !run.latencies.isEmpty { trials.append(run.latencies.sorted()) }
            if run.measuredSeconds > 0 { throughputs.append(Double(run.latencies.count) / run.measuredSeconds) }
            stageSums.add(run.sums)
            offered += run.offered
            processed += run.latencies.count
            dropped += run.dropped
            measuredSeconds += run.measuredSeconds
            replication += 1
        } while offered < setup.minimumFrames && replication < 10_000 && setup.durationNs > 0
        latencies.sort()
        // A trial's percentile is one of its frames; what a trial of this length will report is
        // the median over the replications of that frame (robust where a rare event — a lost
        // segment's retransmission — lands in some short trials and not in most). Long run: the
        // pooled distribution's own.
        // What each simulated trial reports, per percentile, sorted (once: the prediction and its band read it).
        let reported = setup.longRun ? [:] : Dictionary(uniqueKeysWithValues: [0.5, 0.9, 0.99].map { q in
            (q, trials.map { MeasuredPercentile.reported(q, of: $0) }.sorted())
        })
        func quantile(_ q: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            guard let each = reported[q], !each.isEmpty else { return latencies[min(latencies.count - 1, Int(q * Double(latencies.count)))] }
            return each[each.count / 2]
        }
        func band(_ sorted: [Double]) -> ClosedRange<Double>? {
            guard sorted.count >= 20 else { return nil }
            return sorted[sorted.count / 20]...sorted[min(sorted.count - 1, sorted.count * 19 / 20)]
        }
        func band(_ q: Double) -> ClosedRange<Double>? { reported[q].flatMap(band) }
        return SimulatedTrial(
            offeredRate: Double(offered) / (Double(replication) * setup.durationNs / 1e9),
            throughput: measuredSeconds > 0 ? Double(processed) / measuredSeconds : 0,
            dropShare: offered > 0 ? Double(dropped) / Double(offered) : 0,
            latencyMeanNs: latencies.isEmpty ? 0 : latencies.reduce(0, +) / Double(latencies.count),
            latencyP50Ns: quantile(0.5), latencyP90Ns: quantile(0.9), latencyP99Ns: quantile(0.99), latencyP50BandNs: band(0.5), latencyP99BandNs: band(0.99),
            throughputBand: setup.longRun ? nil : band(throughputs.sorted()),
            stageMeansNs: stageSums.named.mapValues { processed > 0 ? $0 / Double(processed) : 0 }, framesSimulated: offered)
    }
}

/// One run of the trial's length.
private struct Replication {
    let setup: SimulationSetup
    var random: SeededRandom
    var events = EventQueue()
    var now = 0.0

    // Frames: intended capture time, when each began waiting in the queue, the times each part took.
    var intended: [Double] = []
    /// When each frame leaves the source for the device's queue.
    var offeredAt: [Double] = []
    var parts: [Parts] = []
    var waitingSince: [Double] = []

    var queue: [Int] = []
    var queueHead = 0
    var idleProcessors: Int
    var deviceClock: CPUQuota.Clock
    var sourceFree = 0.0
    var uplinkFree = 0.0, downlinkFree = 0.0
    var serverQueue: [(frame: Int, arrived: Double)] = []
    var idleInstances: Int

    /// This trial's factor on compute times (`SimulationSetup.trialLogSigma`).
    let pace: Double
    var latencies: [Double] = []
    var sums = Parts()
    /// The request's and the reply's segments and the chance that none of them is lost.
    let requestLoss: MessageLoss, responseLoss: MessageLoss
    var offered = 0, dropped = 0
    var lastCompletion = 0.0
    var measuredSeconds: Double { max(setup.durationNs, lastCompletion - setup.warmupNs) / 1e9 }

    init(setup: SimulationSetup, seed: UInt64) {
        self.setup = setup
        random = SeededRandom(seed: seed)
        idleProcessors = max(1, setup.processors)
        if let fixed = setup.fixedPace {
            pace = fixed
        } else {
            pace = setup.trialLogSigma > 0 ? exp(setup.trialLogSigma * random.nextStandardNormal()) : 1
        }
        // A trial starts at a random point of the quota's period and charges: with constant
        // arrivals at a multiple of the period every frame of a trial falls at the same point.
        deviceClock = CPUQuota.Clock(setup.deviceQuota, chargePhase: random.nextUnitDouble() * CPUQuota.chargeNs,
                                     periodPhase: random.nextUnitDouble() * setup.deviceQuota.periodNs)
        idleInstances = max(1, setup.cloud?.instances ?? 1)
        requestLoss = MessageLoss(bytes: setup.cloud?.requestBytes ?? 0, loss: setup.cloud?.loss ?? 0)
        responseLoss = MessageLoss(bytes: setup.cloud?.responseBytes ?? 0, loss: setup.cloud?.loss ?? 0)
    }

    func measured(_ frame: Int) -> Bool { intended[frame] >= setup.warmupNs && intended[frame] < setup.warmupNs + setup.durationNs }

    mutating func simulate() {
        // A trial's Poisson arrivals are seeded: the trial offers exactly the frames of its own
        // sequence (a "7 fps" 6 s trial may offer 7.4 a second), so each replication replays it
        // and only the work drawn differs. The long run (a deployment) is every sequence: a fresh
        // seed per replication.
        let process: ArrivalProcess = if case .poisson(let rate, _) = setup.arrivals, setup.longRun {
            .poisson(rate: rate, seed: random.next())
        } else {
            setup.arrivals
        }
        var schedule = process.schedule(from: 0)
        let end = setup.warmupNs + setup.durationNs
        while let t = schedule.next().map({ Double($0) }), t < end {
            let frame = intended.count
            intended.append(t)
            parts.append(Parts())
            waitingSince.append(-1)
            // The source is one thread: its work follows the previous frame's.
            let start = max(t, sourceFree)
            sourceFree = start + setup.source.draw(&random) * pace
            parts[frame].source = sourceFree - t
            offeredAt.append(sourceFree)
            if process == .asFastAsPossible { break }
        }
        // Frames come from the source in time order, so they wait in their own list, not in the
        // heap; at equal times a frame comes first, as it was scheduled before anything else.
        var next = 0
        while true {
            let arrival = next < offeredAt.count ? offeredAt[next] : .infinity
            if let time = events.nextTime, time < arrival {
                let (_, event) = events.pop()!
                now = time
                handle(event)
            } else if next < offeredAt.count {
                now = arrival
                handle(.offered(next))
                next += 1
            } else {
                return
            }
        }
    }

    mutating func handle(_ event: Event) {
        switch event {
        case .offered(let frame):
            if measured(frame) { offered += 1 }
            if idleProcessors > 0 {
                idleProcessors -= 1
                start(frame)
            } else if queue.count - queueHead < setup.queueCapacity {
                queue.append(frame)
                waitingSince[frame] = now
            } else if measured(frame) {
                dropped += 1
            }
        case .deviceDone(let frame):
            guard let cloud = setup.cloud else { return complete(frame) }
            // Serialised on the shared uplink, then the propagation delay, jitter, loss.
            let start = max(now, uplinkFree)
            uplinkFree = start + (cloud.uplink.map { $0.transmissionNanoseconds(Int(cloud.requestBytes)) } ?? 0)
            let arrival = uplinkFree + cloud.rttNs / 2 + jitter(cloud) + lossPenalty(cloud, requestLoss) + cloud.overheadNs
            parts[frame].network = arrival - now
            events.push(arrival, .atServer(frame))
        case .atServer(let frame):
            serverQueue.append((frame, now))
            dispatch()
        case .serverDone(let batch):
            idleInstances += 1
            guard let cloud = setup.cloud else { return }
            for frame in batch {
                let start = max(now, downlinkFree)
                downlinkFree = start + (cloud.downlink.map { $0.transmissionNanoseconds(Int(cloud.responseBytes)) } ?? 0)
                let back = downlinkFree + cloud.rttNs / 2 + jitter(cloud) + lossPenalty(cloud, responseLoss)
                parts[frame].network += back - now
                events.push(back, .answered(frame))
            }
            dispatch()
        case .answered(let frame):
            complete(frame)
        }
    }

    /// A processor takes the frame: the device's share of the work, under its quota.
    mutating func start(_ frame: Int) {
        if waitingSince[frame] >= 0 { parts[frame].queue = now - waitingSince[frame] }
        let done = deviceClock.finish(start: now, work: setup.device.draw(&random) * pace, rate: setup.deviceRate, busy: setup.deviceBusy)
        parts[frame].device = done - now
        events.push(done, .deviceDone(frame))
    }

    mutating func complete(_ frame: Int) {
        lastCompletion = max(lastCompletion, now)
        if measured(frame) {
            latencies.append(now - intended[frame])
            sums.add(parts[frame])
        }
        if queueHead < queue.count {
            let next = queue[queueHead]
            queueHead += 1
            start(next)
        } else {
            idleProcessors += 1
        }
    }

    /// Starts batches on free instances: up to `maxBatch` of the waiting requests, oldest first.
    mutating func dispatch() {
        guard let cloud = setup.cloud else { return }
        while idleInstances > 0 && !serverQueue.isEmpty {
            let size = min(max(1, cloud.maxBatch), serverQueue.count)
            let batch = serverQueue.prefix(size)
            serverQueue.removeFirst(size)
            idleInstances -= 1
            var compute = cloud.computeFixedNs
            for _ in 0..<size { compute += cloud.compute.draw(&random) * pace }
            for (frame, arrived) in batch {
                parts[frame].serverQueue = now - arrived
                parts[frame].serverCompute = compute
            }
            events.push(now + compute, .serverDone(batch.map(\.frame)))
        }
    }

    mutating func jitter(_ cloud: CloudLeg) -> Double {
        cloud.jitterNs > 0 ? (random.nextUnitDouble() * 2 - 1) * cloud.jitterNs : 0
    }

    mutating func lossPenalty(_ cloud: CloudLeg, _ message: MessageLoss) -> Double {
        guard cloud.loss > 0, random.nextUnitDouble() >= message.clean else { return 0 }
        let position = Int(random.nextUnitDouble() * Double(message.segments))
        return message.segments - position <= TCPModel.duplicateACKs ? cloud.retransmissionTimeoutNs : cloud.rttNs
    }
}

/// A message's segments, and the chance that none of them is lost.
struct MessageLoss {
    let segments: Int
    let clean: Double

    init(bytes: Double, loss: Double) {
        segments = TCPModel.segments(Int(bytes.rounded(.up)))
        clean = pow(1 - loss, Double(segments))
    }
}

/// The times one frame spent in each part of the trial.
private struct Parts {
    var source = 0.0, queue = 0.0, device = 0.0, network = 0.0, serverQueue = 0.0, serverCompute = 0.0

    mutating func add(_ other: Parts) {
        source += other.source
        queue += other.queue
        device += other.device
        network += other.network
        serverQueue += other.serverQueue
        serverCompute += other.serverCompute
    }

    /// The parts a frame spent time in, by the names `SimulatedTrial.stageMeansNs` gives them.
    var named: [String: Double] {
        ["source": source, "queue": queue, "device": device, "network": network,
         "server_queue": serverQueue, "server_compute": serverCompute].filter { $0.value > 0 }
    }
}

private enum Event {
    case offered(Int), deviceDone(Int), atServer(Int), serverDone([Int]), answered(Int)
}

/// A binary heap of events by time; equal times leave in the order they were pushed.
private struct EventQueue {
    private var heap: [(time: Double, order: Int, event: Event)] = []
    private var pushed = 0

    var nextTime: Double? { heap.first?.time }

    mutating func push(_ time: Double, _ event: Event) {
        heap.append((time, pushed, event))
        pushed += 1
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard before(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (Double, Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < heap.count, before(heap[l], heap[smallest]) { smallest = l }
            if r < heap.count, before(heap[r], heap[smallest]) { smallest = r }
            if smallest == i { break }
            heap.swapAt(i, smallest)
            i = smallest
        }
        return (top.time, top.event)
    }

    private func before(_ a: (time: Double, order: Int, event: Event), _ b: (time: Double, order: Int, event: Event)) -> Bool {
        a.time < b.time || (a.time == b.time && a.order < b.order)
    }
}
