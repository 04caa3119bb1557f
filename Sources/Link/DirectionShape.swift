import EdgeInsightCore
import Profiles

/// Which way data crosses a link: up is edge → cloud, down is cloud → edge.
public enum LinkDirection: String, Sendable, CaseIterable {
    case uplink, downlink
}

/// How a link treats one direction of traffic.
public struct DirectionShape: Sendable, Equatable {
    /// The bottleneck rate; nil means unshaped.
    public var bandwidth: Bandwidth?
    /// Bytes the token bucket may send back-to-back after an idle spell.
    public var burst: Bytes
    /// One-way propagation delay (half the RTT).
    public var delay: Duration
    /// Each chunk's delay varies uniformly within ±jitter (never reordering bytes).
    public var jitter: Duration
    /// Probability that a TCP segment is lost (and retransmitted).
    public var loss: Double
    /// The link's round-trip time, which sets the cost of a retransmission.
    public var rtt: Duration

    /// True when the direction neither limits rate nor adds delay: bytes are forwarded as they come.
    public var isTransparent: Bool { bandwidth == nil && delay == .zero && jitter == .zero && loss == 0 }
}

extension LinkProfile {
    /// The shape of one direction.
    public func shape(_ direction: LinkDirection) -> DirectionShape {
        let bandwidth = direction == .uplink ? uplink : downlink
        let defaultBurst = bandwidth.map { max(2 * TCPModel.segmentBytes, Int($0.bytesPerSecond * 0.002)) } ?? 0
        return DirectionShape(bandwidth: bandwidth, burst: burst ?? Bytes(defaultBurst), delay: rtt / 2,
                              jitter: jitter, loss: loss, rtt: rtt)
    }

}
