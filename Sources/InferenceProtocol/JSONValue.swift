import Foundation

/// Any JSON value, parsed strictly: `true` is never the number 1, and integers stay exact.
public enum JSONValue: Sendable, Equatable {
    case null, bool(Bool), int(Int64), double(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    /// Parses a JSON document.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(ProtocolError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer in Result { () throws(ProtocolError) in try JSONParser.parse(buffer) } }.get()
    }

    /// Parses a JSON document.
    public static func parse(_ bytes: [UInt8]) throws(ProtocolError) -> JSONValue {
        try parse(bytes[...])
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { fields[key] } else { nil }
    }

    public var string: String? { if case .string(let v) = self { v } else { nil } }
    public var array: [JSONValue]? { if case .array(let v) = self { v } else { nil } }
    public var object: [String: JSONValue]? { if case .object(let v) = self { v } else { nil } }
    public var int: Int? {
        switch self {
        case .int(let v): Int(exactly: v)
        case .double(let v): Int(exactly: v)
        default: nil
        }
    }

    /// Writes a JSON string literal with the escapes JSON requires.
    public static func writeString(_ text: String, to json: inout String) {
        json += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case _ where scalar.value < 0x20: json += String(format: "\\u%04x", scalar.value)
            default: json.unicodeScalars.append(scalar)
            }
        }
        json += "\""
    }
}
