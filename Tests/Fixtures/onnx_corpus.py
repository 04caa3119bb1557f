"""Writes ONNX models the way framework exporters do, and reads back onnx's own shape inference.

Usage: onnx_corpus.py FOLDER [ZOO_MODEL.onnx ...]
Writes the corpus into FOLDER, then prints one JSON object: for every model (corpus and the given
zoo files) the input shapes it is analysed at and, per tensor, its shape with those inputs fixed:
as onnx.shape_inference infers it (strict mode, data propagation on) and, for the corpus, as onnx's
reference evaluator computes it, which covers the shape arithmetic static inference leaves open.
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

rng = np.random.default_rng(7)


class Graph:
    """Builds a graph whose weights live in Constant nodes, as torch.onnx and tf2onnx often write."""

    def __init__(self, opset):
        self.opset, self.nodes, self.count = opset, [], 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, array):
        out = self.name("const")
        self.nodes.append(helper.make_node("Constant", [], [out], value=numpy_helper.from_array(np.asarray(array), out + "_value")))
        return out

    def weight(self, *shape):
        return self.const(rng.standard_normal(shape).astype(np.float32) * 0.1)

    def op(self, op_type, inputs, outputs=1, **attributes):
        names = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=names[0] + "_node", **attributes))
        return names[0] if outputs == 1 else names

    def model(self, name, inputs, outputs, ir=None):
        """`outputs` maps each output to its rank (its dimensions are left symbolic, as exporters do)."""
        graph = helper.make_graph(self.nodes, name, inputs, [
            helper.make_tensor_value_info(o, TensorProto.FLOAT, [f"{o}_{i}" for i in range(rank)]) for o, rank in outputs])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        if ir:
            model.ir_version = ir
        return model


def exported_cnn():
    """Opset 11, dynamic N×H×W, Constant weights, BN, Clip, dilated depthwise SAME conv, ceil pooling,
    ConvTranspose, Resize by scales and by sizes computed from Shape, and a Shape→Gather→Reshape flatten."""
    g = Graph(11)
    x = "images"
    y = g.op("Conv", [x, g.weight(16, 3, 3, 3), g.weight(16)], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    y = g.op("BatchNormalization", [y, g.weight(16), g.weight(16), g.weight(16), g.const(np.ones(16, np.float32))])
    y = g.op("Clip", [y, g.const(np.float32(0)), g.const(np.float32(6))])
    y = g.op("Conv", [y, g.weight(16, 1, 3, 3)], group=16, dilations=[2, 2], auto_pad="SAME_UPPER", kernel_shape=[3, 3])
    y = g.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
    a = g.op("Conv", [y, g.weight(8, 16, 1, 1), g.weight(8)], kernel_shape=[1, 1])
    b = g.op("ConvTranspose", [a, g.weight(8, 4, 4, 4)], strides=[2, 2], pads=[1, 1, 1, 1])
    b = g.op("Resize", [b, g.const(np.array([], np.float32)), g.const(np.array([1, 1, 0.5, 0.5], np.float32))], mode="nearest")
    both = g.op("Concat", [a, b], axis=1)
    # A segmentation-style head: twice the size, computed from the tensor's own shape.
    shape = g.op("Shape", [both])
    hw = g.op("Slice", [shape, g.const(np.array([2])), g.const(np.array([4])), g.const(np.array([0]))])
    hw = g.op("Cast", [g.op("Mul", [g.op("Cast", [hw], to=TensorProto.FLOAT), g.const(np.float32(2))])], to=TensorProto.INT64)
    nc = g.op("Slice", [shape, g.const(np.array([0])), g.const(np.array([2])), g.const(np.array([0]))])
    sizes = g.op("Concat", [nc, hw], axis=0)
    up = g.op("Resize", [both, g.const(np.array([], np.float32)), g.const(np.array([], np.float32)), sizes], mode="nearest")
    mask = g.op("Conv", [up, g.weight(1, 12, 1, 1)], kernel_shape=[1, 1])
    # Classifier head, flattened the way torch.flatten exports.
    pooled = g.op("GlobalAveragePool", [both])
    batch = g.op("Unsqueeze", [g.op("Gather", [g.op("Shape", [pooled]), g.const(np.int64(0))], axis=0)], axes=[0])
    flat = g.op("Reshape", [pooled, g.op("Concat", [batch, g.const(np.array([-1]))], axis=0)])
    logits = g.op("Softmax", [g.op("Gemm", [flat, g.weight(10, 12), g.weight(10)], transB=1)], axis=1)
    inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", 3, "H", "W"])]
    return g.model("exported_cnn", inputs, [(logits, 2), (mask, 4)], ir=6), {x: [1, 3, 96, 128]}


def legacy_ops():
    """Opset 9: Upsample's scales as an input, Pad/Slice/Split/Squeeze/Unsqueeze with attributes."""
    g = Graph(9)
    x = "x"
    y = g.op("Upsample", [x, g.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    y = g.op("Pad", [y], pads=[0, 0, 1, 1, 0, 0, 1, 1])
    y = g.op("Slice", [y], starts=[2, 2], ends=[40, -2], axes=[2, 3])
    first, second = g.op("Split", [y], outputs=2, axis=1, split=[3, 5])
    gate = g.op("Unsqueeze", [g.op("Squeeze", [g.op("ReduceMean", [first], axes=[1], keepdims=1)], axes=[1])], axes=[1])
    y = g.op("Transpose", [g.op("Mul", [second, gate])], perm=[0, 2, 3, 1])
    y = g.op("MatMul", [g.op("Flatten", [y], axis=3), g.weight(5, 7)])
    y = g.op("AveragePool", [g.op("Reshape", [y, g.const(np.array([1, 1, -1, 7]))])], kernel_shape=[4, 1], strides=[4, 1])
    inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 8, 20, 20])]
    return g.model("legacy_ops", inputs, [(y, 4)], ir=4), {x: [1, 8, 20, 20]}


def opset7_upsample():
    """Opset 7: Upsample's scales as an attribute; weights as initializers listed among the inputs."""
    w = numpy_helper.from_array(rng.standard_normal((6, 4, 3, 3)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Upsample", ["x"], ["up"], scales=[1.0, 1.0, 2.0, 3.0], mode="nearest"),
        helper.make_node("Conv", ["up", "w"], ["conv"], kernel_shape=[3, 3], pads=[0, 0, 0, 0], strides=[1, 2]),
        helper.make_node("GlobalMaxPool", ["conv"], ["y"]),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 10, 10]),
              helper.make_tensor_value_info("w", TensorProto.FLOAT, [6, 4, 3, 3])]
    graph = helper.make_graph(nodes, "opset7_upsample", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 6, 1, 1])], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])
    model.ir_version = 3
    return model, {"x": [2, 4, 10, 10]}


def sequence_model():
    """Opset 13, an OCR/attention-style model on [N, T, 32] with dynamic N and T: MatMul attention,
    Reshape targets from Shape, axes as inputs (Squeeze/Unsqueeze/Split), Gather, Expand, Tile,
    Range, ConstantOfShape, Where, ArgMax, TopK."""
    g = Graph(13)
    x = "tokens"
    h = g.op("Add", [g.op("MatMul", [x, g.weight(32, 32)]), g.weight(32)])
    shape = g.op("Shape", [h])
    nt = g.op("Slice", [shape, g.const(np.array([0])), g.const(np.array([2]))])
    heads = g.op("Reshape", [h, g.op("Concat", [nt, g.const(np.array([4, 8]))], axis=0)])
    q = g.op("Transpose", [heads], perm=[0, 2, 1, 3])
    k = g.op("Transpose", [heads], perm=[0, 2, 3, 1])
    attention = g.op("Softmax", [g.op("Div", [g.op("MatMul", [q, k]), g.const(np.float32(8 ** 0.5))])], axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [attention, q])], perm=[0, 2, 1, 3])
    h = g.op("Reshape", [context, shape])
    left, right = g.op("Split", [h, g.const(np.array([16, 16]))], outputs=2, axis=2)
    pooled = g.op("ReduceMean", [left], axes=[1], keepdims=0)
    picked = g.op("Gather", [right, g.const(np.array([0, 5]))], axis=1)
    expanded = g.op("Expand", [g.op("Unsqueeze", [pooled, g.const(np.array([1]))]), g.op("Shape", [picked])])
    mixed = g.op("Where", [g.op("Greater", [picked, expanded]), picked, expanded])
    tiled = g.op("Tile", [mixed, g.const(np.array([1, 3, 1]))])
    positions = g.op("Cast", [g.op("Range", [g.const(np.int64(0)), g.const(np.int64(16)), g.const(np.int64(1))])], to=TensorProto.FLOAT)
    biased = g.op("Add", [tiled, positions])
    zeros = g.op("ConstantOfShape", [g.op("Shape", [biased])], value=numpy_helper.from_array(np.array([0.5], np.float32)))
    summed = g.op("Add", [biased, zeros])
    best = g.op("Cast", [g.op("ArgMax", [summed], axis=2, keepdims=1)], to=TensorProto.FLOAT)
    values, _ = g.op("TopK", [g.op("Squeeze", [best, g.const(np.array([2]))]), g.const(np.array([3]))], outputs=2, axis=1)
    inputs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", "T", 32])]
    return g.model("sequence_model", inputs, [(values, 2), (summed, 3)]), {x: [2, 12, 32]}


def fixed(model, shapes):
    """A copy of the model whose inputs have the given static shapes."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for value in model.graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shapes[value.name]):
                dim.Clear()
                dim.dim_value = size
    return model


def executed(model, shapes):
    """Every tensor's shape as onnx's reference evaluator computes it on random inputs: the ground
    truth where static inference gives up (sizes computed from Shape, data-dependent chains)."""
    model = fixed(model, shapes)
    names = [o for node in model.graph.node for o in node.output if o]
    del model.graph.output[:]
    model.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in names)
    feeds = {name: rng.standard_normal(dims).astype(np.float32) for name, dims in shapes.items()}
    try:
        results = ReferenceEvaluator(model).run(None, feeds)
    except (TypeError, NotImplementedError):  # ops the evaluator lacks (Upsample-7): inference alone
        return {}
    return {name: list(np.shape(value)) for name, value in zip(names, results)}


def reference(model, shapes):
    inferred = onnx.shape_inference.infer_shapes(fixed(model, shapes), strict_mode=True, data_prop=True)
    tensors = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            tensors[value.name] = [d.dim_value for d in dims]
    return tensors


def main():
    folder, zoo = sys.argv[1], sys.argv[2:]
    report = {}
    for make in (exported_cnn, legacy_ops, opset7_upsample, sequence_model):
        model, shapes = make()
        onnx.checker.check_model(model)
        path = f"{folder}/{model.graph.name}.onnx"
        onnx.save(model, path)
        tensors = reference(model, shapes)
        ran = executed(model, shapes)
        mismatched = {n: (s, ran[n]) for n, s in tensors.items() if n in ran and ran[n] != s}
        assert not mismatched, f"{path}: onnx's inference and its evaluator disagree: {mismatched}"
        tensors.update(ran)
        report[path] = {"shapes": shapes, "tensors": tensors}
    for path in zoo:
        model = onnx.load(path)
        shapes = {model.graph.input[0].name: [1, 3, 224, 224]}
        report[path] = {"shapes": shapes, "tensors": reference(model, shapes)}
    print(json.dumps(report))


main()
