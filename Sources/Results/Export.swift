import Foundation

/// Exports of a run's trials for analysis tools.
public enum ResultsExport {
    /// One row per trial: its number, status and reason, every parameter, then every metric (with its
    /// unit in the column name), columns in a stable order.
    public static func csv(_ trials: [TrialRecord]) -> String {
        let parameterNames = Set(trials.flatMap(\.parameters.keys)).sorted()
        // The table's order, for the metrics any trial has.
        let present = Set(trials.flatMap { $0.metrics.map(\.metric) })
        let metricOrder = Metric.all.filter(present.contains)
        var header = ["trial", "repetition", "status", "reason"] + parameterNames
        header += metricOrder.map { $0.unit.isEmpty ? $0.key : "\($0.key) [\($0.unit)]" }
        var lines = [header.map(field).joined(separator: ",")]
        for (index, trial) in trials.enumerated() {
            var row = [String(index + 1), String(trial.repetition), trial.ok ? "ok" : "failed", trial.reason ?? ""]
            row += parameterNames.map { trial.parameters[$0] ?? "" }
            row += metricOrder.map { metric in trial.metric(metric).map { String($0) } ?? "" }
            lines.append(row.map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Long ("tidy") records: one per trial and metric, each carrying the trial's parameters, ready
    /// for `pandas.DataFrame(json.load(f))`.
    public static func longJSON(_ trials: [TrialRecord]) throws -> String {
        var records: [[String: JSONScalar]] = []
        for (index, trial) in trials.enumerated() {
            var base: [String: JSONScalar] = ["trial": .number(Double(index + 1)), "repetition": .number(Double(trial.repetition)),
                                              "status": .text(trial.ok ? "ok" : "failed")]
            if let reason = trial.reason { base["reason"] = .text(reason) }
            for (key, value) in trial.parameters { base[key] = .text(value) }
            if trial.metrics.isEmpty { records.append(base) }
            for metric in trial.metrics {
                var record = base
                record["metric"] = .text(metric.metric.key)
                record["value"] = .number(metric.value)
                record["unit"] = .text(metric.metric.unit)
                records.append(record)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(records), as: UTF8.self)
    }

    /// A JSON value that is a number or text.
    enum JSONScalar: Encodable {
        case number(Double), text(String)
        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .number(let value): try container.encode(value)
            case .text(let value): try container.encode(value)
            }
        }
    }

    /// RFC 4180 quoting where needed.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
