import EdgeInsightCore

/// Open Inference Protocol tensor datatypes.
public enum Datatype: String, Sendable, Codable, CaseIterable {
    case bool = "BOOL", uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    case fp16 = "FP16", fp32 = "FP32", fp64 = "FP64", bf16 = "BF16"
    case bytes = "BYTES"

    /// Bytes per element; nil for BYTES (each element carries its own length).
    public var byteSize: Int? { elementType?.byteSize }

    /// The engine element type; nil for BYTES.
    public var elementType: ElementType? {
        switch self {
        case .bool: .boolean
        case .uint8: .u8
        case .uint16: .u16
        case .uint32: .u32
        case .uint64: .u64
        case .int8: .i8
        case .int16: .i16
        case .int32: .i32
        case .int64: .i64
        case .fp16: .f16
        case .fp32: .f32
        case .fp64: .f64
        case .bf16: .bf16
        case .bytes: nil
        }
    }

    /// The protocol datatype of an engine element type.
    public init(_ type: ElementType) {
        self = Datatype(rawValue: type.protocolName)!
    }
}

/// Why a request cannot be served, with the HTTP status it maps to. One line, for the `error` field.
public struct ProtocolError: Error, CustomStringConvertible, Equatable, Sendable {
    public var status: Int
    public var message: String

    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public static func badRequest(_ message: String) -> ProtocolError { ProtocolError(400, message) }
    public static func notFound(_ message: String) -> ProtocolError { ProtocolError(404, message) }

    public var description: String { message }
}
