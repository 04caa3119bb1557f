import EdgeInsightCore
import Foundation
import Profiles

/// Where a node starts: this machine (the binary's own path) or a host of the inventory over ssh.
/// The node contract is the same either way (docs/nodes.md); only the argv differs.
enum NodeLauncher: Sendable {
    case local(executable: String)
    case remote(SSHHost)

    /// The argv that runs `edgeinsight` with `arguments` where the node lives.
    func argv(_ arguments: [String]) -> [String] {
        switch self {
        case .local(let executable): [executable] + arguments
        case .remote(let ssh): ssh.edgeinsight(arguments)
        }
    }

    var ssh: SSHHost? { if case .remote(let ssh) = self { ssh } else { nil } }
    /// The host's name, or nil for this machine.
    var hostName: String? { ssh?.host.name }
    /// The address nodes elsewhere reach a node here at.
    var address: String { ssh?.host.address ?? "127.0.0.1" }
}

/// A real link between two places, measured with `link sink` at the cloud end and `link probe`
/// from the edge end: what the network between the user's hosts gives, before any emulation.
public struct MeasuredLink: Sendable, Codable, Equatable {
    public var rttMedianMs: Double
    public var rttMinMs: Double
    public var uplinkBitsPerSecond: Double?
    public var downlinkBitsPerSecond: Double?

    /// `rtt 0.31 ms (min 0.22), up 94.1 Mbit/s, down 95.0 Mbit/s`.
    public var description: String {
        var parts = [String(format: "rtt %.2f ms (min %.2f)", rttMedianMs, rttMinMs)]
        if let up = uplinkBitsPerSecond { parts.append("up \(Bandwidth(bitsPerSecond: up))") }
        if let down = downlinkBitsPerSecond { parts.append("down \(Bandwidth(bitsPerSecond: down))") }
        return parts.joined(separator: ", ")
    }

    /// The record's keys under `prefix` (`link.pi>vm.before.`).
    func environment(_ prefix: String) -> [String: String] {
        var out = [prefix + "rtt_ms": String(format: "%.3f", rttMedianMs), prefix + "rtt_min_ms": String(format: "%.3f", rttMinMs)]
        if let up = uplinkBitsPerSecond { out[prefix + "uplink_bps"] = String(format: "%.0f", up) }
        if let down = downlinkBitsPerSecond { out[prefix + "downlink_bps"] = String(format: "%.0f", down) }
        return out
    }

    /// Probes from `edge` to a sink started at `cloud`: 20 pings, 2 MB each way.
    static func measure(from edge: NodeLauncher, to cloud: NodeLauncher, bytes: String = "2MB") throws(TestbedError) -> MeasuredLink {
        let sink = try NodeSession(argv: cloud.argv(["link", "sink", "--listen", "0.0.0.0:0", "--session"]))
        defer { sink.close() }
        guard let line = sink.readLine(), let port = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw .nodeFailed("the link sink at \(cloud.hostName ?? "this machine") did not start: \(sink.errorText)")
        }
        let ssh = edge.ssh
        let argv = edge.argv(["link", "probe", "\(cloud.address):\(port)", "--pings", "20", "--upload", bytes, "--download", bytes, "--json"])
        let output = try SSHHost.capture(argv, timeout: .seconds(120))
        guard output.status == 0 else {
            throw .nodeFailed("link probe from \(ssh?.host.name ?? "this machine") to \(cloud.hostName ?? "this machine") failed: \(output.reason)")
        }
        struct Probe: Decodable {
            var rttMedianMs: Double?
            var rttMinMs: Double?
            var uploadBitsPerSecond: Double?
            var downloadBitsPerSecond: Double?
        }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: Data(output.stdout.utf8)), let median = probe.rttMedianMs else {
            throw .nodeFailed("link probe printed no measurement: \(output.stdout.prefix(160))")
        }
        return MeasuredLink(rttMedianMs: median, rttMinMs: probe.rttMinMs ?? median,
                            uplinkBitsPerSecond: probe.uploadBitsPerSecond, downlinkBitsPerSecond: probe.downloadBitsPerSecond)
    }
}
