import EdgeInsightCore
import Foundation
import Profiles
import Yams

/// Errors of experiments and trials; one line each, naming the file, line and key where there is one.
public enum TestbedError: Error, CustomStringConvertible, Equatable {
    case badExperiment(String)
    case nodeFailed(String)
    case trialFailed(String)

    public var description: String {
        switch self {
        case .badExperiment(let message), .nodeFailed(let message), .trialFailed(let message): message
        }
    }
}

/// An experiment file: a base configuration, the parameters to sweep, repetitions.
///
/// Every setting is a dotted key of `TrialConfig` (`workload.fps`, `device.cpu`, `link.rtt`), so a
/// sweep can vary any of them. See docs/experiment-reference.md.
public struct Experiment: Sendable {
    public var name: String
    public var path: String
    /// The configuration every trial starts from: the defaults with the file's settings.
    public var base: TrialConfig
    /// Grid axes, in file order: every combination is a trial.
    public var grid: [(key: String, values: [String])]
    /// Or explicit trials: each a set of overrides.
    public var explicit: [[String: String]]
    public var repetitions: Int
    /// Deprecation notes about the file, for the user (each names its line).
    public var notes: [String] = []
    /// The hosts `device.host` and `cloud.host` name: the file's `hosts:` section, or `--hosts FILE`.
    public var hosts: HostInventory?
    /// Pools (`device: {hosts: [pi1, pi2]}`, `cloud: {hosts: [vm1, vm2]}`): the trials run
    /// concurrently, one lane per device host, each lane's cloud node on the cloud pool's host of
    /// the same index (modulo its size).
    public var devicePool: [String] = []
    public var cloudPool: [String] = []

    static let sections: Set<String> = ["workload", "device", "cloud", "link", "split", "partition", "mqtt", "slo"]

    /// Reads and checks an experiment file.
    public static func load(_ path: String) throws(TestbedError) -> Experiment {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .badExperiment("cannot read experiment file \(path)") }
        return try parse(text, path: path)
    }

    /// Parses experiment YAML; `path` names the file in errors.
    public static func parse(_ text: String, path: String) throws(TestbedError) -> Experiment {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw .badExperiment("\(path): not valid YAML (\("\(error)".split(separator: "\n").first ?? ""))")
        }
        guard let root, let mapping = root.mapping else { throw .badExperiment("\(path): the top level must be a mapping of keys") }
        func fail(_ node: Node, _ message: String) -> TestbedError {
            .badExperiment("\(path):\(node.mark?.line ?? 0): \(message)")
        }
        var experiment = Experiment(name: ((path as NSString).lastPathComponent as NSString).deletingPathExtension, path: path,
                                    base: TrialConfig(), grid: [], explicit: [], repetitions: 1)

        /// Flattens a setting (scalar, or a section mapping) into dotted keys, checking each.
        func settings(_ key: String, _ node: Node, pools: Bool = false) throws(TestbedError) -> [String: String] {
            if key == "link", let scalar = node.scalar { return ["link": scalar.string] }
            if sections.contains(key), let section = node.mapping {
                var out: [String: String] = [:]
                for (child, value) in section {
                    guard let name = child.scalar?.string else { throw fail(child, "keys must be text") }
                    if name == "hosts", key == "device" || key == "cloud" {
                        guard pools else { throw fail(child, "a pool of hosts ('\(key).hosts') is set once, at the top level, not per trial") }
                        guard let list = value.sequence?.compactMap(\.scalar?.string), !list.isEmpty, list.count == value.sequence?.count,
                              Set(list).count == list.count else {
                            throw fail(value, "'\(key).hosts' must be a list of distinct host names")
                        }
                        if key == "device" { experiment.devicePool = list } else { experiment.cloudPool = list }
                        continue
                    }
                    let full = key == "link" && name == "profile" ? "link" : key == "device" && name == "profile" ? "device.profile" : "\(key).\(name)"
                    out.merge(try settings(full, value, pools: pools)) { $1 }
                }
                return out
            }
            guard TrialConfig.keys.contains(key) else { throw fail(node, "unknown key '\(key)' (known: \(TrialConfig.keys.joined(separator: ", ")))") }
            guard let scalar = node.scalar else { throw fail(node, "'\(key)' must be a single value") }
            var probe = TrialConfig()
            do { try probe.set(key, scalar.string) } catch { throw fail(node, error.message) }
            if key == "workload.arrivals", ArrivalProcess.Kind.parse(scalar.string)?.deprecated == true {
                experiment.notes.append("\(path):\(node.mark?.line ?? 0): 'fixed' arrivals are now spelled 'constant'")
            }
            return [key: scalar.string]
        }

        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else { throw fail(keyNode, "keys must be text") }
            switch key {
            case "name":
                guard let name = value.scalar?.string, !name.isEmpty else { throw fail(value, "'name' must be text") }
                experiment.name = name
            case "hosts":
                do { experiment.hosts = try HostInventory.parse(value, path: path, relativeTo: (path as NSString).deletingLastPathComponent) } catch {
                    throw .badExperiment("\(error)")
                }
            case "repetitions":
                guard let n = value.scalar.flatMap({ Int($0.string) }), n >= 1 else { throw fail(value, "'repetitions' must be an integer ≥ 1") }
                experiment.repetitions = n
            case "sweep":
                guard let axes = value.mapping else { throw fail(value, "'sweep' must map keys to lists of values") }
                for (axisNode, valuesNode) in axes {
                    guard let axis = axisNode.scalar?.string else { throw fail(axisNode, "keys must be text") }
                    guard let list = valuesNode.sequence, !list.isEmpty else { throw fail(valuesNode, "'sweep.\(axis)' must be a non-empty list") }
                    var values: [String] = []
                    for item in list {
                        let flat = try settings(axis, item)
                        guard let text = flat[axis == "link.profile" ? "link" : axis] ?? flat.values.first else { throw fail(item, "'sweep.\(axis)' has an empty value") }
                        values.append(text)
                    }
                    experiment.grid.append((axis == "link.profile" ? "link" : axis, values))
                }
            case "trials":
                guard let list = value.sequence, !list.isEmpty else { throw fail(value, "'trials' must be a non-empty list of settings") }
                for item in list {
                    guard let overrides = item.mapping else { throw fail(item, "each trial must be a mapping of settings") }
                    var flat: [String: String] = [:]
                    for (k, v) in overrides {
                        guard let name = k.scalar?.string else { throw fail(k, "keys must be text") }
                        flat.merge(try settings(name, v)) { $1 }
                    }
                    experiment.explicit.append(flat)
                }
            default:
                for (name, text) in try settings(key, value, pools: true) {
                    do { try experiment.base.set(name, text) } catch { throw fail(value, error.message) }
                }
            }
        }
        if !experiment.cloudPool.isEmpty, experiment.devicePool.isEmpty {
            throw .badExperiment("\(path): a pool of cloud hosts pairs with a pool of device hosts ('device: {hosts: [...]}'); give one, or name a single cloud host")
        }
        return experiment
    }

    /// The lanes trials run in: one per host of the device pool (concurrently), or the one lane
    /// where each trial runs as it says.
    public var lanes: [Lane] {
        guard !devicePool.isEmpty else { return [Lane(device: nil, cloud: nil)] }
        return devicePool.enumerated().map { index, device in Lane(device: device, cloud: cloudPool.isEmpty ? nil : cloudPool[index % cloudPool.count]) }
    }

    /// The trials of the sweep: the grid's combinations (or the explicit list) × repetitions. Settings
    /// a placement does not use (the link, cloud node and requests in flight for `edge`) are left
    /// out, so trials that differ only in those are one trial.
    public func trials() -> [TrialSpec] {
        var combinations: [[String: String]] = [[:]]
        for (key, values) in grid {
            combinations = combinations.flatMap { partial in values.map { value in partial.merging([key: value]) { $1 } } }
        }
        if !explicit.isEmpty { combinations = combinations.flatMap { partial in explicit.map { partial.merging($0) { $1 } } } }
        let configs = combinations.map { combination in
            var config = base
            // Every value was checked as the file was read; the placement first, as it decides what is used.
            for key in combination.keys.sorted(by: { ($0 == "placement" ? 0 : 1, $0) < ($1 == "placement" ? 0 : 1, $1) }) {
                try? config.set(key, combination[key]!)
            }
            return config.normalized
        }
        // Repetitions in passes over the whole sweep, not back to back: a repetition minutes after
        // the first meets the machine as it is then, so the spread over repetitions includes the
        // machine's drift, and a slow minute does not fall on every repetition of one trial.
        var seen = Set<String>()
        var specs: [TrialSpec] = []
        for repetition in 1...max(1, repetitions) {
            for config in configs {
                let spec = TrialSpec(config: config, repetition: repetition)
                if seen.insert(spec.key).inserted { specs.append(spec) }
            }
        }
        return specs
    }
}

/// Where a lane's trials run: a device host and a cloud host of the pools (nil: as the trial says).
public struct Lane: Sendable, Equatable {
    public var device: String?
    public var cloud: String?

    /// `pi1`, `pi1 + vm1`, or `here`.
    public var description: String { device.map { name in cloud.map { "\(name) + \($0)" } ?? name } ?? "here" }
}

/// One trial to run: its configuration and repetition, and the key that identifies it in the results.
public struct TrialSpec: Sendable, Equatable {
    public let config: TrialConfig
    public let repetition: Int
    /// The settings the placement uses and the repetition, in key order: equal trials, equal keys.
    public let key: String

    public init(config: TrialConfig, repetition: Int) {
        self.config = config
        self.repetition = repetition
        let parameters = config.parameters
        key = parameters.keys.sorted().map { "\($0)=\(parameters[$0]!)" }.joined(separator: ";") + ";repetition=\(repetition)"
    }

    /// The same trial placed on a lane's hosts: its configuration names them (and is stored so),
    /// its key stays the one of the sweep, so a trial done on any host of the pool is done.
    public func placed(on lane: Lane) -> TrialSpec {
        var config = self.config
        if let device = lane.device { config.device.host = device }
        if let cloud = lane.cloud, config.placement.usesCloud { config.cloud.host = cloud }
        return TrialSpec(config: config, repetition: repetition, key: key)
    }

    private init(config: TrialConfig, repetition: Int, key: String) {
        self.config = config
        self.repetition = repetition
        self.key = key
    }

    public var placement: Placement { config.placement }

    /// Seed of the trial's link draws (jitter, loss): FNV-1a of its key, so each repetition meets
    /// its own loss pattern (repetitions measured alike would agree by construction) and a
    /// trial run again meets the same one.
    public var linkSeed: UInt64 {
        FNV1a(key.utf8).value
    }
}

extension Experiment {    /// An experiment of the given configurations, each once, made in code (`plan --verify`'s);
    /// `path` names it in the results.
    public init(name: String, path: String, configs: [TrialConfig]) {
        self.name = name
        self.path = path
        base = TrialConfig()
        grid = []
        explicit = configs.map(\.parameters)
        repetitions = 1
    }

    /// Checks what every trial will need from the profiles before the first one starts — the
    /// link profiles file and each trial's link and its overrides, the device profiles — so a bad
    /// value is one error at its `file:line` instead of a sweep of failed trials.
    public func checkProfiles() throws(TestbedError) {
        var links: LinkProfiles?
        var checked = Set<String>()
        var devicesChecked = Set<String>()
        for name in devicePool + cloudPool {
            guard let hosts else { throw .badExperiment("\(path): a pool names host '\(name)' but there is no inventory (a 'hosts:' section or --hosts FILE)") }
            do { _ = try hosts.host(named: name) } catch { throw .badExperiment("\(hosts.source): \(error)") }
        }
        var cuts = Set<String>()
        for spec in trials() {
            let config = spec.config
            if config.placement == .partition, cuts.insert(config.model + "|" + (config.partition.after ?? "")).inserted {
                try Self.checkCut(config, path: path)
            }
            if !devicePool.isEmpty, config.device.host != nil || config.cloud.host != nil {
                throw .badExperiment("\(path): with a pool of hosts a trial does not name its own (device.host, cloud.host): the pool places it")
            }
            for name in [config.device.host, config.startsCloudNode ? config.cloud.host : nil].compactMap({ $0 }) {
                guard let hosts else { throw .badExperiment("\(path): a trial runs on host '\(name)' but there is no inventory (a 'hosts:' section or --hosts FILE)") }
                do { _ = try hosts.host(named: name) } catch { throw .badExperiment("\(hosts.source): \(error)") }
            }
            do {
                // Each device profile once: resolving reads the profiles file.
                if let device = config.device.profile, devicesChecked.insert(device).inserted { _ = try DeviceProfile.load(named: device) }
                guard config.startsCloudNode else { continue }
                let key = config.link.profile + "|" + config.link.overrides.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
                guard checked.insert(key).inserted else { continue }
                if links == nil { links = try LinkProfiles.loadDefault() }
                _ = try links!.profile(named: config.link.profile).overridden(by: config.link)
            } catch {
                // A bad profiles file names its own file and line; an unknown name is the experiment's.
                if case .invalid = error { throw .badExperiment("\(error)") }
                throw .badExperiment("\(path): \(error)")
            }
        }
    }
}
