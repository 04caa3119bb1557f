import EdgeInsightCore
import Foundation
import Results

/// Where the time of an item goes: per group of trials (a model, placement and link), a horizontal
/// bar of each stage's share of the mean end-to-end latency, stacked in pipeline order, with the
/// mean, p50 and p99 written beside it. Shares rather than milliseconds, because a 3 s satellite
/// round trip and a 10 ms edge inference must both stay readable on one page.
public enum StageChart {
    public struct Group: Sendable {
        public var label: String
        /// Mean of each stage, ms, in pipeline order.
        public var stages: [(stage: String, meanMs: Double)]
        public var p50Ms: Double
        public var p99Ms: Double
    }

    /// One group per model, placement and link, averaging its trials' stage means and percentiles.
    public static func groups(_ trials: [TrialRecord]) -> [Group] {
        let ok = trials.filter { $0.ok && !$0.stages.isEmpty }
        let keyed = Dictionary(grouping: ok) { t in
            [t.parameters["model"] ?? "?", Verdicts.placement(of: t), t.parameters["link"]].compactMap { $0 }.joined(separator: " · ")
        }
        return keyed.keys.sorted().map { label in
            let group = keyed[label]!
            let present = Set(group.flatMap { $0.stages.map(\.stage) })
            let stages = Stage.allCases.filter(present.contains).map { name in
                (name.rawValue, group.map { $0.stages.first { $0.stage == name }?.meanMs ?? 0 }.reduce(0, +) / Double(group.count))
            }
            func mean(_ metric: Metric) -> Double { group.compactMap { $0.metric(metric) }.reduce(0, +) / Double(max(1, group.compactMap { $0.metric(metric) }.count)) }
            return Group(label: label, stages: stages, p50Ms: mean(.latencyP50), p99Ms: mean(.latencyP99))
        }
    }

    public static func svg(_ groups: [Group], title: String) -> String {
        let stageNames = Stage.allCases.map(\.rawValue).filter { name in groups.contains { $0.stages.contains { $0.stage == name } } }
        let labelWidth = (groups.map { SVG.textWidth($0.label) }.max() ?? 60) + 16
        let (left, top, barHeight, gap, width) = (labelWidth, 70.0, 18.0, 10.0, 480.0)
        let height = top + Double(groups.count) * (barHeight + gap) + 60
        func x(_ share: Double) -> Double { left + share * width }
        var svg = SVG.opening(width: left + width + 250, height: height, title: title,
                              subtitle: "each bar: the stages' shares of the mean end-to-end latency, in pipeline order; mean, p50 and p99 at its right", left: left)
        // The legend: one swatch per stage, in pipeline order.
        var legendX = left
        for (i, name) in stageNames.enumerated() {
            svg += "<rect x=\"\(SVG.coordinate(legendX))\" y=\"46\" width=\"10\" height=\"10\" fill=\"\(colour(i))\"/><text x=\"\(SVG.coordinate(legendX + 13))\" y=\"55\">\(name)</text>"
            legendX += 22 + SVG.textWidth(name)
        }
        svg += "\n"
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            svg += "<line x1=\"\(SVG.coordinate(x(tick)))\" x2=\"\(SVG.coordinate(x(tick)))\" y1=\"\(top - 4)\" y2=\"\(SVG.coordinate(height - 50))\" stroke=\"#e5e5e5\"/>"
            svg += "<text x=\"\(SVG.coordinate(x(tick)))\" y=\"\(SVG.coordinate(height - 36))\" text-anchor=\"middle\">\(Int(tick * 100))%</text>\n"
        }
        svg += "<text x=\"\(SVG.coordinate(left + width / 2))\" y=\"\(SVG.coordinate(height - 16))\" text-anchor=\"middle\">share of the mean end-to-end latency</text>\n"
        for (g, group) in groups.enumerated() {
            let y = top + Double(g) * (barHeight + gap)
            svg += "<text x=\"\(SVG.coordinate(left - 8))\" y=\"\(SVG.coordinate(y + 13))\" text-anchor=\"end\">\(SVG.escape(group.label))</text>"
            let total = max(group.stages.reduce(0) { $0 + $1.meanMs }, 1e-9)
            var start = 0.0
            for (stage, ms) in group.stages where ms > 0 {
                let i = stageNames.firstIndex(of: stage) ?? 0
                let share = ms / total
                svg += "<rect class=\"stage\" data-group=\"\(SVG.escape(group.label))\" data-stage=\"\(stage)\" data-ms=\"\(ms)\" x=\"\(SVG.coordinate(x(start)))\" y=\"\(SVG.coordinate(y))\" width=\"\(SVG.coordinate(max(0.5, share * width)))\" height=\"\(barHeight)\" fill=\"\(colour(i))\" stroke=\"white\" stroke-width=\"0.5\"><title>\(SVG.escape("\(group.label): \(stage) \(SVG.label(ms, "ms")) (\(Int((share * 100).rounded()))%)"))</title></rect>"
                if share > 0.12 { svg += "<text x=\"\(SVG.coordinate(x(start + share / 2)))\" y=\"\(SVG.coordinate(y + 13))\" text-anchor=\"middle\" font-size=\"10\">\(stage)</text>" }
                start += share
            }
            svg += "<text x=\"\(SVG.coordinate(x(1) + 10))\" y=\"\(SVG.coordinate(y + 13))\">mean \(SVG.label(total, "ms")) · p50 \(SVG.label(group.p50Ms, "ms")) · p99 \(SVG.label(group.p99Ms, "ms"))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Stage colours alternate light and dark so neighbours stay apart in grey-scale print.
    static func colour(_ i: Int) -> String {
        let ordered = ["#4e79a7", "#f1ce63", "#59a14f", "#ff9d9a", "#b07aa1", "#a0cbe8", "#9c755f", "#ffbe7d", "#17becf", "#bab0ac", "#e15759"]
        return ordered[i % ordered.count]
    }
}
