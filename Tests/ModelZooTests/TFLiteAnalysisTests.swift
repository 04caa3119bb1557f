import EdgeInsightCore
import Foundation
@testable import ModelZoo
import TestSupport
import Testing

/// Our TFLite reader against two references: the `tflite` package's own parse of the same files
/// (operators, output shapes, and MACs recomputed from its shapes), and our ONNX analysis of the
/// same architecture written both ways (the zoo's TFLite writer keeps every MAC and weight).
@Suite(.timeLimit(.minutes(5)), .enabled(if: Requirements.tflitePackage, "needs tflite in .deps/python: run scripts/setup")) struct TFLiteAnalysisTests {
    static let reference = """
        import json, sys, tflite
        B = tflite.BuiltinOperator
        def shape(t):
            s = t.ShapeAsNumpy()
            return [] if isinstance(s, int) else [int(d) for d in s]
        def prod(s):
            p = 1
            for d in s: p *= d
            return p
        out = {}
        for path in sys.argv[1:]:
            buf = open(path, 'rb').read()
            m = tflite.Model.GetRootAsModel(buf, 0)
            g = m.Subgraphs(0)
            ops = []
            for i in range(g.OperatorsLength()):
                op = g.Operators(i)
                c = m.OperatorCodes(op.OpcodeIndex())
                code = max(c.BuiltinCode(), c.DeprecatedBuiltinCode())
                ins = [shape(g.Tensors(op.Inputs(j))) if op.Inputs(j) >= 0 else [] for j in range(op.InputsLength())]
                o = shape(g.Tensors(op.Outputs(0)))
                macs = 0
                if code == B.CONV_2D: macs = prod(o) * prod(ins[1][1:])
                elif code == B.DEPTHWISE_CONV_2D: macs = prod(o) * ins[1][1] * ins[1][2]
                elif code == B.FULLY_CONNECTED: macs = prod(o) * ins[1][1]
                ops.append({"code": code, "shape": o, "macs": macs})
            inputs = [shape(g.Tensors(g.Inputs(j))) for j in range(g.InputsLength())]
            out[path] = {"ops": ops, "inputs": inputs}
        print(json.dumps(out))
        """

    @Test func operatorsShapesAndMACsMatchTheTflitePackageAndTheONNXAnalysis() throws {
        let folder = temporaryPath("tflite")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let names = ["mobilenet_v2", "mobilenet_v3_small", "resnet18", "squeezenet1_1", "efficientnet_b0"]
        var onnx: [String: ModelAnalysis] = [:]
        for name in names {
            let graph = try ModelZoo.build(try ModelZoo.model(named: name), resolution: 160)
            onnx[name] = try ModelAnalyzer.analyze(graph)
            try Data(try TFLiteWriter.convert(graph)).write(to: URL(fileURLWithPath: "\(folder)/\(name).tflite"))
        }
        let result = try python(Self.reference, names.map { "\(folder)/\($0).tflite" })
        try #require(result.status == 0, "the tflite package failed: \(result.stderr)")
        struct Op: Decodable { var code: Int32; var shape: [Int]; var macs: Int }
        struct File: Decodable { var ops: [Op]; var inputs: [[Int]] }
        let references = try JSONDecoder().decode([String: File].self, from: Data(result.stdout.utf8))
        for name in names {
            let path = "\(folder)/\(name).tflite"
            let ours = try ModelAnalyzer.analyze(file: path)
            let theirs = try #require(references[path])
            #expect(ours.inputs.map(\.shape) == theirs.inputs && ours.inputs.first?.shape == [1, 160, 160, 3])
            #expect(ours.layers.count == theirs.ops.count, "\(name): \(ours.layers.count) operators, tflite reads \(theirs.ops.count)")
            for (layer, op) in zip(ours.layers, theirs.ops) {
                #expect(layer.op == TFLiteAnalyzer.name(op.code) && layer.outputShape == op.shape && layer.macs == op.macs,
                        "\(name): \(layer.op) \(layer.outputShape) \(layer.macs) MACs; tflite: \(op.code) \(op.shape) \(op.macs)")
            }
            // The same architecture as ONNX: every MAC; every weight, bar MobileNetV3's hard-sigmoid
            // constants (the writer's 3 and 1/6, one element each).
            let graph = try #require(onnx[name])
            #expect(ours.macs == graph.macs, "\(name): \(ours.macs) MACs from TFLite, \(graph.macs) from ONNX")
            let extra = ours.parameters - graph.parameters
            #expect(name == "mobilenet_v3_small" ? (0...40).contains(extra) : extra == 0, "\(name): \(ours.parameters) parameters, ONNX \(graph.parameters)")
        }
    }

    /// The performance model reads a .tflite like an ONNX file: its features from the file.
    @Test func aTFLiteFileHasFeatures() throws {
        let path = temporaryPath("resnet18.tflite")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(try TFLiteWriter.convert(try ModelZoo.build(try ModelZoo.model(named: "resnet18"), resolution: 224))).write(to: URL(fileURLWithPath: path))
        let analysis = try ModelAnalyzer.analyze(file: path)
        #expect(abs(Double(analysis.macs) / 1.82e9 - 1) < 0.01 && abs(Double(analysis.parameters) / 11.69e6 - 1) < 0.01, "\(analysis.macs), \(analysis.parameters)")
        #expect(analysis.weightBytes == analysis.parameters * 4)
    }
}
