import Foundation

/// A small, fast, reproducible random generator (SplitMix64): same seed, same numbers on every machine.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1).
    @inline(__always)
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }

    /// An exponentially distributed gap, in nanoseconds, with mean 1/rate seconds: the spacing of
    /// a Poisson process.
    public mutating func nextExponentialGapNs(rate: Double) -> UInt64 {
        UInt64(-log(max(nextUnitDouble(), 1e-12)) / rate * 1e9)
    }

    /// A standard normal draw (Box–Muller).
    public mutating func nextStandardNormal() -> Double {
        let u1 = max(nextUnitDouble(), 1e-300), u2 = nextUnitDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    /// A uniform Float in [-1, 1).
    @inline(__always)
    public mutating func nextSignedUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 23)) - 1.0
    }
}
