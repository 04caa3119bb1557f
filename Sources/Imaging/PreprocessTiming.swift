import EdgeInsightCore
import Foundation

/// Times a pipeline on a set of JPEG files, one thread, the files already in memory.
public enum PreprocessTiming {
    /// The result: per-image latency over every pass, and the tensor shape produced.
    public struct Result: Sendable, Codable {
        public var images: Int
        public var passes: Int
        public var pipeline: String
        public var outputShape: [Int]
        public var latency: LatencySummary
        public var failed: Int
    }

    /// Runs `passes` passes over the files (after one warm-up pass).
    public static func run(files: [String], pipeline: Pipeline, passes: Int) throws(ImagingError) -> Result {
        guard passes >= 1 else { throw .badSource("the number of passes must be at least 1") }
        var jpegs: [[UInt8]] = []
        for path in files {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw .badSource("no such file or folder: \(path)") }
            if isFolder.boolValue {
                jpegs += try FrameProducer.loadFolder(path).map(\.bytes)
            } else {
                guard let data = FileManager.default.contents(atPath: path) else { throw .badSource("cannot read \(path)") }
                jpegs.append([UInt8](data))
            }
        }
        guard !jpegs.isEmpty else { throw .badSource("give JPEG files or folders") }
        let preprocessor = try Preprocessor(pipeline: pipeline)
        // Size the output from the first image whose header reads.
        var shape: [Int] = []
        for jpeg in jpegs where shape.isEmpty {
            shape = jpeg.withUnsafeBytes { (try? preprocessor.tensorShape(jpeg: $0)) ?? [] }
        }
        guard !shape.isEmpty else { throw .badSource("none of the images could be read") }
        var output = [UInt8](repeating: 0, count: shape.reduce(1, *) * pipeline.output.type.byteSize)

        var histogram = LatencyHistogram()
        var failed = 0
        for pass in 0...passes {
            for jpeg in jpegs {
                let started = MonotonicClock.now()
                let ok = jpeg.withUnsafeBytes { data in
                    output.withUnsafeMutableBytes { out in (try? preprocessor.run(jpeg: data, into: out)) != nil }
                }
                let elapsed = MonotonicClock.now() - started
                if pass == 0 { continue }   // warm-up: tables and buffers get sized
                if ok { histogram.record(nanoseconds: elapsed) } else { failed += 1 }
            }
        }
        return Result(images: jpegs.count, passes: passes, pipeline: pipeline.description, outputShape: shape, latency: histogram.summary, failed: failed)
    }
}
