import ArgumentParser
import EdgeInsightCore
import Engine
import Foundation
import ModelZoo

extension PerformanceHint: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument.lowercased() {
        case "latency": self = .latency
        case "throughput": self = .throughput
        case "cumulative_throughput", "cumulative-throughput": self = .cumulativeThroughput
        default: return nil
        }
    }
}

extension InferencePrecision: ExpressibleByArgument {}
extension EngineKind: ExpressibleByArgument {}

/// `edgeinsight bench`: how fast one model runs on this machine, as OpenVINO's benchmark_app measures it.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model's throughput and latency with OpenVINO on this machine.",
        discussion: """
            Keeps N infer requests in flight for the duration, restarting each as it completes, and
            reports inferences per second and per-request latency percentiles, the compile and
            first-inference times, and the settings OpenVINO actually applied (including the
            precision: on CPUs with AVX-512 BF16 OpenVINO silently computes in bf16 unless told
            --precision f32).

            Examples:
              edgeinsight bench mobilenet_v2 --hint latency --duration 5s
              edgeinsight bench resnet50 --hint throughput --precision f32 --json
              edgeinsight bench model.onnx --shape input:1,3,320,320
            """)

    @Argument(help: "A zoo model name (see `models list`) or a model file (.onnx, .tflite, .xml).")
    var model = ModelZoo.defaultModel

    @Option(help: "Input resolution for zoo models, in pixels.")
    var resolution = 224

    @Option(help: "Width multiplier for mobilenet_v2 (0.35, 0.5, 0.75, 1.0, 1.4).")
    var width: Double?

    @Option(help: "Batch size (first dimension of every input).")
    var batch = 1

    @Option(help: "Performance hint: latency, throughput or cumulative_throughput (default: the device's).")
    var hint: PerformanceHint?

    @Option(help: "Number of execution streams (default: chosen by the hint).")
    var streams: Int?

    @Option(help: "Infer requests in flight (default: the compiled model's optimal number).")
    var requests: Int?

    @Option(help: "Maximum inference threads (default: all cores).")
    var threads: Int?

    @Option(help: "Inference precision: f32, bf16 or f16 (default: the device's choice).")
    var precision: InferencePrecision?

    @Option(help: "Element type inputs are given in: f32 or u8 (default: the model's).")
    var inputType: String?

    @Option(parsing: .singleValue, help: "Fix an input shape, e.g. input:1,3,224,224 (repeatable).")
    var shape: [String] = []

    @Option(help: "Inference framework: openvino, litert (LiteRT; a zoo model as .tflite) or opencv (OpenCV's DNN module).")
    var engine: EngineKind = .openvino

    @Option(help: "How long to measure, e.g. 10s or 500ms.")
    var duration = "10s"

    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    func run() throws {
        guard let measured = DurationText.parse(duration), measured > .zero else {
            throw ValidationError("--duration must be a positive duration such as 10s or 500ms, got '\(duration)'")
        }
        var settings = EngineSettings()
        settings.hint = hint
        settings.streams = streams
        settings.threads = threads
        settings.precision = precision
        settings.requests = requests
        settings.batch = batch
        settings.inputElementType = try inputType.map(parseInputType)
        for text in shape {
            let (name, dims) = try EngineSettings.parseShape(text)
            settings.shapes[name ?? ""] = dims
        }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }

        let (path, label) = try ModelZoo.resolve(model, resolution: resolution, width: width, format: engine.modelFormat)
        if !engine.readsInputShapes && settings.shapes.isEmpty { settings.shapes = try ModelAnalyzer.inputShapes(file: path, batch: batch) }
        let engine = try self.engine.open()
        if !json { Progress.show("compiling \(label) with \(engine.name) \(engine.version)…") }
        let compiled = try engine.compile(modelAt: path, settings: settings)
        let result = try Benchmark.run(compiled, engine: engine, plan: BenchmarkPlan(duration: measured, requests: requests)) { progress in
            guard !json else { return }
            let rate = Double(progress.inferences * batch) / max(progress.elapsed.seconds, 1e-9)
            Progress.show(String(format: "benchmarking %@: %.0f/%.0f s, %d inferences, %.1f inferences/s",
                                 label, progress.elapsed.seconds, progress.total.seconds, progress.inferences, rate))
        }
        if !json { Progress.finish() }

        if json {
            print(try prettyJSON(BenchReport(model: label, file: path, result: result)))
        } else {
            print(Self.describe(result, label: label, path: path, askedPrecision: precision))
        }
    }

    static func describe(_ r: BenchmarkResult, label: String, path: String, askedPrecision: InferencePrecision?) -> String {
        let ms = { (ns: Double) in DurationText.format(nanoseconds: ns) }
        let a = r.applied
        var lines = [
            "model        \(label) (\(path))",
            "inputs       " + r.inputs.map { "\($0.name) \($0.elementType.rawValue) \($0.shapeDescription)" }.joined(separator: ", "),
            "engine       \(r.engine) \(r.engineVersion) on \(a.device)",
            "applied      hint \(a.hint), \(a.streams) streams, \(a.threads) threads, precision \(a.precision), \(r.requests) requests (optimal \(a.optimalRequests)), batch \(a.batch)",
            "compile      \(ms(r.compileMs * 1e6)); first inference \(ms(r.firstInferenceMs * 1e6))",
            String(format: "throughput   %.1f inferences/s (%d requests × batch %d in %.2f s)", r.throughput, r.iterations, a.batch, r.durationSeconds),
            "latency      p50 \(ms(r.latency.p50Ns))  p90 \(ms(r.latency.p90Ns))  p99 \(ms(r.latency.p99Ns))  mean \(ms(r.latency.meanNs))  min \(ms(r.latency.minNs))  max \(ms(r.latency.maxNs))  (per request)",
        ]
        if askedPrecision == nil && a.precision != "f32" && !a.precision.isEmpty {
            lines.append("note         OpenVINO chose \(a.precision) on this CPU; add --precision f32 to compare at full precision")
        }
        return lines.joined(separator: "\n")
    }
}

/// The JSON `bench --json` prints.
struct BenchReport: Codable {
    var model: String
    var file: String
    var result: BenchmarkResult
}
