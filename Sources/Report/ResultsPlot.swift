import EdgeInsightCore
import Foundation
import Results

/// Bar charts of a run's trials as SVG: one metric, bars grouped by one parameter and coloured by
/// another, a panel per value of a third. A bar is the mean over the trials it stands for (the
/// other swept settings and the repetitions); its whisker spans their minimum to maximum. A metric
/// spanning more than 20× is drawn on a log scale, so 9 ms and 2.9 s both stay readable.
public struct ResultsPlot {
    public var metric = Metric.latencyP99
    public var x = "placement"
    /// The parameters that colour the bars and split the panels; nil: one colour, one panel.
    public var series: String? = "link"
    public var panel: String? = "model"

    public init() {}

    /// Where a run's chart of this metric goes in its results folder.
    public func file(in folder: String, run: String) -> String { "\(folder)/plot-\(run)-\(metric).svg" }

    /// The defaults, without a series or panel parameter that none of `trials` has (an edge-only
    /// run has no link): what `results plot` draws when not told otherwise.
    public static func defaults(for trials: [TrialRecord]) -> ResultsPlot {
        let known = Set(trials.flatMap(\.parameters.keys))
        var plot = ResultsPlot()
        plot.series = plot.series.flatMap { known.contains($0) ? $0 : nil }
        plot.panel = plot.panel.flatMap { known.contains($0) ? $0 : nil }
        return plot
    }

    static let missing = "-"

    /// The metric a user named, or a one-line error listing the ones the run has.
    public static func metric(named key: String, in trials: [TrialRecord]) throws(ResultsError) -> Metric {
        guard let metric = Metric(key: key) else { throw unknownMetric(key, in: trials) }
        return metric
    }

    static func unknownMetric(_ key: String, in trials: [TrialRecord]) -> ResultsError {
        let names = Metric.all.filter(Set(trials.flatMap { $0.metrics.map(\.metric) }).contains).map(\.key)
        return .invalid("no trial has metric '\(key)'" + (names.isEmpty ? "" : "; the run has \(names.joined(separator: ", "))"))
    }

    public func svg(_ trials: [TrialRecord], title: String) throws(ResultsError) -> String {
        let measured = trials.filter { $0.ok && $0.metric(metric) != nil }
        guard !measured.isEmpty else { throw Self.unknownMetric(metric.key, in: trials) }
        let known = Set(trials.flatMap(\.parameters.keys))
        for key in [x, series, panel].compactMap({ $0 }) where !known.contains(key) {
            throw .invalid("no trial has parameter '\(key)'; the run's parameters are \(known.sorted().joined(separator: ", "))")
        }
        let unit = metric.unit
        func value(_ trial: TrialRecord, _ key: String?) -> String { key.flatMap { trial.parameters[$0] } ?? Self.missing }
        let panels = Self.ordered(measured.map { value($0, panel) })
        let categories = Self.ordered(measured.map { value($0, x) })
        let seriesNames = Self.ordered(measured.map { value($0, series) })
        // Bars: mean, min and max of the metric per (panel, category, series).
        var groups: [[String]: [Double]] = [:]
        for trial in measured { groups[[value(trial, panel), value(trial, x), value(trial, series)], default: []].append(trial.metric(metric)!) }
        let all = groups.values.joined()
        let scale = SVG.Axis(low: all.min()!, high: all.max()!)

        let barWidth = 32.0, gap = 24.0, left = 70.0, panelHeight = 230.0, plotHeight = 170.0, top = 50.0
        let groupWidth = Double(seriesNames.count) * barWidth
        let subtitle = "\(metric) (\(unit)) by \(x)\(series.map { ", colour: \($0)" } ?? ""); bar = mean, whisker = min–max\(scale.logarithmic ? ", log scale" : "")"
        let legend = series.map { key in seriesNames.map { "\(key) = \($0 == Self.missing ? "none" : $0)" } } ?? []
        let plotRight = left + Double(categories.count) * (groupWidth + gap)
        let legendX = plotRight + 20
        let width = max(left + SVG.textWidth(subtitle), legendX + 18 + (legend.map(SVG.textWidth).max() ?? 0)) + 10
        let height = top + Double(panels.count) * panelHeight + 10
        var svg = SVG.opening(width: width, height: height, title: title, subtitle: subtitle, left: left)
        for (p, panelName) in panels.enumerated() {
            let originY = top + Double(p) * panelHeight + 20
            let baseY = originY + plotHeight
            if let panel { svg += "<text x=\"\(left)\" y=\"\(originY - 6)\" font-weight=\"bold\">\(SVG.escape("\(panel) = \(panelName)"))</text>\n" }
            for tick in scale.ticks {
                let y = baseY - scale.fraction(tick) * plotHeight
                svg += "<line x1=\"\(left)\" x2=\"\(SVG.coordinate(plotRight))\" y1=\"\(SVG.coordinate(y))\" y2=\"\(SVG.coordinate(y))\" stroke=\"#e5e5e5\"/>"
                svg += "<text x=\"\(left - 6)\" y=\"\(SVG.coordinate(y + 4))\" text-anchor=\"end\" fill=\"#555\">\(SVG.escape(SVG.label(tick, unit)))</text>\n"
            }
            svg += "<line x1=\"\(left)\" x2=\"\(left)\" y1=\"\(originY)\" y2=\"\(baseY)\" stroke=\"#333\"/>\n"
            for (c, category) in categories.enumerated() {
                let groupX = left + gap / 2 + Double(c) * (groupWidth + gap)
                svg += "<text x=\"\(SVG.coordinate(groupX + groupWidth / 2))\" y=\"\(SVG.coordinate(baseY + 16))\" text-anchor=\"middle\">\(SVG.escape(category))</text>\n"
                // The bars this category has, centred in its slot (edge trials have no link: one bar).
                let present = seriesNames.indices.filter { groups[[panelName, category, seriesNames[$0]]] != nil }
                let offset = (groupWidth - Double(present.count) * barWidth) / 2
                for (slot, s) in present.enumerated() {
                    let seriesName = seriesNames[s]
                    let values = groups[[panelName, category, seriesName]]!
                    let mean = values.reduce(0, +) / Double(values.count)
                    let x0 = groupX + offset + Double(slot) * barWidth
                    let yMean = baseY - scale.fraction(mean) * plotHeight
                    let yLow = baseY - scale.fraction(values.min()!) * plotHeight, yHigh = baseY - scale.fraction(values.max()!) * plotHeight
                    svg += "<rect class=\"bar\" data-panel=\"\(SVG.escape(panelName))\" data-x=\"\(SVG.escape(category))\" data-series=\"\(SVG.escape(seriesName))\" data-value=\"\(mean)\" "
                    svg += "x=\"\(SVG.coordinate(x0 + 1))\" y=\"\(SVG.coordinate(yMean))\" width=\"\(SVG.coordinate(barWidth - 2))\" height=\"\(SVG.coordinate(baseY - yMean))\" fill=\"\(SVG.palette[s % SVG.palette.count])\">"
                    svg += "<title>\(SVG.escape("\(panelName), \(category), \(seriesName): \(SVG.label(mean, unit)) (\(values.count) trials)"))</title></rect>"
                    if values.count > 1 {
                        svg += "<line x1=\"\(SVG.coordinate(x0 + barWidth / 2))\" x2=\"\(SVG.coordinate(x0 + barWidth / 2))\" y1=\"\(SVG.coordinate(yLow))\" y2=\"\(SVG.coordinate(yHigh))\" stroke=\"#222\"/>"
                    }
                    svg += "<text x=\"\(SVG.coordinate(x0 + barWidth / 2))\" y=\"\(SVG.coordinate(min(yMean, yHigh) - 3))\" text-anchor=\"middle\" font-size=\"9\">\(SVG.escape(SVG.label(mean)))</text>\n"
                }
            }
            svg += "<line x1=\"\(left)\" x2=\"\(SVG.coordinate(plotRight))\" y1=\"\(SVG.coordinate(baseY))\" y2=\"\(SVG.coordinate(baseY))\" stroke=\"#333\"/>\n"
        }
        for (s, text) in legend.enumerated() {
            let y = top + 20 + Double(s) * 18
            svg += "<rect x=\"\(SVG.coordinate(legendX))\" y=\"\(SVG.coordinate(y - 10))\" width=\"12\" height=\"12\" fill=\"\(SVG.palette[s % SVG.palette.count])\"/>"
            svg += "<text x=\"\(SVG.coordinate(legendX + 18))\" y=\"\(SVG.coordinate(y))\">\(SVG.escape(text))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// The distinct values, ordered numerically when every value starts with a number
    /// (resolutions, qualities, bandwidths), else alphabetically, with a missing value last.
    static func ordered(_ values: [String]) -> [String] {
        let distinct = Array(Set(values))
        func number(_ text: String) -> Double? { Double(text.prefix { $0.isNumber || $0 == "." }) }
        if distinct.allSatisfy({ number($0) != nil }) {
            return distinct.sorted { (number($0)!, $0) < (number($1)!, $1) }
        }
        return distinct.sorted { ($0 == missing ? 1 : 0, $0) < ($1 == missing ? 1 : 0, $1) }
    }
}
