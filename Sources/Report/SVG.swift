import Foundation

/// The small kit EdgeInsight's charts are drawn with: SVG text written by hand (no dependency), so a
/// chart opens in any browser and diffs as text.
public enum SVG {
    public static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]

    /// A chart's start: the `<svg>` element on a white ground, its title and, under it, what it shows.
    public static func opening(width: Double, height: Double, title: String, subtitle: String, left: Double) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="11">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="20" font-size="14" font-weight="bold">\(escape(title))</text>
        <text x="\(left)" y="38" fill="#555">\(escape(subtitle))</text>

        """
    }

    /// A plot's box with the tick labels of both axes and their titles; a value v sits at
    /// left + x.fraction(v)·width across and top + height − y.fraction(v)·height down.
    public static func frame(left: Double, top: Double, width: Double, height: Double, x: Axis, y: Axis, xTitle: String, yTitle: String) -> String {
        var svg = "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#333\"/>\n"
        for tick in x.ticks where tick >= x.lower && tick <= x.upper {
            svg += "<text x=\"\(coordinate(left + x.fraction(tick) * width))\" y=\"\(coordinate(top + height + 16))\" text-anchor=\"middle\">\(label(tick))</text>\n"
        }
        for tick in y.ticks where tick >= y.lower && tick <= y.upper {
            svg += "<text x=\"\(coordinate(left - 6))\" y=\"\(coordinate(top + height - y.fraction(tick) * height + 4))\" text-anchor=\"end\">\(label(tick))</text>\n"
        }
        svg += "<text x=\"\(coordinate(left + width / 2))\" y=\"\(coordinate(top + height + 36))\" text-anchor=\"middle\">\(escape(xTitle))</text>\n"
        return svg + "<text transform=\"translate(16 \(coordinate(top + height / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yTitle))</text>\n"
    }

    /// Text made safe for SVG content and attribute values.
    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A coordinate with one decimal.
    public static func coordinate(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Three significant digits at most, no trailing zeros after the point ("15", "9.56", "2901"),
    /// and the unit when there is one.
    public static func label(_ value: Double, _ unit: String = "") -> String {
        var text = abs(value) >= 100 ? String(Int(value.rounded())) : String(format: abs(value) >= 10 ? "%.1f" : "%.2f", value)
        if text.contains(".") { text = String(text.reversed().drop { $0 == "0" }.drop { $0 == "." }.reversed()) }
        return unit.isEmpty ? text : "\(text) \(unit)"
    }

    /// Estimated width of text at 11 px (SVG has no layout to ask).
    public static func textWidth(_ text: String) -> Double { Double(text.count) * 6.5 }

    /// An axis: linear from 0, or logarithmic by decades when the values span more than 20×.
    public struct Axis: Sendable {
        public let logarithmic: Bool
        public let lower: Double, upper: Double
        public let ticks: [Double]

        public init(low: Double, high: Double, allowLogarithmic: Bool = true) {
            if allowLogarithmic, low > 0, high / low > 20 {
                let lowest = pow(10, floor(log10(low))), highest = pow(10, ceil(log10(high)))
                (logarithmic, lower, upper) = (true, lowest, highest)
                ticks = stride(from: log10(lowest), through: log10(highest), by: 1).flatMap { e in [1.0, 2, 5].map { $0 * pow(10, e) } }.filter { $0 <= highest }
            } else {
                let top = max(high, 1e-9)
                let raw = top / 5, magnitude = pow(10, floor(log10(raw)))
                let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw }!
                (logarithmic, lower, upper) = (false, 0, ceil(top / step) * step)
                ticks = stride(from: 0, through: upper + step / 2, by: step).map { $0 }
            }
        }

        /// How far along the axis a value sits, 0…1.
        public func fraction(_ value: Double) -> Double {
            guard logarithmic else { return upper > 0 ? max(0, value) / upper : 0 }
            return max(0, (log10(max(value, lower)) - log10(lower)) / (log10(upper) - log10(lower)))
        }
    }
}
