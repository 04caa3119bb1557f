import EdgeInsightCore
import Foundation
import SwiftProtobuf

/// A tensor being built in a graph, with its channel count (NCHW) so layers can size their weights.
public struct Node: Sendable {
    public var name: String
    public var channels: Int
}

/// Activation functions the zoo architectures use.
public enum Activation: Sendable {
    case relu, relu6, hardSwish, swish
}

/// Builds an ONNX graph layer by layer, with seeded weights.
///
/// Batch normalisation is folded into each convolution's bias, as deployment exports do; weights
/// are uniform with He-style scale so activations stay finite through deep networks. They are not
/// trained: speed does not depend on weight values, accuracy does.
public struct GraphBuilder {
    /// ONNX opset of a zoo model with HardSwish (it needs 14; 17 is widely supported); the others
    /// declare `plainOpset`, the lowest their ops allow, where ReLU6 is a Clip with attributes —
    /// the form older importers (Debian 12's OpenCV 4.6) take; from opset 11 its bounds are inputs.
    public static let opset: Int64 = 17
    public static let plainOpset: Int64 = 10
    /// ONNX IR version matching opset 17 (it reads the older opsets too).
    public static let irVersion: Int64 = 8

    private var nodes: [Onnx_NodeProto] = []
    private var initializers: [Onnx_TensorProto] = []
    private var inputs: [Onnx_ValueInfoProto] = []
    private var counter = 0
    private var usesHardSwish = false
    private var random: SeededRandom

    public init(seed: UInt64) { random = SeededRandom(seed: seed) }

    // MARK: Graph inputs and outputs

    /// Declares an FP32 graph input `[batch, dims…]` with a dynamic batch dimension.
    public mutating func input(_ name: String, dims: [Int]) -> Node {
        inputs.append(Self.valueInfo(name, dims: dims))
        return Node(name: name, channels: dims.first ?? 0)
    }

    /// Finishes the graph: `outputs` become graph outputs `[batch, dims…]`, renamed as given.
    public mutating func model(name: String, outputs: [(Node, String, [Int])], docString: String) -> Onnx_ModelProto {
        var graphOutputs: [Onnx_ValueInfoProto] = []
        for (node, outputName, dims) in outputs {
            append("Identity", [node.name], output: outputName)
            graphOutputs.append(Self.valueInfo(outputName, dims: dims))
        }
        let version = usesHardSwish ? Self.opset : Self.plainOpset
        if version < 11 { clipBoundsAsAttributes() }
        var graph = Onnx_GraphProto()
        graph.name = name
        graph.node = nodes
        graph.initializer = initializers
        graph.input = inputs
        graph.output = graphOutputs
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = version
        var model = Onnx_ModelProto()
        model.irVersion = Self.irVersion
        model.producerName = "edgeinsight"
        model.producerVersion = "1"
        model.docString = docString
        model.opsetImport = [opset]
        model.graph = graph
        return model
    }

    // MARK: Layers

    /// Convolution (BN folded into its bias), optionally followed by an activation. `groups == channels` is depthwise.
    public mutating func conv(_ x: Node, out: Int, kernel: Int, stride: Int = 1, groups: Int = 1, pad: Int? = nil, activation: Activation? = nil, gain: Float = 1) -> Node {
        let fanIn = (x.channels / groups) * kernel * kernel
        let weight = weights([out, x.channels / groups, kernel, kernel], fanIn: fanIn, gain: gain)
        let bias = weights([out], fanIn: 0, gain: 0.05)
        let pad = pad ?? (kernel - 1) / 2
        let y = append("Conv", [x.name, weight, bias], attributes: [
            Self.ints("kernel_shape", [kernel, kernel]), Self.ints("strides", [stride, stride]),
            Self.ints("pads", [pad, pad, pad, pad]), Self.ints("dilations", [1, 1]), Self.int("group", groups),
        ])
        let result = Node(name: y, channels: out)
        return activation.map { activate(result, $0) } ?? result
    }

    /// Applies an activation function.
    public mutating func activate(_ x: Node, _ activation: Activation) -> Node {
        switch activation {
        case .relu:
            return Node(name: append("Relu", [x.name]), channels: x.channels)
        case .relu6:
            let low = scalar(0), high = scalar(6)
            return Node(name: append("Clip", [x.name, low, high]), channels: x.channels)
        case .hardSwish:
            usesHardSwish = true
            return Node(name: append("HardSwish", [x.name]), channels: x.channels)
        case .swish:
            let gate = append("Sigmoid", [x.name])
            return Node(name: append("Mul", [x.name, gate]), channels: x.channels)
        }
    }

    /// Hard sigmoid as MobileNetV3 defines it: relu6(x + 3) / 6.
    public mutating func hardSigmoid(_ x: Node) -> Node {
        Node(name: append("HardSigmoid", [x.name], attributes: [Self.float("alpha", 1.0 / 6.0), Self.float("beta", 0.5)]), channels: x.channels)
    }

    /// Sigmoid.
    public mutating func sigmoid(_ x: Node) -> Node {
        Node(name: append("Sigmoid", [x.name]), channels: x.channels)
    }

    /// Element-wise sum (residual connections).
    public mutating func add(_ a: Node, _ b: Node) -> Node {
        Node(name: append("Add", [a.name, b.name]), channels: a.channels)
    }

    /// Element-wise product, broadcasting `[N,C,1,1]` gates over feature maps.
    public mutating func mul(_ a: Node, _ b: Node) -> Node {
        Node(name: append("Mul", [a.name, b.name]), channels: a.channels)
    }

    /// Squeeze-and-excitation: global pool, reduce, activate, expand, gate.
    public mutating func squeezeExcite(_ x: Node, squeezed: Int, activation: Activation, gate: (inout GraphBuilder, Node) -> Node) -> Node {
        let pooled = globalAveragePool(x)
        let reduced = conv(pooled, out: squeezed, kernel: 1, activation: activation)
        let expanded = conv(reduced, out: x.channels, kernel: 1)
        return mul(x, gate(&self, expanded))
    }

    /// Global average pooling to `[N,C,1,1]`.
    public mutating func globalAveragePool(_ x: Node) -> Node {
        Node(name: append("GlobalAveragePool", [x.name]), channels: x.channels)
    }

    /// Max pooling.
    public mutating func maxPool(_ x: Node, kernel: Int, stride: Int, pad: Int = 0, ceil: Bool = false) -> Node {
        Node(name: append("MaxPool", [x.name], attributes: [
            Self.ints("kernel_shape", [kernel, kernel]), Self.ints("strides", [stride, stride]),
            Self.ints("pads", [pad, pad, pad, pad]), Self.int("ceil_mode", ceil ? 1 : 0),
        ]), channels: x.channels)
    }

    /// Concatenation along channels.
    public mutating func concat(_ parts: [Node]) -> Node {
        Node(name: append("Concat", parts.map(\.name), attributes: [Self.int("axis", 1)]), channels: parts.reduce(0) { $0 + $1.channels })
    }

    /// Flattens `[N,C,1,1]` to `[N,C]`.
    public mutating func flatten(_ x: Node) -> Node {
        Node(name: append("Flatten", [x.name], attributes: [Self.int("axis", 1)]), channels: x.channels)
    }

    /// Fully connected layer `[N,in] → [N,out]` (Gemm with transposed weights, as exporters write it).
    public mutating func dense(_ x: Node, out: Int, activation: Activation? = nil) -> Node {
        let weight = weights([out, x.channels], fanIn: x.channels, gain: 1)
        let bias = weights([out], fanIn: 0, gain: 0.05)
        let y = Node(name: append("Gemm", [x.name, weight, bias], attributes: [Self.int("transB", 1)]), channels: out)
        return activation.map { activate(y, $0) } ?? y
    }

    /// A node with an explicit op type, for the micro-models.
    public mutating func op(_ type: String, _ inputs: [Node]) -> Node {
        Node(name: append(type, inputs.map(\.name)), channels: inputs.first?.channels ?? 0)
    }

    // MARK: Plumbing

    /// Opset 6–10's Clip: the bounds as `min`/`max` attributes, their scalar initializers dropped.
    private mutating func clipBoundsAsAttributes() {
        var bounds = Set<String>()
        for index in nodes.indices where nodes[index].opType == "Clip" && nodes[index].input.count == 3 {
            let names = Array(nodes[index].input[1...])
            let values = names.map { name in initializers.first { $0.name == name }!.floatData[0] }
            nodes[index].input = [nodes[index].input[0]]
            nodes[index].attribute = [Self.float("min", values[0]), Self.float("max", values[1])]
            bounds.formUnion(names)
        }
        initializers.removeAll { bounds.contains($0.name) }
    }

    @discardableResult
    private mutating func append(_ type: String, _ inputNames: [String], output: String? = nil, attributes: [Onnx_AttributeProto] = []) -> String {
        counter += 1
        var node = Onnx_NodeProto()
        node.opType = type
        node.name = "\(type.lowercased())_\(counter)"
        node.input = inputNames
        let outputName = output ?? "t\(counter)"
        node.output = [outputName]
        node.attribute = attributes
        nodes.append(node)
        return outputName
    }

    /// An FP32 initializer of uniform values scaled to He variance (2 / fan-in) times `gain`;
    /// with `fanIn == 0`, uniform in ±gain.
    private mutating func weights(_ dims: [Int], fanIn: Int, gain: Float) -> String {
        counter += 1
        let name = "w\(counter)"
        let bound = fanIn > 0 ? gain * (6.0 / Float(fanIn)).squareRoot() : gain
        let count = dims.reduce(1, *)
        var data = Data(count: count * 4)
        data.withUnsafeMutableBytes { raw in
            let floats = raw.bindMemory(to: Float.self)
            for i in 0..<count { floats[i] = random.nextSignedUnitFloat() * bound }
        }
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = dims.map(Int64.init)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.rawData = data
        initializers.append(tensor)
        return name
    }

    /// A rank-0 FP32 constant (Clip bounds).
    private mutating func scalar(_ value: Float) -> String {
        counter += 1
        let name = "c\(counter)"
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.floatData = [value]
        initializers.append(tensor)
        return name
    }

    private static func valueInfo(_ name: String, dims: [Int]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "batch"
        shape.dim = [batch] + dims.map { value in
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = Int64(value)
            return dim
        }
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensorType.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensorType
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }

    private static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = values.map(Int64.init)
        return attribute
    }

    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = Int64(value)
        return attribute
    }

    private static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .float
        attribute.f = value
        return attribute
    }
}

/// Rounds a channel count to a multiple of `divisor`, never below 90% of the original
/// (the rule MobileNet and EfficientNet use when scaling widths).
public func makeDivisible(_ value: Double, divisor: Int = 8) -> Int {
    let rounded = max(divisor, Int(value + Double(divisor) / 2) / divisor * divisor)
    return Double(rounded) < 0.9 * value ? rounded + divisor : rounded
}
