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

extension PlanChart {
    /// Monthly cost against the number of cameras, for the recommendation and the best candidate of
    /// each placement: n · (device, energy, data per camera) + ⌈n / cameras per node⌉ · node price.
    /// An edge line is straight; a cloud line steps up each time the fleet needs another node.
    public static func costAgainstCameras(_ r: PlanResult) -> String {
        var lines: [(String, Evaluation)] = []
        for placement in Placement.allCases {
            if let best = r.ranked.filter(\.feasible).first(where: { $0.candidate.config.placement == placement }) { lines.append((placement.rawValue, best)) }
        }
        let fewest = r.plan.cameraRange?.lowerBound ?? 1
        let most = r.plan.cameraRange?.upperBound ?? max(2 * r.plan.cameras, 10)
        let counts = Array(Set((0...40).map { Int((Double(fewest) * pow(Double(most) / Double(fewest), Double($0) / 40)).rounded()) })).sorted()
        let values = lines.flatMap { line in counts.map { line.1.monthlyCost(cameras: $0) } }.filter { $0 > 0 }
        let (left, top, width, height) = (90.0, 60.0, 520.0, 320.0)
        let xAxis = SVG.Axis(low: Double(fewest), high: Double(most))
        let yAxis = SVG.Axis(low: (values.min() ?? 1) * 0.8, high: (values.max() ?? 1) * 1.2)
        let legendWidth = (lines.map { SVG.textWidth($0.1.candidate.label) }.max() ?? 100) + 50
        var svg = SVG.opening(width: left + width + legendWidth, height: top + height + 60, title: "plan \(r.plan.name): cost against cameras",
                              subtitle: "the best feasible candidate of each placement; the plan sizes for \(r.plan.cameras) (dashed)", left: left)
        svg += SVG.frame(left: left, top: top, width: width, height: height, x: xAxis, y: yAxis, xTitle: "cameras", yTitle: "cost (US$ a month)")
        let planned = SVG.coordinate(left + xAxis.fraction(Double(r.plan.cameras)) * width)
        svg += "<line x1=\"\(planned)\" y1=\"\(top)\" x2=\"\(planned)\" y2=\"\(top + height)\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n"
        for (i, (name, e)) in lines.enumerated() {
            let colour = SVG.palette[(Placement.allCases.map(\.rawValue).firstIndex(of: name) ?? i) % SVG.palette.count]
            let points = counts.map { "\(SVG.coordinate(left + xAxis.fraction(Double($0)) * width)),\(SVG.coordinate(top + height - yAxis.fraction(e.monthlyCost(cameras: $0)) * height))" }
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"><title>\(SVG.escape(e.candidate.label))</title></polyline>\n"
            let ly = top + 14 + Double(i) * 16
            svg += "<line x1=\"\(SVG.coordinate(left + width + 12))\" x2=\"\(SVG.coordinate(left + width + 28))\" y1=\"\(SVG.coordinate(ly - 4))\" y2=\"\(SVG.coordinate(ly - 4))\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(SVG.coordinate(left + width + 34))\" y=\"\(SVG.coordinate(ly))\">\(SVG.escape(e.candidate.label))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Predicted p99 against uplink bandwidth for each cloud placement of one model, a line per link
    /// profile (its RTT, jitter and loss kept), the best edge p99 as a dashed rule and the crossover
    /// bandwidths marked where the cloud-raw line crosses it.
    public static func p99AgainstUplink(_ r: PlanResult, model: String) -> String? {
        let curves = r.uplinkCurves.filter { $0.model == model }
        guard !curves.isEmpty else { return nil }
        let crossings = r.crossovers.filter { $0.model == model }
        let values = curves.flatMap { $0.points.map(\.p99Ms) }.filter(\.isFinite) + crossings.map(\.edgeP99Ms)
        let (left, top, width, height) = (80.0, 60.0, 520.0, 320.0)
        let xAxis = SVG.Axis(low: 0.1, high: 1000)
        let yAxis = SVG.Axis(low: max((values.min() ?? 1) * 0.8, 0.1), high: (values.max() ?? 1) * 1.2)
        func x(_ bps: Double) -> Double { left + xAxis.fraction(bps / 1e6) * width }
        func y(_ ms: Double) -> Double { top + height - yAxis.fraction(min(max(ms, yAxis.lower), yAxis.upper)) * height }
        var svg = SVG.opening(width: left + width + 230, height: top + height + 60, title: "plan \(r.plan.name): \(model) p99 against uplink",
                              subtitle: "solid: cloud-raw, dashed: cloud-tensor, dotted: split; grey rule: best edge p99; ● crossover", left: left)
        svg += SVG.frame(left: left, top: top, width: width, height: height, x: xAxis, y: yAxis, xTitle: "uplink (Mbit/s)", yTitle: "predicted p99 (ms)")
        if let edge = crossings.first?.edgeP99Ms {
            svg += "<line x1=\"\(left)\" x2=\"\(left + width)\" y1=\"\(SVG.coordinate(y(edge)))\" y2=\"\(SVG.coordinate(y(edge)))\" stroke=\"#888\" stroke-dasharray=\"6 3\"><title>best edge p99 \(SVG.label(edge, "ms"))</title></line>\n"
        }
        let links = Array(Set(curves.map(\.link))).sorted()
        for curve in curves {
            let colour = SVG.palette[(links.firstIndex(of: curve.link) ?? 0) % SVG.palette.count]
            let dash = curve.placement == .cloudRaw ? "" : curve.placement == .cloudTensor ? " stroke-dasharray=\"6 3\"" : " stroke-dasharray=\"2 3\""
            let points = curve.points.filter { $0.p99Ms.isFinite }.map { "\(SVG.coordinate(x($0.bitsPerSecond))),\(SVG.coordinate(y($0.p99Ms)))" }
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash) points=\"\(points.joined(separator: " "))\"><title>\(curve.placement.rawValue) over \(curve.link)</title></polyline>\n"
        }
        for crossing in crossings {
            guard let bandwidth = crossing.bandwidth else { continue }
            let colour = SVG.palette[(links.firstIndex(of: crossing.link) ?? 0) % SVG.palette.count]
            svg += "<circle cx=\"\(SVG.coordinate(x(bandwidth.bitsPerSecond)))\" cy=\"\(SVG.coordinate(y(crossing.edgeP99Ms)))\" r=\"5\" fill=\"\(colour)\" stroke=\"#111\"><title>over \(crossing.link), cloud-raw beats the edge above \(bandwidth)</title></circle>\n"
        }
        for (i, link) in links.enumerated() {
            let ly = top + 14 + Double(i) * 16
            svg += "<rect x=\"\(SVG.coordinate(left + width + 14))\" y=\"\(SVG.coordinate(ly - 9))\" width=\"12\" height=\"10\" fill=\"\(SVG.palette[i % SVG.palette.count])\"/><text x=\"\(SVG.coordinate(left + width + 32))\" y=\"\(SVG.coordinate(ly))\">\(SVG.escape(link))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
