import Broker
import EdgeInsightCore
import Foundation
import Results
import Testing
import TestSupport

/// The mqtt transport end to end: the runner starts a Mosquitto broker beside the cloud node, the
/// cloud node consumes from it, the edge node publishes through the link; the trial stores the
/// broker's hops as stages, beside the same configuration over HTTP in one report, and leaves no
/// broker behind.
@Suite(.timeLimit(.minutes(5)), .enabled(if: MosquittoBroker.executable != nil, "needs Debian's mosquitto (\(Requirements.setupHint))"))
struct BrokerTransportTests {
    @Test func aTrialThroughTheBrokerStandsBesideTheSameOverHTTP() throws {
        let folder = temporaryPath("mqtt")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            name: mqtt-vs-http
            model: mobilenet_v2
            placement: cloud-raw
            workload: {fps: 5, warmup: 0.5s, duration: 2s, window: 0.5s}
            device: {cpu: 1}
            link: ethernet
            sweep:
              transport: [http, mqtt]
            """.write(toFile: folder + "/exp.yaml", atomically: true, encoding: .utf8)
        let result = try edgeinsight(["run", folder + "/exp.yaml", "--out", folder + "/out"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let database = try ResultsDatabase(path: folder + "/out/results.sqlite")
        let trials = try database.trials(run: try database.run("mqtt-vs-http").id)
        let http = try #require(trials.first { $0.config.transport == .http })
        let mqtt = try #require(trials.first { $0.config.transport == .mqtt })
        #expect(http.ok && mqtt.ok, "\(http.reason ?? "") \(mqtt.reason ?? "")")
        #expect(mqtt.stages.map(\.stage) == [.capture, .encode, .queue, .serialize, .publish, .broker, .infer, .reply], "\(mqtt.stages.map(\.stage))")
        #expect(http.stages.map(\.stage).contains(.network) && !http.stages.map(\.stage).contains(.publish))
        #expect(mqtt.stages.allSatisfy { $0.count > 0 })
        // Every frame through the broker answered; none lost, late or duplicated on a steady path.
        #expect(mqtt.metric(.framesLost) == 0 && mqtt.metric(.framesLate) == 0 && mqtt.metric(.brokerDisconnections) == 0)
        #expect((mqtt.metric(.throughput) ?? 0) > 4, "\(mqtt.metric(.throughput) ?? 0) fps of 5")
        // The stages tile each frame's time: their means add up to the mean latency (within rounding).
        let stageSum = mqtt.stages.map(\.meanMs).reduce(0, +), mean = try #require(mqtt.metric(.latencyMean))
        #expect(abs(stageSum - mean) < 0.05 * mean + 0.5, "stages \(stageSum) ms against \(mean) ms")
        #expect(mqtt.applied.linkShaping?.contains("through the broker") == true, "\(mqtt.applied.linkShaping ?? "")")

        // One report, both transports, the broker's hop its own stage.
        let report = try String(contentsOfFile: folder + "/out/report-mqtt-vs-http.html", encoding: .utf8)
        #expect(report.contains("cloud-raw via mqtt") && report.contains("publish") && report.contains("broker"))

        // The broker went with the run.
        let left = try run("/usr/bin/pgrep", ["-f", folder])
        #expect(left.stdout.isEmpty, "left running: \(left.stdout)")
    }
}
