import ArgumentParser
import EdgeInsightCore
import EdgeNode
import Engine
import Foundation
import Imaging
import ModelZoo
import Report


/// `edgeinsight pipeline`: the edge placement, measured stage by stage.
struct PipelineRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Run the edge placement: a camera at a frame rate, pre-processing and inference on this device.",
        discussion: """
            The source offers frames at their own pace (it never slows to match the device); frames
            wait in a bounded queue and are dropped when it is full. Latency is measured from each
            frame's intended capture time, so a device that cannot keep up shows growing queueing.
            Stages: capture, encode (the camera's JPEG), queue, preprocess, infer, postprocess.

            Examples:
              edgeinsight pipeline --model mobilenet_v2 --fps 10 --resolution 640x480 --jpeg-quality 80 --duration 10
              edgeinsight pipeline --model resnet50 --fps 60 --threads 1 --duration 5s      # overload: queueing, drops
              edgeinsight pipeline --images photos/ --fps 30 --arrivals poisson --trace run.json
            """)

    @Option(help: "A zoo model name or a model file.")
    var model = ModelZoo.defaultModel

    @Option(help: "Frames per second, or 'max' for as fast as the device takes them.")
    var fps = "10"

    @Option(help: "Arrival process: constant (evenly spaced) or poisson.")
    var arrivals = "constant"

    @Option(help: "Camera resolution, WIDTHxHEIGHT.")
    var resolution = "640x480"

    @Option(help: "Camera JPEG quality, 1-100.")
    var jpegQuality = 80

    @Option(help: "Camera chroma subsampling: 420 or 444.")
    var subsampling = ChromaSubsampling.s420

    @Option(help: "Use the JPEG files of this folder (looped) instead of the synthetic camera.")
    var images: String?

    @Flag(help: "Feed raw tensors of the model's input size: no JPEG, no pre-processing.")
    var rawTensors = false

    @Option(help: "Pre-processing, e.g. \"decode → resize 224 → normalize imagenet → nchw f32\" or a preset (imagenet, imagenet-fast). Default: fit the model's input.")
    var pipeline: String?

    @Option(help: "How long the source offers frames, e.g. 10s (a bare number is seconds).")
    var duration = "10s"

    @Option(help: "Stop after this many frames instead.")
    var frames: Int?

    @Option(help: "Frames that may wait for the device; more are dropped.")
    var queue = 4

    @Option(help: "Seed of the camera scene and of Poisson arrivals.")
    var seed: UInt64 = 1

    @Option(help: "Inference threads (emulate a smaller device).")
    var threads: Int?

    @Option(help: "Inference precision: f32, bf16 or f16.")
    var precision: InferencePrecision?

    @Option(help: "The input shape of a model with dynamic dimensions, e.g. 1,3,320,320 (default: the camera's resolution).")
    var shape: String?

    @Option(help: "Inference framework: openvino, litert (LiteRT; a zoo model as .tflite) or opencv (OpenCV's DNN module).")
    var engine: EngineKind = .openvino

    @Option(help: "Write a Chrome trace-event file (open in Perfetto).")
    var trace: String?

    @Option(help: "Write every frame's spans as JSON lines.")
    var traceJsonl: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let config = try makeConfig()
        var settings = EngineSettings()
        settings.threads = threads
        settings.precision = precision
        settings.hint = .latency
        let (path, label) = try ModelZoo.resolve(model, format: engine.modelFormat)
        // The device as a trial describes it: its framework, and the frames a dynamic model takes.
        var trial = TrialConfig()
        trial.workload.resolution = try parseSize(resolution)
        trial.modelShape = try shape.map { try EngineSettings.parseShape($0).dims }
        trial.device.engine = engine
        let (engine, compiled) = try Agent.compile(modelAt: path, for: trial, settings: settings)
        let writer = trace == nil && traceJsonl == nil ? nil : try TraceWriter(jsonLinesPath: traceJsonl, chromePath: trace, origin: MonotonicClock.now())
        let report = try EdgePipeline.run(config, model: compiled, trace: writer) { p in
            guard !json else { return }
            let total = p.total.map { String(format: "/%.0f", $0.seconds) } ?? ""
            Progress.show(String(format: "pipeline: %.0f%@ s, %d offered, %d processed, %d dropped, %d queued", p.elapsed.seconds, total, p.offered, p.processed, p.dropped, p.queued))
        }
        writer?.close()
        if !json { Progress.finish() }
        if json {
            print(try prettyJSON(report))
        } else {
            print(PipelineReportText.render(report, model: label, engine: engine))
            if let trace { print("trace        \(trace) (open in https://ui.perfetto.dev)") }
            if let traceJsonl { print("spans        \(traceJsonl) (JSON lines, one frame per line)") }
        }
    }

    private func makeConfig() throws -> EdgePipelineConfig {
        let source: SourceKind
        if rawTensors {
            source = .tensor
        } else if let images {
            source = .folder(images)
        } else {
            let size = try parseSize(resolution)
            source = .camera(width: size.width, height: size.height, quality: jpegQuality, subsampling: subsampling, seed: seed)
        }
        let process: ArrivalProcess
        if fps.lowercased() == "max" {
            process = .asFastAsPossible
        } else {
            guard let rate = Double(fps), rate > 0, rate.isFinite else { throw ValidationError("--fps must be a positive number or 'max', got '\(fps)'") }
            process = try parseArrivals(arrivals).process(rate: rate, seed: seed)
        }
        guard let measured = DurationText.parse(duration), measured > .zero else {
            throw ValidationError("--duration must be a positive duration such as 10s, got '\(duration)'")
        }
        var config = EdgePipelineConfig(source: source, arrivals: process, duration: frames == nil ? measured : nil, frames: frames)
        config.queueCapacity = queue
        if let pipeline { config.pipeline = try Pipeline(parsing: pipeline) }
        return config
    }
}

/// The human-readable report of an edge pipeline run.
enum PipelineReportText {
    static func render(_ r: EdgePipelineReport, model: String, engine: any InferenceEngine) -> String {
        let t = { (ns: Double) in DurationText.format(nanoseconds: ns) }
        var lines = [
            "source       \(r.source); \(r.arrivals)",
            "pipeline     \(r.pipeline)",
            "model        \(model); \(engine.name) \(engine.version), \(r.applied.map { "\($0.threads) threads, precision \($0.precision)" } ?? "remote")",
            String(format: "frames       %d offered (%.1f fps), %d processed (%.1f fps), %d dropped, %d failed; queue holds %d",
                   r.offered, r.offeredRate, r.processed, r.throughput, r.dropped, r.failed, r.queueCapacity),
        ]
        if r.meanFrameBytes > 0 { lines.append("frame size   \(Bytes(Int(r.meanFrameBytes))) mean JPEG") }
        if let last = r.lastResult {
            if let top = last.topClass { lines.append("last frame   top class \(top)") }
            if let elements = last.outputElements, let checksum = last.checksum {
                lines.append("last frame   \(elements) output elements, checksum \(String(checksum, radix: 16)) (not a classifier: outputs digested)")
            }
        }
        let e = r.endToEnd
        lines.append("end to end   p50 \(t(e.p50Ns))  p90 \(t(e.p90Ns))  p99 \(t(e.p99Ns))  max \(t(e.maxNs))  mean \(t(e.meanNs))  (from intended capture)")
        lines.append("")
        var table = TextTable(["stage", "mean", "p50", "p90", "p99", "share"])
        for stage in r.stages {
            let s = stage.latency
            table.add([stage.stage.rawValue, t(s.meanNs), t(s.p50Ns), t(s.p90Ns), t(s.p99Ns), String(format: "%.1f%%", e.meanNs > 0 ? 100 * s.meanNs / e.meanNs : 0)])
        }
        let sum = r.stages.reduce(0) { $0 + $1.latency.meanNs }
        table.add(["sum", t(sum), "", "", "", String(format: "%.1f%%", e.meanNs > 0 ? 100 * sum / e.meanNs : 0)])
        lines.append(table.rendered)
        if !r.errors.isEmpty {
            lines.append("")
            for (reason, count) in r.errors.sorted(by: { $0.value > $1.value }) { lines.append("failed ×\(count): \(reason)") }
        }
        if r.timeline.count > 1 {
            lines.append("")
            var timeline = TextTable(["from", "offered", "processed", "dropped", "p50", "p99", "queue wait"])
            for point in r.timeline {
                timeline.add([String(format: "%.1fs", point.startSeconds), String(point.offered), String(point.processed), String(point.dropped),
                              t(point.p50Ms * 1e6), t(point.p99Ms * 1e6), t(point.meanQueueMs * 1e6)])
            }
            lines.append(timeline.rendered)
        }
        lines.append("")
        lines.append("verdict      " + Verdicts.device(r))
        return lines.joined(separator: "\n")
    }
}
