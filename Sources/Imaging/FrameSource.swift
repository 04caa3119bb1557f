import EdgeInsightCore
import Foundation

/// Where frames come from.
public enum SourceKind: Sendable, Equatable {
    /// The synthetic camera, encoding each frame as JPEG like a camera module would.
    case camera(width: Int, height: Int, quality: Int, subsampling: ChromaSubsampling, seed: UInt64)
    /// JPEG files of a folder, in name order, looped.
    case folder(String)
    /// Raw tensors of the model's input size: no decoding or pre-processing on the device.
    case tensor
}

/// One frame handed from the source to the device.
public struct Frame: Sendable {
    public var index: Int
    /// Encoded bytes; nil for raw tensors.
    public var jpeg: [UInt8]?
    /// Spans so far (capture, encode).
    public var trace: ItemTrace
}

/// Produces frames on the source thread (its only user once made, hence unchecked Sendable).
/// Each frame's trace starts at its intended capture time.
public final class FrameProducer: @unchecked Sendable {
    private let kind: SourceKind
    private var camera: SyntheticCamera?
    private var encoder: JPEGEncoder?
    /// Pre-rendered scenes, cycled: rendering is our cost, not the camera's, so it stays out of
    /// the timed path (a camera delivers a frame; it does not paint it on the CPU).
    private var scenes: [RGBImage] = []
    private var files: [(name: String, bytes: [UInt8])] = []

    public init(_ kind: SourceKind) throws(ImagingError) {
        self.kind = kind
        switch kind {
        case .camera(let width, let height, let quality, _, let seed):
            guard (1...100).contains(quality) else { throw .badSource("JPEG quality must be 1–100, got \(quality)") }
            let camera = try SyntheticCamera(width: width, height: height, seed: seed)
            // Up to 32 distinct scenes within about 64 MB.
            let count = max(4, min(32, 64_000_000 / (width * height * 3)))
            scenes = (0..<count).map { camera.frame($0) }
            self.camera = camera
            encoder = try JPEGEncoder()
        case .folder(let path):
            files = try Self.loadFolder(path)
        case .tensor:
            break
        }
    }

    /// Makes frame `index`, intended at `intended` (monotonic ns).
    public func make(_ index: Int, intended: UInt64) -> Frame {
        var trace = ItemTrace(item: index)
        trace.spans.append(Span(.capture, intended, intended))
        switch kind {
        case .camera(_, _, let quality, let subsampling, _):
            let image = scenes[index % scenes.count]
            trace.spans[0].endNs = MonotonicClock.now()
            do {
                let jpeg = try encoder!.encode(image, quality: quality, subsampling: subsampling)
                trace.mark(.encode, until: MonotonicClock.now())
                return Frame(index: index, jpeg: jpeg, trace: trace)
            } catch {
                trace.mark(.encode, until: MonotonicClock.now())
                trace.error = "\(error)"
                return Frame(index: index, jpeg: nil, trace: trace)
            }
        case .folder:
            let file = files[index % files.count]
            trace.spans[0].endNs = MonotonicClock.now()
            return Frame(index: index, jpeg: file.bytes, trace: trace)
        case .tensor:
            trace.spans[0].endNs = MonotonicClock.now()
            return Frame(index: index, jpeg: nil, trace: trace)
        }
    }

    /// Reads every .jpg/.jpeg file of a folder. Unreadable or corrupt files are kept (as empty or
    /// as they are): they fail one by one when decoded, and are counted, not fatal.
    static func loadFolder(_ path: String) throws(ImagingError) -> [(name: String, bytes: [UInt8])] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            throw .badSource("image folder not found: \(path)")
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { ["jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted()
        guard !names.isEmpty else { throw .badSource("no .jpg or .jpeg files in \(path)") }
        return names.map { name in
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: path + "/" + name))).map { [UInt8]($0) } ?? []
            return (name, bytes)
        }
    }
}
