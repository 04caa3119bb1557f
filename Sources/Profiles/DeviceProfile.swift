import EdgeInsightCore
import Foundation

/// A latency someone measured on the real board and published: the figure a device profile is
/// grounded in (`devices calibrate` turns it into this machine's quota by the calibration's own
/// measurement of the same model).
public struct PublishedLatency: Sendable, Equatable {
    /// The model measured: a zoo name where the zoo has it (then it sets the quota), else what the
    /// source measured, kept as context.
    public var model: String
    /// Mean time of one inference, as published (at the clock the source ran, scaled to the
    /// profile's clock when `clock_ghz` says the source's differs).
    public var latencyMs: Double
    public var threads: Int
    /// Framework and precision as the source states them ("TensorFlow Lite, precision not stated").
    public var framework: String
    /// The source's clock when it differs from the board's stock one (an overclock), in GHz.
    public var clockGHz: Double?
    /// Who measured it, where it is published.
    public var source: String

    /// The latency at the profile's stock clock `stockGHz`: compute-bound inference scales with
    /// the clock (an assumption the profile states where it applies).
    public func latencyMs(atClock stockGHz: Double?) -> Double {
        guard let clock = clockGHz, let stock = stockGHz, stock > 0 else { return latencyMs }
        return latencyMs * clock / stock
    }
}

/// A real device an edge node stands in for: cores, memory, and a per-core speed relative to this
/// machine, from `profiles/devices.yaml`; the published measurements that speed is grounded in; and
/// what it costs to own.
public struct DeviceProfile: Sendable, Equatable {
    public var name: String
    public var cores: Int
    public var memory: Bytes
    /// One device core against one of this machine's: derived from `published` by `devices
    /// calibrate` (on the machine class the file says), or a guess where nothing is published.
    public var relativeSpeed: Double
    /// Published latencies of named models on the board's CPU; empty: the profile is unsourced.
    public var published: [PublishedLatency] = []
    /// The board's stock CPU clock, in GHz (to bring an overclocked measurement back to it).
    public var clockGHz: Double?
    /// List price in US dollars and rated power in watts, when the profile states them.
    public var price: Double?
    public var watts: Double?
    /// Where the figures come from.
    public var note: String

    /// The CPU quota that makes this machine about as fast as the device.
    public var cpuQuota: Double { Double(cores) * relativeSpeed }

    /// Turns a configuration's device profile into the limits it stands for (cpu, memory, threads),
    /// as the runner confines the edge node; no profile leaves the configuration as it is.
    public static func resolve(_ config: inout TrialConfig) throws(ProfileError) {
        guard let name = config.device.profile else { return }
        let profile = try load(named: name)
        config.device.cpu = min(profile.cpuQuota, Double(ProcessInfo.processInfo.activeProcessorCount))
        config.device.memory = profile.memory
        config.device.threads = profile.cores
    }

    /// One profile of the profiles file.
    public static func load(named name: String) throws(ProfileError) -> DeviceProfile {
        let profiles = try all()
        guard let profile = profiles[name] else { throw .unknown(kind: "device", name: name, known: profiles.keys.sorted()) }
        return profile
    }

    static let keys: Set<String> = ["cores", "memory", "relative_speed", "price", "watts", "note", "published", "clock_ghz"]
    static let publishedKeys: Set<String> = ["model", "latency", "threads", "framework", "clock_ghz", "source"]

    /// Every profile of the profiles file (`$EDGEINSIGHT_DEVICE_PROFILES`, else `profiles/devices.yaml`
    /// of the checkout); every bad value is an error at its `file:line`.
    public static func all(file: String? = nil) throws(ProfileError) -> [String: DeviceProfile] {
        let path: String
        if let file { path = file } else { path = try ProfileFile.locate("devices.yaml", variable: "EDGEINSIGHT_DEVICE_PROFILES", kind: "device") }
        let file = try ProfileFile.read(path, kind: "device")
        var profiles: [String: DeviceProfile] = [:]
        for entry in file.entries {
            var profile = DeviceProfile(name: entry.name, cores: 0, memory: Bytes(0), relativeSpeed: 0, note: "")
            for field in entry.fields {
                func bad(_ expect: String) -> ProfileError {
                    .invalid("\(path):\(field.line): profile '\(entry.name)': '\(field.key)' must be \(expect) (got '\(field.value)')")
                }
                switch field.key {
                case "cores":
                    guard let cores = Int(field.value), (1...1024).contains(cores) else { throw bad("an integer in 1…1024") }
                    profile.cores = cores
                case "memory":
                    guard let memory = Bytes(parsing: field.value), memory.count > 0 else { throw bad("a size such as 4GB") }
                    profile.memory = memory
                case "relative_speed":
                    profile.relativeSpeed = try ProfileValue.number(field, in: path, profile: entry.name, 1e-4...100, "a number in 0.0001…100 (one device core against one of this machine's)")
                case "price": profile.price = try ProfileValue.number(field, in: path, profile: entry.name, 0...1e7, "US dollars, 0 or more")
                case "watts": profile.watts = try ProfileValue.number(field, in: path, profile: entry.name, 0...1e5, "watts, 0 or more")
                case "note": profile.note = field.value
                case "clock_ghz": profile.clockGHz = try ProfileValue.number(field, in: path, profile: entry.name, 0.01...100, "a clock in GHz")
                case "published": profile.published = try published(field, path: path, profile: entry.name)
                default: throw .invalid("\(path):\(field.line): profile '\(entry.name)': unknown key '\(field.key)' (known: \(keys.sorted().joined(separator: ", ")))")
                }
            }
            for required in ["cores", "memory", "relative_speed"] where !entry.fields.contains(where: { $0.key == required }) {
                throw .invalid("\(path):\(entry.line): profile '\(entry.name)' needs cores (integer), memory (size) and relative_speed (number); '\(required)' is missing")
            }
            profiles[entry.name] = profile
        }
        return profiles
    }

    /// `published:` — each `{model, latency, threads, framework, source}` (and `clock_ghz` when the
    /// source overclocked), every value checked where it is.
    static func published(_ field: ProfileFile.Field, path: String, profile: String) throws(ProfileError) -> [PublishedLatency] {
        guard let items = field.items else { throw .invalid("\(path):\(field.line): profile '\(profile)': 'published' must be a list of {model, latency, threads, framework, source}") }
        var out: [PublishedLatency] = []
        for item in items {
            func value(_ key: String) throws(ProfileError) -> (value: String, line: Int) {
                guard let found = item[key], !found.value.isEmpty else {
                    let line = item.values.map(\.line).min() ?? field.line
                    throw .invalid("\(path):\(line): profile '\(profile)': each published measurement needs model, latency, threads, framework and source; '\(key)' is missing")
                }
                return found
            }
            for key in item.keys where !publishedKeys.contains(key) {
                throw .invalid("\(path):\(item[key]!.line): profile '\(profile)': unknown key '\(key)' of a published measurement (known: \(publishedKeys.sorted().joined(separator: ", ")))")
            }
            let latency = try value("latency")
            guard let duration = DurationText.parse(latency.value), duration > .zero else {
                throw .invalid("\(path):\(latency.line): profile '\(profile)': a published 'latency' must be a duration such as 27.6ms (got '\(latency.value)')")
            }
            let threads = try value("threads")
            guard let count = Int(threads.value), (1...1024).contains(count) else {
                throw .invalid("\(path):\(threads.line): profile '\(profile)': a published 'threads' must be an integer in 1…1024 (got '\(threads.value)')")
            }
            var clock: Double?
            if let text = item["clock_ghz"] {
                guard let ghz = Double(text.value), ghz > 0, ghz < 100 else {
                    throw .invalid("\(path):\(text.line): profile '\(profile)': a published 'clock_ghz' must be a clock in GHz (got '\(text.value)')")
                }
                clock = ghz
            }
            out.append(PublishedLatency(model: try value("model").value, latencyMs: duration.nanoseconds / 1e6, threads: count,
                                        framework: try value("framework").value, clockGHz: clock, source: try value("source").value))
        }
        return out
    }
}

/// A cloud node type the planner can size with, from `profiles/cloud.yaml`: the CPU quota the
/// testbed's cloud node gets for it and what an hour of it costs.
public struct CloudProfile: Sendable, Equatable {
    public var name: String
    /// Cores of this machine that stand for the node (one physical core per two vCPUs).
    public var cores: Double
    public var vcpus: Int?
    public var memory: Bytes?
    /// US dollars per hour, on demand.
    public var pricePerHour: Double
    /// Where the figures come from.
    public var note: String

    public init(name: String, cores: Double, vcpus: Int? = nil, memory: Bytes? = nil, pricePerHour: Double, note: String = "") {
        self.name = name
        self.cores = cores
        self.vcpus = vcpus
        self.memory = memory
        self.pricePerHour = pricePerHour
        self.note = note
    }

    static let keys: Set<String> = ["cores", "vcpus", "memory", "price_per_hour", "note"]

    /// Every cloud node type of the profiles file (`$EDGEINSIGHT_CLOUD_PROFILES`, else
    /// `profiles/cloud.yaml`); every bad value is an error at its `file:line`.
    public static func all() throws(ProfileError) -> [String: CloudProfile] {
        let path = try ProfileFile.locate("cloud.yaml", variable: "EDGEINSIGHT_CLOUD_PROFILES", kind: "cloud")
        let file = try ProfileFile.read(path, kind: "cloud")
        var profiles: [String: CloudProfile] = [:]
        for entry in file.entries {
            var profile = CloudProfile(name: entry.name, cores: 0, pricePerHour: -1)
            for field in entry.fields {
                switch field.key {
                case "cores": profile.cores = try ProfileValue.number(field, in: path, profile: entry.name, 0.01...1024, "a number of cores in 0.01…1024")
                case "vcpus": profile.vcpus = Int(try ProfileValue.number(field, in: path, profile: entry.name, 1...4096, "an integer in 1…4096"))
                case "memory":
                    guard let memory = Bytes(parsing: field.value), memory.count > 0 else {
                        throw .invalid("\(path):\(field.line): profile '\(entry.name)': 'memory' must be a size such as 4GB (got '\(field.value)')")
                    }
                    profile.memory = memory
                case "price_per_hour": profile.pricePerHour = try ProfileValue.number(field, in: path, profile: entry.name, 0...1e5, "US dollars per hour, 0 or more")
                case "note": profile.note = field.value
                default: throw .invalid("\(path):\(field.line): profile '\(entry.name)': unknown key '\(field.key)' (known: \(keys.sorted().joined(separator: ", ")))")
                }
            }
            guard profile.cores > 0, profile.pricePerHour >= 0 else { throw .invalid("\(path):\(entry.line): cloud profile '\(entry.name)' needs cores and price_per_hour") }
            profiles[entry.name] = profile
        }
        return profiles
    }
}
