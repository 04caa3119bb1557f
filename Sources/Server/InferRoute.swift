import HummingbirdCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// A connection's channel as Hummingbird's HTTP/1 channel sets it up, with the infer route in front.
struct InferenceChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
    let responder: HTTPChannelHandler.Responder
    let server: InferenceServer

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            var limits = NIOHTTPDecoderLimitConfiguration()
            (limits.maxHeaderFieldSize, limits.maxHeaderListSize, limits.maxHeaderFieldCount) = (80 << 10, 80 << 10, 1000)
            // Tensors arrive in requests of hundreds of kB: read up to 1 MiB a call, not NIO's default
            // 64 kB (each read is also a pass through the pipeline). UINT8 mobilenet_v2 inputs:
            // 0.38 → 0.31 ms of event-loop CPU per request.
            try channel.syncOptions?.setOption(
                ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 1 << 20))
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
            try pipeline.addHandler(InferRoute(server: server))
            // From here on, as Hummingbird's HTTP1Channel: HTTP types, connection state, its async channel.
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

/// The infer endpoint, answered in the connection's channel pipeline in front of Hummingbird.
///
/// Infer is the one route where serving competes with inference for the CPU. Through Hummingbird a
/// request is converted to HTTP types and crosses its async channel per body chunk and per response
/// part; here its body is gathered as it is read (usually one slice of one read), handed to the
/// scheduler in one task and the answer written straight back: 0.38 → about 0.2 ms of event-loop CPU
/// per request, which on a 2-core node is CPU the inference streams get back (docs/benchmarks.md,
/// serve-overhead). Every other request passes through untouched to Hummingbird's router.
///
/// HTTP/1.1 lets a client send its next request before the answer to the last; answers must keep the
/// order. So while one request is being answered (here or by Hummingbird) the parts of the next are
/// held, and reading stops once any are held, until the answer's end is written.
final class InferRoute: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// An infer request's body is arriving into `body`; past the server's limit its bytes are dropped.
        case collecting(HTTPRequestHead, tooLarge: Bool)
        /// An infer request is with the scheduler.
        case answering
        /// Some other request, Hummingbird's to answer.
        case forwarding(requestEnded: Bool, responseEnded: Bool)
    }

    private let server: InferenceServer
    private var state = State.idle
    /// The body being collected (outside `state` so that appending never copies it).
    private var body = ByteBuffer()
    private var held = CircularBuffer<HTTPServerRequestPart>()
    private var readHeld = false
    private var quiesceHeld = false
    private var date = HTTPDate()

    init(server: InferenceServer) {
        self.server = server
    }

    /// Whether a path is an infer endpoint: /v2/models/{m}/infer or /v2/models/{m}/versions/{v}/infer.
    static func isInfer(_ path: [Substring]) -> Bool {
        (path.count == 4 || (path.count == 6 && path[3] == "versions")) && path[0] == "v2" && path[1] == "models" && path.last == "infer"
    }

    static func components(_ uri: String) -> [Substring] {
        uri.prefix { $0 != "?" }.split(separator: "/")
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !held.isEmpty || waitsForAnswer {
            held.append(part)
        } else {
            take(part, context: context)
        }
    }

    /// A request has been read in full and its answer is not yet written: the next one must wait.
    private var waitsForAnswer: Bool {
        switch state {
        case .answering, .forwarding(requestEnded: true, responseEnded: _): true
        case .idle, .collecting, .forwarding(requestEnded: false, responseEnded: _): false
        }
    }

    private func take(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch state {
        case .idle:
            guard case .head(let head) = part, Self.isInfer(Self.components(head.uri)) else {
                state = .forwarding(requestEnded: false, responseEnded: false)
                return context.fireChannelRead(wrapInboundOut(part))
            }
            body = ByteBuffer()
            state = .collecting(head, tooLarge: false)
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                // curl asks before sending a body over 1 MiB, and waits a second for the answer.
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case .collecting(let head, let tooLarge):
            switch part {
            case .body(var chunk):
                if tooLarge || body.readableBytes + chunk.readableBytes > server.options.maxBodyBytes {
                    body = ByteBuffer()
                    state = .collecting(head, tooLarge: true)
                } else if body.readableBytes == 0 {
                    // Usually the whole body comes in one read: keep that slice of the read buffer
                    // rather than copying it.
                    body = chunk
                } else {
                    // A body in pieces: make room for all of it (Content-Length) once, then append.
                    let announced = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
                    body.reserveCapacity(minimumWritableBytes: max(chunk.readableBytes, min(announced, server.options.maxBodyBytes) - body.readableBytes))
                    body.writeBuffer(&chunk)
                }
            case .end:
                state = .answering
                answer(head, body: body, tooLarge: tooLarge, context: context)
                body = ByteBuffer()
            case .head:
                break   // the HTTP decoder ends a request before it starts another
            }
        case .answering:
            break   // parts arriving now are held, never taken
        case .forwarding(_, let responseEnded):
            context.fireChannelRead(wrapInboundOut(part))
            if case .end = part { finishForwarding(requestEnded: true, responseEnded: responseEnded, context: context) }
        }
    }

    private func answer(_ head: HTTPRequestHead, body: ByteBuffer, tooLarge: Bool, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let server = server
        Task(executorPreference: server.executor) {
            let reply = await server.answerInfer(head, body: body, bodyTooLarge: tooLarge)
            if loop.inEventLoop {
                bound.value.0.write(reply, to: head, context: bound.value.1)
            } else {
                loop.execute { bound.value.0.write(reply, to: head, context: bound.value.1) }
            }
        }
    }

    private func write(_ reply: Reply, to request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = reply.headers
        headers.add(name: "content-length", value: String(reply.body.readableBytes))
        headers.add(name: "server", value: "edgeinsight")
        headers.add(name: "date", value: date.now())
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .init(statusCode: reply.status), headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(reply.body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        if keepAlive {
            becomeIdle(context: context, after: written.futureResult)
        } else {
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    // MARK: Outbound (Hummingbird's answers pass through)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), case .forwarding(let requestEnded, _) = state {
            let written = promise ?? context.eventLoop.makePromise()
            context.write(data, promise: written)
            state = .forwarding(requestEnded: requestEnded, responseEnded: true)
            if requestEnded { becomeIdle(context: context, after: written.futureResult) }
            return
        }
        context.write(data, promise: promise)
    }

    private func finishForwarding(requestEnded: Bool, responseEnded: Bool, context: ChannelHandlerContext) {
        state = .forwarding(requestEnded: requestEnded, responseEnded: responseEnded)
        if requestEnded && responseEnded { becomeIdle(context: context, after: nil) }
    }

    func read(context: ChannelHandlerContext) {
        if held.isEmpty { context.read() } else { readHeld = true }
    }

    /// The answer's end is on its way: take the held request, if any, and let reading go on.
    private func becomeIdle(context: ChannelHandlerContext, after written: EventLoopFuture<Void>?) {
        state = .idle
        if quiesceHeld {
            quiesceHeld = false
            // Hummingbird closes an idle connection on this event; let it once the answer is out.
            guard let written else { return context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
            written.assumeIsolated().whenComplete { _ in context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
            return
        }
        if !held.isEmpty {
            while !held.isEmpty && !waitsForAnswer {
                take(held.removeFirst(), context: context)
            }
            // Hummingbird's async channel passes reads on at the end of a read burst.
            context.fireChannelReadComplete()
        }
        if held.isEmpty && readHeld {
            readHeld = false
            context.read()
        }
    }

    // MARK: Shutdown

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            switch state {
            case .collecting, .answering:
                quiesceHeld = true   // drain: answer the request in hand first
                return
            case .idle, .forwarding:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The Date header an origin server must send (RFC 9110 §6.6.1), formatted once a second.
struct HTTPDate {
    private var second = 0
    private var text = ""

    mutating func now() -> String {
        var clock = time(nil)
        guard clock != second else { return text }
        var parts = tm()
        gmtime_r(&clock, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"], months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        second = clock
        text = "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        return text
    }
}
