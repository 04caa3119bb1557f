import EdgeInsightCore
import Foundation
@testable import Modeling
import ModelZoo
import Results
import Testing

/// The whole model: fitted from trials (synthetic here: no process runs), written, read back.
@Suite struct PerformanceModelTests {
    static let features = [
        "small": ModelFeatures(macs: 0.3e9, weightBytes: 3.5e6, activationBytes: 20e6, inputElements: 150_528, inputSide: 224),
        "large": ModelFeatures(macs: 4.1e9, weightBytes: 25.6e6, activationBytes: 90e6, inputElements: 150_528, inputSide: 224),
    ]
    static func features(_ name: String) throws(ModelingError) -> ModelFeatures {
        guard let known = features[name] else { throw .cannotPredict("unknown model \(name)") }
        return known
    }

    /// An edge trial whose inference takes 1 ms + 10 ms per GMAC of work (times `slower` on
    /// another framework), under half a core.
    func edgeTrial(_ model: String, resolution: String, quality: Int, engine: EngineKind = .openvino, slower: Double = 1, cores: Double = 0.5,
                   inferenceWallFactor: Double = 1) throws -> TrialRecord {
        var config = TrialConfig()
        try config.set("model", model)
        try config.set("device.engine", engine.rawValue)
        try config.set("device.cpu", String(cores))
        try config.set("workload.resolution", resolution)
        try config.set("workload.jpeg_quality", String(quality))
        let pixels = Double(config.workload.resolution.pixels)
        let quota = CPUQuota.testbed(cores: cores)
        let infer = inferenceWallFactor * quota.wallNs(work: slower * (1e6 + 10e6 * Self.features[model]!.macs / 1e9)) / 1e6
        let preprocess = quota.wallNs(work: 3e6 * pixels / 1e6) / 1e6
        let encode = quota.wallNs(work: 2e6 * pixels / 1e6) / 1e6
        func row(_ stage: Stage, _ ms: Double) -> StageRow { StageRow(stage: stage, count: 20, meanMs: ms, p50Ms: ms, p99Ms: ms * 1.2) }
        return TrialRecord(key: "\(model)-\(resolution)-\(quality)-\(engine.rawValue)", repetition: 1, ok: true, config: config,
                           metrics: [MetricValue(.frameBytes, pixels * exp(-5 + 0.03 * Double(quality))), MetricValue(.stable, 1)],
                           stages: [row(.capture, 0.01), row(.encode, encode), row(.queue, 0), row(.preprocess, preprocess), row(.infer, infer),
                                    row(.postprocess, 0.01)])
    }

    func edgeTrials() throws -> [TrialRecord] {
        try ["small", "large"].flatMap { model in try [("320x240", 60), ("640x480", 80), ("1280x720", 90)].map { try edgeTrial(model, resolution: $0.0, quality: $0.1) } }
    }

    @Test func fitsTheComponentsBackAndPredictsAnEdgeTrial() throws {
        let (model, report) = try PerformanceModel.fit(try edgeTrials(), environment: ["cores": "2"], runs: ["synthetic"], features: Self.features)
        #expect(report.used == 6 && report.leftOut.isEmpty)
        let compute = try #require(model.compute["openvino"])
        #expect(abs(compute.workNs(Self.features["large"]!) - 42e6) / 42e6 < 0.02, "\(compute.work.formula(unit: "ns"))")
        // Offered well below what the device can do, the median latency is the stages' sum.
        var config = TrialConfig()
        try config.set("model", "large")
        try config.set("device.cpu", "0.5")
        try config.set("workload.fps", "2")
        let prediction = try model.predict(config)
        let stageSum = prediction.stages.reduce(0) { $0 + $1.meanMs }
        #expect(abs((prediction.metric(.throughput) ?? 0) - 2) < 0.1)
        #expect(stageSum > 80 && (prediction.metric(.latencyP50) ?? 0) > 80, "\(prediction.stages)")
        // Each stage's mean is also a metric under the runner's name, so `predict --csv` diffs with
        // `results export --csv`; the camera's encoding is the synthetic trials' encode at this resolution.
        for stage in prediction.stages { #expect(prediction.metric(.stage(stage.stage)) == stage.meanMs) }
        let encode = CPUQuota.testbed(cores: 0.5).wallNs(work: 2e6 * Double(config.workload.resolution.pixels) / 1e6) / 1e6
        #expect(abs(try #require(prediction.metric(.stage(.encode))) / encode - 1) < 0.05, "\(prediction.stages) against an encode of \(encode) ms")
    }

    /// Where a model has trials at a full core, a single thread's trials under a fraction of one
    /// do not move its work: their inference ran after the pre-processing had spent part of the
    /// period's budget (here 1.4× what a job after idle takes), which the inversion cannot see.
    @Test func workIsReadWhereNoQuotaShapesIt() throws {
        var trials = try ["small", "large"].flatMap { model in
            try [("320x240", 60), ("1280x720", 90)].map { try edgeTrial(model, resolution: $0.0, quality: $0.1, cores: 1) }
        }
        trials += try ["small", "large"].map { try edgeTrial($0, resolution: "640x480", quality: 80, inferenceWallFactor: 1.4) }
        let (model, _) = try PerformanceModel.fit(trials, environment: [:], runs: ["synthetic"], features: Self.features)
        let compute = try #require(model.compute["openvino"])
        for (name, truth) in [("small", 4e6), ("large", 42e6)] {
            #expect(abs(compute.workNs(Self.features[name]!) / truth - 1) < 0.02, "\(name): \(compute.work.formula(unit: "ns"))")
        }
    }

    /// Offered far more than it can do, the simulated device does the frame rate its sustained
    /// time per frame gives (the planner's "saturates near"), within 2%.
    @Test func theDeviceSaturatesWhereItsSustainedTimeSays() throws {
        let (model, _) = try PerformanceModel.fit(try edgeTrials(), environment: ["cores": "2"], runs: ["synthetic"], features: Self.features)
        var config = TrialConfig()
        try config.set("model", "small")
        try config.set("device.cpu", "0.5")
        try config.set("workload.fps", "200")
        try config.set("workload.duration", "20s")
        let prediction = try model.predict(config)
        let throughput = try #require(prediction.metric(.throughput))
        #expect(abs(throughput * prediction.deviceSaturatedMs / 1000 - 1) < 0.02, "\(throughput) fps against a sustained \(prediction.deviceSaturatedMs) ms per frame")
    }

    /// Each framework's inference time is its own fit: LiteRT trials three times slower give a
    /// LiteRT compute model three times OpenVINO's, and predicting a framework no trial ran on says so.
    @Test func theComputeModelKeysByFramework() throws {
        let liteRT = try ["small", "large"].flatMap { model in
            try [("320x240", 60), ("640x480", 80)].map { try edgeTrial(model, resolution: $0.0, quality: $0.1, engine: .litert, slower: 3) }
        }
        let (model, report) = try PerformanceModel.fit(try edgeTrials() + liteRT, environment: ["cores": "2"], runs: ["synthetic"], features: Self.features)
        let openVINO = try #require(model.compute["openvino"]), litert = try #require(model.compute["litert"])
        let large = Self.features["large"]!
        #expect(abs(litert.workNs(large) / openVINO.workNs(large) - 3) < 0.06, "\(litert.work.formula(unit: "ns")) against \(openVINO.work.formula(unit: "ns"))")
        #expect(report.lines.contains { $0.hasPrefix("compute (litert): ") } && report.lines.contains { $0.hasPrefix("compute (openvino): ") })
        var config = TrialConfig()
        try config.set("model", "large")
        try config.set("device.cpu", "0.5")
        try config.set("workload.fps", "2")
        let fast = try model.predict(config).metric(.latencyP50) ?? 0
        try config.set("device.engine", "litert")
        let slow = try model.predict(config).metric(.latencyP50) ?? 0
        #expect(slow > 2.5 * fast * 0.8, "p50 \(slow) ms on LiteRT against \(fast) ms on OpenVINO")
        try config.set("device.engine", "opencv")
        #expect(throws: ModelingError.cannotPredict("the model has no inference times on opencv: fit it on a run with trials that have device.engine: opencv")) {
            try model.predict(config)
        }
    }

    /// The calibration measured on this machine's kind (2026-12-07, Tests/Fixtures; the ordinary
    /// fit gave it a negative camera-encode intercept): fitted, no cost component is negative, and
    /// every coefficient lies in its 90% interval, whose lower end is ≥ 0.
    @Test func theShippedCalibrationFitsNoNegativeCost() throws {
        let (trials, run) = try Self.shippedCalibration()
        #expect(trials.count == 41)
        let (model, _) = try PerformanceModel.fit(trials, environment: run.environment, runs: [run.name], includeUnstable: true)
        #expect(model.negativeComponents.isEmpty, "\(model.componentLines())")
        var costs: [ScalingFit] = model.compute.values.map(\.work) + [model.codec.encode]
        costs += Array(model.codec.preprocess.values) + Array(model.serverExtra.values)
        for fit in costs {
            let low = try #require(fit.fit.low), high = try #require(fit.fit.high)
            for (j, c) in fit.fit.coefficients.enumerated() { #expect(low[j] >= 0 && low[j] <= c && c <= high[j], "\(fit.formula(unit: "ns"))") }
        }
    }

    /// The long run (the planner's question) has no trials to spread over: its 90% interval is the
    /// deployment whose compute runs e^(±1.645σ) from the model, σ its residual — on a
    /// compute-bound edge trial, p99 × e^(±1.645σ) within 5%; a trial of its length also spreads
    /// its throughput.
    @Test func theLongRunsIntervalIsTheModelsOwnError() throws {
        var (model, _) = try PerformanceModel.fit(try edgeTrials(), environment: [:], runs: ["synthetic"], features: Self.features)
        model.compute["openvino"]!.residualLogSigma = 0.2
        var config = TrialConfig()
        try config.set("model", "large")
        try config.set("device.cpu", "1")
        try config.set("workload.fps", "2")
        let prediction = try model.predict(config, longRun: true)
        let p99 = try #require(prediction.metric(.latencyP99))
        let high = try #require(prediction.metric(Metric.band(.latencyP99).high)), low = try #require(prediction.metric(Metric.band(.latencyP99).low))
        #expect(low < p99 && p99 < high)
        let infer = try #require(prediction.stages.first { $0.stage == .infer }).meanMs
        // The compute part moves by e^(1.645·0.2) = 1.39; the rest (encode, pre-processing) moves with it here.
        #expect(abs((high - p99) / (p99 * (exp(1.6449 * 0.2) - 1)) - 1) < 0.05, "\(low) … \(p99) … \(high) ms, inference \(infer) ms")
        let trial = try model.predict(config)
        #expect(trial.metric(Metric.band(.throughput).low) != nil && trial.metric(Metric.band(.throughput).high) != nil)
    }

    /// A configuration outside what the trials spanned says in which dimension, with the range
    /// fitted; one inside says nothing; the extent survives the model file.
    @Test func aPredictionBeyondTheFittedRangeSaysSo() throws {
        let (model, _) = try PerformanceModel.fit(try edgeTrials(), environment: [:], runs: ["synthetic"], features: Self.features)
        var config = TrialConfig()
        try config.set("model", "large")
        try config.set("device.cpu", "0.5")
        try config.set("workload.fps", "2")
        try config.set("workload.resolution", "1280x720")
        #expect(try model.predict(config).extrapolated.isEmpty)
        try config.set("workload.resolution", "1920x1080")
        try config.set("device.cpu", "2")
        let outside = try model.predict(config).extrapolated
        #expect(outside == ["megapixels 2.07 (fitted 0.08–0.92)", "device_cores 2 (fitted 0.5–0.5)"], "\(outside)")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("extent-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.write(to: path)
        #expect(try PerformanceModel.load(path).extent == model.extent)
    }

    /// The calibration measured on this machine's kind on 2026-12-07 (Tests/Fixtures), its trials and run.
    static func shippedCalibration() throws -> ([TrialRecord], RunSummary) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("calibration-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/Fixtures/calibration-2026-12-07.sqlite.gz"
        let unzip = Process()
        unzip.executableURL = URL(fileURLWithPath: "/bin/sh")
        unzip.arguments = ["-c", "gzip -dc '\(fixture)' > '\(folder)/results.sqlite'"]
        try unzip.run()
        unzip.waitUntilExit()
        try #require(unzip.terminationStatus == 0)
        let database = try ResultsDatabase(path: folder + "/results.sqlite")
        let run = try database.run("calibration")
        return (try database.trials(run: run.id), run)
    }

    /// A partition is predicted from the cut's own halves: the head's inference on the device and
    /// the tail's on the cloud node add up to about the whole model's (each counts the fixed part
    /// of an inference once), what crosses is the cut's activation, and a cut that sends more
    /// spends longer on the network.
    @Test func aPartitionIsPredictedFromItsHalves() throws {
        let (trials, run) = try Self.shippedCalibration()
        let (model, _) = try PerformanceModel.fit(trials, environment: run.environment, runs: [run.name], includeUnstable: true)
        let whole = try ModelZoo.build(try ModelZoo.model(named: "mobilenet_v2"))
        let points = ModelCut.points(whole, analysis: try ModelAnalyzer.analyze(whole)).filter { $0.crossing.count == 1 }
        let middle = try #require(points.min { abs($0.headMACs - $0.tailMACs) < abs($1.headMACs - $1.tailMACs) })
        let early = try #require(points.max { $0.crossingBytes < $1.crossingBytes })
        func predicted(_ placement: String, after: String? = nil) throws -> PerformanceModel.Prediction {
            var config = TrialConfig()
            try config.set("model", "mobilenet_v2")
            try config.set("placement", placement)
            if let after { try config.set("partition.after", after) }
            try config.set("workload.fps", "2")
            try config.set("link", "wifi")
            try config.set("device.cpu", "1")
            return try model.predict(config)
        }
        func stage(_ p: PerformanceModel.Prediction, _ s: Stage) -> Double { p.stages.first { $0.stage == s }?.meanMs ?? 0 }
        let cut = try predicted("partition", after: middle.after)
        let edge = try predicted("edge")
        #expect(cut.stages.map(\.stage).contains(.head) && cut.stages.map(\.stage).contains(.tail))
        let halves = stage(cut, .head) + stage(cut, .tail), all = stage(edge, .infer)
        #expect(halves > 0.8 * all && halves < 1.6 * all, "head \(stage(cut, .head)) + tail \(stage(cut, .tail)) ms against the whole \(all) ms")
        let sent = try #require(cut.metric(.requestBytes))
        #expect(sent >= Double(middle.crossingBytes) && sent < Double(middle.crossingBytes) + 2_000)
        let heavy = try predicted("partition", after: early.after)
        #expect(early.crossingBytes > middle.crossingBytes && stage(heavy, .network) > stage(cut, .network))
    }

    /// The quota that reproduces a latency: a board whose published time is this machine's under
    /// 0.37 cores is 0.37 cores (within 1%); one faster than this machine unconfined is capped there.
    @Test func aPublishedLatencyBecomesTheQuotaThatReproducesIt() throws {
        let (model, _) = try PerformanceModel.fit(try edgeTrials(), environment: [:], runs: ["synthetic"], features: Self.features)
        let compute = try #require(model.compute["openvino"])
        let target = compute.wallNs(Self.features["large"]!, threads: 1, quota: .testbed(cores: 0.37)) / 1e6
        let found = try model.quota(reproducing: target, of: "large", threads: 1, engine: .openvino)
        #expect(abs(found.cores / 0.37 - 1) < 0.01 && !found.capped, "\(found) for \(target) ms")
        let fast = try model.quota(reproducing: 0.5, of: "large", threads: 1, engine: .openvino)
        #expect(fast.capped && fast.cores == 1)
        #expect(throws: ModelingError.self) { try model.quota(reproducing: 10, of: "large", threads: 1, engine: .opencv) }
    }

    /// Trials on a host of the inventory (a real Pi, unconfined) fit that host's own compute model:
    /// three times slower there gives a model three times this machine's, predicted for that host
    /// alone; its other stages stay out of this machine's components; a host no trial ran on says so.
    @Test func aRealHostHasItsOwnComputeModel() throws {
        let onPi = try ["small", "large"].flatMap { model in
            try [("320x240", 60), ("640x480", 80)].map { resolution, quality -> TrialRecord in
                // Unconfined on the host: its wall time is its work, three times this machine's.
                var trial = try edgeTrial(model, resolution: resolution, quality: quality, slower: 3, cores: 1024)
                trial.config.device.host = "pi"
                trial.config.device.cpu = 1
                // Its camera is slower too, which must not reach this machine's codec fit.
                trial.stages = trial.stages.map { row in
                    var row = row
                    if row.stage == .encode { row.meanMs *= 5; row.p50Ms *= 5 }
                    return row
                }
                trial.key += "-pi"
                return trial
            }
        }
        let (model, report) = try PerformanceModel.fit(try edgeTrials() + onPi, environment: [:], runs: ["synthetic"], features: Self.features)
        let here = try #require(model.compute["openvino"]), pi = try #require(model.compute["openvino@pi"])
        let large = Self.features["large"]!
        #expect(abs(pi.workNs(large) / here.workNs(large) - 3) < 0.06, "\(pi.work.formula(unit: "ns")) against \(here.work.formula(unit: "ns"))")
        #expect(report.lines.contains { $0.hasPrefix("compute (openvino@pi): ") })
        let alone = try PerformanceModel.fit(try edgeTrials(), environment: [:], runs: ["synthetic"], features: Self.features).0
        #expect(abs(model.codec.encodeNs(.init(pixels: 307_200, quality: 80)) / alone.codec.encodeNs(.init(pixels: 307_200, quality: 80)) - 1) < 0.01)
        var config = TrialConfig()
        try config.set("model", "large")
        try config.set("workload.fps", "2")
        try config.set("device.host", "pi")
        let onHost = try #require(model.predict(config).stages.first { $0.stage == .infer }).meanMs
        #expect(abs(onHost / (3 * (1 + 10 * 4.1)) - 1) < 0.05, "\(onHost) ms on the Pi")
        try config.set("device.host", "pi2")
        #expect(throws: ModelingError.cannotPredict("the model has no inference times on openvino at host pi2: fit it on a run with trials on that host")) {
            try model.predict(config)
        }
    }

    /// Validating a run with a framework the model never saw compares the rest and counts the
    /// others with their reason; with nothing predictable, the reason is the error.
    @Test func validationLeavesOutWhatItCannotPredictAndSaysWhy() throws {
        let (model, _) = try PerformanceModel.fit(try edgeTrials(), environment: ["cores": "2"], runs: ["synthetic"], features: Self.features)
        let other = try edgeTrial("small", resolution: "640x480", quality: 80, engine: .opencv)
        let validation = try Validation.run(model, on: try edgeTrials() + [other])
        #expect(validation.pairs.count == 6)
        #expect(validation.unpredicted == ["the model has no inference times on opencv: fit it on a run with trials that have device.engine: opencv": 1])
        #expect(throws: ModelingError.cannotPredict("the model has no inference times on opencv: fit it on a run with trials that have device.engine: opencv")) {
            try Validation.run(model, on: [other])
        }
    }

    @Test func aRunMissingWhatAComponentNeedsSaysWhatToAdd() throws {
        var cloudOnly = try edgeTrials()
        for i in cloudOnly.indices {
            try cloudOnly[i].config.set("placement", "cloud-raw")
            cloudOnly[i].stages.removeAll { $0.stage == .infer }
        }
        #expect(throws: ModelingError.insufficientData("the compute model needs inference times: run trials with the edge placement")) {
            try PerformanceModel.fit(cloudOnly, environment: [:], runs: ["x"], features: Self.features)
        }
        var unstable = try edgeTrials()
        for i in unstable.indices { unstable[i].metrics = [MetricValue(.stable, 0)] }
        do {
            _ = try PerformanceModel.fit(unstable, environment: [:], runs: ["x"], features: Self.features)
            Issue.record("fitted on unstable trials without being told")
        } catch {
            #expect(error.description == "all 6 trials are unstable; measure longer, or fit with them (--include-unstable)")
        }
    }

    /// A model file with a figure no machine could have is refused at load, naming the field —
    /// such files once trapped, ran out of memory or hung the simulation.
    @Test(arguments: [
        (["spread", "infer"], 1e6, "'spread.infer' is 1000000.0; it must be from 0 to 3"),
        (["fixedNs", "capture"], -5.0, "'fixedNs.capture' is -5.0 ns; it must be from 0 to 3600000000000 ns"),
        (["fixedNs", "capture"], 1e300, "'fixedNs.capture' is 1e+300 ns"),
        (["responseBytes"], 1e30, "'responseBytes' is 1e+30 B"),
        (["requestHeaderBytes"], -1.0, "'requestHeaderBytes' is -1.0 B"),
    ])
    func implausibleFiguresAreRefusedAtLoad(field: [String], value: Double, message: String) throws {
        let (model, _) = try PerformanceModel.fit(try edgeTrials(), environment: [:], runs: ["synthetic"], features: Self.features)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.write(to: path)
        var root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        if field.count == 2 {
            var inner = root[field[0]] as? [String: Any] ?? [:]
            inner[field[1]] = value
            root[field[0]] = inner
        } else {
            root[field[0]] = value
        }
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: path))
        #expect(throws: ModelingError.self) { try PerformanceModel.load(path) }
        do {
            _ = try PerformanceModel.load(path)
        } catch {
            #expect(error.description.hasPrefix("\(path): \(message)"), "\(error)")
        }
    }

    @Test func theFileRoundTripsAndBadFilesAreOneLineErrors() throws {
        let (model, _) = try PerformanceModel.fit(try edgeTrials(), environment: ["cpu_model": "A"], runs: ["synthetic"], features: Self.features)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.write(to: path)
        let back = try PerformanceModel.load(path)
        #expect(back.compute == model.compute && back.codec == model.codec)
        #expect(back.environmentNote(["cpu_model": "B"])?.contains("cpu_model A there, B here") == true)

        var json = try String(contentsOfFile: path, encoding: .utf8)
        try json.replacingOccurrences(of: "\"schemaVersion\" : 2", with: "\"schemaVersion\" : 7").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ModelingError.badModelFile("\(path) has schema version 7; this EdgeInsight reads up to \(PerformanceModel.schemaVersion): fit it again or upgrade")) {
            try PerformanceModel.load(path)
        }
        try json.replacingOccurrences(of: "\"schemaVersion\" : 2", with: "\"schemaVersion\" : 1").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ModelingError.badModelFile("\(path) has schema version 1, from an older EdgeInsight (this one writes 2): fit it again with `edgeinsight model fit`")) {
            try PerformanceModel.load(path)
        }
        json = json.replacingOccurrences(of: "\"compute\"", with: "\"kompute\"")
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ModelingError.badModelFile("\(path) is corrupted: missing 'compute'")) { try PerformanceModel.load(path) }
        try "{]".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try PerformanceModel.load(path)
            Issue.record("a file that is not JSON loaded as a model")
        } catch {
            #expect(error.description.hasPrefix("\(path) is not an EdgeInsight model file"), "\(error)")
        }
    }
}

/// The broker component: fitted from trials through a broker, per message and per byte, never
/// below zero; without such trials a prediction over mqtt says it extrapolates.
@Suite struct BrokerComponentTests {
    @Test func theBrokerHopIsFittedPerMessageAndPerByte() throws {
        let (trials, run) = try PerformanceModelTests.shippedCalibration()
        let http = trials.filter { $0.ok && $0.config.placement == .cloudRaw && $0.stages.contains { $0.stage == .network } }
        try #require(http.count >= 3)
        // The same trials as if through a broker costing 0.5 ms a message and 5 ns a byte more
        // than HTTP: their round trip split into publish, broker and reply.
        let perMessage = 500_000.0, perByte = 5.0
        let (withoutBroker, _) = try PerformanceModel.fit(trials, environment: run.environment, runs: [run.name], includeUnstable: true)
        let brokered: [TrialRecord] = try http.map { trial in
            var copy = trial
            copy.key += ";transport=mqtt"
            copy.config.transport = .mqtt
            let bytes = trial.metric(.requestBytes) ?? 0
            let physics = withoutBroker.transferNs(trial.config, link: try withoutBroker.link(trial.config), requestBytes: bytes,
                                                   responseBytes: trial.metric(.downlinkBytesPerFrame) ?? 0)
            let hops = (physics + perMessage + perByte * bytes) / 1e6
            copy.stages = trial.stages.filter { $0.stage != .network }
                + [(Stage.publish, hops * 0.6), (.broker, 0.0), (.reply, hops * 0.4)].map { StageRow(stage: $0.0, count: 20, meanMs: $0.1, p50Ms: $0.1, p99Ms: $0.1) }
            return copy
        }
        let (model, _) = try PerformanceModel.fit(trials + brokered, environment: run.environment, runs: [run.name], includeUnstable: true)
        let broker = try #require(model.broker)
        let low = try #require(broker.low), high = try #require(broker.high)
        #expect(model.componentLines().contains { $0.hasPrefix("broker path (mqtt) beyond the link's physics = ") && $0.contains("ns per message") })
        // What the trials were made of comes back, each inside its interval.
        for (j, truth) in [perMessage, perByte].enumerated() {
            #expect(abs(broker.coefficients[j] - truth) < 0.01 * truth && low[j] <= broker.coefficients[j] && broker.coefficients[j] <= high[j], "\(broker.coefficients) [\(low) – \(high)]")
        }
        // Where HTTP's overhead per message is another figure, the broker's is priced as its own.
        #expect(abs(model.transportOverheadNs(try TrialConfig(parameters: ["placement": "cloud-raw", "transport": "mqtt"]), requestBytes: 26_000) - (perMessage + perByte * 26_000)) < 0.01 * (perMessage + perByte * 26_000))
        #expect(model.transportOverheadNs(try TrialConfig(parameters: ["placement": "cloud-raw"]), requestBytes: 26_000) == model.requestOverheadNs)

        var config = TrialConfig()
        try config.set("model", "mobilenet_v2")
        try config.set("placement", "cloud-raw")
        try config.set("workload.fps", "2")
        try config.set("transport", "mqtt")
        #expect(try model.predict(config).extrapolated.isEmpty)
        #expect(try withoutBroker.predict(config).extrapolated.contains { $0.hasPrefix("transport mqtt") })
    }
}
