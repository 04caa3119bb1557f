import EdgeInsightCore
import Foundation
import Profiles
import Yams

/// A plan: the workload to serve, the constraints and objective, and the candidates to choose from
/// (docs/planning.md).
public struct Plan: Sendable {
    public var name: String
    /// Cameras to serve (the most, when sizing for a range); sizing also reports what one cloud
    /// node carries.
    public var cameras = 1
    /// `cameras: 50-500`: the range to size for; candidates are priced at its upper end.
    public var cameraRange: ClosedRange<Int>?
    /// The workload every camera offers, as a trial's (fps, arrivals, queue…).
    public var workload = TrialConfig().workload
    public var resolutions: [PixelSize] = [PixelSize(width: 640, height: 480)]
    public var qualities: [Int] = [80]
    public var maxP99: Duration?
    public var minTop1: Double?
    /// Largest share of frames that may be dropped (0.001 = 0.1%).
    public var maxDropRate: Double?
    /// What to minimise: (cost | p99 | energy, weight); each term normalised by the best candidate's.
    public var objective: [(term: Objective, weight: Double)] = [(.cost, 1)]
    public var models: [String] = ["mobilenet_v2"]
    public var placements: [Placement] = [.edge, .cloudRaw]
    /// The partition placement's cuts to consider (`candidates.cuts`); nil: every cut that sends one
    /// tensor (`ModelCut.points`), per model.
    public var cuts: [String]?
    /// How a partition's activation may cross (`candidates.activations`): each is a candidate per cut.
    public var activations: [ActivationEncoding] = [.fp32]
    /// How cloud placements' frames may travel (`candidates.transports`): each is a candidate
    /// (mqtt: through a broker beside the cloud node, priced by the model's broker component).
    public var transports: [Transport] = [.http]
    /// Inference frameworks: the device's for the edge placement, the cloud node's for the others.
    public var engines: [EngineKind] = [.openvino]
    /// Device profiles, or hosts of `hosts` (a real device, predicted from its own trials).
    public var devices: [String] = ["rpi4"]
    /// The hosts `devices` may name (a `hosts:` section, or `plan --hosts FILE`).
    public var hosts: HostInventory?
    /// Device profiles without published measurements are candidates too, at their guessed speed
    /// (`plan --allow-unsourced`); otherwise they are left out, saying so.
    public var allowUnsourced = false
    public var links: [String] = ["lte"]
    public var clouds: [String] = ["c5.large"]
    /// Months a device's price is spread over, and what a kWh costs (US dollars).
    public var amortizationMonths = 36.0
    public var energyPrice = 0.15
    /// The utilisation a cloud node is sized to, leaving headroom for bursts.
    public var cloudUtilization = 0.6

    public enum Objective: String, Sendable, CaseIterable { case cost, p99, energy }

    /// The file and line each candidate list was written at, for errors about its names.
    public var candidateLines: [String: String] = [:]
    /// The most cameras a plan sizes for: beyond it the counts and costs stop meaning anything.
    public static let maxCameras = 1_000_000

    public init(name: String) { self.name = name }

    public static func load(_ path: String) throws(PlanError) -> Plan {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .badPlan("cannot read plan file \(path)") }
        return try parse(text, path: path)
    }

    /// Parses plan YAML; every error names `path` and the line.
    public static func parse(_ text: String, path: String) throws(PlanError) -> Plan {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw .badPlan("\(path): not valid YAML (\("\(error)".split(separator: "\n").first ?? ""))") }
        guard let mapping = root?.mapping else { throw .badPlan("\(path): the top level must be a mapping of keys") }
        func fail(_ node: Node, _ message: String) -> PlanError { .badPlan("\(path):\(node.mark?.line ?? 0): \(message)") }
        func list(_ node: Node, _ key: String) throws(PlanError) -> [Node] {
            if let sequence = node.sequence, !sequence.isEmpty { return Array(sequence) }
            if node.scalar != nil { return [node] }
            throw fail(node, "'\(key)' must be a value or a non-empty list")
        }
        func texts(_ node: Node, _ key: String) throws(PlanError) -> [String] {
            var out: [String] = []
            for item in try list(node, key) {
                guard let text = item.scalar?.string, !text.isEmpty else { throw fail(item, "'\(key)' must list values") }
                out.append(text)
            }
            return out
        }
        /// A list of an enumeration's values (`candidates.placements`, `candidates.engines`).
        func choices<T: RawRepresentable & CaseIterable>(_ node: Node, _ key: String) throws(PlanError) -> [T] where T.RawValue == String {
            var out: [T] = []
            for item in try list(node, "candidates.\(key)") {
                guard let value = item.scalar.flatMap({ T(rawValue: $0.string) }) else {
                    throw fail(item, "\(key) are \(T.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                out.append(value)
            }
            return out
        }
        func bound(_ node: Node, _ key: String, _ side: String) throws(PlanError) -> String {
            guard let section = node.mapping, section.count == 1, let only = section.first, only.key.scalar?.string == side,
                  let value = only.value.scalar?.string else { throw fail(node, "'\(key)' must be {\(side): VALUE}") }
            return value
        }
        var plan = Plan(name: ((path as NSString).lastPathComponent as NSString).deletingPathExtension)
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else { throw fail(keyNode, "keys must be text") }
            switch key {
            case "hosts":
                do { plan.hosts = try HostInventory.parse(value, path: path, relativeTo: (path as NSString).deletingLastPathComponent) } catch {
                    throw .badPlan("\(error)")
                }
            case "name":
                guard let name = value.scalar?.string, !name.isEmpty else { throw fail(value, "'name' must be text") }
                plan.name = name
            case "workload":
                guard let section = value.mapping else { throw fail(value, "'workload' must be a mapping") }
                var config = TrialConfig()
                for (k, v) in section {
                    guard let name = k.scalar?.string else { throw fail(k, "keys must be text") }
                    switch name {
                    case "cameras":
                        let text = v.scalar?.string ?? ""
                        let ends = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                        let allowed = 1...Plan.maxCameras
                        if ends.count == 2, let low = ends[0], let high = ends[1], allowed.contains(low), allowed.contains(high), high > low {
                            plan.cameraRange = low...high
                            plan.cameras = high
                        } else {
                            guard let n = Int(text), allowed.contains(n) else {
                                throw fail(v, "'workload.cameras' must be an integer from 1 to \(Plan.maxCameras) or a range such as 50-500")
                            }
                            plan.cameras = n
                        }
                    case "resolutions":
                        plan.resolutions = []
                        for item in try list(v, "workload.resolutions") {
                            do { try config.set("workload.resolution", item.scalar?.string ?? "") } catch { throw fail(item, error.message) }
                            plan.resolutions.append(config.workload.resolution)
                        }
                    case "jpeg_qualities":
                        plan.qualities = []
                        for item in try list(v, "workload.jpeg_qualities") {
                            do { try config.set("workload.jpeg_quality", item.scalar?.string ?? "") } catch { throw fail(item, error.message) }
                            plan.qualities.append(config.workload.jpegQuality)
                        }
                    default:
                        guard let scalar = v.scalar?.string else { throw fail(v, "'workload.\(name)' must be a single value") }
                        do { try config.set("workload.\(name)", scalar) } catch { throw fail(v, error.message) }
                    }
                }
                plan.workload = config.workload
            case "constraints":
                guard let section = value.mapping else { throw fail(value, "'constraints' must be a mapping") }
                for (k, v) in section {
                    switch k.scalar?.string ?? "" {
                    case "latency_p99":
                        let text = try bound(v, "latency_p99", "max")
                        guard let limit = DurationText.parse(text), (Duration.microseconds(100) ... .seconds(3600)).contains(limit) else {
                            throw fail(v, "'latency_p99' max must be a duration from 100us to 1h, such as 200ms")
                        }
                        plan.maxP99 = limit
                    case "accuracy_top1":
                        guard let minimum = Double(try bound(v, "accuracy_top1", "min")), (0...100).contains(minimum) else {
                            throw fail(v, "'accuracy_top1' min must be a percentage from 0 to 100, such as 70")
                        }
                        plan.minTop1 = minimum
                    case "drop_rate":
                        let text = try bound(v, "drop_rate", "max")
                        guard let rate = Double(text.replacingOccurrences(of: "%", with: "")).map({ text.hasSuffix("%") ? $0 / 100 : $0 }), (0...1).contains(rate) else {
                            throw fail(v, "'drop_rate' max must be a share from 0% to 100%, such as 0.1%")
                        }
                        plan.maxDropRate = rate
                    default:
                        throw fail(k, "unknown constraint '\(k.scalar?.string ?? "")' (known: latency_p99, accuracy_top1, drop_rate)")
                    }
                }
            case "objective":
                plan.objective = []
                for item in try list(value, "objective") {
                    if let name = item.scalar?.string, let term = Objective(rawValue: name) {
                        plan.objective.append((term, 1))
                    } else if let pair = item.mapping?.first, pair.value.scalar != nil, let term = pair.key.scalar.flatMap({ Objective(rawValue: $0.string) }),
                              let weight = Double(pair.value.scalar!.string), weight > 0 {
                        plan.objective.append((term, weight))
                    } else {
                        throw fail(item, "objective terms are cost, p99 or energy, alone or with a weight ({cost: 1})")
                    }
                }
            case "candidates":
                guard let section = value.mapping else { throw fail(value, "'candidates' must be a mapping") }
                for (k, v) in section {
                    let name = k.scalar?.string ?? ""
                    plan.candidateLines[name] = "\(path):\(v.mark?.line ?? 0)"
                    switch name {
                    case "models": plan.models = try texts(v, "candidates.models")
                    case "devices": plan.devices = try texts(v, "candidates.devices")
                    case "links": plan.links = try texts(v, "candidates.links")
                    case "cloud": plan.clouds = try texts(v, "candidates.cloud")
                    case "engines": plan.engines = try choices(v, "engines")
                    case "placements": plan.placements = try choices(v, "placements")
                    case "cuts": plan.cuts = try texts(v, "candidates.cuts")
                    case "activations": plan.activations = try choices(v, "activations")
                    case "transports": plan.transports = try choices(v, "transports")
                    default: throw fail(k, "unknown candidates key '\(name)' (known: models, placements, engines, devices, links, cloud, cuts, activations, transports)")
                    }
                }
            case "costs":
                guard let section = value.mapping else { throw fail(value, "'costs' must be a mapping") }
                for (k, v) in section {
                    guard let number = v.scalar.flatMap({ Double($0.string) }), number > 0 else { throw fail(v, "costs are positive numbers") }
                    switch k.scalar?.string ?? "" {
                    case "amortization_months": plan.amortizationMonths = number
                    case "energy_price_per_kwh": plan.energyPrice = number
                    case "cloud_utilization":
                        guard number < 1 else { throw fail(v, "'cloud_utilization' must be below 1") }
                        plan.cloudUtilization = number
                    default: throw fail(k, "unknown costs key (known: amortization_months, energy_price_per_kwh, cloud_utilization)")
                    }
                }
            default:
                throw fail(keyNode, "unknown key '\(key)' (known: name, hosts, workload, constraints, objective, candidates, costs)")
            }
        }
        return plan
    }
}

extension Plan {
    /// Checks every name the candidates give against what exists — zoo models or model files,
    /// device, link and cloud profiles — so a typo is an error at its line instead of a candidate
    /// silently dropped (or an empty front and exit 0).
    public func checkCandidates(catalog: Catalog, links: LinkProfiles, isModel: (String) -> Bool) throws(PlanError) {
        func check(_ names: [String], _ key: String, kind: String, known: [String], exists: (String) -> Bool) throws(PlanError) {
            for name in names where !exists(name) {
                throw .badPlan("\(candidateLines[key] ?? name): unknown \(kind) '\(name)' (known: \(known.joined(separator: ", ")))")
            }
        }
        try check(models, "models", kind: "model", known: ["a zoo name (edgeinsight models list) or a model file"], exists: isModel)
        try check(devices, "devices", kind: "device", known: catalog.devices.keys.sorted() + (hosts?.hosts.keys.sorted() ?? [])) {
            catalog.devices[$0] != nil || hosts?.hosts[$0] != nil
        }
        if placements.contains(where: \.usesCloud) {
            try check(self.links, "links", kind: "link", known: links.profiles.keys.sorted()) { (try? links.profile(named: $0)) != nil }
            try check(clouds, "cloud", kind: "cloud node type", known: catalog.clouds.keys.sorted()) { catalog.clouds[$0] != nil }
        }
    }
}
