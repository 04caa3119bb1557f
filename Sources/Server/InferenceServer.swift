import Broker
import EdgeInsightCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import InferenceProtocol
import Logging
import NIOCore
import NIOHTTP1

/// Where and how the server listens.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8000
    /// Requests must carry `Authorization: Bearer <token>` (health endpoints excepted).
    public var token: String?
    public var maxBodyBytes = 64 << 20
    /// Event-loop threads that read requests and also run their handling. Nil: a loop per core for
    /// I/O and Swift's shared pool for the handling — best when serving is the work (tiny models).
    /// A few dedicated threads leave the other cores to the inference streams — best for real models
    /// on a small machine (mobilenet_v2, FP32 inputs, 2 cores: +5% with 1 thread; docs/server.md).
    public var httpThreads: Int?
    /// A broker whose requests the server answers too (`serve --mqtt`).
    public var broker: BrokerSubscription?

    public init() {}
}

/// The cloud node: an Open Inference Protocol (KServe v2) REST server over a model repository.
public final class InferenceServer: Sendable {
    public static let version = "0.1.0"
    let repository: ModelRepository
    let options: ServerOptions
    let schedulers: [String: Scheduler]
    let statistics: [String: ModelStatistics]
    let metrics: ServerMetrics
    /// The server's own threads when `httpThreads` is set. They live as long as the server: a late
    /// task (a batcher's timer) must never find its loop shut down.
    let executor: EventLoopExecutor?

    public init(repository: ModelRepository, options: ServerOptions) {
        self.repository = repository
        self.options = options
        var statistics: [String: ModelStatistics] = [:]
        var schedulers: [String: Scheduler] = [:]
        executor = options.httpThreads.map { EventLoopExecutor(threads: $0) }
        for (name, model) in repository.models {
            let stats = ModelStatistics()
            statistics[name] = stats
            schedulers[name] = Scheduler(model: model, statistics: stats, executor: executor)
        }
        self.statistics = statistics
        self.schedulers = schedulers
        metrics = ServerMetrics(models: repository.names)
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting and drains requests in flight.
    /// `onReady` gets the port actually bound (useful with port 0); the HTTP stack logs to `logger`.
    public func run(logger: Logger, onReady: @escaping @Sendable (Int) -> Void) async throws {
        let app = Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in await self.respond(to: request) },
            server: HTTPServerBuilder { responder in InferenceChannel(responder: responder, server: self) },
            configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: "edgeinsight"),
            onServerRunning: { channel in onReady(channel.localAddress?.port ?? 0) },
            eventLoopGroupProvider: executor.map { .shared($0.group) } ?? .singleton,
            logger: logger)
        // The broker's consumer joins before the server says it is ready, and leaves after it drained.
        let consumer = try options.broker.map { try consume($0) }
        defer { consumer?.close() }
        do {
            // Child tasks (each connection's) inherit the preference; the scheduler's own tasks are
            // given it explicitly.
            try await withTaskExecutorPreference(executor) { try await app.runService() }
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ServerError.portInUse("\(options.host):\(options.port)")
        }
    }

    // MARK: Routing

    /// Every endpoint but infer (that one is `answerInfer`, reached through `InferRoute`).
    func respond(to request: Request) async -> Response {
        let reply: Reply
        do { reply = try route(request) } catch { reply = errorReply(error) }
        let headers = HTTPFields(reply.headers.compactMap { field in HTTPField.Name(field.name).map { HTTPField(name: $0, value: field.value) } })
        return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: reply.body))
    }

    private func route(_ request: Request) throws -> Reply {
        let path = request.uri.path.split(separator: "/")
        func method(_ expected: HTTPRequest.Method) throws {
            guard request.method == expected else { throw ProtocolError(405, "\(request.uri.path) takes \(expected.rawValue), not \(request.method.rawValue)") }
        }
        if path.count >= 2, path[0] == "v2", path[1] == "health" {
            guard request.method == .get, path.count == 3, ["live", "ready"].contains(path[2]) else { throw ProtocolError.notFound("unknown endpoint \(request.uri.path)") }
            return json(200, path[2] == "live" ? ResponseBody.Health(live: true) : ResponseBody.Health(ready: true))
        }
        try authorize(request.headers[.authorization])
        switch path {
        case ["v2"]:
            try method(.get)
            return json(200, ResponseBody.Server(name: "edgeinsight", version: Self.version, extensions: ["binary_tensor_data", "statistics"]))
        case ["metrics"]:
            try method(.get)
            return Reply(status: 200, headers: ["content-type": "text/plain; version=0.0.4"], body: ByteBuffer(bytes: metrics.text()))
        case ["v2", "models", "stats"]:
            try method(.get)
            return json(200, ResponseBody.Stats(model_stats: repository.names.map { statistics[$0]!.entry(name: $0, version: "1") }))
        default:
            break
        }
        let (model, rest) = try resolveModel(path)
        switch rest {
        case []:
            try method(.get)
            return json(200, metadata(model))
        case ["ready"]:
            try method(.get)
            return json(200, ResponseBody.ModelReady(name: model.name, ready: true))
        case ["stats"]:
            try method(.get)
            return json(200, ResponseBody.Stats(model_stats: [statistics[model.name]!.entry(name: model.name, version: "1")]))
        default:
            throw ProtocolError.notFound("unknown endpoint \(request.uri.path)")
        }
    }

    private func authorize(_ authorization: String?) throws(ProtocolError) {
        if let token = options.token, authorization != "Bearer \(token)" {
            throw ProtocolError(401, "missing or wrong bearer token")
        }
    }

    /// The model a /v2/models/{m}[/versions/{v}]/… path names, and the path's rest.
    private func resolveModel(_ path: [Substring]) throws(ProtocolError) -> (any ServedModel, rest: [Substring]) {
        guard path.count >= 3, path[0] == "v2", path[1] == "models" else { throw ProtocolError.notFound("unknown endpoint /\(path.joined(separator: "/"))") }
        // Clients percent-encode a name that is not plain (tritonclient quotes every path part).
        let name = String(path[2]).removingPercentEncoding ?? String(path[2])
        guard let model = repository.models[name] else {
            throw ProtocolError.notFound("unknown model '\(name)'; this server has \(repository.names.joined(separator: ", "))")
        }
        var rest = Array(path.dropFirst(3))
        if rest.count >= 2, rest[0] == "versions" {
            guard rest[1] == "1" else { throw ProtocolError.notFound("model '\(name)' has no version '\(rest[1])'; it has version 1") }
            rest.removeFirst(2)
        }
        return (model, rest)
    }

    // MARK: Infer

    /// Answers POST /v2/models/{m}[/versions/{v}]/infer, its body already gathered by `InferRoute`.
    func answerInfer(_ head: HTTPRequestHead, body: ByteBuffer, bodyTooLarge: Bool) async -> Reply {
        let model: any ServedModel
        do {
            try authorize(head.headers.first(name: "authorization"))
            model = try resolveModel(InferRoute.components(head.uri)).0
            guard head.method == .POST else { throw ProtocolError(405, "\(head.uri) takes POST, not \(head.method.rawValue)") }
        } catch {
            return errorReply(error)
        }
        if bodyTooLarge { return errorReply(ProtocolError(413, "request body larger than \(options.maxBodyBytes) bytes")) }
        return await infer(model, body: body, headerLength: head.headers.first(name: InferenceCodec.headerLengthField))
    }

    /// Answers one infer request for `model` — its body and the binary extension's header length,
    /// as text — however it arrived (HTTP, or a message through the broker).
    func infer(_ model: any ServedModel, body: ByteBuffer, headerLength field: String?) async -> Reply {
        let received = MonotonicClock.now()
        metrics.inFlight.increment()
        defer { metrics.inFlight.decrement() }
        do {
            var headerLength: Int?
            if let field {
                guard let value = Int(field) else { throw ProtocolError.badRequest("\(InferenceCodec.headerLengthField) must be an integer, got '\(field)'") }
                headerLength = value
            }
            // Binary inputs stay in the body (its storage kept alive by the tensors) until the engine copies them in.
            let decoded = try body.withUnsafeReadableBytesWithStorageManagement { raw, storage in
                Result { () throws(ProtocolError) in
                    try InferenceCodec.decodeRequest(raw.bindMemory(to: UInt8.self), headerLength: headerLength, owner: storage.takeUnretainedValue())
                }
            }.get()
            let rows = try model.validate(decoded.inputs)
            if let unknown = decoded.outputs.first(where: { output in !model.outputs.contains { $0.name == output.name } }) {
                throw ProtocolError.badRequest("model '\(model.name)' has no output '\(unknown.name)'; its outputs are \(model.outputs.map(\.name).joined(separator: ", "))")
            }
            let completion = try await schedulers[model.name]!.submit(decoded.inputs, rows: rows)
            let wanted = decoded.outputs.isEmpty ? completion.outputs : completion.outputs.filter { out in decoded.outputs.contains { $0.name == out.name } }
            let response = InferenceResponse(
                modelName: model.name, modelVersion: "1", id: decoded.id,
                parameters: ["queue_time_ns": .int(Int64(completion.queueNs)), "compute_time_ns": .int(Int64(completion.computeNs)), "batch_size": .int(Int64(completion.batchRows))],
                outputs: wanted)
            let (bytes, length) = InferenceCodec.encodeResponse(response, binary: decoded.wantsBinary)
            statistics[model.name]!.recordSuccess(totalNs: MonotonicClock.now() - received, queueNs: completion.queueNs)
            metrics.request(model: model.name, outcome: .success)
            metrics.timings(model: model.name, queueNs: completion.queueNs, computeNs: completion.computeNs, batch: completion.batchRows)
            var headers: HTTPHeaders = ["content-type": length == nil ? "application/json" : "application/octet-stream"]
            if let length { headers.add(name: InferenceCodec.headerLengthField, value: String(length)) }
            return Reply(status: 200, headers: headers, body: ByteBuffer(bytes: bytes))
        } catch {
            let failure = error as? ProtocolError ?? ProtocolError(500, "\(error)")
            statistics[model.name]!.recordFailure(totalNs: MonotonicClock.now() - received)
            metrics.request(model: model.name, outcome: failure.status == 503 ? .rejected : failure.status < 500 ? .badRequest : .error)
            return errorReply(failure)
        }
    }

    private func metadata(_ model: any ServedModel) -> ResponseBody.Model {
        func tensors(_ list: [TensorMetadata]) -> [ResponseBody.Tensor] { list.map { .init(name: $0.name, datatype: $0.datatype.rawValue, shape: $0.shape) } }
        return ResponseBody.Model(name: model.name, versions: ["1"], platform: model.platform, inputs: tensors(model.inputs), outputs: tensors(model.outputs))
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    private func json(_ status: Int, _ body: some Encodable) -> Reply {
        // Encoding these plain structs cannot fail; should it, the client still gets valid JSON.
        let data = (try? Self.encoder.encode(body)) ?? Data(#"{"error":"the server could not encode its answer"}"#.utf8)
        return Reply(status: status, headers: ["content-type": "application/json"], body: ByteBuffer(bytes: data))
    }

    /// `{"error": "…"}` with the error's status (500 for anything not a protocol error).
    func errorReply(_ error: any Error) -> Reply {
        let failure = error as? ProtocolError ?? ProtocolError(500, "\(error)")
        var reply = json(failure.status, ResponseBody.Failure(error: failure.message))
        if failure.status == 503 { reply.headers.add(name: "retry-after", value: "1") }
        return reply
    }
}

/// An answer: status, header fields and body (written by `InferRoute`, or made a Hummingbird `Response`).
struct Reply: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer
}
