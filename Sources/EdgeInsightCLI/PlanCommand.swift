import ArgumentParser
import EdgeInsightCore
import Foundation
import Modeling
import Planner
import Profiles
import Report
import Results
import Testbed

/// `edgeinsight plan`: the cheapest (or fastest) deployment that meets a plan's constraints.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Size and choose an edge–cloud deployment for a workload with a fitted model, then optionally measure the best ones.",
        discussion: """
            The plan file (docs/planning.md, examples/plan-*.yaml) names the cameras and their workload,
            constraints (p99, top-1, drops), the objective and the candidates (models, placements,
            devices, links, cloud node types). Every combination is predicted by the model and priced
            from profiles/devices.yaml, profiles/cloud.yaml and profiles/links.yaml.
            """)

    @Argument(help: "The plan file (YAML).")
    var file: String
    @Option(help: "The model file (default: out/calibration/model.json, from `edgeinsight calibrate`).")
    var model = "out/calibration/model.json"
    @Option(help: "Run the top K recommendations on the testbed and compare.")
    var verify: Int?
    @Option(help: "Output folder for the verification run.")
    var out: String?
    @Flag(help: "Every candidate as CSV.")
    var csv = false
    @Flag(help: "The recommendation, runners-up, Pareto front and crossovers as JSON.")
    var json = false
    @Flag(help: "Keep device profiles with no published latency as candidates, at their guessed speed (otherwise they are left out, saying so).")
    var allowUnsourced = false
    @Option(help: "Hosts the plan's devices may name (an inventory: YAML or Ansible INI); the plan's own 'hosts:' section otherwise.")
    var hosts: String?
    @Option(help: "Write the cost-against-p99 chart with the Pareto front here (SVG); beside it NAME-cameras.svg (cost against cameras) and NAME-uplink.svg (the recommended model's p99 against uplink, crossovers marked).")
    var plot: String?

    func run() async throws {
        try checkWritable(plot)
        var plan = try Plan.load(file)
        plan.allowUnsourced = allowUnsourced
        if let hosts {
            do { plan.hosts = try HostInventory.load(hosts) } catch { throw ValidationError("\(error)") }
        }
        guard FileManager.default.fileExists(atPath: model) else { throw ValidationError("no model at \(model): run `edgeinsight calibrate` first, or give --model FILE") }
        let fitted = try PerformanceModel.load(model)
        let result = try Planner.search(plan, model: fitted, catalog: try Catalog.load())
        if csv { return print(PlanText.csv(result), terminator: "") }
        if json { return print(try prettyJSON(PlanText.summary(result))) }
        print(PlanText.render(result))
        if let plot {
            let stem = plot.hasSuffix(".svg") ? String(plot.dropLast(4)) : plot
            try writeOutput(PlanChart.costAgainstP99(result), to: plot)
            try writeOutput(PlanChart.costAgainstCameras(result), to: stem + "-cameras.svg")
            var written = [plot, stem + "-cameras.svg"]
            if let model = (result.recommended ?? result.ranked.first)?.candidate.config.model, let uplink = PlanChart.p99AgainstUplink(result, model: model) {
                try writeOutput(uplink, to: stem + "-uplink.svg")
                written.append(stem + "-uplink.svg")
            }
            print("plots: \(written.joined(separator: ", "))")
        }
        if let k = verify, k > 0 { try await verifyPlan(result, top: k, out: out ?? "out/plan-\(plan.name)") }
    }
}

/// Runs the top `k` feasible candidates of a plan on the testbed and prints predicted beside measured.
func verifyPlan(_ result: PlanResult, top k: Int, out folder: String) async throws {
    // The top k, and beside a partition its neighbouring cuts (is the chosen cut the best of them?).
    let chosen = Array(result.ranked.filter(\.feasible).prefix(k))
    let top = Planner.verificationSet(chosen, in: result)
    guard !top.isEmpty else { return print("nothing to verify: no candidate meets the constraints") }
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let experiment = Planner.verificationExperiment(top, name: "verify-\(result.plan.name)", path: "plan --verify \(result.plan.name)", hosts: result.plan.hosts)
    try await runExperiment(experiment, out: folder, fresh: true)
    let database = try ResultsDatabase(path: folder + "/results.sqlite")
    let measured = try database.trials(run: try database.run(experiment.name).id)
    print(PlanText.verification(top, measured: measured, plan: result.plan, recommended: chosen.count))
}

