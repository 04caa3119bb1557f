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

    static let sections: Set<String> = ["workload", "device", "cloud", "link", "split", "slo"]

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
        func settings(_ key: String, _ node: Node) throws(TestbedError) -> [String: String] {
            if key == "link", let scalar = node.scalar { return ["link": scalar.string] }
            if sections.contains(key), let section = node.mapping {
                var out: [String: String] = [:]
                for (child, value) in section {
                    guard let name = child.scalar?.string else { throw fail(child, "keys must be text") }
                    let full = key == "link" && name == "profile" ? "link" : key == "device" && name == "profile" ? "device.profile" : "\(key).\(name)"
                    out.merge(try settings(full, value)) { $1 }
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
                for (name, text) in try settings(key, value) {
                    do { try experiment.base.set(name, text) } catch { throw fail(value, error.message) }
                }
            }
        }
        return experiment
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
        for spec in trials() {
            let config = spec.config
            for name in [config.device.host, config.placement.usesCloud ? config.cloud.host : nil].compactMap({ $0 }) {
                guard let hosts else { throw .badExperiment("\(path): a trial runs on host '\(name)' but there is no inventory (a 'hosts:' section or --hosts FILE)") }
                do { _ = try hosts.host(named: name) } catch { throw .badExperiment("\(hosts.source): \(error)") }
            }
            do {
                // Each device profile once: resolving reads the profiles file.
                if let device = config.device.profile, devicesChecked.insert(device).inserted { _ = try DeviceProfile.load(named: device) }
                guard config.placement.usesCloud else { continue }
                let key = config.link.profile + "|" + config.link.overrides.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
                guard checked.insert(key).inserted else { continue }
                if links == nil { links = try LinkProfiles.loadDefault() }
                _ = try links!.profile(named: config.link.profile).overridden(by: config.link)
            } catch let error as ProfileError {
                // A bad profiles file names its own file and line; an unknown name is the experiment's.
                if case .invalid = error { throw .badExperiment("\(error)") }
                throw .badExperiment("\(path): \(error)")
            } catch {
                throw .badExperiment("\(path): \(error)")
            }
        }
    }
}
