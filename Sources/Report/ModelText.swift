import EdgeInsightCore
import Foundation
import Modeling
import Results

/// The model commands' text: validations, stage shares, held-out predictions.
public enum ModelText {
    /// How far predictions are from measurements: the headline, the table per metric, the worst p99s.
    public static func validation(_ v: Validation) -> String {
        var lines: [String] = []
        let p99 = v.errors.first { $0.metric == .latencyP99 }
        if let p99 { lines.append("p99 predicted within ±20% for \(percent(p99.within20)) of \(p99.trials) trials (mean error \(UnitFormat.significant(p99.mape))%)") }
        for (reason, count) in v.unpredicted.sorted(by: { $0.key < $1.key }) { lines.append("left out \(count) trial\(count == 1 ? "" : "s"): \(reason)") }
        var table = TextTable(["metric", "trials", "MAPE", "within ±10%", "within ±20%", "in 90% interval"])
        for e in v.errors { table.add([e.metric.key, String(e.trials), UnitFormat.significant(e.mape) + "%", percent(e.within10), percent(e.within20), e.insideBand.map(percent) ?? "-"]) }
        lines.append(table.rendered)
        var worst = TextTable(["worst p99", "measured", "predicted", "error", "stage most off"])
        for pair in v.worst(.latencyP99) {
            let c = pair.prediction.config
            worst.add(["\(c.model) \(Verdicts.placement(of: pair.trial))\(c.placement.usesCloud ? " " + c.link.profile : "") \(c.workload.resolution) q\(c.workload.jpegQuality)",
                       pair.trial.metric(.latencyP99).map { UnitFormat.significant($0) + " ms" } ?? "-",
                       pair.prediction.metric(.latencyP99).map { UnitFormat.significant($0) + " ms" } ?? "-",
                       pair.error(.latencyP99).map { String(format: "%+.0f%%", 100 * $0) } ?? "-",
                       pair.worstStage.map { "\($0.stage) \(String(format: "%+.3g", $0.ms)) ms" } ?? "-"])
        }
        lines.append(worst.rendered)
        return lines.joined(separator: "\n")
    }

    /// Each stage's share of the mean latency, by placement.
    public static func stageShares(_ records: [TrialRecord]) -> String {
        var table = TextTable(["model", "placement", "link", "resolution", "stages (share of mean latency)"])
        for record in records {
            let total = record.metric(.latencyMean) ?? 0
            let shares = record.stages.filter { $0.meanMs > 0.005 }.map { "\($0.stage) \(total > 0 ? String(format: "%.0f%%", 100 * $0.meanMs / total) : "-")" }
            let c = record.config
            table.add([c.model, c.placement.rawValue, c.placement.usesCloud ? c.link.profile : "-", c.workload.resolution.description, shares.joined(separator: ", ")])
        }
        return table.rendered
    }

    public static func percent(_ share: Double) -> String { String(format: "%.0f%%", 100 * share) }

    /// "predicted vs measured p99 for the held-out trials (…): edge 120 vs 131, 126 ms, …" — one
    /// entry per configuration, its repetitions' measurements after its one prediction.
    public static func heldOutLine(_ v: Validation, what: String) -> String {
        struct Entry: Hashable { var label: String, predicted: Double }
        var order: [Entry] = []
        var measured: [Entry: [Double]] = [:]
        for pair in v.pairs {
            let config = pair.prediction.config
            let entry = Entry(label: config.placement.rawValue + (config.placement.usesCloud ? " " + config.link.profile : ""),
                              predicted: pair.prediction.metric(.latencyP99) ?? 0)
            if measured[entry] == nil { order.append(entry) }
            measured[entry, default: []].append(pair.trial.metric(.latencyP99) ?? 0)
        }
        let pairs = order.map { entry in
            "\(entry.label) \(UnitFormat.significant(entry.predicted)) vs \(measured[entry]!.map(UnitFormat.significant).joined(separator: ", ")) ms"
        }
        let p99 = v.errors.first { $0.metric == .latencyP99 }
        return "predicted vs measured p99 for the held-out trials (\(what)): " + pairs.joined(separator: "; ")
            + (p99.map { " — \(percent($0.within20)) within ±20%" } ?? "")
    }
}
