import EdgeInsightCore
import Foundation
import InferenceProtocol
import Logging
@testable import Server
import Testing

/// The infer route in process: a server on a loopback port in this test's process, spoken to over
/// a plain socket (the bytes a client sends, nothing in between), serving the `sleep` model, which
/// echoes its input.
@Suite(.timeLimit(.minutes(2))) struct InferRouteTests {
    /// Runs `body` with the port of a fresh server, then stops the server.
    func withServer(_ body: @escaping @Sendable (Int) throws -> Void) async throws {
        var config = ModelConfig()
        config.maxBatchSize = 0
        config.sleep = .milliseconds(1)
        let repository = try ModelRepository.load(folder: nil, models: ["sleep"], defaults: config)
        var options = ServerOptions()
        options.port = 0
        let server = InferenceServer(repository: repository, options: options)
        let (ports, ready) = AsyncStream<Int>.makeStream()
        let task = Task { try await server.run(logger: Logger(label: "test")) { ready.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        do { try await Blocking.offload { try body(port) } } catch {
            task.cancel()
            throw error
        }
        task.cancel()
        _ = await task.result
    }

    /// An infer request for `value` in every element, with binary tensors.
    func inferRequest(_ value: Float, keepAlive: Bool = true) -> [UInt8] {
        let data = (0..<16).flatMap { _ in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
        let (body, headerLength) = InferenceCodec.encodeRequest(
            InferenceRequest(inputs: [WireTensor(name: "input", datatype: .fp32, shape: [1, 16], data: TensorBytes(data))]), binary: true)
        let head = "POST /v2/models/sleep/infer HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\n"
            + "Inference-Header-Content-Length: \(headerLength ?? 0)\r\nContent-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWithTheirOwnData() async throws {
        try await withServer { port in
            let connection = try RawHTTPConnection(port: port)
            try connection.send((1...3).flatMap { self.inferRequest(Float($0)) })
            for value in 1...3 {
                let response = try connection.readResponse()
                #expect(response.status == 200)
                let decoded = try InferenceCodec.decodeResponse(response.body, headerLength: response.headers["inference-header-content-length"].flatMap { Int($0) })
                let floats = Array(decoded.outputs[0].data).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                #expect(floats == Array(repeating: Float(value), count: 16), "answer \(value) out of order or wrong")
                // The server's own timings ride along, for the client's stage breakdown.
                #expect(decoded.parameters["queue_time_ns"] != nil && decoded.parameters["compute_time_ns"] != nil, "\(decoded.parameters.keys)")
                #expect(decoded.parameters["batch_size"] == .int(1))
            }
        }
    }

    @Test func badRequestsGetFourHundredsWithAnErrorAndTheConnectionServesOn() async throws {
        try await withServer { port in
            let connection = try RawHTTPConnection(port: port)
            let junk = Array("{\"inputs\": [{\"name\": \"input\", \"shape\": [1,16], \"datatype\": \"FP32\", \"data\": [1,2]}]}".utf8)
            try connection.send(Array("POST /v2/models/sleep/infer HTTP/1.1\r\nHost: t\r\nContent-Length: \(junk.count)\r\n\r\n".utf8) + junk)
            let refused = try connection.readResponse()
            #expect(refused.status == 400)
            #expect(String(decoding: refused.body, as: UTF8.self).hasPrefix("{\"error\":"), "\(String(decoding: refused.body, as: UTF8.self))")
            let unknown = Array("POST /v2/models/nope/infer HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}".utf8)
            try connection.send(unknown)
            #expect(try connection.readResponse().status == 404)
            try connection.send(self.inferRequest(7))
            #expect(try connection.readResponse().status == 200)
        }
    }
}

/// A blocking HTTP/1.1 connection over a plain socket: writes bytes as given, reads responses by
/// their Content-Length.
final class RawHTTPConnection {
    let socket: Int32
    private var buffer: [UInt8] = []

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "cannot connect to port \(port)") }
    }

    deinit { close(socket) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, 0) }
            guard sent > 0 else { throw Failure(description: "send failed") }
            offset += sent
        }
    }

    func readResponse() throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        while true {
            if buffer.count >= 4 { end = (0...(buffer.count - 4)).first { Array(buffer[$0..<($0 + 4)]) == separator } }
            if end != nil { break }
            try fill()
        }
        let head = String(decoding: buffer[..<end!], as: UTF8.self).split(separator: "\r\n")
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < end! + 4 + length { try fill() }
        let body = Array(buffer[(end! + 4)..<(end! + 4 + length)])
        buffer.removeFirst(end! + 4 + length)
        return Response(status: status, headers: headers, body: body)
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw Failure(description: "connection closed or timed out") }
        buffer += chunk[..<count]
    }
}
