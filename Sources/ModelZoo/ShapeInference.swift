import EdgeInsightCore
import Foundation

/// What the analyzer knows about one tensor: its shape and element type, and its values when they
/// are fixed before any input arrives (initializers, `Constant` nodes and what folds from them and
/// from `Shape`) and small enough to matter for shape arithmetic.
struct KnownTensor: Sendable {
    var shape: [Int]
    var type: ElementType
    /// Values in row-major order; nil when not constant or too large to keep.
    var values: [Double]?

    init(_ shape: [Int], _ type: ElementType = .f32, values: [Double]? = nil) {
        self.shape = shape
        self.type = type
        self.values = values.flatMap { $0.count <= KnownTensor.valueLimit ? $0 : nil }
    }

    /// Shape arithmetic never needs more; weight values are not kept.
    static let valueLimit = 4096

    var elements: Int { shape.reduce(1, *) }

    /// The values as integers (ONNX's INT64 extremes, used as "to the end" in Slice, clamp).
    var ints: [Int]? {
        values?.map { $0 >= 9.2e18 ? Int.max : $0 <= -9.2e18 ? Int.min : Int($0) }
    }
}

/// Why a node's output shapes could not be inferred.
struct InferenceFailure: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// ONNX shape inference for the ops exporters emit, opsets 7 to current, with constant folding of
/// the integer arithmetic exporters use to compute shapes (`Shape → Gather → Concat → Reshape`).
///
/// Rules follow the operator specifications; where an op changed between opsets (an attribute
/// became an input: Slice 10, Pad 11, Squeeze/Unsqueeze/Split 13, Reduce* 13/18; Resize's inputs
/// 10/11; Upsample 7/9), both forms are read. MACs count Conv, ConvTranspose, Gemm and MatMul.
enum ShapeInference {
    /// The output tensors of `node` (one per declared output) and its multiply–accumulates.
    /// `inputs[i]` is nil only where the node leaves optional input i out (an empty name).
    static func infer(_ node: Onnx_NodeProto, _ inputs: [KnownTensor?], opset: Int) throws(InferenceFailure) -> (outputs: [KnownTensor], macs: Int) {
        let a = Attributes(node)
        let op = node.opType
        if op == "Constant" { return ([try constant(a)], 0) }
        guard let x = inputs.first ?? nil else { throw InferenceFailure("it has no input") }
        let outputCount = max(1, node.output.count)
        func input(_ i: Int) -> KnownTensor? { i < inputs.count ? inputs[i] : nil }
        /// Integer values of input `i`, which must be constant.
        func constantInts(_ i: Int, _ what: String) throws(InferenceFailure) -> [Int] {
            guard let values = input(i)?.ints else { throw InferenceFailure("its \(what) (input \(i + 1)) is not a constant") }
            return values
        }
        /// An argument given as attribute `name` (older opsets) or as constant input `i` (newer ones).
        func optionalArgument(_ name: String, _ i: Int, _ what: String) throws(InferenceFailure) -> [Int]? {
            if let values = a.ints(name) { return values }
            return input(i) == nil ? nil : try constantInts(i, what)
        }
        func argument(_ name: String, _ i: Int, _ what: String) throws(InferenceFailure) -> [Int] {
            if let values = try optionalArgument(name, i, what) { return values }
            throw InferenceFailure("it has no \(what)")
        }
        func same(_ shape: [Int], _ type: ElementType? = nil, values: [Double]? = nil) -> ([KnownTensor], Int) {
            ([KnownTensor(shape, type ?? x.type, values: values)] + Array(repeating: KnownTensor(shape, .i64), count: outputCount - 1), 0)
        }
        let rank = x.shape.count
        /// A convolution's weight and window: kernel, strides and dilations per spatial axis, groups.
        func convolution() throws(InferenceFailure) -> (KnownTensor, Int, [Int], [Int], [Int], Int) {
            guard let w = input(1), w.shape.count == rank, rank >= 3 else { throw InferenceFailure("its weight is not of the input's rank") }
            let spatial = rank - 2
            return (w, spatial, a.ints("kernel_shape") ?? Array(w.shape[2...]), a.ints("strides") ?? Array(repeating: 1, count: spatial),
                    a.ints("dilations") ?? Array(repeating: 1, count: spatial), a.int("group") ?? 1)
        }

        switch op {
        case "Conv":
            let (w, spatial, kernel, strides, dilations, group) = try convolution()
            var out = [x.shape[0], w.shape[0]]
            for i in 0..<spatial {
                out.append(windowOutput(a, x.shape[i + 2], kernel: (kernel[i] - 1) * dilations[i] + 1, stride: strides[i], axis: i, spatial: spatial, ceil: false))
            }
            return ([KnownTensor(out, x.type)], out.reduce(1, *) * (x.shape[1] / max(1, group)) * kernel.reduce(1, *))
        case "ConvTranspose":
            let (w, spatial, kernel, strides, dilations, group) = try convolution()
            let outputPadding = a.ints("output_padding") ?? Array(repeating: 0, count: spatial)
            var out = [x.shape[0], w.shape[1] * group]
            if let explicit = a.ints("output_shape") {
                out += explicit.suffix(spatial)
            } else {
                let autoPad = a.string("auto_pad") ?? "NOTSET"
                let pads = a.ints("pads") ?? Array(repeating: 0, count: 2 * spatial)
                for i in 0..<spatial {
                    if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
                        out.append(x.shape[i + 2] * strides[i])
                    } else {
                        let padding = autoPad == "VALID" ? 0 : pads[i] + pads[i + spatial]
                        out.append(strides[i] * (x.shape[i + 2] - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1 - padding)
                    }
                }
            }
            // Every input element scatters into kernel × (output channels per group) outputs.
            return ([KnownTensor(out, x.type)], x.elements * w.shape[1] * kernel.reduce(1, *))
        case "MaxPool", "AveragePool", "LpPool":
            guard rank >= 3, let kernel = a.ints("kernel_shape") else { throw InferenceFailure("it has no kernel_shape") }
            let spatial = rank - 2
            let strides = a.ints("strides") ?? Array(repeating: 1, count: spatial)
            let dilations = a.ints("dilations") ?? Array(repeating: 1, count: spatial)
            let ceil = (a.int("ceil_mode") ?? 0) == 1
            var out = [x.shape[0], x.shape[1]]
            for i in 0..<spatial {
                out.append(windowOutput(a, x.shape[i + 2], kernel: (kernel[i] - 1) * dilations[i] + 1, stride: strides[i], axis: i, spatial: spatial, ceil: ceil))
            }
            return same(out)
        case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool":
            return same(Array(x.shape.prefix(2)) + Array(repeating: 1, count: max(0, rank - 2)))
        case "Gemm":
            guard let b = input(1), rank == 2, b.shape.count == 2 else { throw InferenceFailure("Gemm takes two matrices") }
            let (m, k) = (a.int("transA") ?? 0) == 1 ? (x.shape[1], x.shape[0]) : (x.shape[0], x.shape[1])
            let n = (a.int("transB") ?? 0) == 1 ? b.shape[0] : b.shape[1]
            return ([KnownTensor([m, n], x.type)], m * k * n)
        case "MatMul":
            guard let b = input(1), rank > 0, !b.shape.isEmpty else { throw InferenceFailure("MatMul takes two tensors of rank ≥ 1") }
            let a2 = rank == 1 ? [1] + x.shape : x.shape, b2 = b.shape.count == 1 ? b.shape + [1] : b.shape
            guard let batch = broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2))), a2[a2.count - 1] == b2[b2.count - 2] else {
                throw InferenceFailure("shapes \(TensorInfo.describe(x.shape)) and \(TensorInfo.describe(b.shape)) do not multiply")
            }
            let m = a2[a2.count - 2], k = a2[a2.count - 1], n = b2[b2.count - 1]
            var out = batch + [m, n]
            if rank == 1 { out.remove(at: out.count - 2) }
            if b.shape.count == 1 { out.removeLast() }
            return ([KnownTensor(out, x.type)], batch.reduce(1, *) * m * k * n)

        // Shapes as data.
        case "Shape":
            var start = a.int("start") ?? 0, end = a.int("end") ?? rank
            if start < 0 { start += rank }
            if end < 0 { end += rank }
            start = min(max(start, 0), rank)
            end = min(max(end, start), rank)
            let dims = Array(x.shape[start..<end])
            return ([KnownTensor([dims.count], .i64, values: dims.map(Double.init))], 0)
        case "Size":
            return ([KnownTensor([], .i64, values: [Double(x.elements)])], 0)
        case "ConstantOfShape":
            let shape = try constantInts(0, "shape")
            let value = a.tensor("value").map(tensorValue) ?? KnownTensor([1], .f32, values: [0])
            let fill = value.values?.first ?? 0
            return ([KnownTensor(shape, value.type, values: Array(repeating: fill, count: shape.reduce(1, *)))], 0)
        case "Range":
            guard let start = x.values?.first, let limit = input(1)?.values?.first, let delta = input(2)?.values?.first, delta != 0 else {
                throw InferenceFailure("its start, limit and delta are not constants")
            }
            let count = max(Int((( limit - start) / delta).rounded(.up)), 0)
            return ([KnownTensor([count], x.type, values: (0..<count).map { start + Double($0) * delta })], 0)

        // Moving and reshaping data.
        case "Reshape":
            var target = try argument("shape", 1, "target shape")
            let allowZero = (a.int("allowzero") ?? 0) == 1
            for i in target.indices where target[i] == 0 && !allowZero {
                guard i < rank else { throw InferenceFailure("its target copies dimension \(i) the input does not have") }
                target[i] = x.shape[i]
            }
            if let unknown = target.firstIndex(of: -1) {
                let known = target.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
                guard known > 0, x.elements % known == 0 else { throw InferenceFailure("\(x.elements) elements do not reshape to \(TensorInfo.describe(target))") }
                target[unknown] = x.elements / known
            }
            guard target.reduce(1, *) == x.elements else { throw InferenceFailure("\(x.elements) elements do not reshape to \(TensorInfo.describe(target))") }
            return same(target, values: x.values)
        case "Flatten":
            let axis = normalized(a.int("axis") ?? 1, rank + 1)
            return same([x.shape.prefix(axis).reduce(1, *), x.shape.dropFirst(axis).reduce(1, *)], values: x.values)
        case "Squeeze":
            let axes = try optionalArgument("axes", 1, "axes")
            let drop = Set((axes ?? x.shape.indices.filter { x.shape[$0] == 1 }).map { normalized($0, rank) })
            return same(x.shape.indices.filter { !drop.contains($0) }.map { x.shape[$0] }, values: x.values)
        case "Unsqueeze":
            let axes = try argument("axes", 1, "axes")
            let outRank = rank + axes.count
            let inserted = Set(axes.map { normalized($0, outRank) })
            var rest = x.shape.makeIterator()
            return same((0..<outRank).map { inserted.contains($0) ? 1 : rest.next() ?? 1 }, values: x.values)
        case "Transpose":
            let perm = a.ints("perm") ?? Array((0..<rank).reversed())
            guard perm.count == rank else { throw InferenceFailure("its perm has \(perm.count) axes, the input \(rank)") }
            return same(perm.map { x.shape[$0] }, values: rank <= 1 ? x.values : nil)
        case "Concat":
            let parts = inputs.compactMap { $0 }
            let axis = normalized(a.int("axis") ?? 0, rank)
            guard parts.allSatisfy({ $0.shape.count == rank }) else { throw InferenceFailure("its inputs differ in rank") }
            var out = x.shape
            out[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
            let values: [Double]? = rank == 1 && parts.allSatisfy({ $0.values != nil }) ? parts.flatMap { $0.values! } : nil
            return same(out, values: values)
        case "Split":
            let axis = normalized(a.int("axis") ?? 0, rank)
            let n = outputCount
            var sizes = try optionalArgument("split", 1, "split sizes")
            if sizes == nil {
                let each = (x.shape[axis] + n - 1) / n
                sizes = (0..<n).map { min(each, x.shape[axis] - $0 * each) }
            }
            return (sizes!.map { size in
                var shape = x.shape
                shape[axis] = size
                return KnownTensor(shape, x.type)
            }, 0)
        case "Slice":
            let starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
            if opset < 10 || node.input.count == 1 {
                guard let s = a.ints("starts"), let e = a.ints("ends") else { throw InferenceFailure("it has no starts and ends") }
                (starts, ends, axes, steps) = (s, e, a.ints("axes"), nil)
            } else {
                starts = try constantInts(1, "starts")
                ends = try constantInts(2, "ends")
                axes = try input(3) == nil ? nil : constantInts(3, "axes")
                steps = try input(4) == nil ? nil : constantInts(4, "steps")
            }
            var out = x.shape
            var ranges: [(start: Int, step: Int)] = x.shape.map { _ in (0, 1) }
            for (i, axisValue) in (axes ?? Array(0..<starts.count)).enumerated() {
                let axis = normalized(axisValue, rank), d = x.shape[axis], step = steps?[i] ?? 1
                guard step != 0 else { throw InferenceFailure("a step is 0") }
                var start = starts[i] < 0 ? starts[i] &+ d : starts[i]
                var end = ends[i] < 0 ? ends[i] &+ d : ends[i]
                if step > 0 {
                    start = min(max(start, 0), d); end = min(max(end, 0), d)
                    out[axis] = max(0, (end - start + step - 1) / step)
                } else {
                    start = min(max(start, 0), d - 1); end = min(max(end, -1), d - 1)
                    out[axis] = max(0, (start - end + (-step) - 1) / (-step))
                }
                ranges[axis] = (start, step)
            }
            let values: [Double]? = rank == 1 ? x.values.map { v in (0..<out[0]).map { v[ranges[0].start + $0 * ranges[0].step] } } : nil
            return same(out, values: values)
        case "Gather":
            guard let indices = input(1) else { throw InferenceFailure("it has no indices") }
            let axis = normalized(a.int("axis") ?? 0, rank)
            let out = Array(x.shape[..<axis]) + indices.shape + Array(x.shape[(axis + 1)...])
            var values: [Double]?
            if rank == 1, let data = x.values, let picks = indices.ints {
                values = picks.map { data[$0 < 0 ? $0 + data.count : $0] }
            }
            return same(out, values: values)
        case "Expand":
            let target = try constantInts(1, "shape")
            guard let out = broadcast(x.shape, target) else { throw InferenceFailure("\(TensorInfo.describe(x.shape)) does not expand to \(TensorInfo.describe(target))") }
            let values = x.values.flatMap { v in v.count == 1 ? Array(repeating: v[0], count: out.reduce(1, *)) : nil }
            return same(out, values: values)
        case "Tile":
            let repeats = try constantInts(1, "repeats")
            guard repeats.count == rank else { throw InferenceFailure("its repeats have \(repeats.count) entries, the input \(rank) axes") }
            return same(zip(x.shape, repeats).map(*))
        case "Pad":
            var pads = try argument(a.attribute("paddings") != nil ? "paddings" : "pads", 1, "pads")
            if let axes = try input(3) == nil ? nil : constantInts(3, "axes") {
                var full = Array(repeating: 0, count: 2 * rank)
                for (i, axis) in axes.enumerated() {
                    full[normalized(axis, rank)] = pads[i]
                    full[normalized(axis, rank) + rank] = pads[i + axes.count]
                }
                pads = full
            }
            guard pads.count == 2 * rank else { throw InferenceFailure("its pads have \(pads.count) entries for \(rank) axes") }
            return same(x.shape.indices.map { x.shape[$0] + pads[$0] + pads[$0 + rank] })
        case "Resize", "Upsample":
            return same(try resized(op, a, inputs, x, opset: opset))
        case "DepthToSpace", "SpaceToDepth":
            guard rank == 4, let b = a.int("blocksize") else { throw InferenceFailure("it needs a 4-D input and a blocksize") }
            let s = x.shape
            return same(op == "DepthToSpace" ? [s[0], s[1] / (b * b), s[2] * b, s[3] * b] : [s[0], s[1] * b * b, s[2] / b, s[3] / b])

        // Reductions and selections.
        case _ where op.hasPrefix("Reduce"):
            let axes = try optionalArgument("axes", 1, "axes")
            let keep = (a.int("keepdims") ?? 1) == 1
            if (axes ?? []).isEmpty, (a.int("noop_with_empty_axes") ?? 0) == 1 { return same(x.shape, values: x.values) }
            let reduced = Set((axes ?? Array(0..<rank)).map { normalized($0, rank) })
            let out = x.shape.indices.compactMap { reduced.contains($0) ? (keep ? 1 : nil) : x.shape[$0] }
            var values: [Double]?
            if op == "ReduceProd", rank == 1, let v = x.values { values = [v.reduce(1, *)] }
            return same(out, values: values)
        case "ArgMax", "ArgMin":
            let axis = normalized(a.int("axis") ?? 0, rank)
            let keep = (a.int("keepdims") ?? 1) == 1
            var out = x.shape
            if keep { out[axis] = 1 } else { out.remove(at: axis) }
            return same(out, .i64)
        case "TopK":
            let k = try a.int("k") != nil ? a.int("k")! : argument("k", 1, "k").first ?? 0
            var out = x.shape
            out[normalized(a.int("axis") ?? -1, rank)] = k
            return ([KnownTensor(out, x.type), KnownTensor(out, .i64)].prefix(outputCount).map { $0 }, 0)

        // Element-wise.
        case "Cast":
            let type = a.int("to").map { ModelAnalyzer.elementType(Int32($0)) } ?? x.type
            let values = x.values.map { type.isFloatingPoint ? $0 : $0.map { $0.rounded(.towardZero) } }
            return same(x.shape, type, values: values)
        case "Floor", "Ceil", "Round", "Neg", "Abs", "Identity", "Sqrt", "Reciprocal", "Sign":
            let f: (Double) -> Double = switch op {
            case "Floor": { $0.rounded(.down) }
            case "Ceil": { $0.rounded(.up) }
            case "Round": { $0.rounded(.toNearestOrEven) }
            case "Neg": { -$0 }
            case "Abs": { abs($0) }
            case "Sqrt": { $0.squareRoot() }
            case "Reciprocal": { 1 / $0 }
            case "Sign": { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }
            default: { $0 }
            }
            return same(x.shape, values: x.values.map { $0.map(f) })
        case "BatchNormalization", "Dropout", "LayerNormalization", "InstanceNormalization", "LRN", "Clip", "PRelu",
             "QuantizeLinear", "DequantizeLinear", "Softmax", "LogSoftmax", "Hardmax", "CumSum":
            // Extra outputs (running statistics, masks) are rarely used; they take the input's shape.
            let type: ElementType = op == "QuantizeLinear" ? (input(2)?.type ?? .u8) : op == "DequantizeLinear" ? .f32 : x.type
            return ([KnownTensor(x.shape, type)] + Array(repeating: KnownTensor(x.shape, op == "Dropout" ? .boolean : x.type), count: outputCount - 1), 0)
        case _ where elementwiseUnary.contains(op):
            return same(x.shape)
        case _ where elementwiseBinary.contains(op) || comparisons.contains(op) || op == "Where":
            var out = x.shape
            for other in inputs.dropFirst() {
                guard let other, let joined = broadcast(out, other.shape) else {
                    throw InferenceFailure("its inputs do not broadcast")
                }
                out = joined
            }
            let type: ElementType = comparisons.contains(op) ? .boolean : op == "Where" ? (input(1)?.type ?? x.type) : x.type
            return same(out, type, values: op == "Where" ? nil : fold(op, inputs, elements: out.reduce(1, *)))
        default:
            let domain = node.domain.isEmpty || node.domain == "ai.onnx" ? "" : "\(node.domain)."
            throw InferenceFailure(dataDependent.contains(op) ? "\(op)'s output shape depends on the input's values" : "op \(domain)\(op) is not one the analyzer knows")
        }
    }

    private static let elementwiseUnary: Set<String> = [
        "Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "LeakyRelu", "Elu", "Selu", "Celu", "Erf", "Exp", "Log",
        "Gelu", "Mish", "Softplus", "Softsign", "Swish", "Sin", "Cos", "Not", "IsNaN", "IsInf", "ThresholdedRelu",
    ]
    private static let elementwiseBinary: Set<String> = ["Add", "Mul", "Sub", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "BitShift"]
    private static let comparisons: Set<String> = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"]
    private static let dataDependent: Set<String> = ["NonZero", "NonMaxSuppression", "Unique", "Loop", "If", "Scan", "Compress"]

    /// Folds element-wise arithmetic on constants (equal sizes, or one side a single value).
    private static func fold(_ op: String, _ inputs: [KnownTensor?], elements: Int) -> [Double]? {
        let operands = inputs.compactMap { $0?.values }
        guard operands.count == inputs.count, operands.allSatisfy({ $0.count == elements || $0.count == 1 }) else { return nil }
        let f: (Double, Double) -> Double
        switch op {
        case "Add", "Sum": f = (+)
        case "Sub": f = (-)
        case "Mul": f = (*)
        case "Div":
            let integer = inputs.allSatisfy { !($0?.type.isFloatingPoint ?? true) }
            f = integer ? { ($0 / $1).rounded(.towardZero) } : (/)
        case "Max": f = { max($0, $1) }
        case "Min": f = { min($0, $1) }
        case "Pow": f = { pow($0, $1) }
        case "Equal": f = { $0 == $1 ? 1 : 0 }
        case "Less": f = { $0 < $1 ? 1 : 0 }
        case "Greater": f = { $0 > $1 ? 1 : 0 }
        default: return nil
        }
        return (0..<elements).map { i in
            operands.dropFirst().reduce(operands[0][operands[0].count == 1 ? 0 : i]) { f($0, $1[$1.count == 1 ? 0 : i]) }
        }
    }

    /// Output shape of Resize (opsets 10, 11–13, 18+) and Upsample (7: scales attribute, 9: input).
    private static func resized(_ op: String, _ a: Attributes, _ inputs: [KnownTensor?], _ x: KnownTensor, opset: Int) throws(InferenceFailure) -> [Int] {
        func input(_ i: Int) -> KnownTensor? { i < inputs.count ? inputs[i] : nil }
        let rank = x.shape.count
        let axes = (a.ints("axes") ?? Array(0..<rank)).map { normalized($0, rank) }
        var scales: [Double]?
        var sizes: [Int]?
        if op == "Upsample" {
            scales = a.floats("scales") ?? input(1)?.values
        } else if opset < 11 {
            scales = input(1)?.values
        } else {
            if let s = input(2)?.values, !s.isEmpty { scales = s }
            if let s = input(3)?.ints, !s.isEmpty { sizes = s }
        }
        var out = x.shape
        if let sizes {
            guard sizes.count == axes.count else { throw InferenceFailure("its sizes have \(sizes.count) entries for \(axes.count) axes") }
            let policy = a.string("keep_aspect_ratio_policy") ?? "stretch"
            if policy == "stretch" {
                for (i, axis) in axes.enumerated() { out[axis] = sizes[i] }
            } else {
                let ratios = axes.enumerated().map { Double(sizes[$0.offset]) / Double(x.shape[$0.element]) }
                let scale = policy == "not_larger" ? ratios.min()! : ratios.max()!
                for axis in axes { out[axis] = Int((scale * Double(x.shape[axis])).rounded(.toNearestOrAwayFromZero)) }
            }
            return out
        }
        guard let scales else { throw InferenceFailure("its scales and sizes are not constants") }
        guard scales.count == axes.count else { throw InferenceFailure("its scales have \(scales.count) entries for \(axes.count) axes") }
        for (i, axis) in axes.enumerated() { out[axis] = Int((Double(x.shape[axis]) * scales[i]).rounded(.down)) }
        return out
    }

    /// A `Constant` node's tensor (value, value_float(s), value_int(s)).
    private static func constant(_ a: Attributes) throws(InferenceFailure) -> KnownTensor {
        if let t = a.tensor("value") { return tensorValue(t) }
        if let f = a.attribute("value_float") { return KnownTensor([], .f32, values: [Double(f.f)]) }
        if let f = a.attribute("value_floats") { return KnownTensor([f.floats.count], .f32, values: f.floats.map(Double.init)) }
        if let i = a.attribute("value_int") { return KnownTensor([], .i64, values: [Double(i.i)]) }
        if let i = a.attribute("value_ints") { return KnownTensor([i.ints.count], .i64, values: i.ints.map { Double($0) }) }
        throw InferenceFailure("a Constant without a dense value (sparse or string constants are not read)")
    }

    /// A tensor's shape, type and (when small) values.
    static func tensorValue(_ t: Onnx_TensorProto) -> KnownTensor {
        let shape = t.dims.map { Int($0) }
        let type = ModelAnalyzer.elementType(t.dataType)
        guard shape.reduce(1, *) <= KnownTensor.valueLimit else { return KnownTensor(shape, type) }
        var values: [Double]?
        if !t.floatData.isEmpty { values = t.floatData.map(Double.init) }
        else if !t.int64Data.isEmpty { values = t.int64Data.map { Double($0) } }
        else if !t.int32Data.isEmpty { values = t.int32Data.map { Double($0) } }
        else if !t.doubleData.isEmpty { values = t.doubleData }
        else if t.hasRawData {
            values = t.rawData.withUnsafeBytes { raw -> [Double]? in
                let count = shape.reduce(1, *)
                func read<T: FixedWidthInteger>(_: T.Type) -> [Double] { (0..<count).map { Double(T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))) } }
                guard raw.count >= count * type.byteSize else { return nil }
                switch type {
                case .f32: return (0..<count).map { Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))) }
                case .f64: return (0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
                case .i64: return read(Int64.self)
                case .i32: return read(Int32.self)
                case .u8, .boolean: return read(UInt8.self)
                case .i8: return read(Int8.self)
                default: return nil
                }
            }
        } else if shape.reduce(1, *) == 0 {
            values = []
        }
        return KnownTensor(shape, type, values: values)
    }

    /// Output length of one spatial axis of a convolution or pooling window of `kernel` (dilated) extent.
    private static func windowOutput(_ a: Attributes, _ input: Int, kernel: Int, stride: Int, axis: Int, spatial: Int, ceil: Bool) -> Int {
        switch a.string("auto_pad") ?? "NOTSET" {
        case "SAME_UPPER", "SAME_LOWER":
            return (input + stride - 1) / stride
        case "VALID":
            return (input - kernel) / stride + 1
        default:
            let pads = a.ints("pads") ?? Array(repeating: 0, count: 2 * spatial)
            let span = input + pads[axis] + pads[axis + spatial] - kernel
            guard ceil else { return span / stride + 1 }
            var out = (span + stride - 1) / stride + 1
            // A last window that would start inside the end padding is dropped.
            if (out - 1) * stride >= input + pads[axis] { out -= 1 }
            return out
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

    private static func normalized(_ axis: Int, _ rank: Int) -> Int { axis < 0 ? axis + rank : axis }
}

/// A node's attributes by name.
struct Attributes {
    private let node: Onnx_NodeProto
    init(_ node: Onnx_NodeProto) { self.node = node }

    func attribute(_ name: String) -> Onnx_AttributeProto? { node.attribute.first { $0.name == name } }
    func ints(_ name: String) -> [Int]? { attribute(name).map { $0.ints.map { Int($0) } } }
    func int(_ name: String) -> Int? { attribute(name).map { Int($0.i) } }
    func floats(_ name: String) -> [Double]? { attribute(name).map { $0.floats.map(Double.init) } }
    func string(_ name: String) -> String? { attribute(name).map { String(decoding: $0.s, as: UTF8.self) } }
    func tensor(_ name: String) -> Onnx_TensorProto? { attribute(name).flatMap { $0.hasT ? $0.t : nil } }
}
