import ArgumentParser
import EdgeInsightCore
import Foundation
import Modeling
import Profiles
import Report
import Results
import Testbed

/// `edgeinsight model`: fit, validate and inspect performance models.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Fit a performance model to measured runs, validate it, or fit the Universal Scalability Law.",
        discussion: "Models: docs/modeling.md. Predict with `edgeinsight predict EXPERIMENT --model FILE`.",
        subcommands: [Fit.self, Show.self, Validate.self, USL.self, Quota.self])

    struct Fit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fit every component model to the trials of runs; write the model as JSON.")
        @Argument(help: "Run names or numbers.")
        var runs: [String]
        @OptionGroup var location: ResultsCommand.Location
        @Option(name: .shortAndLong, help: "The model file to write (default: OUT/model.json).")
        var output: String?
        @Flag(help: "Use trials whose windows never met the stability rule too.")
        var includeUnstable = false

        func run() throws {
            let (trials, environment) = try runTrials(runs, location)
            let (model, report) = try PerformanceModel.fit(trials, environment: environment, runs: runs, includeUnstable: includeUnstable)
            let path = output ?? location.out + "/model.json"
            try model.write(to: path)
            report.lines.forEach { print($0) }
            print("model: \(path)  (edgeinsight predict EXPERIMENT --model \(path))")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a fitted model's components: each coefficient with its unit and 90% interval (bootstrap over the trials).")
        @Argument(help: "The model file (from `model fit` or `calibrate`).")
        var file: String

        func run() throws {
            let model = try PerformanceModel.load(file)
            print("model \(file): fitted on \(model.fittedOn.joined(separator: ", "))" + (model.environment["cpu_model"].map { " on \($0)" } ?? ""))
            model.componentLines().forEach { print($0) }
            let negative = model.negativeComponents
            print(negative.isEmpty ? "every cost component is ≥ 0 (non-negative least squares; intervals are 90%, from 200 bootstrap fits over the trials)"
                                   : "NEGATIVE cost components (a model from before non-negative fits; fit it again): " + negative.joined(separator: ", "))
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare a model's predictions with a run's measurements, or cross-validate within a run.",
            discussion: "Per metric: mean absolute percentage error and the share of trials within ±10% and ±20%; the worst trials with the stage that erred most.")
        @Argument(help: "Run name or number.")
        var name: String
        @OptionGroup var location: ResultsCommand.Location
        @Option(help: "The model file (from `model fit`).")
        var model: String?
        @Option(help: "Instead of a model file: K-fold cross-validation inside the run.")
        var folds: Int?
        @Flag(help: "Use unstable trials too when fitting folds.")
        var includeUnstable = false
        @Option(help: "Write the predicted-vs-measured p99 chart here (SVG).")
        var plot: String?

        func run() throws {
            guard (model == nil) != (folds == nil) else { throw ValidationError("give --model FILE or --folds K") }
            try checkWritable(plot)
            let (trials, environment) = try runTrials([name], location)
            let validation: Validation
            if let folds {
                validation = try Validation.crossValidate(trials, folds: folds, environment: environment, run: name, includeUnstable: includeUnstable)
            } else {
                let fitted = try PerformanceModel.load(model!)
                if let note = fitted.environmentNote(environment) { printError("note: \(note)") }
                validation = try Validation.run(fitted, on: trials)
            }
            print(ModelText.validation(validation))
            if let plot {
                try writeOutput(ModelCharts.predictedVersusMeasured(validation, metric: .latencyP99, title: "\(name): p99 predicted vs measured"), to: plot)
                print("plot: \(plot)")
            }
        }
    }

    struct USL: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "usl",
            abstract: "Fit the Universal Scalability Law to a concurrency sweep (load --csv, or perf_analyzer's CSV).")
        @Argument(help: "The CSV file.")
        var file: String
        @Option(help: "Write the fit's chart here (SVG).")
        var plot: String?

        func run() throws {
            try checkWritable(plot)
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read \(file)") }
            let points = try USLFit.points(csv: text, source: file)
            let fit = try USLFit.fit(points)
            let m = fit.model
            func range(_ r: ClosedRange<Double>) -> String { "[\(String(format: "%.3g", r.lowerBound)), \(String(format: "%.3g", r.upperBound))]" }
            print(m.peakConcurrency.map { "throughput peaks at concurrency \(UnitFormat.significant($0)) with \(UnitFormat.significant(m.throughput($0))) req/s" }
                  ?? "throughput rises with concurrency without a peak (κ = 0: Amdahl's law)")
            var table = TextTable(["parameter", "value", "95% interval", "meaning"])
            table.add(["λ", String(format: "%.4g req/s", m.lambda), range(fit.lambdaInterval), "throughput of one"])
            table.add(["σ", String(format: "%.3g", m.sigma), range(fit.sigmaInterval), "contention"])
            table.add(["κ", String(format: "%.3g", m.kappa), range(fit.kappaInterval), "coherency"])
            print(table.rendered)
            print("\(fit.points) points, rmse \(UnitFormat.significant(fit.rmse)) req/s")
            if let plot {
                try writeOutput(ModelCharts.usl(fit, points: points, title: "USL fit of \((file as NSString).lastPathComponent)"), to: plot)
                print("plot: \(plot)")
            }
        }
    }
}

extension ModelCommand {
    /// What a CPU quota does to a job of known work: the quota model on its own.
    struct Quota: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wall time of jobs of given CPU time under a CPU quota, as the model predicts it (the testbed's period).",
            discussion: "Example: edgeinsight model quota --cores 0.5 --work 4.5ms --work 37ms")
        @Option(help: "The quota, in cores (e.g. 0.5).")
        var cores: Double
        @Option(help: "CPU time of one job on one thread, e.g. 4.5ms (repeatable).")
        var work: [String]

        func run() throws {
            guard cores > 0 else { throw ValidationError("--cores must be positive") }
            let quota = CPUQuota.testbed(cores: cores)
            var table = TextTable(["work", "wall after idle", "back to back", "period"])
            for text in work {
                guard let duration = DurationText.parse(text), duration > .zero else { throw ValidationError("--work '\(text)': write a duration such as 4.5ms") }
                let ns = duration.nanoseconds
                table.add([DurationText.format(nanoseconds: ns), DurationText.format(nanoseconds: quota.wallNs(work: ns)),
                           DurationText.format(nanoseconds: quota.sustainedNs(work: ns)), DurationText.format(nanoseconds: quota.periodNs)])
            }
            print(table.rendered)
        }
    }
}

/// `edgeinsight predict`: an experiment's trials, predicted.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict an experiment's trials from a fitted model, in the columns `results show` and `results export` use.")
    @Argument(help: "The experiment file (YAML).")
    var file: String
    @Option(help: "The model file (from `model fit`).")
    var model: String
    @Flag(help: "CSV, one row per trial, as `results export --csv`.")
    var csv = false
    @Flag(help: "JSON in long form, as `results export --json`.")
    var json = false
    @Option(help: "Measured frames simulated per configuration at least (more: steadier tails, slower).")
    var frames = 1000

    func run() throws {
        guard !(csv && json) else { throw ValidationError("give at most one of --csv and --json") }
        guard frames >= 10 else { throw ValidationError("--frames must be at least 10") }
        let experiment = try Experiment.load(file)
        let fitted = try PerformanceModel.load(model)
        try experiment.checkProfiles()
        let started = MonotonicClock.now()
        let specs = experiment.trials()
        var configs: [TrialConfig] = []
        for spec in specs {
            var config = spec.config
            try DeviceProfile.resolve(&config)
            configs.append(config)
        }
        // A trial the model cannot predict (a framework or placement it saw no trials of) is a
        // failed row with its reason, as a failed measurement is; the others are predicted.
        let predictions = fitted.predict(configs, minimumFrames: frames)
        let unpredicted = try PerformanceModel.unpredicted(predictions)
        var records: [TrialRecord] = []
        var extrapolated: [String: Int] = [:]
        for (spec, (config, predicted)) in zip(specs, zip(configs, predictions)) {
            switch predicted {
            case .success(let prediction):
                for dimension in prediction.extrapolated { extrapolated[String(dimension.prefix { $0 != " " }), default: 0] += 1 }
                records.append(TrialRecord(key: spec.key, repetition: spec.repetition, ok: true, config: config,
                                           metrics: prediction.metrics, stages: prediction.stages))
            case .failure(let error):
                records.append(TrialRecord(key: spec.key, repetition: spec.repetition, ok: false, reason: error.description,
                                           config: config, metrics: [], stages: []))
            }
        }
        for (reason, count) in unpredicted.sorted(by: { $0.key < $1.key }) { printError("note: \(count) trial\(count == 1 ? "" : "s") not predicted: \(reason)") }
        for (dimension, count) in extrapolated.sorted(by: { $0.key < $1.key }) {
            let range = fitted.extent?.ranges[FittedExtent.Dimension(rawValue: dimension)!].map { "\(UnitFormat.significant($0.lowerBound))–\(UnitFormat.significant($0.upperBound))" } ?? "?"
            printError("note: \(count) trial\(count == 1 ? "" : "s") extrapolated in \(dimension), beyond the fitted \(range): less sure than the others")
        }
        if csv { return print(ResultsExport.csv(records), terminator: "") }
        if json { return print(try ResultsExport.longJSON(records)) }
        let seconds = Double(MonotonicClock.now() - started) / 1e9
        print("\(records.count) trials of \(experiment.name) predicted in \(UnitFormat.significant(seconds)) s by \(model) (fitted on \(fitted.fittedOn.joined(separator: ", ")))")
        print(TrialTable.of(records).rendered)
        print(ModelText.stageShares(records))
    }
}

/// Opens the runs' trials and the first run's environment.
func runTrials(_ runs: [String], _ location: ResultsCommand.Location) throws -> ([TrialRecord], [String: String]) {
    let database = try location.open()
    var trials: [TrialRecord] = []
    var environment: [String: String] = [:]
    for name in runs {
        let run = try database.run(name)
        if environment.isEmpty { environment = run.environment }
        trials += try database.trials(run: run.id)
    }
    return (trials, environment)
}

