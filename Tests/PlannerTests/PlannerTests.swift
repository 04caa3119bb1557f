import EdgeInsightCore
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ModelZoo
@testable import Planner
import Profiles
import Report
import Results
import Testing

@Suite struct PlannerTests {
    func evaluation(_ model: String, cost: Double, p99: Double, top1: Double, blocking: [String] = []) -> Evaluation {
        var config = TrialConfig()
        config.model = model
        return Evaluation(candidate: Candidate(config: config, device: "rpi4", cloud: nil), p50Ms: p99 / 2, p99Ms: p99, throughput: 10, dropRate: 0,
                          top1: top1, deviceUtilization: 0.5, camerasPerNode: nil, cloudNodes: 0, costPerCamera: cost, costTotal: cost,
                          perCameraMonthly: cost, nodeMonthly: 0, watts: 5, transferMs: 0, meanMs: p99 / 2, blocking: blocking)
    }

    /// By hand: d is the cheapest but breaks the p99 constraint; a is the cheapest feasible one; b
    /// is dominated by a (dearer, slower, no more accurate); c is dearer but faster and more accurate.
    @Test func theOptimumAndTheParetoFrontAreTheKnownOnes() {
        let a = evaluation("a", cost: 10, p99: 100, top1: 70)
        let b = evaluation("b", cost: 12, p99: 120, top1: 70)
        let c = evaluation("c", cost: 20, p99: 50, top1: 76)
        let d = evaluation("d", cost: 5, p99: 400, top1: 70, blocking: ["p99 400 ms > 200ms"])
        var plan = Plan(name: "x")
        let ranked = Planner.rank([b, d, c, a], plan: plan)
        #expect(ranked.map(\.candidate.config.model) == ["a", "b", "c", "d"])
        #expect(Planner.paretoFront(ranked.filter(\.feasible)).map(\.candidate.config.model) == ["a", "c"])
        // Weighted toward latency, the faster one wins: score = cost/10 + 4·p99/50.
        plan.objective = [(.cost, 1), (.p99, 4)]
        #expect(Planner.rank([a, b, c, d], plan: plan).first?.candidate.config.model == "c")
    }

    /// A synthetic cloud latency RTT + bytes·8/b against a fixed edge latency: the crossover is
    /// b* = bytes·8 / (edge − RTT); bisection finds it within 1%.
    @Test func theCrossoverBandwidthMatchesTheClosedForm() {
        let rtt = 0.05, bytes = 120_000.0, edge = 0.2
        let result = Planner.bisect(low: 1e5, high: 1e10) { b in rtt + bytes * 8 / b - edge }
        let exact = bytes * 8 / (edge - rtt)
        #expect(abs((result.root ?? 0) - exact) / exact < 0.01, "\(result.root ?? 0) vs \(exact)")
        #expect(Planner.bisect(low: 1e5, high: 1e10) { _ in -1 } == (nil, true))
        #expect(Planner.bisect(low: 1e5, high: 1e10) { _ in 1 } == (nil, false))
    }

    /// The chart is SVG whose points are the candidates and whose line is the front.
    @Test func theChartDrawsEveryCandidateAndTheFront() throws {
        let evaluations = [evaluation("a", cost: 10, p99: 100, top1: 70), evaluation("c", cost: 20, p99: 50, top1: 76),
                           evaluation("b", cost: 12, p99: 120, top1: 70)]
        let plan = Plan(name: "x")
        let ranked = Planner.rank(evaluations, plan: plan)
        let result = PlanResult(plan: plan, ranked: ranked, pareto: Planner.paretoFront(ranked), crossovers: [], candidates: 3, skipped: [:], searchSeconds: 0)
        let svg = PlanChart.costAgainstP99(result)
        let document = try XMLDocument(xmlString: svg)
        #expect(try document.nodes(forXPath: "//*[local-name()='circle'][*[local-name()='title']]").count == 3)
        #expect(try document.nodes(forXPath: "//*[local-name()='polyline']").count == 1)
    }

    @Test func anInfeasiblePlanNamesWhatBlocksIt() {
        let plan = Plan(name: "tight")
        let evaluations = [evaluation("a", cost: 10, p99: 900, top1: 70, blocking: ["p99 900 ms > 100ms"]),
                           evaluation("b", cost: 12, p99: 90, top1: 55, blocking: ["top-1 55% < 70%"]),
                           evaluation("c", cost: 9, p99: 950, top1: 72, blocking: ["p99 950 ms > 100ms"])]
        let result = PlanResult(plan: plan, ranked: Planner.rank(evaluations, plan: plan), pareto: [], crossovers: [], candidates: 3, skipped: [:], searchSeconds: 0)
        #expect(result.recommended == nil)
        let text = PlanText.render(result)
        #expect(text.contains("no candidate meets the constraints; the closest:"))
        #expect(text.contains("blocking: p99 rules out 2 of 3, top-1 rules out 1 of 3"), "\(text)")
    }

    /// A name the profiles or the zoo do not have is an error at its line, never a candidate
    /// dropped without a word.
    @Test(arguments: [
        ("candidates:\n  links: [nosuchlink]\n", "x.yaml:2: unknown link 'nosuchlink' (known: "),
        ("candidates:\n  cloud: [c9.huge]\n", "x.yaml:2: unknown cloud node type 'c9.huge' (known: "),
        ("candidates:\n  models: [nosuchmodel]\n", "x.yaml:2: unknown model 'nosuchmodel'"),
        ("candidates:\n  devices: [toaster]\n", "x.yaml:2: unknown device 'toaster' (known: "),
    ])
    func unknownCandidatesAreNamedAtTheirLine(text: String, message: String) throws {
        let plan = try Plan.parse(text, path: "x.yaml")
        let catalog = try Catalog.load(), links = try LinkProfiles.loadDefault()
        #expect(throws: PlanError.self) { try plan.checkCandidates(catalog: catalog, links: links) { $0 == "mobilenet_v2" } }
        do {
            try plan.checkCandidates(catalog: catalog, links: links) { $0 == "mobilenet_v2" }
        } catch {
            #expect(error.description.hasPrefix(message), "\(error)")
        }
        // The shipped defaults pass.
        try Plan(name: "defaults").checkCandidates(catalog: catalog, links: links) { $0 == "mobilenet_v2" }
    }

    @Test(arguments: [
        ("constraints:\n  latency_p99: {max: fast}\n", "x.yaml:2", "latency_p99"),
        ("candidates:\n  placements: [edge, moon]\n", "x.yaml:2", "placements are"),
        ("workload:\n  cameras: 0\n", "x.yaml:2", "cameras"),
        ("objective: [speed]\n", "x.yaml:1", "objective terms"),
        ("colour: red\n", "x.yaml:1", "unknown key 'colour'"),
        ("candidates:\n  engines: [openvino, tensorrt]\n", "x.yaml:2", "engines are openvino, opencv, litert"),
        // Values the parser once took and the planner trapped on, or accepted as plans.
        ("workload:\n  cameras: 9223372036854775807\n", "x.yaml:2", "'workload.cameras' must be an integer from 1 to 1000000"),
        ("workload:\n  cameras: 1-9223372036854775807\n", "x.yaml:2", "'workload.cameras' must be an integer from 1 to 1000000"),
        ("workload:\n  cameras: 4611686018427387904\n", "x.yaml:2", "'workload.cameras'"),
        ("workload:\n  fps: 1e-11\n", "x.yaml:2", "'workload.fps' must be a number from 0.001 to 10000"),
        ("workload:\n  duration: 1e10s\n", "x.yaml:2", "'workload.duration' must be a duration from 1ms to 24h"),
        ("constraints:\n  latency_p99: {max: 1ns}\n", "x.yaml:2", "'latency_p99' max must be a duration from 100us to 1h"),
        ("constraints:\n  latency_p99: {max: 1e10s}\n", "x.yaml:2", "'latency_p99' max must be a duration from 100us to 1h"),
        ("constraints:\n  accuracy_top1: {min: 200}\n", "x.yaml:2", "'accuracy_top1' min must be a percentage from 0 to 100"),
        ("constraints:\n  drop_rate: {max: 150%}\n", "x.yaml:2", "'drop_rate' max must be a share from 0% to 100%"),
    ])
    func planErrorsNameFileAndLine(text: String, location: String, mentions: String) {
        do {
            _ = try Plan.parse(text, path: "x.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(location) && error.description.contains(mentions), "\(error)")
        }
    }

    /// The framework is a candidate setting: the device's on the edge, the cloud node's otherwise,
    /// each combination once, named in the label when it is not the default.
    @Test func enginesMultiplyTheCandidatesWhereTheyRun() throws {
        let plan = try Plan.parse("candidates:\n  models: [mobilenet_v2]\n  placements: [edge, cloud-raw]\n  engines: [openvino, litert]\n  links: [wifi, lte]\n", path: "x.yaml")
        let candidates = try Planner.candidates(plan)
        #expect(candidates.count == 2 + 2 * 2)
        let edge = candidates.filter { $0.config.placement == .edge }
        #expect(Set(edge.map(\.config.device.engine)) == [.openvino, .litert] && edge.allSatisfy { $0.config.cloud.engine == .openvino })
        #expect(candidates.filter { $0.config.placement == .cloudRaw && $0.config.cloud.engine == .litert }.count == 2)
        #expect(edge.map(\.label).contains { $0.hasPrefix("mobilenet_v2 edge/litert on rpi4") }, "\(edge.map(\.label))")
    }

    /// Hosts of the inventory as devices: a host candidate runs on it unconfined and is priced by its
    /// profile; a profile some host is, with that host's inference measured, is predicted from the
    /// host ("rpi4 = host pi"); a host without a profile cannot be priced, and says so.
    @Test func realHostsAreDevicesBesideProfiles() throws {
        let plan = try Plan.parse("""
            hosts: {pi: {ssh: pi@10.0.0.2, profile: rpi4}, bare: {ssh: root@10.0.0.3}}
            candidates:
              models: [mobilenet_v2]
              placements: [edge]
              devices: [rpi4, pi, bare]
            """, path: "x.yaml")
        try plan.checkCandidates(catalog: try Catalog.load(), links: try LinkProfiles.loadDefault()) { _ in true }
        let candidates = try Planner.candidates(plan)
        let pi = try #require(candidates.first { $0.device == "pi" })
        #expect(pi.config.device.host == "pi" && pi.config.device.profile == nil && pi.priceProfile == "rpi4")
        let profile = try #require(candidates.first { $0.device == "rpi4" })
        #expect(profile.config.device.host == nil && profile.config.device.profile == "rpi4")
        // Measured on pi: the rpi4 candidate is predicted from it; unmeasured, it stays the profile's.
        let preferred = Planner.preferMeasuredHosts(candidates, plan: plan) { $0 == "openvino@pi" }
        let measured = try #require(preferred.first { $0.device.hasPrefix("rpi4") })
        #expect(measured.device == "rpi4 = host pi" && measured.config.device.host == "pi" && measured.priceProfile == "rpi4")
        #expect(Planner.preferMeasuredHosts(candidates, plan: plan) { _ in false }.map(\.device) == candidates.map(\.device))
        // The host without a profile: no price.
        let bare = try #require(candidates.first { $0.device == "bare" })
        let catalog = try Catalog.load()
        #expect(throws: PlanError.badPlan("host 'bare' names no device profile to price it by (profile: NAME in the inventory)")) {
            try Planner.devicePrice(bare, catalog: catalog)
        }
        #expect(try Planner.devicePrice(pi, catalog: catalog) == Planner.devicePrice(profile, catalog: catalog))
    }

    /// The shipped profiles name their sources; rpi4 stands on zoo-model measurements, the others
    /// do not (yet); a published measurement missing what it needs is an error at its line.
    @Test func deviceProfilesNameTheirPublishedMeasurements() throws {
        let profiles = try DeviceProfile.all()
        let rpi4 = try #require(profiles["rpi4"])
        #expect(rpi4.clockGHz == 1.5 && rpi4.published.count == 3)
        let zoo = rpi4.published.filter { $0.model == "mobilenet_v2" }
        #expect(zoo.count == 2 && zoo.allSatisfy { $0.source.contains("Qengineering") && $0.threads == 4 && $0.clockGHz == 1.95 })
        // 45.5 FPS at 1.95 GHz is 22.0 ms there, 28.6 ms at the board's stock 1.5 GHz.
        #expect(abs(try #require(zoo.first { $0.latencyMs == 22 }).latencyMs(atClock: rpi4.clockGHz) - 28.6) < 0.01)
        for profile in profiles.values { #expect(profile.published.allSatisfy { !$0.source.isEmpty }) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("devices-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (text, message) in [
            ("b:\n  cores: 4\n  memory: 1GB\n  relative_speed: 0.1\n  published:\n    - {model: mobilenet_v2, latency: 20ms, threads: 4, framework: x}\n",
             "bad.yaml:6: profile 'b': each published measurement needs model, latency, threads, framework and source; 'source' is missing"),
            ("b:\n  cores: 4\n  memory: 1GB\n  relative_speed: 0.1\n  published:\n    - {model: m, latency: fast, threads: 4, framework: x, source: y}\n",
             "bad.yaml:6: profile 'b': a published 'latency' must be a duration such as 27.6ms (got 'fast')"),
        ] {
            try text.write(toFile: folder + "/bad.yaml", atomically: true, encoding: .utf8)
            #expect(throws: ProfileError.invalid(folder + "/" + message)) { try DeviceProfile.all(file: folder + "/bad.yaml") }
        }
    }

    /// A partition is a candidate per cut — every cut that sends one tensor, or the plan's own list —
    /// named by its cut.
    @Test func partitionsAreCandidatesPerCut() throws {
        let plan = try Plan.parse("candidates:\n  models: [squeezenet1_1]\n  placements: [partition]\n  links: [ethernet]\n", path: "x.yaml")
        let candidates = try Planner.candidates(plan)
        let graph = try ModelZoo.build(try ModelZoo.model(named: "squeezenet1_1"))
        let single = ModelCut.points(graph, analysis: try ModelAnalyzer.analyze(graph)).filter { $0.crossing.count == 1 }.map(\.after)
        #expect(candidates.count == single.count && candidates.map(\.config.partition.after) == single.map(Optional.some))
        #expect(candidates.first?.label.hasPrefix("squeezenet1_1 partition@\(single[0]) on rpi4 + c5.large over ethernet") == true, "\(candidates.first?.label ?? "")")
        let listed = try Plan.parse("candidates:\n  models: [squeezenet1_1]\n  placements: [partition]\n  links: [ethernet]\n  cuts: [\(single[2])]\n", path: "y.yaml")
        #expect(try Planner.candidates(listed).map(\.config.partition.after) == [single[2]])
        // Each activation encoding is a candidate per cut, named by it; the other placements have none.
        let encoded = try Plan.parse("candidates:\n  models: [squeezenet1_1]\n  placements: [partition, edge]\n  links: [ethernet]\n  cuts: [\(single[2])]\n  activations: [fp32, uint8]\n", path: "z.yaml")
        let both = try Planner.candidates(encoded)
        #expect(both.filter { $0.config.placement == .partition }.map(\.config.partition.activation) == [.fp32, .uint8])
        #expect(both.filter { $0.config.placement == .edge }.count == 1)
        #expect(both.contains { $0.label.hasPrefix("squeezenet1_1 partition@\(single[2]):uint8 on rpi4") }, "\(both.map(\.label))")
        #expect(throws: PlanError.self) { try Plan.parse("candidates:\n  activations: [int4]\n", path: "w.yaml") }
    }

    /// Verifying a partition measures its neighbouring cuts too (one before and one after, in the
    /// graph's order), which count as no recommendation of their own.
    @Test func verifyingAPartitionMeasuresItsNeighbours() throws {
        let plan = try Plan.parse("candidates:\n  models: [squeezenet1_1]\n  placements: [partition]\n  links: [ethernet]\n", path: "x.yaml")
        let candidates = try Planner.candidates(plan)
        let evaluations = candidates.enumerated().map { index, candidate in
            var e = evaluation("squeezenet1_1", cost: 10, p99: 100 + Double(abs(index - 5)), top1: 58)
            e.candidate = candidate
            return e
        }
        let ranked = Planner.rank(evaluations, plan: plan)
        let result = PlanResult(plan: plan, ranked: ranked, pareto: [], crossovers: [], candidates: ranked.count, skipped: [:], searchSeconds: 0)
        let best = try #require(ranked.first)
        #expect(best.candidate.config.partition.after == candidates[5].config.partition.after)
        let set = Planner.verificationSet([best], in: result)
        #expect(set.map(\.candidate.config.partition.after) == [5, 4, 6].map { candidates[$0].config.partition.after })
        let text = PlanText.verification(set, measured: [], plan: plan, recommended: 1)
        #expect(text.contains("neighbouring cut: squeezenet1_1 partition@\(candidates[4].config.partition.after!)") && text.hasPrefix("no recommendation could be measured"))
    }

    @Test func theDemosPlanIsExamplesPlanLatency() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let file = try String(contentsOfFile: folder + "/examples/plan-latency.yaml", encoding: .utf8)
        #expect(file == DemoPlan.yaml + "\n" || file == DemoPlan.yaml)
    }

    @Test func everyExamplePlanParses() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/examples"
        let plans = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("plan-") }
        #expect(plans.count >= 2)
        for name in plans { _ = try Plan.load(folder + "/" + name) }
    }

    /// A cloud configuration's fleet cost steps up by a node's price each time the cameras outgrow
    /// the nodes; an edge one grows by the same amount per camera.
    @Test func fleetCostStepsWithCloudNodes() {
        var cloud = evaluation("resnet50", cost: 0, p99: 50, top1: 76)
        cloud.perCameraMonthly = 3
        cloud.nodeMonthly = 70
        cloud.camerasPerNode = 50
        #expect(cloud.monthlyCost(cameras: 1) == 73)
        #expect(cloud.monthlyCost(cameras: 50) == 150 + 70)
        #expect(cloud.monthlyCost(cameras: 51) == 153 + 140)
        let edge = evaluation("mobilenet_v2", cost: 4, p99: 20, top1: 72)
        #expect(edge.monthlyCost(cameras: 200) == 800)
    }

    /// Transfer dominates from the first frame whose time on the wire passes half the mean latency.
    @Test func transferDominanceNamesTheFirstFrameWhereTheWireTakesOver() throws {
        var plan = Plan(name: "wire")
        plan.models = ["resnet50"]
        plan.links = ["lte"]
        func raw(_ resolution: String, _ quality: Int, transfer: Double, mean: Double) throws -> Evaluation {
            var e = evaluation("resnet50", cost: 10, p99: mean * 2, top1: 76)
            e.candidate.config.placement = .cloudRaw
            e.candidate.config.link.profile = "lte"
            e.candidate.config.workload.resolution = try #require(PixelSize(parsing: resolution))
            e.candidate.config.workload.jpegQuality = quality
            e.transferMs = transfer
            e.meanMs = mean
            return e
        }
        let frames = [try raw("1280x720", 60, transfer: 80, mean: 120), try raw("640x480", 90, transfer: 45, mean: 85), try raw("640x480", 60, transfer: 30, mean: 70)]
        let result = PlanResult(plan: plan, ranked: frames, pareto: [], crossovers: [], candidates: 3, searchSeconds: 0)
        #expect(PlanText.transferDominance(result).map(\.text) == ["from 640x480 q90 up (53%)"])
    }

    /// A verification measures long enough for a p99 (120 frames, at most a minute) and finds its
    /// trial again by those settings; an unmeasured one is not called a success.
    @Test func verificationMeasuresEnoughFramesAndMatchesItsTrials() throws {
        var slow = evaluation("mobilenet_v2", cost: 3, p99: 10, top1: 72)
        slow.candidate.config.workload.fps = 2
        slow.candidate.config.workload.duration = .seconds(3)
        var fast = evaluation("resnet50", cost: 5, p99: 40, top1: 76)
        fast.candidate.config.workload.fps = 30
        fast.candidate.config.workload.duration = .seconds(3)
        #expect(Planner.verificationConfig(slow).workload.duration == .seconds(60))
        #expect(Planner.verificationConfig(fast).workload.duration == .seconds(4))
        let experiment = Planner.verificationExperiment([slow, fast], name: "v", path: "plan --verify")
        #expect(experiment.trials().map(\.config) == [Planner.verificationConfig(slow).normalized, Planner.verificationConfig(fast).normalized])
        var plan = Plan(name: "verify")
        plan.maxP99 = .milliseconds(100)
        let measured = TrialRecord(key: "k", repetition: 1, ok: true, config: Planner.verificationConfig(slow), metrics: [MetricValue(.latencyP99, 12.5)])
        let text = PlanText.verification([slow, fast], measured: [measured], plan: plan)
        #expect(text.hasPrefix("every measured recommendation meets the SLO (1 could not be measured)"), "\(text)")
        #expect(text.contains("12.5 ms") && text.contains("-20%"))
        #expect(PlanText.verification([fast], measured: [measured], plan: plan).hasPrefix("no recommendation could be measured"))
    }

    /// `cameras: 50-500` sizes for a range: planned at its upper end, and the table gives nodes and
    /// cost at the ends and between, as `monthlyCost` computes them.
    @Test func aCameraRangeIsSizedAcross() throws {
        let plan = try Plan.parse("name: range\nworkload:\n  cameras: 50-500\n  fps: 2\n", path: "range.yaml")
        #expect(plan.cameras == 500 && plan.cameraRange == 50...500)
        var cloud = evaluation("resnet50", cost: 0, p99: 50, top1: 76)
        cloud.perCameraMonthly = 3
        cloud.nodeMonthly = 70
        cloud.camerasPerNode = 40
        let rows = PlanText.sizingTable(cloud, range: 50...500).rendered.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        // 50 cameras: 50 · $3 + 2 nodes · $70; 500: 500 · $3 + 13 nodes · $70.
        #expect(rows.contains(["50", "2", "$290", "$5.80"]) && rows.contains(["500", "13", "$2410", "$4.82"]), "\(rows)")
        #expect(rows.count == 2 + 5)
        #expect(throws: PlanError.self) { try Plan.parse("name: bad\nworkload:\n  cameras: 500-50\n", path: "bad.yaml") }
    }
}
