import EdgeInsightCore
import Foundation
import InferenceProtocol
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request's head and body, built once and written as they are for every send.
struct WireRequest: Sendable {
    let head: HTTPRequestHead
    let body: ByteBuffer

    init(method: HTTPMethod, authority: String, path: String, headers: HTTPHeaders, body: ByteBuffer) {
        var headers = headers
        headers.add(name: "Host", value: authority)
        if method != .GET || body.readableBytes > 0 { headers.add(name: "Content-Length", value: String(body.readableBytes)) }
        head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        self.body = body
    }
}

/// The closed loop's hot path: one keep-alive HTTP/1.1 connection per worker that writes the next
/// prepared request as soon as a response ends, on the event loop. Responses are parsed by NIO's
/// HTTP/1 decoder; only the server's timings are scanned out of the JSON header. `HTTP1Pool` does
/// the same job with a promise and a lookup per call (the difference is what
/// `benchmarks/loadgen-capacity` measures); everything else (metadata, open loop) uses it.
final class ClosedLoopConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let requests: [WireRequest]
    private let recorder: Recorder
    private let stop: Flag
    private let finished: @Sendable () -> Void
    private let target: (host: String, port: Int, group: EventLoopGroup)
    /// Connections in a row that closed before answering anything; past a few, the worker gives up.
    private let barrenReconnects: Int
    private var answered = 0
    private var awaiting = false
    private var keepAlive = true
    private var index: Int
    private var sentAt: UInt64 = 0
    private var status = 0
    private var headerLength: Int?
    private var body: ByteBuffer?
    private var done = false

    init(target: (host: String, port: Int, group: EventLoopGroup), requests: [WireRequest], first: Int, recorder: Recorder, stop: Flag,
         barrenReconnects: Int, finished: @escaping @Sendable () -> Void) {
        self.target = target
        self.barrenReconnects = barrenReconnects
        self.requests = requests
        self.index = first
        self.recorder = recorder
        self.stop = stop
        self.finished = finished
    }

    /// Connects and runs until `stop` is set; `finished` is called once, when the worker is done.
    static func start(host: String, port: Int, group: EventLoopGroup, requests: [WireRequest], first: Int,
                      recorder: Recorder, stop: Flag, barrenReconnects: Int = 0, finished: @escaping @Sendable () -> Void) -> EventLoopFuture<Void> {
        ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.pipeline.addHandlers([
                    HTTPRequestEncoder(),
                    ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)),
                    ClosedLoopConnection(target: (host, port, group), requests: requests, first: first, recorder: recorder, stop: stop,
                                         barrenReconnects: barrenReconnects, finished: finished),
                ])
            }
            .connect(host: host, port: port)
            .map { _ in }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendNext(context: context)
        context.fireChannelActive()
    }

    private func sendNext(context: ChannelHandlerContext) {
        guard !stop.isSet else { return finish(context: context) }
        sentAt = MonotonicClock.now()
        awaiting = true
        recorder.sent(at: sentAt)
        let request = requests[index % requests.count]
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        index += 1
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            keepAlive = head.isKeepAlive
            headerLength = OIPClient.headerLength(head.headers)
            body = nil
        case .body(var part):
            if body == nil { body = part } else { body!.writeBuffer(&part) }
        case .end:
            let received = MonotonicClock.now()
            awaiting = false
            answered += 1
            var outcome = CallOutcome(ok: status == 200, status: status, receiveNs: 0)
            if status == 200, let body {
                (outcome.serverQueueNs, outcome.serverComputeNs) = OIPClient.serverTimings(in: body, headerLength: headerLength)
            } else if let body {
                outcome.message = Failures.message(fromBody: Array(body.readableBytesView))
            }
            outcome.receiveNs = MonotonicClock.now() - received
            if !stop.isSet { recorder.record(outcome, latencyNs: received - sentAt) }
            // A server that says it will close gets no more requests here; the worker reconnects.
            if keepAlive { sendNext(context: context) } else { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        defer { context.fireChannelInactive() }
        guard !done else { return }
        done = true
        guard !stop.isSet else { return finished() }
        // The server closed the connection (a keep-alive limit, a restart): the request in flight
        // failed; the worker carries on over a new connection, unless connections keep dying unanswered.
        if awaiting { recorder.record(CallOutcome(ok: false, status: 0, receiveNs: 0, message: "the server closed the connection"), latencyNs: 0) }
        let barren = answered == 0 ? barrenReconnects + 1 : 0
        guard barren <= 3 else { return finished() }
        let finished = self.finished
        Self.start(host: target.host, port: target.port, group: target.group, requests: requests, first: index, recorder: recorder, stop: stop,
                   barrenReconnects: barren, finished: finished)
            .whenFailure { _ in finished() }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func finish(context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        context.close(promise: nil)
        finished()
    }
}

