import EdgeInsightCore
import Foundation
import Results

/// Where the time of an item goes: per group of trials (a model, placement and link), a horizontal
/// bar of each stage's mean stacked in pipeline order, with the group's end-to-end p50 and p99 marked
/// on the same axis. The stacked means add up to the mean end-to-end latency; the marks show how far
/// the median and the tail sit from it.
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
            [t.parameters["model"] ?? "?", t.parameters["placement"] ?? "?", t.parameters["link"]].compactMap { $0 }.joined(separator: " · ")
        }
        let order = Stage.allCases.map(\.rawValue)
        return keyed.keys.sorted().map { label in
            let group = keyed[label]!
            let names = Set(group.flatMap { $0.stages.map(\.stage) }).sorted { (order.firstIndex(of: $0) ?? 99, $0) < (order.firstIndex(of: $1) ?? 99, $1) }
            let stages = names.map { name in
                (name, group.map { $0.stages.first { $0.stage == name }?.meanMs ?? 0 }.reduce(0, +) / Double(group.count))
            }
            func mean(_ metric: String) -> Double { group.compactMap { $0.metric(metric) }.reduce(0, +) / Double(max(1, group.compactMap { $0.metric(metric) }.count)) }
            return Group(label: label, stages: stages, p50Ms: mean("latency_p50_ms"), p99Ms: mean("latency_p99_ms"))
        }
    }

    public static func svg(_ groups: [Group], title: String) -> String {
        let stageNames = Stage.allCases.map(\.rawValue).filter { name in groups.contains { $0.stages.contains { $0.stage == name } } }
        let high = groups.map { max($0.p99Ms, $0.stages.reduce(0) { $0 + $1.meanMs }) }.max() ?? 1
        let axis = SVG.Axis(low: 0, high: high * 1.05, allowLogarithmic: false)
        let labelWidth = (groups.map { SVG.textWidth($0.label) }.max() ?? 60) + 16
        let (left, top, barHeight, gap, width) = (labelWidth, 70.0, 18.0, 10.0, 560.0)
        let height = top + Double(groups.count) * (barHeight + gap) + 60
        func x(_ ms: Double) -> Double { left + axis.fraction(ms) * width }
        var svg = SVG.opening(width: left + width + 30, height: height, title: title,
                              subtitle: "bars: mean time per stage, stacked in order; ◆ end-to-end p50, ▲ p99 (ms)", left: left)
        // The legend: one swatch per stage, in pipeline order.
        var legendX = left
        for (i, name) in stageNames.enumerated() {
            svg += "<rect x=\"\(SVG.coordinate(legendX))\" y=\"46\" width=\"10\" height=\"10\" fill=\"\(colour(i))\"/><text x=\"\(SVG.coordinate(legendX + 13))\" y=\"55\">\(name)</text>"
            legendX += 22 + SVG.textWidth(name)
        }
        svg += "\n"
        for tick in axis.ticks where tick <= axis.upper {
            svg += "<line x1=\"\(SVG.coordinate(x(tick)))\" x2=\"\(SVG.coordinate(x(tick)))\" y1=\"\(top - 4)\" y2=\"\(SVG.coordinate(height - 50))\" stroke=\"#e5e5e5\"/>"
            svg += "<text x=\"\(SVG.coordinate(x(tick)))\" y=\"\(SVG.coordinate(height - 36))\" text-anchor=\"middle\">\(SVG.label(tick))</text>\n"
        }
        svg += "<text x=\"\(SVG.coordinate(left + width / 2))\" y=\"\(SVG.coordinate(height - 16))\" text-anchor=\"middle\">latency (ms)</text>\n"
        for (g, group) in groups.enumerated() {
            let y = top + Double(g) * (barHeight + gap)
            svg += "<text x=\"\(SVG.coordinate(left - 8))\" y=\"\(SVG.coordinate(y + 13))\" text-anchor=\"end\">\(SVG.escape(group.label))</text>"
            var start = 0.0
            for (stage, ms) in group.stages where ms > 0 {
                let i = stageNames.firstIndex(of: stage) ?? 0
                svg += "<rect class=\"stage\" data-group=\"\(SVG.escape(group.label))\" data-stage=\"\(stage)\" data-ms=\"\(ms)\" x=\"\(SVG.coordinate(x(start)))\" y=\"\(SVG.coordinate(y))\" width=\"\(SVG.coordinate(max(0.5, x(start + ms) - x(start))))\" height=\"\(barHeight)\" fill=\"\(colour(i))\" stroke=\"white\" stroke-width=\"0.5\"><title>\(SVG.escape("\(group.label): \(stage) \(SVG.label(ms, "ms"))"))</title></rect>"
                start += ms
            }
            let mid = y + barHeight / 2
            svg += "<path d=\"M\(SVG.coordinate(x(group.p50Ms))) \(SVG.coordinate(mid - 6)) l5 6 l-5 6 l-5 -6 z\" fill=\"#111\"><title>p50 \(SVG.label(group.p50Ms, "ms"))</title></path>"
            svg += "<path d=\"M\(SVG.coordinate(x(group.p99Ms))) \(SVG.coordinate(mid - 7)) l6 12 l-12 0 z\" fill=\"white\" stroke=\"#111\" stroke-width=\"1.5\"><title>p99 \(SVG.label(group.p99Ms, "ms"))</title></path>\n"
        }
        return svg + "</svg>\n"
    }

    /// Stage colours alternate light and dark so neighbours stay apart in grey-scale print.
    static func colour(_ i: Int) -> String {
        let ordered = ["#4e79a7", "#f1ce63", "#59a14f", "#ff9d9a", "#b07aa1", "#a0cbe8", "#9c755f", "#ffbe7d", "#17becf", "#bab0ac", "#e15759"]
        return ordered[i % ordered.count]
    }
}
