import EdgeInsightCore
import Foundation

/// Writes a zoo model — the ONNX graph `GraphBuilder` builds, same weights — as a TFLite flatbuffer
/// (the schema of tensorflow/lite/schema/schema.fbs, version 3), the way converters lay one out:
///
/// - activations are NHWC (`[1,H,W,C]`; the input `[1,R,R,3]`), so the pre-processing writes the
///   layout the model takes, as it does on a phone; weights are re-laid out to match (convolution
///   OHWI, depthwise `[1,kh,kw,C]`, fully connected `[out,in]` as ONNX's transposed Gemm);
/// - a ReLU or ReLU6 right after a convolution, a sum or a fully connected layer is fused into it
///   (`fused_activation_function`);
/// - padding: TFLite has only SAME and VALID, and a strided SAME pads the end where ONNX pads both
///   sides, so an asymmetric case becomes an explicit PAD then a VALID convolution — every output
///   pixel stays what ONNX computes;
/// - HardSigmoid (MobileNetV3's gate, relu6(x + 3) / 6) becomes ADD 3 with a fused ReLU6, then MUL 1/6.
///
/// The batch is 1 (TFLite files carry fixed shapes). Graphs outside the zoo's op set are refused
/// with the node that could not be written.
public enum TFLiteWriter {
    public static func convert(_ model: Onnx_ModelProto) throws(ZooError) -> [UInt8] {
        var graph = TFLiteGraph(model.graph, opset: Int(model.opsetImport.first?.version ?? GraphBuilder.opset))
        for node in model.graph.node where !graph.consumed.contains(node.name) {
            do { try graph.write(node) } catch {
                throw .badParameter("cannot write \(node.opType) node '\(node.name)' as TFLite: \(error.reason)")
            }
        }
        return graph.serialize(description: model.docString)
    }
}

/// Builtin operator codes and option-union tags of the TFLite schema.
private enum Builtin: Int32 {
    case add = 0, concatenation = 2, conv2d = 3, depthwiseConv2d = 4, fullyConnected = 9, logistic = 14
    case maxPool2d = 17, mul = 18, relu = 19, relu6 = 21, reshape = 22, pad = 34, mean = 40, hardSwish = 117

    /// The BuiltinOptions union member this operator's options are, when it has any.
    var optionsType: UInt8? {
        switch self {
        case .conv2d: 1
        case .depthwiseConv2d: 2
        case .maxPool2d: 5
        case .fullyConnected: 8
        case .concatenation: 10
        case .add: 11
        case .reshape: 17
        case .mul: 21
        case .pad: 22
        case .mean: 27
        default: nil
        }
    }
}

/// Schema enums: Padding, ActivationFunctionType, TensorType.
private enum Padding: UInt8 { case same = 0, valid = 1 }
private enum FusedActivation: UInt8 { case none = 0, relu = 1, relu6 = 3 }
private let float32Type: UInt8 = 0, int32Type: UInt8 = 2

private struct TFLiteGraph {
    let onnx: Onnx_GraphProto
    let opset: Int
    var known: [String: KnownTensor] = [:]
    var weights: [String: Onnx_TensorProto] = [:]
    /// ONNX tensor name → TFLite tensor index.
    var index: [String: Int32] = [:]
    /// Nodes folded into the one before them (fused activations).
    var consumed = Set<String>()
    /// Tensors known to be ≥ 0 (outputs of ReLU), where zero padding equals ignoring the border.
    var nonNegative = Set<String>()
    var tensors: [FlatValue] = []
    var buffers: [FlatValue] = [.table([:])]  // buffer 0: the empty buffer of every activation
    var opcodes: [Builtin] = []
    var operators: [FlatValue] = []
    var consumers: [String: [Onnx_NodeProto]] = [:]

    init(_ graph: Onnx_GraphProto, opset: Int) {
        onnx = graph
        self.opset = opset
        for tensor in graph.initializer {
            weights[tensor.name] = tensor
            known[tensor.name] = ShapeInference.tensorValue(tensor)
        }
        for node in graph.node { for input in node.input { consumers[input, default: []].append(node) } }
        for input in graph.input where weights[input.name] == nil {
            let dims = input.type.tensorType.shape.dim.map { if case .dimValue(let value) = $0.value { Int(value) } else { 1 } }
            known[input.name] = KnownTensor(dims)
            index[input.name] = addTensor(input.name, dims)
        }
    }

    mutating func write(_ node: Onnx_NodeProto) throws(InferenceFailure) {
        let inputs = try node.input.map { name throws(InferenceFailure) -> KnownTensor in
            guard let tensor = known[name] else { throw InferenceFailure("input '\(name)' is unknown") }
            return tensor
        }
        let outputs = try ShapeInference.infer(node, inputs, opset: opset).outputs
        for (name, tensor) in zip(node.output, outputs) { known[name] = tensor }
        let a = Attributes(node)
        let out = node.output[0]
        switch node.opType {
        case "Conv":
            try convolution(node, a)
        case "Relu":
            nonNegative.insert(out)
            emit(.relu, [node.input[0]], out)
        case "Clip":
            guard Self.isReLU6(node, a, known) else { throw InferenceFailure("only Clip(0, 6) (ReLU6) is written") }
            nonNegative.insert(out)
            emit(.relu6, [node.input[0]], out)
        case "HardSwish":
            emit(.hardSwish, [node.input[0]], out)
        case "Sigmoid":
            emit(.logistic, [node.input[0]], out)
        case "HardSigmoid":
            guard abs((a.attribute("alpha")?.f ?? 0.2) - 1.0 / 6) < 1e-6, abs((a.attribute("beta")?.f ?? 0.5) - 0.5) < 1e-6 else {
                throw InferenceFailure("only HardSigmoid(alpha 1/6, beta 0.5) is written")
            }
            let shifted = out + "/plus3"
            known[shifted] = known[out]
            emit(.add, [node.input[0], constant(out + "/3", [3])], shifted, options: [1: .byte(FusedActivation.relu6.rawValue)])
            emit(.mul, [shifted, constant(out + "/sixth", [1.0 / 6])], out, options: [:])
        case "Add":
            let activation = fusedActivation(after: node)
            emit(.add, node.input, activation.output, options: [0: .byte(activation.fused.rawValue)])
        case "Mul":
            emit(.mul, node.input, out, options: [:])
        case "GlobalAveragePool":
            emit(.mean, [node.input[0], constant(out + "/axes", int32s: [1, 2])], out, options: [0: .bool(true)])
        case "MaxPool":
            try maxPool(node, a)
        case "Concat":
            guard a.int("axis") == 1, inputs[0].shape.count == 4 else { throw InferenceFailure("only a channel concatenation of feature maps is written") }
            emit(.concatenation, node.input, out, options: [0: .int32(3)])
        case "Flatten":
            let shape = inputs[0].shape
            guard a.int("axis") ?? 1 == 1, shape.count != 4 || shape[2] * shape[3] == 1 else {
                throw InferenceFailure("only a flatten of [N,C,1,1] is written (NHWC and NCHW orders agree there)")
            }
            reshape(node.input[0], out)
        case "Gemm":
            guard a.int("transA") ?? 0 == 0, a.int("transB") == 1, (a.attribute("alpha")?.f ?? 1) == 1, (a.attribute("beta")?.f ?? 1) == 1 else {
                throw InferenceFailure("only Gemm(x, Wᵀ, b) is written")
            }
            let activation = fusedActivation(after: node)
            emit(.fullyConnected, [node.input[0], weight(node.input[1]), weight(node.input[2])], activation.output,
                 options: [0: .byte(activation.fused.rawValue)])
        case "Identity":
            if weights[node.input[0]] == nil, onnx.input.contains(where: { $0.name == node.input[0] }) {
                // A graph that only returns its input still needs one operator.
                reshape(node.input[0], out)
            } else {
                index[out] = index[node.input[0]]
            }
        default:
            throw InferenceFailure("the zoo's TFLite writer has no rule for it")
        }
    }

    /// Whether a Clip is ReLU6, its bounds given as inputs (opset 11 on) or attributes (before).
    static func isReLU6(_ node: Onnx_NodeProto, _ a: Attributes, _ known: [String: KnownTensor]) -> Bool {
        let bounds = node.input.count == 3 ? [known[node.input[1]]?.values?.first, known[node.input[2]]?.values?.first]
            : [a.attribute("min").map { Double($0.f) }, a.attribute("max").map { Double($0.f) }]
        return bounds == [0, 6]
    }

    /// CONV_2D or DEPTHWISE_CONV_2D, with weights re-laid out and a following ReLU/ReLU6 fused.
    private mutating func convolution(_ node: Onnx_NodeProto, _ a: Attributes) throws(InferenceFailure) {
        guard let w = weights[node.input[1]], w.dims.count == 4, node.input.count == 3, let b = weights[node.input[2]] else {
            throw InferenceFailure("a convolution needs constant weights and a bias")
        }
        guard (a.ints("dilations") ?? [1, 1]) == [1, 1], (a.string("auto_pad") ?? "NOTSET") == "NOTSET" else {
            throw InferenceFailure("dilated or auto-padded convolutions are not written")
        }
        let dims = w.dims.map { Int($0) }
        let (outChannels, perGroup, kh, kw) = (dims[0], dims[1], dims[2], dims[3])
        let groups = a.int("group") ?? 1
        let inChannels = known[node.input[0]]!.shape[1]
        let values = floats(w)
        let strides = a.ints("strides") ?? [1, 1]
        var input = node.input[0]
        let padding = try pad(&input, pads: a.ints("pads") ?? [0, 0, 0, 0], kernel: [kh, kw], strides: strides, zeroIsExact: true)
        let activation = fusedActivation(after: node)
        let bias = constant(b.name, floats(b))
        if groups == 1 {
            // OIHW → OHWI
            var laid = [Float](repeating: 0, count: values.count)
            for o in 0..<outChannels { for i in 0..<perGroup { for y in 0..<kh { for x in 0..<kw {
                laid[((o * kh + y) * kw + x) * perGroup + i] = values[((o * perGroup + i) * kh + y) * kw + x]
            } } } }
            let filter = constant(w.name, laid, shape: [outChannels, kh, kw, perGroup])
            emit(.conv2d, [input, filter, bias], activation.output, options: [
                0: .byte(padding.rawValue), 1: .int32(Int32(strides[1])), 2: .int32(Int32(strides[0])),
                3: .byte(activation.fused.rawValue), 4: .int32(1), 5: .int32(1),
            ])
        } else if groups == inChannels, perGroup == 1, outChannels == inChannels {
            // [C,1,kh,kw] → [1,kh,kw,C]
            var laid = [Float](repeating: 0, count: values.count)
            for c in 0..<outChannels { for y in 0..<kh { for x in 0..<kw {
                laid[(y * kw + x) * outChannels + c] = values[(c * kh + y) * kw + x]
            } } }
            let filter = constant(w.name, laid, shape: [1, kh, kw, outChannels])
            emit(.depthwiseConv2d, [input, filter, bias], activation.output, options: [
                0: .byte(padding.rawValue), 1: .int32(Int32(strides[1])), 2: .int32(Int32(strides[0])), 3: .int32(1),
                4: .byte(activation.fused.rawValue), 5: .int32(1), 6: .int32(1),
            ])
        } else {
            throw InferenceFailure("grouped convolutions other than depthwise are not written")
        }
    }

    private mutating func maxPool(_ node: Onnx_NodeProto, _ a: Attributes) throws(InferenceFailure) {
        guard let kernel = a.ints("kernel_shape"), kernel.count == 2 else { throw InferenceFailure("a 2-D kernel is needed") }
        let strides = a.ints("strides") ?? [1, 1]
        let x = known[node.input[0]]!.shape, y = known[node.output[0]]!.shape
        var pads = a.ints("pads") ?? [0, 0, 0, 0]
        // Ceil mode's last partial window: pad the end so a VALID pool has it too.
        for axis in 0..<2 {
            let needed = (y[2 + axis] - 1) * strides[axis] + kernel[axis]
            pads[2 + axis] = max(0, needed - x[2 + axis] - pads[axis])
        }
        var input = node.input[0]
        let padding = try pad(&input, pads: pads, kernel: kernel, strides: strides, zeroIsExact: nonNegative.contains(node.input[0]))
        if nonNegative.contains(node.input[0]) { nonNegative.insert(node.output[0]) }
        emit(.maxPool2d, [input], node.output[0], options: [
            0: .byte(padding.rawValue), 1: .int32(Int32(strides[1])), 2: .int32(Int32(strides[0])),
            3: .int32(Int32(kernel[1])), 4: .int32(Int32(kernel[0])), 5: .byte(FusedActivation.none.rawValue),
        ])
    }

    /// RESHAPE to `output`'s shape with the batch left free (-1), so the model can be resized to a batch.
    private mutating func reshape(_ input: String, _ output: String) {
        let shape = [-1] + known[output]!.shape.dropFirst().map { Int32($0) }
        emit(.reshape, [input, constant(output + "/shape", int32s: shape)], output, options: [0: .reference(.int32s(shape))])
    }

    /// SAME where it computes what ONNX's explicit `pads` do (stride 1, centred), VALID without
    /// pads, else a PAD operator in front of `input` and VALID.
    private mutating func pad(_ input: inout String, pads: [Int], kernel: [Int], strides: [Int], zeroIsExact: Bool) throws(InferenceFailure) -> Padding {
        if pads.allSatisfy({ $0 == 0 }) { return .valid }
        if strides == [1, 1], pads == [(kernel[0] - 1) / 2, (kernel[1] - 1) / 2, kernel[0] / 2, kernel[1] / 2], zeroIsExact {
            return .same
        }
        guard zeroIsExact else { throw InferenceFailure("padding a max pool with zeros is exact only after a ReLU") }
        let padded = input + "/padded"
        let shape = known[input]!.shape
        known[padded] = KnownTensor([shape[0], shape[1], shape[2] + pads[0] + pads[2], shape[3] + pads[1] + pads[3]])
        emit(.pad, [input, constant(padded + "/pads", int32s: [0, 0, Int32(pads[0]), Int32(pads[2]), Int32(pads[1]), Int32(pads[3]), 0, 0], shape: [4, 2])],
             padded, options: [:])
        if nonNegative.contains(input) { nonNegative.insert(padded) }
        input = padded
        return .valid
    }

    /// The activation fused into `node`: ReLU or ReLU6 as its only consumer, which is then skipped
    /// and whose output the fused operator writes.
    private mutating func fusedActivation(after node: Onnx_NodeProto) -> (fused: FusedActivation, output: String) {
        let out = node.output[0]
        guard let next = consumers[out], next.count == 1 else { return (.none, out) }
        let follower = next[0]
        if follower.opType == "Relu" {
            consumed.insert(follower.name)
            known[follower.output[0]] = known[out]
            nonNegative.insert(follower.output[0])
            return (.relu, follower.output[0])
        }
        if follower.opType == "Clip", Self.isReLU6(follower, Attributes(follower), known) {
            consumed.insert(follower.name)
            known[follower.output[0]] = known[out]
            nonNegative.insert(follower.output[0])
            return (.relu6, follower.output[0])
        }
        return (.none, out)
    }

    // MARK: Tensors and operators

    /// Appends an operator writing the ONNX tensor `output` (a new TFLite tensor of its shape).
    private mutating func emit(_ code: Builtin, _ inputs: [String], _ output: String, options: [Int: FlatField]? = nil) {
        let opcode: Int
        if let found = opcodes.firstIndex(of: code) { opcode = found } else { opcodes.append(code); opcode = opcodes.count - 1 }
        let result = addTensor(output, known[output]!.shape)
        index[output] = result
        var fields: [Int: FlatField] = [
            0: .uint32(UInt32(opcode)),
            1: .reference(.int32s(inputs.map { index[$0]! })),
            2: .reference(.int32s([result])),
        ]
        if let options, let tag = code.optionsType {
            fields[3] = .byte(tag)
            fields[4] = .reference(.table(options))
        }
        operators.append(.table(fields))
    }

    /// A TFLite tensor for an ONNX-shaped one: rank-4 shapes go from NCHW to NHWC.
    private mutating func addTensor(_ name: String, _ shape: [Int], type: UInt8 = float32Type, data: [UInt8]? = nil, layoutGiven: Bool = false) -> Int32 {
        let dims = shape.count == 4 && !layoutGiven ? [shape[0], shape[2], shape[3], shape[1]] : shape
        var buffer: UInt32 = 0
        if let data {
            buffers.append(.table([0: .reference(.bytes(data, alignment: 16))]))
            buffer = UInt32(buffers.count - 1)
        }
        tensors.append(.table([
            0: .reference(.int32s(dims.map { Int32($0) })), 1: .byte(type), 2: .uint32(buffer), 3: .reference(.string(name)),
        ]))
        return Int32(tensors.count - 1)
    }

    /// A constant FP32 tensor, laid out as given.
    private mutating func constant(_ name: String, _ values: [Float], shape: [Int]? = nil) -> String {
        let data = values.withUnsafeBytes { Array($0) }
        index[name] = addTensor(name, shape ?? [values.count], data: data, layoutGiven: true)
        return name
    }

    private mutating func constant(_ name: String, int32s values: [Int32], shape: [Int]? = nil) -> String {
        let data = values.withUnsafeBytes { Array($0) }
        index[name] = addTensor(name, shape ?? [values.count], type: int32Type, data: data, layoutGiven: true)
        return name
    }

    /// An ONNX initializer as a constant laid out as it is (fully connected weights and biases).
    private mutating func weight(_ name: String) -> String {
        let tensor = weights[name]!
        return constant(name, floats(tensor), shape: tensor.dims.map { Int($0) })
    }

    private func floats(_ tensor: Onnx_TensorProto) -> [Float] {
        if !tensor.floatData.isEmpty { return tensor.floatData }
        return tensor.rawData.withUnsafeBytes { raw in
            (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    // MARK: The model

    func serialize(description: String) -> [UInt8] {
        let inputs = onnx.input.filter { weights[$0.name] == nil }.map(\.name)
        let outputs = onnx.output.map(\.name)
        let map = { (names: [String]) -> FlatValue in
            .tables(names.map { .table([0: .reference(.string($0)), 1: .uint32(UInt32(index[$0]!))]) })
        }
        let subgraph: FlatValue = .table([
            0: .reference(.tables(tensors)),
            1: .reference(.int32s(inputs.map { index[$0]! })),
            2: .reference(.int32s(outputs.map { index[$0]! })),
            3: .reference(.tables(operators)),
            4: .reference(.string("main")),
        ])
        let codes: [FlatValue] = opcodes.map { code in
            .table([0: .byte(UInt8(min(code.rawValue, 127))), 2: .int32(1), 3: .int32(code.rawValue)])
        }
        let signature: FlatValue = .table([
            0: .reference(map(inputs)), 1: .reference(map(outputs)), 2: .reference(.string("serving_default")), 4: .uint32(0),
        ])
        let model: FlatValue = .table([
            0: .uint32(3),
            1: .reference(.tables(codes)),
            2: .reference(.tables([subgraph])),
            3: .reference(.string(description)),
            4: .reference(.tables(buffers)),
            7: .reference(.tables([signature])),
        ])
        return FlatBufferWriter.serialize(model, identifier: "TFL3")
    }
}
