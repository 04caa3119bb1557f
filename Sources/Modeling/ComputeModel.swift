import Foundation

/// What the compute model reads of a model: its analyzer's totals at batch 1.
public struct ModelFeatures: Sendable, Codable, Equatable {
    public var macs: Double
    public var weightBytes: Double
    public var activationBytes: Double
    /// The input tensor's elements (for the bytes a cloud-tensor request carries).
    public var inputElements: Int
    /// The input's height and width.
    public var inputSide: Int

    public init(macs: Double, weightBytes: Double, activationBytes: Double, inputElements: Int, inputSide: Int) {
        self.macs = macs
        self.weightBytes = weightBytes
        self.activationBytes = activationBytes
        self.inputElements = inputElements
        self.inputSide = inputSide
    }

    /// The feature of a fit by name: `1`, `gmacs`, `weight_mb`, `activation_mb`.
    public func value(_ name: String) -> Double {
        switch name {
        case "gmacs": macs / 1e9
        case "weight_mb": weightBytes / 1e6
        case "activation_mb": activationBytes / 1e6
        default: 1
        }
    }
}

/// Inference time of a model on a node, from the model's features and the node's threads and
/// CPU quota.
///
/// Model: one inference is W core-nanoseconds of work, W = c₀ + c₁·GMACs + c₂·weight MB +
/// c₃·activation MB (as many terms as the calibration's models can tell apart). On T threads with
/// r = min(T, cores) cores at once it runs at speed 1/(s + (1 − s)/r) (Amdahl, serial share s);
/// under a quota the node gets that speed only while its period's budget lasts (`CPUQuota`).
/// A model nobody measured is predicted from its features.
public struct ComputeModel: Sendable, Codable, Equatable {
    public var work: ScalingFit
    /// Amdahl's serial share; 1 when the calibration had only one thread count (no speed-up assumed).
    public var serialShare: Double

    /// One measured inference time.
    public struct Sample: Sendable {
        public var features: ModelFeatures
        public var threads: Int
        public var quota: CPUQuota
        public var wallNs: Double

        public init(features: ModelFeatures, threads: Int, quota: CPUQuota, wallNs: Double) {
            self.features = features
            self.threads = threads
            self.quota = quota
            self.wallNs = wallNs
        }
    }

    static let designs = [["1", "gmacs", "weight_mb", "activation_mb"], ["1", "gmacs"], ["gmacs"]]

    /// Speed-up of `threads` threads over one.
    func speed(threads: Int) -> Double { 1 / (serialShare + (1 - serialShare) / Double(max(1, threads))) }

    /// Work of one inference, in core-nanoseconds.
    public func workNs(_ features: ModelFeatures) -> Double { max(0, work.predict(features.value)) }

    /// Expected wall time of one inference arriving at an idle node.
    public func wallNs(_ features: ModelFeatures, threads: Int, quota: CPUQuota) -> Double {
        quota.wallNs(work: workNs(features), parallelism: speed(threads: threads))
    }

    /// Fits the work per inference and the serial share. Each sample's wall time is turned back
    /// into work through the quota (the inverse of `CPUQuota.wallNs`, by bisection), then the work
    /// is fitted to the features; the serial share is the one that fits best across thread counts.
    public static func fit(_ samples: [Sample]) throws(ModelingError) -> ComputeModel {
        guard !samples.isEmpty else { throw .insufficientData("the compute model needs inference times: run trials with the edge placement") }
        func fitted(serialShare: Double) throws(ModelingError) -> (ComputeModel, Double) {
            var model = ComputeModel(work: ScalingFit(features: ["1"], fit: LinearFit(coefficients: [0], standardErrors: [0], rmse: 0, rSquared: 1, points: 0)),
                                     serialShare: serialShare)
            let work = samples.map { sample in
                let speed = model.speed(threads: sample.threads)
                return invert(sample.wallNs) { sample.quota.wallNs(work: $0, parallelism: speed) }
            }
            model.work = try ScalingFit.fit(designs: designs, samples: samples.count, value: { samples[$1].features.value($0) }, y: work,
                                            what: "compute model")
            let error = samples.reduce(0.0) { sum, sample in
                let predicted = model.wallNs(sample.features, threads: sample.threads, quota: sample.quota)
                return sum + pow(log(predicted / sample.wallNs), 2)
            }
            return (model, error)
        }
        guard Set(samples.map(\.threads)).count > 1 else { return try fitted(serialShare: 1).0 }
        var best = try fitted(serialShare: 0)
        for step in 1...20 {
            let candidate = try fitted(serialShare: Double(step) / 20)
            if candidate.1 < best.1 { best = candidate }
        }
        return best.0
    }

    /// The x ≥ 0 with f(x) = target (to 1 part in 10⁵), for f increasing from f(0) = 0.
    static func invert(_ target: Double, _ f: (Double) -> Double) -> Double {
        var low = 0.0, high = max(target, 1)
        while f(high) < target { high *= 2 }
        while high - low > 1e-5 * high {
            let middle = (low + high) / 2
            if f(middle) < target { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }
}

/// Latency of a batch, affine in its size: l(b) = α·b + β (Nexus; INFaaS fits the same by OLS).
public struct BatchLatency: Sendable, Codable, Equatable {
    public var perItemNs: Double
    public var fixedNs: Double

    public func latencyNs(batch: Int) -> Double { perItemNs * Double(batch) + fixedNs }

    /// Fits (batch size, latency) points; at least two sizes.
    public static func fit(_ points: [(batch: Int, latencyNs: Double)]) throws(ModelingError) -> BatchLatency {
        guard Set(points.map(\.batch)).count >= 2 else { throw .insufficientData("batch latency needs at least two batch sizes") }
        let fit = try LinearFit.fit(points.map { [Double($0.batch), 1] }, points.map(\.latencyNs))
        return BatchLatency(perItemNs: fit.coefficients[0], fixedNs: fit.coefficients[1])
    }
}
