/// The 64-bit FNV-1a hash: small, fast and the same on every machine — for checksums of outputs
/// and for seeds derived from text.
public struct FNV1a: Sendable, Equatable {
    @usableFromInline var state: UInt64 = 0xcbf2_9ce4_8422_2325
    public var value: UInt64 { state }

    public init() {}

    /// The hash of `bytes` alone.
    public init(_ bytes: some Sequence<UInt8>) { add(bytes) }

    @inlinable
    public mutating func add(_ bytes: some Sequence<UInt8>) {
        var hash = state
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        state = hash
    }
}
