import ArgumentParser
import EdgeInsightCore
import Foundation
import Link
import Profiles

/// `edgeinsight link`: put an emulated network between two nodes, and measure links.
struct LinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Emulate a network link (bandwidth, RTT, jitter, loss) as a TCP proxy, and measure links.",
        subcommands: [LinkRun.self, LinkProbeCommand.self, LinkSinkCommand.self, LinkProfilesCommand.self],
        defaultSubcommand: LinkRun.self)
}

/// `edgeinsight link [run]`: the proxy.
struct LinkRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Forward TCP connections from --listen to --to through an emulated link.",
        discussion: """
            Every connection's upstream bytes share one uplink bottleneck (a token bucket, connections
            served in turns so they share it fairly) and its downstream bytes one downlink; each way
            adds half the RTT, jitter (uniform within ±jitter, never reordering bytes) and the delay a
            TCP retransmission would add for lost segments. Flags override the profile's figures.

            Examples:
              edgeinsight link --listen 127.0.0.1:9000 --to 127.0.0.1:8000 --profile lte
              edgeinsight link --listen 127.0.0.1:9000 --to 127.0.0.1:8000 --uplink 20mbit --rtt 40ms --jitter 5ms --loss 0.5%
            """)

    @Option(help: "Address to accept connections on, HOST:PORT (port 0 picks one and prints it).")
    var listen = "127.0.0.1:0"

    @Option(help: "Where connections go, HOST:PORT.")
    var to: String?

    @Option(help: "The node document (docs/nodes.md), a file or - for standard input, instead of the flags.")
    var config: String?

    @Option(help: "A named profile (ethernet, wifi, 5g, lte, 3g, leo, geo, or one in --profiles).")
    var profile: String?

    @Option(help: "Link profiles file (default: profiles/links.yaml, or $EDGEINSIGHT_LINK_PROFILES).")
    var profiles: String?

    @Option(help: "Edge → cloud bandwidth, e.g. 20mbit (or 'unshaped').")
    var uplink: String?

    @Option(help: "Cloud → edge bandwidth, e.g. 50mbit (or 'unshaped').")
    var downlink: String?

    @Option(help: "Round-trip time, e.g. 40ms (half is added each way).")
    var rtt: String?

    @Option(help: "Delay variation per chunk, uniform within ±jitter, e.g. 5ms.")
    var jitter: String?

    @Option(help: "TCP segment loss, e.g. 0.5% (emulated as retransmission delay).")
    var loss: String?

    @Option(help: "Token-bucket burst, e.g. 32kB (default: 2 ms at the link rate, at least 2 segments).")
    var burst: String?

    @Option(help: "Seed of the jitter and loss draws.")
    var seed: UInt64 = 1

    @Option(help: "Write the link's counters here as JSON every second and on exit.")
    var stats: String?

    @Option(help: "Stop after this long, e.g. 60s (default: until SIGTERM or Ctrl-C).")
    var duration: String?

    func run() async throws {
        let spec = try config.map { try NodeSpec<LinkSpec>.read($0, as: .link).spec } ?? flagSpec()
        let linkProfile = try spec.linkProfile()
        let listenAddress = try HostPort(parsing: spec.listen)
        let target = try HostPort(parsing: spec.to)
        let stopAfter = try duration.map { text -> Duration in
            guard let value = DurationText.parse(text) else { throw ValidationError("--duration must be a duration such as 60s") }
            return value
        }

        let stop = StopSignal()
        let emulator = LinkEmulator(profile: linkProfile, target: target, seed: spec.seed)
        let port = try await emulator.start(listen: listenAddress)
        NodeLine<LinkCounters>.ready(NodeReady(node: .link, address: listenAddress.host, port: port)).write()
        FileHandle.standardError.write(Data("link \(linkProfile) listening on \(listenAddress.host):\(port) → \(target)\n".utf8))

        if let stopAfter { stop.after(stopAfter) }
        let statsPath = stats
        let writer = Task {
            while !Task.isCancelled {
                if let statsPath { try? Self.write(await emulator.counters(), to: statsPath) }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        await stop.wait()
        writer.cancel()
        let counters = await emulator.counters()
        if let statsPath { try Self.write(counters, to: statsPath) }
        await emulator.stop()
        FileHandle.standardError.write(Data(Self.summary(counters).utf8))
        NodeLine<LinkCounters>.report(counters).write()
    }

    /// The flags as a node document's body: a named profile with the flags over it.
    func flagSpec() throws -> LinkSpec {
        guard let to else { throw ValidationError("give --to HOST:PORT (or --config with a node document)") }
        var linkProfile = LinkProfile(name: "custom")
        if let profile {
            let file = try profiles.map(LinkProfiles.load) ?? LinkProfiles.loadDefault()
            linkProfile = try file.profile(named: profile)
        }
        let flags: [(String, String?)] = [("uplink", uplink), ("downlink", downlink), ("rtt", rtt), ("jitter", jitter), ("loss", loss), ("burst", burst)]
        for case let (key, value?) in flags {
            try linkProfile.set(key, to: value, context: "--\(key)")
        }
        return LinkSpec(listen: listen, to: to, profile: linkProfile, seed: seed)
    }

    static func write(_ counters: LinkCounters, to path: String) throws {
        // Atomic (written beside, then renamed): a reader never sees half a file.
        try Data(try prettyJSON(counters).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func summary(_ counters: LinkCounters) -> String {
        func line(_ name: String, _ d: DirectionCounters) -> String {
            "  \(name): \(Bytes(d.deliveredBytes)) delivered at \(Bandwidth(bitsPerSecond: max(1, d.achievedBitsPerSecond))), \(d.retransmittedSegments) segments retransmitted\n"
        }
        return "link \(counters.profile): \(counters.connectionsAccepted) connections (\(counters.connectionsFailed) failed to reach the target)\n"
            + line("uplink", counters.uplink) + line("downlink", counters.downlink)
    }
}

/// `edgeinsight link probe`: measure RTT and bandwidth against a `link sink`, through a link or not.
struct LinkProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Measure round-trip time and bandwidth to an `edgeinsight link sink`.",
        discussion: """
            Example: edgeinsight link sink --listen 127.0.0.1:9100 &
                     edgeinsight link --listen 127.0.0.1:9000 --to 127.0.0.1:9100 --profile lte &
                     edgeinsight link probe 127.0.0.1:9000 --pings 20 --upload 5MB --download 5MB
            """)

    @Argument(help: "The sink (or a link in front of it), HOST:PORT.")
    var address: String

    @Option(help: "One-byte ping-pongs to time.")
    var pings = 20

    @Option(help: "Bytes to send up, e.g. 10MB (0 skips).")
    var upload = "0"

    @Option(help: "Bytes to fetch down, e.g. 10MB (0 skips).")
    var download = "0"

    @Option(help: "Parallel connections for upload and download.")
    var connections = 1

    @Flag(help: "Print JSON instead of text.")
    var json = false

    struct Result: Encodable {
        var rttMedianMs: Double?
        var rttP90Ms: Double?
        var rttMinMs: Double?
        var rttMaxMs: Double?
        var uploadBitsPerSecond: Double?
        var downloadBitsPerSecond: Double?
        var uploadSeconds: [Double]?
        var downloadSeconds: [Double]?
    }

    func run() throws {
        let target = try HostPort(parsing: address)
        guard let up = Bytes(parsing: upload), let down = Bytes(parsing: download) else { throw ValidationError("--upload and --download must be sizes such as 10MB") }
        guard connections >= 1, pings >= 0 else { throw ValidationError("--connections must be ≥ 1 and --pings ≥ 0") }
        var result = Result()
        if pings > 0 {
            let times = try LinkProbe.pingNs(target, count: pings).map { Double($0) / 1e6 }.sorted()
            result.rttMedianMs = times[times.count / 2]
            result.rttP90Ms = times[min(times.count - 1, times.count * 9 / 10)]
            result.rttMinMs = times.first
            result.rttMaxMs = times.last
        }
        if up.count > 0 {
            let seconds = try LinkProbe.uploads(target, bytes: Int(up.count), connections: connections).map { Double($0.totalNs) / 1e9 }
            result.uploadSeconds = seconds
            result.uploadBitsPerSecond = Double(up.count) * 8 * Double(connections) / seconds.max()!
        }
        if down.count > 0 {
            let seconds = try LinkProbe.downloadsNs(target, bytes: Int(down.count), connections: connections).map { Double($0) / 1e9 }
            result.downloadSeconds = seconds
            result.downloadBitsPerSecond = Double(down.count) * 8 * Double(connections) / seconds.max()!
        }
        if json {
            print(try prettyJSON(result))
            return
        }
        if let median = result.rttMedianMs {
            print("rtt: median \(UnitFormat.significant(median))ms, p90 \(UnitFormat.significant(result.rttP90Ms!))ms, min \(UnitFormat.significant(result.rttMinMs!))ms, max \(UnitFormat.significant(result.rttMaxMs!))ms over \(pings) pings")
        }
        if let rate = result.uploadBitsPerSecond {
            print("upload: \(up) × \(connections) in \(UnitFormat.significant(result.uploadSeconds!.max()!))s = \(Bandwidth(bitsPerSecond: rate))")
        }
        if let rate = result.downloadBitsPerSecond {
            print("download: \(down) × \(connections) in \(UnitFormat.significant(result.downloadSeconds!.max()!))s = \(Bandwidth(bitsPerSecond: rate))")
        }
    }
}

/// `edgeinsight link sink`: the far end for `link probe`.
struct LinkSinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sink",
        abstract: "Answer `link probe`: echo pings, time uploads, serve downloads (until killed).")

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks one and prints it).")
    var listen = "127.0.0.1:0"

    @Flag(help: "Stop when standard input ends (how the runner starts one on a host over ssh).")
    var session = false

    func run() async throws {
        let stop = StopSignal()
        if session { StandardInput.stopWhenClosed() }
        let address = try HostPort(parsing: listen)
        let sink = try LinkSink(listen: address)
        FileHandle.standardOutput.write(Data("sink listening on \(address.host):\(sink.port)\n".utf8))
        await stop.wait()
        sink.close()
    }
}

/// `edgeinsight link profiles`: what the profiles say.
struct LinkProfilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "profiles", abstract: "List the link profiles and their figures.")

    @Option(help: "Link profiles file (default: profiles/links.yaml).")
    var profiles: String?

    func run() throws {
        let file = try profiles.map(LinkProfiles.load) ?? LinkProfiles.loadDefault()
        var table = TextTable(["profile", "uplink", "downlink", "rtt", "jitter", "loss", "source"])
        for profile in file.profiles.values.sorted(by: { ($0.uplink ?? .init(bitsPerSecond: .infinity)) > ($1.uplink ?? .init(bitsPerSecond: .infinity)) }) {
            table.add([profile.name, profile.uplink?.description ?? "unshaped", profile.downlink?.description ?? "unshaped",
                       DurationText.format(profile.rtt), "±" + DurationText.format(profile.jitter),
                       UnitFormat.significant(profile.loss * 100) + "%", profile.note])
        }
        print("profiles from \(file.path)")
        print(table.rendered)
    }
}
