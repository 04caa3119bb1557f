import EdgeInsightCore
import Foundation
@testable import Link
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

    @Test func badFilesNameFileProfileAndKey() throws {
        let path = temporaryPath("links.yaml")
        try "lte:\n  uplink: 10mbit\n  latency: 40ms\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: LinkError.self) { try LinkProfiles.load(path) }
        do { _ = try LinkProfiles.load(path) } catch {
            #expect(error.description.contains(path) && error.description.contains("'lte'") && error.description.contains("latency"))
        }
        try "lte:\n  uplink: fast\n".write(toFile: path, atomically: true, encoding: .utf8)
        do { _ = try LinkProfiles.load(path) } catch { #expect(error.description.contains("'uplink' must be a rate")) }
        try "lte:\n  loss: 150%\n".write(toFile: path, atomically: true, encoding: .utf8)
        do { _ = try LinkProfiles.load(path) } catch { #expect(error.description.contains("'loss'")) }
    }

    @Test func lossParsesPercentAndFraction() {
        #expect(LinkProfile.parseLoss("0.5%") == 0.005)
        #expect(LinkProfile.parseLoss("0.01") == 0.01)
        #expect(LinkProfile.parseLoss("-1%") == nil)
        #expect(LinkProfile.parseLoss("lots") == nil)
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
