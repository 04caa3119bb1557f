import Foundation

/// Bar charts of a run's trials as SVG: one metric, bars grouped by one parameter and coloured by
/// another, a panel per value of a third. A bar is the mean over the trials it stands for (the
/// other swept settings and the repetitions); its whisker spans their minimum to maximum. A metric
/// spanning more than 20× is drawn on a log scale, so 9 ms and 2.9 s both stay readable.
public struct ResultsPlot {
    public var metric = "latency_p99_ms"
    public var x = "placement"
    /// The parameters that colour the bars and split the panels; nil: one colour, one panel.
    public var series: String? = "link"
    public var panel: String? = "model"

    public init() {}

    /// The defaults, without a series or panel parameter that none of `trials` has (an edge-only
    /// run has no link): what `results plot` draws when not told otherwise.
    public static func defaults(for trials: [TrialRecord]) -> ResultsPlot {
        let known = Set(trials.flatMap(\.parameters.keys))
        var plot = ResultsPlot()
        plot.series = plot.series.flatMap { known.contains($0) ? $0 : nil }
        plot.panel = plot.panel.flatMap { known.contains($0) ? $0 : nil }
        return plot
    }

    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
    static let missing = "-"

    public func svg(_ trials: [TrialRecord], title: String) throws(ResultsError) -> String {
        let measured = trials.filter { $0.ok && $0.metric(metric) != nil }
        guard !measured.isEmpty else {
            let names = Set(trials.flatMap { $0.metrics.map(\.name) }).sorted()
            throw .invalid("no trial has metric '\(metric)'" + (names.isEmpty ? "" : "; the run has \(names.joined(separator: ", "))"))
        }
        let known = Set(trials.flatMap(\.parameters.keys))
        for key in [x, series, panel].compactMap({ $0 }) where !known.contains(key) {
            throw .invalid("no trial has parameter '\(key)'; the run's parameters are \(known.sorted().joined(separator: ", "))")
        }
        let unit = measured.first!.metrics.first { $0.name == metric }!.unit
        func value(_ trial: TrialRecord, _ key: String?) -> String { key.flatMap { trial.parameters[$0] } ?? Self.missing }
        let panels = Self.ordered(measured.map { value($0, panel) })
        let categories = Self.ordered(measured.map { value($0, x) })
        let seriesNames = Self.ordered(measured.map { value($0, series) })
        // Bars: mean, min and max of the metric per (panel, category, series).
        var groups: [[String]: [Double]] = [:]
        for trial in measured { groups[[value(trial, panel), value(trial, x), value(trial, series)], default: []].append(trial.metric(metric)!) }
        let all = groups.values.joined()
        let scale = Scale(low: all.min()!, high: all.max()!)

        let barWidth = 32.0, gap = 24.0, left = 70.0, panelHeight = 230.0, plotHeight = 170.0, top = 50.0
        let groupWidth = Double(seriesNames.count) * barWidth
        let subtitle = "\(metric) (\(unit)) by \(x)\(series.map { ", colour: \($0)" } ?? ""); bar = mean, whisker = min–max\(scale.logarithmic ? ", log scale" : "")"
        let legend = series.map { key in seriesNames.map { "\(key) = \($0 == Self.missing ? "none" : $0)" } } ?? []
        // Text widths are estimated (6.5 px a character at 11 px): SVG has no layout to ask.
        let plotRight = left + Double(categories.count) * (groupWidth + gap)
        let legendX = plotRight + 20
        let width = max(left + Double(subtitle.count) * 6.5, legendX + 18 + Double(legend.map(\.count).max() ?? 0) * 6.5) + 10
        let height = top + Double(panels.count) * panelHeight + 10
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="20" font-size="14" font-weight="bold">\(Self.escape(title))</text>
        <text x="\(left)" y="38" fill="#555">\(Self.escape(subtitle))</text>

        """
        for (p, panelName) in panels.enumerated() {
            let originY = top + Double(p) * panelHeight + 20
            let baseY = originY + plotHeight
            if let panel { svg += "<text x=\"\(left)\" y=\"\(originY - 6)\" font-weight=\"bold\">\(Self.escape("\(panel) = \(panelName)"))</text>\n" }
            for tick in scale.ticks {
                let y = baseY - scale.fraction(tick) * plotHeight
                svg += "<line x1=\"\(left)\" x2=\"\(Self.fmt(plotRight))\" y1=\"\(Self.fmt(y))\" y2=\"\(Self.fmt(y))\" stroke=\"#e5e5e5\"/>"
                svg += "<text x=\"\(left - 6)\" y=\"\(Self.fmt(y + 4))\" text-anchor=\"end\" fill=\"#555\">\(Self.escape(Self.label(tick, unit)))</text>\n"
            }
            svg += "<line x1=\"\(left)\" x2=\"\(left)\" y1=\"\(originY)\" y2=\"\(baseY)\" stroke=\"#333\"/>\n"
            for (c, category) in categories.enumerated() {
                let groupX = left + gap / 2 + Double(c) * (groupWidth + gap)
                svg += "<text x=\"\(Self.fmt(groupX + groupWidth / 2))\" y=\"\(Self.fmt(baseY + 16))\" text-anchor=\"middle\">\(Self.escape(category))</text>\n"
                for (s, seriesName) in seriesNames.enumerated() {
                    guard let values = groups[[panelName, category, seriesName]] else { continue }
                    let mean = values.reduce(0, +) / Double(values.count)
                    let x0 = groupX + Double(s) * barWidth
                    let yMean = baseY - scale.fraction(mean) * plotHeight
                    let yLow = baseY - scale.fraction(values.min()!) * plotHeight, yHigh = baseY - scale.fraction(values.max()!) * plotHeight
                    svg += "<rect class=\"bar\" data-panel=\"\(Self.escape(panelName))\" data-x=\"\(Self.escape(category))\" data-series=\"\(Self.escape(seriesName))\" data-value=\"\(mean)\" "
                    svg += "x=\"\(Self.fmt(x0 + 1))\" y=\"\(Self.fmt(yMean))\" width=\"\(Self.fmt(barWidth - 2))\" height=\"\(Self.fmt(baseY - yMean))\" fill=\"\(Self.palette[s % Self.palette.count])\">"
                    svg += "<title>\(Self.escape("\(panelName), \(category), \(seriesName): \(Self.label(mean, unit)) (\(values.count) trials)"))</title></rect>"
                    if values.count > 1 {
                        svg += "<line x1=\"\(Self.fmt(x0 + barWidth / 2))\" x2=\"\(Self.fmt(x0 + barWidth / 2))\" y1=\"\(Self.fmt(yLow))\" y2=\"\(Self.fmt(yHigh))\" stroke=\"#222\"/>"
                    }
                    svg += "<text x=\"\(Self.fmt(x0 + barWidth / 2))\" y=\"\(Self.fmt(min(yMean, yHigh) - 3))\" text-anchor=\"middle\" font-size=\"9\">\(Self.escape(Self.label(mean, "")))</text>\n"
                }
            }
            svg += "<line x1=\"\(left)\" x2=\"\(Self.fmt(plotRight))\" y1=\"\(Self.fmt(baseY))\" y2=\"\(Self.fmt(baseY))\" stroke=\"#333\"/>\n"
        }
        for (s, text) in legend.enumerated() {
            let y = top + 20 + Double(s) * 18
            svg += "<rect x=\"\(Self.fmt(legendX))\" y=\"\(Self.fmt(y - 10))\" width=\"12\" height=\"12\" fill=\"\(Self.palette[s % Self.palette.count])\"/>"
            svg += "<text x=\"\(Self.fmt(legendX + 18))\" y=\"\(Self.fmt(y))\">\(Self.escape(text))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Values in first-seen order made stable: numerically when every value starts with a number
    /// (resolutions, qualities, bandwidths), else alphabetically, with a missing value last.
    static func ordered(_ values: [String]) -> [String] {
        let distinct = Array(Set(values))
        func number(_ text: String) -> Double? { Double(text.prefix { $0.isNumber || $0 == "." }) }
        if distinct.allSatisfy({ number($0) != nil }) {
            return distinct.sorted { (number($0)!, $0) < (number($1)!, $1) }
        }
        return distinct.sorted { ($0 == missing ? 1 : 0, $0) < ($1 == missing ? 1 : 0, $1) }
    }

    /// Three significant digits at most, no trailing zeros after the point ("15", "9.56", "2901").
    static func label(_ value: Double, _ unit: String) -> String {
        var text = abs(value) >= 100 ? String(Int(value.rounded())) : String(format: abs(value) >= 10 ? "%.1f" : "%.2f", value)
        if text.contains(".") { text = String(text.reversed().drop { $0 == "0" }.drop { $0 == "." }.reversed()) }
        return unit.isEmpty ? text : "\(text) \(unit)"
    }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The y axis: linear from 0, or logarithmic when the values span more than 20×.
    struct Scale {
        let logarithmic: Bool
        let lower: Double, upper: Double
        let ticks: [Double]

        init(low: Double, high: Double) {
            if low > 0, high / low > 20 {
                logarithmic = true
                let lowest = pow(10, floor(log10(low))), highest = pow(10, ceil(log10(high)))
                (lower, upper) = (lowest, highest)
                ticks = stride(from: log10(lowest), through: log10(highest), by: 1).flatMap { e in [1.0, 2, 5].map { $0 * pow(10, e) } }.filter { $0 <= highest }
            } else {
                logarithmic = false
                lower = 0
                let top = max(high, 1e-9)
                let step = Self.niceStep(top / 5)
                upper = ceil(top / step) * step
                ticks = stride(from: 0, through: upper + step / 2, by: step).map { $0 }
            }
        }

        /// How far up the axis a value sits, 0…1.
        func fraction(_ value: Double) -> Double {
            guard logarithmic else { return upper > 0 ? max(0, value) / upper : 0 }
            return max(0, (log10(max(value, lower)) - log10(lower)) / (log10(upper) - log10(lower)))
        }

        static func niceStep(_ raw: Double) -> Double {
            let magnitude = pow(10, floor(log10(raw)))
            return [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw }!
        }
    }
}
