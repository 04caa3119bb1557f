import ArgumentParser
import Broker
import EdgeInsightCore
import Engine
import Foundation
import Logging
import Server

/// `edgeinsight serve`: the cloud node.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve models over the Open Inference Protocol (KServe v2 REST), like Triton or KServe.",
        discussion: """
            Endpoints: GET /v2/health/live|ready, /v2, /v2/models/M[/versions/1][/ready|/stats],
            /v2/models/stats, /metrics (Prometheus); POST /v2/models/M[/versions/1]/infer with JSON or
            binary tensors. Image models also take JPEG frames as a BYTES input, decoded and
            pre-processed on the server (the cloud-raw placement). Responses carry the server's
            queue_time_ns and compute_time_ns in their parameters.

            Examples:
              edgeinsight serve --model mobilenet_v2 --model resnet50 --port 8000
              edgeinsight serve --models repo/ --token-file token.txt
              edgeinsight serve --model sleep:50ms --instances 1 --max-batch 1    # known capacity: 20 req/s
            """)

    @Option(help: "A model repository: a sub-folder per model with its file and an optional config.yaml.")
    var models: String?

    @Option(help: "A model to serve: zoo name, file, or sleep[:50ms] (repeatable).")
    var model: [String] = []

    @Option(help: "Address to bind. Loopback unless you say otherwise.")
    var host = "127.0.0.1"

    @Option(help: "Port (0 picks a free one and prints it).")
    var port = 8000

    @Option(help: "File holding a bearer token that requests must present.")
    var tokenFile: String?

    @Option(help: "Largest request body accepted, e.g. 64MB.")
    var maxBody = "64MB"

    @Option(help: ArgumentHelp("Threads that read requests and also handle them (default: one I/O loop per core, handling on the shared pool).",
                               discussion: "Serving a real model on a small machine, 1 leaves the other cores to inference (mobilenet_v2 with FP32 inputs on 2 cores: +5% throughput); tiny models are served faster by the default."))
    var httpThreads: Int?

    @Option(help: "Instances per model without a config.yaml (batches run at once).")
    var instances = 1

    @Option(help: "Largest batch the dynamic batcher forms (0 disables batching).")
    var maxBatch = 8

    @Option(help: "How long a batch may wait to fill, e.g. 2ms.")
    var maxQueueDelay = "0ms"

    @Option(help: "Requests that may wait per model before new ones get 503.")
    var maxQueue = 64

    @Option(help: "Performance hint: latency or throughput (default: the device's).")
    var hint: PerformanceHint?

    @Option(help: "Execution streams per model (default: chosen by the hint).")
    var streams: Int?

    @Option(help: "Inference threads per model.")
    var threads: Int?

    @Option(help: "Element type image inputs take on the wire: f32 or u8 (default: the model's).")
    var inputType: String?

    @Option(help: "Inference precision: f32, bf16 or f16.")
    var precision: InferencePrecision?

    @Option(parsing: .singleValue, help: ArgumentHelp(
        "An input's shape, -1 where each request gives the dimension, e.g. images:-1,3,-1,-1 (repeatable).",
        discussion: "A model's own dynamic dimensions stay dynamic unless fixed here; one compiled model then serves every shape."))
    var shape: [String] = []

    @Option(help: "Inference framework of models without a config.yaml: openvino, litert or opencv.")
    var engine: EngineKind = .openvino

    @Option(help: ArgumentHelp("Also take requests from this MQTT broker (mqtt://host:1883): a consumer in the shared subscription of each model's frame topics, answering on each frame's response topic.",
                               discussion: "Topics: edgeinsight/MODEL/frames/CAMERA in, the frame's MQTT 5 response topic out; the payload is the OIP request body (binary extension), its header length in the user property Inference-Header-Content-Length."))
    var mqtt: String?

    @Option(help: "QoS of the broker's subscription: 0 (at most once) or 1 (at least once, persistent session).")
    var mqttQos = 1

    @Option(help: "The node document (docs/nodes.md), a file or - for standard input; the flags above are then ignored.")
    var config: String?

    func run() async throws {
        let spec = try config.map { try NodeSpec<ServeSpec>.read($0, as: .serve).spec } ?? (try flagSpec())
        var (defaults, options) = try spec.resolved()
        // Input types and shapes stay flags: they are for people serving by hand, not the runner.
        defaults.engine.inputElementType = try inputType.map(parseInputType)
        for text in shape {
            let (name, dims) = try EngineSettings.parseShape(text, dynamic: true)
            defaults.engine.shapes[name ?? ""] = dims
        }
        guard let body = Bytes(parsing: maxBody), body.count > 0 else { throw ValidationError("--max-body must be a size such as 64MB") }
        options.maxBodyBytes = Int(body.count)
        options.token = try tokenFile.map(readToken)
        let repository = try ModelRepository.load(folder: spec.repository, models: spec.models, defaults: defaults)
        let server = InferenceServer(repository: repository, options: options)
        let names = repository.names
        let host = spec.host
        var logger = Logger(label: "edgeinsight.serve")
        logger.logLevel = .warning
        try await server.run(logger: logger) { port in
            NodeLine<NodeStopped>.ready(NodeReady(node: .serve, address: host, port: port)).write()
            let broker = spec.mqtt.map { " and from \($0.endpoint) (QoS \($0.qos))" } ?? ""
            FileHandle.standardError.write(Data("serving \(names.joined(separator: ", ")) on http://\(host):\(port)\(broker)\n".utf8))
        }
        NodeLine<NodeStopped>.report(NodeStopped()).write()
    }

    /// The flags as a node document's body.
    func flagSpec() throws -> ServeSpec {
        var spec = ServeSpec()
        spec.models = model
        spec.repository = models
        spec.host = host
        spec.port = port
        spec.instances = instances
        spec.maxBatch = maxBatch
        spec.maxQueue = maxQueue
        spec.maxQueueDelay = maxQueueDelay
        spec.threads = threads
        spec.streams = streams
        spec.hint = hint
        spec.precision = precision
        spec.engine = engine
        spec.httpThreads = httpThreads
        spec.mqtt = try mqtt.map { BrokerSubscription(endpoint: try MQTTEndpoint(parsing: $0), qos: mqttQos) }
        return spec
    }
}
