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

    /// σ of ln(time) from the median and the p99 a trial of `count` items measured (each an order
    /// statistic of its items: `MeasuredPercentile`).
    public static func logSigma(p50: Double, p99: Double, count: Int = .max) -> Double {
        guard p50 > 0, p99 > p50 else { return 0 }
        return log(p99 / p50) / (MeasuredPercentile.z(0.99, of: count) - MeasuredPercentile.z(0.5, of: count))
    }

    public func draw(_ random: inout SeededRandom) -> Double {
        guard logSigma > 0, meanNs > 0 else { return meanNs }
        // The median is the mean less the log-normal's e^(σ²/2).
        return meanNs * exp(logSigma * random.nextStandardNormal() - logSigma * logSigma / 2)
    }
}

/// How much a stage varies from item to item, as a function of its mean m: a fixed part `fixedNs`
/// (an interrupt, caches cold after idle: the same milliseconds on a small model as on a large
/// one) and a part in proportion (`relative`), independent, so σ of ln(time) is
/// √(relative² + (fixedNs/m)²). One σ for every model would give a 40 ms inference the spread of a
/// 2 ms one: a 2 ms inference varies by a fifth, a 40 ms one by a few percent.
public enum StageSpread {
    public static func logSigma(meanNs: Double, relative: Double, fixedNs: Double) -> Double {
        guard meanNs > 0 else { return relative }
        return (relative * relative + (fixedNs / meanNs) * (fixedNs / meanNs)).squareRoot()
    }

    /// Fits (relative, fixedNs) to trials' (mean, σ of ln) by least absolute deviation of ln σ over
    /// a grid (a few trials' p99s are one frame each, and one bad frame must not move the fit).
    /// nil below 3 trials.
    public static func fit(_ points: [(meanNs: Double, logSigma: Double)]) -> (relative: Double, fixedNs: Double)? {
        let points = points.filter { $0.meanNs > 0 }
        guard points.count >= 3 else { return nil }
        // σ below half a percent is a trial whose p99 met its median: read it as half a percent.
        let observed = points.map { log(max($0.logSigma, 0.005)) }
        let relatives = [0] + (0...48).map { 0.005 * pow(1.1, Double($0)) }        // 0.5% … 49%
        let fixed = [0] + (0...96).map { 1e3 * pow(1.1, Double($0)) }              // 1 µs … 9.4 ms
        var best = (relative: 0.0, fixedNs: 0.0), bestLoss = Double.infinity
        for r in relatives {
            for a in fixed where r > 0 || a > 0 {
                var loss = 0.0
                for (point, o) in zip(points, observed) { loss += abs(o - log(logSigma(meanNs: point.meanNs, relative: r, fixedNs: a))) }
                if loss < bestLoss - 1e-12 { (best, bestLoss) = ((r, a), loss) }
            }
        }
        return best
    }
}

