import ArgumentParser
import EdgeInsightCore
import Foundation
import Imaging

/// `edgeinsight preprocess`: how long a pre-processing pipeline takes per image on this machine.
struct Preprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a pre-processing pipeline on JPEG files (one thread).",
        discussion: """
            Example: edgeinsight preprocess frames/ --pipeline "decode → resize 224 → normalize imagenet → nchw f32"
            The files are read into memory first; one warm-up pass, then --repeat timed passes.
            """)

    @Argument(help: "JPEG files or folders of them.")
    var files: [String]

    @Option(help: "The pipeline, or a preset (imagenet, imagenet-fast).")
    var pipeline = "decode → resize 224 → normalize imagenet → nchw f32"

    @Option(help: "Timed passes over the files.")
    var `repeat` = 20

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let result = try PreprocessTiming.run(files: files, pipeline: try Pipeline(parsing: pipeline), passes: `repeat`)
        if json {
            print(try prettyJSON(result))
            return
        }
        let t = { (ns: Double) in DurationText.format(nanoseconds: ns) }
        let l = result.latency
        print("pipeline     \(result.pipeline)")
        print("images       \(result.images) × \(result.passes) passes → tensor \(TensorInfo.describe(result.outputShape))\(result.failed > 0 ? ", \(result.failed) failed" : "")")
        print("per image    p50 \(t(l.p50Ns))  p90 \(t(l.p90Ns))  p99 \(t(l.p99Ns))  mean \(t(l.meanNs))  (\(String(format: "%.0f", l.p50Ns > 0 ? 1e9 / l.p50Ns : 0)) images/s at p50)")
    }
}

/// `edgeinsight camera`: write synthetic camera frames as JPEG files.
struct Camera: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write frames of the synthetic camera as JPEG files (test images with photo-like sizes).")

    @Option(name: [.short, .customLong("output")], help: "Folder to write into (created if needed).")
    var output: String

    @Option(help: "Number of frames.")
    var frames = 16

    @Option(help: "Resolution, WIDTHxHEIGHT.")
    var resolution = "640x480"

    @Option(help: "JPEG quality, 1-100.")
    var jpegQuality = 80

    @Option(help: "Chroma subsampling: 420 or 444.")
    var subsampling = ChromaSubsampling.s420

    @Option(help: "Scene seed.")
    var seed: UInt64 = 1

    func run() throws {
        let size = try parseSize(resolution)
        let (width, height) = (size.width, size.height)
        guard frames >= 1 else { throw ValidationError("--frames must be at least 1") }
        let camera = try SyntheticCamera(width: width, height: height, seed: seed)
        let encoder = try JPEGEncoder()
        do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
            throw ValidationError("cannot create the folder \(output)")
        }
        var total = 0
        for index in 0..<frames {
            let jpeg = try encoder.encode(camera.frame(index), quality: jpegQuality, subsampling: subsampling)
            let path = String(format: "%@/frame-%04d.jpg", output, index)
            do { try Data(jpeg).write(to: URL(fileURLWithPath: path)) } catch { throw ValidationError("cannot write \(path)") }
            total += jpeg.count
        }
        print("wrote \(frames) frames of \(resolution) at quality \(jpegQuality) to \(output) (mean \(Bytes(total / frames)) per frame)")
    }
}

extension ChromaSubsampling: ExpressibleByArgument {}
