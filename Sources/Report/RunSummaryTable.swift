import EdgeInsightCore
import Foundation
import Results

/// The short tables a run ends with.
public enum RunSummaryTable {
    /// Per placement and link (averaged over the other parameters): throughput, p50/p99, bytes per frame.
    public static func byPlacementAndLink(_ trials: [TrialRecord]) -> String {
        var groups: [String: [TrialRecord]] = [:]
        var order: [String] = []
        for trial in trials where trial.ok {
            let key = "\(trial.parameters["model"] ?? "?")|\(Verdicts.placement(of: trial))|\(trial.parameters["link"] ?? "-")"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(trial)
        }
        var table = TextTable(["model", "placement", "link", "trials", "throughput", "p50", "p99", "bytes/frame up", "stable"])
        for key in order.sorted() {
            let group = groups[key]!
            let parts = key.split(separator: "|").map(String.init)
            func mean(_ metric: Metric) -> Double? {
                let values = group.compactMap { $0.metric(metric) }
                return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
            }
            let bytes = mean(.uplinkBytesPerFrame) ?? mean(.frameBytes)
            table.add([parts[0], parts[1], parts[2], String(group.count),
                       mean(.throughput).map { UnitFormat.significant($0) + " fps" } ?? "-",
                       mean(.latencyP50).map { UnitFormat.significant($0) + " ms" } ?? "-",
                       mean(.latencyP99).map { UnitFormat.significant($0) + " ms" } ?? "-",
                       bytes.map { Bytes(Int64($0)).description + (parts[1].hasPrefix("edge") ? " (local)" : "") } ?? "-",
                       "\(group.filter { $0.metric(.stable) == 1 }.count)/\(group.count)"])
        }
        return table.rendered
    }

    /// What a run says when it ends: the table per placement and link, the verdicts, and for each
    /// model with edge and cloud-tensor trials how much slower the edge node inferred.
    public static func closing(_ trials: [TrialRecord]) -> [String] {
        var lines = [byPlacementAndLink(trials)] + Verdicts.placements(trials).map(\.sentence)
        for model in Set(trials.map(\.config.model)).sorted() {
            guard let check = confinementCheck(trials, model: model) else { continue }
            lines.append("\(model): inference on the edge node \(UnitFormat.significant(check.edgeMs)) ms vs \(UnitFormat.significant(check.cloudMs)) ms on the cloud node (\(UnitFormat.significant(check.edgeMs / check.cloudMs))×)")
        }
        return lines
    }

    /// A run's last line: how many trials ran and, when some failed, how many and why (the
    /// commonest reasons first).
    public static func lastLine(ran: Int, skipped: Int, interrupted: Bool, failures: [TrialRecord]) -> String {
        var line = "\(ran) trial\(ran == 1 ? "" : "s") run, \(skipped) already done, \(failures.count) failed"
        if !failures.isEmpty {
            let reasons = Dictionary(grouping: failures) { $0.reason ?? "no reason given" }.map { ($0.key, $0.value.count) }
                .sorted { ($0.1, $1.0) > ($1.1, $0.0) }
            line += ": " + reasons.prefix(3).map { "\($0.1)× \($0.0)" }.joined(separator: "; ") + (reasons.count > 3 ? "; …" : "")
            if failures.count == ran { line += " — every trial failed" }
        }
        return line + (interrupted ? " — stopped early; run again to resume" : "")
    }

    /// How much slower a model's inference is on the edge node than on the cloud node: the check that
    /// confinement is real. Cloud compute is taken from cloud-tensor trials, where the server only infers
    /// (for JPEG placements its compute time includes decoding); both on OpenVINO, so that the
    /// framework does not pass for confinement.
    public static func confinementCheck(_ trials: [TrialRecord], model: String) -> (edgeMs: Double, cloudMs: Double)? {
        let edge = trials.filter { $0.ok && $0.parameters["model"] == model && Verdicts.placement(of: $0) == "edge" }.compactMap { $0.metric(.stage(.infer)) }
        let cloud = trials.filter { $0.ok && $0.parameters["model"] == model && Verdicts.placement(of: $0) == "cloud-tensor" }.compactMap { $0.metric(.serverCompute) }
        guard !edge.isEmpty, !cloud.isEmpty else { return nil }
        return (edge.reduce(0, +) / Double(edge.count), cloud.reduce(0, +) / Double(cloud.count))
    }
}
