import EdgeInsightCore
import EdgeNode
import Foundation
import Results

/// Every verdict the tool states, decided in one place: which placement answers fastest for a model
/// over a link, and whether a device keeps up with its camera.
public enum Verdicts {
    /// One placement's p99 over the trials that stand for it.
    public struct Standing: Sendable, Equatable {
        public var placement: String
        /// Mean of its trials' p99, ms.
        public var meanP99Ms: Double
        /// The spread the mean comes from: the lowest and highest p99 of any measurement window of
        /// its trials (or of the trials, where windows were not kept), ms.
        public var lowMs: Double
        public var highMs: Double
        /// Trials that met the p99 SLO, of those that had one.
        public var sloMet: (met: Int, of: Int)?

        public static func == (a: Standing, b: Standing) -> Bool {
            a.placement == b.placement && a.meanP99Ms == b.meanP99Ms && a.lowMs == b.lowMs && a.highMs == b.highMs
                && a.sloMet?.met == b.sloMet?.met && a.sloMet?.of == b.sloMet?.of
        }
    }

    /// The answer for one model over one link: placements fastest first.
    public struct Placement: Sendable, Equatable {
        public var model: String
        public var link: String
        public var ranking: [Standing]
        /// The two fastest overlap in spread: the measurements cannot tell them apart.
        public var tied: Bool { ranking.count > 1 && ranking[1].lowMs <= ranking[0].highMs }

        /// "mobilenet_v2 over lte: edge is fastest, p99 45 ms (…); then cloud-raw 500 ms".
        public var sentence: String {
            let best = ranking[0]
            let ms = { (v: Double) in UnitFormat.significant(v) + " ms" }
            var line = tied
                ? "\(model) over \(link): \(best.placement) and \(ranking[1].placement) are tied, p99 \(ms(best.meanP99Ms)) and \(ms(ranking[1].meanP99Ms)) with overlapping spreads (\(ms(best.lowMs))–\(ms(best.highMs)), \(ms(ranking[1].lowMs))–\(ms(ranking[1].highMs)))"
                : "\(model) over \(link): \(best.placement) is fastest, p99 \(ms(best.meanP99Ms))"
            if !tied, let met = best.sloMet { line += " (meets the p99 SLO in \(met.met)/\(met.of) trials)" }
            let others = ranking.dropFirst(tied ? 2 : 1).map { "\($0.placement) \(ms($0.meanP99Ms))" }
            if !others.isEmpty { line += "; then \(others.joined(separator: ", "))" }
            return line
        }
    }

    /// For each model and link: placements ranked by mean p99 (edge trials stand for every link, as
    /// they use none).
    public static func placements(_ trials: [TrialRecord]) -> [Placement] {
        let ok = trials.filter(\.ok)
        let models = Array(Set(ok.compactMap { $0.parameters["model"] })).sorted()
        let links = Array(Set(ok.compactMap { $0.parameters["link"] })).sorted()
        var verdicts: [Placement] = []
        for model in models {
            for link in links {
                let candidates = ok.filter { $0.parameters["model"] == model && ($0.parameters["link"] == link || $0.parameters["placement"] == "edge") }
                let byPlacement = Dictionary(grouping: candidates) { placement(of: $0) }
                let ranking: [Standing] = byPlacement.compactMap { placement, group in
                    let p99s = group.compactMap { $0.metric(.latencyP99) }
                    guard !p99s.isEmpty else { return nil }
                    let spread = group.flatMap { trial in trial.windows.isEmpty ? trial.metric(.latencyP99).map { [$0] } ?? [] : trial.windows.map(\.p99Ms) }
                    let met = group.compactMap { $0.metric(.sloP99Met) }
                    return Standing(placement: placement, meanP99Ms: p99s.reduce(0, +) / Double(p99s.count),
                                    lowMs: spread.min() ?? p99s.min()!, highMs: spread.max() ?? p99s.max()!,
                                    sloMet: met.isEmpty ? nil : (Int(met.reduce(0, +)), met.count))
                }.sorted { ($0.meanP99Ms, $0.placement) < ($1.meanP99Ms, $1.placement) }
                if !ranking.isEmpty { verdicts.append(Placement(model: model, link: link, ranking: ranking)) }
            }
        }
        return verdicts
    }

    /// Where a trial ran, as verdicts and tables name it (`EngineKind.placementLabel`): a placement
    /// on another framework is a choice of its own.
    public static func placement(of trial: TrialRecord) -> String { EngineKind.placementLabel(trial.parameters) }

    /// A device keeps up when it dropped nothing and its queue wait did not grow: the last window's
    /// mean wait stays under twice the first's plus 5 ms (a queue that is filling grows without bound).
    public static func keepsUp(_ r: EdgePipelineReport) -> Bool {
        r.dropped == 0 && (r.timeline.last?.meanQueueMs ?? 0) < 2 * max(0.001, r.timeline.first?.meanQueueMs ?? 0) + 5
    }

    /// The device's verdict as a sentence.
    public static func device(_ r: EdgePipelineReport) -> String {
        keepsUp(r)
            ? "the device keeps up with \(String(format: "%.1f", r.offeredRate)) fps"
            : String(format: "the device cannot keep up: %.1f fps offered, %.1f fps processed; %d frames dropped, queue wait reached %@",
                     r.offeredRate, r.throughput, r.dropped, DurationText.format(nanoseconds: (r.timeline.map(\.meanQueueMs).max() ?? 0) * 1e6))
    }
}
