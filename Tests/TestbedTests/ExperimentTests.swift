import Foundation
import ModelZoo
@testable import Testbed
import Testing
import TestSupport

@Suite struct ExperimentTests {
    @Test func sweepExpandsTheGridAndCollapsesWhatEdgeDoesNotUse() throws {
        let experiment = try Experiment.parse("""
            model: mobilenet_v2
            link: lte
            sweep:
              placement: [edge, cloud-raw]
              link: [lte, ethernet]
              workload.fps: [5, 10]
              workload.inflight: [1, 2]
            """, path: "x.yaml")
        let trials = experiment.trials()
        // edge: 2 fps values (neither the link nor requests in flight matter); cloud-raw: 2 links × 2 fps × 2 in flight.
        #expect(trials.count == 2 + 8)
        #expect(Set(trials.map(\.key)).count == trials.count)
        let edge = trials.filter { $0.placement == .edge }
        #expect(edge.allSatisfy { $0.config.parameters["link"] == nil && $0.config.parameters["cloud.cpu"] == nil && $0.config.parameters["workload.inflight"] == nil })
        #expect(Set(trials.filter { $0.placement == .cloudRaw }.compactMap { $0.config.parameters["link"] }) == ["lte", "ethernet"])
        #expect(trials.allSatisfy { $0.config.parameters["workload.duration"] == "3s" })   // defaults filled in
    }

    @Test func cloudNodeSettingsComeFromTheTrial() throws {
        let experiment = try Experiment.parse("""
            placement: cloud-tensor
            cloud: {cpu: 0.5, instances: 2, http_threads: 1}
            """, path: "x.yaml")
        let trial = try #require(experiment.trials().first)
        let settings = CloudNode.settings(trial, models: ["resnet50"], kernel: false)
        #expect(settings.cpu == 0.5 && settings.instances == 2 && settings.httpThreads == 1 && settings.models == ["resnet50"])
        // Unset, the server keeps its own default.
        let plain = try #require(try Experiment.parse("placement: cloud-raw", path: "y.yaml").trials().first)
        #expect(CloudNode.settings(plain, models: [], kernel: false).httpThreads == nil)
    }

    /// A pool: one lane per device host, each with the cloud pool's host of its index (mod its
    /// size); a trial placed on a lane names its hosts but keeps the sweep's key.
    @Test func poolsMakeLanesAndKeepTheKeys() throws {
        let experiment = try Experiment.parse("""
            hosts: {pi1: {ssh: a}, pi2: {ssh: b}, pi3: {ssh: c}, vm1: {ssh: d}, vm2: {ssh: e}}
            device: {hosts: [pi1, pi2, pi3], threads: 2}
            cloud: {hosts: [vm1, vm2]}
            sweep:
              placement: [edge, cloud-raw]
            """, path: "x.yaml")
        #expect(experiment.lanes == [Lane(device: "pi1", cloud: "vm1"), Lane(device: "pi2", cloud: "vm2"), Lane(device: "pi3", cloud: "vm1")])
        #expect(experiment.base.device.threads == 2)
        try experiment.checkProfiles()
        let cloud = try #require(experiment.trials().first { $0.placement == .cloudRaw })
        let placed = cloud.placed(on: experiment.lanes[1])
        #expect(placed.key == cloud.key && placed.config.device.host == "pi2" && placed.config.cloud.host == "vm2")
        let edge = try #require(experiment.trials().first { $0.placement == .edge }).placed(on: experiment.lanes[2])
        #expect(edge.config.device.host == "pi3" && edge.config.parameters["cloud.host"] == nil)
        #expect(try Experiment.parse("model: mobilenet_v2", path: "y.yaml").lanes == [Lane(device: nil, cloud: nil)])
        // A pool is the file's, not a trial's; a cloud pool needs a device pool; names are distinct.
        for (text, message) in [
            ("trials:\n  - {device: {hosts: [a, b]}}", "x.yaml:2: a pool of hosts ('device.hosts') is set once, at the top level"),
            ("cloud: {hosts: [vm1]}", "x.yaml: a pool of cloud hosts pairs with a pool of device hosts"),
            ("device: {hosts: [a, a]}", "x.yaml:1: 'device.hosts' must be a list of distinct host names"),
        ] {
            #expect(throws: TestbedError.self) { try Experiment.parse(text, path: "x.yaml") }
            do { _ = try Experiment.parse(text, path: "x.yaml") } catch { #expect("\(error)".hasPrefix(message), "\(error)") }
        }
        // Pool hosts must be in the inventory; pooled trials do not name their own.
        let unknown = try Experiment.parse("hosts: {pi1: {ssh: a}}\ndevice: {hosts: [pi1, pi9]}", path: "z.yaml")
        #expect(throws: TestbedError.self) { try unknown.checkProfiles() }
        let pinned = try Experiment.parse("hosts: {pi1: {ssh: a}}\ndevice: {hosts: [pi1]}\ntrials:\n  - {device.host: pi1}", path: "w.yaml")
        #expect(throws: TestbedError.badExperiment("w.yaml: with a pool of hosts a trial does not name its own (device.host, cloud.host): the pool places it")) {
            try pinned.checkProfiles()
        }
    }

    @Test func repetitionsAndExplicitTrials() throws {
        let experiment = try Experiment.parse("""
            repetitions: 2
            trials:
              - {placement: edge, workload: {fps: 5}}
              - {placement: cloud-tensor, link: {profile: 3g, rtt: 300ms}}
            """, path: "x.yaml")
        let trials = experiment.trials()
        #expect(trials.count == 4)
        #expect(trials.filter { $0.repetition == 2 }.count == 2)
        // In passes over the sweep: every trial once, then every trial again.
        #expect(trials.map(\.repetition) == [1, 1, 2, 2] && trials.map(\.placement) == [.edge, .cloudTensor, .edge, .cloudTensor])
        let cloud = try #require(trials.first { $0.placement == .cloudTensor })
        #expect(cloud.config.parameters["link"] == "3g" && cloud.config.parameters["link.rtt"] == "300ms")
        // Each repetition meets its own link draws; the same trial run again, the same ones.
        #expect(Set(trials.map(\.linkSeed)).count == 4)
        #expect(experiment.trials().map(\.linkSeed) == trials.map(\.linkSeed))
    }

    @Test(arguments: [
        ("model: resnet50\nworkload:\n  fps: fast\n", "x.yaml:3", "workload.fps"),
        ("placement: edge\nsweep:\n  workload.colour: [red]\n", "x.yaml:3", "unknown key 'workload.colour'"),
        ("device:\n  cpu: 0.5\n  gpu: 1\n", "x.yaml:3", "unknown key 'device.gpu'"),
        ("placement: moon\n", "x.yaml:1", "placement"),
        ("workload:\n  resolution: big\n", "x.yaml:2", "WIDTHxHEIGHT"),
        ("sweep:\n  model: []\n", "x.yaml:2", "non-empty list"),
        ("repetitions: 0\n", "x.yaml:1", "repetitions"),
    ])
    func errorsNameFileLineAndKey(text: String, location: String, mentions: String) {
        do {
            _ = try Experiment.parse(text, path: "x.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(location), "\(error)")
            #expect(error.description.contains(mentions), "\(error)")
        }
    }

    @Test func theBuiltInDemoIsExamplesDemoAndFitsItsBudget() throws {
        let file = try String(contentsOfFile: repositoryRoot + "/examples/demo.yaml", encoding: .utf8)
        #expect(file == DemoExperiment.yaml + "\n" || file == DemoExperiment.yaml)
        let demo = try Experiment.parse(DemoExperiment.yaml, path: "demo")
        let trials = demo.trials()
        #expect(Set(trials.compactMap { $0.config.parameters["model"] }) == ["mobilenet_v2", "resnet50"])
        #expect(Set(trials.map(\.placement)) == [.edge, .cloudRaw, .cloudTensor])
        #expect(trials.filter { $0.placement == .edge }.allSatisfy { $0.config.parameters["device.cpu"] == "0.5" })
    }

    /// `calibrate --budget`: 41 trials of 0.5 s warm-up + 3 s + 0.65 s cost 170 s, so 3 minutes
    /// measure each once, 6 minutes twice (2.1 fit), an hour five times (the cap); 90 s shortens
    /// them to 1 s (90/41 − 1.15 = 1.05 s, rounded down to a tenth); 20 s cannot give 1 s each.
    @Test func theCalibrationFitsItsBudget() throws {
        let half = Duration.milliseconds(500)
        func plan(_ seconds: Int64) throws -> CalibrationExperiment.Plan { try .init(budget: .seconds(seconds), trials: 41, warmup: half, duration: .seconds(3)) }
        let once = try plan(180)
        #expect(once.repetitions == 1 && once.duration == .seconds(3) && once.estimate == .milliseconds(170_150))
        #expect(try plan(360).repetitions == 2 && plan(360).duration == .seconds(3))
        #expect(try plan(3600).repetitions == 5)
        #expect(try plan(90).repetitions == 1 && plan(90).duration == .seconds(1))
        #expect(throws: TestbedError.badExperiment("a budget of 20s cannot measure the calibration's 41 trials for 1s each: give at least 88.2s")) { try plan(20) }
        let (experiment, twice) = try CalibrationExperiment.experiment(engines: [.openvino], budget: .seconds(420))
        #expect(twice.trials == 44 && experiment.trials().count == 88 && experiment.trials().allSatisfy { $0.config.workload.duration == .seconds(3) })
        // No budget: each trial once, as the file has it.
        let (asWritten, _) = try CalibrationExperiment.experiment(engines: [.openvino], budget: nil)
        #expect(asWritten.trials().count == 44 && asWritten.trials().allSatisfy { $0.config.workload.duration == .seconds(3) })
    }

    @Test func theBuiltInCalibrationIsExamplesCalibration() throws {
        let file = try String(contentsOfFile: repositoryRoot + "/examples/calibration.yaml", encoding: .utf8)
        #expect(file == CalibrationExperiment.yaml + "\n" || file == CalibrationExperiment.yaml)
        let trials = try Experiment.parse(CalibrationExperiment.yaml, path: "calibration").trials()
        #expect(trials.count == 44 && Set(trials.map(\.config.model)).count == 10 && Set(trials.map(\.config.device.cpu)) == [1, 0.5, 2])
        // Four architectures at another input, at a full core, to tell weights' cost from compute's.
        #expect(trials.filter { ModelZoo.splitResolution($0.config.model).resolution != nil && $0.config.device.cpu == 1 }.count == 4)
        // Threads above the quota, as the device profiles run, so the compute model can fit their spinning.
        #expect(trials.filter { $0.config.device.threads > 1 && Double($0.config.device.threads) > $0.config.device.cpu }.count == 3)
        // Another framework repeats the edge trials on it, and only those.
        let both = try Experiment.parse(CalibrationExperiment.yaml(engines: [.openvino, .litert]), path: "calibration").trials()
        let edge = trials.filter { $0.config.placement == .edge }
        let added = both.filter { $0.config.device.engine == .litert }
        #expect(both.count == trials.count + edge.count && added.count == edge.count && added.allSatisfy { $0.config.placement == .edge })
        #expect(Set(added.map { "\($0.config.model) \($0.config.device.cpu) \($0.config.workload.resolution)" }) == Set(edge.map { "\($0.config.model) \($0.config.device.cpu) \($0.config.workload.resolution)" }))
    }

    @Test func everyExampleParses() throws {
        let folder = repositoryRoot + "/examples"
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".yaml") && !name.hasPrefix("plan-") {
            let experiment = try Experiment.load(folder + "/" + name)
            #expect(!experiment.trials().isEmpty, "\(name)")
        }
    }
}
