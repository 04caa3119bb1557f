import EdgeInsightCore
import Foundation
@testable import ModelZoo
import TestSupport
import Testing

let classifiers = ModelZoo.models.filter(\.isImageClassifier)

@Suite(.timeLimit(.minutes(5))) struct AnalyzerTotalsTests {
    /// Published conv + FC MACs and parameters at 224×224: ours must be within 5%.
    @Test(arguments: classifiers)
    func totalsMatchPublishedFigures(model: ZooModel) throws {
        let published = try #require(model.published)
        let analysis = try ModelAnalyzer.analyze(try ModelZoo.build(model))
        let macsError = abs(Double(analysis.macs) - published.macs) / published.macs
        let paramsError = abs(Double(analysis.parameters) - published.parameters) / published.parameters
        #expect(macsError < 0.05, "\(model.name): \(analysis.macs) MACs vs published \(published.macs)")
        #expect(paramsError < 0.05, "\(model.name): \(analysis.parameters) params vs published \(published.parameters)")
        #expect(analysis.gaps.isEmpty && analysis.uncountedNodes == 0)
        #expect(analysis.outputs.map(\.shape) == [[1, 1000]])
        #expect(analysis.weightBytes == analysis.parameters * 4)
    }

    @Test func macsScaleWithInputArea() throws {
        let model = try ModelZoo.model(named: "resnet18")
        let at224 = try ModelAnalyzer.analyze(try ModelZoo.build(model, resolution: 224))
        let at448 = try ModelAnalyzer.analyze(try ModelZoo.build(model, resolution: 448))
        // Both divide evenly by the network's stride of 32, so every convolution's MACs grow by
        // exactly the area ratio 4; only the FC layer (512k MACs) stays the same.
        let fc = 512 * 1000
        #expect(at448.macs - fc == 4 * (at224.macs - fc))
        #expect(at224.parameters == at448.parameters)
    }

    @Test func batchMultipliesMacsAndActivations() throws {
        let proto = try ModelZoo.build(try ModelZoo.model(named: "squeezenet1_1"))
        let one = try ModelAnalyzer.analyze(proto, batch: 1), four = try ModelAnalyzer.analyze(proto, batch: 4)
        #expect(four.macs == 4 * one.macs)
        #expect(four.activationBytes == 4 * one.activationBytes)
        #expect(four.parameters == one.parameters)
    }
}

@Suite(.timeLimit(.minutes(5))) struct AnalyzerHandComputedTests {
    /// A 3×3 stride-2 conv on [1,3,8,8] to 4 channels, global pool, flatten, FC to 10:
    /// conv output [1,4,4,4]; MACs 4·4·4·3·9 = 1728; FC 4·10 = 40; params 4·3·9+4 + 10·4+10 = 162.
    @Test func smallGraph() throws {
        var g = GraphBuilder(seed: 1)
        let x = g.input("x", dims: [3, 8, 8])
        let conv = g.conv(x, out: 4, kernel: 3, stride: 2, activation: .relu)
        let logits = g.dense(g.flatten(g.globalAveragePool(conv)), out: 10)
        let analysis = try ModelAnalyzer.analyze(g.model(name: "tiny", outputs: [(logits, "y", [10])], docString: ""))
        let convLayer = analysis.layers.first { $0.op == "Conv" }
        #expect(convLayer?.outputShape == [1, 4, 4, 4])
        #expect(convLayer?.macs == 1728)
        #expect(convLayer?.parameters == 112)
        #expect(analysis.layers.first { $0.op == "Gemm" }?.macs == 40)
        #expect(analysis.macs == 1768)
        #expect(analysis.parameters == 162)
        #expect(analysis.outputs.first?.shape == [1, 10])
    }

    @Test func depthwiseAndCeilModePooling() throws {
        var g = GraphBuilder(seed: 1)
        let x = g.input("x", dims: [8, 10, 10])
        // Depthwise 3×3, pad 1: [1,8,10,10], MACs 8·10·10·1·9 = 7200.
        let dw = g.conv(x, out: 8, kernel: 3, groups: 8)
        // 3×3 stride-2 max pool on 10 with ceil: ceil((10-3)/2)+1 = 5 (floor would give 4).
        let pooled = g.maxPool(dw, kernel: 3, stride: 2, ceil: true)
        let analysis = try ModelAnalyzer.analyze(g.model(name: "dw", outputs: [(pooled, "y", [8, 5, 5])], docString: ""))
        #expect(analysis.layers[0].macs == 7200)
        #expect(analysis.layers[1].outputShape == [1, 8, 5, 5])
    }

    @Test func broadcastFollowsNumPyRules() {
        #expect(ShapeInference.broadcast([1, 8, 4, 4], [1, 8, 1, 1]) == [1, 8, 4, 4])
        #expect(ShapeInference.broadcast([3], [2, 1]) == [2, 3])
        #expect(ShapeInference.broadcast([2, 3], [4, 3]) == nil)
    }
}

@Suite(.timeLimit(.minutes(5))) struct ZooFileTests {
    @Test(.enabled(if: Requirements.onnx, "needs the onnx checker in .deps/python: run scripts/setup"))
    func everyZooModelPassesTheOnnxReferenceChecker() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("edgeinsight-checker-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var paths: [String] = []
        for model in ModelZoo.models {
            let path = "\(folder)/\(model.name).onnx"
            try ModelZoo.write(model, resolution: 224, to: path)
            paths.append(path)
        }
        // onnx.checker with full_check also runs ONNX's strict shape inference; we then read the
        // inferred output shape to confirm [batch, 1000] independently of our analyzer.
        let script = """
            import sys, onnx
            for path in sys.argv[1:]:
                onnx.checker.check_model(path, full_check=True)
                model = onnx.shape_inference.infer_shapes(onnx.load(path), strict_mode=True)
                dims = [d.dim_value or d.dim_param for d in model.graph.output[0].type.tensor_type.shape.dim]
                print(path.rsplit('/', 1)[1], model.opset_import[0].version, dims)
            """
        let result = try python(script, paths)
        let output = result.stdout + result.stderr
        #expect(result.status == 0, "onnx checker failed:\n\(output)")
        // Opset 17 where HardSwish needs it (MobileNetV3), else 10, where ReLU6's bounds are attributes.
        for model in classifiers {
            let opset = model.name.hasPrefix("mobilenet_v3") ? 17 : 10
            #expect(output.contains("\(model.name).onnx \(opset) ['batch', 1000]"), "\(model.name): \(output)")
        }
        #expect(output.contains("add.onnx 10 ['batch', 16]"))
    }

    @Test func buildsAreDeterministic() throws {
        let model = try ModelZoo.model(named: "mobilenet_v3_small")
        let first = try ModelZoo.build(model).serializedData()
        let second = try ModelZoo.build(model).serializedData()
        #expect(first == second)
        let other = try ModelZoo.build(model, resolution: 192).serializedData()
        #expect(first != other)
    }

    @Test func fileRoundTripsThroughTheAnalyzer() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rt-\(UUID().uuidString).onnx").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try ModelZoo.model(named: "mobilenet_v2_0.5")
        try ModelZoo.write(model, resolution: 160, to: path)
        let fromFile = try ModelAnalyzer.analyze(file: path)
        let inMemory = try ModelAnalyzer.analyze(try ModelZoo.build(model, resolution: 160))
        #expect(fromFile.macs == inMemory.macs)
        #expect(fromFile.parameters == inMemory.parameters)
        #expect(fromFile.inputs == [TensorInfo(name: "input", elementType: .f32, shape: [1, 3, 160, 160])])
    }

    @Test func unreadableFilesGetOneLineErrors() throws {
        let folder = FileManager.default.temporaryDirectory.path
        let text = "\(folder)/not-a-model-\(UUID().uuidString).onnx"
        try "hello, I am text".write(toFile: text, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: text) }
        for path in [text, "\(folder)/missing-\(UUID().uuidString).onnx"] {
            #expect(throws: ZooError.self) { try ModelAnalyzer.analyze(file: path) }
            do { _ = try ModelAnalyzer.analyze(file: path) } catch {
                #expect(!"\(error)".contains("\n"))
                #expect("\(error)".contains(path))
            }
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct ZooLookupTests {
    @Test func widthsAndAliases() throws {
        #expect(try ModelZoo.model(named: "mobilenet_v2", width: 0.5).name == "mobilenet_v2_0.5")
        #expect(try ModelZoo.model(named: "MobileNet-V2_0.35").name == "mobilenet_v2_0.35")
        #expect(try ModelZoo.model(named: "mobilenet_v2", width: 1.0).name == "mobilenet_v2")
        #expect(throws: ZooError.self) { try ModelZoo.model(named: "mobilenet_v2", width: 0.6) }
        #expect(throws: ZooError.self) { try ModelZoo.model(named: "resnet50", width: 0.5) }
    }

    /// `resnet18@448` is ResNet-18 built for 448×448 inputs: the file's input says so, the server
    /// serves it under that name, and it is the same zoo model (family, weights).
    @Test func aNameCanFixItsInput() throws {
        #expect(ModelZoo.splitResolution("resnet18@448") == ("resnet18", 448))
        #expect(ModelZoo.splitResolution("resnet18") == ("resnet18", nil))
        #expect(ModelZoo.splitResolution("models/a@b.onnx") == ("models/a@b.onnx", nil))
        #expect(try ModelZoo.model(named: "resnet18@448").name == "resnet18")
        #expect(ModelZoo.servedName("resnet18@448") == "resnet18@448" && ModelZoo.servedName("resnet18") == "resnet18")
        let at448 = try ModelAnalyzer.analyze(file: try ModelZoo.resolve("resnet18@448").path)
        let at224 = try ModelAnalyzer.analyze(file: try ModelZoo.resolve("resnet18").path)
        #expect(at448.inputs.first?.shape == [1, 3, 448, 448] && at224.inputs.first?.shape == [1, 3, 224, 224])
        #expect(at448.parameters == at224.parameters && at448.macs - 512_000 == 4 * (at224.macs - 512_000))
        #expect(throws: ZooError.self) { try ModelZoo.resolve("resnet18@8") }
    }

    @Test func unknownNameListsTheKnownOnes() {
        do {
            _ = try ModelZoo.model(named: "alexnet")
            Issue.record("alexnet should be unknown")
        } catch {
            #expect("\(error)".contains("unknown zoo model 'alexnet'"))
            #expect("\(error)".contains("resnet50"))
        }
    }

    @Test func resolutionOutOfRangeIsRejected() throws {
        let model = try ModelZoo.model(named: "resnet18")
        #expect(throws: ZooError.self) { try ModelZoo.build(model, resolution: 8) }
    }

    @Test func makeDivisibleFollowsTheMobileNetRule() {
        #expect(makeDivisible(32 * 0.35) == 16)   // 11.2 → 8 would be < 90%, so 16
        #expect(makeDivisible(24 * 0.5) == 16)    // 12 rounds to 16
        #expect(makeDivisible(1280 * 1.4) == 1792)
        #expect(makeDivisible(96 * 0.75) == 72)
    }
}

