import EdgeInsightCore
import Profiles

/// The link node's body of the node document (`edgeinsight link --config -`): where to listen,
/// where to forward, and the link's figures in full, so the node does not depend on the profiles
/// file of the host it runs on.
public struct LinkSpec: Sendable, Codable, Equatable {
    /// `HOST:PORT`; port 0 picks one, and the ready line says which.
    public var listen = "127.0.0.1:0"
    /// `HOST:PORT` of the node behind the link.
    public var to: String
    /// The profile's name, for the counters and the record.
    public var profile: String
    /// The profile's figures in its own keys and text forms (`uplink: 20mbit`, `loss: 0.5%`):
    /// what a profiles file holds, checked by the same code.
    public var settings: [String: String]
    /// Seed of the jitter and loss draws.
    public var seed: UInt64 = 1

    public init(listen: String = "127.0.0.1:0", to: String, profile: LinkProfile, seed: UInt64) {
        self.listen = listen
        self.to = to
        self.profile = profile.name
        self.settings = profile.settings
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey { case listen, to, profile, settings, seed }

    /// Only `to` is required: a person's document may leave the rest to their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        to = try c.decode(String.self, forKey: .to)
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? listen
        profile = try c.decodeIfPresent(String.self, forKey: .profile) ?? "custom"
        settings = try c.decodeIfPresent([String: String].self, forKey: .settings) ?? [:]
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
    }

    /// The profile these figures describe.
    public func linkProfile() throws(ProfileError) -> LinkProfile {
        var profile = LinkProfile(name: profile)
        for key in settings.keys.sorted() { try profile.set(key, to: settings[key]!, context: "node document: link") }
        return profile
    }
}

extension LinkProfile {
    /// The figures that shape traffic, in the profiles file's keys and text forms.
    public var settings: [String: String] {
        var out = ["uplink": uplink?.exactDescription ?? "unshaped", "downlink": downlink?.exactDescription ?? "unshaped",
                   "rtt": DurationText.exact(rtt), "jitter": DurationText.exact(jitter), "loss": UnitFormat.plain(loss)]
        if let burst { out["burst"] = burst.exactDescription }
        return out
    }
}
