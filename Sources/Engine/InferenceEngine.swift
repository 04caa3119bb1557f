import EdgeInsightCore

/// Something that turns a model file into a compiled model ready to run.
public protocol InferenceEngine: Sendable {
    /// Engine name, e.g. "OpenVINO".
    var name: String { get }
    /// Engine version, e.g. "2026.4.1-…".
    var version: String { get }
    /// Reads, reshapes and compiles a model file (ONNX, TFLite, OpenVINO IR).
    func compile(modelAt path: String, settings: EngineSettings) throws(EngineError) -> any CompiledModel
}

/// A model compiled for a device, with its input and output metadata.
public protocol CompiledModel: AnyObject, Sendable {
    var inputs: [TensorInfo] { get }
    var outputs: [TensorInfo] { get }
    /// What the device actually applied.
    var applied: AppliedSettings { get }
    /// Wall time of reading plus compiling.
    var compileTime: Duration { get }
    /// A new infer request with its own input and output buffers.
    func makeRequest() throws(EngineError) -> any InferRequest
}

/// One in-flight inference slot. Not thread-safe: one caller drives it at a time.
public protocol InferRequest: AnyObject, Sendable {
    /// The request's own input buffer: write input `index` here (no copy is made).
    func inputBuffer(_ index: Int) throws(EngineError) -> UnsafeMutableRawBufferPointer
    /// Gives input `index` of a model compiled with dynamic dimensions this request's shape; its
    /// buffer (from `inputBuffer`) then has that shape's size. An unchanged shape costs nothing.
    func setInputShape(_ index: Int, _ shape: [Int]) throws(EngineError)
    /// The request's output `index` after a completed inference; valid until the next one starts.
    func output(_ index: Int) throws(EngineError) -> TensorView
    /// Runs one inference and returns when it is done.
    func infer() throws(EngineError)
    /// Starts an inference; the completion handler runs on an engine thread when it ends.
    func startAsync() throws(EngineError)
    /// Waits for an inference started with `startAsync`.
    func wait() throws(EngineError)
    /// Called on an engine thread at the end of every asynchronous inference.
    func setCompletionHandler(_ handler: @escaping @Sendable () -> Void) throws(EngineError)
}

/// A read-only view of a tensor owned by an infer request.
public struct TensorView: @unchecked Sendable {
    public var shape: [Int]
    public var elementType: ElementType
    public var bytes: UnsafeRawBufferPointer

    public init(shape: [Int], elementType: ElementType, bytes: UnsafeRawBufferPointer) {
        self.shape = shape
        self.elementType = elementType
        self.bytes = bytes
    }

    /// Copies the elements out as Floats (f32 outputs only).
    public func floats() -> [Float] {
        precondition(elementType == .f32, "floats() needs an f32 tensor")
        return Array(bytes.bindMemory(to: Float.self))
    }
}

extension InferRequest {
    /// Fills every input with reproducible pseudo-random data of its element type.
    public func fillInputsRandomly(_ inputs: [TensorInfo], seed: UInt64 = 1) throws(EngineError) {
        var random = SeededRandom(seed: seed)
        for (index, info) in inputs.enumerated() {
            let buffer = try inputBuffer(index)
            switch info.elementType {
            case .f32:
                let floats = buffer.bindMemory(to: Float.self)
                for i in floats.indices { floats[i] = random.nextSignedUnitFloat() }
            default:
                for i in buffer.indices { buffer[i] = UInt8(truncatingIfNeeded: random.next()) }
            }
        }
    }
}

extension InferRequest {
    /// Runs one inference without blocking the calling thread; returns when it is done.
    /// Replaces the request's completion handler.
    public func inferAsync() async throws(EngineError) {
        let outcome: Result<Void, EngineError> = await withCheckedContinuation { continuation in
            do throws(EngineError) {
                try setCompletionHandler { continuation.resume(returning: .success(())) }
                try startAsync()
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        try outcome.get()
        // A finished request's wait() reports how the inference ended.
        try wait()
    }
}

extension EngineKind {
    /// The engine, loaded now: a missing library is a one-line error naming what to install.
    public func open() throws(EngineError) -> any InferenceEngine {
        switch self {
        case .openvino: try OpenVINOEngine()
        case .opencv: try OpenCVEngine()
        case .litert: try LiteRTEngine()
        }
    }

    /// Whether the engine reads input shapes from the model file itself.
    public var readsInputShapes: Bool { self != .opencv }
}
