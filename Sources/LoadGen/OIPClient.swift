import AsyncHTTPClient
import EdgeInsightCore
import Foundation
import InferenceProtocol
import NIOCore
import NIOHTTP1

/// Errors of the load generator; one line each.
public enum LoadError: Error, CustomStringConvertible, Equatable {
    case unreachable(String)
    case badTarget(String)
    case badInput(String)
    case badPlan(String)

    public var description: String {
        switch self {
        case .unreachable(let message): "server unreachable: \(message)"
        case .badTarget(let message): message
        case .badInput(let message): "bad input: \(message)"
        case .badPlan(let message): message
        }
    }
}

/// A request encoded once and sent many times (no JSON work on the hot path).
public struct PreparedRequest: Sendable {
    public var body: ByteBuffer
    public var headerLength: Int?
    /// Samples (batch rows) the request carries.
    public var samples: Int
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
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes every connection.
    public func shutdown() async {
        try? await http.shutdown()
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

    /// Sends one prepared infer request.
    public func infer(_ path: String, _ prepared: PreparedRequest) async -> CallOutcome {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: prepared.headerLength == nil ? "application/json" : "application/octet-stream")
        if let length = prepared.headerLength { request.headers.add(name: InferenceCodec.headerLengthField, value: String(length)) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(prepared.body)
        do {
            let response = try await http.execute(request, timeout: .seconds(120))
            let received = MonotonicClock.now()
            let body = try await response.body.collect(upTo: 256 << 20)
            guard response.status.code == 200 else {
                return CallOutcome(ok: false, status: Int(response.status.code), receiveNs: MonotonicClock.now() - received)
            }
            // Only the JSON header is read: enough for the server's timings.
            let headerLength = response.headers.first(name: InferenceCodec.headerLengthField).flatMap { Int($0) } ?? body.readableBytes
            let parameters = body.withUnsafeReadableBytes { raw -> JSONValue? in
                let header = UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[0..<min(headerLength, raw.count)])
                return (try? JSONValue.parse(Array(header)))?["parameters"]
            }
            return CallOutcome(
                ok: true, status: 200,
                serverQueueNs: parameters?["queue_time_ns"]?.int.map { UInt64(max(0, $0)) },
                serverComputeNs: parameters?["compute_time_ns"]?.int.map { UInt64(max(0, $0)) },
                receiveNs: MonotonicClock.now() - received)
        } catch {
            return CallOutcome(ok: false, status: 0, receiveNs: 0)
        }
    }
}
