import EdgeInsightCore
import Foundation
import SwiftProtobuf

/// Cost of one node of a graph.
public struct LayerCost: Sendable, Codable, Equatable {
    public var name: String
    public var op: String
    /// The node's output tensors by name, in order.
    public var outputNames: [String]
    /// Each output's shape at the analysed batch size; empty when it could not be inferred.
    public var outputShapes: [[Int]]
    public var parameters: Int
    public var macs: Int
    public var weightBytes: Int
    public var activationBytes: Int
    /// Each output's element type (empty when unknown, and in older JSON).
    public var outputTypes: [ElementType] = []

    /// The first output's shape (empty when unknown).
    public var outputShape: [Int] { outputShapes.first ?? [] }
}

/// A node whose output shapes the analyzer could not infer, and why; later nodes that depend on it
/// are not counted.
public struct AnalysisGap: Sendable, Codable, Equatable {
    public var node: String
    public var op: String
    public var reason: String
}

/// Totals and per-layer costs of a model, at a given batch size.
public struct ModelAnalysis: Sendable, Codable {
    public var graphName: String
    /// The default ONNX opset the model declares.
    public var opset: Int
    public var batch: Int
    public var inputs: [TensorInfo]
    public var outputs: [TensorInfo]
    public var layers: [LayerCost]
    public var parameters: Int
    public var macs: Int
    public var weightBytes: Int
    /// Sum of every computed layer output's size: the traffic a layer-by-layer executor writes.
    public var activationBytes: Int
    /// Largest single layer output.
    public var peakActivationBytes: Int
    /// Nodes where shape inference stopped (their costs and those of nodes after them count as 0).
    public var gaps: [AnalysisGap]
    /// Nodes left uncounted because an input's shape was unknown.
    public var uncountedNodes: Int

    /// One line on what could not be counted, or nil when everything was.
    public var gapSummary: String? {
        guard let first = gaps.first else { return nil }
        let more = gaps.count > 1 ? " (and \(gaps.count - 1) more: \(gaps.dropFirst().map(\.op).joined(separator: ", ")))" : ""
        return "shape inference stopped at node '\(first.node)' (\(first.op)): \(first.reason)\(more); \(uncountedNodes) later nodes are not counted, the totals cover the rest"
    }
}

/// Computes parameters, multiply–accumulates and bytes per layer for an ONNX model (ours or a user's).
///
/// MACs count convolutions, Gemm and MatMul (the convention of published figures); pooling and
/// element-wise ops count 0. Parameters are the elements of floating-point constants of rank ≥ 1 —
/// initializers or `Constant` nodes, as exporters write either — that feed a layer as weights.
/// Nodes computed from constants alone (shape arithmetic) fold away before inference, as runtimes
/// fold them: they cost no MACs and no activation traffic.
public enum ModelAnalyzer {
    /// Analyses an ONNX file (or a TFLite one: `TFLiteAnalyzer`, whose shapes are the file's own). `shapes` fixes inputs' dynamic dimensions by input name ("" for a
    /// model's only input); a leading dynamic dimension not fixed takes `batch`.
    public static func analyze(file path: String, batch: Int = 1, shapes: [String: [Int]] = [:]) throws(ZooError) -> ModelAnalysis {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw .unreadableFile(path: path, reason: FileManager.default.fileExists(atPath: path) ? error.localizedDescription : "no such file")
        }
        // A TFLite flatbuffer (its identifier says so) is read by its own analyzer, to the same figures.
        let head = [UInt8](data.prefix(8))
        if TFLiteAnalyzer.isTFLite(head) { return try TFLiteAnalyzer.analyze([UInt8](data), path: path) }
        let model: Onnx_ModelProto
        do { model = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw .unreadableFile(path: path, reason: "not an ONNX model (\(error))")
        }
        guard model.hasGraph, !model.graph.node.isEmpty || !model.graph.output.isEmpty else {
            throw .unreadableFile(path: path, reason: "not an ONNX model (no graph)")
        }
        return try analyze(model, batch: batch, shapes: shapes)
    }

    /// The inputs' shapes by name, for frameworks that read none from the file (OpenCV DNN).
    public static func inputShapes(file path: String, batch: Int = 1) throws(ZooError) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: try analyze(file: path, batch: batch).inputs.map { ($0.name, $0.shape) })
    }

    /// Analyses an ONNX model in memory.
    public static func analyze(_ model: Onnx_ModelProto, batch: Int = 1, shapes fixed: [String: [Int]] = [:]) throws(ZooError) -> ModelAnalysis {
        let graph = model.graph
        let opset = Int(model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version ?? 1)
        var known: [String: KnownTensor] = [:]
        /// Tensors fixed before any input arrives; their consumers may fold.
        var constant = Set<String>()
        for tensor in graph.initializer {
            known[tensor.name] = ShapeInference.tensorValue(tensor)
            constant.insert(tensor.name)
        }

        var inputs: [TensorInfo] = []
        let graphInputs = graph.input.filter { known[$0.name] == nil }
        if let unknownName = fixed.keys.first(where: { name in !name.isEmpty && !graphInputs.contains { $0.name == name } }) {
            throw .badParameter("the model has no input '\(unknownName)'; its inputs are \(graphInputs.map(\.name).joined(separator: ", "))")
        }
        for value in graphInputs {
            let given = fixed[value.name] ?? (graphInputs.count == 1 ? fixed[""] : nil)
            let dims = try inputShape(value, batch: batch, given: given)
            let type = elementType(value.type.tensorType.elemType)
            known[value.name] = KnownTensor(dims, type)
            inputs.append(TensorInfo(name: value.name, elementType: type, shape: dims))
        }

        var layers: [LayerCost] = []
        var gaps: [AnalysisGap] = []
        var uncounted = 0
        var counted = Set<String>()
        for node in graph.node {
            let name = node.name.isEmpty ? node.output.first ?? node.opType : node.name
            let named = node.input.filter { !$0.isEmpty }
            var outputs: [KnownTensor] = []
            var macs = 0
            if named.allSatisfy({ known[$0] != nil }) {
                do {
                    (outputs, macs) = try ShapeInference.infer(node, node.input.map { $0.isEmpty ? nil : known[$0] }, opset: opset)
                } catch {
                    gaps.append(AnalysisGap(node: name, op: node.opType, reason: error.reason))
                }
            } else {
                uncounted += 1
            }
            // Shape queries and arithmetic on constants are done once, at load time.
            let folded = node.opType == "Constant" || node.opType == "Shape" || node.opType == "Size" || named.allSatisfy(constant.contains)
            for (output, tensor) in zip(node.output, outputs) where !output.isEmpty {
                known[output] = tensor
                if folded { constant.insert(output) }
            }

            var parameters = 0, weightBytes = 0
            if !folded, !shapeArguments.contains(node.opType) {
                for input in named where constant.contains(input) && !counted.contains(input) {
                    guard let tensor = known[input], !tensor.shape.isEmpty else { continue }
                    counted.insert(input)
                    weightBytes += tensor.elements * tensor.type.byteSize
                    if tensor.type.isFloatingPoint { parameters += tensor.elements }
                }
            }
            let activationBytes = folded ? 0 : outputs.reduce(0) { $0 + $1.elements * $1.type.byteSize }
            layers.append(LayerCost(
                name: name, op: node.opType, outputNames: node.output, outputShapes: outputs.map(\.shape),
                parameters: parameters, macs: folded ? 0 : macs, weightBytes: weightBytes, activationBytes: activationBytes,
                outputTypes: outputs.map(\.type)))
        }
        let outputs = graph.output.map { value in
            TensorInfo(name: value.name, elementType: known[value.name]?.type ?? elementType(value.type.tensorType.elemType),
                       shape: known[value.name]?.shape ?? value.type.tensorType.shape.dim.map { _ in -1 })
        }
        // A trailing Identity that only renames a tensor moves no data worth counting.
        let computed = layers.filter { $0.op != "Identity" }
        return ModelAnalysis(
            graphName: graph.name, opset: opset, batch: batch, inputs: inputs, outputs: outputs, layers: layers,
            parameters: layers.reduce(0) { $0 + $1.parameters }, macs: layers.reduce(0) { $0 + $1.macs },
            weightBytes: layers.reduce(0) { $0 + $1.weightBytes },
            activationBytes: computed.reduce(0) { $0 + $1.activationBytes },
            peakActivationBytes: layers.map(\.activationBytes).max() ?? 0,
            gaps: gaps, uncountedNodes: uncounted)
    }

    /// Ops whose constant inputs are arguments (shapes, scales, bounds), not weights.
    private static let shapeArguments: Set<String> = ["Reshape", "Resize", "Upsample", "Pad", "Clip", "Expand", "Tile", "Slice", "Squeeze", "Unsqueeze", "Split", "TopK", "ReduceMean", "ReduceSum", "ReduceMax"]

    /// An input's shape: the declared one, with dynamic dimensions taken from `given` (which must
    /// agree with the fixed ones) or, for a leading dynamic dimension only, `batch`.
    private static func inputShape(_ value: Onnx_ValueInfoProto, batch: Int, given: [Int]?) throws(ZooError) -> [Int] {
        let declared: [Int?] = value.type.tensorType.shape.dim.map { dim in
            if case .dimValue(let v) = dim.value, v > 0 { return Int(v) }
            return nil
        }
        let text = TensorInfo.describe(declared.map { $0 ?? -1 })
        if let given {
            guard given.count == declared.count, zip(given, declared).allSatisfy({ $1 == nil || $0 == $1 }) else {
                throw .badParameter("input '\(value.name)' is \(text); the shape \(TensorInfo.describe(given)) does not fit it")
            }
            return given
        }
        if declared.dropFirst().contains(where: { $0 == nil }) {
            throw .dynamicShape(input: value.name, declared: text)
        }
        return declared.enumerated().map { $0.element ?? ($0.offset == 0 ? batch : 1) }
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
