import EdgeInsightCore
import Foundation
import Planner

/// The plan's chart: every candidate's monthly cost per camera against its predicted p99, the
/// Pareto front joined by a line, the SLO as a vertical rule, the recommendation ringed.
public enum PlanChart {
    public static func costAgainstP99(_ r: PlanResult) -> String {
        let points = r.ranked.filter { $0.p99Ms.isFinite && $0.p99Ms > 0 && $0.costPerCamera > 0 }
        let (left, top, width, height) = (80.0, 60.0, 520.0, 340.0)
        let xAxis = SVG.Axis(low: (points.map(\.p99Ms).min() ?? 1) * 0.8, high: (points.map(\.p99Ms).max() ?? 1) * 1.2)
        let yAxis = SVG.Axis(low: (points.map(\.costPerCamera).min() ?? 1) * 0.8, high: (points.map(\.costPerCamera).max() ?? 1) * 1.2)
        func x(_ v: Double) -> Double { left + xAxis.fraction(v) * width }
        func y(_ v: Double) -> Double { top + height - yAxis.fraction(v) * height }
        let placements = Placement.allCases.map(\.rawValue)
        var svg = SVG.opening(width: left + width + 150, height: top + height + 60, title: "plan \(r.plan.name): cost against p99",
                              subtitle: "\(points.count) candidates; the line joins the Pareto front (cost, p99, top-1); ringed: the recommendation", left: left)
        svg += SVG.frame(left: left, top: top, width: width, height: height, x: xAxis, y: yAxis,
                         xTitle: "predicted p99 (ms)", yTitle: "cost per camera (US$ a month)")
        if let limit = r.plan.maxP99?.nanoseconds, limit / 1e6 <= xAxis.upper {
            let at = SVG.coordinate(x(limit / 1e6))
            svg += "<line x1=\"\(at)\" y1=\"\(top)\" x2=\"\(at)\" y2=\"\(top + height)\" stroke=\"#e15759\" stroke-dasharray=\"4 3\"/>\n"
            svg += "<text x=\"\(at)\" y=\"\(top - 4)\" text-anchor=\"middle\" fill=\"#e15759\">SLO</text>\n"
        }
        for e in points {
            let colour = SVG.palette[(placements.firstIndex(of: e.candidate.config.placement.rawValue) ?? 0) % SVG.palette.count]
            svg += "<circle cx=\"\(SVG.coordinate(x(e.p99Ms)))\" cy=\"\(SVG.coordinate(y(e.costPerCamera)))\" r=\"3\" fill=\"\(colour)\" fill-opacity=\"\(e.feasible ? 0.9 : 0.25)\">"
                + "<title>\(SVG.escape(e.candidate.label)): p99 \(SVG.label(e.p99Ms, "ms")), $\(SVG.label(e.costPerCamera))\(e.feasible ? "" : "; " + SVG.escape(e.blocking.joined(separator: "; ")))</title></circle>\n"
        }
        let front = r.pareto.sorted { $0.p99Ms < $1.p99Ms }
        if front.count > 1 {
            svg += "<polyline fill=\"none\" stroke=\"#333\" points=\"\(front.map { "\(SVG.coordinate(x($0.p99Ms))),\(SVG.coordinate(y($0.costPerCamera)))" }.joined(separator: " "))\"/>\n"
        }
        if let best = r.recommended {
            svg += "<circle cx=\"\(SVG.coordinate(x(best.p99Ms)))\" cy=\"\(SVG.coordinate(y(best.costPerCamera)))\" r=\"8\" fill=\"none\" stroke=\"#333\" stroke-width=\"2\"/>\n"
        }
        for (i, placement) in placements.enumerated() {
            let ly = top + 14 + Double(i) * 16
            svg += "<circle cx=\"\(SVG.coordinate(left + width + 16))\" cy=\"\(SVG.coordinate(ly - 4))\" r=\"4\" fill=\"\(SVG.palette[i % SVG.palette.count])\"/>"
                + "<text x=\"\(SVG.coordinate(left + width + 26))\" y=\"\(SVG.coordinate(ly))\">\(placement)</text>\n"
        }
        return svg + "</svg>\n"
    }
}
