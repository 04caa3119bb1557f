import EdgeInsightCore
import Engine
import Foundation
import Imaging
import Yams

/// How one model is served: `config.yaml` in its repository folder, or defaults.
///
/// ```yaml
/// model: model.onnx          # the file in this folder (default: the only model file)
/// instances: 2               # infer requests running batches at once
/// max_batch_size: 8          # 0 or 1: no batching
/// max_queue_delay: 2ms       # how long a batch may wait to fill
/// max_queue: 64              # requests waiting; more get 503
/// framework: openvino        # or litert (LiteRT, a .tflite file), opencv (OpenCV's DNN module)
/// engine: {hint: latency, threads: 2, streams: 1, precision: f32}
/// dims: {images: [3, -1, -1]}   # per input, without the batch dimension when batching (Triton's
///                               # convention); -1: each request gives this dimension
/// input_pipeline: "decode → resize 224 → normalize imagenet → nchw f32"   # for JPEG sent as BYTES
/// sleep: 50ms                # the sleep micro-model's compute time
/// ```
public struct ModelConfig: Sendable {
    public var file: String?
    public var instances = 1
    public var maxBatchSize = 8
    public var maxQueueDelay: Duration = .zero
    public var maxQueue = 64
    public var framework = EngineKind.openvino
    public var engine = EngineSettings()
    public var inputPipeline: Pipeline?
    public var sleep: Duration = .milliseconds(50)

    public init() {}

    static let keys: Set<String> = ["model", "dims", "framework", "instances", "max_batch_size", "max_queue_delay", "max_queue", "engine", "input_pipeline", "sleep"]
    static let engineKeys: Set<String> = ["hint", "threads", "streams", "precision", "device"]

    /// Reads a config.yaml; every problem names the file and the key.
    public static func load(_ path: String) throws(ServerError) -> ModelConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw .badConfig(path, "cannot read the file") }
        let parsed: Any?
        do { parsed = try Yams.load(yaml: text) } catch { throw .badConfig(path, "not valid YAML (\("\(error)".split(separator: "\n").first ?? ""))") }
        guard let root = parsed as? [String: Any] else {
            if parsed == nil { return ModelConfig() }
            throw .badConfig(path, "the top level must be a mapping of keys")
        }
        var config = ModelConfig()
        var dims: [String: [Int]] = [:]
        for (key, value) in root {
            func int(_ minimum: Int) throws(ServerError) -> Int {
                guard let v = value as? Int, v >= minimum else { throw .badConfig(path, "'\(key)' must be an integer ≥ \(minimum)") }
                return v
            }
            func duration() throws(ServerError) -> Duration {
                guard let d = DurationText.parse("\(value)") else { throw .badConfig(path, "'\(key)' must be a duration such as 2ms") }
                return d
            }
            switch key {
            case "model":
                guard let name = value as? String else { throw .badConfig(path, "'model' must be a file name") }
                config.file = name
            case "dims":
                guard let inputs = value as? [String: Any] else { throw .badConfig(path, "'dims' must map each input to its dimensions, e.g. {images: [3, -1, -1]}") }
                for (input, list) in inputs {
                    guard let values = list as? [Int], values.allSatisfy({ $0 > 0 || $0 == -1 }) else {
                        throw .badConfig(path, "'dims.\(input)' must be a list of positive integers or -1, e.g. [3, -1, -1]")
                    }
                    dims[input] = values
                }
            case "framework":
                guard let kind = EngineKind(rawValue: "\(value)") else { throw .badConfig(path, "'framework' must be one of \(EngineKind.allCases.map(\.rawValue).joined(separator: ", "))") }
                config.framework = kind
            case "instances": config.instances = try int(1)
            case "max_batch_size": config.maxBatchSize = try int(0)
            case "max_queue": config.maxQueue = try int(1)
            case "max_queue_delay": config.maxQueueDelay = try duration()
            case "sleep": config.sleep = try duration()
            case "input_pipeline":
                do { config.inputPipeline = try Pipeline(parsing: "\(value)") } catch { throw .badConfig(path, "'input_pipeline': \(error)") }
            case "engine":
                guard let engine = value as? [String: Any] else { throw .badConfig(path, "'engine' must be a mapping") }
                for (engineKey, setting) in engine {
                    switch engineKey {
                    case "hint":
                        guard let hint = PerformanceHint(rawValue: "\(setting)".uppercased()) else { throw .badConfig(path, "'engine.hint' must be latency or throughput") }
                        config.engine.hint = hint
                    case "threads", "streams":
                        guard let n = setting as? Int, n >= 1 else { throw .badConfig(path, "'engine.\(engineKey)' must be an integer ≥ 1") }
                        if engineKey == "threads" { config.engine.threads = n } else { config.engine.streams = n }
                    case "precision":
                        guard let p = InferencePrecision(rawValue: "\(setting)") else { throw .badConfig(path, "'engine.precision' must be f32, bf16 or f16") }
                        config.engine.precision = p
                    case "device": config.engine.device = "\(setting)"
                    default: throw .badConfig(path, "unknown key 'engine.\(engineKey)' (known: \(engineKeys.sorted().joined(separator: ", ")))")
                    }
                }
            default:
                throw .badConfig(path, "unknown key '\(key)' (known: \(keys.sorted().joined(separator: ", ")))")
            }
        }
        for (input, values) in dims { config.engine.shapes[input] = config.maxBatchSize > 0 ? [-1] + values : values }
        return config
    }
}

/// Errors starting the server; one line each.
public enum ServerError: Error, CustomStringConvertible, Equatable {
    case badConfig(String, String)
    case badModel(String)
    case cannotStart(String)
    case portInUse(String)
    case noModels
    /// A node document's settings the server cannot run with.
    case badSpec(String)

    public var description: String {
        switch self {
        case .portInUse(let address): "cannot start the server: \(address) is already in use"
        case .noModels: "no models to serve: give a model repository or model names"
        case .badConfig(let path, let message): "\(path): \(message)"
        case .badModel(let message): message
        case .cannotStart(let message): "cannot start the server: \(message)"
        case .badSpec(let message): "bad serve settings: \(message)"
        }
    }
}
