import EdgeInsightCore
import Foundation
import Yams

/// A real device an edge node stands in for: cores, memory, and a per-core speed relative to this
/// machine (uncalibrated until measured), from `profiles/devices.yaml`; and what it costs to own.
public struct DeviceProfile: Sendable, Equatable {
    public var name: String
    public var cores: Int
    public var memory: Bytes
    public var relativeSpeed: Double
    /// List price in US dollars and rated power in watts, when the profile states them.
    public var price: Double?
    public var watts: Double?

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

    /// One profile of the profiles file.
    public static func load(named name: String) throws(TestbedError) -> DeviceProfile {
        let profiles = try all()
        guard let profile = profiles[name] else {
            throw .badExperiment("unknown device profile '\(name)' (known: \(profiles.keys.sorted().joined(separator: ", ")))")
        }
        return profile
    }

    /// Every profile of the profiles file (`$EDGEINSIGHT_DEVICE_PROFILES`, else `profiles/devices.yaml` of the checkout).
    public static func all() throws(TestbedError) -> [String: DeviceProfile] {
        let path = ProcessInfo.processInfo.environment["EDGEINSIGHT_DEVICE_PROFILES"]
            ?? ProjectFolders.roots().map { $0 + "/profiles/devices.yaml" }.first { FileManager.default.fileExists(atPath: $0) }
        guard let path, let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .badExperiment("no device profiles file (profiles/devices.yaml) found")
        }
        guard let root = (try? Yams.load(yaml: text)) as? [String: Any] else { throw .badExperiment("\(path): expected a mapping of device names") }
        func number(_ value: Any?) -> Double? { (value as? Double) ?? (value as? Int).map(Double.init) }
        var profiles: [String: DeviceProfile] = [:]
        for (name, value) in root {
            guard let entry = value as? [String: Any], let cores = entry["cores"] as? Int, cores >= 1,
                  let memory = (entry["memory"]).flatMap({ Bytes(parsing: "\($0)") }),
                  let speed = number(entry["relative_speed"]), speed > 0 else {
                throw .badExperiment("\(path): profile '\(name)' needs cores (integer), memory (size) and relative_speed (number)")
            }
            profiles[name] = DeviceProfile(name: name, cores: cores, memory: memory, relativeSpeed: speed, price: number(entry["price"]),
                                           watts: number(entry["watts"]))
        }
        return profiles
    }
}
