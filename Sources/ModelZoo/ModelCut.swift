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

    /// The head and the tail of `model` cut after the node that makes `tensor`, the activation
    /// crossing as `activation` encodes it (the cut's `crossingBytes` are the encoded ones).
    public static func cut(_ model: Onnx_ModelProto, after tensor: String, analysis: ModelAnalysis,
                           activation: ActivationEncoding = .fp32) throws(ZooError) -> (head: Onnx_ModelProto, tail: Onnx_ModelProto, point: CutPoint) {
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
        guard activation != .fp32 else { return (head, tail, point) }
        return try encode(head: head, tail: tail, point: point, as: activation)
    }

    /// The cut with each FP32 activation the head makes encoded at its end and decoded at the
    /// tail's start, as ONNX operators the engines run: `Cast` for fp16; for uint8 the
    /// per-tensor dynamic quantisation ONNX defines as DynamicQuantizeLinear (scale = (max(x,0) −
    /// min(x,0)) / 255, zero point = round(−min/scale)) written out in opset-10 operators so models
    /// of every opset from 10 take it, then `QuantizeLinear`, and `DequantizeLinear` in the tail.
    /// The wire keeps the activation's name; the scale and zero point travel as `NAME.scale` and
    /// `NAME.zero_point`.
    static func encode(head: Onnx_ModelProto, tail: Onnx_ModelProto, point: CutPoint, as activation: ActivationEncoding) throws(ZooError)
        -> (head: Onnx_ModelProto, tail: Onnx_ModelProto, point: CutPoint) {
        if activation == .uint8, let opset = head.opsetImport.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" })?.version, opset < 10 {
            throw .badParameter("uint8 activations need ONNX opset 10 or later (the model declares \(opset))")
        }
        var head = head, tail = tail, point = point
        let encoded = Set(head.graph.output.filter { $0.type.tensorType.elemType == onnxType(.f32) }.map(\.name))
        // The bytes the encoding saves; a crossing graph input (the image, read again by the tail) is sent as it is.
        for output in head.graph.output where encoded.contains(output.name) {
            let elements = output.type.tensorType.shape.dim.reduce(1) { $0 * max(Int($1.dimValue), 0) }
            point.crossingBytes -= elements * 4 - (activation == .fp16 ? elements * 2 : elements + 4 + 1)
        }
        func renamed(_ nodes: inout [Onnx_NodeProto], inputs: Bool, outputs: Bool) {
            for i in nodes.indices {
                if inputs { nodes[i].input = nodes[i].input.map { encoded.contains($0) ? $0 + ".f32" : $0 } }
                if outputs { nodes[i].output = nodes[i].output.map { encoded.contains($0) ? $0 + ".f32" : $0 } }
            }
        }
        renamed(&head.graph.node, inputs: true, outputs: true)
        renamed(&tail.graph.node, inputs: true, outputs: false)
        var headOutputs: [Onnx_ValueInfoProto] = [], tailInputs: [Onnx_ValueInfoProto] = [], decoders: [Onnx_NodeProto] = []
        func vector(_ name: String, _ type: ElementType) -> Onnx_ValueInfoProto {
            var info = Onnx_ValueInfoProto()
            info.name = name
            info.type.tensorType.elemType = onnxType(type)
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = 1
            info.type.tensorType.shape.dim = [dim]
            return info
        }
        for output in head.graph.output {
            guard encoded.contains(output.name) else { headOutputs.append(output); continue }
            let x = output.name, full = x + ".f32"
            var wire = output
            switch activation {
            case .fp16:
                wire.type.tensorType.elemType = onnxType(.f16)
                head.graph.node.append(node("Cast", [full], [x], ints: ["to": Int(onnxType(.f16))]))
                decoders.append(node("Cast", [x], [full], ints: ["to": Int(onnxType(.f32))]))
                headOutputs.append(wire)
                tailInputs.append(wire)
            case .uint8:
                wire.type.tensorType.elemType = onnxType(.u8)
                // Scale and zero point cross as one-element vectors (a rank-0 tensor is not
                // every server's or engine's to take), scalars again on each side.
                let scale = x + ".scale", zero = x + ".zero_point", k = x + ".q"
                head.graph.initializer += [constant(k + ".zero", 0), constant(k + ".levels", 255), constant(k + ".half", 0.5),
                                           constant(k + ".tiny", Float.leastNormalMagnitude), shape(k + ".vector", [1])]
                head.graph.node += [
                    node("ReduceMin", [full], [k + ".min"], ints: ["keepdims": 0]),
                    node("Min", [k + ".min", k + ".zero"], [k + ".low"]),
                    node("ReduceMax", [full], [k + ".max"], ints: ["keepdims": 0]),
                    node("Max", [k + ".max", k + ".zero"], [k + ".high"]),
                    node("Sub", [k + ".high", k + ".low"], [k + ".range"]),
                    node("Div", [k + ".range", k + ".levels"], [k + ".step"]),
                    // A tensor of zeros has range 0: any positive scale quantises it exactly.
                    node("Max", [k + ".step", k + ".tiny"], [k + ".scale"]),
                    node("Div", [k + ".low", k + ".scale"], [k + ".shift"]),
                    node("Neg", [k + ".shift"], [k + ".offset"]),
                    node("Add", [k + ".offset", k + ".half"], [k + ".rounding"]),
                    node("Floor", [k + ".rounding"], [k + ".point"]),
                    node("Cast", [k + ".point"], [k + ".zero_point"], ints: ["to": Int(onnxType(.u8))]),
                    node("QuantizeLinear", [full, k + ".scale", k + ".zero_point"], [x]),
                    node("Reshape", [k + ".scale", k + ".vector"], [scale]),
                    node("Reshape", [k + ".zero_point", k + ".vector"], [zero]),
                ]
                tail.graph.initializer.append(shape(k + ".scalar", []))
                decoders += [node("Reshape", [scale, k + ".scalar"], [k + ".scale"]), node("Reshape", [zero, k + ".scalar"], [k + ".zero_point"]),
                             node("DequantizeLinear", [x, k + ".scale", k + ".zero_point"], [full])]
                headOutputs += [wire, vector(scale, .f32), vector(zero, .u8)]
                tailInputs += [wire, vector(scale, .f32), vector(zero, .u8)]
            case .fp32:
                break
            }
        }
        head.graph.output = headOutputs
        tail.graph.input = tail.graph.input.filter { !encoded.contains($0.name) } + tailInputs
        tail.graph.node.insert(contentsOf: decoders, at: 0)
        return (head, tail, point)
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], ints: [String: Int] = [:]) -> Onnx_NodeProto {
        var node = Onnx_NodeProto()
        node.opType = op
        node.name = outputs[0] + "." + op
        node.input = inputs
        node.output = outputs
        node.attribute = ints.sorted { $0.key < $1.key }.map { GraphBuilder.int($0.key, $0.value) }
        return node
    }

    /// A shape, as `Reshape` takes it.
    static func shape(_ name: String, _ dims: [Int64]) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.dims = [Int64(dims.count)]
        tensor.int64Data = dims
        return tensor
    }

    /// A scalar FP32 weight.
    static func constant(_ name: String, _ value: Float) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = onnxType(.f32)
        tensor.floatData = [value]
        return tensor
    }

    /// The head's and the tail's files for `model` (a zoo name or an ONNX file) cut after `tensor`,
    /// written once into the cache (the same cut, the same files: the device and the cloud node each
    /// find them on their own host) — and the cut.
    public static func files(_ model: String, after tensor: String, activation: ActivationEncoding = .fp32) throws(ZooError) -> (head: String, tail: String, point: CutPoint) {
        let (path, data, proto, analysis) = try load(model)
        // Named by the model file's own name and size: another file of the same name is another cut.
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension + "-\(data.count)"
        let safe = String(tensor.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" }) + (activation == .fp32 ? "" : "-" + activation.rawValue)
        let folder = ModelZoo.cacheFolder() + "/cuts"
        let head = "\(folder)/\(stem)-after-\(safe)-head.onnx", tail = "\(folder)/\(stem)-after-\(safe)-tail.onnx"
        let (headModel, tailModel, point) = try cut(proto, after: tensor, analysis: analysis, activation: activation)
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
