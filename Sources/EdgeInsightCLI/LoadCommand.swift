import ArgumentParser
import EdgeInsightCore
import Engine
import Foundation
import LoadGen
import Report

/// `edgeinsight load`: offer load to any Open Inference Protocol server and measure it.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure an Open Inference Protocol server (ours, Triton, KServe, MLServer, OVMS) under load.",
        discussion: """
            Closed loop (--concurrency), open loop at a rate (--rate, constant or Poisson), custom gaps
            (--intervals FILE, one duration per line), or an MLPerf scenario (--scenario). Each step
            warms up, then measures windows until the last 3 agree within --stability percent (or
            --max-windows run out, and the step is reported unstable). In rate modes latency counts
            from the intended send time, so a server that falls behind cannot hide it, and the send
            lateness (actual − intended) shows whether the client kept up.

            Examples:
              edgeinsight load http://127.0.0.1:8000 --model mobilenet_v2 --concurrency 1:8:1
              edgeinsight load 127.0.0.1:8000 --model add --rate 100:1000:300 --arrivals poisson --csv out.csv --plot out.svg
              edgeinsight load 127.0.0.1:8000 --model resnet50 --scenario server --latency-bound 100ms
              edgeinsight load 127.0.0.1:8000 --model mobilenet_v2 --images frames/      # JPEG as BYTES
            """)

    @Argument(help: "Server URL, e.g. http://127.0.0.1:8000.")
    var url: String

    @Option(help: "Model name.")
    var model: String

    @Option(help: "Model version (default: none in the path).")
    var modelVersion: String?

    @Option(help: "Closed-loop concurrency: N, start:end:step, or a list.")
    var concurrency: String?

    @Option(help: "Open-loop request rate in req/s: R, start:end:step, or a list.")
    var rate: String?

    @Option(help: "Arrival process in rate mode: constant or poisson.")
    var arrivals: String?

    @Option(help: .hidden)
    var distribution: String?

    @Option(help: "A file of inter-request gaps, one duration per line (e.g. 12ms).")
    var intervals: String?

    @Option(help: "MLPerf scenario: single-stream, multi-stream, server, offline.")
    var scenario: String?

    @Option(help: "Samples per query in multi-stream.")
    var samples = 8

    @Option(help: "p99 bound for the server scenario, or the latency at which a concurrency sweep stops.")
    var latencyBound: String?

    @Option(help: "Measurement window length.")
    var window = "5s"

    @Option(help: "End windows after this many requests instead of by time.")
    var windowRequests: Int?

    @Option(help: "Stability: the last 3 windows' throughput and latency within ±this percent.")
    var stability = 10.0

    @Option(help: "Windows per step before giving up on stability.")
    var maxWindows = 10

    @Option(help: "Warm-up before measuring.")
    var warmup = "1s"

    @Option(help: "Warm up until this many requests completed instead.")
    var warmupRequests: Int?

    @Option(help: "Input data: random or zero.")
    var input = "random"

    @Option(help: "Send the JPEG files of this folder as BYTES (the server decodes them).")
    var images: String?

    @Option(parsing: .singleValue, help: "Raw tensor files, one per input in order (repeatable).")
    var tensor: [String] = []

    @Option(parsing: .singleValue, help: "Input shape, name:dims (repeatable).")
    var shape: [String] = []

    @Option(help: "Batch size for a dynamic first dimension.")
    var batch = 1

    @Flag(help: "Send tensors as JSON instead of the binary extension.")
    var jsonData = false

    @Option(help: "Seed for random data and Poisson arrivals.")
    var seed: UInt64 = 1

    @Option(help: "Write perf_analyzer-style CSV here.")
    var csv: String?

    @Option(help: "Draw the latency–throughput curve (p50, p90, p99 per step) as SVG here.")
    var plot: String?

    @Option(help: "Write every step and window as JSON here.")
    var json: String?

    @Option(help: "File holding a bearer token.")
    var tokenFile: String?

    @Option(help: "Write every send's intended and actual time (ns, monotonic clock) here, a line each, to check the arrival process.")
    var sendTimes: String?

    func run() async throws {
        var policy = MeasurementPolicy()
        guard let windowTime = DurationText.parse(window), windowTime > .zero else { throw ValidationError("--window must be a duration such as 5s") }
        guard let warm = DurationText.parse(warmup) else { throw ValidationError("--warmup must be a duration such as 1s") }
        policy.windowTime = windowTime
        policy.windowRequests = windowRequests
        policy.stability.percent = stability
        guard maxWindows >= 1 else { throw ValidationError("--max-windows must be at least 1") }
        policy.maxWindows = maxWindows
        policy.stability.windows = min(policy.stability.windows, maxWindows)
        policy.warmup = warm
        policy.warmupRequests = warmupRequests
        let bound = try latencyBound.map { text throws -> Duration in
            guard let d = DurationText.parse(text), d > .zero else { throw ValidationError("--latency-bound must be a duration such as 50ms") }
            return d
        }
        var shapes: [String: [Int]] = [:]
        for text in shape {
            let (name, dims) = try EngineSettings.parseShape(text)
            guard let name else { throw ValidationError("--shape must name the input, e.g. input:1,3,224,224") }
            shapes[name] = dims
        }
        let token = try tokenFile.map(readToken)
        try checkWritable(csv, plot, json, sendTimes)
        let kind: InputKind
        if let images { kind = .jpegFolder(images) } else if !tensor.isEmpty { kind = .tensorFiles(tensor) } else {
            switch input { case "random": kind = .random(seed: seed); case "zero": kind = .zero; default: throw ValidationError("--input must be random or zero") }
        }
        let plan = try makePlan(bound: bound)
        let client = try OIPClient(base: url, token: token, connections: 512)
        defer { Task { await client.shutdown() } }
        let batchSize = plan.scenario == .multiStream ? samples : batch
        var binary = !jsonData
        if binary, await client.takesBinaryTensors() == false {
            // Seldon MLServer, for one: binary tensors would fail every request with HTTP 400.
            print("note         the server does not list the binary_tensor_data extension: sending JSON tensors")
            binary = false
        }
        let requests = try await RequestFactory.prepare(client: client, model: model, kind: kind, binary: binary, batch: batchSize, shapes: shapes)
        let generator = LoadGenerator(client: client, model: model, version: modelVersion, requests: requests)
        let statsBefore = try? await client.getJSON("/v2/models/\(model)/stats")
        var steps: [StepResult] = []
        print("target       \(client.base)  model \(model)  \(requests.first.map { "\(Bytes($0.body.readableBytes)) per request, \($0.headerLength == nil ? "JSON" : "binary") tensors" } ?? "")")

        func measure(_ mode: LoadMode) async throws -> StepResult {
            Progress.show("measuring \(mode)…")
            let (step, sends) = try await generator.run(mode, policy: policy, keepSendTimes: sendTimes != nil) { index, window in
                Progress.show(String(format: "measuring %@: window %d, %.1f req/s, p99 %@", mode.description, index, window.requestsPerSecond, DurationText.format(nanoseconds: window.latency.p99Ns)))
            }
            Progress.finish()
            print(LoadReportText.line(step))
            steps.append(step)
            if let sendTimes {
                try writeOutput(sends.map { "\($0.intended) \($0.actual)" }.joined(separator: "\n") + "\n", to: sendTimes)
            }
            return step
        }

        try await plan.run(measure: measure).forEach { print($0) }
        try LoadPlan.check(steps, binary: binary)

        if let statsBefore, let statsAfter = try? await client.getJSON("/v2/models/\(model)/stats") {
            print(ServerStatistics.between(statsBefore, statsAfter)?.description ?? "server split  /stats answered without inference_stats")
        } else if steps.allSatisfy({ $0.serverQueueMeanNs == nil }) {
            print("server split  this server reports neither per-response timings nor /stats: latencies are client-side only")
        }
        if let csv {
            let text = ([PerfAnalyzerCSV.header] + steps.map { PerfAnalyzerCSV.row($0) }).joined(separator: "\n") + "\n"
            try writeOutput(text, to: csv)
            print("csv          \(csv)")
        }
        if let plot {
            try writeOutput(LatencyCurve.svg(steps, title: "\(model) at \(url)"), to: plot)
            print("plot         \(plot)")
        }
        if let json {
            try writeOutput(try prettyJSON(steps) + "\n", to: json)
            print("json         \(json)")
        }
    }

    private func makePlan(bound: Duration?) throws -> LoadPlan {
        var plan = LoadPlan()
        plan.bound = bound
        plan.samples = samples
        plan.seed = seed
        let chosen = [concurrency != nil, rate != nil, intervals != nil, scenario != nil].filter { $0 }.count
        guard chosen <= 1 else { throw ValidationError("choose one of --concurrency, --rate, --intervals and --scenario") }
        if let scenario {
            guard let s = Scenario(rawValue: scenario) else { throw ValidationError("--scenario must be one of \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))") }
            plan.scenario = s
        } else if let rate {
            guard let rates = RangeText.parse(rate), rates.allSatisfy({ $0 > 0 }) else { throw ValidationError("--rate must be R, start:end:step or a list of positive rates") }
            var kind = try parseArrivals(arrivals ?? "constant")
            if let distribution {
                printError("note: --distribution is deprecated; it is spelled --arrivals")
                kind = try parseArrivals(distribution, flag: "--distribution")
            }
            plan.modes = rates.map { .open(kind.process(rate: $0, seed: seed)) }
        } else if let intervals {
            guard let text = try? String(contentsOfFile: intervals, encoding: .utf8) else { throw ValidationError("cannot read \(intervals)") }
            var gaps: [UInt64] = []
            for (number, line) in text.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                guard let gap = DurationText.parse(String(line)) else { throw ValidationError("\(intervals):\(number + 1): not a duration: '\(line)'") }
                gaps.append(UInt64(gap.nanoseconds))
            }
            plan.modes = [.open(.intervals(gaps))]
        } else {
            guard let levels = RangeText.parse(concurrency ?? "1"), levels.allSatisfy({ $0 >= 1 && $0 == $0.rounded() }) else {
                throw ValidationError("--concurrency must be N, start:end:step or a list of whole numbers ≥ 1")
            }
            plan.modes = levels.map { .concurrency(Int($0)) }
        }
        return plan
    }
}

/// The console line of one step.
enum LoadReportText {
    static func line(_ s: StepResult) -> String {
        let t = { (ns: Double) in DurationText.format(nanoseconds: ns) }
        var text = String(format: "%-26@ %9.1f req/s  p50 %@  p90 %@  p99 %@", s.mode, s.requestsPerSecond, t(s.latency.p50Ns), t(s.latency.p90Ns), t(s.latency.p99Ns))
        if let queue = s.serverQueueMeanNs, let compute = s.serverComputeMeanNs { text += "  server queue \(t(queue)) compute \(t(compute))" }
        if let lateness = s.lateness { text += "  send lateness p50 \(t(lateness.p50Ns)) p99 \(t(lateness.p99Ns))" }
        if s.failed > 0 { text += "  \(s.failed) failed (\(s.failures.text))" }
        if !s.stable { text += "  UNSTABLE after \(s.windows.count) windows" }
        if s.clientFellBehind { text += "  CLIENT FELL BEHIND (sent late)" }
        if let target = s.targetRate { text += String(format: "  (offered %.1f of %.1f req/s)", s.sentPerSecond, target) }
        return text
    }
}
