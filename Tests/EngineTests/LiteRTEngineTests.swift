import EdgeInsightCore
@testable import Engine
import Foundation
import ModelZoo
import TestSupport
import Testing

/// Runs `file` in our LiteRT binding on seeded inputs: the inputs and the first output.
private func runLiteRT(_ file: String, threads: Int = 1, batch: Int = 1, seed: UInt64 = 3) throws -> (inputs: [[Float]], output: TensorView, applied: AppliedSettings, request: any InferRequest) {
    var settings = EngineSettings()
    settings.threads = threads
    settings.batch = batch
    let compiled = try LiteRTEngine().compile(modelAt: file, settings: settings)
    let request = try compiled.makeRequest()
    try request.fillInputsRandomly(compiled.inputs, seed: seed)
    let inputs = try compiled.inputs.indices.map { Array(try request.inputBuffer($0).bindMemory(to: Float.self)) }
    try request.infer()
    return (inputs, try request.output(0), compiled.applied, request)
}

/// NCHW ↔ NHWC for one image of `channels` × `size` × `size`.
private func nhwc(_ nchw: [Float], channels: Int, size: Int) -> [Float] {
    var out = [Float](repeating: 0, count: nchw.count)
    for c in 0..<channels { for i in 0..<(size * size) { out[i * channels + c] = nchw[c * size * size + i] } }
    return out
}

private func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    let scale = max(1e-6, b.map { abs($0) }.max() ?? 1)
    return (zip(a, b).map { abs($0 - $1) }.max() ?? .infinity) / scale
}

private func top1(_ values: [Float]) -> Int? { values.indices.max { values[$0] < values[$1] } }

@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: Requirements.liteRT, "needs LiteRT's wheel: run scripts/setup"))
struct LiteRTEngineTests {
    /// Every zoo model written as TFLite loads in LiteRT's own Python interpreter, which — with its
    /// reference kernels, not XNNPACK — computes from the same input what our binding does.
    @Test(arguments: ModelZoo.models)
    func theReferenceInterpreterComputesWhatOurBindingComputes(model: ZooModel) throws {
        let file = try ModelZoo.cachedFile(model, resolution: 96, format: .tflite)
        let ours = try runLiteRT(file)
        let folder = temporaryPath("litert-reference")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (index, input) in ours.inputs.enumerated() {
            try input.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: "\(folder)/input\(index).f32"))
        }
        let script = """
        import sys, numpy as np
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        model, folder = sys.argv[1], sys.argv[2]
        it = Interpreter(model_path=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        for i, d in enumerate(it.get_input_details()):
            it.set_tensor(d['index'], np.fromfile(f'{folder}/input{i}.f32', dtype=np.float32).reshape(d['shape']))
        it.invoke()
        out = it.get_output_details()[0]
        it.get_tensor(out['index']).astype(np.float32).tofile(f'{folder}/output.f32')
        print(','.join(str(x) for x in out['shape']))
        """
        let reference = try python(script, [file, folder], packages: ["litert"])
        try #require(reference.status == 0, "\(reference.stderr)")
        let expected = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/output.f32")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(reference.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == ours.output.shape.map(String.init).joined(separator: ","))
        let error = relativeError(ours.output.floats(), expected)
        #expect(error < 1e-4, "\(model.name): max |Δ| / max |reference| = \(error)")
        #expect(ours.applied.threads == 1 && ours.applied.precision == "f32" && ours.applied.hint == "xnnpack", "\(ours.applied)")
    }

    /// The same weights on every engine: OpenVINO (f32) on the ONNX file and on the TFLite file,
    /// LiteRT on the TFLite file, OpenCV DNN on the ONNX file where it takes the model — the same
    /// top class and logits within 1e-3 of the largest (FP32 sums in different orders).
    @Test(arguments: ["squeezenet1_1", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "resnet50"])
    func theSameWeightsGiveTheSameLogitsOnEveryEngine(model: String) throws {
        let size = 128
        let zoo = try ModelZoo.model(named: model)
        let onnx = try ModelZoo.cachedFile(zoo, resolution: size), tflite = try ModelZoo.cachedFile(zoo, resolution: size, format: .tflite)
        let ours = try runLiteRT(tflite)
        let imageNHWC = ours.inputs[0]
        var imageNCHW = [Float](repeating: 0, count: imageNHWC.count)
        for c in 0..<3 { for i in 0..<(size * size) { imageNCHW[c * size * size + i] = imageNHWC[i * 3 + c] } }
        #expect(nhwc(imageNCHW, channels: 3, size: size) == imageNHWC)

        func logits(_ engine: any InferenceEngine, _ file: String, _ input: [Float], shapes: [String: [Int]] = [:]) throws -> [Float] {
            var settings = EngineSettings()
            settings.precision = .f32
            settings.threads = 1
            settings.shapes = shapes
            let request = try engine.compile(modelAt: file, settings: settings).makeRequest()
            input.withUnsafeBytes { try! request.inputBuffer(0).copyMemory(from: $0) }
            try request.infer()
            return try request.output(0).floats()
        }
        let reference = try logits(try OpenVINOEngine(), onnx, imageNCHW)
        let litert = ours.output.floats()
        let openVINOOnTFLite = try logits(try OpenVINOEngine(), tflite, imageNHWC)
        #expect(relativeError(litert, reference) < 1e-3, "LiteRT vs OpenVINO on \(model)")
        #expect(relativeError(openVINOOnTFLite, reference) < 1e-3, "OpenVINO reading the .tflite vs the .onnx on \(model)")
        #expect(top1(litert) == top1(reference) && top1(openVINOOnTFLite) == top1(reference))
        if Requirements.openCV, OpenCVEngineTests.agreeing.contains(model) {
            let opencv = try logits(try OpenCVEngine(), onnx, imageNCHW, shapes: ["input": [1, 3, size, size]])
            #expect(relativeError(opencv, reference) < 1e-3 && top1(opencv) == top1(reference), "OpenCV vs OpenVINO on \(model)")
        }
    }

    /// A batch resizes the model: four images in one request give, row by row, what each gives alone.
    @Test func aBatchComputesEachImageAsAlone() throws {
        let file = try ModelZoo.cachedFile(try ModelZoo.model(named: "mobilenet_v3_small"), resolution: 96, format: .tflite)
        let batched = try runLiteRT(file, threads: 2, batch: 4)
        #expect(batched.output.shape == [4, 1000])
        #expect(batched.applied.threads == 2 && batched.applied.batch == 4)
        let rows = batched.output.floats()
        let image = 96 * 96 * 3
        var settings = EngineSettings()
        settings.threads = 1
        let single = try LiteRTEngine().compile(modelAt: file, settings: settings).makeRequest()
        for index in [0, 3] {
            let slice = Array(batched.inputs[0][(index * image)..<((index + 1) * image)])
            slice.withUnsafeBytes { try! single.inputBuffer(0).copyMemory(from: $0) }
            try single.infer()
            #expect(relativeError(Array(rows[(index * 1000)..<((index + 1) * 1000)]), try single.output(0).floats()) < 1e-5)
        }
    }

    /// What LiteRT cannot take is a one-line error: an ONNX file, a shape of another rank, a
    /// missing library (in a process of its own, as the library is opened once).
    @Test func badInputAndAMissingLibraryAreOneLineErrors() throws {
        #expect(throws: EngineError.self) { _ = try LiteRTEngine().compile(modelAt: try zooFile("squeezenet1_1"), settings: EngineSettings()) }
        var settings = EngineSettings()
        settings.shapes = ["input": [1, 96, 96]]
        let file = try ModelZoo.cachedFile(try ModelZoo.model(named: "squeezenet1_1"), resolution: 96, format: .tflite)
        do {
            _ = try LiteRTEngine().compile(modelAt: file, settings: settings)
            Issue.record("a rank-3 shape was taken for a rank-4 input")
        } catch {
            #expect("\(error)" == "bad input shape: input 'input' is [1,96,96,3]; [1,96,96] does not fit it", "\(error)")
        }
        let missing = try edgeinsight(["bench", "squeezenet1_1", "--engine", "litert", "--duration", "1s"], environment: ["EDGEINSIGHT_LITERT": "/nonexistent/libLiteRt.so"])
        #expect(missing.status != 0)
        #expect(missing.errorLine == "error: LiteRT not found (looked in: EDGEINSIGHT_LITERT=/nonexistent/libLiteRt.so); run scripts/setup (it installs the ai-edge-litert wheel into .deps/litert)", "\(missing.stderr)")
    }
}
