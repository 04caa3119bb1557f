import EdgeInsightCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import InferenceProtocol
import NIOCore
import NIOPosix
import NIOHTTP1

/// Errors of the load generator; one line each.
public enum LoadError: Error, CustomStringConvertible, Equatable {
    case unreachable(String)
    case badTarget(String)
    case badInput(String)
    case badPlan(String)
    /// An input with a dynamic dimension other than the batch: the sender must give its shape.
    case dynamicInput(name: String, shape: String)
    /// A BYTES input: random or zero data cannot fill it; it takes encoded images.
    case bytesInput(name: String)
    /// Not one request was answered: the measurement measured nothing.
    case nothingAnswered(String)

    public var description: String {
        switch self {
        case .dynamicInput(let name, let shape): "bad input: input '\(name)' has dynamic dimensions \(shape); give its shape"
        case .bytesInput(let name): "bad input: input '\(name)' is BYTES; it takes encoded images, not generated data"
        case .unreachable(let message): "server unreachable: \(message)"
        case .badTarget(let message): message
        case .badInput(let message): "bad input: \(message)"
        case .badPlan(let message), .nothingAnswered(let message): message
        }
    }
}

/// A request encoded once and sent many times (no JSON work on the hot path).
public struct PreparedRequest: Sendable {
    public var body: ByteBuffer
    public var headerLength: Int?
    /// Samples (batch rows) the request carries.
    public var samples: Int

    public init(body: ByteBuffer, headerLength: Int?, samples: Int) {
        self.body = body
        self.headerLength = headerLength
        self.samples = samples
    }
}

/// A prepared request bound to its server and path, head and body built once.
public struct BoundRequest: Sendable {
    let wire: WireRequest
}

/// What one infer call returned, for the recorder.
public struct CallOutcome: Sendable {
    public var ok: Bool
    public var status: Int
    /// Server-side split, from the response's parameters when the server sends them.
    public var serverQueueNs: UInt64?
    public var serverComputeNs: UInt64?
    /// Time spent reading the server's timings out of the response on the client.
    public var receiveNs: UInt64
    /// Why it failed, in the server's words (or the connection's).
    public var message: String? = nil
}

/// An Open Inference Protocol client. Plain `http://` goes over our own keep-alive HTTP/1.1
/// connections (`HTTP1Pool`, one event-loop thread); `https://` — an external service behind TLS —
/// over Foundation's URLSession (libcurl with the system's TLS), so the build carries no TLS or
/// HTTP/2 stack of its own.
public final class OIPClient: Sendable {
    public let base: String
    public let token: String?
    /// Host and port of a plain-HTTP server (nil for HTTPS), for connections of the load generator's own.
    let plain: (host: String, port: Int)?
    private let pool: HTTP1Pool?
    private let session: URLSession?

    /// `base` is `http://host:port` or `https://host:port`; `connections` bounds the connections.
    public init(base: String, token: String? = nil, connections: Int = 64) throws(LoadError) {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        if !trimmed.contains("://") { trimmed = "http://" + trimmed }
        guard let url = URL(string: trimmed), let host = url.host, url.path.isEmpty || url.path == "/" else {
            throw .badTarget("not a server URL: \(base) (e.g. http://127.0.0.1:8000)")
        }
        self.base = trimmed
        self.token = token
        switch url.scheme?.lowercased() {
        case "http":
            let port = url.port ?? 80
            plain = (host, port)
            pool = HTTP1Pool(loop: Self.loop.next(), host: host, port: port, limit: connections)
            session = nil
        case "https":
            plain = nil
            pool = nil
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpMaximumConnectionsPerHost = max(1, connections)
            configuration.timeoutIntervalForRequest = 120
            session = URLSession(configuration: configuration)
        default:
            throw .badTarget("not a server URL: \(base) (http:// or https://)")
        }
    }

    /// The client's single event-loop thread, shared by every client of the process: like wrk -t1,
    /// on a small machine the client should take one core at most and leave the rest to what it measures.
    static let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Closes every connection.
    public func shutdown() async {
        try? await pool?.shutdown().get()
        session?.invalidateAndCancel()
    }

    /// A request to this client's server: the bearer token and Host set, the body's length stated.
    func request(_ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) -> WireRequest {
        var headers = headers
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return WireRequest(method: method, authority: plain.map { "\($0.host):\($0.port)" } ?? (URL(string: base)?.host ?? ""),
                           path: path, headers: headers, body: body)
    }

    /// One exchange with the server, answered on the client's event loop.
    func exchange(_ request: WireRequest, timeout: TimeAmount) -> EventLoopFuture<HTTPAnswer> {
        if let pool { return pool.execute(request, timeout: timeout) }
        let promise = Self.loop.next().makePromise(of: HTTPAnswer.self)
        var urlRequest = URLRequest(url: URL(string: base + request.head.uri)!)
        urlRequest.httpMethod = request.head.method.rawValue
        urlRequest.timeoutInterval = Double(timeout.nanoseconds) / 1e9
        for (name, value) in request.head.headers where !["host", "content-length"].contains(name.lowercased()) {
            urlRequest.addValue(value, forHTTPHeaderField: name)
        }
        if request.body.readableBytes > 0 { urlRequest.httpBody = Data(request.body.readableBytesView) }
        session!.dataTask(with: urlRequest) { data, response, error in
            guard let response = response as? HTTPURLResponse else {
                return promise.fail(error ?? HTTPExchangeError.closedBeforeAnswer)
            }
            var headers = HTTPHeaders()
            for (name, value) in response.allHeaderFields { headers.add(name: "\(name)", value: "\(value)") }
            promise.succeed(HTTPAnswer(status: response.statusCode, headers: headers, body: ByteBuffer(bytes: data ?? Data())))
        }.resume()
        return promise.futureResult
    }

    static let queueKey = Array("\"queue_time_ns\":".utf8)
    static let computeKey = Array("\"compute_time_ns\":".utf8)

    /// The server's queue and compute times from a response body, read by a scan of its JSON header
    /// (the first `headerLength` bytes; all of it without the binary extension), not a parse of it.
    public static func serverTimings(in body: ByteBuffer, headerLength: Int?) -> (queue: UInt64?, compute: UInt64?) {
        body.withUnsafeReadableBytes { raw in
            let header = UnsafeRawBufferPointer(rebasing: raw[0..<min(headerLength ?? raw.count, raw.count)])
            return (integer(after: queueKey, in: header), integer(after: computeKey, in: header))
        }
    }

    /// The binary extension's JSON header length, when the response has one.
    static func headerLength(_ headers: HTTPHeaders) -> Int? {
        headers.first(name: InferenceCodec.headerLengthField).flatMap { Int($0) }
    }

    /// The non-negative integer following `key` in `bytes`, if any.
    static func integer(after key: [UInt8], in bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count > key.count else { return nil }
        var i = 0
        outer: while i <= bytes.count - key.count {
            for j in 0..<key.count where bytes[i + j] != key[j] {
                i += 1
                continue outer
            }
            var k = i + key.count
            while k < bytes.count, bytes[k] == 0x20 { k += 1 }
            var value: UInt64 = 0, digits = 0
            while k < bytes.count, bytes[k] >= 0x30, bytes[k] <= 0x39 {
                value = value &* 10 &+ UInt64(bytes[k] - 0x30)
                digits += 1
                k += 1
            }
            return digits > 0 ? value : nil
        }
        return nil
    }

    /// GETs a path and parses the JSON answer.
    public func getJSON(_ path: String) async throws(LoadError) -> JSONValue {
        let answer: HTTPAnswer
        do { answer = try await exchange(request(.GET, path), timeout: .seconds(30)).get() } catch {
            throw .unreachable("\(base)\(path): \(error)")
        }
        let bytes = Array(buffer: answer.body)
        guard answer.status == 200 else {
            let message = (try? JSONValue.parse(bytes))?["error"]?.string ?? "HTTP \(answer.status)"
            throw LoadError.badTarget("\(path): \(message)")
        }
        do { return try JSONValue.parse(bytes) } catch { throw LoadError.badTarget("\(path): \(error)") }
    }

    /// Whether the server takes the binary tensor data extension, from the extensions its metadata
    /// (`GET /v2`) lists; nil when it lists none at all (then we cannot tell, and assume it does).
    public func takesBinaryTensors() async -> Bool? {
        guard let metadata = try? await getJSON("/v2"), let extensions = metadata["extensions"]?.array else { return nil }
        return extensions.contains { $0.string == "binary_tensor_data" }
    }

    /// The headers an infer request carries: its content type, the binary extension's header length,
    /// the bearer token.
    static func inferHeaders(_ prepared: PreparedRequest, token: String?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: prepared.headerLength == nil ? "application/json" : "application/octet-stream")
        if let length = prepared.headerLength { headers.add(name: InferenceCodec.headerLengthField, value: String(length)) }
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        return headers
    }

    /// Builds the HTTP request for a prepared body once, so sending it repeats no work.
    public func bind(_ path: String, _ prepared: PreparedRequest) -> BoundRequest {
        BoundRequest(wire: request(.POST, path, headers: Self.inferHeaders(prepared, token: nil), body: prepared.body))
    }

    /// Sends one bound request and calls `completion` on the client's event loop: no hop through the
    /// concurrency runtime, so a closed loop can chain requests at the event loop's pace.
    public func infer(_ bound: BoundRequest, completion: @escaping @Sendable (CallOutcome) -> Void) {
        exchange(bound.wire, timeout: .seconds(120)).whenComplete { completion(Self.outcome($0)) }
    }

    /// Sends one bound infer request.
    public func infer(_ bound: BoundRequest) async -> CallOutcome {
        let future = exchange(bound.wire, timeout: .seconds(120))
        do { return Self.outcome(.success(try await future.get())) } catch { return Self.outcome(.failure(error)) }
    }

    static func outcome(_ result: Result<HTTPAnswer, Error>) -> CallOutcome {
        let received = MonotonicClock.now()
        switch result {
        case .success(let answer) where answer.status == 200:
            let (queue, compute) = serverTimings(in: answer.body, headerLength: headerLength(answer.headers))
            return CallOutcome(ok: true, status: 200, serverQueueNs: queue, serverComputeNs: compute, receiveNs: MonotonicClock.now() - received)
        case .success(let answer):
            return CallOutcome(ok: false, status: answer.status, receiveNs: 0, message: Failures.message(fromBody: Array(answer.body.readableBytesView)))
        case .failure(let error):
            return CallOutcome(ok: false, status: 0, receiveNs: 0, message: "\(error)")
        }
    }
}
