import EdgeInsightCore
import Engine
import Foundation
import Imaging

/// What a device does with each frame once it leaves the source's queue: infer it here, or send it
/// to a cloud node. It marks each stage on the frame's trace as the stage ends.
public protocol FrameProcessor: AnyObject {
    /// What happens to a frame, for the report (the pipeline, or what is sent where).
    var pipelineDescription: String { get }
    /// Engine settings, when inference runs on this device.
    var applied: AppliedSettings? { get }
    /// Processes one frame (nil for a raw-tensor source). `measured` is false for frames of the
    /// warm-up, which are processed but must not count in the processor's own tallies.
    func process(jpeg: UnsafeRawBufferPointer?, measured: Bool, trace: inout ItemTrace) throws -> FrameResult
}

/// What became of a processed frame, as far as this device knows: a sign the outputs are real.
public struct FrameResult: Sendable, Equatable, Codable {
    /// The index of the most likely class, when the device ran a classifier itself; nil for other
    /// models and when it cannot know (a cloud node's answer is not decoded).
    public var topClass: Int?
    /// For models that are not classifiers (detection maps, OCR sequences, embeddings): the elements
    /// of every output and an FNV-1a checksum of their bytes.
    public var outputElements: Int?
    public var checksum: UInt64?

    public init(topClass: Int?, outputElements: Int? = nil, checksum: UInt64? = nil) {
        self.topClass = topClass
        self.outputElements = outputElements
        self.checksum = checksum
    }
}

/// The edge placement's device work: pre-process, infer and post-process on this machine.
public final class LocalInference: FrameProcessor {
    let preprocessor: Preprocessor
    let request: any InferRequest
    let input: UnsafeMutableRawBufferPointer
    public let applied: AppliedSettings?
    public let pipelineDescription: String
    /// One output [batch, classes]: post-processing picks the top class; otherwise it digests the outputs.
    let isClassifier: Bool
    let outputCount: Int

    /// Checks that `pipeline` (or the model's standard one) feeds the model's single input, then
    /// warms the model up: a compiled model's first inference is slower and would skew the first frame.
    public init(model: any CompiledModel, pipeline chosen: Pipeline?, source: SourceKind) throws(ImagingError) {
        guard model.inputs.count == 1, let input = model.inputs.first, let inputBytes = input.byteCount else {
            throw .badPipeline("the edge pipeline feeds models with one static input; this one has \(model.inputs.map { "\($0.name) \($0.shapeDescription)" }.joined(separator: ", "))")
        }
        let pipeline: Pipeline
        if let chosen { pipeline = chosen } else { pipeline = try Pipeline.standard(for: input) }
        if source != .tensor {
            guard pipeline.decodes else { throw .badPipeline("frames arrive as JPEG, so the pipeline must start with 'decode'") }
            guard pipeline.output.type == input.elementType else {
                throw .badPipeline("the pipeline writes \(pipeline.output.type.rawValue) but input '\(input.name)' takes \(input.elementType.rawValue)")
            }
        }
        preprocessor = try Preprocessor(pipeline: pipeline)
        do {
            request = try model.makeRequest()
            try request.fillInputsRandomly(model.inputs)
            try request.infer()
            self.input = try request.inputBuffer(0)
        } catch {
            throw .badSource("cannot run the model: \(error)")
        }
        precondition(self.input.count == inputBytes)
        applied = model.applied
        pipelineDescription = pipeline.description
        outputCount = model.outputs.count
        isClassifier = model.outputs.count == 1 && model.outputs[0].shape.count == 2 && model.outputs[0].elementType == .f32
    }

    public func process(jpeg: UnsafeRawBufferPointer?, measured: Bool, trace: inout ItemTrace) throws -> FrameResult {
        if let jpeg { try preprocessor.run(jpeg: jpeg, into: input) }
        trace.mark(.preprocess, until: MonotonicClock.now())
        try request.infer()
        trace.mark(.infer, until: MonotonicClock.now())
        let result = isClassifier ? FrameResult(topClass: Self.argmax(try request.output(0))) : try Self.digest(request, outputs: outputCount)
        trace.mark(.postprocess, until: MonotonicClock.now())
        return result
    }

    /// Every output's element count and an FNV-1a hash of its bytes, for models whose outputs the
    /// device has no specific post-processing for.
    static func digest(_ request: any InferRequest, outputs: Int) throws -> FrameResult {
        var hash = FNV1a()
        var elements = 0
        for index in 0..<outputs {
            let view = try request.output(index)
            elements += view.shape.reduce(1, *)
            hash.add(view.bytes)
        }
        return FrameResult(topClass: nil, outputElements: elements, checksum: hash.value)
    }

    static func argmax(_ output: TensorView) -> Int {
        guard output.elementType == .f32 else { return 0 }
        let values = output.bytes.bindMemory(to: Float.self)
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best % max(1, output.shape.last ?? 1)
    }
}

extension Optional where Wrapped == [UInt8] {
    /// Runs `body` with the bytes, or with nil.
    func withUnsafeBytesIfPresent<R>(_ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        switch self {
        case .some(let data): try data.withUnsafeBytes { try body($0) }
        case .none: try body(nil)
        }
    }
}
