import EdgeInsightCore
import Foundation

/// The compiled model of a framework whose loaded model runs one inference at a time (OpenCV DNN's
/// network, LiteRT's interpreter): each infer request loads its own, and the one compiling made
/// (to learn the outputs) is handed out first, so the model is not loaded twice.
final class PerRequestModel: CompiledModel, @unchecked Sendable {
    let inputs: [TensorInfo]
    let outputs: [TensorInfo]
    let applied: AppliedSettings
    let compileTime: Duration
    private var first: (any InferRequest)?
    private let load: @Sendable () throws(EngineError) -> any InferRequest
    private let lock = NSLock()

    init(inputs: [TensorInfo], outputs: [TensorInfo], applied: AppliedSettings, compileTime: Duration, first: any InferRequest,
         load: @escaping @Sendable () throws(EngineError) -> any InferRequest) {
        self.inputs = inputs
        self.outputs = outputs
        self.applied = applied
        self.compileTime = compileTime
        self.first = first
        self.load = load
    }

    func makeRequest() throws(EngineError) -> any InferRequest {
        if let ready = lock.withLock({ () -> (any InferRequest)? in defer { first = nil }; return first }) { return ready }
        return try load()
    }
}
