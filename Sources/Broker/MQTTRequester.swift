import EdgeInsightCore
import Foundation
import Synchronization

/// What became of the frames a camera sent through the broker: every frame is answered or lost
/// (with its reason); an answer that came after its frame was given up is late, one that came twice
/// a duplicate (QoS 1 delivers at least once) — none is silently missing.
public struct MQTTDelivery: Sendable, Codable, Equatable {
    public var answered = 0
    /// Frames given up, by reason.
    public var lost: [String: Int] = [:]
    public var late = 0
    public var duplicates = 0
    /// Times the connection to the broker went down during the trial.
    public var disconnections = 0

    public init() {}
    public var lostCount: Int { lost.values.reduce(0, +) }
}

/// The device's side of request and answer over a broker: each request is published, QoS 0 or 1,
/// to the camera's frame topic with its correlation data and the camera's reply topic as MQTT 5
/// properties, and waits for the consumer's answer on that topic. Many threads may wait at once
/// (`workload.inflight`), a request each.
public final class MQTTRequester: @unchecked Sendable {  // `state` is the one lock; `client` is thread-safe
    /// An answer and the times the device saw on its way (monotonic ns).
    public struct Answer: Sendable {
        public var payload: [UInt8]
        public var properties: MQTTProperties
        public var sentNs: UInt64
        /// The wall clock at the send, to place the consumer's wall-clock times on `sentNs`'s clock.
        public var sentUnixNs: UInt64
        /// When the broker's acknowledgement arrived (QoS 1); nil for QoS 0.
        public var acknowledgedNs: UInt64?
        public var answeredNs: UInt64
    }

    private final class Waiter: @unchecked Sendable {  // written under `state`'s lock, read after `done`
        let done = DispatchSemaphore(value: 0)
        var answer: MQTTMessage?
        var answeredNs: UInt64 = 0
        var mid: Int32?
    }

    private struct State {
        var next: UInt64 = 0
        var waiting: [UInt64: Waiter] = [:]
        var acknowledged: [Int32: UInt64] = [:]
        /// Recent correlation ids already answered or given up, to tell duplicates from late answers.
        var answered = Set<UInt64>()
        var givenUp = Set<UInt64>()
        var delivery = MQTTDelivery()
        var connected = false
    }

    public let frameTopic: String
    public let replyTopic: String
    public let qos: Int
    public let timeout: Duration
    /// The state the network thread's handlers share with the waiting threads.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }
    private let shared = Shared()
    private var client: MQTTClient!
    /// A number of this requester's own, in every correlation id, so an answer to an earlier
    /// requester of the same camera (still queued in a persistent session) is never taken for ours.
    private let nonce = UInt64.random(in: 0...UInt64.max)

    /// Connects as camera `camera` for `model` (a persistent session for QoS 1) and subscribes to its
    /// reply topic.
    public init(endpoint: MQTTEndpoint, model: String, camera: String, qos: Int, timeout: Duration) throws(BrokerError) {
        guard qos == 0 || qos == 1 else { throw .client("mqtt.qos must be 0 or 1, not \(qos)") }
        frameTopic = MQTTTopics.frames(model: model, camera: camera)
        replyTopic = MQTTTopics.replies(model: model, camera: camera)
        self.qos = qos
        self.timeout = timeout
        var handlers = MQTTClient.Handlers()
        let shared = self.shared
        handlers.published = { mid in
            let now = MonotonicClock.now()
            shared.state.withLock { $0.acknowledged[mid] = now }
        }
        handlers.connection = { up in
            shared.state.withLock { state in
                if state.connected && !up { state.delivery.disconnections += 1 }
                state.connected = up
            }
        }
        let nonce = self.nonce
        handlers.message = { message in
            guard let id = Self.correlationID(message.properties.correlation, nonce: nonce) else { return }
            let now = MonotonicClock.now()
            let waiter: Waiter? = shared.state.withLock { state in
                guard let waiter = state.waiting.removeValue(forKey: id) else {
                    if state.answered.contains(id) { state.delivery.duplicates += 1 } else if state.givenUp.contains(id) { state.delivery.late += 1 }
                    return nil
                }
                state.answered.insert(id)
                state.delivery.answered += 1
                waiter.answer = message
                waiter.answeredNs = now
                return waiter
            }
            waiter?.done.signal()
        }
        client = try MQTTClient(id: camera, endpoint: endpoint, persistent: qos > 0, handlers: handlers)
        try client.connect(timeout: min(timeout, .seconds(10)))
        try client.subscribe(replyTopic, qos: qos)
        if qos > 0 { acknowledgementRoundTripNs = try probeRoundTrip(camera: camera) }
    }

    /// The shortest of a few QoS 1 publishes' round trips to the broker's acknowledgement (tiny
    /// messages that nobody subscribes to): the link's round trip as the broker path sees it, from
    /// which a frame's arrival at the broker is placed (its acknowledgement less half of this).
    public private(set) var acknowledgementRoundTripNs: UInt64?

    private func probeRoundTrip(camera: String) throws(BrokerError) -> UInt64? {
        var best: UInt64?
        for _ in 0..<5 {
            let sent = MonotonicClock.now()
            let mid = try withUnsafeBytes(of: UInt8(0)) { bytes throws(BrokerError) in try client.publish("edgeinsight/probe/\(camera)", payload: bytes, qos: 1) }
            let deadline = sent + 2_000_000_000
            var acked: UInt64?
            while acked == nil, MonotonicClock.now() < deadline {
                acked = shared.state.withLock { $0.acknowledged.removeValue(forKey: mid) }
                if acked == nil { usleep(200) }
            }
            if let acked { best = min(best ?? .max, acked - sent) }
        }
        return best
    }

    /// How the frames fared so far.
    public var delivery: MQTTDelivery { shared.state.withLock { $0.delivery } }

    /// Publishes one request and waits for its answer; a frame that cannot be sent or gets no
    /// answer within `timeout` is counted lost and thrown, with the reason.
    public func request(_ payload: UnsafeRawBufferPointer, user: [(name: String, value: String)]) throws(BrokerError) -> Answer {
        let waiter = Waiter()
        let id = shared.state.withLock { state in
            state.next += 1
            state.waiting[state.next] = waiter
            return state.next
        }
        let properties = MQTTProperties(user: user, responseTopic: replyTopic, correlation: Self.correlation(id, nonce: nonce))
        let sentNs = MonotonicClock.now(), sentUnixNs = WallClock.nowNs()
        let deadline = sentNs + UInt64(timeout.nanoseconds)
        do {
            while true {
                do {
                    let mid = try client.publish(frameTopic, payload: payload, qos: qos, properties: properties)
                    shared.state.withLock { _ in waiter.mid = mid }
                    break
                } catch .unreachable where qos > 0 && MonotonicClock.now() < deadline {
                    // libmosquitto refuses to publish while disconnected: at QoS 1 the device keeps
                    // the frame and sends it once the broker is back, within the frame's time.
                    usleep(5_000)
                }
            }
        } catch {
            giveUp(id, reason: qos == 0 ? "not sent: no connection to the broker (QoS 0)" : "not sent: \(error)")
            throw error
        }
        let left = deadline > MonotonicClock.now() ? deadline - MonotonicClock.now() : 0
        guard waiter.done.wait(timeout: .now() + .nanoseconds(Int(left))) == .success else {
            // The answer may have come just now: only one of the two sides takes the waiter.
            let mine = shared.state.withLock { $0.waiting[id] != nil }
            if mine {
                let connected = shared.state.withLock { $0.connected }
                giveUp(id, reason: "no answer within \(DurationText.format(timeout))" + (connected ? "" : " (no connection to the broker)") + (qos == 0 ? " (QoS 0)" : ""))
                throw .unreachable("frame lost: no answer from the consumer within \(DurationText.format(timeout)) over \(client.endpoint) (QoS \(qos))")
            }
            waiter.done.wait()
            return finish(waiter, sentNs: sentNs, sentUnixNs: sentUnixNs)
        }
        return finish(waiter, sentNs: sentNs, sentUnixNs: sentUnixNs)
    }

    private func finish(_ waiter: Waiter, sentNs: UInt64, sentUnixNs: UInt64) -> Answer {
        let acknowledged = shared.state.withLock { state in waiter.mid.flatMap { state.acknowledged.removeValue(forKey: $0) } }
        return Answer(payload: waiter.answer!.payload, properties: waiter.answer!.properties, sentNs: sentNs, sentUnixNs: sentUnixNs,
                      acknowledgedNs: qos > 0 ? acknowledged : nil, answeredNs: waiter.answeredNs)
    }

    private func giveUp(_ id: UInt64, reason: String) {
        shared.state.withLock { state in
            if let mid = state.waiting.removeValue(forKey: id)?.mid { state.acknowledged[mid] = nil }
            state.givenUp.insert(id)
            state.delivery.lost[reason, default: 0] += 1
        }
    }

    /// Disconnects; the broker drops the session when it expires.
    public func close() { client.close() }

    static func correlation(_ id: UInt64, nonce: UInt64) -> [UInt8] {
        withUnsafeBytes(of: (nonce.littleEndian, id.littleEndian)) { Array($0) }
    }

    static func correlationID(_ data: [UInt8]?, nonce: UInt64) -> UInt64? {
        guard let data, data.count == 16 else { return nil }
        let (mine, id) = data.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        return UInt64(littleEndian: mine) == nonce ? UInt64(littleEndian: id) : nil
    }
}
