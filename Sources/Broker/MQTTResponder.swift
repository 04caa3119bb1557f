import EdgeInsightCore
import Foundation

/// The cloud's side of request and answer over a broker: a consumer in the shared subscription of
/// each filter (`MQTTTopics.consumer`), which answers every request on its response topic with its
/// correlation data. Its session is persistent, so a consumer that restarts gets what arrived while
/// it was away. Each answer carries the consumer's own times as user properties: when the request
/// arrived (`received_unix_ns`, wall clock: comparable across hosts to the clocks' offset) and how
/// long the consumer held it (`held_ns`).
public final class MQTTResponder: @unchecked Sendable {  // immutable after init; `client` is thread-safe
    /// Answers one request: the answer's payload and user properties.
    public typealias Handler = @Sendable (MQTTMessage) async -> (payload: [UInt8], user: [(name: String, value: String)])

    public static let receivedProperty = "received_unix_ns"
    /// The answer's status, as the HTTP endpoint would give it (200, 400, 503…).
    public static let statusProperty = "status"
    public static let heldProperty = "held_ns"

    private var client: MQTTClient!
    public let qos: Int

    /// Connects as consumer `id`, subscribes to `filters` and answers with `handler` from then on.
    public init(endpoint: MQTTEndpoint, id: String, filters: [String], qos: Int = 1, handler: @escaping Handler) throws(BrokerError) {
        self.qos = qos
        var handlers = MQTTClient.Handlers()
        let box = ClientBox()
        handlers.message = { message in
            let received = MonotonicClock.now(), receivedUnix = WallClock.nowNs()
            guard let topic = message.properties.responseTopic else { return }   // nobody to answer
            Task {
                var (payload, user) = await handler(message)
                user.append((Self.receivedProperty, String(receivedUnix)))
                user.append((Self.heldProperty, String(MonotonicClock.now() - received)))
                let properties = MQTTProperties(user: user, correlation: message.properties.correlation)
                // An answer to a QoS 1 frame is kept while the broker is away (it refuses publishes
                // then) and sent once it is back, for up to a minute; the requester counts the rest.
                let deadline = MonotonicClock.now() + 60_000_000_000
                while true {
                    do {
                        try payload.withUnsafeBytes { bytes in
                            _ = try box.client?.publish(topic, payload: bytes, qos: message.qos, properties: properties)
                        }
                        break
                    } catch {
                        guard case .unreachable? = error as? BrokerError, message.qos > 0, MonotonicClock.now() < deadline else { break }
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                }
            }
        }
        let client = try MQTTClient(id: id, endpoint: endpoint, persistent: true, handlers: handlers)
        box.client = client
        self.client = client
        try client.connect()
        for filter in filters { try client.subscribe(filter, qos: qos) }
    }

    /// Leaves (the broker keeps the session until it expires).
    public func close() { client.close() }

    /// The client, for the handler that runs before `init` has it.
    private final class ClientBox: @unchecked Sendable {  // written once in init before any message can arrive
        var client: MQTTClient?
    }
}

/// The wall clock in ns since 1970: a time two hosts can compare (to their clocks' offset).
public enum WallClock {
    public static func nowNs() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
