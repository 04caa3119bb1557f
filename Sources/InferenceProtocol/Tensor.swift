import EdgeInsightCore
import Foundation

/// A tensor on the wire: name, datatype, shape and its raw little-endian row-major bytes
/// (for BYTES, each element is a 4-byte little-endian length followed by its bytes).
public struct WireTensor: Sendable, Equatable {
    public var name: String
    public var datatype: Datatype
    public var shape: [Int]
    public var data: TensorBytes
    /// Per-tensor parameters as they arrived (JSON values).
    public var parameters: [String: ParameterValue]

    public init(name: String, datatype: Datatype, shape: [Int], data: TensorBytes, parameters: [String: ParameterValue] = [:]) {
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
        let elements = try data.withUnsafeBytes { raw throws(ProtocolError) -> [[UInt8]] in
            var elements: [[UInt8]] = []
            var offset = 0
            while offset < raw.count {
                guard offset + 4 <= raw.count else { throw .badRequest("BYTES tensor '\(name)' ends inside a length prefix") }
                let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                offset += 4
                guard length <= raw.count - offset else { throw .badRequest("BYTES tensor '\(name)' element \(elements.count) says \(length) bytes but only \(raw.count - offset) remain") }
                elements.append(Array(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)])))
                offset += length
            }
            return elements
        }
        guard elements.count == elementCount else {
            throw .badRequest("BYTES tensor '\(name)' has shape \(TensorInfo.describe(shape)) but holds \(elements.count) elements")
        }
        return elements
    }

    /// Packs elements as a BYTES payload (4-byte little-endian length before each).
    public static func packBytes(_ elements: [[UInt8]]) -> TensorBytes {
        var data: [UInt8] = []
        data.reserveCapacity(elements.reduce(0) { $0 + 4 + $1.count })
        for element in elements {
            let n = UInt32(element.count)
            data += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
            data += element
        }
        return TensorBytes(data)
    }

    /// The elements as Floats (FP32 only).
    public func floats() -> [Float] {
        data.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
    }
}

/// A tensor's bytes: an array of their own, or a window on memory an owner keeps alive — the
/// request body a server decoded in place, so that a binary input reaches the engine without
/// being copied on the way (on a 2-core server every copy of a 602 kB FP32 image is CPU taken from
/// inference).
public struct TensorBytes: RandomAccessCollection, Equatable, ExpressibleByArrayLiteral, @unchecked Sendable {
    // @unchecked: a window is never written through, and its owner keeps the memory alive.
    private enum Storage {
        case array([UInt8])
        case window(UnsafeRawBufferPointer, owner: AnyObject)
    }
    private let storage: Storage

    public init(_ bytes: [UInt8]) { storage = .array(bytes) }
    public init(arrayLiteral elements: UInt8...) { storage = .array(elements) }

    /// A window on `bytes`, valid as long as `owner` lives and does not change them.
    public init(window bytes: UnsafeRawBufferPointer, owner: AnyObject) { storage = .window(bytes, owner: owner) }

    public var startIndex: Int { 0 }
    public var endIndex: Int {
        switch storage {
        case .array(let bytes): bytes.count
        case .window(let bytes, _): bytes.count
        }
    }

    public subscript(position: Int) -> UInt8 {
        switch storage {
        case .array(let bytes): bytes[position]
        case .window(let bytes, _): bytes[position]
        }
    }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        switch storage {
        case .array(let bytes):
            try bytes.withUnsafeBytes { raw in Result { () throws(E) in try body(raw) } }.get()
        case .window(let bytes, let owner):
            try withExtendedLifetime(owner) { () throws(E) in try body(bytes) }
        }
    }

    /// Bulk copies and comparisons of a tensor's bytes go through this or `withUnsafeBytes`, never a
    /// loop over bytes (`Array(…)` of a TensorBytes still iterates: keep it off hot paths).
    public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        try withUnsafeBytes { raw in try body(raw.bindMemory(to: UInt8.self)) }
    }

    public static func == (a: TensorBytes, b: TensorBytes) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0) } }
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
