import EdgeInsightCore
import Engine
import Foundation
import Imaging
import InferenceProtocol
import LoadGen
import ModelZoo
import NIOCore

/// What an edge node runs in one trial.
public struct AgentConfig: Sendable {
    public var placement: Placement
    public var model: String
    /// The cloud node (through its link), for cloud placements: `http://host:port`.
    public var server: String?
    public var fps: Double
    public var poisson: Bool
    public var width: Int
    public var height: Int
    public var jpegQuality: Int
    public var splitQuality: Int
    public var warmup: Duration
    public var duration: Duration
    public var queue: Int
    public var threads: Int
    /// Measurement windows (the report's timeline slices).
    public var window: Duration = .seconds(1)
    /// Requests a cloud placement keeps in flight: 1 is stop-and-wait (a frame is sent when the
    /// answer to the previous one is back); more overlap the link's round trip, as a device that
    /// streams would. The edge placement infers one frame at a time.
    public var inflight = 1

    public init(placement: Placement, model: String, server: String?, fps: Double, poisson: Bool, width: Int, height: Int, jpegQuality: Int,
                splitQuality: Int, warmup: Duration, duration: Duration, queue: Int, threads: Int) {
        self.placement = placement
        self.model = model
        self.server = server
        self.fps = fps
        self.poisson = poisson
        self.width = width
        self.height = height
        self.jpegQuality = jpegQuality
        self.splitQuality = splitQuality
        self.warmup = warmup
        self.duration = duration
        self.queue = queue
        self.threads = threads
    }
}

/// What an edge node measured in one trial (after its warm-up).
public struct AgentReport: Sendable, Codable {
    public var placement: String
    public var model: String
    public var run: EdgePipelineReport
    /// Mean bytes of each request body sent to the cloud (0 on the edge).
    public var requestBytesMean: Double
    /// Requests sent to the cloud, warm-up included (what the link carried).
    public var requestsSent: Int
    public var serverQueueMsMean: Double?
    public var serverComputeMsMean: Double?
    /// CPU seconds this process used over warm-up and measurement, the wall-clock seconds they took,
    /// and its peak resident memory.
    public var cpuSeconds: Double
    public var wallSeconds: Double
    public var peakResidentBytes: Int64
}

/// The edge node: a camera at a frame rate feeding the device, which infers locally (`edge`) or sends
/// each frame to the cloud node in the placement's form (`inflight` at a time), so a slow device or a
/// thin link shows as queueing and drops.
public enum Agent {
    public static func run(_ config: AgentConfig, progress: @escaping (EdgePipelineProgress) -> Void = { _ in }) throws -> AgentReport {
        let source = SourceKind.camera(width: config.width, height: config.height, quality: config.jpegQuality, subsampling: .s420, seed: 1)
        let processors: [any FrameProcessor]
        var remotes: [RemoteInference] = []
        if config.placement == .edge {
            let engine = try OpenVINOEngine()
            let file = try ModelZoo.resolve(config.model)
            var settings = EngineSettings()
            settings.threads = config.threads
            settings.hint = .latency
            let compiled = try engine.compile(modelAt: file.path, settings: settings)
            processors = [try LocalInference(model: compiled, pipeline: nil, source: source)]
        } else {
            guard let server = config.server else { throw TestbedError.trialFailed("placement \(config.placement.rawValue) needs a server") }
            guard config.inflight >= 1 else { throw TestbedError.trialFailed("inflight must be at least 1, got \(config.inflight)") }
            let client = try OIPClient(base: server, connections: config.inflight)
            do {
                let input = try RemoteInference.imageInput(of: config.model, on: server, client: client)
                remotes = try (0..<config.inflight).map { _ in
                    try RemoteInference(placement: config.placement, client: client, server: server, model: config.model, input: input, splitQuality: config.splitQuality)
                }
            } catch {
                // An unreachable server or unknown model: the client must still be shut down cleanly.
                RemoteInference.blocking { await client.shutdown() }
                throw error
            }
            processors = remotes
        }
        defer { remotes.first?.shutdown() }   // the senders share one client: shut it once
        let arrivals: ArrivalProcess = config.poisson ? .poisson(rate: config.fps, seed: 1) : .fixed(fps: config.fps)
        var measured = EdgePipelineConfig(source: source, arrivals: arrivals, duration: config.duration)
        measured.queueCapacity = config.queue
        measured.timelineSlice = config.window
        measured.warmup = config.warmup
        // The pipeline's clock starts within microseconds of this; requests of frames captured in the
        // warm-up are sent but not counted in the means.
        let measureFrom = MonotonicClock.now() + 2_000_000 + UInt64(config.warmup.nanoseconds)
        for remote in remotes { remote.measureFromNs = measureFrom }
        let cpuBefore = Self.usage().cpuSeconds, wallBefore = MonotonicClock.now()
        let report = try EdgePipeline.run(measured, processors: processors, progress: progress)
        let counters = remotes.map { $0.counters }.reduce(RemoteInference.Counters(), +)
        let used = Self.usage()
        return AgentReport(
            placement: config.placement.rawValue, model: config.model, run: report,
            requestBytesMean: counters.requestBytesMean,
            requestsSent: counters.allSent, serverQueueMsMean: counters.queueMsMean, serverComputeMsMean: counters.computeMsMean,
            cpuSeconds: used.cpuSeconds - cpuBefore, wallSeconds: Double(MonotonicClock.now() - wallBefore) / 1e9, peakResidentBytes: used.peakResidentBytes)
    }

    /// This process's CPU time so far (user + system) and its peak resident memory.
    static func usage() -> (cpuSeconds: Double, peakResidentBytes: Int64) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return (cpu, Int64(usage.ru_maxrss) * 1024)
    }
}

/// The device side of the cloud placements: prepares each frame in the placement's form, sends it
/// to the cloud node and waits for the answer. Spans: pre-processing (cloud-tensor, split),
/// serialize, network (the round trip less the server's own time) and infer (the server's queue and
/// compute, from the response's parameters).
public final class RemoteInference: FrameProcessor {
    let placement: Placement
    let client: OIPClient
    let path: String
    let inputName: String
    let tensorShape: [Int]
    let preprocessor: Preprocessor?
    let encoder: JPEGEncoder?
    let splitQuality: Int
    var tensor: UnsafeMutableRawBufferPointer
    private(set) var counters = Counters()
    /// Requests for frames captured before this are sent but left out of the means (the warm-up).
    var measureFromNs: UInt64 = 0

    public let pipelineDescription: String
    public var applied: AppliedSettings? { nil }

    /// The model's image input as its metadata on the server gives it (a batch dimension of -1 made 1).
    public static func imageInput(of model: String, on server: String, client: OIPClient) throws -> TensorInfo {
        let metadata = try blocking { try await client.getJSON("/v2/models/\(model)") }
        guard let input = metadata["inputs"]?.array?.first, let name = input["name"]?.string,
              var shape = input["shape"]?.array?.compactMap(\.int), shape.count == 4 else {
            throw TestbedError.trialFailed("model '\(model)' on \(server) has no image input in its metadata")
        }
        if shape[0] < 0 { shape[0] = 1 }
        return TensorInfo(name: name, elementType: .f32, shape: shape)
    }

    /// A device-side sender on `client` (which several senders may share, a connection each) for
    /// the model's image `input` (`imageInput`, asked once for all senders).
    public init(placement: Placement, client: OIPClient, server: String, model: String, input info: TensorInfo, splitQuality: Int) throws {
        self.placement = placement
        self.splitQuality = splitQuality
        self.client = client
        path = "/v2/models/\(model)/infer"
        let shape = info.shape
        inputName = info.name
        tensorShape = shape
        switch placement {
        case .cloudTensor:
            let pipeline = try Pipeline.standard(for: info)
            preprocessor = try Preprocessor(pipeline: pipeline)
            encoder = nil
            pipelineDescription = "\(pipeline.description) on the device → FP32 tensor to \(server)"
        case .split:
            // Shrink to the model's input on the device, re-encode, and let the cloud do the rest.
            let side = shape[1] == 3 ? shape[2] : shape[1]
            let pipeline = try Pipeline(parsing: "decode → resize \(side * 8 / 7) shorter → center-crop \(side) → nhwc u8")
            preprocessor = try Preprocessor(pipeline: pipeline)
            encoder = try JPEGEncoder()
            pipelineDescription = "\(pipeline.description) → JPEG q\(splitQuality) on the device → BYTES to \(server)"
        default:
            preprocessor = nil
            encoder = nil
            pipelineDescription = "camera JPEG as BYTES to \(server); decode and pre-processing in the cloud"
        }
        tensor = .allocate(byteCount: shape.reduce(1, *) * 4, alignment: 64)
    }

    deinit { tensor.deallocate() }

    public func process(jpeg: UnsafeRawBufferPointer?, trace: inout ItemTrace) throws -> Int {
        guard let jpeg else { throw TestbedError.trialFailed("cloud placements need JPEG frames") }
        let wire: WireTensor
        switch placement {
        case .cloudTensor:
            _ = try preprocessor!.run(jpeg: jpeg, into: tensor)
            trace.mark(.preprocess, until: MonotonicClock.now())
            wire = WireTensor(name: inputName, datatype: .fp32, shape: tensorShape, data: TensorBytes(Array(UnsafeRawBufferPointer(tensor))))
        case .split:
            let side = tensorShape[1] == 3 ? tensorShape[2] : tensorShape[1]
            let shape = try preprocessor!.run(jpeg: jpeg, into: UnsafeMutableRawBufferPointer(rebasing: tensor[0..<(side * side * 3)]))
            let pixels = Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tensor)[0..<(shape.reduce(1, *))]))
            let image = RGBImage(width: shape[2], height: shape[1], pixels: pixels)
            let small = try encoder!.encode(image, quality: splitQuality)
            trace.mark(.preprocess, until: MonotonicClock.now())
            wire = WireTensor(name: inputName, datatype: .bytes, shape: [1], data: WireTensor.packBytes([small]))
        default:
            wire = WireTensor(name: inputName, datatype: .bytes, shape: [1], data: WireTensor.packBytes([Array(jpeg)]))
        }
        let (body, headerLength) = InferenceCodec.encodeRequest(InferenceRequest(inputs: [wire]), binary: true)
        let bound = client.bind(path, PreparedRequest(body: ByteBuffer(bytes: body), headerLength: headerLength, samples: 1))
        let sentAt = MonotonicClock.now()
        trace.mark(.serialize, until: sentAt)
        let client = self.client
        let outcome = Self.wait { done in client.infer(bound, completion: done) }
        let answeredAt = MonotonicClock.now()
        guard outcome.ok else { throw TestbedError.trialFailed(outcome.status == 0 ? "cloud node unreachable" : "cloud node answered HTTP \(outcome.status)") }
        let server = (outcome.serverQueueNs ?? 0) + (outcome.serverComputeNs ?? 0)
        let roundTrip = answeredAt - sentAt
        trace.mark(.network, until: sentAt + roundTrip - min(server, roundTrip))
        trace.mark(.infer, until: answeredAt)
        counters.allSent += 1
        guard (trace.spans.first?.startNs ?? measureFromNs) >= measureFromNs else { return 0 }
        counters.sent += 1
        counters.bodyBytes += body.count
        if let queue = outcome.serverQueueNs, let compute = outcome.serverComputeNs {
            counters.queueNs += queue
            counters.computeNs += compute
            counters.timed += 1
        }
        return 0
    }

    /// What a sender sent: all requests, and sums over the measured ones (means are taken once the
    /// senders' counts are added up).
    struct Counters {
        var allSent = 0, sent = 0, bodyBytes = 0, timed = 0
        var queueNs: UInt64 = 0, computeNs: UInt64 = 0

        var requestBytesMean: Double { sent > 0 ? Double(bodyBytes) / Double(sent) : 0 }
        var queueMsMean: Double? { timed > 0 ? Double(queueNs) / Double(timed) / 1e6 : nil }
        var computeMsMean: Double? { timed > 0 ? Double(computeNs) / Double(timed) / 1e6 : nil }

        static func + (a: Counters, b: Counters) -> Counters {
            Counters(allSent: a.allSent + b.allSent, sent: a.sent + b.sent, bodyBytes: a.bodyBytes + b.bodyBytes, timed: a.timed + b.timed,
                     queueNs: a.queueNs + b.queueNs, computeNs: a.computeNs + b.computeNs)
        }
    }

    func shutdown() {
        let client = self.client
        Self.blocking { await client.shutdown() }
    }

    /// Waits on this (plain) thread for a callback-style call.
    static func wait(_ start: (@escaping @Sendable (CallOutcome) -> Void) -> Void) -> CallOutcome {
        let box = HandOff<CallOutcome>()
        start { outcome in box.set(outcome) }
        return box.get()
    }

    /// Runs async work from a plain thread and waits for it.
    static func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let box = HandOff<Result<T, Error>>()
        Task { box.set(await Result { try await work() }) }
        return try box.get().get()
    }

    static func blocking(_ work: @escaping @Sendable () async -> Void) {
        _ = try? blocking { () async throws -> Bool in await work(); return true }
    }
}

/// One value handed from another thread (a callback, a task) to a plain thread that waits for it.
private final class HandOff<Value: Sendable>: @unchecked Sendable {  // value is written before the signal, read after the wait
    private var value: Value?
    private let ready = DispatchSemaphore(value: 0)
    func set(_ value: Value) { self.value = value; ready.signal() }
    func get() -> Value { ready.wait(); return value! }
}

extension Result where Failure == Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
