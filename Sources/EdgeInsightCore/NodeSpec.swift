import Foundation

/// The kinds of node the runner starts (DESIGN.md, "Nodes: one contract").
public enum NodeKind: String, Sendable, Codable, CaseIterable {
    case agent, serve, link, broker
}

/// The one document that starts a node: `edgeinsight NODE --config FILE|-` reads it whole. The
/// runner encodes it, the node decodes it; `version` lets an older node refuse a newer document
/// in one line instead of misreading it (docs/nodes.md).
public struct NodeSpec<Body: Codable & Sendable>: Codable, Sendable {
    /// The version this build writes and reads.
    public static var currentVersion: Int { NodeContract.version }

    public var version: Int
    public var node: NodeKind
    /// The node's own settings (`AgentSpec`, `ServeSpec`, `LinkSpec`).
    public var spec: Body
    /// Standard input stays open after the document (which then ends with a newline) and its end
    /// stops the node as SIGTERM does: the runner's way to stop a node on another host, and to take
    /// every node down with it when it dies, even by SIGKILL — its end of the pipe (or the ssh
    /// session carrying it) closes with it.
    public var session: Bool?

    public init(node: NodeKind, spec: Body, session: Bool? = nil) {
        self.version = Self.currentVersion
        self.node = node
        self.spec = spec
        self.session = session
    }

    /// The document as one line of JSON (keys sorted: the same spec, the same bytes).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads a document meant for `node` from `source` (a file, or `-` for standard input). A
    /// session document (`session: true`) starts the watch on standard input that stops the node.
    public static func read(_ source: String, as node: NodeKind) throws(NodeSpecError) -> NodeSpec {
        let data = source == "-" ? StandardInput.readDocument() : FileManager.default.contents(atPath: source)
        guard let data else { throw .unreadable(source) }
        let spec = try decode(data, as: node, source: source)
        if spec.session == true, source == "-" { StandardInput.stopWhenClosed() }
        return spec
    }

    /// Decodes a document, checking its version and node before its body.
    public static func decode(_ data: Data, as node: NodeKind, source: String = "-") throws(NodeSpecError) -> NodeSpec {
        guard (try? JSONSerialization.jsonObject(with: data)) != nil else { throw .malformed(source, "not valid JSON") }
        let envelope: NodeEnvelope
        do { envelope = try JSONDecoder().decode(NodeEnvelope.self, from: data) } catch {
            throw .malformed(source, NodeSpecError.reason(error))
        }
        guard let version = envelope.version else { throw .malformed(source, "no 'version' field") }
        guard version == currentVersion else { throw .unsupportedVersion(source, version, supported: currentVersion) }
        guard envelope.node == node.rawValue else { throw .wrongNode(source, expected: node, got: envelope.node ?? "none") }
        do { return try JSONDecoder().decode(NodeSpec.self, from: data) } catch {
            throw .malformed(source, NodeSpecError.reason(error))
        }
    }
}

/// The node contract itself, apart from any node's document.
public enum NodeContract {
    /// The contract's version: every document carries it, every host must read it.
    public static let version = 1
}

/// What every node document has, read before its body.
struct NodeEnvelope: Decodable {
    var version: Int?
    var node: String?
}

/// Why a node document cannot start a node; one line each.
public enum NodeSpecError: Error, CustomStringConvertible, Equatable {
    case unreadable(String)
    case malformed(String, String)
    case unsupportedVersion(String, Int, supported: Int)
    case wrongNode(String, expected: NodeKind, got: String)

    public var description: String {
        switch self {
        case .unreadable(let source): "cannot read the node document \(source)"
        case .malformed(let source, let reason): "bad node document \(source): \(reason)"
        case .unsupportedVersion(let source, let version, let supported):
            "node document \(source) has version \(version); this edgeinsight reads version \(supported) (use the same edgeinsight build on every host)"
        case .wrongNode(let source, let expected, let got): "node document \(source) is for node '\(got)', not '\(expected.rawValue)'"
        }
    }

    /// The one line of a decoding error that says what is wrong, and where.
    public static func reason(_ error: Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return keys.isEmpty ? "" : "\(keys): "
        }
        switch error {
        case DecodingError.dataCorrupted(let context):
            // JSONSerialization's own message ("The given data was not valid JSON.") says where in its underlying error.
            guard let underlying = context.underlyingError else { return path(context) + context.debugDescription }
            let detail = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return path(context) + "not valid JSON" + (detail.map { " (\($0))" } ?? "")
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context): return path(context) + context.debugDescription
        case DecodingError.keyNotFound(let key, let context): return path(context) + "missing '\(key.stringValue)'"
        default: return "\(error)"
        }
    }
}

/// The machine-readable lines a node prints on stdout: exactly one `ready` line once it serves (or
/// runs), then exactly one final line, `report` or `error`. Everything for people goes to stderr.
public enum NodeLine<Report: Codable & Sendable>: Codable, Sendable {
    case ready(NodeReady)
    case report(Report)
    case error(String)

    private enum Key: String, CodingKey { case ready, report, error }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        if let ready = try container.decodeIfPresent(NodeReady.self, forKey: .ready) { self = .ready(ready) }
        else if let report = try container.decodeIfPresent(Report.self, forKey: .report) { self = .report(report) }
        else if let error = try container.decodeIfPresent(String.self, forKey: .error) { self = .error(error) }
        else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a node line holds ready, report or error")) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        switch self {
        case .ready(let ready): try container.encode(ready, forKey: .ready)
        case .report(let report): try container.encode(report, forKey: .report)
        case .error(let message): try container.encode(message, forKey: .error)
        }
    }

    /// The line, newline-terminated, as the node writes it.
    public var text: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain values cannot fail; a line is still printed if it somehow did.
        let data = (try? encoder.encode(self)) ?? Data(#"{"error":"the node could not encode its line"}"#.utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Writes the line to stdout at once (unbuffered: the reader is waiting for it).
    public func write() { FileHandle.standardOutput.write(Data(text.utf8)) }
}

/// A node's ready line: what it is, where it listens (nil port for a node that listens nowhere,
/// the agent) and its pid on its host.
public struct NodeReady: Sendable, Codable, Equatable {
    public var node: NodeKind
    public var address: String?
    public var port: Int?
    public var pid: Int32

    public init(node: NodeKind, address: String? = nil, port: Int? = nil, pid: Int32 = getpid()) {
        self.node = node
        self.address = address
        self.port = port
        self.pid = pid
    }
}

/// The final report of a node whose report is only that it stopped (`serve`).
public struct NodeStopped: Sendable, Codable, Equatable {
    public var stopped: Bool
    public init() { stopped = true }
}

/// Standard input as a node reads it: one document, then (in a session) the channel whose end
/// stops the node.
public enum StandardInput {
    /// The bytes up to the first newline after which they parse as JSON, or to the end of input: a
    /// session's document is one line with the input left open, a person's may span lines.
    public static func readDocument() -> Data {
        var data = Data()
        var byte: UInt8 = 0
        while read(STDIN_FILENO, &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n"), (try? JSONSerialization.jsonObject(with: data)) != nil { break }
            data.append(byte)
        }
        return data
    }

    /// Sends this process SIGTERM when standard input ends (and exits if that did not stop it
    /// within 10 s), so the node stops as it would when told to: servers drain, links report.
    public static func stopWhenClosed() {
        let watcher = Thread {
            var buffer = [UInt8](repeating: 0, count: 256)
            while true {
                let count = read(STDIN_FILENO, &buffer, buffer.count)
                if count == 0 || (count < 0 && errno != EINTR) { break }
            }
            kill(getpid(), SIGTERM)
            sleep(10)
            exit(1)
        }
        watcher.start()
    }
}
