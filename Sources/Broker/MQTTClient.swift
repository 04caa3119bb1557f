import CMosquitto
import EdgeInsightCore
import Foundation
import Synchronization

/// One message as it arrived: its topic, a copy of its payload and the MQTT 5 properties EdgeInsight
/// uses.
public struct MQTTMessage: Sendable {
    public var topic: String
    public var payload: [UInt8]
    public var properties: MQTTProperties
    public var qos: Int
}

/// The MQTT 5 properties of a request or an answer: user properties (name, value), the response
/// topic and the correlation data that ties an answer to its request.
public struct MQTTProperties: Sendable, Equatable {
    public var user: [(name: String, value: String)] = []
    public var responseTopic: String?
    public var correlation: [UInt8]?

    public init(user: [(name: String, value: String)] = [], responseTopic: String? = nil, correlation: [UInt8]? = nil) {
        self.user = user
        self.responseTopic = responseTopic
        self.correlation = correlation
    }

    /// The value of user property `name`, the first if repeated.
    public subscript(name: String) -> String? { user.first { $0.name == name }?.value }

    public static func == (a: MQTTProperties, b: MQTTProperties) -> Bool {
        a.user.map(\.name) == b.user.map(\.name) && a.user.map(\.value) == b.user.map(\.value) && a.responseTopic == b.responseTopic && a.correlation == b.correlation
    }

    /// The list in libmosquitto's form (freed by the caller with `mosquitto_property_free_all`).
    func list() throws(BrokerError) -> OpaquePointer? {
        var list: OpaquePointer?
        func check(_ rc: Int32) throws(BrokerError) {
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                mosquitto_property_free_all(&list)
                throw .client("cannot build MQTT properties: \(String(cString: mosquitto_strerror(rc)))")
            }
        }
        for (name, value) in user { try check(mosquitto_property_add_string_pair(&list, Int32(MQTT_PROP_USER_PROPERTY.rawValue), name, value)) }
        if let responseTopic { try check(mosquitto_property_add_string(&list, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), responseTopic)) }
        if let correlation { try check(correlation.withUnsafeBytes { mosquitto_property_add_binary(&list, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), $0.baseAddress, UInt16($0.count)) }) }
        return list
    }

    /// Reads the properties EdgeInsight uses out of libmosquitto's list.
    init(reading list: OpaquePointer?) {
        guard let list else { return }
        var name: UnsafeMutablePointer<CChar>?, value: UnsafeMutablePointer<CChar>?
        var next = mosquitto_property_read_string_pair(list, Int32(MQTT_PROP_USER_PROPERTY.rawValue), &name, &value, false)
        while next != nil {
            if let name, let value { user.append((String(cString: name), String(cString: value))) }
            free(name); free(value)
            name = nil; value = nil
            next = mosquitto_property_read_string_pair(next, Int32(MQTT_PROP_USER_PROPERTY.rawValue), &name, &value, true)
        }
        var topic: UnsafeMutablePointer<CChar>?
        if mosquitto_property_read_string(list, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), &topic, false) != nil, let topic {
            responseTopic = String(cString: topic)
            free(topic)
        }
        var data: UnsafeMutableRawPointer?, length: UInt16 = 0
        if mosquitto_property_read_binary(list, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), &data, &length, false) != nil, let data {
            correlation = Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
            free(data)
        }
    }
}

/// An MQTT 5 client over libmosquitto, with the library's own network thread: it connects (and
/// reconnects after a broker restart, keeping its session when `persistent`), re-subscribes on
/// every connection, publishes from any thread, and hands each arriving message and each
/// acknowledgement to the handlers it was made with — on the network thread, so they must be quick.
public final class MQTTClient: @unchecked Sendable {  // the handle is libmosquitto's (thread-safe in threaded mode); `state` is the one lock
    /// What the client is told as it happens; each runs on libmosquitto's network thread.
    public struct Handlers: Sendable {
        public var message: @Sendable (MQTTMessage) -> Void = { _ in }
        /// A QoS 1 publish was acknowledged by the broker (its message id), or a QoS 0 one written.
        public var published: @Sendable (Int32) -> Void = { _ in }
        /// The connection came up (true) or went down (false).
        public var connection: @Sendable (Bool) -> Void = { _ in }
        public init() {}
    }

    private struct State {
        var connected = false
        var subscriptions: [(filter: String, qos: Int32)] = []
        var lastError: String?
    }

    let handle: OpaquePointer
    public let id: String
    public let endpoint: MQTTEndpoint
    let handlers: Handlers
    private let state = Mutex(State())
    private var started = false
    private static let library: Void = { _ = mosquitto_lib_init() }()

    /// A client with the broker's session kept across disconnections (`persistent`: clean start off
    /// and a session expiry of `sessionExpiry`) or a fresh one each time.
    public init(id: String, endpoint: MQTTEndpoint, persistent: Bool, handlers: Handlers, sessionExpiry: Duration = .seconds(300)) throws(BrokerError) {
        _ = Self.library
        self.id = id
        self.endpoint = endpoint
        self.handlers = handlers
        self.sessionExpiry = persistent ? UInt32(sessionExpiry.components.seconds) : 0
        guard let handle = mosquitto_new(id, !persistent, nil) else { throw .client("libmosquitto cannot make a client (out of memory?)") }
        self.handle = handle
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        _ = mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5)
        _ = mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1)
        // Up to 100 QoS 1 messages unacknowledged at a time, each way (libmosquitto's default is 20).
        _ = mosquitto_int_option(handle, MOSQ_OPT_SEND_MAXIMUM, 100)
        _ = mosquitto_int_option(handle, MOSQ_OPT_RECEIVE_MAXIMUM, 100)
        // After a broker restart: try again within 50 ms, then back off to at most 1 s.
        _ = mosquitto_reconnect_delay_set(handle, 0, 1, true)
        if let username = endpoint.username { _ = mosquitto_username_pw_set(handle, username, endpoint.password) }
        if endpoint.tls {
            let rc = endpoint.caFile.map { mosquitto_tls_set(handle, $0, nil, nil, nil, nil) } ?? mosquitto_int_option(handle, MOSQ_OPT_TLS_USE_OS_CERTS, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue { throw .client("TLS to \(endpoint): \(String(cString: mosquitto_strerror(rc)))") }
        }
        mosquitto_connect_v5_callback_set(handle) { _, object, rc, _, _ in
            guard let client = MQTTClient.from(object) else { return }
            client.connected(rc)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, object, _, _ in
            guard let client = MQTTClient.from(object) else { return }
            client.state.withLock { $0.connected = false }
            client.handlers.connection(false)
        }
        mosquitto_publish_v5_callback_set(handle) { _, object, mid, _, _ in
            MQTTClient.from(object)?.handlers.published(mid)
        }
        mosquitto_message_v5_callback_set(handle) { _, object, message, properties in
            guard let client = MQTTClient.from(object), let message = message?.pointee else { return }
            let payload = message.payloadlen > 0 ? Array(UnsafeRawBufferPointer(start: message.payload, count: Int(message.payloadlen))) : []
            client.handlers.message(MQTTMessage(topic: String(cString: message.topic), payload: payload,
                                                properties: MQTTProperties(reading: properties), qos: Int(message.qos)))
        }
    }

    private let sessionExpiry: UInt32

    private static func from(_ object: UnsafeMutableRawPointer?) -> MQTTClient? {
        object.map { Unmanaged<MQTTClient>.fromOpaque($0).takeUnretainedValue() }
    }

    private func connected(_ rc: Int32) {
        guard rc == 0 else {
            state.withLock { $0.lastError = "the broker refused the connection: \(String(cString: mosquitto_reason_string(rc)))" }
            return
        }
        // A broker that lost the session (restarted without persistence) must be told again.
        let subscriptions = state.withLock { state in
            state.connected = true
            state.lastError = nil
            return state.subscriptions
        }
        for (filter, qos) in subscriptions { _ = mosquitto_subscribe_v5(handle, nil, filter, qos, 0, nil) }
        handlers.connection(true)
    }

    /// Whether the client is connected to the broker now.
    public var isConnected: Bool { state.withLock { $0.connected } }

    /// Connects and starts the network thread; returns once the broker has accepted the connection
    /// (or throws, saying why, after `timeout`).
    public func connect(timeout: Duration = .seconds(10)) throws(BrokerError) {
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        if sessionExpiry > 0 { _ = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), sessionExpiry) }
        let deadline = MonotonicClock.now() + UInt64(timeout.nanoseconds)
        var rc = mosquitto_connect_bind_v5(handle, endpoint.host, Int32(endpoint.port), 10, nil, properties)
        // A broker starting up refuses connections for a moment: try again until the deadline.
        while rc != MOSQ_ERR_SUCCESS.rawValue, MonotonicClock.now() < deadline {
            usleep(50_000)
            rc = mosquitto_connect_bind_v5(handle, endpoint.host, Int32(endpoint.port), 10, nil, properties)
        }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            throw .unreachable("cannot reach the broker at \(endpoint): \(Self.reason(rc))")
        }
        let loop = mosquitto_loop_start(handle)
        guard loop == MOSQ_ERR_SUCCESS.rawValue else { throw .client("libmosquitto cannot start its network thread: \(Self.reason(loop))") }
        started = true
        while !isConnected, MonotonicClock.now() < deadline { usleep(2_000) }
        guard isConnected else {
            let why = state.withLock { $0.lastError } ?? "no answer within \(DurationText.format(timeout))"
            throw .unreachable("the broker at \(endpoint) did not accept the connection: \(why)")
        }
    }

    /// Subscribes now and after every reconnection.
    public func subscribe(_ filter: String, qos: Int) throws(BrokerError) {
        state.withLock { $0.subscriptions.append((filter, Int32(qos))) }
        let rc = mosquitto_subscribe_v5(handle, nil, filter, Int32(qos), 0, nil)
        guard rc == MOSQ_ERR_SUCCESS.rawValue || rc == MOSQ_ERR_NO_CONN.rawValue else { throw .client("cannot subscribe to \(filter): \(Self.reason(rc))") }
    }

    /// Publishes `payload`; returns the message id its acknowledgement will carry. QoS 1 messages
    /// published while the broker is away are kept and sent once it is back; QoS 0 ones fail.
    @discardableResult
    public func publish(_ topic: String, payload: UnsafeRawBufferPointer, qos: Int, properties: MQTTProperties = MQTTProperties()) throws(BrokerError) -> Int32 {
        var list = try properties.list()
        defer { mosquitto_property_free_all(&list) }
        var mid: Int32 = 0
        let rc = mosquitto_publish_v5(handle, &mid, topic, Int32(payload.count), payload.baseAddress, Int32(qos), false, list)
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            if rc == MOSQ_ERR_NO_CONN.rawValue { throw .unreachable("not connected to the broker at \(endpoint)") }
            throw .client("cannot publish to \(topic): \(Self.reason(rc))")
        }
        return mid
    }

    /// Disconnects (the broker keeps a persistent session) and stops the network thread.
    public func close() {
        guard started else { return }
        started = false
        _ = mosquitto_disconnect_v5(handle, 0, nil)
        _ = mosquitto_loop_stop(handle, false)
    }

    deinit {
        if started { _ = mosquitto_loop_stop(handle, true) }
        mosquitto_destroy(handle)
    }

    /// libmosquitto's words for an error code (a system error's own words where it is one).
    static func reason(_ rc: Int32) -> String {
        rc == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(rc))
    }
}
