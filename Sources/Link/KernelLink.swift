import EdgeInsightCore
import Foundation

/// A link shaped by the kernel: a network namespace joined to the host by a veth pair, with `tc tbf`
/// limiting each direction. The far node runs inside the namespace (`command(_:)` wraps its argv);
/// traffic to `peerAddress` crosses the veth and its queues. Propagation delay needs netem, which
/// this kernel lacks, so delay and jitter stay with the proxy (`LinkEmulator`) in front.
public struct KernelLink: Sendable, CustomStringConvertible {
    public let namespace: String
    public let hostInterface: String
    public let peerInterface: String
    /// The host's end of the veth.
    public let hostAddress: String
    /// The namespace's end: where the far node listens.
    public let peerAddress: String
    public let uplink: Bandwidth?
    public let downlink: Bandwidth?

    public var description: String {
        "kernel tbf (up \(uplink?.description ?? "unshaped"), down \(downlink?.description ?? "unshaped")) on \(hostInterface) ⇄ \(namespace)/\(peerInterface)"
    }

    /// Nil when kernel shaping can be used here; otherwise why not (not root, no `ip` or `tc`, no namespaces).
    public static func unavailableReason() -> String? {
        guard geteuid() == 0 else { return "needs root (network namespaces and tc)" }
        for tool in ["ip", "tc"] where Self.which(tool) == nil { return "'\(tool)' not found (Debian package iproute2)" }
        let probe = "ei-probe-\(getpid())"
        guard (try? run(["ip", "netns", "add", probe])) != nil else { return "cannot create a network namespace" }
        _ = try? run(["ip", "netns", "del", probe])
        return nil
    }

    /// A free index for `create`, starting from `preferred`: one whose namespace does not exist.
    public static func freeIndex(preferred: Int) -> Int? {
        let existing = (try? run(["ip", "netns", "list"])) ?? ""
        let names = Set(existing.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        for offset in 0...250 {
            let index = (preferred + offset) % 251
            if !names.contains("ei\(index)") { return index }
        }
        return nil
    }

    /// Creates namespace `ei<index>` with veth `eih<index>` (host) ⇄ `eip<index>` (namespace) on
    /// 10.77.<index>.1/.2, and a tbf on each end. `index` (0–250) keeps concurrent links apart.
    public static func create(index: Int, uplink: Bandwidth?, downlink: Bandwidth?, burst: Bytes? = nil) throws(LinkError) -> KernelLink {
        guard (0...250).contains(index) else { throw .kernelShapingUnavailable("link index must be 0–250") }
        if let reason = unavailableReason() { throw .kernelShapingUnavailable(reason) }
        let link = KernelLink(namespace: "ei\(index)", hostInterface: "eih\(index)", peerInterface: "eip\(index)",
                              hostAddress: "10.77.\(index).1", peerAddress: "10.77.\(index).2", uplink: uplink, downlink: downlink)
        link.remove()  // leftovers of a run that was killed
        let inside = ["ip", "netns", "exec", link.namespace]
        var steps: [[String]] = [
            ["ip", "netns", "add", link.namespace],
            ["ip", "link", "add", link.hostInterface, "type", "veth", "peer", "name", link.peerInterface],
            ["ip", "link", "set", link.peerInterface, "netns", link.namespace],
            ["ip", "addr", "add", link.hostAddress + "/24", "dev", link.hostInterface],
            ["ip", "link", "set", link.hostInterface, "up"],
            inside + ["ip", "addr", "add", link.peerAddress + "/24", "dev", link.peerInterface],
            inside + ["ip", "link", "set", link.peerInterface, "up"],
            inside + ["ip", "link", "set", "lo", "up"],
        ]
        // Uplink (edge → cloud) leaves the host end; downlink leaves the namespace end.
        if let uplink { steps.append(tbf(device: link.hostInterface, rate: uplink, burst: burst)) }
        if let downlink { steps.append(inside + tbf(device: link.peerInterface, rate: downlink, burst: burst)) }
        for step in steps {
            do { try run(step) } catch {
                link.remove()
                throw .kernelShapingUnavailable("\(step.joined(separator: " ")): \(error)")
            }
        }
        return link
    }

    /// tbf with a burst of max(the given one, 2 ms at the rate, 2 segments) — tbf drops packets bigger than
    /// its burst — and a queue of 200 ms at the rate before it drops.
    static func tbf(device: String, rate: Bandwidth, burst: Bytes?) -> [String] {
        let burstBytes = max(Int(burst?.count ?? 0), Int(rate.bytesPerSecond * 0.002), 2 * TCPModel.segmentBytes, 3028)
        let rateText = "\(Int(rate.bitsPerSecond))bit"
        return ["tc", "qdisc", "replace", "dev", device, "root", "tbf", "rate", rateText, "burst", "\(burstBytes)", "latency", "200ms"]
    }

    /// Changes the rates (nil removes that direction's limit), keeping the namespace and what runs in it.
    public func reshaped(uplink: Bandwidth?, downlink: Bandwidth?, burst: Bytes? = nil) throws(LinkError) -> KernelLink {
        let inside = ["ip", "netns", "exec", namespace]
        let steps: [[String]?] = [
            uplink.map { Self.tbf(device: hostInterface, rate: $0, burst: burst) },
            downlink.map { inside + Self.tbf(device: peerInterface, rate: $0, burst: burst) },
        ]
        if uplink == nil { _ = try? Self.run(["tc", "qdisc", "del", "dev", hostInterface, "root"]) }
        if downlink == nil { _ = try? Self.run(inside + ["tc", "qdisc", "del", "dev", peerInterface, "root"]) }
        for case let step? in steps {
            do { try Self.run(step) } catch { throw .kernelShapingUnavailable("\(step.joined(separator: " ")): \(error)") }
        }
        return KernelLink(namespace: namespace, hostInterface: hostInterface, peerInterface: peerInterface,
                          hostAddress: hostAddress, peerAddress: peerAddress, uplink: uplink, downlink: downlink)
    }

    /// The argv that runs `argv` inside the namespace.
    public func command(_ argv: [String]) -> [String] { [Self.which("ip") ?? "ip", "netns", "exec", namespace] + argv }

    /// Removes the namespace (and with it the veth pair and its qdiscs); safe to call twice.
    public func remove() {
        _ = try? Self.run(["ip", "link", "del", hostInterface])
        _ = try? Self.run(["ip", "netns", "del", namespace])
    }

    /// Runs a command; its stderr becomes the error.
    struct CommandFailed: Error, CustomStringConvertible {
        var description: String
    }

    @discardableResult
    static func run(_ argv: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailed(description: problem.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").first.map(String.init) ?? "exit \(process.terminationStatus)")
        }
        return text
    }

    static func which(_ tool: String) -> String? {
        for folder in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: folder + "/" + tool) {
            return folder + "/" + tool
        }
        return nil
    }
}
