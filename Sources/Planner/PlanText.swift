import EdgeInsightCore
import Foundation
import Results

/// The plan's text, CSV and JSON.
public enum PlanText {
    public static func money(_ dollars: Double) -> String { dollars >= 100 ? String(format: "$%.0f", dollars) : String(format: "$%.2f", dollars) }
    public static func ms(_ value: Double) -> String { value.isFinite ? UnitFormat.significant(value) + " ms" : "-" }

    public static func render(_ r: PlanResult) -> String {
        var lines: [String] = []
        let plan = r.plan
        var constraints: [String] = []
        if let limit = plan.maxP99 { constraints.append("p99 ≤ \(DurationText.format(limit))") }
        if let minimum = plan.minTop1 { constraints.append("top-1 ≥ \(UnitFormat.significant(minimum))%") }
        if let maximum = plan.maxDropRate { constraints.append("drops ≤ \(UnitFormat.significant(maximum * 100))%") }
        lines.append("plan \(plan.name): \(plan.cameras) camera\(plan.cameras == 1 ? "" : "s") at \(UnitFormat.significant(plan.workload.fps)) fps; "
                     + (constraints.isEmpty ? "no constraints" : constraints.joined(separator: ", ")) + "; objective "
                     + plan.objective.map { $0.weight == 1 ? $0.term.rawValue : "\($0.weight)·\($0.term.rawValue)" }.joined(separator: " + "))
        lines.append("searched \(r.candidates) candidates in \(String(format: "%.2f", r.searchSeconds)) s")
        for (reason, count) in r.skipped.sorted(by: { $0.value > $1.value }) { lines.append("skipped \(count): \(reason)") }
        if let best = r.recommended {
            lines.append("")
            lines.append("recommended: \(best.candidate.label) — p99 \(ms(best.p99Ms))" + (best.p99HighMs.map { " (90% interval up to \(ms($0)); the SLO is judged on that)" } ?? "")
                         + ", \(money(best.costPerCamera)) per camera a month, "
                         + "\(money(best.costTotal)) a month for \(plan.cameras)")
            for (name, filter) in [("all-cloud", { (e: Evaluation) in e.candidate.config.placement.usesCloud }),
                                   ("all-edge", { (e: Evaluation) in !e.candidate.config.placement.usesCloud })] {
                guard !filter(best) else { continue }
                if let other = r.ranked.filter(\.feasible).filter(filter).min(by: { $0.costPerCamera < $1.costPerCamera }) {
                    let saving = 100 * (1 - best.costPerCamera / other.costPerCamera)
                    lines.append("it is \(String(format: "%.0f", saving))% \(saving >= 0 ? "cheaper" : "dearer") than the best \(name) configuration that meets the same constraints (\(other.candidate.label), \(money(other.costPerCamera)))")
                } else {
                    lines.append("no \(name) configuration meets the constraints")
                }
            }
            if let perNode = best.camerasPerNode {
                lines.append("sizing: one \(best.candidate.cloud ?? "") carries \(perNode) camera\(perNode == 1 ? "" : "s") at \(Int(plan.cloudUtilization * 100))% utilisation; "
                             + "\(plan.cameras) need \(best.cloudNodes) node\(best.cloudNodes == 1 ? "" : "s")"
                             + (plan.maxP99.map { ", p99 headroom \(ms($0.nanoseconds / 1e6 - best.p99Ms)) to the SLO" } ?? ""))
            } else if best.deviceUtilization > 0 {
                lines.append("the device is busy \(Int(best.deviceUtilization * 100))% of the time; it saturates near \(UnitFormat.significant(plan.workload.fps / best.deviceUtilization)) fps")
            }
            if let range = plan.cameraRange {
                lines.append("sized for \(range.lowerBound) to \(range.upperBound) cameras:")
                lines.append(sizingTable(best, range: range).rendered)
            }
        } else {
            lines.append("")
            lines.append("no candidate meets the constraints; the closest:")
            for e in r.ranked.prefix(3) { lines.append("  \(e.candidate.label): \(e.blocking.joined(separator: "; "))") }
            let counts = Dictionary(grouping: r.ranked.flatMap { $0.blocking.map { String($0.prefix { $0 != " " }) } }, by: { $0 }).mapValues(\.count)
            lines.append("blocking: " + counts.sorted { $0.value > $1.value }.map { "\($0.key) rules out \($0.value) of \(r.candidates)" }.joined(separator: ", "))
        }
        lines.append("")
        lines.append(table(Array(r.ranked.prefix(8)), title: "rank").rendered)
        lines.append("")
        lines.append("Pareto front (cost, p99, top-1) of the feasible candidates:")
        lines.append(table(Array(r.pareto.prefix(10)), title: "front").rendered)
        if !r.crossovers.isEmpty {
            lines.append("")
            var crossings = TextTable(["model", "link", "edge p99", "cloud-raw beats the edge above"])
            for c in r.crossovers {
                crossings.add([c.model, c.link, ms(c.edgeP99Ms), c.bandwidth.map { "\($0) uplink" } ?? (c.cloudAlwaysWins ? "always (even at 0.1 Mbit/s)" : "never (even at 10 Gbit/s)")])
            }
            lines.append(crossings.rendered)
        }
        let dominance = transferDominance(r)
        if !dominance.isEmpty {
            lines.append("")
            var table = TextTable(["model", "link", "cloud-raw: transfer takes over half the mean latency"])
            for row in dominance { table.add([row.model, row.link, row.text]) }
            lines.append(table.rendered)
        }
        if !r.grounds.isEmpty {
            // Where each emulated board's speed comes from: the sources, cited.
            lines.append("")
            lines.append("device speeds (published latencies turned into this machine's quota by its calibration):")
            for ground in r.grounds.values.sorted(by: { $0.profile < $1.profile }) { lines.append("  " + ground.line) }
        }
        return lines.joined(separator: "\n")
    }

    /// Per model and link, the smallest frame (pixels, then JPEG quality) at which sending it takes
    /// over half the cloud-raw placement's mean latency: where resolution and quality buy latency.
    public static func transferDominance(_ r: PlanResult) -> [(model: String, link: String, text: String)] {
        var rows: [(String, String, String)] = []
        let raw = r.ranked.filter { $0.candidate.config.placement == .cloudRaw && $0.meanMs > 0 }
        for model in r.plan.models {
            for link in r.plan.links {
                let frames = raw.filter { $0.candidate.config.model == model && $0.candidate.config.link.profile == link }
                    .sorted { ($0.candidate.config.workload.resolution.pixels, $0.candidate.config.workload.jpegQuality)
                        < ($1.candidate.config.workload.resolution.pixels, $1.candidate.config.workload.jpegQuality) }
                guard !frames.isEmpty else { continue }
                func share(_ e: Evaluation) -> String { "\(Int((100 * e.transferMs / e.meanMs).rounded()))%" }
                let text: String
                if let first = frames.first(where: { $0.transferMs > $0.meanMs / 2 }) {
                    let w = first.candidate.config.workload
                    text = first.candidate.label == frames[0].candidate.label ? "at every frame size (\(share(first)) at \(w.resolution) q\(w.jpegQuality))"
                        : "from \(w.resolution) q\(w.jpegQuality) up (\(share(first)))"
                } else {
                    let last = frames.last!
                    text = "never up to \(last.candidate.config.workload.resolution) q\(last.candidate.config.workload.jpegQuality) (\(share(last)) there)"
                }
                rows.append((model, link, text))
            }
        }
        return rows
    }

    /// What the recommendation needs and costs across a range of cameras: its ends and three points
    /// spaced evenly on a log scale between them.
    public static func sizingTable(_ e: Evaluation, range: ClosedRange<Int>) -> TextTable {
        var table = TextTable(["cameras", "cloud nodes", "per month", "per camera a month"])
        let (low, high) = (Double(range.lowerBound), Double(range.upperBound))
        let counts = Array(Set((0...4).map { Int((low * pow(high / low, Double($0) / 4)).rounded()) })).sorted()
        for n in counts {
            let total = e.monthlyCost(cameras: n)
            table.add([String(n), String(e.cloudNodes(cameras: n)), money(total), money(total / Double(n))])
        }
        return table
    }

    public static func table(_ evaluations: [Evaluation], title: String) -> TextTable {
        var table = TextTable([title, "model", "placement", "device", "cloud", "link", "frames", "p99", "top-1", "$/camera/month", "meets"])
        for (i, e) in evaluations.enumerated() {
            let c = e.candidate.config
            table.add([String(i + 1), c.model, EngineKind.placementLabel(c.parameters), e.candidate.device, e.candidate.cloud ?? "-", c.placement.usesCloud ? c.link.profile : "-",
                       "\(c.workload.resolution) q\(c.workload.jpegQuality)", ms(e.p99Ms), e.top1.map { UnitFormat.significant($0) + "%" } ?? "-",
                       money(e.costPerCamera), e.feasible ? "yes" : e.blocking.joined(separator: "; ")])
        }
        return table
    }

    public static func csv(_ r: PlanResult) -> String {
        var lines = ["model,placement,device,cloud,link,resolution,jpeg_quality,p50_ms,p99_ms,throughput_fps,drop_rate,top1,device_utilization,cameras_per_node,cloud_nodes,cost_per_camera_month,cost_total_month,feasible,blocking"]
        for e in r.ranked {
            let c = e.candidate.config
            let fields: [String] = [c.model, c.placement.rawValue, e.candidate.device, e.candidate.cloud ?? "", c.placement.usesCloud ? c.link.profile : "",
                                    c.workload.resolution.description, String(c.workload.jpegQuality), String(e.p50Ms), String(e.p99Ms), String(e.throughput),
                                    String(e.dropRate), e.top1.map { String($0) } ?? "", String(e.deviceUtilization), e.camerasPerNode.map(String.init) ?? "",
                                    String(e.cloudNodes), String(e.costPerCamera), String(e.costTotal), e.feasible ? "1" : "0",
                                    "\"" + e.blocking.joined(separator: "; ") + "\""]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public struct Summary: Encodable {
        struct Entry: Encodable {
            var label: String, parameters: [String: String], device: String, cloud: String?
            var p99Ms: Double, costPerCameraMonth: Double, costTotalMonth: Double, top1: Double?, feasible: Bool, blocking: [String]
        }
        struct CrossoverEntry: Encodable { var model: String, link: String, edgeP99Ms: Double, uplinkBitsPerSecond: Double?, cloudAlwaysWins: Bool }
        var plan: String, candidates: Int, searchSeconds: Double
        var recommended: Entry?, runnersUp: [Entry], pareto: [Entry], crossovers: [CrossoverEntry]
    }

    public static func summary(_ r: PlanResult) -> Summary {
        func entry(_ e: Evaluation) -> Summary.Entry {
            Summary.Entry(label: e.candidate.label, parameters: e.candidate.config.parameters, device: e.candidate.device, cloud: e.candidate.cloud,
                          p99Ms: e.p99Ms, costPerCameraMonth: e.costPerCamera, costTotalMonth: e.costTotal, top1: e.top1, feasible: e.feasible, blocking: e.blocking)
        }
        return Summary(plan: r.plan.name, candidates: r.candidates, searchSeconds: r.searchSeconds, recommended: r.recommended.map(entry),
                       runnersUp: r.ranked.filter(\.feasible).dropFirst().prefix(4).map(entry), pareto: r.pareto.map(entry),
                       crossovers: r.crossovers.map { Summary.CrossoverEntry(model: $0.model, link: $0.link, edgeP99Ms: $0.edgeP99Ms,
                                                                             uplinkBitsPerSecond: $0.bandwidth?.bitsPerSecond, cloudAlwaysWins: $0.cloudAlwaysWins) })
    }

    /// Predicted beside measured for the verified recommendations.
    /// The first `recommended` rows are the recommendations; any after them are neighbouring cuts of a
    /// partition, measured for comparison, which break no recommendation.
    public static func verification(_ top: [Evaluation], measured: [TrialRecord], plan: Plan, recommended: Int? = nil) -> String {
        let recommended = recommended ?? top.count
        var table = TextTable(["verified", "predicted p99", "90% interval", "measured p99", "error", "in interval", "SLO"])
        var breaks = 0, unmeasured = 0
        for (i, e) in top.enumerated() {
            // The measured trial of a candidate is the one that ran its verification configuration.
            let asked = Planner.verificationConfig(e).normalized
            let trial = measured.first { $0.config.normalized == asked }
            let p99 = trial?.metric(.latencyP99)
            let meets = p99.map { value in plan.maxP99.map { value <= $0.nanoseconds / 1e6 } ?? true }
            if meets == false, i < recommended { breaks += 1 }
            if p99 == nil, i < recommended { unmeasured += 1 }
            let interval = e.p99LowMs.flatMap { low in e.p99HighMs.map { (low, $0) } }
            let inside = p99.flatMap { value in interval.map { value >= $0.0 && value <= $0.1 } }
            table.add([i < recommended ? "\(i + 1). \(e.candidate.label)" : "   neighbouring cut: \(e.candidate.label)", ms(e.p99Ms), interval.map { "\(ms($0.0))–\(ms($0.1))" } ?? "-",
                       p99.map(ms) ?? (trial.map { $0.reason ?? "failed" } ?? "not run"),
                       p99.map { String(format: "%+.0f%%", 100 * (e.p99Ms - $0) / $0) } ?? "-", inside.map { $0 ? "yes" : "no" } ?? "-",
                       meets.map { $0 ? "met" : "BROKEN" } ?? "-"])
        }
        let verdict = breaks > 0 ? "\(breaks) verified recommendation\(breaks == 1 ? "" : "s") broke the SLO as measured"
            : unmeasured == recommended ? "no recommendation could be measured"
            : "every measured recommendation meets the SLO" + (unmeasured > 0 ? " (\(unmeasured) could not be measured)" : "")
        return verdict
            + "\n" + table.rendered
    }
}
