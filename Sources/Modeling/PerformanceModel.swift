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
    /// What its trials spanned (nil in older files): predictions outside it say so.
    public var extent: FittedExtent?
    /// The broker path's cost beyond the link's physics (`transport: mqtt`): coefficients
    /// [ns per message, ns per request byte] (per message alone when the trials' requests were all
    /// of one size), non-negative, with 90% intervals; nil when the model
    /// saw no trial through a broker (HTTP's overhead then stands in, and the prediction says so).
    public var broker: LinearFit?
    /// What predictions look up (other models' features, link profiles), kept between them.
    let cache = PredictionCache()

    enum CodingKeys: String, CodingKey {
        case schemaVersion, environment, fittedOn, compute, codec, fixedNs, serverExtra, requestOverheadNs, requestHeaderBytes, responseBytes, spread, spreadFixedNs, features, extent, broker
    }

}

/// Features, link profiles and partitions' cuts looked up once for all the predictions of a model.
final class PredictionCache: Sendable {
    private let state = Mutex<(features: [String: ModelFeatures], profiles: LinkProfiles?, cuts: [String: (head: String, tail: String, point: CutPoint)])>(([:], nil, [:]))

    /// The head's and tail's files of a cut (reading and analysing the model once per cut, not per prediction).
    func cut(_ model: String, after: String, activation: ActivationEncoding) throws(ZooError) -> (head: String, tail: String, point: CutPoint) {
        let key = model + "|" + after + "|" + activation.rawValue
        if let known = state.withLock({ $0.cuts[key] }) { return known }
        let made = try ModelCut.files(model, after: after, activation: activation)
        state.withLock { $0.cuts[key] = made }
        return made
    }

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
