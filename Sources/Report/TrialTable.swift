import EdgeInsightCore
import Foundation
import Results

/// A row per trial: what `results show` and `predict` print, so they compare column by column.
public enum TrialTable {
    /// The settings every table shows; any other the trials set differently gets a column of its
    /// own (a sweep over `device.cpu` would otherwise print rows that look alike).
    static let shown = ["model", "placement", "link", "workload.resolution", "workload.jpeg_quality"]

    public static func of(_ trials: [TrialRecord]) -> TextTable {
        let names = Set(trials.flatMap(\.parameters.keys)).subtracting(shown).filter { name in
            // How the testbed applied a setting is not a setting.
            !name.hasSuffix(".confinement") && !name.hasSuffix(".shaping") && Set(trials.map { $0.parameters[name] ?? "" }).count > 1
        }.sorted()
        var table = TextTable(["#", "model", "placement", "link", "resolution", "q"] + names + ["status", "fps", "p50", "p99", "up/frame"])
        for (index, trial) in trials.enumerated() {
            let p = trial.parameters
            func ms(_ metric: Metric) -> String { trial.metric(metric).map { UnitFormat.significant($0) + " ms" } ?? "-" }
            let upPerFrame = trial.metric(.uplinkBytesPerFrame) ?? trial.metric(.requestBytes)
            let setting: [String] = [p["model"] ?? "", Verdicts.placement(of: trial), p["link"] ?? "-", p["workload.resolution"] ?? "", p["workload.jpeg_quality"] ?? ""]
            let measured: [String] = [trial.ok ? "ok" : "failed", trial.metric(.throughput).map { UnitFormat.significant($0) + " fps" } ?? "-",
                                      ms(.latencyP50), ms(.latencyP99), upPerFrame.map { Bytes(Int64($0)).description } ?? "-"]
            table.add([String(index + 1)] + setting + names.map { p[$0] ?? "-" } + measured)
        }
        return table
    }
}
