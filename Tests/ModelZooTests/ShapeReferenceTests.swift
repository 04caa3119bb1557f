import EdgeInsightCore
import Foundation
@testable import ModelZoo
import TestSupport
import Testing

/// The analyzer against onnx itself: per-node output shapes on the zoo and on a corpus of models
/// written the way exporters write them (Tests/Fixtures/onnx_corpus.py).
@Suite(.timeLimit(.minutes(5)), .enabled(if: Requirements.onnx, "needs onnx in .deps/python: run scripts/setup")) struct ShapeReferenceTests {
    @Test func everyNodeOutputMatchesOnnx() throws {
        let folder = temporaryPath("corpus")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var zoo: [String] = []
        for model in ModelZoo.models where model.isImageClassifier {
            let path = "\(folder)/zoo-\(model.name).onnx"
            try ModelZoo.write(model, resolution: 224, to: path)
            zoo.append(path)
        }
        let script = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
        let result = try python(script, [repositoryRoot + "/Tests/Fixtures/onnx_corpus.py", folder] + zoo)
        try #require(result.status == 0, "corpus writer failed: \(result.stderr)")
        struct Reference: Decodable { var shapes: [String: [Int]]; var tensors: [String: [Int]] }
        let references = try JSONDecoder().decode([String: Reference].self, from: Data(result.stdout.utf8))
        #expect(references.count == zoo.count + 4)

        for (path, reference) in references.sorted(by: { $0.key < $1.key }) {
            let model = URL(fileURLWithPath: path).lastPathComponent
            let analysis = try ModelAnalyzer.analyze(file: path, shapes: reference.shapes)
            #expect(analysis.gaps.isEmpty, "\(model): \(analysis.gapSummary ?? "")")
            var compared = 0, missing: [String] = []
            for layer in analysis.layers {
                for (name, shape) in zip(layer.outputNames, layer.outputShapes) {
                    guard let expected = reference.tensors[name] else { missing.append(name); continue }
                    compared += 1
                    #expect(shape == expected, "\(model): \(layer.op) '\(name)' is \(shape), onnx says \(expected)")
                }
            }
            // The reference covers every tensor, so no node escapes the comparison.
            #expect(missing.isEmpty, "\(model): onnx gave no shape for \(missing)")
            #expect(compared == analysis.layers.reduce(0) { $0 + $1.outputNames.count }, "\(model)")
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct ExportedModelTests {
    /// The hand-counted graph of AnalyzerHandComputedTests.smallGraph, written as an exporter
    /// would: weights in Constant nodes, opset 11, input [N,3,H,W].
    static func exportedTinyModel() throws -> Onnx_ModelProto {
        var g = GraphBuilder(seed: 1)
        let x = g.input("x", dims: [3, 8, 8])
        let conv = g.conv(x, out: 4, kernel: 3, stride: 2, activation: .relu)
        let logits = g.dense(g.flatten(g.globalAveragePool(conv)), out: 10)
        var model = g.model(name: "tiny", outputs: [(logits, "y", [10])], docString: "")
        let constants = model.graph.initializer.map { tensor in
            var value = Onnx_AttributeProto()
            value.name = "value"
            value.type = .tensor
            value.t = tensor
            var node = Onnx_NodeProto()
            node.opType = "Constant"
            node.output = [tensor.name]
            node.attribute = [value]
            return node
        }
        model.graph.node = constants + model.graph.node
        model.graph.initializer = []
        model.opsetImport[0].version = 11
        for (i, name) in ["N", "", "H", "W"].enumerated() where !name.isEmpty {
            model.graph.input[0].type.tensorType.shape.dim[i].dimParam = name
        }
        return model
    }

    @Test func constantNodeWeightsCountAsParameters() throws {
        let model = try Self.exportedTinyModel()
        let analysis = try ModelAnalyzer.analyze(model, shapes: ["x": [1, 3, 8, 8]])
        #expect(analysis.opset == 11)
        #expect(analysis.macs == 1768)
        #expect(analysis.parameters == 162)
        #expect(analysis.weightBytes == 162 * 4)
        #expect(analysis.outputs.first?.shape == [1, 10])
        // The same figures at batch 3 and at a larger image (conv MACs scale with area; FC does not).
        let larger = try ModelAnalyzer.analyze(model, shapes: ["": [3, 3, 16, 16]])
        #expect(larger.macs == 3 * (1728 * 4 + 40))
    }

    @Test func dynamicDimensionsBeyondTheBatchMustBeFixed() throws {
        let model = try Self.exportedTinyModel()
        #expect(throws: ZooError.dynamicShape(input: "x", declared: "[?,3,?,?]")) { try ModelAnalyzer.analyze(model) }
        #expect(throws: ZooError.self) { try ModelAnalyzer.analyze(model, shapes: ["x": [1, 4, 8, 8]]) }
        #expect(throws: ZooError.self) { try ModelAnalyzer.analyze(model, shapes: ["images": [1, 3, 8, 8]]) }
    }

    @Test func anUnknownOpIsNamedAndTheRestIsStillCounted() throws {
        var model = try Self.exportedTinyModel()
        let pool = try #require(model.graph.node.firstIndex { $0.opType == "GlobalAveragePool" })
        model.graph.node[pool].opType = "FancyPool"
        model.graph.node[pool].domain = "com.example"
        model.graph.node[pool].name = "head/pool"
        let analysis = try ModelAnalyzer.analyze(model, shapes: ["x": [1, 3, 8, 8]])
        #expect(analysis.gaps == [AnalysisGap(node: "head/pool", op: "FancyPool", reason: "op com.example.FancyPool is not one the analyzer knows")])
        // The conv before it is counted (1728 MACs); Flatten, Gemm and Identity are not, but every
        // weight is a parameter whether or not its layer's shapes are known.
        #expect(analysis.macs == 1728)
        #expect(analysis.parameters == 162)
        #expect(analysis.uncountedNodes == 3)
        #expect(analysis.gapSummary?.contains("'head/pool' (FancyPool)") == true)
    }
}
