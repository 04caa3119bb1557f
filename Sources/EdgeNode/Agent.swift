import Broker
import EdgeInsightCore
import Engine
import Foundation
import Imaging
import LoadGen
import InferenceProtocol
import ModelZoo

/// What an edge node measured in one trial (after its warm-up).
public struct AgentReport: Sendable, Codable {
    public var placement: String
    public var model: String
    public var run: EdgePipelineReport
    /// Mean bytes of each request body sent to the cloud (0 on the edge).
    public var requestBytesMean: Double
    /// Bytes of the model's input tensor for one frame (what a cloud-tensor request carries, and
    /// what pre-processing writes on the device); nil for the placements that never form it here.
    public var tensorBytes: Int?
    /// Requests sent to the cloud, warm-up included (what the link carried).
    public var requestsSent: Int
    public var serverQueueMsMean: Double?
    public var serverComputeMsMean: Double?
    /// Where the server-side times came from: "per response" (our server's parameters), "from
    /// /stats" (the statistics extension, as Triton has), or "client-side only"; nil on the edge.
    public var serverTimes: String?
    /// CPU seconds this process used over warm-up and measurement, the wall-clock seconds they took,
    /// and its peak resident memory.
    public var cpuSeconds: Double
    public var wallSeconds: Double
    public var peakResidentBytes: Int64
    /// The device's inference framework and its version ("LiteRT 2.3.0"); nil when it infers nothing.
    public var engine: String?
    /// Over a broker: what became of every frame sent (answered, lost by reason, late, duplicated).
    public var delivery: MQTTDelivery?
}

/// The edge node of a trial: a camera at a frame rate feeding the device, which infers locally
/// (`edge`) or sends each frame to the cloud node in the placement's form (`workload.inflight` at a
/// time), so a slow device or a thin link shows as queueing and drops.
public enum Agent {
    /// Runs `config` as its edge node; `server` is the cloud node (or a link in front of it, or an
    /// existing service), `http(s)://host:port`, for the cloud placements; `token` its bearer token.
    /// With `transport: mqtt`, frames go through the broker at `broker` (the metadata still comes from `server`).
    public static func run(_ config: TrialConfig, server: String?, token: String? = nil, broker: MQTTEndpoint? = nil,
                           progress: @escaping (EdgePipelineProgress) -> Void = { _ in }) throws -> AgentReport {
        let workload = config.workload
        let source = SourceKind.camera(width: workload.resolution.width, height: workload.resolution.height, quality: workload.jpegQuality,
                                       subsampling: .s420, seed: 1)
        let processors: [any FrameProcessor]
        var remotes: [RemoteInference] = []
        var tensorBytes: Int?
        var engineName: String?
        var stats: (client: OIPClient, path: String, before: JSONValue)?
        var requester: MQTTRequester?
        defer { requester?.close() }
        if config.placement == .edge {
            let file = try ModelZoo.resolve(config.model, format: config.device.engine.modelFormat)
            var settings = EngineSettings()
            settings.threads = config.device.threads
            settings.hint = .latency
            let (engine, compiled) = try Self.compile(modelAt: file.path, for: config, settings: settings)
            engineName = "\(engine.name) \(engine.version)"
            processors = [try LocalInference(model: compiled, pipeline: nil, source: source)]
            tensorBytes = compiled.inputs.first?.byteCount
        } else {
            guard let server else { throw EdgeNodeError.badConfig("placement \(config.placement.rawValue) needs a cloud node to send to") }
            let client = try OIPClient(base: server, token: token, connections: workload.inflight)
            do {
                var served = config.cloud.model ?? ModelZoo.servedName(config.model)
                var input: TensorInfo
                var headModel: (any CompiledModel)?
                if config.placement == .partition {
                    // The device runs the network's head (its own copy of the cut); the cloud node serves the tail.
                    guard let after = config.partition.after else { throw EdgeNodeError.badConfig("placement partition needs partition.after: TENSOR (edgeinsight models inspect \(config.model) --cuts)") }
                    let cut = try ModelCut.files(config.model, after: after, activation: config.partition.activation)
                    var settings = EngineSettings()
                    settings.threads = config.device.threads
                    settings.hint = .latency
                    let (engine, compiled) = try Self.compile(modelAt: cut.head, for: config, settings: settings)
                    engineName = "\(engine.name) \(engine.version)"
                    headModel = compiled
                    served = ModelZoo.servedName(cut.tail)
                    guard let first = compiled.inputs.first else { throw EdgeNodeError.badConfig("the head of \(config.model) has no input") }
                    input = first
                    tensorBytes = cut.point.crossingBytes
                } else {
                    input = try RemoteInference.imageInput(of: served, on: server, client: client)
                    input.shape = config.inputShape(declared: input.shape)
                }
                if config.placement == .cloudTensor { tensorBytes = input.byteCount }
                // A service without the binary extension (Seldon MLServer) gets JSON tensors.
                let binary = Blocking.run { await client.takesBinaryTensors() } != false
                if config.transport == .mqtt {
                    guard let broker else { throw EdgeNodeError.badConfig("transport mqtt needs a broker to publish to") }
                    // A camera id of this run's own: its topics and its session at the broker are new.
                    let camera = "camera-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
                    requester = try MQTTRequester(endpoint: broker, model: served, camera: camera, qos: config.mqtt.qos, timeout: config.mqtt.timeout)
                }
                remotes = try (0..<workload.inflight).map { _ in
                    try RemoteInference(placement: config.placement, client: client, server: server, model: served, input: input,
                                        splitQuality: config.split.jpegQuality, binary: binary, head: headModel, broker: requester)
                }
                let path = "/v2/models/\(served)/stats"
                if let before = try? Blocking.run({ try await client.getJSON(path) }) { stats = (client, path, before) }
            } catch {
                // An unreachable server or unknown model: the client must still be shut down cleanly.
                Blocking.run { await client.shutdown() }
                throw error
            }
            processors = remotes
        }
        defer { remotes.first?.shutdown() }   // the senders share one client: shut it once
        var measured = EdgePipelineConfig(source: source, arrivals: workload.arrivalProcess, duration: workload.duration)
        measured.queueCapacity = workload.queue
        measured.timelineSlice = workload.window
        measured.warmup = workload.warmup
        measured.maxDuration = workload.maxDuration
        let cpuBefore = Self.usage().cpuSeconds, wallBefore = MonotonicClock.now()
        let report = try EdgePipeline.run(measured, processors: processors, progress: progress)
        let counters = remotes.map { $0.counters }.reduce(RemoteInference.Counters(), +)
        // Server-side times: each response's own where the server sends them, else the statistics
        // extension's means over the run (warm-up included), else none.
        var queueMs = counters.queueMsMean, computeMs = counters.computeMsMean
        var serverTimes: String? = config.placement.usesCloud ? (queueMs != nil ? "per response" : "client-side only") : nil
        if queueMs == nil, let stats, let after = try? Blocking.run({ try await stats.client.getJSON(stats.path) }),
           let split = ServerStatistics.between(stats.before, after), split.requests > 0 {
            queueMs = split.queueMeanNs / 1e6
            computeMs = split.computeMeanNs / 1e6
            serverTimes = "from /stats"
        }
        let used = Self.usage()
        return AgentReport(
            placement: config.placement.rawValue, model: config.model, run: report,
            requestBytesMean: counters.requestBytesMean, tensorBytes: tensorBytes,
            requestsSent: counters.allSent, serverQueueMsMean: queueMs, serverComputeMsMean: computeMs, serverTimes: serverTimes,
            cpuSeconds: used.cpuSeconds - cpuBefore, wallSeconds: Double(MonotonicClock.now() - wallBefore) / 1e9, peakResidentBytes: used.peakResidentBytes,
            engine: engineName, delivery: requester?.delivery)
    }

    /// Compiles a model for a trial's device: with its framework (`device.engine`), at
    /// `model.shape` when given, with input shapes from the analyzer for a framework that reads none,
    /// and a model with dynamic height and width at the camera's frames (`TrialConfig.inputShape`).
    public static func compile(modelAt path: String, for trial: TrialConfig, settings given: EngineSettings) throws -> (engine: any InferenceEngine, model: any CompiledModel) {
        var settings = given
        settings.keepsDynamicDimensions = true
        if let shape = trial.modelShape { settings.shapes[""] = shape }
        if !trial.device.engine.readsInputShapes && settings.shapes.isEmpty { settings.shapes = try ModelAnalyzer.inputShapes(file: path) }
        let engine = try trial.device.engine.open()
        var compiled = try engine.compile(modelAt: path, settings: settings)
        if let input = compiled.inputs.first, input.shape.contains(-1) {
            settings.shapes[""] = trial.inputShape(declared: input.shape)
            compiled = try engine.compile(modelAt: path, settings: settings)
        }
        return (engine, compiled)
    }

    /// This process's CPU time so far (user + system) and its peak resident memory.
    static func usage() -> (cpuSeconds: Double, peakResidentBytes: Int64) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return (cpu, Int64(usage.ru_maxrss) * 1024)
    }
}


/// Errors of the edge node; one line each.
public enum EdgeNodeError: Error, CustomStringConvertible, Equatable {
    /// The trial cannot run as configured.
    case badConfig(String)
    /// The cloud node did not answer as it should.
    case cloud(String)

    public var description: String {
        switch self {
        case .badConfig(let message): message
        case .cloud(let message): message
        }
    }
}

extension TrialConfig {
    /// The shape an image model's input runs at in this trial: its declared one where fixed, else
    /// `model.shape`, else one camera frame at its own resolution (batch 1).
    public func inputShape(declared: [Int]) -> [Int] {
        guard declared.dropFirst().contains(-1) else { return declared.first == -1 ? [1] + declared.dropFirst() : declared }
        if let modelShape { return modelShape }
        let (h, w) = (workload.resolution.height, workload.resolution.width)
        return declared.count == 4 && declared[3] == 3 ? [1, h, w, 3] : [1, declared.count > 1 && declared[1] > 0 ? declared[1] : 3, h, w]
    }
}

/// The edge node's body of the node document (`edgeinsight agent --config -`): the trial, and the
/// cloud node (or the link in front of it) for the cloud placements.
public struct AgentSpec: Sendable, Codable {
    public var config: TrialConfig
    /// `http(s)://host:port`; nil for the edge placement.
    public var server: String?
    /// The service's bearer token (from `cloud.token_file`): in the document on stdin, never in an argv.
    public var token: String?
    /// The broker the frames are published to (`transport: mqtt`), through the link; its password
    /// (from `mqtt.password_file`) travels here too, never in an argv.
    public var broker: MQTTEndpoint?

    public init(config: TrialConfig, server: String? = nil, token: String? = nil, broker: MQTTEndpoint? = nil) {
        self.config = config
        self.server = server
        self.token = token
        self.broker = broker
    }
}
