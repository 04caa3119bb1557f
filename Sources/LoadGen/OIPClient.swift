import AsyncHTTPClient
import EdgeInsightCore
import Foundation
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

/// A prepared request bound to a URL, with its headers and body set once.
public struct BoundRequest: Sendable {
    let request: HTTPClientRequest
    /// The same request for the event-loop API, which closed-loop load uses to avoid a thread hop per request.
    let futureRequest: HTTPClient.Request
}

/// What one infer call returned, for the recorder.
public struct CallOutcome: Sendable {
    public var ok: Bool
    public var status: Int
    /// Server-side split, from the response's parameters when the server sends them.
    public var serverQueueNs: UInt64?
    public var serverComputeNs: UInt64?
    /// Time spent reading and parsing the response on the client.
    public var receiveNs: UInt64
}

/// An Open Inference Protocol client on AsyncHTTPClient, with connection reuse.
public final class OIPClient: Sendable {
    public let base: String
    public let token: String?
    let http: HTTPClient

    /// `base` is `http://host:port`; `connections` bounds the pool per host.
    public init(base: String, token: String? = nil, connections: Int = 64) throws(LoadError) {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        if !trimmed.contains("://") { trimmed = "http://" + trimmed }
        guard URL(string: trimmed)?.host != nil else { throw .badTarget("not a server URL: \(base) (e.g. http://127.0.0.1:8000)") }
        self.base = trimmed
        self.token = token
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, connections))
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(120))
        // One event-loop thread, like wrk -t1: on a small machine the client should take one core at
        // most and leave the rest to whatever it measures.
        http = HTTPClient(eventLoopGroup: Self.loop, configuration: configuration)
    }

    /// The client's single event-loop thread, shared by every client of the process.
    static let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Closes every connection.
    public func shutdown() async {
        try? await http.shutdown()
    }

    static let queueKey = Array("\"queue_time_ns\":".utf8)
    static let computeKey = Array("\"compute_time_ns\":".utf8)

    /// The server's queue and compute times from a response body, read by a scan of its JSON header
    /// (the first `headerLength` bytes; all of it without the binary extension), not a parse of it.
    static func serverTimings(in body: ByteBuffer, headerLength: Int?) -> (queue: UInt64?, compute: UInt64?) {
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
        var request = HTTPClientRequest(url: base + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            let response = try await http.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 16 << 20)
            let bytes = Array(buffer: body)
            guard response.status.code == 200 else {
                let message = (try? JSONValue.parse(bytes))?["error"]?.string ?? "HTTP \(response.status.code)"
                throw LoadError.badTarget("\(path): \(message)")
            }
            do { return try JSONValue.parse(bytes) } catch { throw LoadError.badTarget("\(path): \(error)") }
        } catch let error as LoadError {
            throw error
        } catch {
            throw .unreachable("\(base)\(path): \(error)")
        }
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
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers = Self.inferHeaders(prepared, token: token)
        request.body = .bytes(prepared.body)
        let futureRequest = try! HTTPClient.Request(url: base + path, method: .POST, headers: request.headers, body: .byteBuffer(prepared.body))
        return BoundRequest(request: request, futureRequest: futureRequest)
    }

    /// Sends one bound request and calls `completion` on the connection's event loop: no hop
    /// through the concurrency runtime, so a closed loop can chain requests at the event loop's pace.
    public func infer(_ bound: BoundRequest, completion: @escaping @Sendable (CallOutcome) -> Void) {
        http.execute(request: bound.futureRequest, deadline: .now() + .seconds(120)).whenComplete { result in
            let received = MonotonicClock.now()
            switch result {
            case .success(let response) where response.status.code == 200:
                let (queue, compute) = Self.serverTimings(in: response.body ?? ByteBuffer(), headerLength: Self.headerLength(response.headers))
                completion(CallOutcome(ok: true, status: 200, serverQueueNs: queue, serverComputeNs: compute, receiveNs: MonotonicClock.now() - received))
            case .success(let response):
                completion(CallOutcome(ok: false, status: Int(response.status.code), receiveNs: 0))
            case .failure:
                completion(CallOutcome(ok: false, status: 0, receiveNs: 0))
            }
        }
    }

    /// Sends one bound infer request.
    public func infer(_ bound: BoundRequest) async -> CallOutcome {
        do {
            let response = try await http.execute(bound.request, timeout: .seconds(120))
            let received = MonotonicClock.now()
            let body = try await response.body.collect(upTo: 256 << 20)
            guard response.status.code == 200 else {
                return CallOutcome(ok: false, status: Int(response.status.code), receiveNs: MonotonicClock.now() - received)
            }
            let (queue, compute) = Self.serverTimings(in: body, headerLength: Self.headerLength(response.headers))
            return CallOutcome(ok: true, status: 200, serverQueueNs: queue, serverComputeNs: compute, receiveNs: MonotonicClock.now() - received)
        } catch {
            return CallOutcome(ok: false, status: 0, receiveNs: 0)
        }
    }
}
