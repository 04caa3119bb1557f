import EdgeInsightCore
import Foundation
import LoadGen

/// The latency–throughput curve of a load sweep as SVG: for each step, its throughput (x) against
/// its p50, p90 and p99 latency (y), a line per percentile, each point labelled with the step's
/// concurrency or rate — the picture perf_analyzer users draw from its CSV. The knee is where the
/// lines turn up: past it more load buys queueing, not throughput.
public enum LatencyCurve {
    public static func svg(_ steps: [StepResult], title: String) -> String {
        let points = steps.filter { $0.latency.count > 0 }
        let percentiles: [(String, (LatencySummary) -> Double)] = [("p50", \.p50Ns), ("p90", \.p90Ns), ("p99", \.p99Ns)]
        let latencies = points.flatMap { step in percentiles.map { $0.1(step.latency) / 1e6 } }
        let yAxis = SVG.Axis(low: latencies.min() ?? 1, high: latencies.max() ?? 1)
        let xAxis = SVG.Axis(low: 0, high: points.map(\.requestsPerSecond).max() ?? 1, allowLogarithmic: false)
        let (left, top, plotWidth, plotHeight) = (70.0, 50.0, 460.0, 260.0)
        let subtitle = "latency (ms) against throughput (req/s), a point per step\(yAxis.logarithmic ? ", log scale" : "")"
        func x(_ value: Double) -> Double { left + xAxis.fraction(value) * plotWidth }
        func y(_ value: Double) -> Double { top + plotHeight - yAxis.fraction(value) * plotHeight }
        let width = max(left + plotWidth + 90, left + SVG.textWidth(subtitle) + 10), height = top + plotHeight + 50
        var svg = SVG.opening(width: width, height: height, title: title, subtitle: subtitle, left: left)
        for tick in yAxis.ticks {
            svg += "<line x1=\"\(left)\" x2=\"\(left + plotWidth)\" y1=\"\(SVG.coordinate(y(tick)))\" y2=\"\(SVG.coordinate(y(tick)))\" stroke=\"#e5e5e5\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(SVG.coordinate(y(tick) + 4))\" text-anchor=\"end\" fill=\"#555\">\(SVG.label(tick, "ms"))</text>\n"
        }
        for tick in xAxis.ticks {
            svg += "<text x=\"\(SVG.coordinate(x(tick)))\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\" fill=\"#555\">\(SVG.label(tick))</text>\n"
        }
        svg += "<text x=\"\(left + plotWidth / 2)\" y=\"\(top + plotHeight + 34)\" text-anchor=\"middle\">throughput (req/s)</text>\n"
        svg += "<path d=\"M\(left),\(top) V\(top + plotHeight) H\(left + plotWidth)\" fill=\"none\" stroke=\"#333\"/>\n"
        for (index, (name, value)) in percentiles.enumerated() {
            let colour = SVG.palette[index]
            let coordinates = points.map { "\(SVG.coordinate(x($0.requestsPerSecond))),\(SVG.coordinate(y(value($0.latency) / 1e6)))" }
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(coordinates.joined(separator: " "))\"/>\n"
            for step in points {
                let ms = value(step.latency) / 1e6
                svg += "<circle class=\"point\" data-percentile=\"\(name)\" data-throughput=\"\(step.requestsPerSecond)\" data-ms=\"\(ms)\" "
                svg += "cx=\"\(SVG.coordinate(x(step.requestsPerSecond)))\" cy=\"\(SVG.coordinate(y(ms)))\" r=\"3\" fill=\"\(colour)\">"
                svg += "<title>\(SVG.escape("\(load(step)): \(SVG.label(step.requestsPerSecond, "req/s")), \(name) \(SVG.label(ms, "ms"))"))</title></circle>\n"
            }
            svg += "<text x=\"\(left + plotWidth + 12)\" y=\"\(top + 12 + Double(index) * 16)\" fill=\"\(colour)\" font-weight=\"bold\">\(name)</text>\n"
        }
        for step in points {   // which load each point is, above its p99
            svg += "<text x=\"\(SVG.coordinate(x(step.requestsPerSecond)))\" y=\"\(SVG.coordinate(y(step.latency.p99Ns / 1e6) - 7))\" text-anchor=\"middle\" font-size=\"9\" fill=\"#555\">\(SVG.escape(load(step)))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// The step's load: its concurrency, or its target rate.
    static func load(_ step: StepResult) -> String {
        if let concurrency = step.concurrency { return "c=\(concurrency)" }
        if let rate = step.targetRate { return "r=\(SVG.label(rate))" }
        return step.mode
    }
}
