import EdgeInsightCore
import Foundation

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

    public var description: String {
        var parts = ["up \(uplink?.description ?? "unshaped")", "down \(downlink?.description ?? "unshaped")",
                     "rtt \(DurationText.format(rtt))"]
        if jitter > .zero { parts.append("jitter ±\(DurationText.format(jitter))") }
        if loss > 0 { parts.append("loss \(UnitFormat.significant(loss * 100))%") }
        return "\(name): " + parts.joined(separator: ", ")
    }

    static let keys: Set<String> = ["uplink", "downlink", "rtt", "jitter", "loss", "burst", "price_per_gb", "note"]

    /// This profile with a trial's overrides of it (`link.uplink`, `link.rtt`, …) applied.
    public func overridden(by link: TrialConfig.Link) throws(ProfileError) -> LinkProfile {
        var profile = self
        for (key, value) in link.overrides { try profile.set(key, to: value, context: "link.\(key)") }
        return profile
    }

    /// Applies one setting from a file or flag; `context` names where it came from in errors.
    public mutating func set(_ key: String, to text: String, context: String) throws(ProfileError) {
        switch key {
        case "uplink", "downlink":
            let bandwidth: Bandwidth?
            if text == "unlimited" || text == "unshaped" { bandwidth = nil } else {
                guard let parsed = Bandwidth(parsing: text) else {
                    throw .invalid("\(context): '\(key)' must be a positive rate such as 20mbit, or unshaped (got '\(text)')")
                }
                bandwidth = parsed
            }
            if key == "uplink" { uplink = bandwidth } else { downlink = bandwidth }
        case "rtt", "jitter":
            guard let duration = DurationText.parse(text) else {
                throw .invalid("\(context): '\(key)' must be a duration such as 40ms (got '\(text)')")
            }
            if key == "rtt" { rtt = duration } else { jitter = duration }
        case "loss":
            guard let rate = LossRate(parsing: text) else {
                throw .invalid("\(context): 'loss' must be a percentage from 0% to 100% such as 0.5% (got '\(text)')")
            }
            loss = rate.fraction
        case "burst":
            guard let bytes = Bytes(parsing: text), bytes.count > 0 else {
                throw .invalid("\(context): 'burst' must be a size such as 32kB (got '\(text)')")
            }
            burst = bytes
        case "price_per_gb":
            guard let price = Double(text), price >= 0 else { throw .invalid("\(context): 'price_per_gb' must be a number of dollars ≥ 0 (got '\(text)')") }
            pricePerGB = price
        case "note": note = text
        default:
            throw .invalid("\(context): unknown key '\(key)' (known: \(Self.keys.sorted().joined(separator: ", ")))")
        }
    }

}

/// The link profiles of a YAML file (`profiles/links.yaml`, or the user's own).
public struct LinkProfiles: Sendable {
    public var profiles: [String: LinkProfile]
    public var path: String

    /// The profile called `name`.
    public func profile(named name: String) throws(ProfileError) -> LinkProfile {
        guard let profile = profiles[name.lowercased()] else { throw .unknown(kind: "link", name: name, known: profiles.keys.sorted()) }
        return profile
    }

    /// Reads profiles from a file: a mapping of name → {uplink, downlink, rtt, jitter, loss, burst,
    /// price_per_gb, note}; every bad value is an error at its `file:line`.
    public static func load(_ path: String) throws(ProfileError) -> LinkProfiles {
        let file = try ProfileFile.read(path, kind: "link")
        var profiles: [String: LinkProfile] = [:]
        for entry in file.entries {
            var profile = LinkProfile(name: entry.name.lowercased())
            for field in entry.fields {
                try profile.set(field.key, to: field.value, context: "\(path):\(field.line): profile '\(entry.name)'")
            }
            profiles[profile.name] = profile
        }
        return LinkProfiles(profiles: profiles, path: path)
    }

    /// The default file: `$EDGEINSIGHT_LINK_PROFILES`, else `profiles/links.yaml` in the working
    /// directory or beside the executable (searching upwards, as a checkout is laid out).
    public static func loadDefault() throws(ProfileError) -> LinkProfiles {
        try load(try ProfileFile.locate("links.yaml", variable: "EDGEINSIGHT_LINK_PROFILES", kind: "link"))
    }
}
