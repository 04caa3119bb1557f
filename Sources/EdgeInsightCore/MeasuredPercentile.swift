import Foundation

/// What a trial's percentile is: one of its items, the ⌈q·n⌉-th smallest of n, and that item's
/// expected place in the distribution is (r − 0.375)/(n + 0.25) (Blom's approximation) — for the
/// p99 of a 15-frame trial, its largest frame, 0.96, not 0.99. Reading such a p99 as the
/// distribution's would understate a stage's spread by a quarter; predicting the distribution's
/// p99 for such a trial would overstate what it measures.
public enum MeasuredPercentile {
    /// The probability the q-th percentile of n items stands for (q itself for large n).
    public static func probability(_ q: Double, of n: Int) -> Double {
        guard n < 100_000, n > 0 else { return q }
        return min(q, (Double(rank(q, of: n)) - 0.375) / (Double(n) + 0.25))
    }

    /// Which item a trial of n reports as its q-th percentile: the ⌈q·n⌉-th smallest (1-based).
    public static func rank(_ q: Double, of n: Int) -> Int { max(1, Int((q * Double(n)).rounded(.up))) }

    /// The q-th percentile as a trial reports it, of its items sorted ascending.
    public static func reported(_ q: Double, of sorted: [Double]) -> Double { sorted[rank(q, of: sorted.count) - 1] }

    /// The standard-normal value of `probability(q, of: n)`.
    public static func z(_ q: Double, of n: Int) -> Double {
        let p = probability(q, of: n)
        // Φ(z) = erfc(−z/√2)/2 is increasing: bisect.
        var low = -8.0, high = 8.0
        for _ in 0..<60 {
            let middle = (low + high) / 2
            if erfc(-middle / 2.0.squareRoot()) / 2 < p { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }
}
