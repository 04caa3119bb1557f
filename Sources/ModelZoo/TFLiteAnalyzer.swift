import EdgeInsightCore
import Foundation

/// Reads a TFLite flatbuffer (tensorflow/lite/schema/schema.fbs, version 3) — ours or a user's,
/// a MediaPipe model say — for what the performance model needs: its inputs and outputs, and per
/// operator the MACs, parameters, weight bytes and activation bytes, as `ModelAnalyzer` counts an
/// ONNX graph's. Shapes are the file's own (TFLite tensors carry them).
///
/// MACs count CONV_2D (out H·W·O · kh·kw·I), DEPTHWISE_CONV_2D (out H·W·C · kh·kw),
/// TRANSPOSE_CONV (in H·W·I · kh·kw·O), FULLY_CONNECTED (rows · out · in) and BATCH_MATMUL; other
/// operators count 0, as published figures do. Parameters are the elements of constant tensors (a
/// buffer with data) of a floating or 8-bit type, and the int32 biases of the layers above; a
/// constant used only as an argument (a reshape's shape, a pad's paddings) is not a weight.
public enum TFLiteAnalyzer {
    /// Whether `bytes` are a TFLite file: its file identifier, after the root offset, is "TFL3".
    public static func isTFLite(_ bytes: [UInt8]) -> Bool { bytes.count >= 8 && Array(bytes[4..<8]) == Array("TFL3".utf8) }

    public static func analyze(_ bytes: [UInt8], path: String) throws(ZooError) -> ModelAnalysis {
        let reader = FlatBufferReader(bytes)
        guard let root = reader.root, let subgraph = reader.tables(root, 2).first else {
            throw .unreadableFile(path: path, reason: "a TFLite file without a subgraph")
        }
        let codes = reader.tables(root, 1).map { code -> Int32 in
            // builtin_code (slot 3) superseded the deprecated byte (slot 0) at 127 operators.
            max(Int32(reader.int8(code, 0) ?? 0), reader.int32(code, 3) ?? 0)
        }
        let buffers = reader.tables(root, 4).map { reader.vectorLength($0, 0) ?? 0 }
        struct Tensor { var name: String; var shape: [Int]; var type: ElementType; var constant: Bool }
        let tensors = reader.tables(subgraph, 0).map { t -> Tensor in
            let buffer = Int(reader.uint32(t, 2) ?? 0)
            return Tensor(name: reader.string(t, 3) ?? "", shape: (reader.int32s(t, 0) ?? []).map(Int.init), type: Self.type(reader.uint8(t, 1) ?? 0),
                          constant: buffer > 0 && buffer < buffers.count && buffers[buffer] > 0)
        }
        func info(_ index: Int32) -> TensorInfo? {
            guard index >= 0, Int(index) < tensors.count else { return nil }
            let t = tensors[Int(index)]
            return TensorInfo(name: t.name, elementType: t.type, shape: t.shape)
        }
        var layers: [LayerCost] = []
        var counted = Set<Int32>()
        for (number, op) in reader.tables(subgraph, 3).enumerated() {
            let code = Int(reader.uint32(op, 0) ?? 0)
            let builtin = code < codes.count ? codes[code] : -1
            let inputs = (reader.int32s(op, 1) ?? []).filter { $0 >= 0 && Int($0) < tensors.count }
            let outputs = (reader.int32s(op, 2) ?? []).filter { $0 >= 0 && Int($0) < tensors.count }
            let outShapes = outputs.map { tensors[Int($0)].shape }
            let input = inputs.first.map { tensors[Int($0)].shape } ?? []
            let filter = inputs.count > 1 ? tensors[Int(inputs[1])].shape : []
            let out = outShapes.first ?? []
            let elements = { (shape: [Int]) in shape.reduce(1) { $0 * max($1, 0) } }
            var macs = 0
            switch builtin {
            case 3 where filter.count == 4 && out.count == 4:      // CONV_2D: filter [O, kh, kw, I]
                macs = elements(out) * filter[1] * filter[2] * filter[3]
            case 4 where filter.count == 4 && out.count == 4:      // DEPTHWISE_CONV_2D: filter [1, kh, kw, C·m]
                macs = elements(out) * filter[1] * filter[2]
            case 67 where inputs.count > 2 && out.count == 4:      // TRANSPOSE_CONV: (output_shape, filter [O, kh, kw, I], input)
                let w = tensors[Int(inputs[1])].shape, x = tensors[Int(inputs[2])].shape
                if w.count == 4, x.count == 4 { macs = elements(x) * w[0] * w[1] * w[2] }
            case 9 where filter.count == 2:                        // FULLY_CONNECTED: weights [out, in]
                macs = elements(out) * filter[1]
            case 126 where input.count >= 2 && filter.count >= 2:  // BATCH_MATMUL: [.., M, K] × [.., K, N]
                macs = elements(out) * input[input.count - 1]
            default: break
            }
            // Weights: the constants a layer reads (biases too: the third input of the weighted layers).
            var parameters = 0, weightBytes = 0
            let weighted: Set<Int32> = [3, 4, 9, 67, 126]
            for (position, index) in inputs.enumerated() where tensors[Int(index)].constant && !counted.contains(index) {
                let t = tensors[Int(index)]
                let isWeight = [.f32, .f16, .bf16, .i8, .u8].contains(t.type) || (t.type == .i32 && weighted.contains(builtin) && position >= 2)
                guard isWeight, !t.shape.isEmpty, !(builtin == 67 && position == 0) else { continue }
                counted.insert(index)
                parameters += elements(t.shape)
                weightBytes += elements(t.shape) * t.type.byteSize
            }
            let activationBytes = outputs.reduce(0) { $0 + elements(tensors[Int($1)].shape) * tensors[Int($1)].type.byteSize }
            layers.append(LayerCost(name: outputs.first.map { tensors[Int($0)].name } ?? "op \(number)", op: Self.name(builtin),
                                    outputNames: outputs.map { tensors[Int($0)].name }, outputShapes: outShapes,
                                    parameters: parameters, macs: macs, weightBytes: weightBytes, activationBytes: activationBytes))
        }
        let inputs = (reader.int32s(subgraph, 1) ?? []).compactMap(info)
        let outputs = (reader.int32s(subgraph, 2) ?? []).compactMap(info)
        return ModelAnalysis(graphName: reader.string(subgraph, 4) ?? reader.string(root, 3) ?? "", opset: 0, batch: inputs.first?.shape.first ?? 1,
                             inputs: inputs, outputs: outputs, layers: layers, parameters: layers.reduce(0) { $0 + $1.parameters },
                             macs: layers.reduce(0) { $0 + $1.macs }, weightBytes: layers.reduce(0) { $0 + $1.weightBytes },
                             activationBytes: layers.reduce(0) { $0 + $1.activationBytes }, peakActivationBytes: layers.map(\.activationBytes).max() ?? 0,
                             gaps: [], uncountedNodes: 0)
    }

    /// The schema's TensorType codes.
    static func type(_ code: UInt8) -> ElementType {
        switch code {
        case 0: .f32
        case 1: .f16
        case 2: .i32
        case 3: .u8
        case 4: .i64
        case 6: .boolean
        case 7: .i16
        case 9: .i8
        case 10: .f64
        case 16: .bf16
        default: .u8
        }
    }

    /// Builtin operator names for the layer table (the common ones; others by number).
    static func name(_ code: Int32) -> String {
        let names: [Int32: String] = [
            0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 9: "FULLY_CONNECTED",
            14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6", 22: "RESHAPE", 23: "RESIZE_BILINEAR", 25: "SOFTMAX",
            34: "PAD", 39: "TRANSPOSE", 40: "MEAN", 41: "SUB", 54: "PRELU", 67: "TRANSPOSE_CONV", 97: "RESIZE_NEAREST_NEIGHBOR",
            114: "QUANTIZE", 117: "HARD_SWISH", 126: "BATCH_MATMUL",
        ]
        return names[code] ?? "BUILTIN_\(code)"
    }
}

/// Reads the FlatBuffers wire format (the layout `FlatBufferWriter` writes; flatbuffers.dev,
/// "FlatBuffers internals"): a table's field is found through its vtable; a reference is a u32
/// offset from where it is stored. Every read checks its bounds: a truncated file reads as absent.
struct FlatBufferReader {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private func u32(_ at: Int) -> UInt32? {
        guard at >= 0, at + 4 <= bytes.count else { return nil }
        return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
    private func u16(_ at: Int) -> UInt16? {
        guard at >= 0, at + 2 <= bytes.count else { return nil }
        return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    /// The root table's position.
    var root: Int? { u32(0).map(Int.init) }

    /// Where field `slot` of the table at `table` is, or nil when absent.
    private func field(_ table: Int, _ slot: Int) -> Int? {
        guard let back = u32(table).map({ Int(Int32(bitPattern: $0)) }) else { return nil }
        let vtable = table - back
        guard let size = u16(vtable), 4 + 2 * slot < Int(size), let offset = u16(vtable + 4 + 2 * slot), offset != 0 else { return nil }
        return table + Int(offset)
    }

    /// The target of the reference stored in field `slot`.
    private func reference(_ table: Int, _ slot: Int) -> Int? {
        guard let at = field(table, slot), let offset = u32(at) else { return nil }
        return at + Int(offset)
    }

    func uint8(_ table: Int, _ slot: Int) -> UInt8? { field(table, slot).flatMap { $0 < bytes.count ? bytes[$0] : nil } }
    func int8(_ table: Int, _ slot: Int) -> Int8? { uint8(table, slot).map { Int8(bitPattern: $0) } }
    func uint32(_ table: Int, _ slot: Int) -> UInt32? { field(table, slot).flatMap(u32) }
    func int32(_ table: Int, _ slot: Int) -> Int32? { uint32(table, slot).map { Int32(bitPattern: $0) } }

    func string(_ table: Int, _ slot: Int) -> String? {
        guard let at = reference(table, slot), let length = u32(at).map(Int.init), at + 4 + length <= bytes.count else { return nil }
        return String(decoding: bytes[(at + 4)..<(at + 4 + length)], as: UTF8.self)
    }

    func vectorLength(_ table: Int, _ slot: Int) -> Int? { reference(table, slot).flatMap(u32).map(Int.init) }

    func int32s(_ table: Int, _ slot: Int) -> [Int32]? {
        guard let at = reference(table, slot), let count = u32(at).map(Int.init), at + 4 + 4 * count <= bytes.count else { return nil }
        return (0..<count).compactMap { u32(at + 4 + 4 * $0).map { Int32(bitPattern: $0) } }
    }

    /// The tables of the vector in field `slot` (each element a reference to a table).
    func tables(_ table: Int, _ slot: Int) -> [Int] {
        guard let at = reference(table, slot), let count = u32(at).map(Int.init), at + 4 + 4 * count <= bytes.count else { return [] }
        return (0..<count).compactMap { index in u32(at + 4 + 4 * index).map { at + 4 + 4 * index + Int($0) } }
    }
}
