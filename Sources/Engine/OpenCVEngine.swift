import EdgeInsightCore
import Foundation

/// OpenCV's DNN module on the CPU, through our C shim (native/opencv-dnn), opened at run time.
///
/// OpenCV reads no input shapes from a model file, so compiling needs them in
/// `EngineSettings.shapes` (the CLI fills them from the model analyzer). It runs FP32; its thread
/// count is one setting for the whole process (`cv::setNumThreads`), applied at compile time and
/// read back. Each infer request holds its own network, as OpenCV's are not shared between threads.
public final class OpenCVEngine: InferenceEngine, @unchecked Sendable {
    public let name = "OpenCV DNN"
    public var version: String { String(cString: library.version()) }
    let library: OpenCVLibrary

    public init() throws(EngineError) {
        library = try OpenCVLibrary.shared.get()
    }

    public func compile(modelAt path: String, settings: EngineSettings) throws(EngineError) -> any CompiledModel {
        guard FileManager.default.fileExists(atPath: path) else { throw .modelNotFound(path) }
        if let precision = settings.precision, precision != .f32 { throw .invalidSetting("OpenCV DNN runs f32 only, not \(precision.rawValue)") }
        if let type = settings.inputElementType, type != .f32 { throw .invalidSetting("OpenCV DNN takes f32 inputs only, not \(type.rawValue)") }
        guard settings.shapes.count == 1, let (name, given) = settings.shapes.first, !given.contains(where: { $0 < 1 }) else {
            throw .invalidSetting("OpenCV DNN reads no input shape from the model: give the one input's shape")
        }
        var shape = given
        if settings.batch > 1, !shape.isEmpty { shape[0] = settings.batch }
        let started = ContinuousClock.now
        library.setThreads(Int32(settings.threads ?? ProcessInfo.processInfo.activeProcessorCount))
        // A first run with zeros checks the shape and tells the outputs.
        let probe = try OpenCVInferRequest(library: library, path: path, input: TensorInfo(name: name.isEmpty ? "input" : name, elementType: .f32, shape: shape))
        try probe.infer()
        let outputs = try (0..<probe.outputCount).map { index throws(EngineError) in
            TensorInfo(name: probe.outputName(index), elementType: .f32, shape: try probe.output(index).shape)
        }
        let library = library, input = probe.input
        return PerRequestModel(inputs: [input], outputs: outputs,
                               applied: AppliedSettings(device: "CPU", hint: "-", streams: 1, threads: Int(library.threads()), precision: "f32",
                                                        optimalRequests: 1, batch: settings.batch),
                               compileTime: ContinuousClock.now - started, first: probe,
                               load: { () throws(EngineError) in try OpenCVInferRequest(library: library, path: path, input: input) })
    }
}

/// One network and its input buffer.
final class OpenCVInferRequest: InferRequest, @unchecked Sendable {
    let library: OpenCVLibrary
    let input: TensorInfo
    private let net: OpaquePointer
    private let buffer: UnsafeMutableRawBufferPointer
    private let runner = BackgroundRun()

    init(library: OpenCVLibrary, path: String, input: TensorInfo) throws(EngineError) {
        self.library = library
        self.input = input
        var error = [CChar](repeating: 0, count: 1024)
        guard let net = library.read(path, &error, error.count) else {
            throw .unreadableModel(path: path, reason: OpenCVLibrary.firstLine(error))
        }
        self.net = net
        buffer = .allocate(byteCount: max(1, input.shape.reduce(1, *)) * 4, alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        library.free(net)
        buffer.deallocate()
    }

    var outputCount: Int { Int(library.outputs(net)) }
    func outputName(_ index: Int) -> String { String(cString: library.outputName(net, Int32(index))) }

    func inputBuffer(_ index: Int) throws(EngineError) -> UnsafeMutableRawBufferPointer {
        guard index == 0 else { throw .inferenceFailed("no input #\(index); the model has 1") }
        return buffer
    }

    func setInputShape(_ index: Int, _ shape: [Int]) throws(EngineError) {
        guard shape == input.shape else { throw .badShape("OpenCV DNN runs the shape it was compiled for, \(TensorInfo.describe(input.shape))") }
    }

    func output(_ index: Int) throws(EngineError) -> TensorView {
        guard index >= 0, index < outputCount else { throw .inferenceFailed("no output #\(index); the model has \(outputCount)") }
        var dims = [Int32](repeating: 0, count: 8)
        let rank = Int(library.outputShape(net, Int32(index), &dims, 8))
        let shape = dims.prefix(rank).map(Int.init)
        let data = library.outputData(net, Int32(index))
        return TensorView(shape: shape, elementType: .f32, bytes: UnsafeRawBufferPointer(start: data, count: shape.reduce(1, *) * 4))
    }

    func infer() throws(EngineError) {
        var error = [CChar](repeating: 0, count: 1024)
        let dims = input.shape.map { Int32($0) }
        let status = library.forward(net, buffer.baseAddress!.assumingMemoryBound(to: Float.self), dims, Int32(dims.count), &error, error.count)
        guard status == 0 else { throw .inferenceFailed(OpenCVLibrary.firstLine(error)) }
    }

    func startAsync() throws(EngineError) { runner.start { () throws(EngineError) in try self.infer() } }
    func wait() throws(EngineError) { try runner.wait() }
    func setCompletionHandler(_ handler: @escaping @Sendable () -> Void) throws(EngineError) { runner.handler = handler }
}

/// The shim's functions, resolved once per process.
final class OpenCVLibrary: @unchecked Sendable {
    typealias Version = @convention(c) () -> UnsafePointer<CChar>
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias Threads = @convention(c) () -> Int32
    typealias Read = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?
    typealias Free = @convention(c) (OpaquePointer) -> Void
    typealias Forward = @convention(c) (OpaquePointer, UnsafePointer<Float>, UnsafePointer<Int32>, Int32, UnsafeMutablePointer<CChar>, Int) -> Int32
    typealias Outputs = @convention(c) (OpaquePointer) -> Int32
    typealias OutputShape = @convention(c) (OpaquePointer, Int32, UnsafeMutablePointer<Int32>, Int32) -> Int32
    typealias OutputData = @convention(c) (OpaquePointer, Int32) -> UnsafePointer<Float>
    typealias OutputName = @convention(c) (OpaquePointer, Int32) -> UnsafePointer<CChar>

    let version: Version, setThreads: SetThreads, threads: Threads, read: Read, free: Free, forward: Forward
    let outputs: Outputs, outputShape: OutputShape, outputData: OutputData, outputName: OutputName

    static let shared: Result<OpenCVLibrary, EngineError> = Result { () throws(EngineError) in try OpenCVLibrary() }

    private init() throws(EngineError) {
        let library = try RuntimeLibrary(engine: "OpenCV DNN", variable: "EDGEINSIGHT_OPENCV_SHIM", relativePath: ".deps/opencv-dnn/libedgeinsight_opencv.so",
                                         install: "run scripts/setup (it installs Debian's libopencv-dev and builds the shim)")
        func symbol<T>(_ name: String) throws(EngineError) -> T { try library.symbol(name) }
        version = try symbol("ei_cv_version")
        setThreads = try symbol("ei_cv_set_threads")
        threads = try symbol("ei_cv_threads")
        read = try symbol("ei_cv_read")
        free = try symbol("ei_cv_free")
        forward = try symbol("ei_cv_forward")
        outputs = try symbol("ei_cv_outputs")
        outputShape = try symbol("ei_cv_output_shape")
        outputData = try symbol("ei_cv_output_data")
        outputName = try symbol("ei_cv_output_name")
    }

    /// OpenCV's messages run over several lines and nest; an importer's names the node it could not
    /// take and the check that failed, which is what a user needs, on one line.
    static func firstLine(_ buffer: [CChar]) -> String {
        let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "> ")) }.filter { !$0.isEmpty }
        if let node = lines.first(where: { $0.hasPrefix("Node [") }) {
            let what = node.components(separatedBy: " parse error").first ?? node
            let check = lines.first { $0.hasPrefix("(expected:") }.map { ": " + $0.replacingOccurrences(of: ", where", with: "") } ?? ""
            return "OpenCV cannot import \(what)\(check)"
        }
        return lines.first ?? "unknown OpenCV error"
    }
}
