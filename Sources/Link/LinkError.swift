/// Errors of the link emulator; one line each, saying what to fix.
public enum LinkError: Error, CustomStringConvertible, Equatable {
    case badAddress(String)
    case cannotListen(String)
    case kernelShapingUnavailable(String)
    case probeFailed(String)

    public var description: String {
        switch self {
        case .badAddress(let text): "bad address '\(text)': expected HOST:PORT, e.g. 127.0.0.1:9000"
        case .cannotListen(let message): "cannot listen: \(message)"
        case .kernelShapingUnavailable(let reason): "kernel shaping unavailable: \(reason)"
        case .probeFailed(let message): "link probe failed: \(message)"
        }
    }
}

/// A `HOST:PORT` pair.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:9000`, `localhost:80`, `[::1]:9000`.
    public init(parsing text: String) throws(LinkError) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { throw .badAddress(text) }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw .badAddress(text) }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
