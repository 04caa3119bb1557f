/// When a source offers items (frames, requests): the one arrival process of the edge node and the
/// load generator.
public enum ArrivalProcess: Sendable, Equatable, CustomStringConvertible {
    /// Evenly spaced at `rate` per second; item i is due at start + i/rate, so rounding never drifts.
    case constant(rate: Double)
    /// Exponential gaps with mean 1/rate (a Poisson process), reproducible by seed.
    case poisson(rate: Double, seed: UInt64)
    /// Gaps read from a file, in nanoseconds, cycled.
    case intervals([UInt64])
    /// No schedule: the next item comes when the consumer takes the previous one (a closed loop).
    case asFastAsPossible

    /// The rate-based processes by name, as every command and experiment file spells them.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case constant, poisson

        /// Parses `constant` or `poisson`; `fixed` is the old spelling of `constant` (`deprecated` says so).
        public static func parse(_ text: String) -> (kind: Kind, deprecated: Bool)? {
            if let kind = Kind(rawValue: text.lowercased()) { return (kind, false) }
            return text.lowercased() == "fixed" ? (.constant, true) : nil
        }

        public func process(rate: Double, seed: UInt64 = 1) -> ArrivalProcess {
            self == .constant ? .constant(rate: rate) : .poisson(rate: rate, seed: seed)
        }
    }

    /// Items per second on average, when there is a schedule.
    public var rate: Double? {
        switch self {
        case .constant(let rate), .poisson(let rate, _): rate
        case .intervals(let gaps): gaps.isEmpty ? nil : 1e9 * Double(gaps.count) / Double(gaps.reduce(0, +))
        case .asFastAsPossible: nil
        }
    }

    /// Why the process cannot run, or nil.
    public var problem: String? {
        switch self {
        case .constant(let rate), .poisson(let rate, _): rate > 0 && rate.isFinite ? nil : "the rate must be positive, got \(rate)"
        case .intervals(let gaps): gaps.isEmpty || gaps.allSatisfy({ $0 == 0 }) ? "there must be at least one non-zero interval" : nil
        case .asFastAsPossible: nil
        }
    }

    public var description: String {
        switch self {
        case .constant(let rate): "\(UnitFormat.significant(rate))/s constant"
        case .poisson(let rate, _): "\(UnitFormat.significant(rate))/s Poisson"
        case .intervals(let gaps): "custom intervals (\(gaps.count))"
        case .asFastAsPossible: "as fast as taken"
        }
    }

    /// The intended times of the items, starting at `start` (monotonic nanoseconds).
    public func schedule(from start: UInt64) -> ArrivalSchedule { ArrivalSchedule(self, start: start) }
}

/// The intended time of each item of an arrival process, one after another.
public struct ArrivalSchedule: Sendable {
    public let process: ArrivalProcess
    public let start: UInt64
    private var index = 0
    private var last: UInt64
    private var random: SeededRandom

    init(_ process: ArrivalProcess, start: UInt64) {
        self.process = process
        self.start = start
        last = start
        random = SeededRandom(seed: { if case .poisson(_, let seed) = process { seed } else { 1 } }())
    }

    /// The intended time of the next item; nil when the process has no schedule.
    public mutating func next() -> UInt64? {
        defer { index += 1 }
        guard index > 0 else { return process == .asFastAsPossible ? nil : start }
        switch process {
        case .constant(let rate): last = start + UInt64((Double(index) * 1e9 / rate).rounded())
        case .poisson(let rate, _): last += random.nextExponentialGapNs(rate: rate)
        case .intervals(let gaps): last += gaps[(index - 1) % gaps.count]
        case .asFastAsPossible: return nil
        }
        return last
    }
}
