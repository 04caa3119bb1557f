import ArgumentParser
import Broker
import EdgeInsightCore
import EdgeNode
import Foundation
import Modeling
import Planner
import Profiles
import Report
import Results
import Testbed

/// `edgeinsight run`: an experiment file's sweep, trial by trial, into a results database.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an experiment: a sweep of edge, cloud and split deployments, each trial measured and stored.",
        discussion: """
            Each trial starts a cloud node (`serve`), a link and an edge node (`agent`) confined like a
            device, measures, stops them and commits the trial to OUT/results.sqlite at once. Running the
            same file again resumes: finished trials are skipped (--fresh starts over). Ctrl-C stops
            cleanly; a failed trial is stored with its reason and the sweep goes on.
            The file format: docs/experiment-reference.md; examples in examples/.
            """)

    @Argument(help: "The experiment file (YAML).")
    var file: String

    @Option(help: "Output folder (default: out/NAME).")
    var out: String?

    @Flag(help: "Forget this experiment's finished trials and run them all again.")
    var fresh = false

    @Option(help: "Hosts file (ours, or an Ansible inventory) for device.host and cloud.host, instead of the file's 'hosts:' section.")
    var hosts: String?

    func run() async throws {
        var experiment = try Experiment.load(file)
        if let hosts { experiment.hosts = try HostInventory.load(hosts) }
        try await runExperiment(experiment, out: out ?? "out/\(experiment.name)", fresh: fresh)
    }
}

/// `edgeinsight demo`: the built-in experiment.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the built-in experiment: mobilenet_v2 and resnet50, on a 0.5-CPU device or a 1-CPU cloud node over LTE or Ethernet.",
        discussion: "The experiment is examples/demo.yaml. About 4 minutes on 2 cores; results in out/demo.")

    @Option(help: "Output folder.")
    var out = "out/demo"

    @Flag(help: "Forget finished trials and run them all again.")
    var fresh = false

    func run() async throws {
        let experiment = try Experiment.parse(DemoExperiment.yaml, path: "built-in demo (examples/demo.yaml)")
        try await runExperiment(experiment, out: out, fresh: fresh)
        let database = try ResultsDatabase(path: out + "/results.sqlite")
        let run = try database.run(experiment.name)
        let trials = try database.trials(run: run.id)
        var report = ReportContent(run: run, trials: trials)
        // How well a model fitted on the rest of the sweep predicts one corner of it.
        do {
            let (validation, lines) = try DemoWorkflow.heldOutPredictions(trials, run: run)
            report.validation = (validation, DemoWorkflow.heldOutSentence)
            lines.forEach { print($0) }
        } catch {
            print("no held-out prediction: \(error)")
        }
        // A decision from the same model: the cheapest way to serve examples/plan-latency.yaml, measured.
        do {
            let result = try DemoWorkflow.plan(try Plan.parse(DemoPlan.yaml, path: "built-in plan (examples/plan-latency.yaml)"), trials: trials, run: run)
            print("")
            print(PlanText.render(result).split(separator: "\n", omittingEmptySubsequences: false).prefix(6).joined(separator: "\n"))
            report.plan = result
            try await verifyPlan(result, top: 1, out: out + "/plan")
        } catch {
            print("no plan: \(error)")
        }
        print("")
        try writeReport(report, to: reportPath(out: out, run: run.name))
    }
}

/// `edgeinsight calibrate`: the built-in calibration, then the model fitted on it.
struct Calibrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure what the performance model needs on this machine's nodes, and fit it.",
        discussion: """
            Runs examples/calibration.yaml (a spread of zoo architectures and their inputs, CPU quotas,
            resolutions and JPEG qualities, and the cloud placements) into OUT/results.sqlite like any
            run, then fits every component model and writes OUT/model.json. Each trial measures 3 s
            once (about 3 minutes); with --budget, more time measures each again (a steadier fit on
            a shared machine) and less shortens the trials.
            Predict with: edgeinsight predict EXPERIMENT --model OUT/model.json
            """)

    @Option(help: "Output folder.")
    var out = "out/calibration"

    @Flag(help: "Forget finished trials and run them all again.")
    var fresh = false

    @Option(help: "Inference frameworks to calibrate on the device (repeatable): openvino, litert, opencv; each beyond OpenVINO repeats the edge trials (about 2 minutes more).")
    var engine: [EngineKind] = [.openvino]

    @Option(help: "About how long to take, e.g. 10m: more than the 3 minutes the trials take once repeats every trial, less shortens them.")
    var budget: String?

    func run() async throws {
        let time = try budget.map { text in
            guard let time = DurationText.parse(text), time > .zero else { throw ValidationError("--budget must be a duration such as 10m, got '\(text)'") }
            return time
        }
        let (experiment, plan) = try CalibrationExperiment.experiment(engines: engine, budget: time)
        // Written at once: the progress that follows goes straight to the terminal.
        FileHandle.standardOutput.write(Data(("calibration: \(plan.trials) trials, each \(plan.repetitions)× for \(DurationText.format(plan.duration)), about "
                                              + DurationText.format(plan.estimate) + (time.map { " (budget \(DurationText.format($0)))" } ?? "") + "\n").utf8))
        try await runExperiment(experiment, out: out, fresh: fresh)
        let database = try ResultsDatabase(path: out + "/results.sqlite")
        let run = try database.run(experiment.name)
        let (model, report) = try PerformanceModel.fit(try database.trials(run: run.id), environment: run.environment, runs: [run.name], includeUnstable: true)
        report.lines.forEach { print($0) }
        try model.write(to: out + "/model.json")
        print("model: \(out)/model.json  (edgeinsight predict EXPERIMENT --model \(out)/model.json)")
    }
}

/// Runs an experiment with a progress bar, then prints the summary and where the results are.
func runExperiment(_ experiment: Experiment, out: String, fresh: Bool) async throws {
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    var options = RunOptions(out: out, executable: Bundle.main.executablePath ?? executable, fresh: fresh)
    options.say = { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    let runner = Runner(experiment: experiment, options: options)
    let stop = StopSignal()
    Task { await stop.wait(); runner.requestStop() }
    FileHandle.standardOutput.write(Data("experiment \(experiment.name): \(experiment.trials().count) trials → \(out)/results.sqlite\n".utf8))
    for note in experiment.notes { printError("note: \(note)") }
    let outcome = try await Blocking.offload {
        try runner.run { p in
            let width = 24
            let filled = p.total > 0 ? width * p.done / p.total : width
            let eta = p.remaining.map { " ETA " + DurationText.format(.seconds(Int64($0.seconds.rounded()))) } ?? ""
            Progress.show("[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(p.done)/\(p.total) trials"
                          + (p.failed > 0 ? ", \(p.failed) failed" : "") + (p.skipped > 0 ? ", \(p.skipped) already done" : "") + eta + " — \(p.current)")
        }
    }
    Progress.finish()
    let database = try ResultsDatabase(path: outcome.database)
    let all = try database.trials(run: try database.run(outcome.runName).id)
    RunSummaryTable.closing(all).forEach { print($0) }
    print("results: \(outcome.database)  (edgeinsight results show \(outcome.runName) --out \(out); export with --csv or --json)")
    // The same p99 picture as the verdicts, to look at rather than read (no chart when nothing was measured).
    let plot = ResultsPlot.defaults(for: all)
    if let svg = try? plot.svg(all, title: "\(outcome.runName): p99 latency per placement") {
        let path = plot.file(in: out, run: outcome.runName)
        if (try? Data(svg.utf8).write(to: URL(fileURLWithPath: path))) != nil {
            print("plot: \(path)  (edgeinsight results plot \(outcome.runName) --out \(out) --metric … --x … for others)")
        }
    }
    let run = try database.run(outcome.runName)
    try writeReport(ReportContent(run: run, trials: all), to: reportPath(out: out, run: run.name))
    print(RunSummaryTable.lastLine(ran: outcome.ran, skipped: outcome.skipped, interrupted: outcome.interrupted, failures: outcome.trials.filter { !$0.ok }))
    if outcome.interrupted { throw ExitCode(130) }
    // A run that measured nothing it tried has failed, whatever it stored.
    if outcome.ran > 0, outcome.failed == outcome.ran { throw ExitCode(1) }
}

/// `edgeinsight agent`: the edge node of a trial.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Be an edge node: a camera at a frame rate, inferring locally or sending frames to a cloud node.",
        discussion: """
            The trial comes as a node document (docs/nodes.md: the trial's configuration, keys of
            docs/experiment-reference.md, and the cloud node's address) with --config FILE (or - for
            standard input); the flags below set single keys over it. Standard output carries the
            ready line and then the report (or the error) as one JSON line each.
            Placements: edge (decode, pre-process, infer here), cloud-raw (send the camera's JPEG),
            cloud-tensor (pre-process here, send the tensor), split (shrink and re-encode here, send the
            JPEG). The testbed's runner starts agents; you can too:
              edgeinsight agent --placement cloud-raw --server http://127.0.0.1:9000 --model mobilenet_v2 --fps 10
            """)

    @Option(help: "The node document (docs/nodes.md), a file or - for standard input.")
    var config: String?
    @Option(help: "The cloud node (or a link in front of it), http://HOST:PORT.")
    var server: String?
    @Option(help: "Write the report here as JSON (default: print it).")
    var report: String?

    @Option(help: "edge, cloud-raw, cloud-tensor or split (placement).")
    var placement: String?
    @Option(help: "Model: zoo name or file for edge; the served name for cloud placements (model).")
    var model: String?
    @Option(help: "Frames per second the camera offers (workload.fps).")
    var fps: String?
    @Option(help: "constant or poisson (workload.arrivals).")
    var arrivals: String?
    @Option(help: "Camera resolution, WIDTHxHEIGHT (workload.resolution).")
    var resolution: String?
    @Option(help: "Camera JPEG quality, 1–100 (workload.jpeg_quality).")
    var jpegQuality: String?
    @Option(help: "JPEG quality of the re-encoded frame (split.jpeg_quality).")
    var splitQuality: String?
    @Option(help: "Warm-up before measuring, e.g. 1s (workload.warmup).")
    var warmup: String?
    @Option(help: "How long to measure, e.g. 3s (workload.duration).")
    var duration: String?
    @Option(help: "Frames that may wait on the device before new ones are dropped (workload.queue).")
    var queue: String?
    @Option(help: "Requests a cloud placement keeps in flight (workload.inflight).")
    var inflight: String?
    @Option(help: "Measurement window, e.g. 1s (workload.window).")
    var window: String?
    @Option(help: "Inference threads on the device (device.threads).")
    var threads: String?
    @Option(help: "How requests reach the cloud node: http or mqtt (transport).")
    var transport: String?
    @Option(name: .customLong("broker"), help: "The MQTT broker to publish frames to, mqtt://HOST:PORT (transport mqtt).")
    var brokerURL: String?
    @Option(help: "MQTT QoS of the frames: 0 or 1 (mqtt.qos).")
    var mqttQos: String?

    func run() async throws {
        let spec = try config.map { try NodeSpec<AgentSpec>.read($0, as: .agent).spec } ?? AgentSpec(config: TrialConfig())
        var trial = spec.config
        let server = server ?? spec.server
        let flags: [(flag: String, key: String, value: String?)] = [
            ("--placement", "placement", placement), ("--model", "model", model), ("--fps", "workload.fps", fps),
            ("--arrivals", "workload.arrivals", arrivals), ("--resolution", "workload.resolution", resolution),
            ("--jpeg-quality", "workload.jpeg_quality", jpegQuality), ("--split-quality", "split.jpeg_quality", splitQuality),
            ("--warmup", "workload.warmup", warmup), ("--duration", "workload.duration", duration), ("--queue", "workload.queue", queue),
            ("--inflight", "workload.inflight", inflight), ("--window", "workload.window", window), ("--threads", "device.threads", threads),
            ("--transport", "transport", transport), ("--mqtt-qos", "mqtt.qos", mqttQos),
        ]
        for (flag, key, value) in flags {
            guard let value else { continue }
            do { try trial.set(key, value) } catch { throw ValidationError("\(flag): \(error.message)") }
        }
        if let arrivals { warnIfDeprecated(arrivals: arrivals, flag: "--arrivals") }
        if trial.placement.usesCloud, server == nil { throw ValidationError("--placement \(trial.placement.rawValue) needs --server http://HOST:PORT") }
        let frozen = trial
        NodeLine<AgentReport>.ready(NodeReady(node: .agent)).write()
        let broker = try brokerURL.map { try MQTTEndpoint(parsing: $0) } ?? spec.broker
        if trial.transport == .mqtt, broker == nil { throw ValidationError("transport mqtt needs --broker mqtt://HOST:PORT") }
        let result = try await Blocking.offload { try Agent.run(frozen, server: server, token: spec.token, broker: broker) }
        if let report { try Data(try prettyJSON(result).utf8).write(to: URL(fileURLWithPath: report), options: .atomic) }
        FileHandle.standardError.write(Data("\(trial.placement.rawValue) \(trial.model): \(UnitFormat.significant(result.run.throughput)) fps, p99 \(DurationText.format(nanoseconds: result.run.endToEnd.p99Ns)), \(result.run.dropped) dropped\n".utf8))
        NodeLine<AgentReport>.report(result).write()
    }
}

/// `edgeinsight results`: what runs measured.
struct ResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "List, show, export and plot the results of runs.",
        subcommands: [List.self, Show.self, Export.self, Plot.self])

    struct Location: ParsableArguments {
        @Option(help: "The run's output folder (holding results.sqlite).")
        var out = "out/demo"

        func open() throws -> ResultsDatabase {
            let path = out + "/results.sqlite"
            guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no results in \(out) (no results.sqlite); give --out DIR") }
            return try ResultsDatabase(path: path)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The runs in a results folder.")
        @OptionGroup var location: Location

        func run() throws {
            let database = try location.open()
            var table = TextTable(["run", "name", "started", "trials", "failed", "experiment"])
            for run in try database.runs() {
                table.add([String(run.id), run.name, ISO8601DateFormatter().string(from: run.startedAt), String(run.trials), String(run.failed), run.experiment])
            }
            print(table.rendered)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A run's environment, trials and summary.")
        @Argument(help: "Run name or number.")
        var name: String
        @OptionGroup var location: Location

        func run() throws {
            let database = try location.open()
            let summary = try database.run(name)
            print("run \(summary.id) \(summary.name) (\(summary.experiment)), \(summary.trials) trials, \(summary.failed) failed")
            for (key, value) in summary.environment.sorted(by: { $0.key < $1.key }) { print("  \(key): \(value)") }
            let trials = try database.trials(run: summary.id)
            print(TrialTable.of(trials).rendered)
            for trial in trials where !trial.ok { print("failed: \(trial.key): \(trial.reason ?? "")") }
            print(RunSummaryTable.byPlacementAndLink(trials))
            Verdicts.placements(trials).forEach { print($0.sentence) }
        }
    }

    struct Plot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A run's trials as an SVG bar chart (open it in a browser).",
            discussion: """
            One metric, bars grouped by one parameter and coloured by another, a panel per value of a third.
            A bar is the mean over the trials it stands for (other swept settings, repetitions); its whisker
            spans their min to max. Metrics spanning more than 20× get a log scale.

            Examples:
              edgeinsight results plot demo
              edgeinsight results plot demo --metric throughput_fps --x workload.resolution --series placement
            Metrics and parameters: `edgeinsight results export RUN --csv` lists them as columns.
            """)
        @Argument(help: "Run name or number.")
        var name: String
        @OptionGroup var location: Location
        @Option(help: "The metric on the y axis (default: latency_p99_ms).")
        var metric: String?
        @Option(help: "The parameter that groups the bars (default: placement).")
        var x: String?
        @Option(help: "The parameter that colours the bars (default: link, if the run has one).")
        var series: String?
        @Option(help: "The parameter with a panel per value (default: model, if the run has one).")
        var panel: String?
        @Option(name: .shortAndLong, help: "Write the SVG here (default: OUT/plot-RUN-METRIC.svg).")
        var output: String?

        func run() throws {
            let database = try location.open()
            let summary = try database.run(name)
            let trials = try database.trials(run: summary.id)
            var plot = ResultsPlot.defaults(for: trials)
            if let metric { plot.metric = try ResultsPlot.metric(named: metric, in: trials) }
            if let x { plot.x = x }
            if let series { plot.series = series }
            if let panel { plot.panel = panel }
            let svg = try plot.svg(trials, title: "\(summary.name) (run \(summary.id))")
            let path = output ?? plot.file(in: location.out, run: summary.name)
            try writeOutput(svg, to: path)
            print("wrote \(path)")
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A run's trials as CSV (one row per trial) or long JSON (one record per trial and metric).")
        @Argument(help: "Run name or number.")
        var name: String
        @OptionGroup var location: Location
        @Flag(help: "CSV, one row per trial with every parameter and metric.")
        var csv = false
        @Flag(help: "JSON in long form, for pandas.")
        var json = false
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
        var output: String?

        func run() throws {
            guard csv != json else { throw ValidationError("give one of --csv or --json") }
            let database = try location.open()
            let trials = try database.trials(run: try database.run(name).id)
            let text = csv ? ResultsExport.csv(trials) : try ResultsExport.longJSON(trials) + "\n"
            if let output { try writeOutput(text, to: output) } else { FileHandle.standardOutput.write(Data(text.utf8)) }
        }
    }
}
