import EdgeInsightCore
import Foundation
import Synchronization

/// How fast our broker path moves frames: `count` payloads published by a requester (`inflight`
/// waiting at a time) through a broker to a consumer that answers each with an empty payload — the
/// path a trial's frames take, without inference — or, one way, published back to back by our
/// client to a subscriber of ours that counts them (what mosquitto_pub and mosquitto_sub do).
public enum MQTTThroughput {
    public struct Result: Sendable, Codable {
        public var frames: Int
        public var seconds: Double
        public var framesPerSecond: Double
        /// Publish to answer, per frame.
        public var p50Ms: Double
        public var p99Ms: Double
        public var lost: Int
    }

    /// One way: `count` publishes as fast as the client takes them (libmosquitto keeps up to 100
    /// unacknowledged at QoS 1 and queues the rest), timed from the first to the subscriber's last.
    public static func oneWay(_ endpoint: MQTTEndpoint, payload: [UInt8], count: Int, qos: Int) throws(BrokerError) -> Result {
        let topic = "edgeinsight/throughput/\(UInt32.random(in: 0...UInt32.max))"
        let received = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
        var handlers = MQTTClient.Handlers()
        handlers.message = { _ in if received.add(1, ordering: .relaxed).newValue == count { done.signal() } }
        let subscriber = try MQTTClient(id: "\(topic)-sub", endpoint: endpoint, persistent: false, handlers: handlers)
        try subscriber.connect()
        defer { subscriber.close() }
        try subscriber.subscribe(topic, qos: qos)
        let publisher = try MQTTClient(id: "\(topic)-pub", endpoint: endpoint, persistent: false, handlers: MQTTClient.Handlers())
        try publisher.connect()
        defer { publisher.close() }
        usleep(200_000)   // the subscription is in place before the first publish
        let start = MonotonicClock.now()
        do {
            try payload.withUnsafeBytes { bytes in
                for _ in 0..<count { try publisher.publish(topic, payload: bytes, qos: qos) }
            }
        } catch {
            throw error as? BrokerError ?? .client("\(error)")
        }
        let arrived = done.wait(timeout: .now() + .seconds(120)) == .success
        let seconds = Double(MonotonicClock.now() - start) / 1e9
        let frames = received.load(ordering: .relaxed)
        return Result(frames: frames, seconds: seconds, framesPerSecond: Double(frames) / seconds, p50Ms: 0, p99Ms: 0, lost: arrived ? 0 : count - frames)
    }

    public static func measure(_ endpoint: MQTTEndpoint, payload: [UInt8], count: Int, inflight: Int, qos: Int) throws(BrokerError) -> Result {
        let model = "throughput-\(UInt32.random(in: 0...UInt32.max))"
        let consumer = try MQTTResponder(endpoint: endpoint, id: "\(model)-consumer", filters: [MQTTTopics.consumer(model: model)], qos: qos) { _ in ([], []) }
        defer { consumer.close() }
        let requester = try MQTTRequester(endpoint: endpoint, model: model, camera: "\(model)-camera", qos: qos, timeout: .seconds(30))
        defer { requester.close() }
        let latencies = Mutex<[UInt64]>([])
        let next = Atomic<Int>(0)
        let start = MonotonicClock.now()
        DispatchQueue.concurrentPerform(iterations: max(1, inflight)) { _ in
            var mine: [UInt64] = []
            while next.add(1, ordering: .relaxed).oldValue < count {
                guard let answer = try? payload.withUnsafeBytes({ try requester.request($0, user: []) }) else { continue }
                mine.append(answer.answeredNs - answer.sentNs)
            }
            latencies.withLock { $0 += mine }
        }
        let seconds = Double(MonotonicClock.now() - start) / 1e9
        let sorted = latencies.withLock { $0 }.sorted()
        func quantile(_ q: Double) -> Double { sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]) / 1e6 }
        return Result(frames: sorted.count, seconds: seconds, framesPerSecond: Double(sorted.count) / seconds,
                      p50Ms: quantile(0.5), p99Ms: quantile(0.99), lost: requester.delivery.lostCount)
    }
}
