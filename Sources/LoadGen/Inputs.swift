import EdgeInsightCore
import Foundation
import InferenceProtocol
import NIOCore

/// What requests carry.
public enum InputKind: Sendable, Equatable {
    case random(seed: UInt64)
    case zero
    /// JPEG files of a folder, each sent as a BYTES element (the cloud-raw placement).
    case jpegFolder(String)
    /// Raw little-endian tensor files, one per input in the model's input order.
    case tensorFiles([String])
}

/// Builds the requests a run sends, from the model's metadata: each is encoded once.
public enum RequestFactory {
    /// Fetches `/v2/models/M` and prepares requests; `shapes` overrides input shapes by name,
    /// `batch` fills a dynamic first dimension.
    public static func prepare(
        client: OIPClient, model: String, kind: InputKind, binary: Bool, batch: Int = 1, shapes: [String: [Int]] = [:]
    ) async throws(LoadError) -> [PreparedRequest] {
        let metadata = try await client.getJSON("/v2/models/\(model)")
        guard let inputs = metadata["inputs"]?.array, !inputs.isEmpty else { throw .badTarget("model '\(model)' lists no inputs") }
        var specs: [(name: String, datatype: Datatype, shape: [Int])] = []
        for input in inputs {
            guard let name = input["name"]?.string, let typeName = input["datatype"]?.string, let datatype = Datatype(rawValue: typeName),
                  let dims = input["shape"]?.array?.compactMap(\.int) else { throw .badTarget("model '\(model)' has unreadable input metadata") }
            var shape = shapes[name] ?? dims
            for i in shape.indices where shape[i] < 0 {
                guard i == 0 else { throw .dynamicInput(name: name, shape: TensorInfo.describe(dims)) }
                shape[i] = batch
            }
            specs.append((name, datatype, shape))
        }
        switch kind {
        case .jpegFolder(let folder):
            guard specs.count == 1 else { throw .badInput("JPEG input needs a model with one image input; '\(model)' has \(specs.count) inputs") }
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
                .filter { ["jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            guard !files.isEmpty else { throw .badInput("no .jpg or .jpeg files in \(folder)") }
            return files.compactMap { name in
                guard let data = FileManager.default.contents(atPath: folder + "/" + name) else { return nil }
                let elements = Array(repeating: [UInt8](data), count: batch)
                let tensor = WireTensor(name: specs[0].name, datatype: .bytes, shape: [batch], data: WireTensor.packBytes(elements))
                return encode([tensor], binary: true, samples: batch)
            }
        case .tensorFiles(let paths):
            guard paths.count == specs.count else { throw .badInput("give one tensor file per input (\(specs.map(\.name).joined(separator: ", "))), got \(paths.count)") }
            var tensors: [WireTensor] = []
            for (spec, path) in zip(specs, paths) {
                guard let data = FileManager.default.contents(atPath: path) else { throw .badInput("cannot read tensor file \(path)") }
                let expected = spec.shape.reduce(1, *) * (spec.datatype.byteSize ?? 1)
                guard data.count == expected else { throw .badInput("\(path) has \(data.count) bytes; \(spec.name) \(spec.datatype.rawValue) \(TensorInfo.describe(spec.shape)) needs \(expected)") }
                tensors.append(WireTensor(name: spec.name, datatype: spec.datatype, shape: spec.shape, data: TensorBytes([UInt8](data))))
            }
            return [encode(tensors, binary: binary, samples: specs[0].shape.first ?? 1)]
        case .random, .zero:
            var random = SeededRandom(seed: { if case .random(let seed) = kind { seed } else { 0 } }())
            let tensors = try specs.map { spec throws(LoadError) -> WireTensor in
                guard let size = spec.datatype.byteSize else { throw .bytesInput(name: spec.name) }
                let count = spec.shape.reduce(1, *)
                var data = [UInt8](repeating: 0, count: count * size)
                if case .random = kind {
                    switch spec.datatype {
                    case .fp32:
                        data.withUnsafeMutableBytes { raw in
                            let floats = raw.bindMemory(to: Float.self)
                            for i in floats.indices { floats[i] = random.nextSignedUnitFloat() }
                        }
                    case .bool:
                        for i in data.indices { data[i] = UInt8(random.next() & 1) }
                    case .fp16, .bf16, .fp64:
                        break   // zeros: random bit patterns would include NaNs
                    default:
                        for i in data.indices { data[i] = UInt8(truncatingIfNeeded: random.next() & 0x3F) }
                    }
                }
                return WireTensor(name: spec.name, datatype: spec.datatype, shape: spec.shape, data: TensorBytes(data))
            }
            return [encode(tensors, binary: binary, samples: specs[0].shape.first ?? 1)]
        }
    }

    static func encode(_ tensors: [WireTensor], binary: Bool, samples: Int) -> PreparedRequest {
        let (body, length) = InferenceCodec.encodeRequest(InferenceRequest(inputs: tensors), binary: binary)
        return PreparedRequest(body: ByteBuffer(bytes: body), headerLength: length, samples: samples)
    }
}
