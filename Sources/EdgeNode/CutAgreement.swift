import EdgeInsightCore
import Engine
import Foundation
import Imaging
import ModelZoo

/// What encoding a partition's activation costs in answers: how often the head then the tail,
/// the activation crossing as encoded, picks the whole model's top class — on frames of the
/// synthetic camera through the model's standard pre-processing, every part on one engine at FP32
/// (so the encoding is the only difference) — and the largest difference of the outputs relative
/// to the whole model's largest output.
public struct CutAgreement: Sendable, Equatable {
    public var frames: Int
    public var agreeing: Int
    public var maxRelativeDifference: Double

    public var share: Double { frames > 0 ? Double(agreeing) / Double(frames) : 0 }

    public var description: String {
        String(format: "top-1 agreement with the whole model %d of %d frames (%.0f%%); largest output difference %.2g of the largest output",
               agreeing, frames, share * 100, maxRelativeDifference)
    }

    /// Measures the cut of `model` (a zoo name, `name@resolution` or an ONNX file) after `after`.
    public static func measure(model: String, after: String, activation: ActivationEncoding, frames: Int = 32,
                               engine kind: EngineKind = .openvino) throws -> CutAgreement {
        let whole = try ModelZoo.resolve(model).path
        let cut = try ModelCut.files(model, after: after, activation: activation)
        let engine = try kind.open()
        var settings = EngineSettings()
        settings.precision = .f32
        let compile = { (path: String) throws -> (any CompiledModel, any InferRequest) in
            let compiled = try engine.compile(modelAt: path, settings: settings)
            return (compiled, try compiled.makeRequest())
        }
        let (wholeModel, wholeRequest) = try compile(whole)
        let (headModel, headRequest) = try compile(cut.head)
        let (tailModel, tailRequest) = try compile(cut.tail)
        guard let input = wholeModel.inputs.first, wholeModel.inputs.count == 1, headModel.inputs.count == 1 else {
            throw EdgeNodeError.badConfig("measuring a cut's agreement needs a model with one image input")
        }
        let side = input.shape[1] == 3 ? input.shape[2] : input.shape[1]
        let camera = try SyntheticCamera(width: side * 8 / 7, height: side * 8 / 7)
        let preprocessor = try Preprocessor(pipeline: try Pipeline.standard(for: input))
        let tailIndex = Dictionary(tailModel.inputs.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var result = CutAgreement(frames: frames, agreeing: 0, maxRelativeDifference: 0)
        for frame in 0..<frames {
            let tensor = try wholeRequest.inputBuffer(0)
            _ = try preprocessor.run(image: camera.frame(frame), into: tensor)
            try headRequest.inputBuffer(0).copyMemory(from: UnsafeRawBufferPointer(tensor))
            try wholeRequest.infer()
            try headRequest.infer()
            for (index, output) in headModel.outputs.enumerated() {
                guard let at = tailIndex[output.name] else { throw EdgeNodeError.badConfig("the tail takes no '\(output.name)'") }
                try tailRequest.inputBuffer(at).copyMemory(from: try headRequest.output(index).bytes)
            }
            try tailRequest.infer()
            let expected = try wholeRequest.output(0).floats(), got = try tailRequest.output(0).floats()
            guard expected.count == got.count, !expected.isEmpty else { throw EdgeNodeError.badConfig("the tail's output is not the whole model's") }
            if LocalInference.argmax(try wholeRequest.output(0)) == LocalInference.argmax(try tailRequest.output(0)) { result.agreeing += 1 }
            let scale = max(expected.map(abs).max() ?? 1, .leastNormalMagnitude)
            let difference = zip(expected, got).map { abs($0 - $1) }.max() ?? 0
            result.maxRelativeDifference = max(result.maxRelativeDifference, Double(difference / scale))
        }
        return result
    }
}
