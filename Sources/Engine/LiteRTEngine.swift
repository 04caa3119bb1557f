import EdgeInsightCore
import Foundation

/// LiteRT (TensorFlow Lite's runtime) on the CPU through its C API, `libLiteRt.so` from the
/// `ai-edge-litert` wheel, opened at run time. The wheel ships no headers: the declarations below
/// are ours, from the API's published headers (litert/c/*.h).
///
/// A compiled model is one interpreter, not safe to run from two threads, so each infer request
/// compiles its own (as each OpenCV request reads its own network). CPU work goes to XNNPACK, the
/// default; its thread count is set per compiled model through the CPU options (TOML text under the
/// identifier "xnnpack", as the runtime parses them) and reported as set. FP32 only. Inputs and
/// outputs live in our own 64-byte-aligned memory, wrapped as host tensor buffers, so nothing is
/// copied around an inference.
public final class LiteRTEngine: InferenceEngine, @unchecked Sendable {
    public let name = "LiteRT"
    public var version: String { library.version }
    let library: LiteRTLibrary

    public init() throws(EngineError) {
        library = try LiteRTLibrary.shared.get()
    }

    public func compile(modelAt path: String, settings: EngineSettings) throws(EngineError) -> any CompiledModel {
        guard FileManager.default.fileExists(atPath: path) else { throw .modelNotFound(path) }
        guard path.hasSuffix(".tflite") else { throw .unreadableModel(path: path, reason: "LiteRT reads .tflite files (the zoo writes one per model: --engine litert picks it)") }
        if let precision = settings.precision, precision != .f32 { throw .invalidSetting("LiteRT on the CPU runs f32 here, not \(precision.rawValue)") }
        if let type = settings.inputElementType, type != .f32 { throw .invalidSetting("the zoo's TFLite models take f32 inputs, not \(type.rawValue)") }
        let started = ContinuousClock.now
        let threads = settings.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let library = library
        let load: @Sendable () throws(EngineError) -> LiteRTInferRequest = { () throws(EngineError) in
            try LiteRTInferRequest(library: library, path: path, threads: threads, batch: settings.batch, shapes: settings.shapes)
        }
        let first = try load()
        return PerRequestModel(
            inputs: first.inputs, outputs: first.outputs,
            applied: AppliedSettings(device: "CPU", hint: "xnnpack", streams: 1, threads: threads, precision: "f32", optimalRequests: 1, batch: settings.batch),
            compileTime: ContinuousClock.now - started, first: first, load: load)
    }
}

/// One compiled model (an interpreter) with its own input and output memory.
final class LiteRTInferRequest: InferRequest, @unchecked Sendable {
    let library: LiteRTLibrary
    private(set) var inputs: [TensorInfo] = []
    private(set) var outputs: [TensorInfo] = []
    private var model: OpaquePointer?
    private var compiled: OpaquePointer?
    /// Each input's then each output's data, exactly its size (allocated in 64-byte blocks).
    private var memory: [UnsafeMutableRawBufferPointer] = []
    private var inputBuffers: [OpaquePointer?] = []
    private var outputBuffers: [OpaquePointer?] = []
    private let runner = BackgroundRun()

    init(library: LiteRTLibrary, path: String, threads: Int, batch: Int, shapes: [String: [Int]]) throws(EngineError) {
        self.library = library
        let api = library
        do throws(EngineError) {
            try api.check(api.createModelFromFile(api.environment, path, &model)) { .unreadableModel(path: path, reason: $0) }
            var signatures = 0
            try api.check(api.numSignatures(model!, &signatures)) { .unreadableModel(path: path, reason: $0) }
            guard signatures > 0 else { throw .unreadableModel(path: path, reason: "the model has no signature") }
            var signature: OpaquePointer?
            try api.check(api.signature(model!, 0, &signature)) { .unreadableModel(path: path, reason: $0) }
            inputs = try Self.tensors(api, signature!, input: true)
            outputs = try Self.tensors(api, signature!, input: false)

            var options: OpaquePointer?
            try api.check(api.createOptions(&options)) { .compileFailed($0) }
            defer { api.destroyOptions(options) }
            try api.check(api.setAccelerators(options!, 1)) { .compileFailed($0) }  // kLiteRtHwAcceleratorCpu
            let toml = strdup("num_threads = \(threads)\n")
            var cpu: OpaquePointer?
            try api.check(api.createOpaqueOptions("xnnpack", toml, { free($0) }, &cpu)) { .compileFailed($0) }
            try api.check(api.addOpaqueOptions(options!, cpu!)) { .compileFailed($0) }
            try api.check(api.createCompiledModel(api.environment, model!, options!, &compiled)) { .compileFailed($0) }

            // A batch or given shapes resize the inputs; the runtime then says the outputs' shapes.
            var resized = false
            for (index, info) in inputs.enumerated() {
                var shape = shapes[info.name] ?? (inputs.count == 1 ? shapes[""] : nil) ?? info.shape
                if batch > 1, !shape.isEmpty { shape[0] = batch }
                guard shape != info.shape else { continue }
                guard shape.count == info.shape.count, shape.allSatisfy({ $0 > 0 }) else {
                    throw .badShape("input '\(info.name)' is \(TensorInfo.describe(info.shape)); \(TensorInfo.describe(shape)) does not fit it")
                }
                let dims = shape.map { Int32($0) }
                try api.check(api.resizeInput(compiled!, 0, index, dims, dims.count)) { .badShape("LiteRT cannot resize input '\(info.name)' to \(TensorInfo.describe(shape)): \($0)") }
                inputs[index].shape = shape
                resized = true
            }
            if resized {
                var layouts = [LiteRTLibrary.Layout](repeating: .init(), count: outputs.count)
                try api.check(api.outputLayouts(compiled!, 0, outputs.count, &layouts, true)) { .compileFailed($0) }
                for index in outputs.indices { outputs[index].shape = layouts[index].shape }
            }
            inputBuffers = try inputs.map { info throws(EngineError) in try wrap(info) }
            outputBuffers = try outputs.map { info throws(EngineError) in try wrap(info) }
        } catch {
            release()
            throw error
        }
    }

    deinit { release() }

    private func release() {
        for buffer in inputBuffers + outputBuffers { if let buffer { library.destroyTensorBuffer(buffer) } }
        if let compiled { library.destroyCompiledModel(compiled) }
        if let model { library.destroyModel(model) }
        for view in memory { view.baseAddress!.deallocate() }
        inputBuffers = []; outputBuffers = []; memory = []; compiled = nil; model = nil
    }

    /// Our own memory for a tensor, wrapped as a LiteRT host buffer.
    private func wrap(_ info: TensorInfo) throws(EngineError) -> OpaquePointer? {
        let bytes = max(1, info.shape.reduce(1, *)) * info.elementType.byteSize
        let view = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer.allocate(byteCount: (bytes + 63) / 64 * 64, alignment: 64)[0..<bytes])
        view.initializeMemory(as: UInt8.self, repeating: 0)
        memory.append(view)
        var type = LiteRTLibrary.RankedTensorType(info)
        var buffer: OpaquePointer?
        try library.check(library.createHostBuffer(&type, view.baseAddress!, bytes, nil, &buffer)) { .compileFailed("cannot wrap tensor '\(info.name)': \($0)") }
        return buffer
    }

    private static func tensors(_ api: LiteRTLibrary, _ signature: OpaquePointer, input: Bool) throws(EngineError) -> [TensorInfo] {
        var count = 0
        try api.check(input ? api.numInputs(signature, &count) : api.numOutputs(signature, &count)) { .compileFailed($0) }
        return try (0..<count).map { index throws(EngineError) in
            var name: UnsafePointer<CChar>?
            var tensor: OpaquePointer?
            try api.check(input ? api.inputName(signature, index, &name) : api.outputName(signature, index, &name)) { .compileFailed($0) }
            try api.check(input ? api.inputTensor(signature, index, &tensor) : api.outputTensor(signature, index, &tensor)) { .compileFailed($0) }
            var type = LiteRTLibrary.RankedTensorType()
            try api.check(api.rankedType(tensor!, &type)) { .compileFailed("tensor \(index) has no fixed rank: \($0)") }
            guard let element = type.elementType else { throw .compileFailed("tensor \(index) has an element type EdgeInsight does not handle (LiteRT type \(type.element))") }
            return TensorInfo(name: name.map { String(cString: $0) } ?? "tensor\(index)", elementType: element, shape: type.layout.shape)
        }
    }

    func inputBuffer(_ index: Int) throws(EngineError) -> UnsafeMutableRawBufferPointer {
        guard inputs.indices.contains(index) else { throw .inferenceFailed("no input #\(index); the model has \(inputs.count)") }
        return memory[index]
    }

    func setInputShape(_ index: Int, _ shape: [Int]) throws(EngineError) {
        guard inputs.indices.contains(index), shape == inputs[index].shape else {
            throw .badShape("this LiteRT model runs the shape it was compiled for, \(inputs.indices.contains(index) ? TensorInfo.describe(inputs[index].shape) : "-")")
        }
    }

    func output(_ index: Int) throws(EngineError) -> TensorView {
        guard outputs.indices.contains(index) else { throw .inferenceFailed("no output #\(index); the model has \(outputs.count)") }
        return TensorView(shape: outputs[index].shape, elementType: outputs[index].elementType, bytes: UnsafeRawBufferPointer(memory[inputs.count + index]))
    }

    func infer() throws(EngineError) {
        try library.check(library.run(compiled!, 0, inputBuffers.count, &inputBuffers, outputBuffers.count, &outputBuffers)) { .inferenceFailed($0) }
    }

    func startAsync() throws(EngineError) { runner.start { () throws(EngineError) in try self.infer() } }
    func wait() throws(EngineError) { try runner.wait() }
    func setCompletionHandler(_ handler: @escaping @Sendable () -> Void) throws(EngineError) { runner.handler = handler }
}

/// The C API's functions, resolved once per process, and the one environment every model shares.
final class LiteRTLibrary: @unchecked Sendable {
    typealias Status = Int32
    typealias CreateEnvironment = @convention(c) (Int32, UnsafeRawPointer?, UnsafeMutablePointer<OpaquePointer?>) -> Status
    typealias CreateModelFromFile = @convention(c) (OpaquePointer?, UnsafePointer<CChar>, UnsafeMutablePointer<OpaquePointer?>) -> Status
    typealias Destroy = @convention(c) (OpaquePointer?) -> Void
    typealias Count = @convention(c) (OpaquePointer, UnsafeMutablePointer<Int>) -> Status
    typealias Signature = @convention(c) (OpaquePointer, Int, UnsafeMutablePointer<OpaquePointer?>) -> Status
    typealias Name = @convention(c) (OpaquePointer, Int, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Status
    typealias Tensor = @convention(c) (OpaquePointer, Int, UnsafeMutablePointer<OpaquePointer?>) -> Status
    typealias GetRankedType = @convention(c) (OpaquePointer, UnsafeMutableRawPointer) -> Status  // LiteRtRankedTensorType*
    typealias CreateOptions = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Status
    typealias SetAccelerators = @convention(c) (OpaquePointer, Int32) -> Status
    typealias CreateOpaqueOptions = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer?, (@convention(c) (UnsafeMutableRawPointer?) -> Void)?, UnsafeMutablePointer<OpaquePointer?>) -> Status
    typealias AddOpaqueOptions = @convention(c) (OpaquePointer, OpaquePointer) -> Status
    typealias CreateCompiledModel = @convention(c) (OpaquePointer?, OpaquePointer, OpaquePointer?, UnsafeMutablePointer<OpaquePointer?>) -> Status
    typealias ResizeInput = @convention(c) (OpaquePointer, Int, Int, UnsafePointer<Int32>, Int) -> Status
    typealias OutputLayouts = @convention(c) (OpaquePointer, Int, Int, UnsafeMutableRawPointer, Bool) -> Status  // LiteRtLayout*
    typealias CreateHostBuffer = @convention(c) (UnsafeRawPointer, UnsafeMutableRawPointer, Int, OpaquePointer?, UnsafeMutablePointer<OpaquePointer?>) -> Status  // LiteRtRankedTensorType*
    typealias Run = @convention(c) (OpaquePointer, Int, Int, UnsafeMutablePointer<OpaquePointer?>, Int, UnsafeMutablePointer<OpaquePointer?>) -> Status

    /// `LiteRtLayout`: rank in the low 7 bits of the first word (then a has-strides bit), 8
    /// dimensions, 8 strides — 68 bytes.
    struct Layout {
        var rankBits: UInt32 = 0
        var dimensions: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0, 0, 0)
        var strides: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0)

        init() {}
        init(_ shape: [Int]) {
            rankBits = UInt32(shape.count)
            withUnsafeMutableBytes(of: &dimensions) { raw in
                for (index, value) in shape.prefix(8).enumerated() { raw.storeBytes(of: Int32(value), toByteOffset: 4 * index, as: Int32.self) }
            }
        }

        var shape: [Int] {
            let rank = Int(rankBits & 0x7f)
            return withUnsafeBytes(of: dimensions) { raw in (0..<min(rank, 8)).map { Int(raw.load(fromByteOffset: 4 * $0, as: Int32.self)) } }
        }
    }

    /// `LiteRtRankedTensorType`: the element type (LiteRT's enum, TFLite's codes), then the layout — 72 bytes.
    struct RankedTensorType {
        var element: Int32 = 0
        var layout = Layout()

        init() {}
        init(_ info: TensorInfo) {
            element = Self.codes.first { $0.value == info.elementType }?.key ?? 0
            layout = Layout(info.shape)
        }

        static let codes: [Int32: ElementType] = [1: .f32, 2: .i32, 3: .u8, 4: .i64, 6: .boolean, 7: .i16, 9: .i8, 10: .f16, 11: .f64]
        var elementType: ElementType? { Self.codes[element] }
    }

    let createEnvironment: CreateEnvironment, createModelFromFile: CreateModelFromFile
    let destroyModel: Destroy, destroyCompiledModel: Destroy, destroyOptions: Destroy, destroyTensorBuffer: Destroy
    let numSignatures: Count, signature: Signature, numInputs: Count, numOutputs: Count
    let inputName: Name, outputName: Name, inputTensor: Tensor, outputTensor: Tensor, rankedType: GetRankedType
    let createOptions: CreateOptions, setAccelerators: SetAccelerators, createOpaqueOptions: CreateOpaqueOptions, addOpaqueOptions: AddOpaqueOptions
    let createCompiledModel: CreateCompiledModel, resizeInput: ResizeInput, outputLayouts: OutputLayouts
    let createHostBuffer: CreateHostBuffer, run: Run
    /// The environment every model of this process is read and compiled in.
    private(set) var environment: OpaquePointer?
    let version: String

    static let shared: Result<LiteRTLibrary, EngineError> = Result { () throws(EngineError) in try LiteRTLibrary() }

    private init() throws(EngineError) {
        let library = try RuntimeLibrary(engine: "LiteRT", variable: "EDGEINSIGHT_LITERT", relativePath: ".deps/litert/ai_edge_litert/libLiteRt.so",
                                         install: "run scripts/setup (it installs the ai-edge-litert wheel into .deps/litert)")
        let path = library.path
        func symbol<T>(_ name: String) throws(EngineError) -> T { try library.symbol(name) }
        // Our declarations of LiteRT's structs must have its sizes (litert_layout.h, litert_model_types.h).
        guard MemoryLayout<Layout>.stride == 68, MemoryLayout<RankedTensorType>.stride == 72 else {
            throw .libraryUnusable(engine: "LiteRT", path: path, reason: "this build lays LiteRtRankedTensorType out differently")
        }
        createEnvironment = try symbol("LiteRtCreateEnvironment")
        createModelFromFile = try symbol("LiteRtCreateModelFromFile")
        destroyModel = try symbol("LiteRtDestroyModel")
        destroyCompiledModel = try symbol("LiteRtDestroyCompiledModel")
        destroyOptions = try symbol("LiteRtDestroyOptions")
        destroyTensorBuffer = try symbol("LiteRtDestroyTensorBuffer")
        numSignatures = try symbol("LiteRtGetNumModelSignatures")
        signature = try symbol("LiteRtGetModelSignature")
        numInputs = try symbol("LiteRtGetNumSignatureInputs")
        numOutputs = try symbol("LiteRtGetNumSignatureOutputs")
        inputName = try symbol("LiteRtGetSignatureInputName")
        outputName = try symbol("LiteRtGetSignatureOutputName")
        inputTensor = try symbol("LiteRtGetSignatureInputTensorByIndex")
        outputTensor = try symbol("LiteRtGetSignatureOutputTensorByIndex")
        rankedType = try symbol("LiteRtGetRankedTensorType")
        createOptions = try symbol("LiteRtCreateOptions")
        setAccelerators = try symbol("LiteRtSetOptionsHardwareAccelerators")
        createOpaqueOptions = try symbol("LiteRtCreateOpaqueOptions")
        addOpaqueOptions = try symbol("LiteRtAddOpaqueOptions")
        createCompiledModel = try symbol("LiteRtCreateCompiledModel")
        resizeInput = try symbol("LiteRtCompiledModelResizeInputTensorNonStrict")
        outputLayouts = try symbol("LiteRtGetCompiledModelOutputTensorLayouts")
        createHostBuffer = try symbol("LiteRtCreateTensorBufferFromHostMemory")
        run = try symbol("LiteRtRunCompiledModel")
        // The wheel's metadata folder beside the package names the version.
        let package = (path as NSString).deletingLastPathComponent
        let siblings = (try? FileManager.default.contentsOfDirectory(atPath: (package as NSString).deletingLastPathComponent)) ?? []
        version = siblings.first { $0.hasPrefix("ai_edge_litert-") && $0.hasSuffix(".dist-info") }
            .map { String($0.dropFirst("ai_edge_litert-".count).dropLast(".dist-info".count)) } ?? "unknown"
        var environment: OpaquePointer?
        try check(createEnvironment(0, nil, &environment)) { .libraryUnusable(engine: "LiteRT", path: path, reason: "no environment: \($0)") }
        self.environment = environment
    }

    /// Turns a LiteRtStatus into an error (the library exports no status strings, so the names
    /// of litert_common.h's codes are ours).
    func check(_ status: Status, _ error: (String) -> EngineError) throws(EngineError) {
        guard status != 0 else { return }
        let names: [Status: String] = [
            1: "invalid argument", 2: "memory allocation failure", 3: "runtime failure", 4: "missing input tensor",
            5: "unsupported", 6: "not found", 9: "unknown error", 500: "file I/O error", 501: "invalid flatbuffer",
            502: "dynamic loading failed", 504: "compilation failed", 1000: "index out of bounds",
        ]
        throw error("LiteRT status \(status) (\(names[status] ?? "error"))")
    }
}
