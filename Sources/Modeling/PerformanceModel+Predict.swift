import EdgeInsightCore
import Foundation
import Link
import ModelZoo
import Profiles
import Results

/// Prediction: a configuration simulated with every stage from the component models.
extension PerformanceModel {
    /// A prediction of one trial, as the metrics and stage means Results stores for a measured one.
    public struct Prediction: Sendable {
        public var config: TrialConfig
        public var metrics: [MetricValue]
        public var stages: [StageRow]
        /// The device's time per frame when frames follow each other with no idle time (its work
        /// at the quota's rate; the camera's encoding runs beside it, as in the simulation):
        /// 1000 / this is the frame rate at which it saturates.
        public var deviceSaturatedMs: Double
        /// The dimensions in which the configuration lies outside what the model was fitted on.
        public var extrapolated: [String] = []

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

    /// A partition's head and tail features and the bytes that cross the cut.
    static func partition(_ config: TrialConfig, family: String?, cache: PredictionCache) throws(ModelingError) -> (head: ModelFeatures, tail: ModelFeatures, bytes: Double) {
        guard let after = config.partition.after else { throw .cannotPredict("placement partition needs partition.after") }
        let cut: (head: String, tail: String, point: CutPoint)
        do { cut = try cache.cut(config.model, after: after, activation: config.partition.activation) } catch { throw .cannotPredict("partition of \(config.model): \(error)") }
        var head = try cache.features(cut.head), tail = try cache.features(cut.tail)
        head.family = family
        tail.family = family
        return (head, tail, Double(cut.point.crossingBytes))
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

    /// The CPU quota (cores of this machine) under which this machine infers `model` with
    /// `threads` threads in `latencyMs` on `engine`: how a latency published for a real board
    /// becomes the emulated board (by bisection on the quota; the wall time falls as it grows).
    /// At most `threads` cores: a board faster than that is this machine unconfined (`capped`).
    public func quota(reproducing latencyMs: Double, of model: String, threads: Int, engine: EngineKind) throws(ModelingError) -> (cores: Double, capped: Bool) {
        let compute = try computeModel(on: engine, host: nil, where: "device.engine")
        let features: ModelFeatures
        if let known = self.features[model] { features = known } else { features = try cache.features(model) }
        let usable = usableThreads(threads, cpuset: nil)
        let target = latencyMs * 1e6
        func wall(_ cores: Double) -> Double { compute.wallNs(features, threads: usable, quota: .testbed(cores: cores)) }
        var low = 0.001, high = Double(usable)
        if wall(high) >= target { return (high, true) }
        for _ in 0..<60 where high - low > 1e-4 * high {
            let middle = (low + high) / 2
            if wall(middle) > target { low = middle } else { high = middle }
        }
        return ((low + high) / 2, false)
    }

    /// The compute model of a framework (on a host of the inventory), or why there is none.
    func computeModel(on engine: EngineKind, host: String?, where setting: String) throws(ModelingError) -> ComputeModel {
        guard let model = compute[Self.computeKey(engine, host: host)] else {
            if let host {
                throw .cannotPredict("the model has no inference times on \(engine.rawValue) at host \(host): fit it on a run with trials on that host")
            }
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
        let quota = Self.deviceQuota(config)
        func time(_ stage: String, _ ns: Double) -> StageTime {
            StageTime(meanNs: ns, logSigma: StageSpread.logSigma(meanNs: ns, relative: spread[stage] ?? 0, fixedNs: spreadFixedNs?[stage] ?? 0))
        }
        // A trial of more frames than this is simulated over this many: its percentiles are already
        // the long run's, and a day at 10,000 fps (864 million frames) would not fit in memory.
        let frameLimit = 2_000_000.0
        func simulatedNs(_ length: Duration) -> Double { min(length.nanoseconds, frameLimit / config.workload.fps * 1e9) }
        // A partition: the head's and the tail's own features (the analyzer on the cut's files, in
        // the parent's family) and the bytes that cross; its device runs cloud-tensor's pre-processing.
        let partition = try config.placement == .partition ? Self.partition(config, family: features.family, cache: cache) : nil
        let preprocessing: Placement = config.placement == .partition ? .cloudTensor : config.placement
        let needs = config.placement == .cloudRaw ? [] : [preprocessing.rawValue]
        for missing in needs where codec.preprocess[missing] == nil {
            throw .cannotPredict("the model has no \(missing) trials to know its pre-processing: fit it on a run that has some")
        }
        if [.cloudRaw, .split].contains(config.placement), serverExtra[config.placement.rawValue] == nil {
            throw .cannotPredict("the model has no \(config.placement.rawValue) trials to know the cloud node's work: fit it on a run that has some")
        }
        let encodeWork = codec.encodeNs(frame)
        let source = time("encode", (fixedNs["capture"] ?? 0) + quota.wallNs(work: encodeWork))
        let preprocessWork = codec.preprocessNs(frame, placement: preprocessing) ?? 0
        var setup: SimulationSetup
        var deviceStages: [(Stage, Double)]
        var saturatedNs = 0.0
        if config.placement == .edge {
            let compute = try computeModel(on: config.device.engine, host: config.device.host, where: "device.engine")
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
            let cloudCompute = try computeModel(on: config.cloud.engine, host: config.cloud.host, where: "cloud.engine")
            let inference = cloudCompute.wallNs(partition?.tail ?? features, threads: usableThreads(config.cloud.threads, cpuset: config.cloud.cpuset),
                                                quota: Self.cloudQuota(config))
            let extra = serverExtra[config.placement.rawValue].map { max(0, $0.predict(frame.value)) } ?? 0
            // The head runs on the device after the pre-processing, on the device's framework.
            var headWork = 0.0
            if let partition {
                let device = try computeModel(on: config.device.engine, host: config.device.host, where: "device.engine")
                headWork = device.workNs(partition.head) / device.speed(threads: usableThreads(config.device.threads, cpuset: config.device.cpuset))
            }
            let requestBytes = (partition?.bytes ?? payloadBytes(config, features)) + requestHeaderBytes
            let leg = CloudLeg(requestBytes: requestBytes, responseBytes: responseBytes, uplink: link.uplink,
                               downlink: link.downlink, rttNs: link.rtt.nanoseconds, jitterNs: link.jitter.nanoseconds, loss: link.loss,
                               overheadNs: transportOverheadNs(config, requestBytes: requestBytes), instances: config.cloud.instances, maxBatch: config.cloud.maxBatch,
                               compute: time("infer", inference + extra))
            setup = SimulationSetup(arrivals: config.workload.arrivals.process(rate: config.workload.fps), warmupNs: simulatedNs(config.workload.warmup),
                                    durationNs: simulatedNs(config.workload.duration), queueCapacity: config.workload.queue, source: source,
                                    processors: config.workload.inflight, device: time("preprocess", preprocessWork + headWork + serialize), deviceQuota: quota,
                                    cloud: leg)
            setup.trialLogSigma = cloudCompute.residualLogSigma ?? 0
            deviceStages = [(.preprocess, preprocessWork), (.head, headWork), (.serialize, serialize)]
            saturatedNs = quota.sustainedNs(work: preprocessWork + headWork + serialize)
        }
        setup.minimumFrames = minimumFrames
        setup.longRun = longRun
        // The long run has no trials to spread over: it is the deployment whose compute runs at the
        // model's median (a factor of 1), and its 90% interval the deployments at the 5th and the
        // 95th percentile of the model's own error (e^(±1.645σ)).
        func at(_ z: Double) -> SimulatedTrial {
            var bound = setup
            bound.fixedPace = exp(z * setup.trialLogSigma)
            return TrialSimulation.run(bound)
        }
        var result = longRun ? at(0) : TrialSimulation.run(setup)
        if longRun, setup.trialLogSigma > 0 {
            let fast = at(-1.6449), slow = at(1.6449)
            result.latencyP50BandNs = min(fast.latencyP50Ns, result.latencyP50Ns)...max(slow.latencyP50Ns, result.latencyP50Ns)
            result.latencyP99BandNs = min(fast.latencyP99Ns, result.latencyP99Ns)...max(slow.latencyP99Ns, result.latencyP99Ns)
            result.throughputBand = min(slow.throughput, fast.throughput, result.throughput)...max(slow.throughput, fast.throughput, result.throughput)
        }
        // The device's simulated time shared among its stages by their work.
        let deviceTotal = deviceStages.reduce(0) { $0 + $1.1 }
        func simulated(_ part: String) -> Double { result.stageMeansNs[part] ?? 0 }
        func row(_ stage: Stage, _ meanNs: Double) -> StageRow { StageRow(stage: stage, count: 0, meanMs: meanNs / 1e6, p50Ms: 0, p99Ms: 0) }
        // The camera's capture and encoding are one simulated stage; the capture is its fixed part.
        let capture = min(fixedNs["capture"] ?? 0, simulated("source"))
        var stages = [row(.capture, capture), row(.encode, simulated("source") - capture), row(.queue, simulated("queue"))]
        for (name, share) in deviceStages where share > 0 { stages.append(row(name, simulated("device") * share / max(deviceTotal, 1))) }
        if config.placement.usesCloud {
            stages += [row(.network, simulated("network")),
                       row(config.placement == .partition ? .tail : .infer, simulated("server_queue") + simulated("server_compute"))]
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
        if config.placement.usesCloud {
            metrics.append(MetricValue(.requestBytes, (partition?.bytes ?? payloadBytes(config, features)) + requestHeaderBytes))
        }
        // What 90% of trials of this length report: a prediction's own interval, beside its value.
        for (metric, band) in [(Metric.latencyP50, result.latencyP50BandNs.map { $0.lowerBound / 1e6...$0.upperBound / 1e6 }),
                               (Metric.latencyP99, result.latencyP99BandNs.map { $0.lowerBound / 1e6...$0.upperBound / 1e6 }),
                               (Metric.throughput, result.throughputBand)] {
            guard let band else { continue }
            let names = Metric.band(metric)
            metrics += [MetricValue(names.low, band.lowerBound), MetricValue(names.high, band.upperBound)]
        }
        if let slo = config.slo.p99 { metrics.append(MetricValue(.sloP99Met, result.latencyP99Ns <= slo.nanoseconds ? 1 : 0)) }
        var extrapolated = extent?.outside(config, features) ?? []
        if config.startsCloudNode, config.transport == .mqtt, broker == nil { extrapolated.append("transport mqtt (no trial through a broker fitted; HTTP's overhead used)") }
        return Prediction(config: config, metrics: metrics, stages: stages, deviceSaturatedMs: saturatedNs / 1e6, extrapolated: extrapolated)
    }

    /// What a request costs beyond the link's physics: HTTP's fitted overhead, or through a broker
    /// its per-message and per-byte cost (never below zero).
    func transportOverheadNs(_ config: TrialConfig, requestBytes: Double) -> Double {
        guard config.transport == .mqtt, let broker else { return requestOverheadNs }
        return max(0, broker.predict(broker.coefficients.count > 1 ? [1, requestBytes] : [1]))
    }
}
