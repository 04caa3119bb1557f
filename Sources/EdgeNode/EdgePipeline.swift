import EdgeInsightCore
import Engine
import Foundation
import Imaging
import Synchronization

/// What an edge-placement run does: a source offering frames at a rate, a bounded queue, and a
/// device that pre-processes and infers them one at a time.
public struct EdgePipelineConfig: Sendable {
    public var source: SourceKind
    public var arrivals: ArrivalProcess
    /// Stop offering after this long…
    public var duration: Duration?
    /// …or after this many frames (whichever comes first; at least one must be set).
    public var frames: Int?
    /// Pre-processing; nil uses the standard pipeline for the model's input.
    public var pipeline: Pipeline?
    /// Frames that may wait between the source and the device; a frame arriving to a full queue is dropped.
    public var queueCapacity = 4
    /// Frames captured in this first stretch are processed but not measured: the warm-up runs into
    /// the measurement without a pause, so the device is in its steady state when measuring starts.
    public var warmup: Duration = .zero
    /// Width of the report's timeline slices (default: a tenth of the run, at least 100 ms).
    public var timelineSlice: Duration?
    /// Measure on past `duration`, a slice at a time, until the trial's stability rule holds on
    /// the slices (`StabilityRule.isSteady`), up to this long (needs `duration` and `timelineSlice`).
    public var maxDuration: Duration?
    public var stability = StabilityRule()

    public init(source: SourceKind, arrivals: ArrivalProcess, duration: Duration?, frames: Int? = nil) {
        self.source = source
        self.arrivals = arrivals
        self.duration = duration
        self.frames = frames
    }
}

/// A slice of a run by capture time (a tenth of the run, at least 100 ms, or a chosen width): how latency evolved.
public struct TimelinePoint: Sendable, Codable {
    /// Start of the slice, seconds after the first frame's intended capture.
    public var startSeconds: Double
    public var offered: Int
    public var processed: Int
    public var dropped: Int
    public var p50Ms: Double
    public var p99Ms: Double
    public var meanQueueMs: Double
}

/// What an edge-placement run measured.
public struct EdgePipelineReport: Sendable, Codable {
    public var source: String
    public var arrivals: String
    public var pipeline: String
    public var queueCapacity: Int
    public var offered: Int
    public var processed: Int
    public var dropped: Int
    public var failed: Int
    /// Failure reasons and how often each occurred.
    public var errors: [String: Int]
    public var durationSeconds: Double
    public var offeredRate: Double
    public var throughput: Double
    public var meanFrameBytes: Double
    /// From each frame's intended capture time to the end of post-processing.
    public var endToEnd: LatencySummary
    public var stages: [StageSummary]
    public var timeline: [TimelinePoint]
    /// Engine settings, when the inference ran on this device.
    public var applied: AppliedSettings?
    /// What post-processing made of the last frame (its top class, or its outputs' size and
    /// checksum), a sign the outputs are real.
    public var lastResult: FrameResult?
}

/// Progress of a running edge pipeline.
public struct EdgePipelineProgress: Sendable {
    public var elapsed: Duration
    public var total: Duration?
    public var offered: Int
    public var processed: Int
    public var dropped: Int
    public var queued: Int
}

/// The `edge` placement on this machine: source → bounded queue → pre-process → infer → post-process.
/// The source keeps its own clock and never waits for the device (except in as-fast-as-possible
/// mode), so a device that cannot keep up shows it as queueing latency and dropped frames.
public enum EdgePipeline {
    /// The edge placement: frames are pre-processed and inferred on this device by `model`.
    public static func run(
        _ config: EdgePipelineConfig, model: any CompiledModel, trace writer: TraceWriter? = nil,
        progress: @escaping (EdgePipelineProgress) -> Void = { _ in }
    ) throws(ImagingError) -> EdgePipelineReport {
        try validate(config)
        let local = try LocalInference(model: model, pipeline: config.pipeline, source: config.source)
        return try run(config, processors: [local], trace: writer, progress: progress)
    }

    /// Frames from the source go to `processors`: local inference, or requests to a cloud node (the
    /// testbed's placements). Each processor takes one frame at a time on a thread of its own, so
    /// several processors keep several frames in flight (requests overlapping a link's round trip).
    public static func run(
        _ config: EdgePipelineConfig, processors: [any FrameProcessor], trace writer: TraceWriter? = nil,
        progress: @escaping (EdgePipelineProgress) -> Void = { _ in }
    ) throws(ImagingError) -> EdgePipelineReport {
        try validate(config)
        guard let first = processors.first else { throw .badSource("no frame processor") }
        let producer = try FrameProducer(config.source)
        let queue = FrameQueue(capacity: config.queueCapacity)
        let sourceStart = MonotonicClock.now() + 2_000_000   // a moment for the source thread to start
        let start = sourceStart + UInt64(max(0, config.warmup.nanoseconds))
        let counters = SourceCounters(stopAt: config.duration.map { start + UInt64($0.nanoseconds) } ?? .max)
        let source = Thread {
            produce(config, producer: producer, queue: queue, counters: counters, start: sourceStart, measureFrom: start)
        }
        source.name = "edgeinsight-source"
        source.start()

        // What every processor finished, under one lock (a frame's worth of work per acquisition).
        let tally = TallyBox(writer: writer)
        let reportProgress = { (now: UInt64) in
            let processed = tally.state.withLock { $0.processed }
            progress(EdgePipelineProgress(
                elapsed: .nanoseconds(Int64(now - start)), total: config.duration, offered: counters.offered.load(ordering: .relaxed),
                processed: processed, dropped: counters.dropped.load(ordering: .relaxed), queued: queue.count))
        }
        let helpers = DispatchGroup()
        for processor in processors.dropFirst() {
            let borrowed = Borrowed(processor)
            helpers.enter()
            let thread = Thread {
                consume(queue, processor: borrowed.value, start: start, tally: tally)
                helpers.leave()
            }
            thread.name = "edgeinsight-device"
            thread.start()
        }
        // The first processor runs here, reports progress about once a second and, near the end,
        // decides whether the measurement needs another window.
        var nextReport = start + 1_000_000_000
        var judgedEnd: UInt64 = 0   // the stop already judged: one decision per window, not per frame
        consume(queue, processor: first, start: start, tally: tally) { now in
            if now >= nextReport {
                nextReport += 1_000_000_000
                reportProgress(now)
            }
            if let limit = config.maxDuration, let slice = config.timelineSlice {
                Self.extendUntilStable(now: now, start: start, limit: limit, slice: slice, rule: config.stability, tally: tally, counters: counters,
                                       judged: &judgedEnd)
            }
        }
        helpers.wait()
        let (statistics, errors, finished, processed, failed, lastResult, bytes) = tally.state.withLock {
            ($0.statistics, $0.errors, $0.finished, $0.processed, $0.failed, $0.lastResult, $0.bytes)
        }
        let end = MonotonicClock.now()
        while !source.isFinished { usleep(1000) }

        let offered = counters.offered.load(ordering: .relaxed), dropped = counters.dropped.load(ordering: .relaxed)
        let offerEnd = counters.lastIntended.load(ordering: .relaxed)
        let seconds = Double(end - start) / 1e9
        return EdgePipelineReport(
            source: Self.describe(config.source), arrivals: config.arrivals.description, pipeline: first.pipelineDescription,
            queueCapacity: config.queueCapacity, offered: offered, processed: processed, dropped: dropped, failed: failed,
            errors: errors, durationSeconds: seconds,
            offeredRate: offered > 1 && offerEnd > start ? Double(offered - 1) / (Double(offerEnd - start) / 1e9) : Double(offered) / seconds,
            throughput: Double(processed) / seconds,
            meanFrameBytes: processed + failed > 0 ? bytes / Double(processed + failed) : 0,
            endToEnd: statistics.endToEnd.summary, stages: statistics.stages,
            timeline: timeline(finished, drops: counters.dropTimes(), start: start, width: config.timelineSlice), applied: first.applied, lastResult: lastResult)
    }

    /// Moves the source's stop on by a slice when the end is half a slice away and the last
    /// complete slices are not yet stable, as long as the limit allows. Each stop is judged once
    /// (`judged`): the timeline is rebuilt per decision, not per frame on the device's thread.
    private static func extendUntilStable(now: UInt64, start: UInt64, limit: Duration, slice: Duration, rule: StabilityRule,
                                          tally: TallyBox, counters: SourceCounters, judged: inout UInt64) {
        let end = counters.stopAt.load(ordering: .relaxed), width = UInt64(slice.nanoseconds)
        guard end != judged, now + width / 2 >= end, end + width <= start + UInt64(limit.nanoseconds) else { return }
        judged = end
        let finished = tally.state.withLock { $0.finished }
        // Slices whose frames had half a slice to finish.
        let points = timeline(finished, drops: counters.dropTimes(), start: start, width: slice)
            .filter { $0.startSeconds + 1.5 * slice.seconds <= Double(now - start) / 1e9 }
        let windows = points.map { StabilityRule.FrameWindow(frames: $0.processed, p50: $0.p50Ms, p99: $0.p99Ms) }
        if !rule.isSteady(windows) { counters.stopAt.store(end + width, ordering: .relaxed) }
    }

    /// What the device's processors have done so far.
    private struct Tally {
        var statistics = StageStatistics()
        var errors: [String: Int] = [:]
        var finished: [(captureNs: UInt64, e2eNs: UInt64, queueNs: UInt64)] = []
        var processed = 0, failed = 0
        var lastResult: FrameResult?
        var bytes = 0.0
    }

    /// The tally, and the trace writer that is used only under its lock.
    private final class TallyBox: @unchecked Sendable {
        let state = Mutex(Tally())
        let writer: TraceWriter?
        init(writer: TraceWriter?) { self.writer = writer }
    }

    /// One processor's loop: take a frame, process it, record it, until the source is done.
    private static func consume(_ queue: FrameQueue, processor: any FrameProcessor, start: UInt64, tally: TallyBox,
                                afterEach: (UInt64) -> Void = { _ in }) {
        while let frame = queue.take(timeout: 200_000_000) {
            var trace = frame.trace
            trace.mark(.queue, until: MonotonicClock.now())
            // Frames captured in the warm-up are processed (the device warms up) but not measured.
            guard (trace.spans.first?.startNs ?? start) >= start else {
                _ = try? frame.jpeg.withUnsafeBytesIfPresent { try processor.process(jpeg: $0, measured: false, trace: &trace) }
                continue
            }
            var result: FrameResult?
            do {
                if frame.jpeg == nil, let error = trace.error { throw ImagingError.badSource(error) }
                result = try frame.jpeg.withUnsafeBytesIfPresent { try processor.process(jpeg: $0, measured: true, trace: &trace) }
            } catch {
                trace.error = "\(error)"
            }
            tally.state.withLock { counts in
                counts.bytes += Double(frame.jpeg?.count ?? 0)
                if let result {
                    counts.statistics.add(trace)
                    let queued = trace.spans.first { $0.stage == .queue }?.durationNs ?? 0
                    counts.finished.append((trace.spans[0].startNs, trace.endToEndNs, queued))
                    counts.processed += 1
                    counts.lastResult = result
                } else {
                    counts.errors[trace.error ?? "unknown error", default: 0] += 1
                    counts.failed += 1
                }
                tally.writer?.write(trace)
            }
            afterEach(MonotonicClock.now())
        }
    }

    static func validate(_ config: EdgePipelineConfig) throws(ImagingError) {
        guard config.duration != nil || config.frames != nil else { throw .badSource("give a duration or a number of frames") }
        if let frames = config.frames, frames < 1 { throw .badSource("the number of frames must be at least 1") }
        guard config.queueCapacity >= 1 else { throw .badSource("the queue must hold at least one frame") }
        if let problem = config.arrivals.problem { throw .badSource("arrivals: \(problem)") }
    }

    /// The source thread: frames at their intended times, never slowed by the device.
    private static func produce(_ config: EdgePipelineConfig, producer: FrameProducer, queue: FrameQueue, counters: SourceCounters,
                                start: UInt64, measureFrom: UInt64) {
        var schedule = config.arrivals.schedule(from: start)
        var intended = schedule.next() ?? start
        var index = 0
        defer { queue.close() }
        while config.frames.map({ index < $0 }) ?? true {
            if intended >= counters.stopAt.load(ordering: .relaxed) { return }
            sleep(until: intended)
            let frame = producer.make(index, intended: intended)
            let measured = intended >= measureFrom
            if measured {
                counters.offered.add(1, ordering: .relaxed)
                counters.lastIntended.store(intended, ordering: .relaxed)
            }
            if config.arrivals == .asFastAsPossible {
                queue.put(frame)
            } else if !queue.offer(frame), measured {
                counters.recordDrop(at: intended)
            }
            index += 1
            intended = schedule.next() ?? MonotonicClock.now()
        }
    }

    private static func sleep(until deadline: UInt64) {
        var now = MonotonicClock.now()
        while now < deadline {
            let remaining = deadline - now
            var request = timespec(tv_sec: Int(remaining / 1_000_000_000), tv_nsec: Int(remaining % 1_000_000_000))
            nanosleep(&request, nil)
            now = MonotonicClock.now()
        }
    }

    private static func timeline(_ finished: [(captureNs: UInt64, e2eNs: UInt64, queueNs: UInt64)], drops: [UInt64], start: UInt64, width chosen: Duration?) -> [TimelinePoint] {
        let lastCapture = max(finished.map(\.captureNs).max() ?? start, drops.max() ?? start)
        let width = chosen.map { UInt64(max(1_000_000, $0.nanoseconds)) } ?? max(100_000_000, (lastCapture - start) / 10 + 1)
        let slice = { (t: UInt64) in t > start ? Int((t - start) / width) : 0 }
        var points: [TimelinePoint] = []
        for s in 0...slice(lastCapture) {
            let items = finished.filter { slice($0.captureNs) == s }
            var histogram = LatencyHistogram()
            for item in items { histogram.record(nanoseconds: item.e2eNs) }
            let dropped = drops.filter { slice($0) == s }.count
            points.append(TimelinePoint(
                startSeconds: Double(UInt64(s) * width) / 1e9, offered: items.count + dropped, processed: items.count, dropped: dropped,
                p50Ms: Double(histogram.percentile(50)) / 1e6, p99Ms: Double(histogram.percentile(99)) / 1e6,
                meanQueueMs: items.isEmpty ? 0 : Double(items.reduce(0) { $0 + $1.queueNs }) / Double(items.count) / 1e6))
        }
        return points
    }

    static func describe(_ source: SourceKind) -> String {
        switch source {
        case .camera(let w, let h, let q, let s, _): "synthetic camera \(w)x\(h), JPEG quality \(q), \(s.rawValue == "420" ? "4:2:0" : "4:4:4")"
        case .folder(let path): "JPEG folder \(path)"
        case .tensor: "raw tensors"
        }
    }
}

/// Counts kept by the source thread and read by the device thread.
private final class SourceCounters: Sendable {
    /// When the source stops offering; moved on while the measurement is not yet stable.
    let stopAt: Atomic<UInt64>
    let offered = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)
    let lastIntended = Atomic<UInt64>(0)
    private let drops = Mutex<[UInt64]>([])

    init(stopAt: UInt64) { self.stopAt = Atomic(stopAt) }

    func recordDrop(at time: UInt64) {
        dropped.add(1, ordering: .relaxed)
        drops.withLock { $0.append(time) }
    }

    func dropTimes() -> [UInt64] { drops.withLock { $0 } }
}

/// A processor handed to the one thread that uses it from then on.
private struct Borrowed: @unchecked Sendable {
    let value: any FrameProcessor
    init(_ value: any FrameProcessor) { self.value = value }
}

/// The bounded queue between the source and the device.
/// A mutex and a semaphore: the two sides are plain threads with their own clocks.
private final class FrameQueue: Sendable {
    private let state: Mutex<(frames: [Frame], closed: Bool)>
    private let available = DispatchSemaphore(value: 0)
    private let space: DispatchSemaphore
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        state = Mutex(([], false))
        space = DispatchSemaphore(value: capacity)
    }

    var count: Int { state.withLock { $0.frames.count } }

    /// Adds a frame unless the queue is full.
    func offer(_ frame: Frame) -> Bool {
        guard space.wait(timeout: .now()) == .success else { return false }
        state.withLock { $0.frames.append(frame) }
        available.signal()
        return true
    }

    /// Adds a frame, waiting for room.
    func put(_ frame: Frame) {
        space.wait()
        state.withLock { $0.frames.append(frame) }
        available.signal()
    }

    func close() {
        state.withLock { $0.closed = true }
        available.signal()
    }

    /// The next frame; nil once the queue is closed and empty.
    func take(timeout nanoseconds: UInt64) -> Frame? {
        while true {
            _ = available.wait(timeout: .now() + .nanoseconds(Int(nanoseconds)))
            let (frame, closed): (Frame?, Bool) = state.withLock { state in
                state.frames.isEmpty ? (nil, state.closed) : (state.frames.removeFirst(), false)
            }
            if let frame {
                space.signal()
                return frame
            }
            if closed {
                available.signal()   // let a later call see the closed state too
                return nil
            }
        }
    }
}
