import EdgeInsightCore
import Foundation
import Results
import Testbed
import Testing
import TestSupport

/// The runner as users run it: `edgeinsight run` in a process of its own.
@Suite(.serialized, .timeLimit(.minutes(10))) struct RunnerTests {
    /// Six quick edge trials.
    static let quick = """
        name: quick
        model: mobilenet_v2
        placement: edge
        workload: {fps: 10, warmup: 0s, duration: 0.4s, window: 0.2s}
        device: {cpu: 1, threads: 1}
        sweep:
          workload.fps: [5, 10, 15]
          workload.resolution: [320x240, 640x480]
        """

    func writeExperiment(_ text: String) throws -> (file: String, out: String) {
        let folder = temporaryPath("experiment-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try text.write(toFile: folder + "/exp.yaml", atomically: true, encoding: .utf8)
        return (folder + "/exp.yaml", folder + "/out")
    }

    /// Runs an experiment to its end and returns its trials and output folder.
    func measure(_ yaml: String, run name: String) throws -> (records: [TrialRecord], out: String) {
        let (file, out) = try writeExperiment(yaml)
        let result = try edgeinsight(["run", file, "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        return (try trials(out, run: name), out)
    }

    /// Starts `edgeinsight` with its output in `log` (what a failed expectation quotes).
    func startRunner(_ arguments: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: repositoryRoot + "/.build/debug/edgeinsight")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// The last lines a runner wrote.
    func tail(_ log: String) -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(5).joined(separator: "\n")
    }

    func waitForExit(_ process: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    /// Processes whose environment says the runner `pid` started them.
    func children(of pid: Int32) -> [Int32] {
        let marker = "EDGEINSIGHT_PARENT_PID=\(pid)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { candidate in
            guard let data = FileManager.default.contents(atPath: "/proc/\(candidate)/environ") else { return false }
            return String(decoding: data, as: UTF8.self).split(separator: "\0").contains { $0 == marker }
        }
    }

    func trials(_ out: String, run: String) throws -> [TrialRecord] {
        let database = try ResultsDatabase(path: out + "/results.sqlite")
        return try database.trials(run: try database.run(run).id)
    }

    @Test func aRunKilledMidSweepResumesWithEveryTrialOnce() throws {
        let (file, out) = try writeExperiment(Self.quick)
        let first = try startRunner(["run", file, "--out", out], log: out + "-first.log")
        // Kill it once some trials are in the database but not all.
        let deadline = Date().addingTimeInterval(120)
        var done = 0
        while Date() < deadline, first.isRunning {
            done = (try? trials(out, run: "quick").count) ?? 0
            if done >= 2 { break }
            usleep(50_000)
        }
        #expect(first.isRunning, "the run ended before it could be killed: \(tail(out + "-first.log"))")
        kill(first.processIdentifier, SIGKILL)
        #expect(waitForExit(first, seconds: 10))
        let before = try trials(out, run: "quick").count
        #expect(before >= 2 && before < 6)
        // Its nodes notice they lost their parent and stop.
        let deadlineOrphans = Date().addingTimeInterval(15)
        while !children(of: first.processIdentifier).isEmpty, Date() < deadlineOrphans { usleep(100_000) }
        #expect(children(of: first.processIdentifier).isEmpty)

        let second = try startRunner(["run", file, "--out", out], log: out + "-second.log")
        #expect(waitForExit(second, seconds: 180))
        #expect(second.terminationStatus == 0, "\(tail(out + "-second.log"))")
        let all = try trials(out, run: "quick")
        #expect(all.count == 6)
        #expect(Set(all.map(\.key)).count == 6)
        #expect(all.allSatisfy { $0.ok }, "\(all.compactMap(\.reason))")
        #expect(all.allSatisfy { ($0.metric(.throughput) ?? 0) > 0 })
        // Each fps of the sweep shows in what was offered.
        for trial in all {
            let fps = Double(trial.parameters["workload.fps"]!)!
            #expect(abs((trial.metric(.offeredRate) ?? 0) - fps) / fps < 0.25, "\(trial.parameters)")
        }
        // The run ends with its p99 chart; others on demand; a wrong metric is a one-line error.
        #expect(FileManager.default.fileExists(atPath: out + "/plot-quick-latency_p99_ms.svg"), "\(tail(out + "-second.log"))")
        let plot = try edgeinsight(["results", "plot", "quick", "--out", out, "--metric", "throughput_fps", "--x", "workload.fps", "-o", out + "/fps.svg"])
        #expect(plot.status == 0 && (try? String(contentsOfFile: out + "/fps.svg", encoding: .utf8))?.contains("throughput_fps (fps) by workload.fps") == true, "\(plot.stderr)")
        let wrong = try edgeinsight(["results", "plot", "quick", "--out", out, "--metric", "fps"])
        #expect(wrong.status != 0 && wrong.errorLine.hasPrefix("error: no trial has metric 'fps'; the run has "), "\(wrong.stderr)")
        let unwritable = try edgeinsight(["results", "plot", "quick", "--out", out, "-o", "/nonexistent/p.svg"])
        #expect(unwritable.status != 0 && unwritable.errorLine == "error: cannot write /nonexistent/p.svg: No such file or directory", "\(unwritable.stderr)")
    }

    /// The configuration travels whole: decoded from the experiment, written for the agent, run,
    /// and stored with the trial — equal at every step, and the agent ran what it says.
    @Test(.timeLimit(.minutes(3))) func theTrialConfigurationIsWhatRanAndWhatIsStored() throws {
        let text = """
            name: config
            model: squeezenet1_1
            placement: edge
            workload: {fps: 7.5, arrivals: poisson, resolution: 320x240, jpeg_quality: 61, warmup: 0s, duration: 0.8s, window: 0.2s, queue: 3}
            device: {cpu: 1, threads: 1, memory: 3GB}
            slo: {p99: 900ms}
            """
        let (file, out) = try writeExperiment(text)
        let expected = try #require(try Experiment.parse(text, path: file).trials().first).config
        let result = try edgeinsight(["run", file, "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let trial = try #require(try trials(out, run: "config").first)
        #expect(trial.ok, "\(trial.reason ?? "")")
        #expect(trial.config == expected)
        // The node document the agent was handed (docs/nodes.md) holds the same configuration.
        #expect(try handedConfig(out, trial: 1) == expected)
        // What the agent did follows the configuration: its camera's frames, its arrival process, its SLO.
        #expect((trial.metric(.frameBytes) ?? 0) > 3_000 && (trial.metric(.frameBytes) ?? .infinity) < 40_000, "320x240 at q61")
        #expect(trial.metric(.sloP99Met) != nil)
        #expect(trial.metric(.tensorBytes) == Double(3 * 224 * 224 * 4), "squeezenet1_1 FP32 input")
        // Each stage's whole distribution is stored: percentiles 1…99 and 99.9, never decreasing.
        let inference = try #require(trial.stages.first { $0.stage == .infer }?.quantilesMs)
        #expect(inference.count == 100 && zip(inference.dropFirst(), inference).allSatisfy { $0 >= $1 } && inference[0] > 0)
        let report = try String(contentsOfFile: out + "/logs/trial-1-agent.json", encoding: .utf8)
        #expect(report.contains("Poisson") && report.contains("320x240, JPEG quality 61"), "\(report.prefix(300))")
        // A bad configuration for the agent is a one-line error naming the key.
        let bad = temporaryPath("bad.json")
        try Data(#"{"version": 1, "node": "agent", "spec": {"config": {"workload.queue": "0"}}}"#.utf8).write(to: URL(fileURLWithPath: bad))
        let refused = try edgeinsight(["agent", "--config", bad])
        #expect(refused.status != 0 && refused.errorLine.hasPrefix("error: bad node document \(bad): spec.config: 'workload.queue' must be an integer"), "\(refused.stderr)")
    }

    /// A trial that fails is stored with its reason, the sweep goes on, the run's last line says
    /// how many failed and why, and no node is left behind.
    @Test func aFailedTrialIsStoredTheSweepGoesOnAndNoProcessIsLeft() throws {
        let (file, out) = try writeExperiment("""
            name: failing
            workload: {fps: 5, warmup: 0s, duration: 0.4s}
            sweep:
              model: [no-such-model, squeezenet1_1]
              placement: [edge]
              workload.fps: [4, 5]
            """)
        let runner = try startRunner(["run", file, "--out", out], log: out + "-runner.log")
        #expect(waitForExit(runner, seconds: 180))
        #expect(runner.terminationStatus == 0, "some trials measured: \(tail(out + "-runner.log"))")
        let all = try trials(out, run: "failing")
        #expect(all.count == 4)
        let failed = all.filter { !$0.ok }
        #expect(failed.count == 2 && failed.allSatisfy { $0.config.model == "no-such-model" }, "\(all.map { "\($0.config.model) \($0.ok)" })")
        #expect(failed.allSatisfy { $0.reason?.contains("no-such-model") == true }, "\(failed.map { $0.reason ?? "" })")
        #expect(all.filter(\.ok).map(\.config.workload.fps).sorted() == [4, 5] && all.filter(\.ok).allSatisfy { $0.config.model == "squeezenet1_1" })
        let lastLine = tail(out + "-runner.log").split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.hasPrefix("4 trials run, 0 already done, 2 failed: ") && lastLine.contains("no-such-model"), "\(lastLine)")
        #expect(children(of: runner.processIdentifier).isEmpty)
        // The CSV export has one row per trial.
        let csv = try edgeinsight(["results", "export", "failing", "--out", out, "--csv"])
        #expect(csv.status == 0)
        #expect(csv.stdout.split(separator: "\n").count == 1 + 4)
    }

    /// A run in which every trial failed has failed: its exit status says so.
    @Test func aRunWhoseEveryTrialFailedExitsNonZero() throws {
        let (file, out) = try writeExperiment("""
            name: allfail
            model: no-such-model
            workload: {fps: 5, warmup: 0s, duration: 0.4s}
            """)
        let result = try edgeinsight(["run", file, "--out", out])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let last = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("1 trial run, 0 already done, 1 failed: 1× ") && last.hasSuffix("— every trial failed"), "\(last)")
    }

    /// A bad value in a profiles file stops the run before its first trial, at the value's
    /// `file:line`; so does a link the profiles do not have.
    @Test(arguments: [
        ("lte:\n  uplink: 10mbit\n  rtt: 50ms\n  loss: banana\n", "lte", ":4: profile 'lte': 'loss' must be a percentage from 0% to 100%"),
        ("lte:\n  uplink: -5mbit\n  rtt: 50ms\n", "lte", ":2: profile 'lte': 'uplink' must be a positive rate"),
        ("lte:\n  uplink: 10mbit\n", "nosuchlink", "exp.yaml: unknown link profile 'nosuchlink' (known: lte)"),
    ])
    func aBadProfileStopsTheRunBeforeItsFirstTrial(profiles: String, link: String, mentions: String) throws {
        let (file, out) = try writeExperiment("""
            name: badprofile
            model: squeezenet1_1
            workload: {fps: 5, warmup: 0s, duration: 0.4s}
            link: \(link)
            sweep:
              placement: [edge, cloud-raw]
            """)
        let links = temporaryPath("links.yaml")
        try profiles.write(toFile: links, atomically: true, encoding: .utf8)
        let result = try edgeinsight(["run", file, "--out", out], environment: ["EDGEINSIGHT_LINK_PROFILES": links])
        #expect(result.status != 0)
        #expect(result.errorLine.hasPrefix("error: ") && result.errorLine.contains(mentions), "\(result.errorLine)")
        if mentions.hasPrefix(":") { #expect(result.errorLine.contains(links + mentions), "file:line of the bad value: \(result.errorLine)") }
        #expect(!FileManager.default.fileExists(atPath: out + "/logs/trial-1-agent-node.json"), "no trial ran")
    }

    @Test func sigintStopsTheRunCleanly() throws {
        let (file, out) = try writeExperiment(Self.quick.replacingOccurrences(of: "name: quick", with: "name: interrupted"))
        let runner = try startRunner(["run", file, "--out", out], log: out + "-runner.log")
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, children(of: runner.processIdentifier).isEmpty { usleep(20_000) }
        usleep(300_000)
        kill(runner.processIdentifier, SIGINT)
        #expect(waitForExit(runner, seconds: 30))
        #expect(runner.terminationStatus == 130)
        #expect(children(of: runner.processIdentifier).isEmpty)
        let stored = (try? trials(out, run: "interrupted")) ?? []
        #expect(stored.count < 6)
        #expect(stored.allSatisfy { $0.ok })   // the interrupted trial is not stored as a failure
    }

    /// The quota holds: an edge node given half a core and more work than that never uses more,
    /// and falls behind (measured from its own CPU time, so a busy machine cannot make it pass by
    /// luck). The per-inference slowdown against the cloud node (≥ 1.5× for resnet50) is what the
    /// demo prints; it needs an otherwise idle machine, which a parallel test run is not.
    @Test(.enabled(if: Requirements.root, "needs root to confine the edge node in a cgroup"))
    func theEdgeNodesQuotaHolds() throws {
        let folder = temporaryPath("confinement")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            name: confinement
            model: resnet50
            placement: edge
            workload: {fps: 40, warmup: 0.5s, duration: 2s}
            device: {cpu: 0.5, cpuset: "0", threads: 1}
            """.write(toFile: folder + "/exp.yaml", atomically: true, encoding: .utf8)
        let result = try edgeinsight(["run", folder + "/exp.yaml", "--out", folder + "/out"])
        #expect(result.status == 0, "\(result.stderr)")
        let database = try ResultsDatabase(path: folder + "/out/results.sqlite")
        let trial = try #require(try database.trials(run: try database.run("confinement").id).first)
        #expect(trial.parameters["device.confinement"]?.hasPrefix("cgroup") == true)
        let cores = try #require(trial.metric(.edgeCPUCores))
        #expect(cores <= 0.55, "the half-core edge node used \(cores) cores")
        let throughput = try #require(trial.metric(.throughput)), offered = try #require(trial.metric(.offeredRate))
        #expect(throughput < 0.8 * offered, "\(throughput) fps processed of \(offered) offered")
    }

    /// Kernel tbf and the proxy's token bucket limit a cloud-tensor stream (602 kB per frame) alike.
    /// A user's exported model with dynamic H×W (not a classifier: logits and a mask) runs in every
    /// placement; at the camera's resolution unless `model.shape` states one, which is stored.
    @Test func anExportedDynamicModelRunsInEveryPlacement() throws {
        let folder = temporaryPath("exported")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let corpus = try python("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
                                [repositoryRoot + "/Tests/Fixtures/onnx_corpus.py", folder])
        try #require(corpus.status == 0, "\(corpus.stderr)")
        let (records, out) = try measure("""
            name: exported
            model: \(folder)/exported_cnn.onnx
            workload: {fps: 5, warmup: 0.2s, duration: 0.6s, window: 0.2s, resolution: 160x120}
            link: {profile: ethernet, shaping: proxy}
            sweep:
              placement: [edge, cloud-raw, cloud-tensor, split]
              model.shape: ["1,3,96,128"]
            """, run: "exported")
        #expect(records.count == 4)
        for record in records {
            #expect(record.ok, "\(record.parameters["placement"] ?? ""): \(record.reason ?? "")")
            #expect(record.config.modelShape == [1, 3, 96, 128])
            #expect((record.metric(.throughput) ?? 0) > 4)
        }
        let edge = try String(contentsOfFile: out + "/logs/trial-1-agent.json", encoding: .utf8)
        #expect(edge.contains("resize 128x96") && edge.contains("checksum"), "\(edge.prefix(400))")
    }

    /// The edge placement's framework is a trial setting: an OpenCV DNN trial runs, says so, and
    /// is stored with its engine beside the OpenVINO one.
    @Test(.enabled(if: Requirements.openCV, "needs the OpenCV DNN shim: run scripts/setup"))
    func theEdgeFrameworkIsATrialSetting() throws {
        let (records, out) = try measure("""
            name: frameworks
            model: squeezenet1_1
            placement: edge
            workload: {fps: 4, warmup: 0.2s, duration: 1s, resolution: 320x240}
            device: {threads: 1}
            sweep:
              device.engine: [openvino, opencv]
            """, run: "frameworks")
        #expect(records.count == 2 && records.allSatisfy(\.ok), "\(records.map { $0.reason ?? "ok" })")
        #expect(Set(records.compactMap { $0.config.device.engine }) == [.openvino, .opencv])
        let reports = try (1...2).map { try String(contentsOfFile: out + "/logs/trial-\($0)-agent.json", encoding: .utf8) }
        #expect(reports.contains { $0.contains("\"precision\" : \"f32\"") || $0.contains("\"precision\":\"f32\"") }, "\(reports.map { $0.prefix(300) })")
    }

    /// The configuration in the node document trial `trial`'s agent was handed, kept in its logs.
    func handedConfig(_ out: String, trial: Int) throws -> TrialConfig {
        let data = try Data(contentsOf: URL(fileURLWithPath: out + "/logs/trial-\(trial)-agent-node.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(document["version"] as? Int == 1 && document["node"] as? String == "agent")
        return try TrialConfig(parameters: try #require((document["spec"] as? [String: Any])?["config"] as? [String: String]))
    }

    /// Three cameras on one cloud node: the node serves their summed frames (three times one
    /// camera's), the trial is stored as three cameras, and the agent ran the summed stream.
    @Test func severalCamerasLoadOneCloudNode() throws {
        let (records, out) = try measure("""
            name: cameras
            model: squeezenet1_1
            placement: cloud-raw
            workload: {fps: 4, warmup: 0.5s, duration: 2s, resolution: 320x240}
            link: {profile: ethernet, shaping: proxy}
            sweep:
              workload.cameras: [1, 3]
            """, run: "cameras")
        let one = try #require(records.first { $0.config.workload.cameras == 1 })
        let three = try #require(records.first { $0.config.workload.cameras == 3 })
        #expect(three.parameters["workload.cameras"] == "3" && three.parameters["workload.cameras.run_as"]?.hasPrefix("one stream at 12 fps, 3 in flight") == true,
                "\(three.parameters)")
        let single = try #require(one.metric(.throughput)), summed = try #require(three.metric(.throughput))
        #expect(abs(single - 4) < 0.6 && abs(summed - 12) < 1.5, "one camera \(single) fps, three \(summed) fps")
        let handed = try handedConfig(out, trial: 2)
        #expect(handed.workload.fps == 12 && handed.workload.inflight == 3 && handed.workload.cameras == 1)
    }

    /// Over a 300 ms round trip a device that waits for each answer sends at most 3.3 frames a second;
    /// four requests in flight keep up with a 10 fps camera.
    @Test func requestsInFlightOverlapTheRoundTrip() throws {
        let (records, _) = try measure("""
            name: inflight
            model: mobilenet_v2
            placement: cloud-raw
            workload: {fps: 10, warmup: 0.5s, duration: 2s, resolution: 320x240}
            link: {profile: ethernet, rtt: 300ms, shaping: proxy}
            sweep:
              workload.inflight: [1, 4]
            """, run: "inflight")
        let one = try #require(records.first { $0.parameters["workload.inflight"] == "1" }?.metric(.throughput))
        let four = try #require(records.first { $0.parameters["workload.inflight"] == "4" }?.metric(.throughput))
        #expect(one < 3.5, "stop-and-wait: \(one) fps")
        #expect(four > 8.5, "4 in flight: \(four) fps")
    }

    @Test(.enabled(if: Requirements.root, "needs root for network namespaces and tc"))
    func kernelAndProxyShapingAgree() throws {
        let folder = temporaryPath("shaping")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            name: shaping
            workload: {fps: 5, warmup: 0.5s, duration: 2s}
            link: {profile: lte, uplink: 10mbit, rtt: 10ms, jitter: 0ms, loss: 0%}
            placement: cloud-tensor
            sweep:
              link.shaping: [kernel, proxy]
            """.write(toFile: folder + "/exp.yaml", atomically: true, encoding: .utf8)
        let result = try edgeinsight(["run", folder + "/exp.yaml", "--out", folder + "/out"])
        #expect(result.status == 0, "\(result.stderr)")
        let database = try ResultsDatabase(path: folder + "/out/results.sqlite")
        let trials = try database.trials(run: try database.run("shaping").id)
        let kernel = try #require(trials.first { $0.parameters["link.shaping"]?.hasPrefix("kernel tbf") == true })
        let proxy = try #require(trials.first { $0.parameters["link.shaping"]?.hasPrefix("proxy") == true })
        let k = try #require(kernel.metric(.throughput)), p = try #require(proxy.metric(.throughput))
        // 10 Mbit/s carries at most 2.08 frames of 602 kB a second; the camera offers 5.
        #expect(k < 2.3 && p < 2.3 && k > 1 && p > 1, "kernel \(k) fps, proxy \(p) fps")
        #expect(abs(k - p) / p < 0.25)
        // The run's namespace ("… ⇄ ei12/eip12") is gone with it.
        let shaping = kernel.parameters["link.shaping"]!
        let namespace = try #require(shaping.split(separator: "⇄").last?.split(separator: "/").first.map { $0.trimmingCharacters(in: .whitespaces) })
        let namespaces = try run("/usr/sbin/ip", ["netns", "list"]).stdout.split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }
        #expect(!namespaces.contains(namespace), "namespace \(namespace) left behind")
    }
}
