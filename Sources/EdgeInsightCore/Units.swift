import Foundation

/// A count of bytes, parsed from and printed as `512B`, `1.5MB`, `2GiB`.
public struct Bytes: Sendable, Codable, Hashable, Comparable, CustomStringConvertible {
    public var count: Int64

    public init(_ count: Int64) { self.count = count }
    public init(_ count: Int) { self.count = Int64(count) }

    public static func < (a: Bytes, b: Bytes) -> Bool { a.count < b.count }

    /// Decimal units (kB = 1000 B), as network and model sizes are usually quoted.
    public var description: String {
        let value = Double(count)
        let units: [(Double, String)] = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
        for (scale, name) in units where abs(value) >= scale {
            return UnitFormat.trimmed(value / scale) + name
        }
        return "\(count)B"
    }

    /// Text that parses back to exactly this count: `4GB`, `1500kB`, `1234B`.
    public var exactDescription: String { UnitFormat.exact(Double(count), units: [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")], base: "B") }

    /// Parses `1500`, `1.5kB`, `2MB`, `3MiB`, `1GB`, `4KiB` (B is optional).
    public init?(parsing text: String) {
        let scales: [(String, Double)] = [
            ("tib", 1_099_511_627_776), ("gib", 1_073_741_824), ("mib", 1_048_576), ("kib", 1024),
            ("tb", 1e12), ("gb", 1e9), ("mb", 1e6), ("kb", 1e3), ("k", 1e3), ("m", 1e6), ("g", 1e9), ("b", 1),
        ]
        guard let (number, scale) = UnitFormat.split(text, scales: scales, defaultScale: 1),
              number >= 0, number * scale < 9.2e18 else { return nil }
        self.count = Int64((number * scale).rounded())
    }
}

/// Parsing and printing of durations as `40ms`, `1.5s`, `2m`, `250us`.
public enum DurationText {
    /// Parses a duration with a unit (`ns`, `us`, `ms`, `s`, `m`, `h`); a bare number is seconds.
    public static func parse(_ text: String) -> Duration? {
        let scales: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        // Beyond Int64 nanoseconds (292 years) a duration cannot be held: nil, not a trap.
        guard let (number, scale) = UnitFormat.split(text, scales: scales, defaultScale: 1),
              number >= 0, number * scale * 1e9 < 9.2e18 else { return nil }
        return .nanoseconds(Int64((number * scale * 1e9).rounded()))
    }

    /// Text that parses back to exactly this duration: `3s`, `1500ms`, `250us`.
    public static func exact(_ duration: Duration) -> String {
        UnitFormat.exact(duration.nanoseconds, units: [(3600e9, "h"), (60e9, "m"), (1e9, "s"), (1e6, "ms"), (1e3, "us")], base: "ns")
    }

    /// Prints a duration in the unit that reads best: `850us`, `12.3ms`, `4.05s`.
    public static func format(_ duration: Duration) -> String { format(nanoseconds: duration.nanoseconds) }

    /// Prints a nanosecond count in the unit that reads best.
    public static func format(nanoseconds ns: Double) -> String {
        let magnitude = abs(ns)
        if magnitude >= 1e9 { return UnitFormat.significant(ns / 1e9) + "s" }
        if magnitude >= 1e6 { return UnitFormat.significant(ns / 1e6) + "ms" }
        if magnitude >= 1e3 { return UnitFormat.significant(ns / 1e3) + "us" }
        return UnitFormat.significant(ns) + "ns"
    }
}

extension Duration {
    /// The duration in nanoseconds, as a Double.
    public var nanoseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }

    /// The duration in seconds, as a Double.
    public var seconds: Double { nanoseconds / 1e9 }
}

/// Shared number formatting for units.
public enum UnitFormat {
    /// Three significant figures, trailing zeros removed: 12.3, 0.456, 1234.
    public static func significant(_ value: Double) -> String {
        let magnitude = abs(value)
        let decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2
        return trimmed(value, decimals: decimals)
    }

    /// A fitted coefficient: three significant figures, in exponent form when very large or small.
    public static func coefficient(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude != 0 && (magnitude < 0.01 || magnitude >= 1e5) { return String(format: "%.3g", value) }
        return String(format: magnitude >= 100 ? "%.0f" : magnitude >= 10 ? "%.1f" : "%.3f", value)
    }

    /// A number as text that reads back to exactly the same value: `10`, `0.25`.
    public static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// `value` in the largest of `units` (scale, name) that holds it exactly, else in `base`: text
    /// that reads back to the same value (`20mbit`, `1500ms`), for values that must round-trip.
    static func exact(_ value: Double, units: [(Double, String)], base: String) -> String {
        for (scale, name) in units where abs(value) >= scale && (value / scale * scale == value) && (value / scale).rounded() == value / scale {
            return plain(value / scale) + name
        }
        return plain(value) + base
    }

    static func trimmed(_ value: Double, decimals: Int = 2) -> String {
        var text = String(format: "%.\(decimals)f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    /// Splits `12.5ms` into 12.5 and the scale of `ms`; longest unit names are tried first.
    static func split(_ text: String, scales: [(String, Double)], defaultScale: Double) -> (Double, Double)? {
        let lowered = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = lowered.prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" || $0 == "e" }
        // "e" could start a unit; only treat it as an exponent when digits follow.
        var numberPart = String(digits)
        while let last = numberPart.last, last == "e" || last == "-" || last == "+" { numberPart.removeLast() }
        guard let number = Double(numberPart), number.isFinite else { return nil }
        let unit = lowered.dropFirst(numberPart.count).trimmingCharacters(in: .whitespaces)
        if unit.isEmpty { return (number, defaultScale) }
        guard let scale = scales.first(where: { $0.0 == unit })?.1 else { return nil }
        return (number, scale)
    }
}

/// A data rate in bits per second, parsed from and printed as `20mbit`, `1.5gbit`, `512kbit`.
public struct Bandwidth: Sendable, Codable, Hashable, Comparable, CustomStringConvertible {
    public var bitsPerSecond: Double

    public init(bitsPerSecond: Double) { self.bitsPerSecond = bitsPerSecond }

    public static func < (a: Bandwidth, b: Bandwidth) -> Bool { a.bitsPerSecond < b.bitsPerSecond }

    /// Bytes per second, the rate a byte stream drains at.
    public var bytesPerSecond: Double { bitsPerSecond / 8 }

    /// The time `bytes` take to cross this bandwidth, in nanoseconds.
    public func transmissionNanoseconds(_ bytes: Int) -> Double { Double(bytes) * 8e9 / bitsPerSecond }

    /// Decimal units, as links are quoted: `20Mbit/s`, `1.5Gbit/s`.
    public var description: String {
        let units: [(Double, String)] = [(1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")]
        for (scale, name) in units where bitsPerSecond >= scale {
            return UnitFormat.significant(bitsPerSecond / scale) + name
        }
        return UnitFormat.significant(bitsPerSecond) + "bit/s"
    }

    /// Text that parses back to exactly this rate: `20mbit`, `1500kbit`.
    public var exactDescription: String { UnitFormat.exact(bitsPerSecond, units: [(1e9, "gbit"), (1e6, "mbit"), (1e3, "kbit")], base: "bit") }

    /// Parses `20mbit`, `20Mbit/s`, `20mbps`, `1gbit`, `512kbit`, `100000` (bits per second); tc's
    /// byte units (`kbps` in tc means kilobytes) are avoided on purpose: `bps` here is bits.
    public init?(parsing text: String) {
        var unit = text.lowercased().replacingOccurrences(of: "/s", with: "")
        if unit.hasSuffix("bps") { unit = String(unit.dropLast(3)) + "bit" }
        let scales: [(String, Double)] = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1), ("g", 1e9), ("m", 1e6), ("k", 1e3)]
        guard let (number, scale) = UnitFormat.split(unit, scales: scales, defaultScale: 1), number > 0, (number * scale).isFinite else { return nil }
        self.bitsPerSecond = number * scale
    }
}

/// A probability that a segment is lost, 0…1; parsed from `0.5%` or a bare fraction (`0.005`),
/// printed as a percentage.
public struct LossRate: Sendable, Codable, Hashable, Comparable, CustomStringConvertible {
    /// The probability, 0…1.
    public var fraction: Double

    public init?(fraction: Double) {
        guard fraction.isFinite, (0...1).contains(fraction) else { return nil }
        self.fraction = fraction
    }

    /// `0.5%` → 0.005; a bare number is a fraction (`0.005`); nil outside 0…100%.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let value = trimmed.hasSuffix("%") ? Double(trimmed.dropLast()).map({ $0 / 100 }) : Double(trimmed) else { return nil }
        self.init(fraction: value)
    }

    public static func < (a: LossRate, b: LossRate) -> Bool { a.fraction < b.fraction }
    public var description: String { UnitFormat.significant(fraction * 100) + "%" }
    /// Text that parses back to exactly this rate.
    public var exactDescription: String { UnitFormat.plain(fraction) }
}
