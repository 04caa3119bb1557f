import Foundation
import InferenceProtocol

/// Why requests failed: a count per HTTP status (0: no answer — the connection failed or timed
/// out) and the first message the server gave with each, so a user sees "HTTP 400: binary tensors
/// not supported", not only a count.
public struct Failures: Sendable, Codable, Equatable {
    public private(set) var counts: [Int: Int] = [:]
    public private(set) var messages: [Int: String] = [:]

    public init() {}

    public var total: Int { counts.values.reduce(0, +) }
    public var isEmpty: Bool { counts.isEmpty }
    public subscript(status: Int) -> Int { counts[status] ?? 0 }

    mutating func add(status: Int, message: String?) {
        counts[status, default: 0] += 1
        if messages[status] == nil, let message, !message.isEmpty { messages[status] = message }
    }

    public mutating func merge(_ other: Failures) {
        counts.merge(other.counts, uniquingKeysWith: +)
        messages.merge(other.messages) { mine, _ in mine }
    }

    /// Commonest first: `4928× HTTP 400 "binary tensor data is not supported", 3× no answer`.
    public var text: String {
        counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { status, count in
            var part = "\(count)× " + (status == 0 ? "no answer" : "HTTP \(status)")
            if let message = messages[status] { part += " \"\(message)\"" }
            return part
        }.joined(separator: ", ")
    }

    /// The server's words from an error body: OIP's `{"error": "…"}` when it is that, else the
    /// body's first line — a Python traceback's last (its exception: MLServer answers 500 with
    /// one); at most 160 characters, so one line stays one line.
    static func message(fromBody body: [UInt8]) -> String? {
        var text = String(decoding: body.prefix(16_384), as: UTF8.self)
        if let value = try? JSONValue.parse(body), let error = value["error"]?.string ?? value["detail"]?.string { text = error }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = lines.first else { return nil }
        let line = first.hasPrefix("Traceback (most recent call last)") ? lines.last! : first
        return line.count > 160 ? String(line.prefix(157)) + "…" : line
    }
}
