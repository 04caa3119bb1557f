import EdgeInsightCore
import Foundation
import Modeling
import Results

/// The modeling charts: predicted against measured, and a USL fit over its points.
public enum ModelCharts {
    /// Predicted against measured on one metric: a point per trial, the diagonal, and the ±10% band.
    public static func predictedVersusMeasured(_ validation: Validation, metric: Metric, title: String) -> String {
        let unit = metric.unit
        let points = validation.pairs.compactMap { pair -> (Double, Double, String)? in
            guard let m = pair.trial.metric(metric), let p = pair.prediction.metric(metric), m > 0, p > 0 else { return nil }
            return (m, p, pair.prediction.config.model + " " + pair.prediction.config.placement.rawValue)
        }
        let all = points.flatMap { [$0.0, $0.1] }
        let axis = SVG.Axis(low: (all.min() ?? 1) * 0.8, high: (all.max() ?? 1) * 1.2)
        let (left, top, size) = (70.0, 60.0, 380.0)
        func x(_ v: Double) -> Double { left + axis.fraction(v) * size }
        func y(_ v: Double) -> Double { top + size - axis.fraction(v) * size }
        var svg = SVG.opening(width: left + size + 30, height: top + size + 60, title: title,
                              subtitle: "\(points.count) trials; the band is ±10% of measured", left: left)
        // The ±10% band as a polygon along the diagonal.
        let lo = axis.logarithmic ? axis.lower : max(axis.upper / 1000, 1e-9), hi = axis.upper
        let band = [(lo, lo * 1.1), (hi / 1.1, hi), (hi, hi), (hi, hi * 0.9), (lo, lo * 0.9)]
        svg += "<polygon fill=\"#dddddd\" points=\"\(band.map { "\(SVG.coordinate(x($0.0))),\(SVG.coordinate(y(min($0.1, hi))))" }.joined(separator: " "))\"/>\n"
        svg += "<line x1=\"\(SVG.coordinate(x(lo)))\" y1=\"\(SVG.coordinate(y(lo)))\" x2=\"\(SVG.coordinate(x(hi)))\" y2=\"\(SVG.coordinate(y(hi)))\" stroke=\"#888\"/>\n"
        svg += SVG.frame(left: left, top: top, width: size, height: size, x: axis, y: axis, xTitle: "measured \(metric) (\(unit))", yTitle: "predicted (\(unit))")
        let labels = Array(Set(points.map(\.2))).sorted()
        for (m, p, label) in points {
            let colour = SVG.palette[(labels.firstIndex(of: label) ?? 0) % SVG.palette.count]
            svg += "<circle cx=\"\(SVG.coordinate(x(m)))\" cy=\"\(SVG.coordinate(y(p)))\" r=\"4\" fill=\"\(colour)\"><title>\(SVG.escape(label)): measured \(SVG.label(m, unit)), predicted \(SVG.label(p, unit))</title></circle>\n"
        }
        return svg + "</svg>\n"
    }

    /// A USL fit: its points and the fitted curve, throughput against concurrency.
    public static func usl(_ fit: USLFit, points: [(concurrency: Double, throughput: Double)], title: String) -> String {
        let (left, top, width, height) = (70.0, 60.0, 460.0, 300.0)
        let maxN = (points.map(\.concurrency).max() ?? 1) * 1.1
        let xAxis = SVG.Axis(low: 0, high: maxN, allowLogarithmic: false)
        let curve = stride(from: 1.0, through: xAxis.upper, by: max(xAxis.upper / 200, 0.05)).map { ($0, fit.model.throughput($0)) }
        let yAxis = SVG.Axis(low: 0, high: max(points.map(\.throughput).max() ?? 1, curve.map(\.1).max() ?? 1) * 1.05, allowLogarithmic: false)
        func x(_ v: Double) -> Double { left + xAxis.fraction(v) * width }
        func y(_ v: Double) -> Double { top + height - yAxis.fraction(v) * height }
        let m = fit.model
        var svg = SVG.opening(width: left + width + 30, height: top + height + 60, title: title,
                              subtitle: "λ \(SVG.label(m.lambda))/s, σ \(String(format: "%.3g", m.sigma)), κ \(String(format: "%.3g", m.kappa))"
                                + (m.peakConcurrency.map { ", peak at N = \(SVG.label($0))" } ?? ", no peak (κ = 0)"), left: left)
        svg += SVG.frame(left: left, top: top, width: width, height: height, x: xAxis, y: yAxis,
                         xTitle: "concurrency (requests in flight)", yTitle: "throughput (req/s)")
        svg += "<polyline fill=\"none\" stroke=\"\(SVG.palette[0])\" stroke-width=\"2\" points=\"\(curve.map { "\(SVG.coordinate(x($0.0))),\(SVG.coordinate(y($0.1)))" }.joined(separator: " "))\"/>\n"
        for point in points {
            svg += "<circle cx=\"\(SVG.coordinate(x(point.concurrency)))\" cy=\"\(SVG.coordinate(y(point.throughput)))\" r=\"4\" fill=\"\(SVG.palette[1])\"><title>N = \(SVG.label(point.concurrency)): \(SVG.label(point.throughput, "req/s"))</title></circle>\n"
        }
        return svg + "</svg>\n"
    }
}
