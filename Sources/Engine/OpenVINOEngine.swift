import COpenVINOTypes
import EdgeInsightCore
import Foundation
import Synchronization

/// The OpenVINO runtime as an `InferenceEngine`, through its C API opened at run time.
public struct OpenVINOEngine: InferenceEngine {
    public let name = "OpenVINO"
    public var version: String { library.version }
    /// Path of the C library in use.
    public var libraryPath: String { library.path }

    let library: OpenVINOLibrary
    private let core: Core

    /// Opens OpenVINO (see `OpenVINOLibrary.locate` for where it looks) and creates its core.
    public init() throws(EngineError) {
        library = try OpenVINOLibrary.shared.get()
        core = try Core.shared(library)
    }

    public func compile(modelAt path: String, settings: EngineSettings) throws(EngineError) -> any CompiledModel {
        try OpenVINOCompiledModel(library: library, core: core, path: path, settings: settings)
    }

    /// One `ov_core` per process: it is thread-safe and caches plugins, so sharing it is cheaper.
    final class Core: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        private static let made = Mutex<Core?>(nil)

        private init(pointer: UnsafeMutableRawPointer) { self.pointer = pointer }

        static func shared(_ library: OpenVINOLibrary) throws(EngineError) -> Core {
            let result: Result<Core, EngineError> = made.withLock { existing in
                if let existing { return .success(existing) }
                var pointer: UnsafeMutableRawPointer?
                let status = library.coreCreate(&pointer)
                guard status == 0, let pointer else {
                    return .failure(.openVINOUnusable(path: library.path, reason: library.errorMessage(status: status)))
                }
                let core = Core(pointer: pointer)
                existing = core
                return .success(core)
            }
            return try result.get()
        }
    }
}

extension ElementType {
    /// This element type's code in OpenVINO's C API.
    var openVINOCode: Int32 {
        switch self {
        case .boolean: Int32(EI_OV_BOOLEAN)
        case .bf16: Int32(EI_OV_BF16)
        case .f16: Int32(EI_OV_F16)
        case .f32: Int32(EI_OV_F32)
        case .f64: Int32(EI_OV_F64)
        case .i8: Int32(EI_OV_I8)
        case .i16: Int32(EI_OV_I16)
        case .i32: Int32(EI_OV_I32)
        case .i64: Int32(EI_OV_I64)
        case .u8: Int32(EI_OV_U8)
        case .u16: Int32(EI_OV_U16)
        case .u32: Int32(EI_OV_U32)
        case .u64: Int32(EI_OV_U64)
        }
    }

    /// The element type for an OpenVINO code, nil for types EdgeInsight does not handle (i4, f8, …).
    init?(openVINOCode code: Int32) {
        guard let match = ElementType.allCases.first(where: { $0.openVINOCode == code }) else { return nil }
        self = match
    }
}

/// A model compiled by OpenVINO for one device.
final class OpenVINOCompiledModel: CompiledModel, @unchecked Sendable {
    let inputs: [TensorInfo]
    let outputs: [TensorInfo]
    let applied: AppliedSettings
    let compileTime: Duration
    private let library: OpenVINOLibrary
    private let pointer: UnsafeMutableRawPointer

    init(library: OpenVINOLibrary, core: OpenVINOEngine.Core, path: String, settings: EngineSettings) throws(EngineError) {
        self.library = library
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else {
            throw .modelNotFound(path)
        }
        try Self.sniff(path)
        guard settings.batch >= 1 else { throw .invalidSetting("batch must be at least 1, got \(settings.batch)") }
        if let streams = settings.streams, streams < 1 { throw .invalidSetting("streams must be at least 1, got \(streams)") }
        if let threads = settings.threads, threads < 1 { throw .invalidSetting("threads must be at least 1, got \(threads)") }
        if let type = settings.inputElementType, type != .f32, type != .u8 {
            throw .invalidSetting("input element type must be f32 or u8, got \(type.rawValue)")
        }
        let started = ContinuousClock.now

        var model: UnsafeMutableRawPointer?
        let readStatus = path.withCString { library.readModel(core.pointer, $0, nil, &model) }
        guard readStatus == 0, var model else {
            throw .unreadableModel(path: path, reason: library.errorMessage(status: readStatus))
        }
        defer { library.modelFree(model) }

        try Self.reshape(model: model, library: library, settings: settings)
        if let type = settings.inputElementType {
            model = try Self.convertInputs(of: model, to: type, library: library)
        }

        var pairs: [(String, String)] = []
        if let hint = settings.hint { pairs.append(("PERFORMANCE_HINT", hint.rawValue)) }
        if let streams = settings.streams { pairs.append(("NUM_STREAMS", String(streams))) }
        if let threads = settings.threads { pairs.append(("INFERENCE_NUM_THREADS", String(threads))) }
        if let precision = settings.precision { pairs.append(("INFERENCE_PRECISION_HINT", precision.rawValue)) }
        if let requests = settings.requests { pairs.append(("PERFORMANCE_HINT_NUM_REQUESTS", String(requests))) }

        var compiled: UnsafeMutableRawPointer?
        let compileStatus = Self.withCStrings(pairs.flatMap { [$0.0, $0.1] }) { strings in
            settings.device.withCString { device in
                library.compileModel(core.pointer, model, device, pairs.count, strings, &compiled)
            }
        }
        guard compileStatus == 0, let compiled else {
            throw .compileFailed(library.errorMessage(status: compileStatus))
        }
        pointer = compiled
        compileTime = ContinuousClock.now - started

        func property(_ key: String) -> String {
            var value: UnsafeMutablePointer<CChar>?
            let status = key.withCString { library.compiledProperty(compiled, $0, &value) }
            return status == 0 ? library.takeString(value) : ""
        }
        applied = AppliedSettings(
            device: settings.device,
            hint: property("PERFORMANCE_HINT"),
            streams: Int(property("NUM_STREAMS")) ?? 0,
            threads: Int(property("INFERENCE_NUM_THREADS")) ?? 0,
            precision: property("INFERENCE_PRECISION_HINT"),
            optimalRequests: Int(property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) ?? 1,
            batch: settings.batch)
        do {
            inputs = try Self.ports(of: compiled, count: library.compiledInputsSize, port: library.compiledInput, library: library)
            outputs = try Self.ports(of: compiled, count: library.compiledOutputsSize, port: library.compiledOutput, library: library)
        } catch {
            library.compiledFree(compiled)
            throw error
        }
    }

    deinit { library.compiledFree(pointer) }

    func makeRequest() throws(EngineError) -> any InferRequest {
        var request: UnsafeMutableRawPointer?
        let status = library.createRequest(pointer, &request)
        guard status == 0, let request else { throw .inferenceFailed(library.errorMessage(status: status)) }
        return try OpenVINOInferRequest(library: library, pointer: request, inputs: inputs, outputs: outputs, owner: self)
    }

    // MARK: - Model preparation

    /// Rejects an `.onnx` or `.xml` file that is plainly not a model before OpenVINO tries every
    /// frontend on it (which prints other frontends' parse errors to stderr). ONNX files begin with
    /// field 1, `ir_version`, a varint: tag byte 0x08; OpenVINO IR is XML with a `<net` element.
    private static func sniff(_ path: String) throws(EngineError) {
        let lowered = path.lowercased()
        guard lowered.hasSuffix(".onnx") || lowered.hasSuffix(".xml"), let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        if head.isEmpty { throw .unreadableModel(path: path, reason: "the file is empty") }
        if lowered.hasSuffix(".onnx"), head.first != 0x08 {
            throw .unreadableModel(path: path, reason: "not an ONNX model (it does not start like an ONNX protobuf)")
        }
        if lowered.hasSuffix(".xml"), !String(decoding: head, as: UTF8.self).contains("<net") {
            throw .unreadableModel(path: path, reason: "not an OpenVINO IR model (no <net> element)")
        }
    }

    /// Fixes input shapes: user `--shape`s first, then the batch size on the first dimension.
    private static func reshape(model: UnsafeMutableRawPointer, library: OpenVINOLibrary, settings: EngineSettings) throws(EngineError) {
        let declared = try ports(of: model, count: library.modelInputsSize, port: library.modelInput, library: library, allowUnknownTypes: true)
        var remaining = settings.shapes
        var targets: [[Int]] = []
        for info in declared {
            var shape = info.shape
            if let user = remaining.removeValue(forKey: info.name) {
                shape = user
            } else if declared.count == 1, let user = remaining.removeValue(forKey: "") {
                shape = user
            } else if !shape.isEmpty {
                shape[0] = settings.batch
            }
            if shape.contains(where: { $0 < 0 }) && !settings.keepsDynamicDimensions {
                throw .dynamicShape(input: info.name, shape: info.shapeDescription)
            }
            targets.append(shape)
        }
        if settings.keepsDynamicDimensions, targets.contains(where: { $0.dropFirst().contains(-1) }) {
            for i in targets.indices where declared[i].shape.first == -1 && settings.shapes[declared[i].name] == nil { targets[i][0] = -1 }
        }
        if let unknown = remaining.keys.sorted().first {
            let names = declared.map(\.name).joined(separator: ", ")
            throw .badShape(unknown.isEmpty
                ? "the model has \(declared.count) inputs (\(names)); name the input each shape is for"
                : "the model has no input named '\(unknown)'; its inputs are: \(names)")
        }
        if targets == declared.map(\.shape) { return }

        var partials = [ei_ov_partial_shape](repeating: ei_ov_partial_shape(), count: targets.count)
        defer { for i in partials.indices where partials[i].dims != nil { library.partialShapeFree(&partials[i]) } }
        for (i, target) in targets.enumerated() {
            let dims = target.map { $0 < 0 ? ei_ov_dimension(min: -1, max: -1) : ei_ov_dimension(min: Int64($0), max: Int64($0)) }
            let status = library.partialShapeCreate(Int64(dims.count), dims, &partials[i])
            guard status == 0 else { throw .badShape(library.errorMessage(status: status)) }
        }
        let indexes = Array(0..<targets.count)
        let status = library.reshapeByPortIndexes(model, indexes, partials, targets.count)
        guard status == 0 else {
            let wanted = zip(declared, targets).map { "\($0.name):\(TensorInfo.describe($1))" }.joined(separator: " ")
            throw .badShape("the model rejects \(wanted): \(library.errorMessage(status: status))")
        }
    }

    /// Lets callers provide every input in `type`; OpenVINO converts inside the compiled graph.
    private static func convertInputs(of model: UnsafeMutableRawPointer, to type: ElementType, library: OpenVINOLibrary) throws(EngineError) -> UnsafeMutableRawPointer {
        var count = 0
        _ = library.modelInputsSize(model, &count)
        var ppp: UnsafeMutableRawPointer?
        var status = library.pppCreate(model, &ppp)
        guard status == 0, let ppp else { throw .compileFailed(library.errorMessage(status: status)) }
        defer { library.pppFree(ppp) }
        for index in 0..<count {
            var info: UnsafeMutableRawPointer?
            var tensorInfo: UnsafeMutableRawPointer?
            status = library.pppInputInfo(ppp, index, &info)
            if status == 0 { status = library.pppTensorInfo(info, &tensorInfo) }
            if status == 0 { status = library.pppSetElementType(tensorInfo, type.openVINOCode) }
            if let tensorInfo { library.pppTensorInfoFree(tensorInfo) }
            if let info { library.pppInputInfoFree(info) }
            guard status == 0 else { throw .compileFailed(library.errorMessage(status: status)) }
        }
        var converted: UnsafeMutableRawPointer?
        status = library.pppBuild(ppp, &converted)
        guard status == 0, let converted else { throw .compileFailed(library.errorMessage(status: status)) }
        // The caller frees the model it holds; hand it the new one and free the old one here.
        library.modelFree(model)
        return converted
    }

    /// Name, element type and shape of each port of a model or compiled model.
    private static func ports(
        of object: UnsafeMutableRawPointer, count countFunction: ei_fn_count, port portFunction: ei_fn_port_by_index,
        library: OpenVINOLibrary, allowUnknownTypes: Bool = false
    ) throws(EngineError) -> [TensorInfo] {
        var count = 0
        var status = countFunction(object, &count)
        guard status == 0 else { throw .compileFailed(library.errorMessage(status: status)) }
        var result: [TensorInfo] = []
        for index in 0..<count {
            var port: UnsafeMutableRawPointer?
            status = portFunction(object, index, &port)
            guard status == 0, let port else { throw .compileFailed(library.errorMessage(status: status)) }
            defer { library.portFree(port) }
            var namePointer: UnsafeMutablePointer<CChar>?
            let name = library.portName(port, &namePointer) == 0 ? library.takeString(namePointer) : "port\(index)"
            var code: Int32 = 0
            _ = library.portElementType(port, &code)
            guard let type = ElementType(openVINOCode: code) ?? (allowUnknownTypes ? .f32 : nil) else {
                throw .compileFailed("tensor '\(name)' has an element type EdgeInsight does not handle (OpenVINO code \(code))")
            }
            var partial = ei_ov_partial_shape()
            status = library.portPartialShape(port, &partial)
            guard status == 0 else { throw .compileFailed(library.errorMessage(status: status)) }
            defer { library.partialShapeFree(&partial) }
            var shape: [Int] = []
            if partial.rank.min == partial.rank.max, partial.rank.max >= 0, let dims = partial.dims {
                for d in 0..<Int(partial.rank.max) {
                    let dim = dims[d]
                    shape.append(dim.min == dim.max && dim.max >= 0 ? Int(dim.max) : -1)
                }
            }
            result.append(TensorInfo(name: name, elementType: type, shape: shape))
        }
        return result
    }

    /// Calls `body` with a C array of C strings that live for the duration of the call.
    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer<CChar>($0) }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// One OpenVINO infer request and the buffers it owns.
final class OpenVINOInferRequest: InferRequest, @unchecked Sendable {
    private let library: OpenVINOLibrary
    private let pointer: UnsafeMutableRawPointer
    private let inputs: [TensorInfo]
    private let outputs: [TensorInfo]
    private var inputBuffers: [UnsafeMutableRawBufferPointer]
    private var inputShapes: [[Int]]
    private var handler: (@Sendable () -> Void)?
    /// OpenVINO keeps a pointer to the callback struct (not a copy), so it lives as long as the request.
    private let callback = UnsafeMutablePointer<ei_ov_callback>.allocate(capacity: 1)
    /// Keeps the compiled model alive while a request exists.
    private let owner: OpenVINOCompiledModel

    init(library: OpenVINOLibrary, pointer: UnsafeMutableRawPointer, inputs: [TensorInfo], outputs: [TensorInfo], owner: OpenVINOCompiledModel) throws(EngineError) {
        self.library = library
        self.pointer = pointer
        self.inputs = inputs
        self.outputs = outputs
        self.owner = owner
        var buffers: [UnsafeMutableRawBufferPointer] = []
        inputShapes = inputs.map(\.shape)
        for index in inputs.indices {
            // A dynamic input has no memory until a request gives it a shape.
            if inputs[index].shape.contains(-1) {
                buffers.append(UnsafeMutableRawBufferPointer(start: nil, count: 0))
                continue
            }
            var tensor: UnsafeMutableRawPointer?
            var status = library.requestInput(pointer, index, &tensor)
            guard status == 0, let tensor else {
                library.requestFree(pointer)
                throw .inferenceFailed(library.errorMessage(status: status))
            }
            // The request keeps the tensor; the handle we got is a reference we release at once.
            defer { library.tensorFree(tensor) }
            var data: UnsafeMutableRawPointer?
            var size = 0
            status = library.tensorData(tensor, &data)
            if status == 0 { status = library.tensorByteSize(tensor, &size) }
            guard status == 0, let data else {
                library.requestFree(pointer)
                throw .inferenceFailed(library.errorMessage(status: status))
            }
            buffers.append(UnsafeMutableRawBufferPointer(start: data, count: size))
        }
        inputBuffers = buffers
    }

    deinit {
        library.requestFree(pointer)
        callback.deallocate()
    }

    func inputBuffer(_ index: Int) throws(EngineError) -> UnsafeMutableRawBufferPointer {
        guard inputBuffers.indices.contains(index) else { throw .inferenceFailed("no input #\(index); the model has \(inputs.count)") }
        return inputBuffers[index]
    }

    func setInputShape(_ index: Int, _ shape: [Int]) throws(EngineError) {
        guard inputs.indices.contains(index) else { throw .inferenceFailed("no input #\(index); the model has \(inputs.count)") }
        guard inputShapes[index] != shape else { return }
        let declared = inputs[index].shape
        guard shape.count == declared.count, zip(shape, declared).allSatisfy({ $0 > 0 && ($1 < 0 || $0 == $1) }) else {
            throw .badShape("input '\(inputs[index].name)' takes \(TensorInfo.describe(declared)), not \(TensorInfo.describe(shape))")
        }
        var tensor: UnsafeMutableRawPointer?
        var status = library.requestInput(pointer, index, &tensor)
        guard status == 0, let tensor else { throw .inferenceFailed(library.errorMessage(status: status)) }
        defer { library.tensorFree(tensor) }
        var dims = shape.map { Int64($0) }
        status = dims.withUnsafeMutableBufferPointer { library.tensorSetShape(tensor, ei_ov_shape(rank: Int64(shape.count), dims: $0.baseAddress)) }
        guard status == 0 else { throw .badShape("input '\(inputs[index].name)' cannot take \(TensorInfo.describe(shape)): \(library.errorMessage(status: status))") }
        var data: UnsafeMutableRawPointer?
        var size = 0
        status = library.tensorData(tensor, &data)
        if status == 0 { status = library.tensorByteSize(tensor, &size) }
        guard status == 0, let data else { throw .inferenceFailed(library.errorMessage(status: status)) }
        inputBuffers[index] = UnsafeMutableRawBufferPointer(start: data, count: size)
        inputShapes[index] = shape
    }

    func output(_ index: Int) throws(EngineError) -> TensorView {
        guard outputs.indices.contains(index) else { throw .inferenceFailed("no output #\(index); the model has \(outputs.count)") }
        var tensor: UnsafeMutableRawPointer?
        var status = library.requestOutput(pointer, index, &tensor)
        guard status == 0, let tensor else { throw .inferenceFailed(library.errorMessage(status: status)) }
        defer { library.tensorFree(tensor) }
        var data: UnsafeMutableRawPointer?
        var size = 0
        var shape = ei_ov_shape()
        status = library.tensorData(tensor, &data)
        if status == 0 { status = library.tensorByteSize(tensor, &size) }
        guard status == 0 else { throw .inferenceFailed(library.errorMessage(status: status)) }
        // The C API cannot make a rank-0 shape (ov_shape_create refuses rank 0), and OpenVINO folds a
        // one-element output to rank 0 (a scalar reshaped to [1] at the graph's end): such an output
        // is read as the one-element vector the graph declares — what a server takes on the wire.
        let declared = outputs[index].shape
        if library.tensorShape(tensor, &shape) != 0 {
            let one = size == outputs[index].elementType.byteSize
            guard one else { throw .inferenceFailed("output '\(outputs[index].name)': its shape cannot be read") }
            return TensorView(shape: declared.isEmpty || declared.allSatisfy { $0 == 1 } ? [1] : declared, elementType: outputs[index].elementType, bytes: UnsafeRawBufferPointer(start: data, count: size))
        }
        defer { _ = library.shapeFree(&shape) }
        let dims = (0..<Int(shape.rank)).map { Int(shape.dims[$0]) }
        return TensorView(shape: dims, elementType: outputs[index].elementType, bytes: UnsafeRawBufferPointer(start: data, count: size))
    }

    func infer() throws(EngineError) {
        let status = library.requestInfer(pointer)
        guard status == 0 else { throw .inferenceFailed(library.errorMessage(status: status)) }
    }

    func startAsync() throws(EngineError) {
        let status = library.requestStart(pointer)
        guard status == 0 else { throw .inferenceFailed(library.errorMessage(status: status)) }
    }

    func wait() throws(EngineError) {
        let status = library.requestWait(pointer)
        guard status == 0 else { throw .inferenceFailed(library.errorMessage(status: status)) }
    }

    func setCompletionHandler(_ handler: @escaping @Sendable () -> Void) throws(EngineError) {
        self.handler = handler
        callback.initialize(to: ei_ov_callback(
            callback: { context in
                guard let context else { return }
                Unmanaged<OpenVINOInferRequest>.fromOpaque(context).takeUnretainedValue().handler?()
            },
            context: Unmanaged.passUnretained(self).toOpaque()))
        let status = library.requestSetCallback(pointer, callback)
        guard status == 0 else { throw .inferenceFailed(library.errorMessage(status: status)) }
    }
}
