import EdgeInsightCore
import Foundation
import SwiftProtobuf

/// Cost of one node of a graph.
public struct LayerCost: Sendable, Codable, Equatable {
    public var name: String
    public var op: String
    /// Output shape at the analysed batch size; empty when it could not be inferred.
    public var outputShape: [Int]
    public var parameters: Int
    public var macs: Int
    public var weightBytes: Int
    public var activationBytes: Int
}

/// Totals and per-layer costs of a model, at a given batch size.
public struct ModelAnalysis: Sendable, Codable {
    public var graphName: String
    public var batch: Int
    public var inputs: [TensorInfo]
    public var outputs: [TensorInfo]
    public var layers: [LayerCost]
    public var parameters: Int
    public var macs: Int
    public var weightBytes: Int
    /// Sum of every layer output's size: the traffic a layer-by-layer executor writes.
    public var activationBytes: Int
    /// Largest single layer output.
    public var peakActivationBytes: Int
    /// Op types whose output shapes the analyzer could not infer (their costs count as 0).
    public var unanalyzedOps: [String]
}

/// Computes parameters, multiply–accumulates and bytes per layer for an ONNX model (ours or a user's).
///
/// MACs count convolutions, Gemm and MatMul (the convention of published figures); pooling and
/// element-wise ops count 0. Parameters are the elements of floating-point initializers of rank ≥ 1.
public enum ModelAnalyzer {
    /// Analyses an ONNX file.
    public static func analyze(file path: String, batch: Int = 1) throws(ZooError) -> ModelAnalysis {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw .unreadableFile(path: path, reason: FileManager.default.fileExists(atPath: path) ? error.localizedDescription : "no such file")
        }
        let model: Onnx_ModelProto
        do { model = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw .unreadableFile(path: path, reason: "not an ONNX model (\(error))")
        }
        guard model.hasGraph, !model.graph.node.isEmpty || !model.graph.output.isEmpty else {
            throw .unreadableFile(path: path, reason: "not an ONNX model (no graph)")
        }
        return analyze(model, batch: batch)
    }

    /// Analyses an ONNX model in memory; dynamic dimensions are taken as `batch`.
    public static func analyze(_ model: Onnx_ModelProto, batch: Int = 1) -> ModelAnalysis {
        let graph = model.graph
        var initializers: [String: Onnx_TensorProto] = [:]
        for tensor in graph.initializer { initializers[tensor.name] = tensor }
        var shapes: [String: [Int]] = [:]
        for tensor in graph.initializer { shapes[tensor.name] = tensor.dims.map { Int($0) } }

        var inputs: [TensorInfo] = []
        for value in graph.input where initializers[value.name] == nil {
            let dims = declaredShape(value, batch: batch)
            shapes[value.name] = dims
            inputs.append(TensorInfo(name: value.name, elementType: elementType(value.type.tensorType.elemType), shape: dims))
        }

        var layers: [LayerCost] = []
        var counted = Set<String>()
        var unanalyzed = Set<String>()
        for node in graph.node {
            let inputShapes = node.input.map { shapes[$0] }
            let (outputShape, macs) = infer(node, inputShapes, initializers)
            if outputShape == nil { unanalyzed.insert(node.opType) }
            if let outputShape, let first = node.output.first { shapes[first] = outputShape }

            var parameters = 0, weightBytes = 0
            for name in node.input where !counted.contains(name) {
                guard let tensor = initializers[name], !tensor.dims.isEmpty else { continue }
                counted.insert(name)
                let count = tensor.dims.reduce(1) { $0 * Int($1) }
                let type = elementType(tensor.dataType)
                weightBytes += count * type.byteSize
                if type.isFloatingPoint { parameters += count }
            }
            let outputElements = outputShape?.reduce(1, *) ?? 0
            layers.append(LayerCost(
                name: node.name.isEmpty ? node.output.first ?? node.opType : node.name, op: node.opType,
                outputShape: outputShape ?? [], parameters: parameters, macs: macs,
                weightBytes: weightBytes, activationBytes: outputElements * 4))
        }
        // A trailing Identity that only renames a tensor moves no data worth counting.
        let outputs = graph.output.map { value in
            TensorInfo(name: value.name, elementType: elementType(value.type.tensorType.elemType), shape: shapes[value.name] ?? declaredShape(value, batch: batch))
        }
        return ModelAnalysis(
            graphName: graph.name, batch: batch, inputs: inputs, outputs: outputs, layers: layers,
            parameters: layers.reduce(0) { $0 + $1.parameters }, macs: layers.reduce(0) { $0 + $1.macs },
            weightBytes: layers.reduce(0) { $0 + $1.weightBytes },
            activationBytes: layers.filter { $0.op != "Identity" }.reduce(0) { $0 + $1.activationBytes },
            peakActivationBytes: layers.map(\.activationBytes).max() ?? 0,
            unanalyzedOps: unanalyzed.sorted())
    }

    // MARK: Shape inference

    private static let unary: Set<String> = [
        "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Identity", "Dropout", "Softmax", "LogSoftmax",
        "LeakyRelu", "Elu", "Selu", "Erf", "Sqrt", "Exp", "Log", "Neg", "Abs", "Cast", "BatchNormalization",
        "LRN", "InstanceNormalization", "LayerNormalization", "PRelu", "Gelu", "Mish", "Softplus", "Swish", "Reciprocal",
    ]
    private static let binary: Set<String> = ["Add", "Mul", "Sub", "Div", "Pow", "Max", "Min", "Sum", "Where", "Equal"]

    /// The output shape of a node (nil when unknown) and its multiply–accumulates.
    static func infer(_ node: Onnx_NodeProto, _ inputs: [[Int]?], _ initializers: [String: Onnx_TensorProto]) -> ([Int]?, Int) {
        let op = node.opType
        guard let x = inputs.first ?? nil else { return (nil, 0) }
        switch op {
        case "Conv":
            guard x.count >= 3, inputs.count > 1, let w = inputs[1], w.count == x.count else { return (nil, 0) }
            let spatial = x.count - 2
            let kernel = Array(w[2...])
            let strides = ints(node, "strides") ?? Array(repeating: 1, count: spatial)
            let dilations = ints(node, "dilations") ?? Array(repeating: 1, count: spatial)
            let group = int(node, "group") ?? 1
            var out = [x[0], w[0]]
            for i in 0..<spatial {
                let extent = (kernel[i] - 1) * dilations[i] + 1
                out.append(outputExtent(node, x[i + 2], extent: extent, stride: strides[i], axis: i, spatial: spatial, ceil: false))
            }
            let macs = out.reduce(1, *) * (x[1] / max(1, group)) * kernel.reduce(1, *)
            return (out, macs)
        case "MaxPool", "AveragePool", "LpPool":
            guard x.count >= 3, let kernel = ints(node, "kernel_shape") else { return (nil, 0) }
            let spatial = x.count - 2
            let strides = ints(node, "strides") ?? Array(repeating: 1, count: spatial)
            let ceil = (int(node, "ceil_mode") ?? 0) == 1
            var out = [x[0], x[1]]
            for i in 0..<spatial {
                out.append(outputExtent(node, x[i + 2], extent: kernel[i], stride: strides[i], axis: i, spatial: spatial, ceil: ceil))
            }
            return (out, 0)
        case "GlobalAveragePool", "GlobalMaxPool":
            return (Array(x.prefix(2)) + Array(repeating: 1, count: max(0, x.count - 2)), 0)
        case "Gemm":
            guard inputs.count > 1, let b = inputs[1], x.count == 2, b.count == 2 else { return (nil, 0) }
            let transA = (int(node, "transA") ?? 0) == 1, transB = (int(node, "transB") ?? 0) == 1
            let (m, k) = transA ? (x[1], x[0]) : (x[0], x[1])
            let n = transB ? b[0] : b[1]
            return ([m, n], m * k * n)
        case "MatMul":
            guard inputs.count > 1, let b = inputs[1], !x.isEmpty, !b.isEmpty else { return (nil, 0) }
            let a2 = x.count == 1 ? [1] + x : x, b2 = b.count == 1 ? b + [1] : b
            guard let batchDims = broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2))) else { return (nil, 0) }
            let m = a2[a2.count - 2], k = a2[a2.count - 1], n = b2[b2.count - 1]
            var out = batchDims + [m, n]
            if x.count == 1 { out.remove(at: out.count - 2) }
            if b.count == 1 { out.removeLast() }
            return (out, batchDims.reduce(1, *) * m * k * n)
        case "Flatten":
            var axis = int(node, "axis") ?? 1
            if axis < 0 { axis += x.count }
            return ([x.prefix(axis).reduce(1, *), x.dropFirst(axis).reduce(1, *)], 0)
        case "Concat":
            let parts = inputs.compactMap { $0 }
            guard parts.count == inputs.count, var axis = int(node, "axis") else { return (nil, 0) }
            if axis < 0 { axis += x.count }
            var out = x
            out[axis] = parts.reduce(0) { $0 + $1[axis] }
            return (out, 0)
        case "Reshape":
            guard inputs.count > 1, let target = initializers[node.input[1]].flatMap(int64Values) else { return (nil, 0) }
            var out = target.enumerated().map { i, d in d == 0 && i < x.count ? x[i] : d }
            let total = x.reduce(1, *)
            if let unknown = out.firstIndex(of: -1) {
                let known = out.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
                out[unknown] = known > 0 ? total / known : 0
            }
            return (out, 0)
        case "Transpose":
            let perm = ints(node, "perm") ?? Array((0..<x.count).reversed())
            return (perm.map { x[$0] }, 0)
        default:
            if unary.contains(op) { return (x, 0) }
            if binary.contains(op) {
                var out: [Int]? = x
                for shape in inputs.dropFirst() {
                    guard let shape, let current = out else { return (nil, 0) }
                    out = broadcast(current, shape)
                }
                return (out, 0)
            }
            return (nil, 0)
        }
    }

    /// Output length of one spatial axis of a convolution or pooling window.
    private static func outputExtent(_ node: Onnx_NodeProto, _ input: Int, extent: Int, stride: Int, axis: Int, spatial: Int, ceil: Bool) -> Int {
        let autoPad = string(node, "auto_pad") ?? "NOTSET"
        switch autoPad {
        case "SAME_UPPER", "SAME_LOWER":
            return (input + stride - 1) / stride
        case "VALID":
            return (input - extent) / stride + 1
        default:
            let pads = ints(node, "pads") ?? Array(repeating: 0, count: 2 * spatial)
            let span = input + pads[axis] + pads[axis + spatial] - extent
            return (ceil ? (span + stride - 1) / stride : span / stride) + 1
        }
    }

    /// NumPy-style broadcasting of two shapes, nil when incompatible.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a, pb = Array(repeating: 1, count: rank - b.count) + b
        var out: [Int] = []
        for (x, y) in zip(pa, pb) {
            guard x == y || x == 1 || y == 1 else { return nil }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    private static func declaredShape(_ value: Onnx_ValueInfoProto, batch: Int) -> [Int] {
        value.type.tensorType.shape.dim.map { dim in
            if case .dimValue(let v) = dim.value, v > 0 { return Int(v) }
            return batch
        }
    }

    private static func attribute(_ node: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? {
        node.attribute.first { $0.name == name }
    }

    private static func ints(_ node: Onnx_NodeProto, _ name: String) -> [Int]? {
        attribute(node, name).map { $0.ints.map { Int($0) } }
    }

    private static func int(_ node: Onnx_NodeProto, _ name: String) -> Int? {
        attribute(node, name).map { Int($0.i) }
    }

    private static func string(_ node: Onnx_NodeProto, _ name: String) -> String? {
        attribute(node, name).map { String(decoding: $0.s, as: UTF8.self) }
    }

    private static func int64Values(_ tensor: Onnx_TensorProto) -> [Int]? {
        if !tensor.int64Data.isEmpty { return tensor.int64Data.map { Int($0) } }
        guard tensor.hasRawData, elementType(tensor.dataType) == .i64 else { return nil }
        return tensor.rawData.withUnsafeBytes { raw in
            (0..<(raw.count / 8)).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
        }
    }

    /// Maps an ONNX data type code to an element type (unknown codes count as f32).
    static func elementType(_ code: Int32) -> ElementType {
        switch Onnx_TensorProto.DataType(rawValue: Int(code)) {
        case .uint8: .u8
        case .int8: .i8
        case .uint16: .u16
        case .int16: .i16
        case .int32: .i32
        case .int64: .i64
        case .bool: .boolean
        case .float16: .f16
        case .bfloat16: .bf16
        case .double: .f64
        case .uint32: .u32
        case .uint64: .u64
        default: .f32
        }
    }
}
