import EdgeInsightCore
import Broker
import Engine

/// The cloud node's body of the node document (`edgeinsight serve --config -`): what to serve,
/// where to listen and how models without a config.yaml run. `serve`'s flags make the same value.
public struct ServeSpec: Sendable, Codable, Equatable {
    /// Zoo names, files, or `sleep[:50ms]`.
    public var models: [String] = []
    /// A model repository folder, served beside `models`.
    public var repository: String?
    public var host = "127.0.0.1"
    /// 0 picks a free port; the ready line says which.
    public var port = 8000
    public var instances = 1
    public var maxBatch = 8
    public var maxQueue = 64
    /// How long a batch may wait to fill, in the text form (`2ms`).
    public var maxQueueDelay = "0ms"
    public var threads: Int?
    public var streams: Int?
    public var hint: PerformanceHint?
    public var precision: InferencePrecision?
    public var engine = EngineKind.openvino
    public var httpThreads: Int?
    /// A broker to take requests from as well (the mqtt transport).
    public var mqtt: BrokerSubscription?

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case models, repository, host, port, instances, maxBatch, maxQueue, maxQueueDelay, threads, streams, hint, precision, engine, httpThreads, mqtt
    }

    /// Every key may be left out, taking `serve`'s default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        models = try value(.models, models)
        repository = try c.decodeIfPresent(String.self, forKey: .repository)
        host = try value(.host, host)
        port = try value(.port, port)
        instances = try value(.instances, instances)
        maxBatch = try value(.maxBatch, maxBatch)
        maxQueue = try value(.maxQueue, maxQueue)
        maxQueueDelay = try value(.maxQueueDelay, maxQueueDelay)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        streams = try c.decodeIfPresent(Int.self, forKey: .streams)
        hint = try c.decodeIfPresent(PerformanceHint.self, forKey: .hint)
        precision = try c.decodeIfPresent(InferencePrecision.self, forKey: .precision)
        engine = try value(.engine, engine)
        httpThreads = try c.decodeIfPresent(Int.self, forKey: .httpThreads)
        mqtt = try c.decodeIfPresent(BrokerSubscription.self, forKey: .mqtt)
    }

    /// The repository's defaults and the listening options this spec stands for, checked.
    public func resolved() throws(ServerError) -> (defaults: ModelConfig, options: ServerOptions) {
        // Named as the flags are (a document's keys are the same words: maxBatch for --max-batch).
        guard instances >= 1, maxQueue >= 1 else { throw .badSpec("--instances and --max-queue must be at least 1") }
        guard maxBatch >= 0 else { throw .badSpec("--max-batch must be at least 0") }
        guard (0...65535).contains(port) else { throw .badSpec("--port must be 0–65535 (0 picks a free port), got \(port)") }
        if let httpThreads, httpThreads < 1 { throw .badSpec("--http-threads must be at least 1, got \(httpThreads)") }
        guard let delay = DurationText.parse(maxQueueDelay) else { throw .badSpec("--max-queue-delay must be a duration such as 2ms") }
        var defaults = ModelConfig()
        defaults.instances = instances
        defaults.maxBatchSize = maxBatch
        defaults.maxQueue = maxQueue
        defaults.maxQueueDelay = delay
        defaults.engine.threads = threads
        defaults.engine.hint = hint
        defaults.engine.streams = streams
        defaults.engine.precision = precision
        defaults.framework = engine
        var options = ServerOptions()
        options.host = host
        options.port = port
        options.httpThreads = httpThreads
        if let mqtt, !(0...1).contains(mqtt.qos) { throw .badSpec("--mqtt-qos must be 0 or 1, got \(mqtt.qos)") }
        options.broker = mqtt
        return (defaults, options)
    }
}
