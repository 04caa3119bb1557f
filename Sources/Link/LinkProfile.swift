import EdgeInsightCore
import Foundation
import Yams

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

/// A named network between two nodes: bandwidth each way, RTT, jitter, loss.
public struct LinkProfile: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var uplink: Bandwidth?
    public var downlink: Bandwidth?
    public var rtt: Duration
    public var jitter: Duration
    /// Segment loss probability, 0…1 (`0.5%` in files and flags).
    public var loss: Double
    /// Token-bucket burst; nil picks max(2 segments, 2 ms at the link rate), like a small tbf burst.
    public var burst: Bytes?
    /// What a gigabyte carried costs (US dollars), where the link is paid by volume.
    public var pricePerGB: Double?
    /// Where the figures come from.
    public var note: String

    public init(name: String = "custom", uplink: Bandwidth? = nil, downlink: Bandwidth? = nil, rtt: Duration = .zero,
                jitter: Duration = .zero, loss: Double = 0, burst: Bytes? = nil, note: String = "") {
        self.name = name
        self.uplink = uplink
        self.downlink = downlink
        self.rtt = rtt
        self.jitter = jitter
        self.loss = loss
        self.burst = burst
        self.note = note
    }

    /// The shape of one direction.
    public func shape(_ direction: LinkDirection) -> DirectionShape {
        let bandwidth = direction == .uplink ? uplink : downlink
        let defaultBurst = bandwidth.map { max(2 * TCPModel.segmentBytes, Int($0.bytesPerSecond * 0.002)) } ?? 0
        return DirectionShape(bandwidth: bandwidth, burst: burst ?? Bytes(defaultBurst), delay: rtt / 2,
                              jitter: jitter, loss: loss, rtt: rtt)
    }

    public var description: String {
        var parts = ["up \(uplink?.description ?? "unshaped")", "down \(downlink?.description ?? "unshaped")",
                     "rtt \(DurationText.format(rtt))"]
        if jitter > .zero { parts.append("jitter ±\(DurationText.format(jitter))") }
        if loss > 0 { parts.append("loss \(UnitFormat.significant(loss * 100))%") }
        return "\(name): " + parts.joined(separator: ", ")
    }

    static let keys: Set<String> = ["uplink", "downlink", "rtt", "jitter", "loss", "burst", "price_per_gb", "note"]

    /// This profile with a trial's overrides of it (`link.uplink`, `link.rtt`, …) applied.
    public func overridden(by link: TrialConfig.Link) throws(LinkError) -> LinkProfile {
        var profile = self
        for (key, value) in link.overrides { try profile.set(key, to: value, context: "link.\(key)") }
        return profile
    }

    /// Applies one setting from a file or flag; `context` names where it came from in errors.
    public mutating func set(_ key: String, to value: Any, context: String) throws(LinkError) {
        let text = "\(value)"
        switch key {
        case "uplink", "downlink":
            let bandwidth: Bandwidth?
            if text == "unlimited" || text == "unshaped" { bandwidth = nil } else {
                guard let parsed = Bandwidth(parsing: text) else {
                    throw .badProfile("\(context): '\(key)' must be a rate such as 20mbit (got '\(text)')")
                }
                bandwidth = parsed
            }
            if key == "uplink" { uplink = bandwidth } else { downlink = bandwidth }
        case "rtt", "jitter":
            guard let duration = DurationText.parse(text) else {
                throw .badProfile("\(context): '\(key)' must be a duration such as 40ms (got '\(text)')")
            }
            if key == "rtt" { rtt = duration } else { jitter = duration }
        case "loss":
            guard let fraction = Self.parseLoss(text) else {
                throw .badProfile("\(context): 'loss' must be a percentage from 0% to 100% such as 0.5% (got '\(text)')")
            }
            loss = fraction
        case "burst":
            guard let bytes = Bytes(parsing: text), bytes.count > 0 else {
                throw .badProfile("\(context): 'burst' must be a size such as 32kB (got '\(text)')")
            }
            burst = bytes
        case "price_per_gb":
            guard let price = Double(text), price >= 0 else { throw .badProfile("\(context): 'price_per_gb' must be a number of dollars ≥ 0 (got '\(text)')") }
            pricePerGB = price
        case "note": note = text
        default:
            throw .badProfile("\(context): unknown key '\(key)' (known: \(Self.keys.sorted().joined(separator: ", ")))")
        }
    }

    /// `0.5%` → 0.005; a bare number is a fraction (`0.005`).
    static func parseLoss(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let value = trimmed.hasSuffix("%") ? Double(trimmed.dropLast()).map { $0 / 100 } : Double(trimmed)
        guard let value, value >= 0, value <= 1 else { return nil }
        return value
    }
}

/// The link profiles of a YAML file (`profiles/links.yaml`, or the user's own).
public struct LinkProfiles: Sendable {
    public var profiles: [String: LinkProfile]
    public var path: String

    /// The profile called `name`.
    public func profile(named name: String) throws(LinkError) -> LinkProfile {
        guard let profile = profiles[name.lowercased()] else { throw .unknownProfile(name, known: profiles.keys.sorted()) }
        return profile
    }

    /// Reads profiles from a file: a mapping of name → {uplink, downlink, rtt, jitter, loss, burst, note}.
    public static func load(_ path: String) throws(LinkError) -> LinkProfiles {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .badProfile("cannot read link profiles file \(path)")
        }
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch {
            throw .badProfile("\(path): not valid YAML (\("\(error)".split(separator: "\n").first ?? ""))")
        }
        guard let entries = root as? [String: Any] else { throw .badProfile("\(path): expected a mapping of profile names") }
        var profiles: [String: LinkProfile] = [:]
        for (name, body) in entries {
            guard let settings = body as? [String: Any] else { throw .badProfile("\(path): profile '\(name)' must be a mapping") }
            var profile = LinkProfile(name: name.lowercased())
            for (key, value) in settings {
                try profile.set(key, to: value, context: "\(path): profile '\(name)'")
            }
            profiles[profile.name] = profile
        }
        return LinkProfiles(profiles: profiles, path: path)
    }

    /// The default file: `$EDGEINSIGHT_LINK_PROFILES`, else `profiles/links.yaml` in the working
    /// directory or beside the executable (searching upwards, as a checkout is laid out).
    public static func loadDefault() throws(LinkError) -> LinkProfiles {
        if let path = ProcessInfo.processInfo.environment["EDGEINSIGHT_LINK_PROFILES"], !path.isEmpty {
            return try load(path)
        }
        var searched: [String] = []
        for root in ProjectFolders.roots() {
            let path = root + "/profiles/links.yaml"
            if FileManager.default.fileExists(atPath: path) { return try load(path) }
            searched.append(path)
        }
        throw .noProfiles(searched.first ?? "profiles/links.yaml")
    }
}
