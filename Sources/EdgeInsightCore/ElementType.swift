/// The element type of a tensor, named as OpenVINO names them (`f32`, `u8`, …).
public enum ElementType: String, Sendable, Codable, CaseIterable {
    case boolean, bf16, f16, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64

    /// Bytes one element occupies.
    public var byteSize: Int {
        switch self {
        case .boolean, .i8, .u8: 1
        case .bf16, .f16, .i16, .u16: 2
        case .f32, .i32, .u32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// Whether the type holds floating-point values.
    public var isFloatingPoint: Bool { [.bf16, .f16, .f32, .f64].contains(self) }

    /// The Open Inference Protocol (KServe v2) datatype name.
    public var protocolName: String {
        switch self {
        case .boolean: "BOOL"
        case .bf16: "BF16"
        case .f16: "FP16"
        case .f32: "FP32"
        case .f64: "FP64"
        case .i8: "INT8"
        case .i16: "INT16"
        case .i32: "INT32"
        case .i64: "INT64"
        case .u8: "UINT8"
        case .u16: "UINT16"
        case .u32: "UINT32"
        case .u64: "UINT64"
        }
    }
}

/// A tensor's name, element type and shape; `-1` marks a dynamic dimension.
public struct TensorInfo: Sendable, Codable, Equatable {
    public var name: String
    public var elementType: ElementType
    public var shape: [Int]

    public init(name: String, elementType: ElementType, shape: [Int]) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
    }

    /// Whether every dimension is known.
    public var isStatic: Bool { shape.allSatisfy { $0 >= 0 } }

    /// Number of elements, or nil when a dimension is dynamic.
    public var elementCount: Int? { isStatic ? shape.reduce(1, *) : nil }

    /// Bytes of the tensor's data, or nil when a dimension is dynamic.
    public var byteCount: Int? { elementCount.map { $0 * elementType.byteSize } }

    /// The shape written as `[1,3,224,224]` with `?` for dynamic dimensions.
    public var shapeDescription: String { TensorInfo.describe(shape) }

    /// Writes a shape as `[1,3,224,224]`, `?` for dynamic dimensions.
    public static func describe(_ shape: [Int]) -> String {
        "[" + shape.map { $0 < 0 ? "?" : String($0) }.joined(separator: ",") + "]"
    }
}
