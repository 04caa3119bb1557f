import EdgeInsightCore
import Engine
import Foundation
import Link
#if canImport(Glibc)
import Glibc
#endif

/// What a host is and what the testbed may do on it, as `edgeinsight host facts` reports it there:
/// the record each trial keeps of where it ran, and `hosts check`'s line.
public struct HostFacts: Codable, Sendable, Equatable {
    /// This build's version and node contract: a host must match both.
    public var version: String
    public var contract: Int
    public var architecture: String
    public var cpuModel: String
    public var cores: Int
    public var memoryBytes: UInt64
    public var os: String
    public var kernel: String
    /// The CPU frequency governor (`performance`, `ondemand`), nil where the kernel has none.
    public var governor: String?
    /// Why cgroups cannot confine a node here; nil when they can.
    public var cgroupProblem: String?
    /// Why tc cannot shape a link here; nil when it can.
    public var tcProblem: String?
    /// The frameworks that load here, with their versions (`OpenVINO 2026.4.1`).
    public var engines: [String]

    /// This build's version (`--version`, and what `hosts check` compares).
    public static let buildVersion = "0.3.0"

    /// The facts of the machine this runs on, with the frameworks of `engines` that load (each is
    /// opened to ask its version; LiteRT's start-up chatter on stderr is why a run asks only OpenVINO).
    public static func gather(engines kinds: [EngineKind] = [.openvino]) -> HostFacts {
        var name = utsname()
        uname(&name)
        func text<T>(_ field: T) -> String { withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("model name") || $0.hasPrefix("Model") }?.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        let os = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("PRETTY_NAME=") }.map { $0.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        let governor = (try? String(contentsOfFile: "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var engines: [String] = []
        for kind in kinds {
            switch kind {
            case .openvino: if let version = try? OpenVINOEngine().version { engines.append("OpenVINO \(version)") }
            case .litert: if let version = try? LiteRTEngine().version { engines.append("LiteRT \(version)") }
            case .opencv: if let version = try? OpenCVEngine().version { engines.append("OpenCV \(version)") }
            }
        }
        return HostFacts(version: buildVersion, contract: NodeContract.version, architecture: text(name.machine),
                         cpuModel: cpu ?? "unknown", cores: ProcessInfo.processInfo.activeProcessorCount,
                         memoryBytes: ProcessInfo.processInfo.physicalMemory, os: os ?? "unknown", kernel: text(name.release),
                         governor: governor, cgroupProblem: ControlGroup.unavailableReason(), tcProblem: KernelLink.unavailableReason(), engines: engines)
    }

    /// Why a runner of `local` cannot use this host, or nil.
    public func mismatch(with local: HostFacts) -> String? {
        if contract != local.contract { return "its edgeinsight reads node contract v\(contract), this one v\(local.contract)" }
        if version != local.version { return "edgeinsight \(version) there, \(local.version) here (copy this build with --install)" }
        if engines.isEmpty { return "no inference engine loads there (run scripts/setup --runtime-only on it)" }
        return nil
    }

    /// One line: `aarch64 Cortex-A72, 4 cores, 3.7 GiB, Debian 12, governor ondemand, OpenVINO 2026.4.1`.
    public var summary: String {
        let memory = String(format: "%.1f GiB", Double(memoryBytes) / 1_073_741_824)
        return ([architecture + " " + cpuModel, "\(cores) cores", memory, os, "governor \(governor ?? "none")"] + engines).joined(separator: ", ")
    }

    /// As a run's environment record keys it (for this machine, and under `host.NAME.` for each host).
    public var environment: [String: String] {
        var out = ["cpu_model": cpuModel, "cores": String(cores), "memory_bytes": String(memoryBytes), "kernel": kernel, "os": os,
                   "architecture": architecture, "edgeinsight_version": version,
                   "confinement": cgroupProblem.map { "none: \($0)" } ?? "cgroups",
                   "kernel_shaping": tcProblem.map { "unavailable: \($0)" } ?? "available"]
        if let governor { out["governor"] = governor }
        for engine in engines {
            let parts = engine.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { out[parts[0].lowercased() + "_version"] = String(parts[1]) }
        }
        return out
    }
}

/// A host's clock against ours, from timestamped exchanges over the control channel (NTP's
/// formulas): for each exchange, our send time t0, the host's time t1 and our receive time t3;
/// offset θ = t1 − (t0 + t3)/2, delay δ = t3 − t0, and the true offset lies within ±δ/2 of θ.
/// The exchange with the least delay is the best estimate.
public struct ClockOffset: Codable, Sendable, Equatable {
    /// The host's clock minus ours, in nanoseconds.
    public var offsetNs: Double
    /// Half the best exchange's round trip: the offset is known to ± this.
    public var uncertaintyNs: Double
    /// The best exchange's round trip over the control channel.
    public var roundTripNs: Double
    public var exchanges: Int

    /// The estimate from exchanges of (t0, t1, t3), each in ns of its own clock.
    public static func estimate(_ samples: [(sent: Int64, remote: Int64, received: Int64)]) -> ClockOffset? {
        guard let best = samples.min(by: { $0.received - $0.sent < $1.received - $1.sent }) else { return nil }
        let delay = Double(best.received - best.sent)
        let offset = Double(best.remote) - (Double(best.sent) + Double(best.received)) / 2
        return ClockOffset(offsetNs: offset, uncertaintyNs: delay / 2, roundTripNs: delay, exchanges: samples.count)
    }

    /// Whether a one-way time measured across the two clocks means anything at this uncertainty.
    public func resolves(_ oneWayNs: Double) -> Bool { abs(oneWayNs) > uncertaintyNs }

    /// `+0.42 ms ± 0.08 ms`.
    public var description: String {
        String(format: "%+.3f ms ± %.3f ms", offsetNs / 1e6, uncertaintyNs / 1e6)
    }

    /// The wall clock in ns since 1970, as both ends read it.
    public static func wallNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
