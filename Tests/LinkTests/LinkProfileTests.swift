import EdgeInsightCore
import Foundation
@testable import Link
import Profiles
import Testing
import TestSupport

@Suite(.timeLimit(.minutes(3))) struct LinkProfileTests {
    @Test func shippedProfilesLoadAndEveryFigureIsSet() throws {
        let profiles = try LinkProfiles.load(repositoryRoot + "/profiles/links.yaml")
        for name in ["ethernet", "wifi", "5g", "lte", "3g", "leo", "geo"] {
            let profile = try profiles.profile(named: name)
            #expect(profile.uplink != nil && profile.downlink != nil && profile.rtt > .zero, "\(name)")
        }
        // Physics: a geostationary hop cannot be faster than 4 × 35,786 km at the speed of light.
        #expect(try profiles.profile(named: "geo").rtt >= .milliseconds(477))
    }

    @Test func shapeSplitsRTTAndPicksABurst() {
        let profile = LinkProfile(uplink: Bandwidth(parsing: "20mbit"), rtt: .milliseconds(40), jitter: .milliseconds(5), loss: 0.005)
        let up = profile.shape(.uplink)
        #expect(up.delay == .milliseconds(20))
        // 2 ms at 20 Mbit/s is 5000 bytes, more than two segments.
        #expect(up.burst == Bytes(5000))
        #expect(!up.isTransparent)
        let down = profile.shape(.downlink)
        #expect(down.bandwidth == nil && down.burst == Bytes(0))
        #expect(LinkProfile().shape(.uplink).isTransparent)
    }

    /// Each bad value is an error at its file and line, naming the profile and the key; none
    /// loads (a load that succeeds fails the test).
    @Test(arguments: [
        ("lte:\n  uplink: 10mbit\n  latency: 40ms\n", ":3: profile 'lte': unknown key 'latency'"),
        ("lte:\n  uplink: fast\n", ":2: profile 'lte': 'uplink' must be a positive rate"),
        ("lte:\n  rtt: 40ms\n  loss: 150%\n", ":3: profile 'lte': 'loss' must be a percentage from 0% to 100%"),
        ("lte:\n  uplink: -5mbit\n", ":2: profile 'lte': 'uplink' must be a positive rate"),
        ("lte: 10mbit\n", ":1: profile 'lte' must be a mapping"),
        ("- lte\n", ":1: expected a mapping of link profile names"),
    ])
    func badFilesNameFileLineProfileAndKey(text: String, mentions: String) throws {
        let path = temporaryPath("links.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ProfileError.self) { try LinkProfiles.load(path) }
        do {
            _ = try LinkProfiles.load(path)
        } catch {
            #expect(error.description.hasPrefix(path + mentions), "\(error.description)")
        }
    }

    @Test func lossParsesPercentAndFraction() {
        #expect(LossRate(parsing: "0.5%")?.fraction == 0.005)
        #expect(LossRate(parsing: "0.01")?.fraction == 0.01)
        #expect(LossRate(parsing: "100%")?.fraction == 1)
        for bad in ["-1%", "lots", "101%", "1.5", "nan", "inf%"] { #expect(LossRate(parsing: bad) == nil, "\(bad)") }
        #expect(LossRate(parsing: LossRate(parsing: "0.3%")!.exactDescription) == LossRate(parsing: "0.3%"))
    }

    @Test func addressesParse() throws {
        #expect(try HostPort(parsing: "127.0.0.1:9000") == HostPort(host: "127.0.0.1", port: 9000))
        #expect(try HostPort(parsing: "[::1]:80") == HostPort(host: "::1", port: 80))
        for bad in ["127.0.0.1", ":80", "host:99999", "host:port"] {
            #expect(throws: LinkError.self) { try HostPort(parsing: bad) }
        }
    }
}

@Suite(.timeLimit(.minutes(3))) struct KernelLinkTests {
    @Test(.enabled(if: KernelLink.unavailableReason() == nil, Comment(rawValue: "kernel shaping unavailable here: \(KernelLink.unavailableReason() ?? "")")))
    func tbfShapesTheVethAndTheNamespaceIsRemoved() async throws {
        let link = try KernelLink.create(index: 201, uplink: Bandwidth(parsing: "20mbit"), downlink: Bandwidth(parsing: "40mbit"))
        defer { link.remove() }
        let qdiscs = try KernelLink.run(["tc", "qdisc", "show", "dev", link.hostInterface])
        #expect(qdiscs.contains("tbf") && qdiscs.contains("20Mbit"))
        let inside = try KernelLink.run(link.command(["tc", "qdisc", "show", "dev", link.peerInterface]))
        #expect(inside.contains("tbf") && inside.contains("40Mbit"))
        link.remove()
        #expect(!(try KernelLink.run(["ip", "netns", "list"])).contains(link.namespace))
    }
}
