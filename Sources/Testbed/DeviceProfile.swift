import EdgeInsightCore
import Foundation
import Yams

/// A real device an edge node stands in for: cores, memory, and a per-core speed relative to this
/// machine (uncalibrated until measured), from `profiles/devices.yaml`.
public struct DeviceProfile: Sendable, Equatable {
    public var name: String
    public var cores: Int
    public var memory: Bytes
    public var relativeSpeed: Double

    /// The CPU quota that makes this machine about as fast as the device.
    public var cpuQuota: Double { Double(cores) * relativeSpeed }

    /// Turns a configuration's device profile into the limits it stands for (cpu, memory, threads),
    /// as the runner confines the edge node; no profile leaves the configuration as it is.
    public static func resolve(_ config: inout TrialConfig) throws(TestbedError) {
        guard let name = config.device.profile else { return }
        let profile = try load(named: name)
        config.device.cpu = min(profile.cpuQuota, Double(ProcessInfo.processInfo.activeProcessorCount))
        config.device.memory = profile.memory
        config.device.threads = profile.cores
    }

    /// Reads the profiles file (`$EDGEINSIGHT_DEVICE_PROFILES`, else `profiles/devices.yaml` of the checkout).
    public static func load(named name: String) throws(TestbedError) -> DeviceProfile {
        let path = ProcessInfo.processInfo.environment["EDGEINSIGHT_DEVICE_PROFILES"]
            ?? ProjectFolders.roots().map { $0 + "/profiles/devices.yaml" }.first { FileManager.default.fileExists(atPath: $0) }
        guard let path, let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .badExperiment("no device profiles file (profiles/devices.yaml) found")
        }
        guard let root = (try? Yams.load(yaml: text)) as? [String: Any] else { throw .badExperiment("\(path): expected a mapping of device names") }
        guard let entry = root[name] as? [String: Any] else {
            throw .badExperiment("unknown device profile '\(name)' (known: \(root.keys.sorted().joined(separator: ", ")))")
        }
        guard let cores = entry["cores"] as? Int, cores >= 1,
              let memory = (entry["memory"]).flatMap({ Bytes(parsing: "\($0)") }),
              let speed = (entry["relative_speed"] as? Double) ?? (entry["relative_speed"] as? Int).map(Double.init), speed > 0 else {
            throw .badExperiment("\(path): profile '\(name)' needs cores (integer), memory (size) and relative_speed (number)")
        }
        return DeviceProfile(name: name, cores: cores, memory: memory, relativeSpeed: speed)
    }
}
