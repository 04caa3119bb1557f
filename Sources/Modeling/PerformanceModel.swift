import EdgeInsightCore
import Foundation
import Link
import ModelZoo
import Profiles
import Results
import Synchronization

/// The fitted model of a testbed: every component model, and how they join into a prediction of a
/// whole trial (`predict`, a `TrialSimulation` of the configuration). Written as JSON with a schema
/// version and the environment it was fitted on.
public struct PerformanceModel: Sendable, Codable {
    public static let schemaVersion = 2
    public var schemaVersion = PerformanceModel.schemaVersion
    /// Where it was fitted: CPU model, cores, OpenVINO version (a run's environment).
    public var environment: [String: String]
    public var fittedOn: [String]
    /// Inference time by framework (`EngineKind`'s names): each fitted from the trials that ran on it.
    public var compute: [String: ComputeModel]
    public var codec: CodecModel
    /// Fixed stage times (capture, postprocess) and per-placement device serialisation, in ns.
    public var fixedNs: [String: Double]
    /// Server time beyond inference, by placement (decode and pre-processing for cloud-raw and
    /// split), against the camera's megapixels.
    public var serverExtra: [String: ScalingFit]
    /// What a request costs beyond the link's physics, and the bytes a request adds to its tensor.
    public var requestOverheadNs: Double
    public var requestHeaderBytes: Double
    public var responseBytes: Double
    /// σ of ln(stage time) by stage: how much a stage varies from item to item — with
    /// `spreadFixedNs`, its part in proportion to the stage's time (`StageSpread`).
    public var spread: [String: Double]
    /// The fixed part of a stage's variation, in ns (nil in older files: all in proportion).
    public var spreadFixedNs: [String: Double]?
    /// Features of the models it was fitted on, so predicting them needs no analysis.
    public var features: [String: ModelFeatures]
    /// What predictions look up (other models' features, link profiles), kept between them.
    private let cache = PredictionCache()

    enum CodingKeys: String, CodingKey {
        case schemaVersion, environment, fittedOn, compute, codec, fixedNs, serverExtra, requestOverheadNs, requestHeaderBytes, responseBytes, spread, spreadFixedNs, features
    }

    // MARK: Fitting

    /// The stages whose variation is fitted against their mean (`StageSpread`): the ones the simulation draws.
    static let computeStages: Set<Stage> = [.encode, .preprocess, .infer]

    /// What a fit used and left out, for people.
    public struct FitReport: Sendable {
        public var used: Int
        public var leftOut: [String]
        public var lines: [String]
    }

    /// Fits every component from finished trials (`includeUnstable`: also trials whose windows
    /// never met the stability rule). `features` gives a model's analyzer features.
    public static func fit(_ trials: [TrialRecord], environment: [String: String], runs: [String], includeUnstable: Bool = false,
                           features: (String) throws(ModelingError) -> ModelFeatures = ModelFeatures.of) throws(ModelingError) -> (PerformanceModel, FitReport) {
        var leftOut: [String] = []
        var usable: [(TrialRecord, TrialConfig)] = []
        for trial in trials {
            guard trial.ok else { continue }
            let config = trial.config
            if !includeUnstable, trial.metric(.stable) == 0 { leftOut.append(trial.key); continue }
            usable.append((trial, config))
        }
        guard !usable.isEmpty else {
            throw .insufficientData(leftOut.isEmpty ? "no finished trials to fit" : "all \(leftOut.count) trials are unstable; measure longer, or fit with them (--include-unstable)")
        }
        var known: [String: ModelFeatures] = [:]
        for (_, config) in usable where known[config.model] == nil { known[config.model] = try features(config.model) }

        func stage(_ trial: TrialRecord, _ name: Stage) -> StageRow? { trial.stages.first { $0.stage == name } }
        func frame(_ config: TrialConfig) -> CodecModel.Frame {
            CodecModel.Frame(pixels: Double(config.workload.resolution.pixels), quality: Double(config.workload.jpegQuality))
        }
        func deviceQuota(_ config: TrialConfig) -> CPUQuota { .testbed(cores: config.device.cpu) }
        /// Work behind a stage's mean wall time on the device (one thread, under its quota).
        func deviceWork(_ config: TrialConfig, _ wallNs: Double) -> Double {
            ComputeModel.invert(wallNs) { deviceQuota(config).wallNs(work: $0) }
        }

        var bytes: [(CodecModel.Frame, Double)] = [], encode: [(CodecModel.Frame, Double)] = []
        var preprocess: [String: [(CodecModel.Frame, Double)]] = [:]
        var computeSamples: [EngineKind: [ComputeModel.Sample]] = [:]
        var fixed: [String: [Double]] = [:]
        var spreads: [String: [Double]] = [:]
        /// Compute stages' variation against their mean, from trials that ran them unthrottled (a
        /// quota's own spread is the simulation's to make).
        var computeSpreads: [String: [(meanNs: Double, logSigma: Double)]] = [:]
        for (trial, config) in usable {
            if let frameBytes = trial.metric(.frameBytes), frameBytes > 0 { bytes.append((frame(config), frameBytes)) }
            if let row = stage(trial, .encode) { encode.append((frame(config), deviceWork(config, row.meanMs * 1e6))) }
            if let row = stage(trial, .capture) { fixed["capture", default: []].append(row.meanMs * 1e6) }
            // A zoo model at a named input (`resnet18@112`) calibrates inference; its pre-processing
            // decodes at a fraction of the frame's size (libjpeg's scaled decode), which the
            // pre-processing model, against the frame alone, does not describe.
            if config.placement != .cloudRaw, ModelZoo.splitResolution(config.model).resolution == nil, let row = stage(trial, .preprocess) {
                preprocess[config.placement.rawValue, default: []].append((frame(config), deviceWork(config, row.meanMs * 1e6)))
            }
            if config.placement == .edge {
                if let row = stage(trial, .infer) {
                    computeSamples[config.device.engine, default: []].append(.init(features: known[config.model]!, threads: usableThreads(config.device.threads, cpuset: config.device.cpuset), quota: deviceQuota(config), wallNs: row.meanMs * 1e6))
                }
                if let row = stage(trial, .postprocess) { fixed["postprocess", default: []].append(row.meanMs * 1e6) }
            } else {
                if let row = stage(trial, .serialize) { fixed["serialize.\(config.placement.rawValue)", default: []].append(row.meanMs * 1e6) }
                if config.placement == .cloudTensor, let server = trial.metric(.serverCompute) {
                    computeSamples[config.cloud.engine, default: []].append(.init(features: known[config.model]!, threads: usableThreads(config.cloud.threads, cpuset: config.cloud.cpuset), quota: .testbed(cores: config.cloud.cpu),
                                                                  wallNs: server * 1e6))
                }
            }
            for row in trial.stages where row.p50Ms > 0 {
                let sigma = StageTime.logSigma(p50: row.p50Ms, p99: row.p99Ms, count: row.count)
                // The model file keys spreads by the stage's name.
                spreads[row.stage.rawValue, default: []].append(sigma)
                let cores = row.stage == .infer ? Double(usableThreads(config.device.threads, cpuset: config.device.cpuset)) : 1
                if Self.computeStages.contains(row.stage), config.device.cpu >= cores, row.stage != .infer || config.placement == .edge {
                    computeSpreads[row.stage.rawValue, default: []].append((row.meanMs * 1e6, sigma))
                }
            }
        }
        guard !computeSamples.isEmpty else { throw .insufficientData("the compute model needs inference times: run trials with the edge placement") }
        // A model's work is read where a quota does not shape it when it has such trials: the
        // inversion through the quota takes each stage as a job after idle, but the inference
        // follows the pre-processing, which has spent part of the period's budget, and under a
        // fraction of a core a few percent of work move the wall time by a period. The quota
        // model (checked against the kernel) carries the work to quotas.
        for (engine, samples) in computeSamples {
            let unthrottled = Set(samples.filter { !$0.throttled }.map(\.features))
            computeSamples[engine] = samples.filter { !$0.throttled || !unthrottled.contains($0.features) }
        }
        var compute: [String: ComputeModel] = [:]
        for (engine, samples) in computeSamples { compute[engine.rawValue] = try ComputeModel.fit(samples) }
        let codec = try CodecModel.fit(bytes: bytes, encode: encode, preprocess: preprocess)

        // What the cloud node spends beyond inference, and what a request costs beyond the link.
        var extra: [String: [(CodecModel.Frame, Double)]] = [:]
        var overheads: [Double] = [], headers: [Double] = [], responses: [Double] = []
        var model = PerformanceModel(environment: environment, fittedOn: runs, compute: compute, codec: codec,
                                     fixedNs: fixed.mapValues { $0.reduce(0, +) / Double($0.count) }, serverExtra: [:],
                                     requestOverheadNs: 0, requestHeaderBytes: 0, responseBytes: 0, spread: spreads.mapValues(median), features: known)
        for (stage, points) in computeSpreads {
            guard let fit = StageSpread.fit(points) else { continue }
            model.spread[stage] = fit.relative
            model.spreadFixedNs = (model.spreadFixedNs ?? [:]).merging([stage: fit.fixedNs]) { $1 }
        }
        for (trial, config) in usable where config.placement.usesCloud {
            let features = known[config.model]!
            if let server = trial.metric(.serverCompute), config.placement != .cloudTensor, let compute = compute[config.cloud.engine.rawValue] {
                let inference = compute.wallNs(features, threads: usableThreads(config.cloud.threads, cpuset: config.cloud.cpuset), quota: .testbed(cores: config.cloud.cpu))
                extra[config.placement.rawValue, default: []].append((frame(config), server * 1e6 - inference))
            }
            if let sent = trial.metric(.requestBytes) { headers.append(sent - model.payloadBytes(config, features)) }
            if let down = trial.metric(.downlinkBytesPerFrame) { responses.append(down) }
            if let network = stage(trial, .network), let link = try? model.link(config) {
                let physics = model.transferNs(config, link: link, requestBytes: trial.metric(.requestBytes) ?? model.payloadBytes(config, features),
                                               responseBytes: trial.metric(.downlinkBytesPerFrame) ?? 0)
                overheads.append(network.meanMs * 1e6 - physics)
            }
        }
        for (placement, samples) in extra {
            model.serverExtra[placement] = try ScalingFit.fit(designs: CodecModel.timeDesigns, samples: samples.count, value: { samples[$1].0.value($0) },
                                                              y: samples.map(\.1), what: "\(placement) server time beyond inference")
        }
        model.requestOverheadNs = max(0, median(overheads))
        model.requestHeaderBytes = max(0, median(headers))
        model.responseBytes = max(0, median(responses))

        let unstableUsed = usable.filter { $0.0.metric(.stable) == 0 }.count
        var lines = ["fitted on \(usable.count) trials of \(runs.joined(separator: ", "))"
                     + (leftOut.isEmpty ? "" : "; left out \(leftOut.count) unstable (fit with --include-unstable to use them)")
                     + (unstableUsed == 0 ? "" : "; \(unstableUsed) of them never met the stability rule (included as asked)")]
        for (engine, fit) in compute.sorted(by: { $0.key < $1.key }) {
            lines.append("compute (\(engine)): work per inference = \(fit.work.formula(unit: "ns")); serial share \(UnitFormat.coefficient(fit.serialShare)); "
                         + "waiting spent spinning \(UnitFormat.coefficient(fit.spinShare ?? 0)); "
                         + "\(computeSamples[EngineKind(rawValue: engine)!]!.count) samples, rmse \(UnitFormat.significant(100 * fit.work.fit.rmse))% of the work")
            if let families = fit.families, !families.isEmpty {
                lines.append("  work against the line, per family: " + families.sorted { $0.key < $1.key }.map { "\($0.key) ×\(UnitFormat.coefficient($0.value))" }.joined(separator: ", "))
            }
        }
        if let fixed = model.spreadFixedNs, !fixed.isEmpty {
            lines.append("frame-to-frame variation (σ of ln time = √(share² + (fixed/time)²), unthrottled trials): "
                         + fixed.keys.sorted().map { "\($0) \(DurationText.format(nanoseconds: fixed[$0]!)) fixed, \(UnitFormat.significant(100 * (model.spread[$0] ?? 0)))% share" }.joined(separator: "; "))
        }
        lines.append("JPEG: ln(bytes/pixel) = \(codec.bytesPerPixel.formula(unit: ""))")
        lines.append("camera encode work = \(codec.encode.formula(unit: "ns"))")
        for (placement, fit) in codec.preprocess.sorted(by: { $0.key < $1.key }) { lines.append("\(placement) pre-processing work = \(fit.formula(unit: "ns"))") }
        for (placement, fit) in model.serverExtra.sorted(by: { $0.key < $1.key }) { lines.append("\(placement) server time beyond inference = \(fit.formula(unit: "ns"))") }
        if usable.contains(where: { $0.1.placement.usesCloud }) {
            lines.append("request: \(Bytes(Int64(model.requestHeaderBytes))) of headers, \(DurationText.format(nanoseconds: model.requestOverheadNs)) beyond the link's physics; reply \(Bytes(Int64(model.responseBytes)))")
        }
        return (model, FitReport(used: usable.count, leftOut: leftOut, lines: lines))
    }

    // MARK: Predicting


    /// A prediction of one trial, as the metrics and stage means Results stores for a measured one.
    public struct Prediction: Sendable {
        public var config: TrialConfig
        public var metrics: [MetricValue]
        public var stages: [StageRow]
        /// The device's time per frame when frames follow each other with no idle time (its work
        /// at the quota's rate; the camera's encoding runs beside it, as in the simulation):
        /// 1000 / this is the frame rate at which it saturates.
        public var deviceSaturatedMs: Double

        public func metric(_ metric: Metric) -> Double? { metrics.value(metric) }
    }

    /// The link a configuration runs over: its profile with the configuration's overrides.
    func link(_ config: TrialConfig) throws(ModelingError) -> LinkProfile {
        do {
            return try cache.profile(config.link.profile).overridden(by: config.link)
        } catch {
            throw .cannotPredict("\(error)")
        }
    }

    /// Bytes of the tensor or image a request carries, without headers.
    func payloadBytes(_ config: TrialConfig, _ features: ModelFeatures) -> Double {
        switch config.placement {
        case .cloudTensor: Double(features.inputElements * 4)
        case .split: codec.jpegBytes(.init(pixels: Double(features.inputSide * features.inputSide), quality: Double(config.split.jpegQuality)))
        default: codec.jpegBytes(.init(pixels: Double(config.workload.resolution.pixels), quality: Double(config.workload.jpegQuality)))
        }
    }

    /// The link's physics for one request and its reply: serialisation each way, the round trip,
    /// the mean cost of loss (what the simulation draws, on average).
    func transferNs(_ config: TrialConfig, link: LinkProfile, requestBytes: Double, responseBytes: Double) -> Double {
        let (rtt, jitter) = (link.rtt.nanoseconds, link.jitter.nanoseconds)
        return (link.uplink?.transmissionNanoseconds(Int(requestBytes)) ?? 0) + (link.downlink?.transmissionNanoseconds(Int(responseBytes)) ?? 0) + rtt
            + CloudLeg.expectedLossPenaltyNs(bytes: requestBytes, loss: link.loss, rttNs: rtt, jitterNs: jitter)
            + CloudLeg.expectedLossPenaltyNs(bytes: responseBytes, loss: link.loss, rttNs: rtt, jitterNs: jitter)
    }

    /// Predicts a trial of `config` by simulating it with every stage from the component models.
    /// Predicts many configurations at once, spread over the machine's cores (each prediction is
    /// an independent seeded simulation, so the answers are those `predict` gives one at a time).
    public func predict(_ configs: [TrialConfig], minimumFrames: Int = 1000, longRun: Bool = false) -> [Result<Prediction, ModelingError>] {
        let slots = UnsafeMutableBufferPointer<Result<Prediction, ModelingError>?>.allocate(capacity: configs.count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        nonisolated(unsafe) let shared = slots
        // Analyse each model once, before the threads would all miss the cache together.
        for model in Set(configs.map(\.model)) where features[model] == nil { _ = try? cache.features(model) }
        let chunks = min(configs.count, ProcessInfo.processInfo.activeProcessorCount * 4)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            for i in stride(from: chunk, to: configs.count, by: chunks) {
                shared[i] = Result { () throws(ModelingError) in try self.predict(configs[i], minimumFrames: minimumFrames, longRun: longRun) }
            }
        }
        return slots.map { $0! }
    }

    /// Predictions that failed (a framework or placement the model saw no trials of), counted by
    /// reason; when none succeeded, the first failure is the error.
    public static func unpredicted(_ predictions: [Result<Prediction, ModelingError>]) throws(ModelingError) -> [String: Int] {
        let failures = predictions.compactMap { result -> ModelingError? in if case .failure(let error) = result { error } else { nil } }
        if let first = failures.first, failures.count == predictions.count { throw first }
        return Dictionary(failures.map { ($0.description, 1) }, uniquingKeysWith: +)
    }

    /// The compute model of a framework, or why there is none.
    func computeModel(on engine: EngineKind, where setting: String) throws(ModelingError) -> ComputeModel {
        guard let model = compute[engine.rawValue] else {
            throw .cannotPredict("the model has no inference times on \(engine.rawValue): fit it on a run with trials that have \(setting): \(engine.rawValue)")
        }
        return model
    }

    /// Its percentiles are those a trial of the configuration's length reports (the median over
    /// simulated trials of the frame each reports: a 3 s trial's p99 is its worst frame); `longRun`
    /// gives the distribution's own, what a deployment sees over time (the planner's question).
    public func predict(_ asked: TrialConfig, minimumFrames: Int = 1000, longRun: Bool = false) throws(ModelingError) -> Prediction {
        // Several cameras are predicted as the testbed runs them: one stream of their summed load.
        var config = asked
        if asked.workload.cameras > 1 {
            let link = try link(asked)
            config = asked.aggregatingCameras(uplink: link.uplink, downlink: link.downlink)
        }
        let features: ModelFeatures
        if let known = self.features[config.model] { features = known } else { features = try cache.features(config.model) }
        let frame = CodecModel.Frame(pixels: Double(config.workload.resolution.pixels), quality: Double(config.workload.jpegQuality))
        let quota = CPUQuota.testbed(cores: config.device.cpu)
        func time(_ stage: String, _ ns: Double) -> StageTime {
            StageTime(meanNs: ns, logSigma: StageSpread.logSigma(meanNs: ns, relative: spread[stage] ?? 0, fixedNs: spreadFixedNs?[stage] ?? 0))
        }
        // A trial of more frames than this is simulated over this many: its percentiles are already
        // the long run's, and a day at 10,000 fps (864 million frames) would not fit in memory.
        let frameLimit = 2_000_000.0
        func simulatedNs(_ length: Duration) -> Double { min(length.nanoseconds, frameLimit / config.workload.fps * 1e9) }
        let needs = config.placement == .cloudRaw ? [] : [config.placement.rawValue]
        for missing in needs where codec.preprocess[missing] == nil {
            throw .cannotPredict("the model has no \(missing) trials to know its pre-processing: fit it on a run that has some")
        }
        if [.cloudRaw, .split].contains(config.placement), serverExtra[config.placement.rawValue] == nil {
            throw .cannotPredict("the model has no \(config.placement.rawValue) trials to know the cloud node's work: fit it on a run that has some")
        }
        let encodeWork = codec.encodeNs(frame)
        let source = time("encode", (fixedNs["capture"] ?? 0) + quota.wallNs(work: encodeWork))
        let preprocessWork = codec.preprocessNs(frame, placement: config.placement) ?? 0
        var setup: SimulationSetup
        var deviceStages: [(Stage, Double)]
        var saturatedNs = 0.0
        if config.placement == .edge {
            let compute = try computeModel(on: config.device.engine, where: "device.engine")
            let threads = usableThreads(config.device.threads, cpuset: config.device.cpuset)
            let inferWork = compute.workNs(features), speed = compute.speed(threads: threads)
            let postprocess = fixedNs["postprocess"] ?? 0
            let work = preprocessWork + inferWork + postprocess
            // The device runs pre-processing on one core and inference on its threads: their mean
            // speed, and the mean cores they keep busy.
            let wall = max(1, preprocessWork + inferWork / speed + postprocess)
            let rate = work / wall, busy = (preprocessWork + inferWork / speed * compute.busyCores(threads: threads) + postprocess) / wall
            setup = SimulationSetup(arrivals: config.workload.arrivals.process(rate: config.workload.fps), warmupNs: simulatedNs(config.workload.warmup),
                                    durationNs: simulatedNs(config.workload.duration), queueCapacity: config.workload.queue, source: source, processors: 1,
                                    device: time("infer", work), deviceRate: rate, deviceQuota: quota)
            setup.deviceBusy = busy
            setup.trialLogSigma = compute.residualLogSigma ?? 0
            saturatedNs = quota.sustainedNs(work: work, parallelism: rate, busyCores: busy)
            deviceStages = [(.preprocess, preprocessWork), (.infer, inferWork / speed), (.postprocess, postprocess)]
        } else {
            let link = try link(config)
            let serialize = fixedNs["serialize.\(config.placement.rawValue)"] ?? 0
            let cloudCompute = try computeModel(on: config.cloud.engine, where: "cloud.engine")
            let inference = cloudCompute.wallNs(features, threads: usableThreads(config.cloud.threads, cpuset: config.cloud.cpuset), quota: .testbed(cores: config.cloud.cpu))
            let extra = serverExtra[config.placement.rawValue].map { max(0, $0.predict(frame.value)) } ?? 0
            let leg = CloudLeg(requestBytes: payloadBytes(config, features) + requestHeaderBytes, responseBytes: responseBytes, uplink: link.uplink,
                               downlink: link.downlink, rttNs: link.rtt.nanoseconds, jitterNs: link.jitter.nanoseconds, loss: link.loss,
                               overheadNs: requestOverheadNs, instances: config.cloud.instances, maxBatch: config.cloud.maxBatch,
                               compute: time("infer", inference + extra))
            setup = SimulationSetup(arrivals: config.workload.arrivals.process(rate: config.workload.fps), warmupNs: simulatedNs(config.workload.warmup),
                                    durationNs: simulatedNs(config.workload.duration), queueCapacity: config.workload.queue, source: source,
                                    processors: config.workload.inflight, device: time("preprocess", preprocessWork + serialize), deviceQuota: quota, cloud: leg)
            setup.trialLogSigma = cloudCompute.residualLogSigma ?? 0
            deviceStages = [(.preprocess, preprocessWork), (.serialize, serialize)]
            saturatedNs = quota.sustainedNs(work: preprocessWork + serialize)
        }
        setup.minimumFrames = minimumFrames
        setup.longRun = longRun
        let result = TrialSimulation.run(setup)
        // The device's simulated time shared among its stages by their work.
        let deviceTotal = deviceStages.reduce(0) { $0 + $1.1 }
        func simulated(_ part: String) -> Double { result.stageMeansNs[part] ?? 0 }
        func row(_ stage: Stage, _ meanNs: Double) -> StageRow { StageRow(stage: stage, count: 0, meanMs: meanNs / 1e6, p50Ms: 0, p99Ms: 0) }
        // The camera's capture and encoding are one simulated stage; the capture is its fixed part.
        let capture = min(fixedNs["capture"] ?? 0, simulated("source"))
        var stages = [row(.capture, capture), row(.encode, simulated("source") - capture), row(.queue, simulated("queue"))]
        for (name, share) in deviceStages where share > 0 { stages.append(row(name, simulated("device") * share / max(deviceTotal, 1))) }
        if config.placement.usesCloud {
            stages += [row(.network, simulated("network")), row(.infer, simulated("server_queue") + simulated("server_compute"))]
        }
        var metrics = [
            MetricValue(.offeredRate, result.offeredRate), MetricValue(.throughput, result.throughput),
            MetricValue(.framesDropped, result.dropShare * result.offeredRate * config.workload.duration.seconds),
            MetricValue(.latencyMean, result.latencyMeanNs / 1e6), MetricValue(.latencyP50, result.latencyP50Ns / 1e6),
            MetricValue(.latencyP90, result.latencyP90Ns / 1e6), MetricValue(.latencyP99, result.latencyP99Ns / 1e6),
            MetricValue(.frameBytes, codec.jpegBytes(frame)),
        ]
        // Each stage's mean under the name the runner stores it by: a prediction diffs with a measurement column by column.
        metrics += stages.map { MetricValue(.stage($0.stage), $0.meanMs) }
        if config.placement.usesCloud { metrics.append(MetricValue(.requestBytes, payloadBytes(config, features) + requestHeaderBytes)) }
        // What 80% of trials of this length report: a prediction's own spread, beside its value.
        for (metric, band) in [(Metric.latencyP50, result.latencyP50BandNs), (Metric.latencyP99, result.latencyP99BandNs)] {
            guard let band else { continue }
            let names = Metric.band(metric)
            metrics += [MetricValue(names.low, band.lowerBound / 1e6), MetricValue(names.high, band.upperBound / 1e6)]
        }
        if let slo = config.slo.p99 { metrics.append(MetricValue(.sloP99Met, result.latencyP99Ns <= slo.nanoseconds ? 1 : 0)) }
        return Prediction(config: config, metrics: metrics, stages: stages, deviceSaturatedMs: saturatedNs / 1e6)
    }

    // MARK: The file

    /// Writes the model as readable JSON.
    public func write(to path: String) throws(ModelingError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try encoder.encode(self).write(to: URL(fileURLWithPath: path)) } catch { throw .badModelFile("cannot write \(path): \(error.localizedDescription)") }
    }

    /// Reads a model file; an unreadable, corrupted, older- or newer-schema file is a one-line error.
    public static func load(_ path: String) throws(ModelingError) -> PerformanceModel {
        guard let data = FileManager.default.contents(atPath: path) else { throw .badModelFile("cannot read model file \(path)") }
        struct Version: Decodable { var schemaVersion: Int }
        guard let version = try? JSONDecoder().decode(Version.self, from: data) else {
            throw .badModelFile("\(path) is not an EdgeInsight model file (no schemaVersion; make one with `edgeinsight model fit`)")
        }
        guard version.schemaVersion <= schemaVersion else {
            throw .badModelFile("\(path) has schema version \(version.schemaVersion); this EdgeInsight reads up to \(schemaVersion): fit it again or upgrade")
        }
        guard version.schemaVersion == schemaVersion else {
            throw .badModelFile("\(path) has schema version \(version.schemaVersion), from an older EdgeInsight (this one writes \(schemaVersion)): fit it again with `edgeinsight model fit`")
        }
        let model: PerformanceModel
        do { model = try JSONDecoder().decode(PerformanceModel.self, from: data) } catch {
            throw .badModelFile("\(path) is corrupted: \(describe(error))")
        }
        if let problem = model.implausible() { throw .badModelFile("\(path): \(problem)") }
        return model
    }

    /// The first figure no machine could have — a cost below zero or beyond an hour, a spread that
    /// makes every draw infinite, a share outside 0…1 — named by its field; nil when all are
    /// plausible. A model file is data a user may edit: one that once predicted with these trapped,
    /// ran out of memory or hung.
    func implausible() -> String? {
        let hour = 3.6e12
        func outside(_ value: Double, _ range: ClosedRange<Double>, _ field: String, _ unit: String) -> String? {
            value.isFinite && range.contains(value) ? nil : "'\(field)' is \(value)\(unit); it must be from \(UnitFormat.plain(range.lowerBound)) to \(UnitFormat.plain(range.upperBound))\(unit)"
        }
        var checks: [String?] = [
            outside(requestOverheadNs, 0...hour, "requestOverheadNs", " ns"),
            outside(requestHeaderBytes, 0...1e9, "requestHeaderBytes", " B"),
            outside(responseBytes, 0...1e9, "responseBytes", " B"),
        ]
        checks += fixedNs.sorted { $0.key < $1.key }.map { outside($0.value, 0...hour, "fixedNs.\($0.key)", " ns") }
        // σ of ln(time): 3 already puts the 99th percentile 1000× past the median.
        checks += spread.sorted { $0.key < $1.key }.map { outside($0.value, 0...3, "spread.\($0.key)", "") }
        checks += (spreadFixedNs ?? [:]).sorted { $0.key < $1.key }.map { outside($0.value, 0...hour, "spreadFixedNs.\($0.key)", " ns") }
        for (engine, fit) in compute.sorted(by: { $0.key < $1.key }) {
            checks.append(outside(fit.serialShare, 0...1, "compute.\(engine).serialShare", ""))
            checks.append(outside(fit.spinShare ?? 0, 0...1, "compute.\(engine).spinShare", ""))
            checks.append(outside(fit.residualLogSigma ?? 0, 0...3, "compute.\(engine).residualLogSigma", ""))
            // A family's factor multiplies its architectures' work: it must be a positive number.
            checks += (fit.families ?? [:]).sorted { $0.key < $1.key }.map { outside($0.value, 1e-3...1e3, "compute.\(engine).families.\($0.key)", "") }
            checks += fit.work.fit.coefficients.enumerated().map { outside(abs($1), 0...hour, "compute.\(engine).work coefficient \($0)", "") }
        }
        let codecFits = [("codec.bytesPerPixel", codec.bytesPerPixel), ("codec.encode", codec.encode)] + codec.preprocess.sorted { $0.key < $1.key }.map { ("codec.preprocess.\($0.key)", $0.value) }
            + serverExtra.sorted { $0.key < $1.key }.map { ("serverExtra.\($0.key)", $0.value) }
        for (field, fit) in codecFits { checks += fit.fit.coefficients.enumerated().map { outside(abs($1), 0...hour, "\(field) coefficient \($0)", "") } }
        return checks.compactMap { $0 }.first
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context), DecodingError.valueNotFound(_, let context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "\(error)"
        }
    }

    /// What differs between the environment the model was fitted on and `other`, as a note.
    public func environmentNote(_ other: [String: String]) -> String? {
        let keys = ["cpu_model", "cores", "openvino_version"]
        let differing = keys.filter { environment[$0] != nil && other[$0] != nil && environment[$0] != other[$0] }
        guard !differing.isEmpty else { return nil }
        return "the model was fitted on another environment (" + differing.map { "\($0) \(environment[$0]!) there, \(other[$0]!) here" }.joined(separator: "; ")
            + "); its predictions for this machine are unvalidated: calibrate here"
    }
}

/// Features and link profiles looked up once for all the predictions of a model.
final class PredictionCache: Sendable {
    private let state = Mutex<(features: [String: ModelFeatures], profiles: LinkProfiles?)>(([:], nil))

    func features(_ model: String) throws(ModelingError) -> ModelFeatures {
        if let known = state.withLock({ $0.features[model] }) { return known }
        let analysed = try ModelFeatures.of(model)
        state.withLock { $0.features[model] = analysed }
        return analysed
    }

    func profile(_ name: String) throws(ProfileError) -> LinkProfile {
        let known = state.withLock { $0.profiles }
        let loaded: LinkProfiles
        if let known { loaded = known } else { loaded = try LinkProfiles.loadDefault() }
        state.withLock { $0.profiles = loaded }
        return try loaded.profile(named: name)
    }
}

/// Threads that can run at once: no more than the cores of the cpuset (or of this machine). A
/// quota below them does not make fewer run at once: they run in parallel until the period's
/// budget is spent, then wait together (`CPUQuota` with that parallelism).
func usableThreads(_ threads: Int, cpuset: String?) -> Int {
    let cores = cpuset.map { text in
        text.split(separator: ",").reduce(0) { count, part in
            let ends = part.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            return count + (ends.count == 2 ? max(1, ends[1] - ends[0] + 1) : 1)
        }
    } ?? machineCores
    return max(1, min(threads, cores))
}

/// This machine's cores, read once (the system call is costly in a search's inner loop).
private let machineCores = ProcessInfo.processInfo.activeProcessorCount

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
