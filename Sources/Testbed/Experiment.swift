import EdgeInsightCore
import Foundation
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

/// Where each step of an item runs (DESIGN.md).
public enum Placement: String, Sendable, CaseIterable {
    /// Decode, pre-process and infer on the device.
    case edge
    /// The device sends the camera's JPEG; the cloud decodes, pre-processes and infers.
    case cloudRaw = "cloud-raw"
    /// The device pre-processes and sends the input tensor; the cloud infers.
    case cloudTensor = "cloud-tensor"
    /// The device decodes, resizes to the model's input and re-encodes; the cloud infers.
    case split

    public var usesCloud: Bool { self != .edge }
}

/// An experiment file: a base configuration, the parameters to sweep, repetitions.
///
/// Every setting is a dotted key (`workload.fps`, `device.cpu`, `link.rtt`), so a sweep can vary any
/// of them. See docs/experiment-reference.md.
public struct Experiment: Sendable {
    public var name: String
    public var path: String
    /// Every key with its value (defaults filled in), as text.
    public var base: [String: String]
    /// Grid axes, in file order: every combination is a trial.
    public var grid: [(key: String, values: [String])]
    /// Or explicit trials: each a set of overrides.
    public var explicit: [[String: String]]
    public var repetitions: Int

    /// Every key an experiment may set, with its default ("" = not set) and a check of its value.
    static let schema: [(key: String, default: String, check: Check)] = [
        ("model", "mobilenet_v2", .text),
        ("placement", "edge", .oneOf(Placement.allCases.map(\.rawValue))),
        ("workload.fps", "10", .positiveNumber),
        ("workload.arrivals", "constant", .oneOf(["constant", "poisson"])),
        ("workload.resolution", "640x480", .resolution),
        ("workload.jpeg_quality", "80", .integer(1...100)),
        ("workload.duration", "3s", .duration),
        ("workload.warmup", "1s", .duration),
        ("workload.window", "1s", .duration),
        ("workload.queue", "4", .integer(1...10_000)),
        ("workload.inflight", "1", .integer(1...64)),
        ("device.profile", "", .text),
        ("device.cpu", "1", .positiveNumber),
        ("device.cpuset", "", .text),
        ("device.memory", "4GB", .bytes),
        ("device.threads", "1", .integer(1...256)),
        ("cloud.cpu", "1", .positiveNumber),
        ("cloud.cpuset", "", .text),
        ("cloud.memory", "8GB", .bytes),
        ("cloud.threads", "1", .integer(1...256)),
        ("cloud.instances", "1", .integer(1...64)),
        ("cloud.max_batch", "1", .integer(0...256)),
        ("cloud.http_threads", "", .integer(1...64)),
        ("link", "ethernet", .text),
        ("link.uplink", "", .bandwidth),
        ("link.downlink", "", .bandwidth),
        ("link.rtt", "", .duration),
        ("link.jitter", "", .duration),
        ("link.loss", "", .text),
        ("link.shaping", "auto", .oneOf(["auto", "kernel", "proxy"])),
        ("split.jpeg_quality", "90", .integer(1...100)),
        ("slo.p99", "", .duration),
    ]

    enum Check: Sendable {
        case text, positiveNumber, duration, bytes, bandwidth, resolution
        case integer(ClosedRange<Int>)
        case oneOf([String])

        func accepts(_ value: String) -> String? {
            switch self {
            case .text: return value.isEmpty ? "must not be empty" : nil
            case .positiveNumber: return (Double(value).map { $0 > 0 && $0.isFinite } ?? false) ? nil : "must be a positive number"
            case .duration: return DurationText.parse(value) != nil ? nil : "must be a duration such as 2s or 40ms"
            case .bytes: return Bytes(parsing: value) != nil ? nil : "must be a size such as 1GB"
            case .bandwidth: return Bandwidth(parsing: value) != nil ? nil : "must be a rate such as 20mbit"
            case .resolution:
                let parts = value.lowercased().split(separator: "x").compactMap { Int($0) }
                return parts.count == 2 && parts.allSatisfy({ (16...8192).contains($0) }) ? nil : "must be WIDTHxHEIGHT such as 640x480"
            case .integer(let range): return (Int(value).map(range.contains) ?? false) ? nil : "must be an integer in \(range.lowerBound)…\(range.upperBound)"
            case .oneOf(let options): return options.contains(value) ? nil : "must be one of \(options.joined(separator: ", "))"
            }
        }
    }

    static let knownKeys = Set(schema.map(\.key))
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
                                    base: Dictionary(uniqueKeysWithValues: schema.map { ($0.key, $0.default) }), grid: [], explicit: [], repetitions: 1)

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
            guard knownKeys.contains(key) else {
                throw fail(node, "unknown key '\(key)' (known: \(schema.map(\.key).joined(separator: ", ")))")
            }
            guard let scalar = node.scalar else { throw fail(node, "'\(key)' must be a single value") }
            let check = schema.first { $0.key == key }!.check
            if let problem = check.accepts(scalar.string) { throw fail(node, "'\(key)' \(problem) (got '\(scalar.string)')") }
            return [key: scalar.string]
        }

        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else { throw fail(keyNode, "keys must be text") }
            switch key {
            case "name":
                guard let name = value.scalar?.string, !name.isEmpty else { throw fail(value, "'name' must be text") }
                experiment.name = name
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
                experiment.base.merge(try settings(key, value)) { $1 }
            }
        }
        return experiment
    }

    /// The trials of the sweep: the grid's combinations (or the explicit list) × repetitions. Settings
    /// a placement does not use (the link, cloud node and requests in flight for `edge`) are left out, so trials that
    /// differ only in those are one trial.
    public func trials() -> [TrialSpec] {
        var combinations: [[String: String]] = [[:]]
        for (key, values) in grid {
            combinations = combinations.flatMap { partial in values.map { value in partial.merging([key: value]) { $1 } } }
        }
        if !explicit.isEmpty { combinations = combinations.flatMap { partial in explicit.map { partial.merging($0) { $1 } } } }
        var seen = Set<String>()
        var specs: [TrialSpec] = []
        for combination in combinations {
            var parameters = base.merging(combination) { $1 }
            if parameters["placement"] == Placement.edge.rawValue {
                for key in parameters.keys where key == "link" || key.hasPrefix("link.") || key.hasPrefix("cloud.") || key.hasPrefix("split.")
                    || key == "workload.inflight" {
                    parameters[key] = nil
                }
            } else if parameters["placement"] != Placement.split.rawValue {
                for key in parameters.keys where key.hasPrefix("split.") { parameters[key] = nil }
            }
            parameters = parameters.filter { !$0.value.isEmpty }
            for repetition in 1...repetitions {
                let key = parameters.keys.sorted().map { "\($0)=\(parameters[$0]!)" }.joined(separator: ";") + ";repetition=\(repetition)"
                if seen.insert(key).inserted { specs.append(TrialSpec(key: key, repetition: repetition, parameters: parameters)) }
            }
        }
        return specs
    }
}

/// One trial to run: its parameters, and the key that identifies it in the results.
public struct TrialSpec: Sendable, Equatable {
    public var key: String
    public var repetition: Int
    public var parameters: [String: String]

    public func text(_ key: String) -> String? { parameters[key] }
    public func number(_ key: String) -> Double? { parameters[key].flatMap(Double.init) }
    public func integer(_ key: String) -> Int? { parameters[key].flatMap { Int($0) } }
    public func duration(_ key: String) -> Duration? { parameters[key].flatMap(DurationText.parse) }
    public var placement: Placement { Placement(rawValue: parameters["placement"] ?? "edge") ?? .edge }
}
