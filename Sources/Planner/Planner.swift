import EdgeInsightCore
import Foundation
import Link
import ModelZoo
import Modeling
import Profiles
import Results
import Testbed

/// One configuration the planner weighs: a trial configuration, the device it stands for and, for
/// the cloud placements, the cloud node type.
public struct Candidate: Sendable {
    public var config: TrialConfig
    /// The device as the plan names it: a profile (`rpi4`), or a host (`pi`, `rpi4 = host pi`).
    public var device: String
    public var cloud: String?
    /// The device profile its price and watts come from (a host's `profile:`); nil: `device`.
    public var priceProfile: String?

    public init(config: TrialConfig, device: String, cloud: String?, priceProfile: String? = nil) {
        self.config = config
        self.device = device
        self.cloud = cloud
        self.priceProfile = priceProfile
    }

    public var label: String {
        let c = config
        return "\(c.model) \(EngineKind.placementLabel(c.parameters)) on \(device)" + (cloud.map { " + \($0) over \(c.link.profile)" } ?? "")
            + " \(c.workload.resolution) q\(c.workload.jpegQuality)"
    }
}

/// A candidate, predicted and priced.
public struct Evaluation: Sendable {
    public var candidate: Candidate
    public var p50Ms: Double
    public var p99Ms: Double
    public var throughput: Double
    public var dropRate: Double
    public var top1: Double?
    /// Busy share of the device's CPU quota, and of the cloud node's instances per camera.
    public var deviceUtilization: Double
    /// Cameras one cloud node carries at the plan's utilisation, and the nodes the plan needs.
    public var camerasPerNode: Int?
    public var cloudNodes: Int
    public var costPerCamera: Double
    public var costTotal: Double
    /// The monthly cost that grows with each camera (its device, energy and data) and that of one
    /// cloud node: n cameras cost n · perCameraMonthly + ⌈n / camerasPerNode⌉ · nodeMonthly.
    public var perCameraMonthly: Double
    public var nodeMonthly: Double
    public var watts: Double
    /// Predicted mean time on the wire (serialize + network) and mean end-to-end latency, ms.
    public var transferMs: Double
    public var meanMs: Double
    /// Constraints it breaks, as text; empty when feasible.
    public var blocking: [String]
    /// The upper end of the p99's 90% interval (the model's own error, e^(1.645σ) on compute);
    /// what the p99 constraint is judged on. nil: the model has no error to widen it by.
    public var p99HighMs: Double? = nil
    /// Its lower end.
    public var p99LowMs: Double? = nil
    public var feasible: Bool { blocking.isEmpty }

    /// The cloud nodes `cameras` of this configuration need: a whole node for any part of one.
    public func cloudNodes(cameras: Int) -> Int {
        camerasPerNode.map { perNode in (cameras + max(perNode, 1) - 1) / max(perNode, 1) } ?? 0
    }

    /// What `cameras` of this configuration cost a month: each camera's own share, and their nodes.
    public func monthlyCost(cameras: Int) -> Double {
        Double(cameras) * perCameraMonthly + Double(cloudNodes(cameras: cameras)) * nodeMonthly
    }
}

/// What a plan found.
public struct PlanResult: Sendable {
    public var plan: Plan
    /// Feasible candidates best first by the objective, then the infeasible ones.
    public var ranked: [Evaluation]
    public var pareto: [Evaluation]
    public var crossovers: [Crossover]
    /// Predicted p99 against uplink bandwidth, per model, link and cloud placement.
    public var uplinkCurves: [UplinkCurve] = []
    public var candidates: Int
    /// Candidates the model cannot predict, with why (one line per reason).
    public var skipped: [String: Int] = [:]
    /// Each device profile's emulated speed and what it stands on (published figures, or a guess).
    public var grounds: [String: DeviceGround] = [:]
    public var searchSeconds: Double
    public var recommended: Evaluation? { ranked.first?.feasible == true ? ranked.first : nil }
}

/// How a device profile became the quota its candidates are predicted at: from each published
/// latency of a zoo model, the quota under which this machine's calibration infers that model as
/// fast (`PerformanceModel.quota(reproducing:)`), their median; or the profile's guess.
public struct DeviceGround: Sendable {
    public var profile: String
    public var cores: Double
    /// Each published measurement used, with the quota it asks for.
    public var measurements: [(published: PublishedLatency, cores: Double)]
    /// Published figures of models the zoo lacks, kept as context.
    public var context: [PublishedLatency]
    public var sourced: Bool { !measurements.isEmpty }

    /// The widest ratio between what two measurements ask for: how far one scalar is from the board.
    public var spread: Double {
        let quotas = measurements.map(\.cores)
        guard let low = quotas.min(), let high = quotas.max(), low > 0 else { return 1 }
        return high / low
    }

    /// `rpi4: 0.54 cores of this machine, from mobilenet_v2 27.6 ms (4 threads, TensorFlow Lite…; Qengineering …)`.
    public var line: String {
        guard sourced else {
            return "\(profile): \(UnitFormat.significant(cores)) cores of this machine — an UNSOURCED guess (no published latency of a zoo model in profiles/devices.yaml)"
                + (context.isEmpty ? "" : "; published for models the zoo lacks: " + context.map { "\($0.model) \(UnitFormat.significant($0.latencyMs)) ms (\($0.source))" }.joined(separator: "; "))
        }
        let each = measurements.map { m in
            "\(m.published.model) \(UnitFormat.significant(m.published.latencyMs)) ms with \(m.published.threads) threads, \(m.published.framework)"
                + (m.published.clockGHz.map { " at \(UnitFormat.significant($0)) GHz" } ?? "") + " → \(UnitFormat.significant(m.cores)) cores (\(m.published.source))"
        }
        return "\(profile): \(UnitFormat.significant(cores)) cores of this machine, the median of " + each.joined(separator: "; ")
            + (measurements.count > 1 ? String(format: "; spread ×%.2f between them", spread) : "")
    }

    /// The ground of `profile` on this machine's `model` for `engine`.
    public static func of(_ profile: DeviceProfile, model: PerformanceModel, engine: EngineKind) -> DeviceGround {
        var used: [(PublishedLatency, Double)] = [], context: [PublishedLatency] = []
        for published in profile.published {
            guard (try? ModelZoo.model(named: published.model)) != nil,
                  let quota = try? model.quota(reproducing: published.latencyMs(atClock: profile.clockGHz), of: published.model,
                                               threads: published.threads, engine: engine) else {
                context.append(published)
                continue
            }
            used.append((published, quota.cores))
        }
        let cores = used.isEmpty ? profile.cpuQuota : median(used.map(\.1))
        return DeviceGround(profile: profile.name, cores: cores, measurements: used, context: context)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// A cloud placement's predicted p99 at uplink bandwidths from 0.1 Mbit/s to 1 Gbit/s.
public struct UplinkCurve: Sendable {
    public var model: String
    public var link: String
    public var placement: Placement
    public var points: [(bitsPerSecond: Double, p99Ms: Double)]
}

/// The uplink bandwidth below which a model is faster on the device than in the cloud.
public struct Crossover: Sendable {
    public var model: String
    public var link: String
    public var edgeP99Ms: Double
    /// nil when the cloud never (or always) wins within 0.1 Mbit/s … 10 Gbit/s: `cloudAlwaysWins` says which.
    public var bandwidth: Bandwidth?
    public var cloudAlwaysWins: Bool
}

/// Searches a plan's candidates with a fitted performance model: every candidate predicted, priced
/// and checked against the constraints, then ranked by the objective.
public enum Planner {
    static let hoursPerMonth = 730.0

    /// Every combination of the plan's candidates; settings an edge candidate does not use (link,
    /// cloud node) are not multiplied.
    public static func candidates(_ plan: Plan) throws(PlanError) -> [Candidate] {
        var out: [Candidate] = []
        for model in plan.models {
            for device in plan.devices {
                var base = TrialConfig()
                base.model = model
                base.workload = plan.workload
                var priceProfile: String?
                if let host = plan.hosts?.hosts[device] {
                    // A real device: its own trials predict it, unconfined; its profile prices it.
                    base.device.host = host.name
                    priceProfile = host.profile
                } else {
                    base.device.profile = device
                    do { try DeviceProfile.resolve(&base) } catch { throw .badPlan("\(error)") }
                }
                for resolution in plan.resolutions {
                    for quality in plan.qualities {
                        var config = base
                        config.workload.resolution = resolution
                        config.workload.jpegQuality = quality
                        for placement in plan.placements {
                            config.placement = placement
                            for engine in plan.engines {
                                guard placement.usesCloud else {
                                    config.device.engine = engine
                                    out.append(Candidate(config: config, device: device, cloud: nil, priceProfile: priceProfile))
                                    continue
                                }
                                config.cloud.engine = engine
                                // A partition is a candidate per cut and activation encoding; the others have neither.
                                for after in placement == .partition ? try cuts(of: model, plan: plan) : [nil] {
                                    config.partition.after = after
                                    for activation in placement == .partition ? plan.activations : [.fp32] {
                                        config.partition.activation = activation
                                        for transport in plan.transports {
                                            config.transport = transport
                                            for link in plan.links {
                                                config.link.profile = link
                                                for cloud in plan.clouds { out.append(Candidate(config: config, device: device, cloud: cloud, priceProfile: priceProfile)) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// A device profile some host of the plan is (its `profile:`) and whose inference the model has
    /// measured on that host (`hasCompute` of its compute key) is predicted from the host, not
    /// from the profile's published figure: "rpi4 = host pi".
    static func preferMeasuredHosts(_ candidates: [Candidate], plan: Plan, hasCompute: (String) -> Bool) -> [Candidate] {
        let hosts = (plan.hosts?.hosts.values.sorted { $0.name < $1.name } ?? []).filter { $0.profile != nil }
        guard !hosts.isEmpty else { return candidates }
        return candidates.map { candidate in
            let config = candidate.config
            guard config.device.host == nil, config.placement == .edge,
                  let host = hosts.first(where: { $0.profile == candidate.device && hasCompute(PerformanceModel.computeKey(config.device.engine, host: $0.name)) })
            else { return candidate }
            var measured = candidate
            measured.config.device.host = host.name
            measured.config.device.profile = nil
            measured.device = "\(candidate.device) = host \(host.name)"
            measured.priceProfile = candidate.device
            return measured
        }
    }

    /// The cuts a plan considers for `model`: its own list, or every cut that sends one tensor.
    static func cuts(of model: String, plan: Plan) throws(PlanError) -> [String?] {
        if let cuts = plan.cuts { return cuts }
        do { return try ModelCut.points(of: model).filter { $0.crossing.count == 1 }.map(\.after) } catch {
            throw .badPlan("the cuts of \(model): \(error)")
        }
    }

    /// Predicts, prices and ranks every candidate. `minimumFrames` trades the tails' precision for speed.
    public static func search(_ plan: Plan, model: PerformanceModel, catalog: Catalog, minimumFrames: Int = 200) throws(PlanError) -> PlanResult {
        let started = MonotonicClock.now()
        let profiles: LinkProfiles
        do { profiles = try LinkProfiles.loadDefault() } catch { throw .badPlan("\(error)") }
        try plan.checkCandidates(catalog: catalog, links: profiles) { name in
            (try? ModelZoo.model(named: ModelZoo.splitResolution(name).name)) != nil || FileManager.default.fileExists(atPath: name)
        }
        var grounds: [String: DeviceGround] = [:]
        var skipped: [String: Int] = [:]
        let candidates = ground(preferMeasuredHosts(try candidates(plan), plan: plan) { model.compute[$0] != nil }, plan: plan, model: model,
                                catalog: catalog, grounds: &grounds, skipped: &skipped)
        var evaluations: [Evaluation] = []
        var links: [String: LinkProfile] = [:]
        for (candidate, prediction) in zip(candidates, model.predict(candidates.map(\.config), minimumFrames: minimumFrames, longRun: true)) {
            do {
                evaluations.append(try evaluate(candidate, prediction, plan: plan, model: model, catalog: catalog, links: &links))
            } catch {
                skipped[error.description.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "\(error)", default: 0] += 1
            }
        }
        var ranked = rank(evaluations, plan: plan)
        // The front runners again, with tails sampled ten times as densely.
        let top = min(ranked.count, 10)
        let again = model.predict(ranked.prefix(top).map(\.candidate.config), minimumFrames: minimumFrames * 10, longRun: true)
        for i in 0..<top { ranked[i] = try evaluate(ranked[i].candidate, again[i], plan: plan, model: model, catalog: catalog, links: &links) }
        ranked = rank(ranked, plan: plan)
        let crossovers = try crossovers(plan, model: model, ranked: ranked)
        return PlanResult(plan: plan, ranked: ranked, pareto: paretoFront(ranked.filter(\.feasible)), crossovers: crossovers,
                          uplinkCurves: uplinkCurves(plan, model: model, ranked: ranked), candidates: candidates.count,
                          skipped: skipped, grounds: grounds, searchSeconds: Double(MonotonicClock.now() - started) / 1e9)
    }

    /// Each profile candidate at the quota its published measurements ask for on this machine
    /// (`DeviceGround`); a profile with none is left out, saying so, unless the plan allows guesses.
    static func ground(_ candidates: [Candidate], plan: Plan, model: PerformanceModel, catalog: Catalog,
                       grounds: inout [String: DeviceGround], skipped: inout [String: Int]) -> [Candidate] {
        candidates.compactMap { candidate in
            guard candidate.config.device.host == nil, let profile = catalog.devices[candidate.device] else { return candidate }
            let key = "\(profile.name)|\(candidate.config.device.engine.rawValue)"
            if grounds[key] == nil { grounds[key] = DeviceGround.of(profile, model: model, engine: candidate.config.device.engine) }
            let ground = grounds[key]!
            guard ground.sourced || plan.allowUnsourced else {
                skipped["device \(profile.name) has no published latency of a zoo model to ground its speed (profiles/devices.yaml); --allow-unsourced uses its guess", default: 0] += 1
                return nil
            }
            var grounded = candidate
            grounded.config.device.cpu = min(ground.cores, Double(ProcessInfo.processInfo.activeProcessorCount))
            return grounded
        }
    }

    /// What the candidate's device costs and draws: its profile's (a host's, from its `profile:`).
    static func devicePrice(_ candidate: Candidate, catalog: Catalog) throws(PlanError) -> (price: Double, watts: Double) {
        if let host = candidate.config.device.host, candidate.priceProfile == nil {
            throw .badPlan("host '\(host)' names no device profile to price it by (profile: NAME in the inventory)")
        }
        let name = candidate.priceProfile ?? candidate.device
        guard let device = catalog.devices[name], let price = device.price, let watts = device.watts else {
            throw .badPlan("device '\(name)' has no price and watts in profiles/devices.yaml")
        }
        return (price, watts)
    }

    static func evaluate(_ candidate: Candidate, _ predicted: Result<PerformanceModel.Prediction, ModelingError>, plan: Plan, model: PerformanceModel,
                         catalog: Catalog, links: inout [String: LinkProfile]) throws(PlanError) -> Evaluation {
        let config = candidate.config
        let prediction: PerformanceModel.Prediction
        do { prediction = try predicted.get() } catch { throw .badPlan("\(candidate.label): \(error)") }
        let (price, watts) = try devicePrice(candidate, catalog: catalog)
        let stage = { (name: Stage) in prediction.stages.first { $0.stage == name }?.meanMs ?? 0 }
        let throughput = prediction.metric(.throughput) ?? 0, offered = max(prediction.metric(.offeredRate) ?? config.workload.fps, 1e-9)
        var perCameraMonthly = price / plan.amortizationMonths + watts * hoursPerMonth / 1000 * plan.energyPrice
        var camerasPerNode: Int?, nodeMonthly = 0.0
        var blocking: [String] = []
        if let cloudName = candidate.cloud {
            guard let cloud = catalog.clouds[cloudName] else { throw .badPlan("cloud node '\(cloudName)' is not in profiles/cloud.yaml") }
            if links[config.link.profile] == nil {
                do { links[config.link.profile] = try LinkProfiles.loadDefault().profile(named: config.link.profile) } catch { throw .badPlan("\(error)") }
            }
            // One instance per core; each camera's frames take the server time the prediction gives.
            let serverMs = max(stage(.infer) + stage(.tail), 1e-3)   // a partition's cloud work is its tail
            let perNode = Int((plan.cloudUtilization * cloud.cores * 1000 / serverMs / config.workload.fps).rounded(.down))
            camerasPerNode = perNode
            if perNode < 1 { blocking.append("one camera needs more than a \(cloudName) at \(Int(plan.cloudUtilization * 100))% utilisation") }
            nodeMonthly = cloud.pricePerHour * hoursPerMonth
            let gigabytes = ((prediction.metric(.requestBytes) ?? 0) + model.responseBytes) * config.workload.fps * 3600 * hoursPerMonth / 1e9
            perCameraMonthly += gigabytes * (links[config.link.profile]?.pricePerGB ?? 0)
        }
        // A candidate that answers no frame has no latency to meet a bound with.
        let p99 = throughput > 0 ? prediction.metric(.latencyP99) ?? .infinity : .infinity
        let dropRate = max(0, 1 - throughput / offered)
        // The published accuracy is at 224×224: at another input it is not known.
        let top1 = ModelZoo.splitResolution(config.model).resolution == nil ? (try? ModelZoo.model(named: config.model))?.published?.top1 : nil
        // The SLO is judged on the interval's upper end: a p99 that meets it only if the model is right does not.
        let p99High = prediction.metric(Metric.band(.latencyP99).high)
        if let limit = plan.maxP99, max(p99, p99High ?? p99) > limit.nanoseconds / 1e6 {
            let bound = limit.nanoseconds / 1e6
            if let high = p99High, p99 <= bound {
                blocking.append("p99 up to \(UnitFormat.significant(high)) ms (its 90% interval's upper end; predicted \(UnitFormat.significant(p99)) ms) > \(DurationText.format(limit))")
            } else {
                blocking.append("p99 \(UnitFormat.significant(p99)) ms > \(DurationText.format(limit))")
            }
        }
        if let minimum = plan.minTop1, (top1 ?? 0) < minimum { blocking.append("top-1 \(top1.map { UnitFormat.significant($0) + "%" } ?? "unknown") < \(UnitFormat.significant(minimum))%") }
        if let maximum = plan.maxDropRate, dropRate > maximum { blocking.append("drops \(UnitFormat.significant(dropRate * 100))% > \(UnitFormat.significant(maximum * 100))%") }
        var evaluation = Evaluation(candidate: candidate, p50Ms: prediction.metric(.latencyP50) ?? 0, p99Ms: p99, throughput: throughput, dropRate: dropRate,
                                    top1: top1, deviceUtilization: prediction.deviceSaturatedMs * throughput / 1000, camerasPerNode: camerasPerNode, cloudNodes: 0,
                                    costPerCamera: 0, costTotal: 0, perCameraMonthly: perCameraMonthly, nodeMonthly: nodeMonthly,
                                    watts: watts, transferMs: stage(.serialize) + stage(.network), meanMs: prediction.metric(.latencyMean) ?? 0, blocking: blocking,
                                    p99HighMs: p99High, p99LowMs: prediction.metric(Metric.band(.latencyP99).low))
        // The plan's fleet, priced by the one cost formula the sizing table and chart use.
        evaluation.cloudNodes = evaluation.cloudNodes(cameras: plan.cameras)
        evaluation.costTotal = evaluation.monthlyCost(cameras: plan.cameras)
        evaluation.costPerCamera = evaluation.costTotal / Double(plan.cameras)
        return evaluation
    }

    /// Feasible first, ordered by the objective: Σ weight · value / (best feasible value).
    static func rank(_ evaluations: [Evaluation], plan: Plan) -> [Evaluation] {
        let feasible = evaluations.filter(\.feasible)
        func value(_ e: Evaluation, _ term: Plan.Objective) -> Double {
            switch term {
            case .cost: e.costPerCamera
            case .p99: e.p99Ms
            case .energy: e.watts
            }
        }
        let best = Dictionary(uniqueKeysWithValues: Plan.Objective.allCases.map { term in (term, max(feasible.map { value($0, term) }.min() ?? 1, 1e-9)) })
        func score(_ e: Evaluation) -> Double { plan.objective.reduce(0) { $0 + $1.weight * value(e, $1.term) / best[$1.term]! } }
        // Infeasible ones by how far they are from meeting the constraints, then by the objective.
        // Equal scores (candidates at one price, say) go faster first.
        return feasible.sorted { (score($0), $0.p99Ms) < (score($1), $1.p99Ms) }
            + evaluations.filter { !$0.feasible }.sorted { ($0.blocking.count, score($0)) < ($1.blocking.count, score($1)) }
    }

    /// The candidates no other beats on cost, p99 and accuracy at once.
    public static func paretoFront(_ evaluations: [Evaluation]) -> [Evaluation] {
        func dominates(_ a: Evaluation, _ b: Evaluation) -> Bool {
            let (aTop, bTop) = (a.top1 ?? 0, b.top1 ?? 0)
            return a.costPerCamera <= b.costPerCamera && a.p99Ms <= b.p99Ms && aTop >= bTop
                && (a.costPerCamera < b.costPerCamera || a.p99Ms < b.p99Ms || aTop > bTop)
        }
        return evaluations.filter { e in !evaluations.contains { dominates($0, e) } }.sorted { $0.costPerCamera < $1.costPerCamera }
    }

    /// For each model and link: the uplink bandwidth at which the cloud-raw placement's p99 equals
    /// the best edge device's, by bisection on the logarithm of the bandwidth.
    static func crossovers(_ plan: Plan, model: PerformanceModel, ranked: [Evaluation]) throws(PlanError) -> [Crossover] {
        var out: [Crossover] = []
        for name in plan.models {
            guard let edge = ranked.filter({ $0.candidate.config.model == name && $0.candidate.config.placement == .edge }).min(by: { $0.p99Ms < $1.p99Ms }),
                  let cloud = ranked.first(where: { $0.candidate.config.model == name && $0.candidate.config.placement == .cloudRaw }) else { continue }
            for link in plan.links {
                var config = cloud.candidate.config
                config.link.profile = link
                func cloudP99(_ bitsPerSecond: Double) -> Double {
                    var probe = config
                    probe.link.uplink = Bandwidth(bitsPerSecond: bitsPerSecond)
                    return (try? model.predict(probe, minimumFrames: 200, longRun: true).metric(.latencyP99)) ?? .infinity
                }
                let result = bisect(low: 1e5, high: 1e10) { cloudP99($0) - edge.p99Ms }
                out.append(Crossover(model: name, link: link, edgeP99Ms: edge.p99Ms, bandwidth: result.root.map { Bandwidth(bitsPerSecond: $0) },
                                     cloudAlwaysWins: result.alwaysNegative))
            }
        }
        return out
    }

    /// For each model, link and cloud placement its best-ranked candidate has: p99 at uplinks from
    /// 0.1 Mbit/s to 1 Gbit/s (three points a decade), the rest of the link as its profile states.
    static func uplinkCurves(_ plan: Plan, model: PerformanceModel, ranked: [Evaluation]) -> [UplinkCurve] {
        let bandwidths = (0...12).map { pow(10, 5 + Double($0) / 3) }
        var probes: [(model: String, link: String, placement: Placement, config: TrialConfig)] = []
        for name in plan.models {
            for placement in [Placement.cloudRaw, .cloudTensor, .split] {
                guard let best = ranked.first(where: { $0.candidate.config.model == name && $0.candidate.config.placement == placement }) else { continue }
                for link in plan.links {
                    var config = best.candidate.config
                    config.link.profile = link
                    probes.append((name, link, placement, config))
                }
            }
        }
        let configs = probes.flatMap { probe in bandwidths.map { var c = probe.config; c.link.uplink = Bandwidth(bitsPerSecond: $0); return c } }
        let predicted = model.predict(configs, minimumFrames: 200, longRun: true)
        return probes.enumerated().map { i, probe in
            let points = bandwidths.enumerated().map { j, bps in
                (bps, (try? predicted[i * bandwidths.count + j].get().metric(.latencyP99)) ?? .infinity)
            }
            return UplinkCurve(model: probe.model, link: probe.link, placement: probe.placement, points: points.map { (bitsPerSecond: $0.0, p99Ms: $0.1 ?? .infinity) })
        }
    }

    /// The x in [low, high] where a decreasing f crosses zero, bisecting log x to 0.1%; nil root
    /// when f keeps one sign (`alwaysNegative` when it is below zero throughout).
    public static func bisect(low: Double, high: Double, _ f: (Double) -> Double) -> (root: Double?, alwaysNegative: Bool) {
        var (a, b) = (log(low), log(high))
        let (fa, fb) = (f(low), f(high))
        if fa <= 0 { return (nil, true) }
        if fb > 0 { return (nil, false) }
        while b - a > 0.001 {
            let middle = (a + b) / 2
            if f(exp(middle)) > 0 { a = middle } else { b = middle }
        }
        return (exp((a + b) / 2), false)
    }

    /// Frames a verification measures at least: a p99 read from a handful of frames is their
    /// maximum, and no prediction can be held to that.
    public static let verificationFrames = 120.0

    /// What a verification measures: the top candidates, and beside each partition the same
    /// configuration cut one cut earlier and one later (is the chosen cut the best of its neighbours?).
    public static func verificationSet(_ top: [Evaluation], in result: PlanResult) -> [Evaluation] {
        var out = top
        for e in top where e.candidate.config.placement == .partition {
            var siblings = result.ranked.filter { other in
                var a = other.candidate.config, b = e.candidate.config
                a.partition.after = nil
                b.partition.after = nil
                return a == b && other.candidate.device == e.candidate.device && other.candidate.cloud == e.candidate.cloud
            }
            // In the order the cuts come in the graph.
            let cuts = ((try? Planner.cuts(of: e.candidate.config.model, plan: result.plan)) ?? []).compactMap { $0 }
            let order = Dictionary(cuts.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            siblings.sort { (order[$0.candidate.config.partition.after ?? ""] ?? 0) < (order[$1.candidate.config.partition.after ?? ""] ?? 0) }
            guard let at = siblings.firstIndex(where: { $0.candidate.config.partition.after == e.candidate.config.partition.after }) else { continue }
            for index in [at - 1, at + 1] where siblings.indices.contains(index) {
                let neighbour = siblings[index]
                if !out.contains(where: { $0.candidate.label == neighbour.candidate.label }) { out.append(neighbour) }
            }
        }
        return out
    }

    /// The configuration a candidate is verified with: its own (the device profile already turned
    /// into the limits it stands for), measured long enough for a p99 — at least
    /// `verificationFrames` frames and at most a minute.
    public static func verificationConfig(_ evaluation: Evaluation) -> TrialConfig {
        var config = evaluation.candidate.config
        let seconds = min(max(config.workload.duration.nanoseconds / 1e9, verificationFrames / config.workload.fps), 60)
        config.workload.duration = .milliseconds(Int64((seconds * 1000).rounded(.up)))
        config.device.profile = nil
        return config
    }

    /// The top candidates as an experiment the runner measures, each once (typed trials, no file).
    public static func verificationExperiment(_ evaluations: [Evaluation], name: String, path: String, hosts: HostInventory? = nil) -> Experiment {
        var experiment = Experiment(name: name, path: path, configs: evaluations.map(verificationConfig))
        experiment.hosts = hosts
        return experiment
    }
}
