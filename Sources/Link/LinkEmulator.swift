import EdgeInsightCore
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Profiles

/// What a link has carried so far, per direction.
public struct DirectionCounters: Sendable, Codable, Equatable {
    /// Bytes the sender handed to the link.
    public var offeredBytes: Int64
    /// Bytes the link handed to the receiver.
    public var deliveredBytes: Int64
    /// Bytes waiting at the bottleneck (not yet sent on).
    public var queuedBytes: Int64
    /// Bytes on their way (offered, not yet delivered: queued plus in the delay line).
    public var inFlightBytes: Int64
    /// Delivered bits per second while the direction was busy (bytes on their way).
    public var achievedBitsPerSecond: Double
    /// Segments the loss model dropped and TCP would have retransmitted.
    public var retransmittedSegments: Int64
    /// Losses that waited for the retransmission timeout (no three segments came behind them).
    public var retransmissionTimeouts: Int64
}

/// A link's counters, readable while it runs (the testbed's bytes-per-frame come from here).
public struct LinkCounters: Sendable, Codable, Equatable {
    public var profile: String
    public var connectionsAccepted: Int
    public var connectionsOpen: Int
    public var connectionsFailed: Int
    public var uplink: DirectionCounters
    public var downlink: DirectionCounters
}

/// A TCP proxy that makes the path between its listener and its target behave like a link: every
/// connection's upstream bytes share one uplink bottleneck, downstream bytes one downlink.
public final class LinkEmulator: Sendable {
    public let profile: LinkProfile
    public let target: HostPort
    private let group: MultiThreadedEventLoopGroup
    private let listener = NIOLockedValueBox<Channel?>(nil)
    private let uplink: DirectionShaper
    private let downlink: DirectionShaper
    private let stats = ConnectionStats()
    /// The single event loop every connection of this link runs on: the shared bottleneck needs one
    /// place where its bytes are ordered, and a loop keeps that lock-free.
    private let eventLoop: EventLoop

    final class ConnectionStats: @unchecked Sendable {
        var accepted = 0, open = 0, failed = 0
        /// Every connection's uplink flow, for per-connection counts.
        var uplinkFlows: [Flow] = []
    }

    public init(profile: LinkProfile, target: HostPort, seed: UInt64 = 1) {
        self.profile = profile
        self.target = target
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        eventLoop = group.next()
        uplink = DirectionShaper(shape: profile.shape(.uplink), eventLoop: eventLoop, seed: seed)
        downlink = DirectionShaper(shape: profile.shape(.downlink), eventLoop: eventLoop, seed: seed &+ 0x5EED)
    }

    /// Starts listening; returns the bound port (useful with port 0).
    @discardableResult
    public func start(listen: HostPort) async throws(LinkError) -> Int {
        let (uplink, downlink, stats, target) = (self.uplink, self.downlink, self.stats, self.target)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16 * 1024, maximum: 256 * 1024))
            .childChannelInitializer { client in
                stats.accepted += 1
                stats.open += 1
                client.closeFuture.whenComplete { _ in stats.open -= 1 }
                return Self.connect(client: client, to: target, uplink: uplink, downlink: downlink, stats: stats)
            }
        do {
            let channel = try await bootstrap.bind(host: listen.host, port: listen.port).get()
            listener.withLockedValue { $0 = channel }
            return channel.localAddress?.port ?? listen.port
        } catch {
            throw .cannotListen("\(listen): \(error)")
        }
    }

    /// Opens the far side for a new client connection and joins the two through the shapers.
    /// The far side is dialled without holding up the client's initializer: reads are started on
    /// a registered channel only, and the client's registration waits for its initializer.
    private static func connect(client: Channel, to target: HostPort, uplink: DirectionShaper, downlink: DirectionShaper,
                                stats: ConnectionStats) -> EventLoopFuture<Void> {
        let clientSide = LinkSideHandler()
        let serverSide = LinkSideHandler()
        return client.pipeline.addHandler(clientSide).map {
            ClientBootstrap(group: client.eventLoop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.autoRead, value: false)
                .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16 * 1024, maximum: 256 * 1024))
                .channelInitializer { $0.pipeline.addHandler(serverSide) }
                .connect(host: target.host, port: target.port)
                .whenComplete { result in
                    switch result {
                    case .success(let server):
                        guard client.isActive else {
                            server.close(promise: nil)
                            return
                        }
                        let up = Flow(shaper: uplink, output: server) { clientSide.setPaused($0) }
                        stats.uplinkFlows.append(up)
                        let down = Flow(shaper: downlink, output: client) { serverSide.setPaused($0) }
                        clientSide.join(ingress: up, egress: down, peer: server)
                        serverSide.join(ingress: down, egress: up, peer: client)
                    case .failure:
                        stats.failed += 1
                        client.close(promise: nil)
                    }
                }
        }
    }

    /// A snapshot of the counters.
    public func counters() async -> LinkCounters {
        let (uplink, downlink, stats, name) = (self.uplink, self.downlink, self.stats, profile.name)
        return (try? await eventLoop.submit {
            func direction(_ shaper: DirectionShaper) -> DirectionCounters {
                let span = Double(shaper.busyNs)
                return DirectionCounters(
                    offeredBytes: shaper.offeredBytes, deliveredBytes: shaper.deliveredBytes,
                    queuedBytes: shaper.waitingBytes, inFlightBytes: shaper.offeredBytes - shaper.deliveredBytes,
                    achievedBitsPerSecond: span > 0 ? Double(shaper.deliveredBytes) * 8e9 / span : 0,
                    retransmittedSegments: shaper.retransmittedSegments, retransmissionTimeouts: shaper.retransmissionTimeouts)
            }
            return LinkCounters(profile: name, connectionsAccepted: stats.accepted, connectionsOpen: stats.open,
                                connectionsFailed: stats.failed, uplink: direction(uplink), downlink: direction(downlink))
        }.get()) ?? LinkCounters(profile: name, connectionsAccepted: 0, connectionsOpen: 0, connectionsFailed: 0,
                                 uplink: .init(offeredBytes: 0, deliveredBytes: 0, queuedBytes: 0, inFlightBytes: 0, achievedBitsPerSecond: 0, retransmittedSegments: 0, retransmissionTimeouts: 0),
                                 downlink: .init(offeredBytes: 0, deliveredBytes: 0, queuedBytes: 0, inFlightBytes: 0, achievedBitsPerSecond: 0, retransmittedSegments: 0, retransmissionTimeouts: 0))
    }

    /// Bytes each connection has delivered upstream so far, in the order connections were made.
    /// Each direction's planned delays after the bottleneck, chunk by chunk (see DirectionShaper).
    func plannedDelaysNs() async -> (uplink: [Int64], downlink: [Int64]) {
        let (uplink, downlink) = (self.uplink, self.downlink)
        return (try? await eventLoop.submit { (uplink.plannedDelaysNs, downlink.plannedDelaysNs) }.get()) ?? ([], [])
    }

    func uplinkDeliveries() async -> [Int64] {
        let stats = self.stats
        return (try? await eventLoop.submit { stats.uplinkFlows.map(\.deliveredBytes) }.get()) ?? []
    }

    /// Stops listening and closes every connection.
    public func stop() async {
        let channel = listener.withLockedValue { $0 }
        try? await channel?.close()
        try? await group.shutdownGracefully()
    }
}

/// One socket of a proxied connection: its reads feed `ingress`; `egress` writes to it.
final class LinkSideHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    private var ingress: Flow?
    private var egress: Flow?
    private var peer: Channel?
    private var paused = true

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Wires the handler to its flows once both sockets are up, and starts reading.
    func join(ingress: Flow, egress: Flow, peer: Channel) {
        self.ingress = ingress
        self.egress = egress
        self.peer = peer
        setPaused(false)
    }

    /// Reads are asked for one batch at a time (autoRead is off), so pausing is not asking again.
    func setPaused(_ pause: Bool) {
        paused = pause
        if !pause, ingress != nil { context?.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        ingress?.shaper.offer(unwrapInboundIn(data), from: ingress!)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !paused { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        egress?.updateBackpressure()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let ingress { ingress.closeSource() } else { peer?.close(promise: nil) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
