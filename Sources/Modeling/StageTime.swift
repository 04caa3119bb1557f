import EdgeInsightCore
import Foundation

/// The time of one stage of one item, drawn anew for each: log-normal with the given mean and σ of
/// its logarithm (0: always the mean). Stage times are positive and right-skewed, and a log-normal
/// is fixed by two figures every trial records (p50 and p99).
public struct StageTime: Sendable, Codable, Equatable {
    public var meanNs: Double
    public var logSigma: Double

    public init(meanNs: Double, logSigma: Double = 0) {
        self.meanNs = max(0, meanNs)
        self.logSigma = max(0, logSigma)
    }

    /// σ of ln(time) from a median and a p99 (z₀.₉₉ = 2.326).
    public static func logSigma(p50: Double, p99: Double) -> Double {
        p50 > 0 && p99 > p50 ? log(p99 / p50) / 2.326 : 0
    }

    public func draw(_ random: inout SeededRandom) -> Double {
        guard logSigma > 0, meanNs > 0 else { return meanNs }
        // Box–Muller; the median is the mean less the log-normal's e^(σ²/2).
        let u1 = max(random.nextUnitDouble(), 1e-300), u2 = random.nextUnitDouble()
        let z = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        return meanNs * exp(logSigma * z - logSigma * logSigma / 2)
    }
}
