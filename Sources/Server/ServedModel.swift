import EdgeInsightCore
import Engine
import Foundation
import Imaging
import ModelZoo
import InferenceProtocol
import Synchronization

/// A tensor as model metadata shows it: -1 marks the batch dimension (or any dynamic one).
public struct TensorMetadata: Sendable, Equatable {
    public var name: String
    public var datatype: Datatype
    public var shape: [Int]
}

/// What a model returns for one batch: outputs per request, and how long the parts took.
struct BatchResult: Sendable {
    var outputs: [[WireTensor]]
    var inputNs: UInt64
    var inferNs: UInt64
}

/// A model the server can run; `execute` is called for one instance at a time.
protocol ServedModel: Sendable {
    var name: String { get }
    var platform: String { get }
    var config: ModelConfig { get }
    var inputs: [TensorMetadata] { get }
    var outputs: [TensorMetadata] { get }
    /// Runs a batch (each element: one request's inputs, already validated) on an instance.
    func execute(_ batch: [[WireTensor]], rows: [Int], instance: Int) async throws -> BatchResult
}

extension ServedModel {
    /// Checks a request's inputs against the metadata; returns the batch rows it carries.
    /// An image input may also arrive as BYTES holding encoded JPEGs when the model has an input pipeline.
    func validate(_ inputs: [WireTensor]) throws(ProtocolError) -> Int {
        guard inputs.count == self.inputs.count else {
            throw .badRequest("model '\(name)' takes \(self.inputs.count) input(s) (\(self.inputs.map(\.name).joined(separator: ", "))), got \(inputs.count)")
        }
        var rows: Int?
        for input in inputs {
            guard let declared = self.inputs.first(where: { $0.name == input.name }) else {
                throw .badRequest("model '\(name)' has no input '\(input.name)'; its inputs are \(self.inputs.map(\.name).joined(separator: ", "))")
            }
            let batched = config.maxBatchSize > 0
            var tensorRows: Int
            if input.datatype == .bytes && declared.datatype != .bytes {
                guard config.inputPipeline != nil || declared.shape.count == 4 else {
                    throw .badRequest("input '\(input.name)' takes \(declared.datatype.rawValue), not BYTES")
                }
                guard input.shape.count >= 1, input.shape.dropFirst().allSatisfy({ $0 == 1 }) else {
                    throw .badRequest("a BYTES image input has shape [N] or [N,1] (one encoded image per row), got \(TensorInfo.describe(input.shape))")
                }
                tensorRows = input.shape[0]
                _ = try input.byteElements()
            } else {
                guard input.datatype == declared.datatype else {
                    throw .badRequest("input '\(input.name)' takes \(declared.datatype.rawValue), got \(input.datatype.rawValue)")
                }
                let fixed = batched ? Array(declared.shape.dropFirst()) : declared.shape
                let given = batched ? Array(input.shape.dropFirst()) : input.shape
                guard input.shape.count == declared.shape.count, zip(fixed, given).allSatisfy({ $0 == -1 || $0 == $1 }) else {
                    throw .badRequest("input '\(input.name)' has shape \(TensorInfo.describe(declared.shape)), got \(TensorInfo.describe(input.shape))")
                }
                tensorRows = batched ? input.shape[0] : 1
            }
            if batched {
                guard tensorRows >= 1, tensorRows <= config.maxBatchSize else {
                    throw .badRequest("batch of \(tensorRows) for input '\(input.name)'; model '\(name)' takes 1 to \(config.maxBatchSize)")
                }
            }
            if let rows, rows != tensorRows { throw .badRequest("inputs disagree on the batch size (\(rows) vs \(tensorRows))") }
            rows = tensorRows
        }
        return rows ?? 1
    }
}

/// A model run by OpenVINO. Each instance has its own infer requests and its own JPEG
/// pre-processor. A model of fixed shape is compiled once per batch size used (on first need); a
/// model with dynamic dimensions is compiled once, and each batch sets its input shapes.
final class EngineModel: ServedModel, @unchecked Sendable {
    let name: String
    let platform: String
    let config: ModelConfig
    let inputs: [TensorMetadata]
    let outputs: [TensorMetadata]
    private let path: String
    private let engine: any InferenceEngine
    private let imagePipeline: Pipeline?
    /// Compiled with dynamic dimensions: one compiled model and one request per instance.
    private let dynamic: Bool
    /// Compiled models by batch size, and per-instance state; each instance is used by one batch at a time.
    private let compiled = Mutex<[Int: any CompiledModel]>([:])
    private let slots: [InstanceSlot]
    /// Recent inference time (ns, smoothed). Short inferences run inline on the calling task: handing
    /// a 10 µs inference to an engine thread and back costs more than the inference. Long ones run
    /// asynchronously so they never hold a concurrency thread.
    private let recentInferNs = Atomic<UInt64>(0)
    static let inlineBelowNs: UInt64 = 300_000

    final class InstanceSlot: @unchecked Sendable {
        var requests: [Int: any InferRequest] = [:]
        var preprocessor: Preprocessor?
    }

    init(name: String, path: String, config: ModelConfig, engine: any InferenceEngine) throws(ServerError) {
        var config = config
        if !config.framework.readsInputShapes && config.engine.shapes.isEmpty {
            do { config.engine.shapes = try ModelAnalyzer.inputShapes(file: path) } catch { throw .badModel("model '\(name)': \(error)") }
        }
        self.name = name
        self.path = path
        self.config = config
        self.engine = engine
        platform = config.framework.rawValue + "_" + ((path as NSString).pathExtension.isEmpty ? "model" : (path as NSString).pathExtension.lowercased())
        var settings = config.engine
        settings.batch = 1
        settings.keepsDynamicDimensions = true
        let first: any CompiledModel
        do { first = try engine.compile(modelAt: path, settings: settings) } catch { throw .badModel("model '\(name)': \(error)") }
        compiled.withLock { $0[1] = first }
        dynamic = first.inputs.contains { $0.shape.contains(-1) }
        let batched = config.maxBatchSize > 0
        func metadata(_ info: TensorInfo) -> TensorMetadata {
            var shape = info.shape
            if batched, !shape.isEmpty { shape[0] = -1 }
            return TensorMetadata(name: info.name, datatype: Datatype(info.elementType), shape: shape)
        }
        inputs = first.inputs.map(metadata)
        outputs = first.outputs.map(metadata)
        if let pipeline = config.inputPipeline {
            imagePipeline = pipeline
        } else if first.inputs.count == 1, let image = try? Pipeline.standard(for: first.inputs[0]) {
            imagePipeline = image
        } else {
            imagePipeline = nil
        }
        slots = (0..<config.instances).map { _ in InstanceSlot() }
        // Instance 0 starts ready for single requests.
        do { slots[0].requests[1] = try first.makeRequest() } catch { throw .badModel("model '\(name)': \(error)") }
    }

    private func request(batch: Int, instance: Int) throws -> any InferRequest {
        let slot = slots[instance]
        let batch = dynamic ? 1 : batch
        if let request = slot.requests[batch] { return request }
        let model: any CompiledModel = try compiled.withLock { models in
            if let model = models[batch] { return model }
            var settings = config.engine
            settings.batch = batch
            settings.keepsDynamicDimensions = true
            for (input, shape) in settings.shapes where !shape.isEmpty { settings.shapes[input]![0] = batch }
            let model = try engine.compile(modelAt: path, settings: settings)
            models[batch] = model
            return model
        }
        let request = try model.makeRequest()
        slot.requests[batch] = request
        return request
    }

    func execute(_ batch: [[WireTensor]], rows: [Int], instance: Int) async throws -> BatchResult {
        let total = rows.reduce(0, +)
        let started = MonotonicClock.now()
        let request = try request(batch: config.maxBatchSize > 0 ? total : 1, instance: instance)
        // Gather every request's rows into the batch's input buffers.
        for (index, declared) in inputs.enumerated() {
            if dynamic { try setShape(of: request, input: index, from: batch[0], rows: total, instance: instance) }
            let buffer = try request.inputBuffer(index)
            let rowBytes = buffer.count / max(1, config.maxBatchSize > 0 ? total : 1)
            var offset = 0
            for (r, tensors) in batch.enumerated() {
                guard let tensor = tensors.first(where: { $0.name == declared.name }) else { continue }
                if tensor.datatype == .bytes && declared.datatype != .bytes {
                    offset = try decodeImages(tensor, into: buffer, at: offset, rowBytes: rowBytes, instance: instance)
                } else {
                    guard tensor.data.count == rows[r] * rowBytes else {
                        throw ProtocolError.badRequest("input '\(tensor.name)' carries \(tensor.data.count) bytes; \(rows[r]) row(s) need \(rows[r] * rowBytes)")
                    }
                    tensor.data.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + $0.count)]).copyMemory(from: $0) }
                    offset += tensor.data.count
                }
            }
        }
        let inputDone = MonotonicClock.now()
        let recent = recentInferNs.load(ordering: .relaxed)
        if recent > 0 && recent < Self.inlineBelowNs {
            try request.infer()
        } else {
            try await request.inferAsync()
        }
        let inferDone = MonotonicClock.now()
        let took = inferDone - inputDone
        recentInferNs.store(recent == 0 ? took : (recent * 7 + took) / 8, ordering: .relaxed)
        // Split every output back by rows.
        var results = Array(repeating: [WireTensor](), count: batch.count)
        for (index, declared) in outputs.enumerated() {
            let view = try request.output(index)
            let perRow = view.bytes.count / max(1, config.maxBatchSize > 0 ? total : 1)
            var offset = 0
            for r in batch.indices {
                let count = config.maxBatchSize > 0 ? rows[r] : 1
                var shape = view.shape
                if config.maxBatchSize > 0, !shape.isEmpty { shape[0] = count }
                let bytes = Array(view.bytes[offset..<(offset + count * perRow)])
                offset += count * perRow
                results[r].append(WireTensor(name: declared.name, datatype: declared.datatype, shape: shape, data: TensorBytes(bytes)))
            }
        }
        return BatchResult(outputs: results, inputNs: inputDone - started, inferNs: inferDone - inputDone)
    }

    /// Gives a dynamic input the shape of this batch: the first request's (the batcher only groups
    /// requests of one shape) with its rows summed, or the pre-processed image's for JPEG input.
    private func setShape(of request: any InferRequest, input index: Int, from first: [WireTensor], rows: Int, instance: Int) throws {
        let declared = inputs[index]
        guard let tensor = first.first(where: { $0.name == declared.name }) else { return }
        var shape = tensor.shape
        if tensor.datatype == .bytes && declared.datatype != .bytes {
            guard let imagePipeline, let image = try tensor.byteElements().first else {
                throw ProtocolError.badRequest("model '\(name)' has no image pipeline for BYTES input '\(tensor.name)'")
            }
            let slot = slots[instance]
            if slot.preprocessor == nil { slot.preprocessor = try Preprocessor(pipeline: imagePipeline) }
            shape = try image.withUnsafeBytes { try slot.preprocessor!.tensorShape(jpeg: $0) }
        }
        if config.maxBatchSize > 0, !shape.isEmpty { shape[0] = rows }
        do throws(EngineError) { try request.setInputShape(index, shape) } catch {
            throw ProtocolError.badRequest("model '\(name)' cannot take input '\(declared.name)' of shape \(TensorInfo.describe(shape)) (it takes \(TensorInfo.describe(declared.shape))): \(error)")
        }
    }

    /// Decodes and pre-processes JPEG elements straight into the input buffer (the cloud-raw placement).
    private func decodeImages(_ tensor: WireTensor, into buffer: UnsafeMutableRawBufferPointer, at start: Int, rowBytes: Int, instance: Int) throws -> Int {
        guard let imagePipeline else { throw ProtocolError.badRequest("model '\(name)' has no image pipeline for BYTES input '\(tensor.name)'") }
        let slot = slots[instance]
        if slot.preprocessor == nil { slot.preprocessor = try Preprocessor(pipeline: imagePipeline) }
        var offset = start
        for image in try tensor.byteElements() {
            do {
                _ = try image.withUnsafeBytes { data in
                    try slot.preprocessor!.run(jpeg: data, into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + rowBytes)]))
                }
            } catch let error as ImagingError {
                throw ProtocolError.badRequest("input '\(tensor.name)': \(error)")
            }
            offset += rowBytes
        }
        return offset
    }
}

/// The `sleep` micro-model: echoes its FP32[N,16] input after a fixed compute time per batch,
/// so load generators can be checked against a server whose capacity is known exactly.
struct SleepModel: ServedModel {
    let name: String
    let platform = "edgeinsight_sleep"
    let config: ModelConfig
    let inputs = [TensorMetadata(name: "input", datatype: .fp32, shape: [-1, 16])]
    let outputs = [TensorMetadata(name: "output", datatype: .fp32, shape: [-1, 16])]

    func execute(_ batch: [[WireTensor]], rows: [Int], instance: Int) async throws -> BatchResult {
        let started = MonotonicClock.now()
        try await Task.sleep(for: config.sleep)
        let outputs = batch.map { tensors in tensors.map { WireTensor(name: "output", datatype: .fp32, shape: $0.shape, data: $0.data) } }
        return BatchResult(outputs: outputs, inputNs: 0, inferNs: MonotonicClock.now() - started)
    }
}
