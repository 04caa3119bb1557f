import EdgeInsightCore
import Foundation
import Link
import ModelZoo
import Profiles
import Results

/// Fitting: every component of the model from finished trials.
extension PerformanceModel {
    /// The stages whose variation is fitted against their mean (`StageSpread`): the ones the simulation draws.
    static let computeStages: Set<Stage> = [.encode, .preprocess, .infer]

    /// The compute model's key: the framework, and the host of the inventory it ran on
    /// (`openvino@pi`): a real device's inference is its own, not this machine's under a quota.
    public static func computeKey(_ engine: EngineKind, host: String?) -> String {
        host.map { "\(engine.rawValue)@\($0)" } ?? engine.rawValue
    }

    /// The trial ran all on this machine (no host of the inventory, no existing service).
    static func ranHere(_ config: TrialConfig) -> Bool {
        config.device.host == nil && (!config.placement.usesCloud || (config.cloud.url == nil && config.cloud.host == nil))
    }

    /// The quota the device ran under: the trial's share of this machine, or none on a real host
    /// (there the device is itself, unconfined).
    static func deviceQuota(_ config: TrialConfig) -> CPUQuota { config.device.host == nil ? .testbed(cores: config.device.cpu) : .unconfined }
    static func cloudQuota(_ config: TrialConfig) -> CPUQuota { config.cloud.host == nil ? .testbed(cores: config.cloud.cpu) : .unconfined }

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
            // A partition's two halves are not modelled yet: its trials teach no component.
            guard trial.ok, trial.config.placement != .partition else { continue }
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
        func deviceQuota(_ config: TrialConfig) -> CPUQuota { Self.deviceQuota(config) }
        // The shared components (camera, pre-processing, requests) are this machine's, from the
        // trials that ran here; a real host's own trials give its compute model. A run made only
        // on hosts gives everything from them.
        let anyHere = usable.contains { Self.ranHere($0.1) }
        func shared(_ config: TrialConfig) -> Bool { !anyHere || Self.ranHere(config) }
        /// Work behind a stage's mean wall time on the device (one thread, under its quota).
        func deviceWork(_ config: TrialConfig, _ wallNs: Double) -> Double {
            ComputeModel.invert(wallNs) { deviceQuota(config).wallNs(work: $0) }
        }

        var bytes: [(CodecModel.Frame, Double)] = [], encode: [(CodecModel.Frame, Double)] = []
        var preprocess: [String: [(CodecModel.Frame, Double)]] = [:]
        var computeSamples: [String: [ComputeModel.Sample]] = [:]
        var fixed: [String: [Double]] = [:]
        var spreads: [String: [Double]] = [:]
        /// Compute stages' variation against their mean, from trials that ran them unthrottled (a
        /// quota's own spread is the simulation's to make).
        var computeSpreads: [String: [(meanNs: Double, logSigma: Double)]] = [:]
        for (trial, config) in usable {
            if config.placement == .edge, let row = stage(trial, .infer) {
                computeSamples[Self.computeKey(config.device.engine, host: config.device.host), default: []]
                    .append(.init(features: known[config.model]!, threads: usableThreads(config.device.threads, cpuset: config.device.cpuset), quota: deviceQuota(config), wallNs: row.meanMs * 1e6))
            }
            if config.placement == .cloudTensor, config.startsCloudNode, let server = trial.metric(.serverCompute) {
                computeSamples[Self.computeKey(config.cloud.engine, host: config.cloud.host), default: []]
                    .append(.init(features: known[config.model]!, threads: usableThreads(config.cloud.threads, cpuset: config.cloud.cpuset), quota: Self.cloudQuota(config),
                                  wallNs: server * 1e6))
            }
            guard shared(config) else { continue }
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
                if let row = stage(trial, .postprocess) { fixed["postprocess", default: []].append(row.meanMs * 1e6) }
            } else if let row = stage(trial, .serialize) {
                fixed["serialize.\(config.placement.rawValue)", default: []].append(row.meanMs * 1e6)
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
        for (key, samples) in computeSamples { compute[key] = try ComputeModel.fit(samples) }
        let codec = try CodecModel.fit(bytes: bytes, encode: encode, preprocess: preprocess)

        // What the cloud node spends beyond inference, and what a request costs beyond the link.
        var extra: [String: [(CodecModel.Frame, Double)]] = [:]
        var overheads: [Double] = [], headers: [Double] = [], responses: [Double] = []
        var brokerRows: [([Double], Double)] = []
        var model = PerformanceModel(environment: environment, fittedOn: runs, compute: compute, codec: codec,
                                     fixedNs: fixed.mapValues { $0.reduce(0, +) / Double($0.count) }, serverExtra: [:],
                                     requestOverheadNs: 0, requestHeaderBytes: 0, responseBytes: 0, spread: spreads.mapValues(median), features: known)
        for (stage, points) in computeSpreads {
            guard let fit = StageSpread.fit(points) else { continue }
            model.spread[stage] = fit.relative
            model.spreadFixedNs = (model.spreadFixedNs ?? [:]).merging([stage: fit.fixedNs]) { $1 }
        }
        for (trial, config) in usable where config.startsCloudNode && shared(config) {
            let features = known[config.model]!
            if let server = trial.metric(.serverCompute), config.placement != .cloudTensor,
               let compute = compute[Self.computeKey(config.cloud.engine, host: config.cloud.host)] {
                let inference = compute.wallNs(features, threads: usableThreads(config.cloud.threads, cpuset: config.cloud.cpuset), quota: Self.cloudQuota(config))
                extra[config.placement.rawValue, default: []].append((frame(config), server * 1e6 - inference))
            }
            if let sent = trial.metric(.requestBytes) { headers.append(sent - model.payloadBytes(config, features)) }
            if let down = trial.metric(.downlinkBytesPerFrame) { responses.append(down) }
            if let link = try? model.link(config) {
                let requestBytes = trial.metric(.requestBytes) ?? model.payloadBytes(config, features)
                let physics = model.transferNs(config, link: link, requestBytes: requestBytes, responseBytes: trial.metric(.downlinkBytesPerFrame) ?? 0)
                if config.transport == .mqtt {
                    // Over a broker the round trip's own stages: device → broker → consumer, and the answer back.
                    let hops = [Stage.publish, .broker, .reply].compactMap { stage(trial, $0)?.meanMs }
                    if hops.count == 3 { brokerRows.append(([1, requestBytes], hops.reduce(0, +) * 1e6 - physics)) }
                } else if let network = stage(trial, .network) {
                    overheads.append(network.meanMs * 1e6 - physics)
                }
            }
        }
        for (placement, samples) in extra {
            model.serverExtra[placement] = try ScalingFit.fit(designs: CodecModel.timeDesigns, samples: samples.count, value: { samples[$1].0.value($0) },
                                                              y: samples.map(\.1), what: "\(placement) server time beyond inference",
                                                              nonNegative: true, intervals: true)
        }
        model.extent = FittedExtent.of(usable.map { ($0.1, known[$0.1.model]!) })
        model.requestOverheadNs = max(0, median(overheads))
        if brokerRows.count >= 2 {
            // Per message and per byte, neither below zero; the interval from trials drawn again.
            // Requests of one size (within 20%) cannot tell the two apart: then per message alone.
            let sizes = brokerRows.map { $0.0[1] }
            let separable = (sizes.max() ?? 0) > 1.2 * max(1, sizes.min() ?? 0)
            let x = brokerRows.map { separable ? $0.0 : [1] }, y = brokerRows.map(\.1)
            model.broker = try? LinearFit.fit(x, y, nonNegative: true).withInterval(x, y, nonNegative: true)
        }
        model.requestHeaderBytes = max(0, median(headers))
        model.responseBytes = max(0, median(responses))

        let unstableUsed = usable.filter { $0.0.metric(.stable) == 0 }.count
        var lines = ["fitted on \(usable.count) trials of \(runs.joined(separator: ", "))"
                     + (leftOut.isEmpty ? "" : "; left out \(leftOut.count) unstable (fit with --include-unstable to use them)")
                     + (unstableUsed == 0 ? "" : "; \(unstableUsed) of them never met the stability rule (included as asked)")]
        lines += model.componentLines(samples: computeSamples.mapValues(\.count), cloud: usable.contains { $0.1.placement.usesCloud })
        return (model, FitReport(used: usable.count, leftOut: leftOut, lines: lines))
    }

    /// Every component with its units and 90% intervals (`model fit`'s report, `model show`).
    public func componentLines(samples: [String: Int]? = nil, cloud: Bool = true) -> [String] {
        var lines: [String] = []
        for (engine, fit) in compute.sorted(by: { $0.key < $1.key }) {
            lines.append("compute (\(engine)): work per inference = \(fit.work.formula(unit: "ns")); serial share \(UnitFormat.coefficient(fit.serialShare)); "
                         + "waiting spent spinning \(UnitFormat.coefficient(fit.spinShare ?? 0)); "
                         + (samples?[engine].map { "\($0) samples, " } ?? "") + "rmse \(UnitFormat.significant(100 * fit.work.fit.rmse))% of the work")
            if let families = fit.families, !families.isEmpty {
                lines.append("  work against the line, per family: " + families.sorted { $0.key < $1.key }.map { "\($0.key) ×\(UnitFormat.coefficient($0.value))" }.joined(separator: ", "))
            }
        }
        if let fixed = spreadFixedNs, !fixed.isEmpty {
            lines.append("frame-to-frame variation (σ of ln time = √(share² + (fixed/time)²), unthrottled trials): "
                         + fixed.keys.sorted().map { "\($0) \(DurationText.format(nanoseconds: fixed[$0]!)) fixed, \(UnitFormat.significant(100 * (spread[$0] ?? 0)))% share" }.joined(separator: "; "))
        }
        lines.append("JPEG: ln(bytes/pixel) = \(codec.bytesPerPixel.formula(unit: ""))")
        lines.append("camera encode work = \(codec.encode.formula(unit: "ns"))")
        for (placement, fit) in codec.preprocess.sorted(by: { $0.key < $1.key }) { lines.append("\(placement) pre-processing work = \(fit.formula(unit: "ns"))") }
        for (placement, fit) in serverExtra.sorted(by: { $0.key < $1.key }) { lines.append("\(placement) server time beyond inference = \(fit.formula(unit: "ns"))") }
        if let broker {
            func term(_ i: Int, _ unit: String) -> String {
                let interval = broker.low.flatMap { low in broker.high.map { " [\(UnitFormat.significant(low[i]))–\(UnitFormat.significant($0[i]))]" } } ?? ""
                return "\(UnitFormat.significant(broker.coefficients[i]))\(interval) \(unit)"
            }
            let perByte = broker.coefficients.count > 1 ? " + " + term(1, "ns per request byte") : " (requests of one size: no per-byte term)"
            lines.append("broker path (mqtt) beyond the link's physics = \(term(0, "ns per message"))\(perByte) (90% intervals; \(broker.points) trials)")
        }
        if cloud, requestHeaderBytes > 0 || requestOverheadNs > 0 {
            lines.append("request: \(Bytes(Int64(requestHeaderBytes))) of headers, \(DurationText.format(nanoseconds: requestOverheadNs)) beyond the link's physics; reply \(Bytes(Int64(responseBytes)))")
        }
        return lines
    }

    /// The cost components (times: compute work, camera encode, pre-processing, server time beyond
    /// inference) with a coefficient below zero, by name; empty for a physical model.
    public var negativeComponents: [String] {
        var fits: [(String, ScalingFit)] = compute.map { ("compute (\($0.key))", $0.value.work) } + [("camera encode", codec.encode)]
        fits += codec.preprocess.map { ("\($0.key) pre-processing", $0.value) } + serverExtra.map { ("\($0.key) server time beyond inference", $0.value) }
        return fits.filter { $0.1.fit.coefficients.contains { $0 < 0 } }.map(\.0).sorted()
    }
}
