import Foundation

/// What the compute model reads of a model: its analyzer's totals at batch 1.
public struct ModelFeatures: Sendable, Codable, Hashable {
    public var macs: Double
    public var weightBytes: Double
    public var activationBytes: Double
    /// The input tensor's elements (for the bytes a cloud-tensor request carries).
    public var inputElements: Int
    /// The input's height and width.
    public var inputSide: Int
    /// The zoo's architecture family (nil for a model file).
    public var family: String?

    /// Which architecture this is, whatever its input: at another input a model keeps its weights
    /// (`resnet18@112` is ResNet-18), so a calibration's samples of one architecture share this.
    var architecture: Double { weightBytes }

    public init(macs: Double, weightBytes: Double, activationBytes: Double, inputElements: Int, inputSide: Int, family: String? = nil) {
        self.macs = macs
        self.weightBytes = weightBytes
        self.activationBytes = activationBytes
        self.inputElements = inputElements
        self.inputSide = inputSide
        self.family = family
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
/// under a quota the node gets that speed only while its period's budget lasts (`CPUQuota`), and
/// the budget goes at speed + φ·(r − speed) cores: a share φ of the threads' waiting is spent
/// spinning (thread pools spin before they sleep), which a quota charges like work.
/// A model nobody measured is predicted from its features, times its architecture family's
/// efficiency when the calibration measured relatives of it (`families`).
public struct ComputeModel: Sendable, Codable, Equatable {
    public var work: ScalingFit
    /// Amdahl's serial share; 1 when the calibration had only one thread count (no speed-up assumed).
    public var serialShare: Double
    /// φ, the share of the threads' waiting spent spinning; fitted on trials whose quota is below
    /// their threads, else 0 (no evidence: the quota charges what progresses; nil in older files).
    public var spinShare: Double?
    /// Per architecture family, how much more work its models take than their totals predict: the
    /// calibration's ratio of measured to predicted work, geometric mean over the family's members
    /// (each architecture once, at any input), shrunk towards 1 as if one more member had ratio 1.
    /// Depthwise-separable blocks do fewer MACs per byte moved than dense convolutions, so one line
    /// through every family misses each a little; a new width or depth of a measured family is
    /// predicted from that family's own line.
    public var families: [String: Double]?
    /// Root mean square of ln(predicted / measured) over the calibration's samples: the trial-to-trial
    /// spread of the machine and the model's own error together (nil in older files).
    public var residualLogSigma: Double?

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

        /// One thread under a fraction of a core: it tells the work only through the quota's
        /// inversion (several threads under a quota also tell how they share it).
        public var throttled: Bool { threads == 1 && (quota.cores ?? 1) < 1 }
    }

    /// The designs tried, richest first.
    static let designs = [["1", "gmacs", "weight_mb", "activation_mb"], ["1", "gmacs", "activation_mb"], ["1", "gmacs", "weight_mb"],
                          ["1", "gmacs"], ["gmacs"]]

    /// Speed-up of `threads` threads over one.
    func speed(threads: Int) -> Double { Self.speed(threads: threads, serialShare: serialShare) }

    /// Amdahl's speed-up of `threads` threads with serial share `serialShare`.
    static func speed(threads: Int, serialShare: Double) -> Double { 1 / (serialShare + (1 - serialShare) / Double(max(1, threads))) }

    /// Work of one inference, in core-nanoseconds.
    public func workNs(_ features: ModelFeatures) -> Double {
        max(0, work.predict(features.value)) * (features.family.flatMap { families?[$0] } ?? 1)
    }

    /// Cores that `threads` threads keep busy while an inference runs (what a quota charges).
    func busyCores(threads: Int) -> Double { Self.busyCores(threads: threads, serialShare: serialShare, spinShare: spinShare ?? 0) }

    static func busyCores(threads: Int, serialShare: Double, spinShare: Double) -> Double {
        let rate = speed(threads: threads, serialShare: serialShare)
        return rate + spinShare * (Double(max(1, threads)) - rate)
    }

    /// Expected wall time of one inference arriving at an idle node.
    public func wallNs(_ features: ModelFeatures, threads: Int, quota: CPUQuota) -> Double {
        quota.wallNs(work: workNs(features), parallelism: speed(threads: threads), busyCores: busyCores(threads: threads))
    }

    /// Fits the work per inference and the serial share. Each sample's wall time is turned back
    /// into work through the quota (the inverse of `CPUQuota.wallNs`, by bisection), then the work
    /// is fitted to the features by least squares on relative errors (a 2 ms model matters as much
    /// as a 100 ms one), and each family's factor from what the line leaves in its samples. The
    /// work is one thread's: it is read from the single-thread samples when there are any, and
    /// the serial share and φ are the pair that then fits every sample best. How well threads
    /// share an inference differs by architecture (dense convolutions split better than
    /// depthwise ones), so one Amdahl share read into the work would move each architecture's
    /// single-thread time by its own misfit.
    ///
    /// Which features: the design that best predicts an architecture it did not see — each
    /// calibration architecture (at every input it was measured at) left out in turn, fitted on the
    /// others, its samples predicted as an unmeasured model is (times its family's factor from the
    /// relatives left in; mean |ln(predicted / measured)|). With a handful of architectures a richer design fits them
    /// more closely and may predict a new one worse; this picks what generalises, among the designs
    /// that fit the samples nearly as well as the closest (`chooseDesign`).
    public static func fit(_ samples: [Sample]) throws(ModelingError) -> ComputeModel {
        guard !samples.isEmpty else { throw .insufficientData("the compute model needs inference times: run trials with the edge placement") }
        let shares = Set(samples.map(\.threads)).count > 1 ? (0...20).map { Double($0) / 20 } : [1.0]
        // φ shows only where the quota is below the threads' cores.
        let spins = samples.contains { $0.threads > 1 && ($0.quota.cores ?? .infinity) < Double($0.threads) } ? [0, 0.25, 0.5, 0.75, 1.0] : [0.0]
        let settings = shares.flatMap { share in spins.map { (share: share, spin: $0) } }
        // Work behind each sample for each serial share and φ (the costly part: done once per pair).
        let works = settings.map { setting in
            samples.map { sample in
                let rate = speed(threads: sample.threads, serialShare: setting.share)
                let busy = busyCores(threads: sample.threads, serialShare: setting.share, spinShare: setting.spin)
                return invert(sample.wallNs) { sample.quota.wallNs(work: $0, parallelism: rate, busyCores: busy) }
            }
        }
        let single = samples.indices.filter { samples[$0].threads == 1 }
        let fitRows = single.isEmpty ? Array(samples.indices) : single
        let architectures = Dictionary(grouping: fitRows) { samples[$0].features.architecture }
        var candidates: [(score: DesignScore, model: ComputeModel, work: [Double])] = []
        var problems: [String] = []
        for design in designs {
            // The design's best serial share, by the fit's error over all samples.
            var chosen: (model: ComputeModel, error: Double, work: [Double])?
            for (setting, work) in zip(settings, works) {
                guard let fitted = try? relativeFit(design, fitRows, samples, work) else { continue }
                let model = ComputeModel(work: fitted, serialShare: setting.share, spinShare: setting.spin)
                let error = samples.reduce(0.0) { $0 + pow(log(model.wallNs($1.features, threads: $1.threads, quota: $1.quota) / $1.wallNs), 2) }
                if chosen == nil || error < chosen!.error { chosen = (model, error, work) }
            }
            guard let (model, fitError, work) = chosen else { problems.append("\(design.joined(separator: " + ")) cannot be fitted to \(samples.count) samples"); continue }
            // Leave each architecture out; with fewer than three there is nothing to generalise from.
            var errors: [Double] = [], perArchitecture: [Double] = []
            if architectures.count >= 3 {
                for (_, held) in architectures {
                    let rest = fitRows.filter { !held.contains($0) }
                    guard let fitted = try? relativeFit(design, rest, samples, work) else { errors = [.infinity]; break }
                    var partial = ComputeModel(work: fitted, serialShare: model.serialShare, spinShare: model.spinShare)
                    partial.families = partial.familyFactors(rest.map { (samples[$0], work[$0]) })
                    let held = held.map { abs(log(max(1, partial.wallNs(samples[$0].features, threads: samples[$0].threads, quota: samples[$0].quota)) / samples[$0].wallNs)) }
                    errors += held
                    perArchitecture.append(held.reduce(0, +) / Double(held.count))
                }
            }
            let generalisation = errors.isEmpty ? 0 : errors.reduce(0, +) / Double(errors.count)
            let score = DesignScore(terms: design.count, fitError: (fitError / Double(samples.count)).squareRoot(), generalisation: generalisation,
                                    standardError: Self.standardError(perArchitecture))
            candidates.append((score, model, work))
            if architectures.count < 3 { break }  // nothing to compare designs on: the richest that fits
        }
        guard let index = chooseDesign(candidates.map(\.score)) else {
            throw .insufficientData("compute model: no fit (\(problems.last ?? "no samples"))")
        }
        var model = candidates[index].model
        // The chosen fit again, with each coefficient's interval over the trials.
        if let withIntervals = try? relativeFit(model.work.features, fitRows, samples, candidates[index].work, intervals: true) { model.work = withIntervals }
        model.families = model.familyFactors(fitRows.map { (samples[$0], candidates[index].work[$0]) })
        let squares = samples.map { pow(log(model.wallNs($0.features, threads: $0.threads, quota: $0.quota) / $0.wallNs), 2) }
        model.residualLogSigma = (squares.reduce(0, +) / Double(samples.count)).squareRoot()
        return model
    }

    /// How one design did: its terms, how closely it fits the calibration's samples (root mean
    /// square of ln(predicted / measured)), how well it predicts a left-out architecture (mean
    /// |ln(predicted / measured)|) and that mean's standard error over the architectures.
    struct DesignScore {
        var terms: Int
        var fitError: Double
        var generalisation: Double
        var standardError: Double
    }

    /// The standard error of a mean of `values` (0 for fewer than two).
    static func standardError(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
        return (variance / Double(values.count)).squareRoot()
    }

    /// How much worse than the closest fit a design may fit the calibration's own samples (root
    /// mean square of ln(predicted / measured)) and still be chosen for how it predicts a left-out one.
    static let fitTolerance = 1.5

    /// The design to keep, by index. Among the designs that fit the samples nearly as closely as
    /// the closest does, the one that best predicts a left-out architecture — or a simpler one whose
    /// held-out error is within one standard error of that best (the one-standard-error rule of
    /// cross-validation): with a handful of architectures the held-out test alone is a coin toss
    /// between designs (docs/modeling.md has the calibrations it misled), and a design that cannot
    /// follow the calibration's own models is not trusted to extrapolate.
    static func chooseDesign(_ candidates: [DesignScore]) -> Int? {
        guard let closest = candidates.map(\.fitError).min() else { return nil }
        let eligible = candidates.indices.filter { candidates[$0].fitError <= fitTolerance * closest }
        guard let best = eligible.min(by: { candidates[$0].generalisation < candidates[$1].generalisation }) else { return nil }
        let bound = candidates[best].generalisation + candidates[best].standardError
        return eligible.filter { candidates[$0].generalisation <= bound }
            .min { (candidates[$0].terms, candidates[$0].generalisation) < (candidates[$1].terms, candidates[$1].generalisation) }
    }

    /// Each family's efficiency against the line, from the work behind its samples (at the
    /// serial share and φ of this model).
    func familyFactors(_ measured: [(sample: Sample, work: Double)]) -> [String: Double] {
        // Each member (one architecture, at any input) says once how far the family is from the
        // line, however many of its trials there are.
        var logRatios: [String: [Double: [Double]]] = [:]
        for (sample, work) in measured {
            guard let family = sample.features.family else { continue }
            logRatios[family, default: [:]][sample.features.architecture, default: []].append(log(max(work, 1) / max(workNs(sample.features), 1)))
        }
        return logRatios.mapValues { members in
            exp(members.values.reduce(0) { $0 + $1.reduce(0, +) / Double($1.count) } / Double(members.count + 1))
        }
    }

    /// Least squares of `work[i]` on the design's features over `rows`, each row weighted by
    /// 1/work so that the errors minimised are relative.
    static func relativeFit(_ design: [String], _ rows: some Collection<Int>, _ samples: [Sample], _ work: [Double],
                            intervals: Bool = false) throws(ModelingError) -> ScalingFit {
        let rows = Array(rows)
        let scale = rows.map { 1 / max(work[$0], 1) }
        return try ScalingFit.fit(designs: [design], samples: rows.count, value: { samples[rows[$1]].features.value($0) * scale[$1] },
                                  y: rows.indices.map { work[rows[$0]] * scale[$0] }, what: "compute model", nonNegative: true, intervals: intervals)
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
