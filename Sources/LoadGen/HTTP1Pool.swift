import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP response as the client sees it: status, headers, the whole body.
struct HTTPAnswer: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer
}

/// Why an exchange failed without an answer.
enum HTTPExchangeError: Error, CustomStringConvertible {
    /// The connection closed before any byte of the answer: on a reused keep-alive connection, the
    /// server's idle close crossing our request — safe to send again on a new connection.
    case closedBeforeAnswer
    case closedMidAnswer
    case timedOut(TimeAmount)

    var description: String {
        switch self {
        case .closedBeforeAnswer: "the server closed the connection before answering"
        case .closedMidAnswer: "the server closed the connection in the middle of its answer"
        case .timedOut(let limit): "no answer within \(limit.nanoseconds / 1_000_000_000) s"
        }
    }
}

/// Keep-alive HTTP/1.1 connections to one `host:port`, at most `limit` open, every piece of state on
/// one event loop (no locks: each method hops there first). A request waits for a free connection
/// when all are busy, so the server sees at most `limit` requests at once — the same bound the
/// caller sets as its concurrency. HTTP/1.1 only: the product talks to inference servers on plain
/// HTTP/1.1, and this is what replaces AsyncHTTPClient's HTTP/2 and TLS stacks in the build
/// (HTTPS to external endpoints goes through Foundation's URLSession instead, see `OIPClient`).
final class HTTP1Pool: @unchecked Sendable {
    let loop: EventLoop
    let host: String
    let port: Int
    let limit: Int
    private var idle: [Channel] = []
    private var open = 0
    private var waiting: [(WireRequest, TimeAmount, EventLoopPromise<HTTPAnswer>)] = []
    private var waitingHead = 0
    private var closed = false

    init(loop: EventLoop, host: String, port: Int, limit: Int) {
        self.loop = loop
        self.host = host
        self.port = port
        self.limit = max(1, limit)
    }

    /// Sends `request` on a free connection (opening one while under the limit) and answers with the
    /// whole response; fails after `timeout` without one.
    func execute(_ request: WireRequest, timeout: TimeAmount) -> EventLoopFuture<HTTPAnswer> {
        let promise = loop.makePromise(of: HTTPAnswer.self)
        loop.execute { self.dispatch(request, timeout: timeout, promise: promise) }
        return promise.futureResult
    }

    /// Closes every connection; requests still waiting fail.
    func shutdown() -> EventLoopFuture<Void> {
        loop.flatSubmit {
            self.closed = true
            for (_, _, promise) in self.waiting[self.waitingHead...] { promise.fail(ChannelError.ioOnClosedChannel) }
            self.waiting = []
            self.waitingHead = 0
            let channels = self.idle
            self.idle = []
            return EventLoopFuture.andAllComplete(channels.map { $0.close() }, on: self.loop)
        }
    }

    private func dispatch(_ request: WireRequest, timeout: TimeAmount, promise: EventLoopPromise<HTTPAnswer>, fresh: Bool = false) {
        loop.preconditionInEventLoop()
        guard !closed else { return promise.fail(ChannelError.ioOnClosedChannel) }
        if !fresh, let channel = idle.popLast() {
            send(request, timeout: timeout, promise: promise, on: channel, reused: true)
        } else if open < limit || fresh {
            connect(request, timeout: timeout, promise: promise)
        } else {
            waiting.append((request, timeout, promise))
        }
    }

    private func connect(_ request: WireRequest, timeout: TimeAmount, promise: EventLoopPromise<HTTPAnswer>) {
        open += 1
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        HTTPRequestEncoder(),
                        ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)),
                        HTTP1Exchange(),
                    ])
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    // Whenever the connection ends (the server's idle close, an error), it stops counting.
                    channel.closeFuture.whenComplete { _ in self.forget(channel) }
                    self.send(request, timeout: timeout, promise: promise, on: channel, reused: false)
                case .failure(let error):
                    self.open -= 1
                    promise.fail(error)
                    self.serveWaiting()
                }
            }
    }

    private func send(_ request: WireRequest, timeout: TimeAmount, promise: EventLoopPromise<HTTPAnswer>, on channel: Channel, reused: Bool) {
        let exchange = loop.makePromise(of: HTTPAnswer.self)
        channel.writeAndFlush(HTTP1Exchange.Outbound(request: request, timeout: timeout, answer: exchange), promise: nil)
        exchange.futureResult.whenComplete { result in
            switch result {
            case .success(let answer):
                promise.succeed(answer)
                if answer.headers.keepAlive(default: true), channel.isActive { self.release(channel) } else { channel.close(promise: nil) }
            case .failure(HTTPExchangeError.closedBeforeAnswer) where reused:
                self.dispatch(request, timeout: timeout, promise: promise, fresh: true)
            case .failure(let error):
                promise.fail(error)
                channel.close(promise: nil)
            }
        }
    }

    /// A connection whose exchange ended well serves the next waiter, or waits idle.
    private func release(_ channel: Channel) {
        if waitingHead < waiting.count {
            let (request, timeout, promise) = waiting[waitingHead]
            popWaiting()
            send(request, timeout: timeout, promise: promise, on: channel, reused: true)
        } else if closed {
            channel.close(promise: nil)
        } else {
            idle.append(channel)
        }
    }

    private func forget(_ channel: Channel) {
        open -= 1
        idle.removeAll { $0 === channel }
        serveWaiting()
    }

    /// A slot freed (a connection closed or never opened): the oldest waiter gets a new connection.
    private func serveWaiting() {
        guard waitingHead < waiting.count, open < limit else { return }
        let (request, timeout, promise) = waiting[waitingHead]
        popWaiting()
        connect(request, timeout: timeout, promise: promise)
    }

    private func popWaiting() {
        waitingHead += 1
        if waitingHead == waiting.count { waiting = []; waitingHead = 0 }
    }
}

private extension HTTPHeaders {
    /// HTTP/1.1 keeps a connection unless the answer says `Connection: close`.
    func keepAlive(default keep: Bool) -> Bool {
        guard let value = first(name: "Connection")?.lowercased() else { return keep }
        return value != "close"
    }
}

/// One request at a time on one connection: writes it, gathers the answer, fails it when the
/// connection ends first or its time runs out.
final class HTTP1Exchange: ChannelDuplexHandler, @unchecked Sendable {
    struct Outbound {
        var request: WireRequest
        var timeout: TimeAmount
        var answer: EventLoopPromise<HTTPAnswer>
    }
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Outbound
    typealias OutboundOut = HTTPClientRequestPart

    private var answer: EventLoopPromise<HTTPAnswer>?
    private var deadline: Scheduled<Void>?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let outbound = unwrapOutboundIn(data)
        answer = outbound.answer
        head = nil
        body = nil
        let timeout = outbound.timeout
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            self?.fail(HTTPExchangeError.timedOut(timeout))
            channel.close(promise: nil)
        }
        context.write(wrapOutboundOut(.head(outbound.request.head)), promise: nil)
        if outbound.request.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(outbound.request.body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let received):
            head = received
        case .body(var part):
            if body == nil { body = part } else { body!.writeBuffer(&part) }
        case .end:
            guard let head, let answer else { return }
            deadline?.cancel()
            self.answer = nil
            var headers = head.headers
            if !head.isKeepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
            answer.succeed(HTTPAnswer(status: Int(head.status.code), headers: headers, body: body ?? ByteBuffer()))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(head == nil ? HTTPExchangeError.closedBeforeAnswer : HTTPExchangeError.closedMidAnswer)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset before any answer is the same stale keep-alive connection as a clean close.
        fail(head == nil ? HTTPExchangeError.closedBeforeAnswer : error)
        context.close(promise: nil)
    }

    private func fail(_ error: Error) {
        deadline?.cancel()
        answer?.fail(error)
        answer = nil
    }
}
