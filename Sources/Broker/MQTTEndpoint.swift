import Foundation

/// Where a broker listens and how to log in to it: `mqtt://host:port` (plain TCP, default port
/// 1883) or `mqtts://host:port` (TLS, default 8883), with an optional user and password.
public struct MQTTEndpoint: Sendable, Codable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var tls: Bool
    public var username: String?
    /// The password itself (read from `mqtt.password_file` by the runner; never printed).
    public var password: String?
    /// A CA file for TLS; nil trusts the system's certificates.
    public var caFile: String?

    public init(host: String, port: Int, tls: Bool = false, username: String? = nil, password: String? = nil, caFile: String? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self.password = password
        self.caFile = caFile
    }

    /// Parses `mqtt://[user@]host[:port]` or `mqtts://…`.
    public init(parsing text: String) throws(BrokerError) {
        let scheme: Bool
        var rest: Substring
        if text.hasPrefix("mqtt://") { scheme = false; rest = text.dropFirst(7) }
        else if text.hasPrefix("mqtts://") { scheme = true; rest = text.dropFirst(8) }
        else { throw .badEndpoint("'\(text)' is not a broker address: use mqtt://host:1883 or mqtts://host:8883") }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var user: String?
        if let at = rest.lastIndex(of: "@") {
            user = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }
        var host = String(rest), port = scheme ? 8883 : 1883
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65535).contains(number) else {
                throw .badEndpoint("'\(text)': the port must be a number from 1 to 65535")
            }
            port = number
            host = String(rest[..<colon])
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains("/") else { throw .badEndpoint("'\(text)' names no host") }
        self.init(host: host, port: port, tls: scheme, username: user?.isEmpty == false ? user : nil)
    }

    /// `mqtt://user@host:port` (never the password).
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(tls ? "mqtts" : "mqtt")://\(username.map { $0 + "@" } ?? "")\(shownHost):\(port)"
    }
}

/// The topics a model's frames and answers travel on. Each camera publishes to a topic of its own;
/// the consumers share one subscription to all cameras' topics (`$share/…`), so the broker hands
/// each frame to one consumer and several cloud instances split the load; each answer goes to the
/// topic the frame named as its MQTT 5 response topic.
public enum MQTTTopics {
    /// The share group every consumer of EdgeInsight joins.
    public static let shareGroup = "edgeinsight"

    /// Where camera `camera` publishes the frames for `model`.
    public static func frames(model: String, camera: String) -> String { "edgeinsight/\(model)/frames/\(camera)" }
    /// The shared subscription that takes the frames of every camera for `model`.
    public static func consumer(model: String) -> String { "$share/\(shareGroup)/edgeinsight/\(model)/frames/+" }
    /// Where camera `camera` receives its answers.
    public static func replies(model: String, camera: String) -> String { "edgeinsight/\(model)/replies/\(camera)" }
    /// The model a frame topic is for.
    public static func model(ofFrameTopic topic: String) -> String? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "edgeinsight", parts[2] == "frames" else { return nil }
        return String(parts[1])
    }
}

/// Errors of the broker path; one line each.
public enum BrokerError: Error, CustomStringConvertible, Equatable {
    case badEndpoint(String)
    /// The client library refused an action (its own words).
    case client(String)
    case unreachable(String)
    /// The broker process could not start or stopped.
    case broker(String)

    public var description: String {
        switch self {
        case .badEndpoint(let message), .client(let message), .unreachable(let message), .broker(let message): message
        }
    }
}
