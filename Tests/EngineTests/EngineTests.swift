import EdgeInsightCore
@testable import Engine
import Foundation
import ModelZoo
import TestSupport
import Testing

let imageModels = ModelZoo.models.filter(\.isImageClassifier)

func zooFile(_ name: String, resolution: Int = 224) throws -> String {
    try ModelZoo.cachedFile(try ModelZoo.model(named: name), resolution: resolution)
}

@Suite(.serialized, .timeLimit(.minutes(5))) struct OpenVINOZooTests {
    /// Every zoo classifier compiles in OpenVINO and answers a batch of 2 with finite logits [2, 1000].
    @Test(arguments: imageModels)
    func runsWithLogitsOfShapeBatchBy1000(model: ZooModel) throws {
        let engine = try OpenVINOEngine()
        var settings = EngineSettings()
        settings.batch = 2
        let compiled = try engine.compile(modelAt: try ModelZoo.cachedFile(model), settings: settings)
        #expect(compiled.inputs == [TensorInfo(name: "input", elementType: .f32, shape: [2, 3, 224, 224])])
        #expect(compiled.outputs.map(\.shape) == [[2, 1000]])
        let request = try compiled.makeRequest()
        try request.fillInputsRandomly(compiled.inputs)
        try request.infer()
        let output = try request.output(0)
        #expect(output.shape == [2, 1000])
        let logits = output.floats()
        #expect(logits.count == 2000)
        let finite = logits.allSatisfy { $0.isFinite }
        #expect(finite)
        // Seeded weights are not trained, but the network must not collapse to a constant.
        let distinct = Set(logits.prefix(1000)).count
        #expect(distinct > 100)
    }
}

@Suite(.timeLimit(.minutes(5))) struct OpenVINOEngineTests {
    @Test func addMicroModelAddsExactly() throws {
        let engine = try OpenVINOEngine()
        var settings = EngineSettings()
        settings.batch = 3
        let compiled = try engine.compile(modelAt: try zooFile("add"), settings: settings)
        #expect(compiled.inputs.map(\.name) == ["a", "b"])
        #expect(compiled.inputs.map(\.shape) == [[3, 16], [3, 16]])
        let request = try compiled.makeRequest()
        let a = (0..<48).map { Float($0) * 0.5 }, b = (0..<48).map { Float(100 - $0) }
        a.withUnsafeBytes { try! request.inputBuffer(0).copyMemory(from: $0) }
        b.withUnsafeBytes { try! request.inputBuffer(1).copyMemory(from: $0) }
        try request.infer()
        let sum = try request.output(0)
        #expect(sum.shape == [3, 16])
        #expect(sum.floats() == zip(a, b).map(+))
    }

    /// The first sample of a batch must give the same logits as that sample alone (f32, so exact
    /// up to summation order).
    @Test func batchedInferenceMatchesSingleSamples() throws {
        let engine = try OpenVINOEngine()
        let path = try zooFile("mobilenet_v3_small")
        var single = EngineSettings()
        single.precision = .f32
        var batched = single
        batched.batch = 4
        let one = try engine.compile(modelAt: path, settings: single).makeRequest()
        let four = try engine.compile(modelAt: path, settings: batched).makeRequest()
        var random = SeededRandom(seed: 9)
        let sample = (0..<(3 * 224 * 224)).map { _ in random.nextSignedUnitFloat() }
        sample.withUnsafeBytes { try! one.inputBuffer(0).copyMemory(from: $0) }
        let fourInput = try four.inputBuffer(0)
        for i in 0..<4 {
            sample.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: fourInput[(i * $0.count)..<((i + 1) * $0.count)]).copyMemory(from: $0) }
        }
        try one.infer()
        try four.infer()
        let alone = try one.output(0).floats(), together = try four.output(0).floats()
        #expect(together.count == 4000)
        for i in 0..<4 {
            let slice = Array(together[(i * 1000)..<((i + 1) * 1000)])
            let worst = zip(slice, alone).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst < 1e-3)
        }
    }

    @Test func asyncInferenceAwaitsTheResult() async throws {
        let engine = try OpenVINOEngine()
        let compiled = try engine.compile(modelAt: try zooFile("add"), settings: EngineSettings())
        let request = try compiled.makeRequest()
        for round in 0..<3 {
            let a = (0..<16).map { Float($0 + round) }, b = (0..<16).map { _ in Float(round) * 10 }
            a.withUnsafeBytes { try! request.inputBuffer(0).copyMemory(from: $0) }
            b.withUnsafeBytes { try! request.inputBuffer(1).copyMemory(from: $0) }
            try await request.inferAsync()
            #expect(try request.output(0).floats() == zip(a, b).map(+))
        }
    }

    /// The same network as OpenVINO IR (converted by OpenVINO's Python API) compiles and gives the
    /// same logits as the ONNX file.
    @Test(.enabled(if: Requirements.openVINOPython, "needs OpenVINO's Python API in .deps/openvino: run scripts/setup"))
    func openVINOIRModelsLoad() throws {
        let onnx = try zooFile("squeezenet1_1")
        let xml = temporaryPath("squeezenet.xml")
        defer { for path in [xml, xml.replacingOccurrences(of: ".xml", with: ".bin")] { try? FileManager.default.removeItem(atPath: path) } }
        let converted = try python("import sys, openvino as ov; ov.save_model(ov.convert_model(sys.argv[1]), sys.argv[2], compress_to_fp16=False)", [onnx, xml])
        #expect(converted.status == 0, "\(converted.stderr)")
        var settings = EngineSettings()
        settings.precision = .f32
        let engine = try OpenVINOEngine()
        var logits: [[Float]] = []
        for path in [onnx, xml] {
            let request = try engine.compile(modelAt: path, settings: settings).makeRequest()
            try request.fillInputsRandomly([TensorInfo(name: "input", elementType: .f32, shape: [1, 3, 224, 224])], seed: 5)
            try request.infer()
            logits.append(try request.output(0).floats())
        }
        let worst = zip(logits[0], logits[1]).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 1
        #expect(logits[1].count == 1000)
        #expect(worst < 1e-4)
    }

    @Test func appliedSettingsAreReadBack() throws {
        let engine = try OpenVINOEngine()
        var settings = EngineSettings()
        settings.hint = .throughput
        settings.precision = .f32
        settings.streams = 2
        let compiled = try engine.compile(modelAt: try zooFile("squeezenet1_1"), settings: settings)
        #expect(compiled.applied.hint == "THROUGHPUT")
        #expect(compiled.applied.precision == "f32")
        #expect(compiled.applied.streams == 2)
        #expect(compiled.applied.optimalRequests >= 2)
        #expect(engine.version.hasPrefix("2026.4"))
    }

    @Test func u8InputsAreConvertedInsideTheGraph() throws {
        let engine = try OpenVINOEngine()
        var settings = EngineSettings()
        settings.inputElementType = .u8
        let compiled = try engine.compile(modelAt: try zooFile("identity"), settings: settings)
        #expect(compiled.inputs.first?.elementType == .u8)
        let request = try compiled.makeRequest()
        let buffer = try request.inputBuffer(0)
        #expect(buffer.count == 16)
        for i in 0..<16 { buffer[i] = UInt8(i * 10) }
        try request.infer()
        #expect(try request.output(0).floats() == (0..<16).map { Float($0 * 10) })
    }

    @Test func userShapesFixTheInput() throws {
        let engine = try OpenVINOEngine()
        var settings = EngineSettings()
        settings.shapes["input"] = [1, 3, 160, 160]
        let compiled = try engine.compile(modelAt: try zooFile("squeezenet1_1"), settings: settings)
        #expect(compiled.inputs.first?.shape == [1, 3, 160, 160])
        #expect(compiled.outputs.first?.shape == [1, 1000])
    }

    @Test func benchmarkCountsEveryCompletedRequest() throws {
        let engine = try OpenVINOEngine()
        let compiled = try engine.compile(modelAt: try zooFile("identity"), settings: EngineSettings())
        var reports = 0
        let result = try Benchmark.run(compiled, engine: engine, plan: BenchmarkPlan(duration: .milliseconds(1500), requests: 3)) { _ in reports += 1 }
        #expect(result.requests == 3)
        #expect(result.iterations > 100)
        #expect(result.latency.count == result.iterations)
        #expect(result.latency.p50Ns > 0 && result.latency.p50Ns <= result.latency.p99Ns)
        #expect(abs(result.throughput - Double(result.iterations) / result.durationSeconds) < 1e-6)
        #expect(result.durationSeconds >= 1.4)
        #expect(reports >= 1)
    }

    @Test func singleRequestRunsSynchronously() throws {
        let engine = try OpenVINOEngine()
        let compiled = try engine.compile(modelAt: try zooFile("identity"), settings: EngineSettings())
        let result = try Benchmark.run(compiled, engine: engine, plan: BenchmarkPlan(duration: .milliseconds(500), requests: 1))
        #expect(result.requests == 1)
        #expect(result.iterations > 100)
        #expect(result.latency.count == result.iterations)
        #expect(result.durationSeconds >= 0.5)
    }
}

@Suite(.timeLimit(.minutes(5))) struct EngineErrorTests {
    func compile(_ path: String, _ settings: EngineSettings = EngineSettings()) -> EngineError? {
        do {
            _ = try OpenVINOEngine().compile(modelAt: path, settings: settings)
            return nil
        } catch {
            return error
        }
    }

    func temporaryFile(_ name: String, _ contents: Data) throws -> String {
        let path = temporaryPath(name)
        try contents.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func missingFile() {
        #expect(compile("/nonexistent/model.onnx") == .modelNotFound("/nonexistent/model.onnx"))
    }

    @Test func truncatedAndNonModelFiles() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: try zooFile("squeezenet1_1")))
        let truncated = try temporaryFile("truncated.onnx", whole.prefix(whole.count / 3))
        let text = try temporaryFile("text.onnx", Data("this is not a model\n".utf8))
        let empty = try temporaryFile("empty.onnx", Data())
        let junk = try temporaryFile("junk.xml", Data("<not a model/>".utf8))
        for path in [truncated, text, empty, junk] {
            defer { try? FileManager.default.removeItem(atPath: path) }
            let error = compile(path)
            guard case .unreadableModel(let reported, _) = error else {
                Issue.record("\(path): expected unreadableModel, got \(String(describing: error))")
                continue
            }
            #expect(reported == path)
            #expect(!"\(error!)".contains("\n"))
        }
    }

    @Test func badShapes() throws {
        var unknownName = EngineSettings()
        unknownName.shapes["pixels"] = [1, 3, 224, 224]
        guard case .badShape(let message) = compile(try zooFile("resnet18"), unknownName) else {
            Issue.record("expected badShape"); return
        }
        #expect(message.contains("no input named 'pixels'"))

        var wrongRank = EngineSettings()
        wrongRank.shapes["input"] = [1, 3, 224]
        guard case .badShape = compile(try zooFile("resnet18"), wrongRank) else {
            Issue.record("expected badShape for a rank-3 shape"); return
        }
        #expect(throws: EngineError.self) { try EngineSettings.parseShape("input:1,x,3") }
        #expect(throws: EngineError.self) { try EngineSettings.parseShape(":1,3") }
        #expect(try EngineSettings.parseShape("input:1,3,224,224").dims == [1, 3, 224, 224])
        #expect(try EngineSettings.parseShape("2,16").name == nil)
    }

    @Test func invalidSettings() throws {
        var settings = EngineSettings()
        settings.batch = 0
        guard case .invalidSetting = compile(try zooFile("identity"), settings) else {
            Issue.record("batch 0 should be rejected"); return
        }
    }

    /// OpenVINO's element-type codes are declared by hand; check them against the library.
    @Test func elementTypeCodesMatchTheLibrary() throws {
        let engine = try OpenVINOEngine()
        let compiled = try engine.compile(modelAt: try zooFile("identity"), settings: EngineSettings())
        #expect(compiled.inputs.first?.elementType == .f32)
        #expect(ElementType(openVINOCode: ElementType.u8.openVINOCode) == .u8)
    }
}

/// OpenCV DNN beside OpenVINO: the same zoo file and input give the same logits, within what two
/// FP32 implementations of the same arithmetic (different summation orders, fused kernels) differ by.
@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: Requirements.openCV, "needs the OpenCV DNN shim: run scripts/setup"))
struct OpenCVEngineTests {
    /// The zoo models OpenCV 4.6 (Debian 12's) computes as OpenVINO does. It runs mobilenet_v3 with
    /// logits 10–12% off OpenVINO's and another top class (docs/engines.md).
    static let agreeing = ["mobilenet_v2", "squeezenet1_1", "resnet18", "resnet50", "efficientnet_b0"]

    @Test(arguments: agreeing)
    func logitsAgreeWithOpenVINO(model: String) throws {
        let file = try zooFile(model)
        var random = SeededRandom(seed: 9)
        let input = (0..<(3 * 224 * 224)).map { _ in random.nextSignedUnitFloat() }
        func logits(_ engine: any InferenceEngine) throws -> ([Float], AppliedSettings) {
            var settings = EngineSettings()
            settings.precision = .f32
            settings.threads = 1
            settings.shapes = ["input": [1, 3, 224, 224]]
            let compiled = try engine.compile(modelAt: file, settings: settings)
            let request = try compiled.makeRequest()
            input.withUnsafeBytes { try! request.inputBuffer(0).copyMemory(from: $0) }
            try request.infer()
            return (try request.output(0).floats(), compiled.applied)
        }
        let (reference, _) = try logits(try OpenVINOEngine())
        let (opencv, applied) = try logits(try OpenCVEngine())
        #expect(applied.threads == 1 && applied.precision == "f32", "\(applied)")
        #expect(opencv.count == 1000)
        let scale = max(1, reference.map { abs($0) }.max() ?? 1)
        let worst = zip(opencv, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst / scale < 1e-3, "\(model): max |Δ| \(worst) against logits up to \(scale)")
        #expect(opencv.indices.max { opencv[$0] < opencv[$1] } == reference.indices.max { reference[$0] < reference[$1] })
    }

    /// A model the importer cannot take is a one-line error naming the node — ReLU6 as opset 11's
    /// Clip with its bounds as inputs, which OpenCV 4.6 cannot read (the zoo writes it so only beside
    /// HardSwish, which needs opset 14) — and a missing shim is a one-line error naming what to
    /// install (in a process of its own, as the library is opened once).
    @Test func unsupportedModelsAndAMissingLibraryAreOneLineErrors() throws {
        var builder = GraphBuilder(seed: 1)
        let x = builder.input("input", dims: [3, 16, 16])
        let y = builder.activate(builder.conv(x, out: 4, kernel: 3, activation: .relu6), .hardSwish)
        let path = temporaryPath("clip-inputs.onnx")
        try builder.model(name: "clip", outputs: [(builder.globalAveragePool(y), "output", [4, 1, 1])], docString: "").serializedData()
            .write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var settings = EngineSettings()
        settings.shapes = ["input": [1, 3, 16, 16]]
        do {
            _ = try OpenCVEngine().compile(modelAt: path, settings: settings)
            Issue.record("OpenCV 4.6 took Clip with min/max inputs")
        } catch {
            #expect("\(error)".contains("Node [Clip@ai.onnx]") && !"\(error)".contains("\n"), "\(error)")
        }
        let missing = try edgeinsight(["bench", "squeezenet1_1", "--engine", "opencv", "--duration", "1s"], environment: ["EDGEINSIGHT_OPENCV_SHIM": "/nonexistent/shim.so"])
        #expect(missing.status != 0)
        #expect(missing.errorLine == "error: OpenCV DNN not found (looked in: EDGEINSIGHT_OPENCV_SHIM=/nonexistent/shim.so); run scripts/setup (it installs Debian's libopencv-dev and builds the shim)", "\(missing.stderr)")
    }
}
