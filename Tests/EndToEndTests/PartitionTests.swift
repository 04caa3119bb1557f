import EdgeInsightCore
import Foundation
import Results
import Testing
import TestSupport

/// The partition placement end to end: the edge node runs the network's head under its confinement,
/// sends the activation to a cloud node serving the tail, and the trial stores the head, transfer and
/// tail as stages; a cut that does not exist stops the run before its first trial, in one line.
@Suite(.timeLimit(.minutes(5))) struct PartitionTests {
    @Test func aPartitionTrialStoresHeadTransferAndTail() throws {
        // The cut of one tensor nearest the middle of mobilenet_v2's MACs.
        let cuts = try edgeinsight(["models", "inspect", "mobilenet_v2", "--cuts", "--json"])
        try #require(cuts.status == 0, "\(cuts.stderr)")
        struct Cut: Decodable { var after: String; var crossing: [String]; var headMACs: Int; var tailMACs: Int; var crossingBytes: Int }
        let points = try JSONDecoder().decode([Cut].self, from: Data(cuts.stdout.utf8))
        let cut = try #require(points.filter { $0.crossing.count == 1 }.min { abs($0.headMACs - $0.tailMACs) < abs($1.headMACs - $1.tailMACs) })
        let folder = temporaryPath("partition")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            name: partition
            model: mobilenet_v2
            placement: partition
            partition: {after: \(cut.after)}
            workload: {fps: 5, warmup: 0.5s, duration: 2s, window: 0.5s}
            device: {cpu: 1}
            link: ethernet
            trials:
              - {link: ethernet}
              - {link: {profile: ethernet, uplink: 500kbit}}
            """.write(toFile: folder + "/exp.yaml", atomically: true, encoding: .utf8)
        let result = try edgeinsight(["run", folder + "/exp.yaml", "--out", folder + "/out"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let database = try ResultsDatabase(path: folder + "/out/results.sqlite")
        let trials = try database.trials(run: try database.run("partition").id)
        let trial = try #require(trials.first { $0.config.link.uplink == nil })
        // An activation the link cannot carry at the frame rate (over 500 kbit/s): the device
        // falls behind, and every frame it could not send is counted as dropped, none lost.
        let thin = try #require(trials.first { $0.config.link.uplink != nil })
        #expect(thin.ok, "\(thin.reason ?? "")")
        let offered = try #require(thin.metric(.offeredRate)), answered = try #require(thin.metric(.throughput))
        #expect(answered < 0.7 * offered && (thin.metric(.framesDropped) ?? 0) > 0, "\(answered) of \(offered) fps, \(thin.metric(.framesDropped) ?? 0) dropped")
        #expect(trial.ok, "\(trial.reason ?? "")")
        #expect(trial.stages.map(\.stage) == [.capture, .encode, .queue, .preprocess, .head, .serialize, .network, .tail], "\(trial.stages.map(\.stage))")
        #expect(trial.stages.allSatisfy { $0.count > 0 })
        // What crossed is the cut's activation (plus the request's headers), not the image.
        let sent = try #require(trial.metric(.requestBytes))
        #expect(sent > Double(cut.crossingBytes) && sent < Double(cut.crossingBytes) + 2_000, "\(sent) bytes against the cut's \(cut.crossingBytes)")
        #expect((trial.metric(.throughput) ?? 0) > 3)

        // A tensor no cut follows: the run stops before any trial, saying where the cuts are.
        try """
            model: mobilenet_v2
            placement: partition
            partition: {after: nowhere}
            """.write(toFile: folder + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try edgeinsight(["run", folder + "/bad.yaml", "--out", folder + "/bad"])
        #expect(bad.status != 0 && bad.errorLine.contains("partition of mobilenet_v2: no cut after 'nowhere'") && bad.errorLine.contains("models inspect --cuts"),
                "\(bad.stderr)")
    }
}
