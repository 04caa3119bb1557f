import EdgeInsightCore
import Foundation

/// A tensor on the wire: name, datatype, shape and its raw little-endian row-major bytes
/// (for BYTES, each element is a 4-byte little-endian length followed by its bytes).
public struct WireTensor: Sendable, Equatable {
    public var name: String
    public var datatype: Datatype
    public var shape: [Int]
    public var data: [UInt8]
    /// Per-tensor parameters as they arrived (JSON values).
    public var parameters: [String: ParameterValue]

    public init(name: String, datatype: Datatype, shape: [Int], data: [UInt8], parameters: [String: ParameterValue] = [:]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.data = data
        self.parameters = parameters
    }

    /// Elements the shape holds.
    public var elementCount: Int { shape.reduce(1, *) }

    /// The elements of a BYTES tensor.
    public func byteElements() throws(ProtocolError) -> [[UInt8]] {
        var elements: [[UInt8]] = []
        var offset = 0
        while offset < data.count {
            guard offset + 4 <= data.count else { throw .badRequest("BYTES tensor '\(name)' ends inside a length prefix") }
            let length = Int(UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3]) << 24)
            offset += 4
            guard offset + length <= data.count else { throw .badRequest("BYTES tensor '\(name)' element \(elements.count) says \(length) bytes but only \(data.count - offset) remain") }
            elements.append(Array(data[offset..<(offset + length)]))
            offset += length
        }
        guard elements.count == elementCount else {
            throw .badRequest("BYTES tensor '\(name)' has shape \(TensorInfo.describe(shape)) but holds \(elements.count) elements")
        }
        return elements
    }

    /// Packs elements as a BYTES payload (4-byte little-endian length before each).
    public static func packBytes(_ elements: [[UInt8]]) -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(elements.reduce(0) { $0 + 4 + $1.count })
        for element in elements {
            let n = UInt32(element.count)
            data += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
            data += element
        }
        return data
    }

    /// The elements as Floats (FP32 only).
    public func floats() -> [Float] {
        data.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
    }
}

/// A parameter value: the protocol allows booleans, integers, numbers and strings.
public enum ParameterValue: Sendable, Equatable {
    case bool(Bool), int(Int64), double(Double), string(String)

    /// The value as an integer, when it is one.
    public var intValue: Int? {
        switch self {
        case .int(let v): Int(exactly: v)
        case .double(let v): Int(exactly: v)
        default: nil
        }
    }

    /// The value as a boolean, when it is one.
    public var boolValue: Bool? { if case .bool(let v) = self { v } else { nil } }

    /// From a parsed JSON value; nil for arrays, objects and null.
    init?(_ value: JSONValue) {
        switch value {
        case .bool(let v): self = .bool(v)
        case .int(let v): self = .int(v)
        case .double(let v): self = .double(v)
        case .string(let v): self = .string(v)
        default: return nil
        }
    }

    /// Writes the value as JSON.
    func write(to json: inout String) {
        switch self {
        case .bool(let v): json += v ? "true" : "false"
        case .int(let v): json += String(v)
        case .double(let v): json += v.isFinite ? "\(v)" : "null"
        case .string(let v): JSONValue.writeString(v, to: &json)
        }
    }
}
