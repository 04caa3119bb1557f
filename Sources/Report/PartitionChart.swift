import EdgeInsightCore
import Foundation
import ModelZoo
import Modeling
import Results

/// A partition sweep at a glance: per link, one column per cut in the graph's order, the mean
/// latency stacked by stage in milliseconds (device: pre-processing and head; the wire: serialize
/// and network; the cloud: tail), the predicted mean as a tick beside it when a model predicted the
/// trials, and the measured best cut marked.
public enum PartitionChart {
    public struct Column: Sendable {
        public var cut: String
        public var stages: [(stage: Stage, meanMs: Double)]
        public var predictedMs: Double?
        public var meanMs: Double { stages.reduce(0) { $0 + $1.meanMs } }
    }

    /// Columns per link, cuts in `order` (the graph's); trials averaged per cut.
    public static func columns(_ trials: [TrialRecord], order: [String], predictions: [Validation.Pair] = []) -> [String: [Column]] {
        let partitions = trials.filter { $0.ok && $0.config.placement == .partition && $0.config.partition.after != nil }
        let byLink = Dictionary(grouping: partitions) { $0.config.link.profile }
        let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return byLink.mapValues { trials in
            Dictionary(grouping: trials) { $0.config.partition.after! }.map { cut, group -> Column in
                let stages = Stage.allCases.compactMap { stage -> (Stage, Double)? in
                    let values = group.compactMap { $0.stages.first { $0.stage == stage }?.meanMs }
                    return values.isEmpty ? nil : (stage, values.reduce(0, +) / Double(values.count))
                }
                let predicted = predictions.filter { $0.trial.config.partition.after == cut && $0.trial.config.link.profile == group[0].config.link.profile }
                    .compactMap { $0.prediction.metric(.latencyMean) }
                return Column(cut: cut, stages: stages, predictedMs: predicted.isEmpty ? nil : predicted.reduce(0, +) / Double(predicted.count))
            }.sorted { (rank[$0.cut] ?? .max, $0.cut) < (rank[$1.cut] ?? .max, $1.cut) }
        }
    }

    /// The cuts of `model` in the graph's order (empty when it cannot be read).
    public static func order(of model: String) -> [String] {
        ((try? ModelCut.points(of: model)) ?? []).map(\.after)
    }

    public static func svg(_ columns: [Column], link: String, model: String) -> String {
        let (left, top, plotHeight, columnWidth) = (60.0, 70.0, 260.0, 46.0)
        let width = left + Double(columns.count) * columnWidth + 40
        let highest = max(columns.map { max($0.meanMs, $0.predictedMs ?? 0) }.max() ?? 1, 1e-3) * 1.1
        func y(_ ms: Double) -> Double { top + plotHeight - ms / highest * plotHeight }
        let present = Stage.allCases.filter { stage in columns.contains { $0.stages.contains { $0.stage == stage } } }
        var svg = SVG.opening(width: max(width, 420), height: top + plotHeight + 70, title: "\(model) cut between device and cloud over \(link)",
                              subtitle: "mean latency per cut, stacked by stage (measured); a tick: predicted; ★ the measured best", left: left)
        var legendX = left
        for (i, stage) in present.enumerated() {
            svg += "<rect x=\"\(SVG.coordinate(legendX))\" y=\"46\" width=\"10\" height=\"10\" fill=\"\(StageChart.colour(i))\"/><text x=\"\(SVG.coordinate(legendX + 13))\" y=\"55\">\(stage.rawValue)</text>"
            legendX += 22 + SVG.textWidth(stage.rawValue)
        }
        svg += "<line x1=\"\(left)\" x2=\"\(SVG.coordinate(width - 30))\" y1=\"\(SVG.coordinate(y(0)))\" y2=\"\(SVG.coordinate(y(0)))\" stroke=\"#999\"/>\n"
        svg += "<text x=\"\(SVG.coordinate(left - 6))\" y=\"\(SVG.coordinate(y(highest / 1.1)))\" text-anchor=\"end\">\(SVG.label(highest / 1.1, "ms"))</text>\n"
        let best = columns.min { $0.meanMs < $1.meanMs }?.cut
        for (c, column) in columns.enumerated() {
            let x = left + Double(c) * columnWidth + 8
            var base = 0.0
            for (stage, ms) in column.stages where ms > 0 {
                let i = present.firstIndex(of: stage) ?? 0
                svg += "<rect class=\"cut-stage\" data-cut=\"\(SVG.escape(column.cut))\" data-stage=\"\(stage.rawValue)\" data-ms=\"\(ms)\" x=\"\(SVG.coordinate(x))\" y=\"\(SVG.coordinate(y(base + ms)))\" width=\"\(columnWidth - 16)\" height=\"\(SVG.coordinate(max(0.5, ms / highest * plotHeight)))\" fill=\"\(StageChart.colour(i))\"><title>\(SVG.escape("after \(column.cut): \(stage.rawValue) \(SVG.label(ms, "ms"))"))</title></rect>"
                base += ms
            }
            if let predicted = column.predictedMs {
                svg += "<line class=\"predicted\" data-cut=\"\(SVG.escape(column.cut))\" data-ms=\"\(predicted)\" x1=\"\(SVG.coordinate(x - 4))\" x2=\"\(SVG.coordinate(x + columnWidth - 12))\" y1=\"\(SVG.coordinate(y(predicted)))\" y2=\"\(SVG.coordinate(y(predicted)))\" stroke=\"#000\" stroke-width=\"2\"><title>predicted \(SVG.label(predicted, "ms"))</title></line>"
            }
            if column.cut == best { svg += "<text x=\"\(SVG.coordinate(x + (columnWidth - 16) / 2))\" y=\"\(SVG.coordinate(y(base) - 6))\" text-anchor=\"middle\">★</text>" }
            svg += "<text x=\"\(SVG.coordinate(x + (columnWidth - 16) / 2))\" y=\"\(SVG.coordinate(y(0) + 16))\" text-anchor=\"middle\" font-size=\"10\">\(SVG.escape(column.cut))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
