import EdgeInsightCore
import NIOCore

/// The TCP facts the link model leans on.
public enum TCPModel {
    /// Payload bytes of one segment on a 1500-byte MTU path (1500 − 20 IP − 32 TCP with timestamps).
    public static let segmentBytes = 1448
    /// Linux's minimum retransmission timeout.
    public static let minimumRTONs: Int64 = 200_000_000
    /// Duplicate ACKs that trigger a fast retransmit: a lost segment needs this many behind it.
    public static let duplicateACKs = 3

    /// Segments a message of `bytes` takes (at least one).
    public static func segments(_ bytes: Int) -> Int { max(1, (bytes + segmentBytes - 1) / segmentBytes) }

    /// Linux's retransmission timeout: max(200 ms, RTT + 4 × jitter) — its floor and its
    /// RTT-variance term.
    public static func retransmissionTimeoutNs(rttNs: Double, jitterNs: Double) -> Double { max(Double(minimumRTONs), rttNs + 4 * jitterNs) }
}

/// Nanoseconds on the clock NIO schedules timers with.
@inline(__always) func nowNs() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

/// One direction of a link: a single bottleneck that every connection's bytes share, then a delay line.
///
/// The bottleneck is a token bucket kept as a *virtual finish time* `V` (the moment the bucket would
/// be empty): sending n bytes at time t sets `V = max(V, t − burst/rate) + n/rate` and the bytes leave
/// at `max(t, V)`. Connections take turns in quanta (round robin), so a busy connection cannot starve
/// the others — the fairness of a router's fair queue. The scheduler looks `lookahead` into the future
/// so a late timer costs no throughput. After the bottleneck, bytes wait the propagation delay plus
/// jitter, and a lost segment adds what TCP's retransmission would cost; bytes of one connection are
/// never delivered before earlier bytes of it (TCP is in order), so jitter never reorders.
///
/// Confined to one event loop: every method runs on `eventLoop`.
final class DirectionShaper: @unchecked Sendable {
    let shape: DirectionShape
    let eventLoop: EventLoop
    private var random: SeededRandom
    private var virtualFinishNs: Int64 = 0
    private let burstNs: Int64
    private let quantum: Int
    private var turns = CircularBuffer<Flow>()
    private var wakeup: Scheduled<Void>?
    private var wakeupAtNs: Int64 = .max

    static let lookaheadNs: Int64 = 2_000_000
    static let catchUpNs: Int64 = 25_000_000
    /// No bytes waited at the bottleneck since the last were sent.
    private var idle = true

    // Counters (read on the event loop).
    private(set) var offeredBytes: Int64 = 0
    private(set) var deliveredBytes: Int64 = 0
    private(set) var waitingBytes: Int64 = 0
    private(set) var retransmittedSegments: Int64 = 0
    /// Losses that waited for the retransmission timeout (counted as their bytes are delivered).
    var retransmissionTimeouts: Int64 = 0
    /// What the link planned for each chunk after the bottleneck (delay, jitter, loss penalty), the
    /// first `plannedKept` of them: the physics as intended, free of the machine's timing noise.
    private(set) var plannedDelaysNs: [Int64] = []
    static let plannedKept = 100_000
    /// Time with bytes on their way, so throughput counts the link's busy time, not its idle time.
    private var finishedBusyNs: Int64 = 0
    private var busySinceNs: Int64 = 0
    /// Busy time so far, the current busy spell included (a link read while it works is busy now).
    var busyNs: Int64 { finishedBusyNs + (offeredBytes > deliveredBytes ? nowNs() - busySinceNs : 0) }

    init(shape: DirectionShape, eventLoop: EventLoop, seed: UInt64) {
        self.shape = shape
        self.eventLoop = eventLoop
        self.random = SeededRandom(seed: seed)
        if let bandwidth = shape.bandwidth {
            burstNs = Int64(bandwidth.transmissionNanoseconds(Int(shape.burst.count)))
            // About 1 ms of the link per turn: fine-grained enough to share fairly, coarse enough
            // that timers stay few; never below one segment.
            quantum = min(64 * 1024, max(TCPModel.segmentBytes, Int(bandwidth.bytesPerSecond / 1000)))
        } else {
            burstNs = 0
            quantum = Int.max
        }
    }

    /// Takes bytes a connection sent into this direction.
    func offer(_ buffer: ByteBuffer, from flow: Flow) {
        let size = buffer.readableBytes
        if offeredBytes == deliveredBytes { busySinceNs = nowNs() }
        offeredBytes += Int64(size)
        if shape.isTransparent {
            flow.write(buffer)
            delivered(size)
            return
        }
        flow.queue.append(buffer)
        flow.queuedBytes += size
        waitingBytes += Int64(size)
        if !flow.hasTurn {
            flow.hasTurn = true
            turns.append(flow)
        }
        serve()
    }

    /// Counts bytes handed to the receiving socket.
    func delivered(_ size: Int) {
        deliveredBytes += Int64(size)
        if deliveredBytes == offeredBytes { finishedBusyNs += nowNs() - busySinceNs }
    }

    /// Moves queued bytes through the bottleneck, in turns, up to `lookahead` ahead of now.
    private func serve() {
        let now = nowNs()
        while let flow = turns.first {
            if shape.bandwidth != nil, virtualFinishNs > now + Self.lookaheadNs {
                scheduleWakeup(atNs: virtualFinishNs - Self.lookaheadNs)
                return
            }
            var head = flow.queue.removeFirst()
            let size = min(quantum, head.readableBytes)
            let chunk = head.readSlice(length: size)!
            if head.readableBytes > 0 { flow.queue.prepend(head) }
            flow.queuedBytes -= size
            waitingBytes -= Int64(size)

            var departureNs = now
            if let bandwidth = shape.bandwidth {
                // An idle link banks at most a burst of credit. A backlogged one was sending all along,
                // so a wake-up the machine made late (a busy CPU) is caught up, not lost from the rate —
                // up to `catchUpNs`, past which the stall is the emulator's, not the link's.
                let credit = idle ? burstNs : max(burstNs, Self.catchUpNs)
                virtualFinishNs = max(virtualFinishNs, now - credit) + Int64(bandwidth.transmissionNanoseconds(size))
                departureNs = max(now, virtualFinishNs)
                idle = false
            }
            let arrivalNs = departureNs + Int64(shape.delay.nanoseconds) + jitterNs()
            // These segments follow a tail loss still waiting: with three behind it, the sender's
            // duplicate ACKs bring the fast retransmit an RTT after the third arrives.
            if let tail = flow.tailLoss {
                if tail.needed <= TCPModel.segments(size) {
                    flow.tailLoss = nil
                    flow.expedite(entry: tail.entry, toNs: arrivalNs + Int64(shape.rtt.nanoseconds))
                } else {
                    flow.tailLoss?.needed -= TCPModel.segments(size)
                }
            }
            let loss = lossPenalty(size, following: flow.queuedBytes)
            if plannedDelaysNs.count < Self.plannedKept { plannedDelaysNs.append(arrivalNs - departureNs + loss.ns) }

            turns.removeFirst()
            if flow.queuedBytes > 0 { turns.append(flow) } else { flow.hasTurn = false }
            let entry = flow.deliver(chunk, atNs: arrivalNs + loss.ns, awaitingTimeout: loss.awaiting > 0)
            if loss.awaiting > 0, let entry { flow.tailLoss = (entry, loss.awaiting) }
            flow.updateBackpressure()
        }
        idle = true
    }

    private func scheduleWakeup(atNs deadline: Int64) {
        if wakeup != nil, wakeupAtNs <= deadline { return }
        wakeup?.cancel()
        wakeupAtNs = deadline
        wakeup = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, deadline)))) { [self] in
            wakeup = nil
            wakeupAtNs = .max
            serve()
        }
    }

    /// Uniform within ±jitter.
    private func jitterNs() -> Int64 {
        let jitter = shape.jitter.nanoseconds
        guard jitter > 0 else { return 0 }
        return Int64((random.nextUnitDouble() * 2 - 1) * jitter)
    }

    /// What lost segments of a chunk add to its delivery. A segment with at least three more behind
    /// it is recovered by fast retransmit (three duplicate ACKs): about one RTT. One near the end of
    /// what the sender has so far is planned for the retransmission timeout, max(200 ms, RTT + 4 ×
    /// jitter), as Linux's RTO floor and its RTT-variance term would give — and `awaiting` says how
    /// many more segments would bring the fast retransmit instead: behind a kernel-shaped link the
    /// proxy sees a request a few segments at a time, and the rest is still on its way.
    private func lossPenalty(_ size: Int, following: Int) -> (ns: Int64, awaiting: Int) {
        guard shape.loss > 0 else { return (0, 0) }
        let segments = TCPModel.segments(size)
        let segmentsAfter = following / TCPModel.segmentBytes
        var penalty: Int64 = 0, awaiting = 0
        let rtt = Int64(shape.rtt.nanoseconds)
        let timeout = Int64(TCPModel.retransmissionTimeoutNs(rttNs: shape.rtt.nanoseconds, jitterNs: shape.jitter.nanoseconds))
        for index in 0..<segments where random.nextUnitDouble() < shape.loss {
            retransmittedSegments += 1
            let behind = segments - 1 - index + segmentsAfter
            if behind >= TCPModel.duplicateACKs {
                penalty = max(penalty, rtt)
            } else {
                penalty = max(penalty, timeout)
                awaiting = max(awaiting, TCPModel.duplicateACKs - behind)
            }
        }
        return (penalty, awaiting)
    }
}

/// One connection's bytes in one direction: its queue at the bottleneck and its delay line.
///
/// Confined to the link's event loop, like its shaper.
final class Flow: @unchecked Sendable {
    let shaper: DirectionShaper
    /// Where delivered bytes go.
    let output: Channel
    /// Reads from the sending side pause while this flow is backed up.
    let pauseSource: (Bool) -> Void

    var queue = CircularBuffer<ByteBuffer>()
    var queuedBytes = 0
    var hasTurn = false
    /// Bytes this flow has handed to its receiver.
    private(set) var deliveredBytes: Int64 = 0

    /// Chunks past the bottleneck, in the order sent, each with the time it may arrive: one is
    /// released only after all ahead of it (TCP delivers in order), so jitter never reorders and
    /// a retransmission holds back what follows it.
    private var delayLine = CircularBuffer<(entry: Int, atNs: Int64, bytes: ByteBuffer, awaitingTimeout: Bool)>()
    private var delayedBytes = 0
    private var entries = 0
    private var timerAtNs: Int64?
    /// The delay-line entry held by a tail loss, and the segments still needed behind it for a fast retransmit.
    var tailLoss: (entry: Int, needed: Int)?
    private var sourcePaused = false
    private var sourceClosed = false
    private var finished = false

    /// Queued bytes past which the sender is paused; resumed below half of it. Bytes already past
    /// the bottleneck (in flight on the delay line) do not count: they are the link's own BDP.
    static let highWater = 256 * 1024

    init(shaper: DirectionShaper, output: Channel, pauseSource: @escaping (Bool) -> Void) {
        self.shaper = shaper
        self.output = output
        self.pauseSource = pauseSource
    }

    func write(_ buffer: ByteBuffer) {
        deliveredBytes += Int64(buffer.readableBytes)
        output.writeAndFlush(buffer, promise: nil)
        updateBackpressure()
    }

    /// Delivers a chunk no earlier than `atNs` and never before the bytes sent ahead of it; the
    /// delay-line entry it waits in, if it waits (`awaitingTimeout`: held by a tail loss until its
    /// retransmission timeout, unless expedited).
    @discardableResult
    func deliver(_ chunk: ByteBuffer, atNs: Int64, awaitingTimeout: Bool = false) -> Int? {
        if delayLine.isEmpty, atNs <= nowNs() {
            let size = chunk.readableBytes
            output.writeAndFlush(chunk, promise: nil)
            shaper.delivered(size)
            deliveredBytes += Int64(size)
            finishIfDrained()
            return nil
        }
        entries += 1
        delayLine.append((entries, atNs, chunk, awaitingTimeout))
        delayedBytes += chunk.readableBytes
        armTimer()
        return entries
    }

    /// Brings a waiting entry's arrival forward to `toNs` (a retransmission that came sooner).
    func expedite(entry: Int, toNs: Int64) {
        guard let index = delayLine.firstIndex(where: { $0.entry == entry }), toNs < delayLine[index].atNs else { return }
        delayLine[index].atNs = toNs
        delayLine[index].awaitingTimeout = false
        armTimer()
    }

    /// A timer for the head of the line, unless one is set for no later.
    private func armTimer() {
        guard let next = delayLine.first?.atNs, next < timerAtNs ?? .max else { return }
        timerAtNs = next
        _ = shaper.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, next)))) { [self] in
            if timerAtNs == next { timerAtNs = nil }
            releaseDue()
        }
    }

    private func releaseDue() {
        let now = nowNs()
        var wrote = false
        while let next = delayLine.first, next.atNs <= now {
            delayLine.removeFirst()
            if next.awaitingTimeout { shaper.retransmissionTimeouts += 1 }
            let size = next.bytes.readableBytes
            delayedBytes -= size
            output.write(next.bytes, promise: nil)
            shaper.delivered(size)
            deliveredBytes += Int64(size)
            wrote = true
        }
        if wrote { output.flush() }
        armTimer()
        updateBackpressure()
        finishIfDrained()
    }

    /// Pauses the sender while the bottleneck queue is long or the receiver cannot take more.
    func updateBackpressure() {
        let shouldPause = queuedBytes > Self.highWater || !output.isWritable
        let shouldResume = queuedBytes <= Self.highWater / 2 && output.isWritable
        if shouldPause, !sourcePaused {
            sourcePaused = true
            pauseSource(true)
        } else if shouldResume, sourcePaused {
            sourcePaused = false
            pauseSource(false)
        }
    }

    /// The sender closed: deliver what is on the way, then close the receiving side.
    func closeSource() {
        sourceClosed = true
        finishIfDrained()
    }

    private func finishIfDrained() {
        guard sourceClosed, !finished, queuedBytes == 0, delayLine.isEmpty else { return }
        finished = true
        // Close once the socket has taken what was written: a plain close would drop writes still
        // waiting for the receiver (seen: a 5 MB download cut at 4.4 MB on a busy machine).
        let output = self.output
        output.writeAndFlush(ByteBuffer()).whenComplete { _ in output.close(promise: nil) }
    }
}
