import EdgeInsightCore
import Foundation

/// A place an ONNX graph can be cut in two — the device runs the head, the cloud the tail — with
/// what each side computes and what crosses between them.
public struct CutPoint: Sendable, Codable, Equatable {
    /// The tensor the cut follows: the first output of the last node of the head.
    public var after: String
    /// The tensors the tail takes from the head (more than one where a skip connection crosses).
    public var crossing: [String]
    public var headMACs: Int
    public var tailMACs: Int
    /// Bytes of the crossing tensors at the analysed batch.
    public var crossingBytes: Int
}

/// Cuts an ONNX graph after a node, in its (topological) node order: the head is every node up to
/// and including it, the tail every node after it. What crosses is every tensor a head node makes
/// that a tail node reads; weights go with the nodes that read them (a weight both sides read is
/// in both), and a `Constant` node the tail reads is copied into it rather than sent.
public enum ModelCut {
    /// Every cut of the graph, in node order: after each node but the last, where no graph output
    /// is made before the cut (the tail must make them all).
    public static func points(_ model: Onnx_ModelProto, analysis: ModelAnalysis) -> [CutPoint] {
        let graph = model.graph
        let layers = analysis.layers
        var sizes: [String: Int] = Dictionary(analysis.inputs.map { ($0.name, $0.byteCount ?? 0) }, uniquingKeysWith: { a, _ in a })
        for layer in layers {
            for (k, name) in layer.outputNames.enumerated() where k < layer.outputShapes.count {
                sizes[name] = layer.outputShapes[k].reduce(1) { $0 * max($1, 0) } * (k < layer.outputTypes.count ? layer.outputTypes[k] : .f32).byteSize
            }
        }
        let outputs = Set(graph.output.map(\.name))
        let initializers = Set(graph.initializer.map(\.name))
        // Graph inputs are made "before" the first node: the device sends one the tail still reads.
        var producedAt = Dictionary(graph.input.filter { !initializers.contains($0.name) }.map { ($0.name, -1) }, uniquingKeysWith: { a, _ in a })
        for (i, node) in graph.node.enumerated() { for output in node.output where producedAt[output] == nil { producedAt[output] = i } }
        var lastUse: [String: Int] = [:]
        for (i, node) in graph.node.enumerated() { for input in node.input where !input.isEmpty { lastUse[input] = i } }
        let constants = Set(graph.node.filter { $0.opType == "Constant" }.flatMap(\.output))
        var points: [CutPoint] = []
        var headMACs = 0
        let total = layers.reduce(0) { $0 + $1.macs }
        var madeOutput = false
        for (i, node) in graph.node.enumerated().dropLast() {
            headMACs += i < layers.count ? layers[i].macs : 0
            if node.output.contains(where: outputs.contains) { madeOutput = true }
            guard !madeOutput, node.opType != "Constant", let after = node.output.first, !after.isEmpty else { continue }
            let crossing = producedAt.filter { name, at in at <= i && (lastUse[name] ?? -1) > i && !constants.contains(name) }.map(\.key)
                .sorted { (producedAt[$0]!, $0) < (producedAt[$1]!, $1) }
            guard !crossing.isEmpty else { continue }
            points.append(CutPoint(after: after, crossing: crossing, headMACs: headMACs, tailMACs: total - headMACs,
                                   crossingBytes: crossing.reduce(0) { $0 + (sizes[$1] ?? 0) }))
        }
        return points
    }

    /// The head and the tail of `model` cut after the node that makes `tensor`.
    public static func cut(_ model: Onnx_ModelProto, after tensor: String, analysis: ModelAnalysis) throws(ZooError) -> (head: Onnx_ModelProto, tail: Onnx_ModelProto, point: CutPoint) {
        let graph = model.graph
        let all = points(model, analysis: analysis)
        guard let point = all.first(where: { $0.after == tensor }) else {
            let known = all.prefix(8).map(\.after).joined(separator: ", ")
            throw .badParameter("no cut after '\(tensor)': it is not a node's first output before the graph's outputs (cuts: \(known)\(all.count > 8 ? ", …" : ""); models inspect --cuts lists them)")
        }
        guard let index = graph.node.firstIndex(where: { $0.output.first == tensor }) else { throw .badParameter("no node makes '\(tensor)'") }
        var types: [String: (ElementType, [Int])] = [:]
        for layer in analysis.layers {
            for (k, name) in layer.outputNames.enumerated() where k < layer.outputShapes.count {
                types[name] = (k < layer.outputTypes.count ? layer.outputTypes[k] : .f32, layer.outputShapes[k])
            }
        }
        func valueInfo(_ name: String) throws(ZooError) -> Onnx_ValueInfoProto {
            guard let (type, dims) = types[name] else { throw .badParameter("the shape of '\(name)' is unknown: the analyzer stopped before it") }
            var shape = Onnx_TensorShapeProto()
            shape.dim = dims.map { value in
                var dim = Onnx_TensorShapeProto.Dimension()
                dim.dimValue = Int64(value)
                return dim
            }
            var tensorType = Onnx_TypeProto.Tensor()
            tensorType.elemType = onnxType(type)
            tensorType.shape = shape
            var info = Onnx_ValueInfoProto()
            info.name = name
            info.type.tensorType = tensorType
            return info
        }
        let headNodes = Array(graph.node[...index])
        var tailNodes = Array(graph.node[(index + 1)...])
        // A constant the tail reads travels as the node that makes it, not as a tensor.
        let tailReads = Set(tailNodes.flatMap(\.input))
        tailNodes.insert(contentsOf: headNodes.filter { $0.opType == "Constant" && $0.output.contains(where: tailReads.contains) }, at: 0)
        func part(_ nodes: [Onnx_NodeProto], inputs: [Onnx_ValueInfoProto], outputs: [Onnx_ValueInfoProto], name: String) -> Onnx_ModelProto {
            var part = model
            part.graph.node = nodes
            part.graph.name = graph.name + "-" + name
            let reads = Set(nodes.flatMap(\.input))
            part.graph.initializer = graph.initializer.filter { reads.contains($0.name) }
            part.graph.input = inputs
            part.graph.output = outputs
            part.graph.valueInfo = []
            return part
        }
        let headReads = Set(headNodes.flatMap(\.input))
        let initializers = Set(graph.initializer.map(\.name))
        let graphInputs = Dictionary(graph.input.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let head = part(headNodes, inputs: graph.input.filter { headReads.contains($0.name) && !initializers.contains($0.name) },
                        outputs: try point.crossing.filter { graphInputs[$0] == nil }.map(valueInfo), name: "head")
        var tailInputs: [Onnx_ValueInfoProto] = []
        for name in point.crossing {
            if let input = graphInputs[name] { tailInputs.append(input) } else { tailInputs.append(try valueInfo(name)) }
        }
        let tail = part(tailNodes, inputs: tailInputs, outputs: graph.output, name: "tail")
        return (head, tail, point)
    }

    /// The head's and the tail's files for `model` (a zoo name or an ONNX file) cut after `tensor`,
    /// written once into the cache (the same cut, the same files: the device and the cloud node each
    /// find them on their own host) — and the cut.
    public static func files(_ model: String, after tensor: String) throws(ZooError) -> (head: String, tail: String, point: CutPoint) {
        let (path, data, proto, analysis) = try load(model)
        // Named by the model file's own name and size: another file of the same name is another cut.
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension + "-\(data.count)"
        let safe = String(tensor.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
        let folder = ModelZoo.cacheFolder() + "/cuts"
        let head = "\(folder)/\(stem)-after-\(safe)-head.onnx", tail = "\(folder)/\(stem)-after-\(safe)-tail.onnx"
        let (headModel, tailModel, point) = try cut(proto, after: tensor, analysis: analysis)
        for (part, file) in [(headModel, head), (tailModel, tail)] where !FileManager.default.fileExists(atPath: file) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try part.serializedData().write(to: URL(fileURLWithPath: file), options: .atomic)
            } catch {
                throw .writeFailed(path: file, reason: "\(error)")
            }
        }
        return (head, tail, point)
    }

    /// The cuts of `model` (a zoo name, `name@resolution`, or an ONNX file), in the graph's order.
    public static func points(of model: String) throws(ZooError) -> [CutPoint] {
        let (_, _, proto, analysis) = try load(model)
        return points(proto, analysis: analysis)
    }

    /// A model's file, its bytes, its graph and the analysis of it, for cutting.
    static func load(_ model: String) throws(ZooError) -> (path: String, data: Data, proto: Onnx_ModelProto, analysis: ModelAnalysis) {
        let path = try ModelZoo.resolve(model).path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw .unreadableFile(path: path, reason: "\(error.localizedDescription)") }
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: data) } catch { throw .unreadableFile(path: path, reason: "cutting reads ONNX models (\(error))") }
        return (path, data, proto, try ModelAnalyzer.analyze(proto))
    }

    /// ONNX's TensorProto data type of an element type.
    static func onnxType(_ type: ElementType) -> Int32 {
        let code: Onnx_TensorProto.DataType = switch type {
        case .u8: .uint8
        case .i8: .int8
        case .u16: .uint16
        case .i16: .int16
        case .i32: .int32
        case .i64: .int64
        case .boolean: .bool
        case .f16: .float16
        case .bf16: .bfloat16
        case .f64: .double
        case .u32: .uint32
        case .u64: .uint64
        case .f32: .float
        }
        return Int32(code.rawValue)
    }
}
