import EdgeInsightCore
import Foundation
import GRDB
@testable import Results
import Synchronization
import Testing
import TestSupport

@Suite struct ResultsDatabaseTests {
    func trial(_ key: String, ok: Bool = true, fps: Double = 10) -> TrialRecord {
        TrialRecord(key: key, repetition: 1, ok: ok, reason: ok ? nil : "edge node failed: boom",
                    parameters: ["model": "resnet50", "placement": "edge", "workload.fps": String(fps)],
                    metrics: ok ? [Metric("throughput_fps", fps, "fps"), Metric("latency_p99_ms", 42.5, "ms")] : [],
                    stages: ok ? [StageRow(stage: "infer", count: 20, meanMs: 30, p50Ms: 29, p99Ms: 40)] : [],
                    windows: ok ? [WindowRow(index: 0, startSeconds: 0, throughput: fps, p50Ms: 30, p99Ms: 40, dropped: 0)] : [])
    }

    @Test func trialsRoundTripAndResumeKnowsWhatIsDone() throws {
        let path = temporaryPath("results.sqlite")
        let database = try ResultsDatabase(path: path)
        let run = try database.openRun(name: "exp", experiment: "exp.yaml", environment: ["cores": "2"], fresh: false)
        try database.record(trial("a"), run: run)
        try database.record(trial("b", ok: false), run: run)
        // A second handle (the resumed runner) sees both, and the same run.
        let again = try ResultsDatabase(path: path)
        #expect(try again.openRun(name: "exp", experiment: "exp.yaml", environment: [:], fresh: false) == run)
        #expect(try again.finishedKeys(run: run) == ["a", "b"])
        let trials = try again.trials(run: run)
        #expect(trials.count == 2)
        #expect(trials[0].metrics == trial("a").metrics && trials[0].stages == trial("a").stages && trials[0].windows == trial("a").windows)
        #expect(trials[1].ok == false && trials[1].reason == "edge node failed: boom")
        #expect(try again.run("exp").environment["cores"] == "2")
        // The same trial twice is refused: no duplicates, whatever the runner does.
        #expect(throws: ResultsError.self) { try again.record(trial("a"), run: run) }
        // --fresh forgets.
        let fresh = try again.openRun(name: "exp", experiment: "exp.yaml", environment: [:], fresh: true)
        #expect(try again.finishedKeys(run: fresh).isEmpty)
    }

    /// The trial configuration is stored whole and read back equal; a database written before it
    /// was stored (schema v1) still opens, its trials without one.
    @Test func theTrialConfigurationIsStoredAndOldDatabasesStillOpen() throws {
        let path = temporaryPath("results.sqlite")
        do {
            let old = try DatabasePool(path: path)
            try ResultsDatabase.migrator.migrate(old, upTo: "v1")
            try old.write { db in
                try db.execute(sql: "INSERT INTO run (name, experiment, startedAt) VALUES ('old', 'old.yaml', ?)", arguments: [Date()])
                try db.execute(sql: """
                    INSERT INTO trial (runId, key, repetition, ok, parameters, model, placement, startedAt, seconds)
                    VALUES (1, 'k', 1, 1, '{"model":"resnet50"}', 'resnet50', 'edge', ?, 1.5)
                    """, arguments: [Date()])
            }
        }
        let database = try ResultsDatabase(path: path)
        let old = try database.trials(run: try database.run("old").id)
        #expect(old.count == 1 && old[0].config == nil && old[0].parameters["model"] == "resnet50")
        var config = TrialConfig()
        try config.set("placement", "cloud-tensor")
        try config.set("link.rtt", "35ms")
        var record = trial("new")
        record.config = config
        record.stages[0].quantilesMs = (1...100).map(Double.init)
        try database.record(record, run: try database.run("old").id)
        let stored = try #require(try database.trials(run: try database.run("old").id).last)
        #expect(stored.config == config && stored.stages[0].quantilesMs == (1...100).map(Double.init))
    }

    /// A runner and readers (`results show`, a test polling) open one file at once: nobody gets
    /// "database is locked" (seen: a runner died creating the file while a reader opened it).
    @Test func concurrentOpenersWaitForEachOtherInsteadOfFailing() throws {
        let path = temporaryPath("shared.sqlite")
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            do {
                let database = try ResultsDatabase(path: path)
                let run = try database.openRun(name: "exp", experiment: "exp.yaml", environment: [:], fresh: false)
                try database.record(trial("t\(index)"), run: run)
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let database = try ResultsDatabase(path: path)
        #expect(try database.trials(run: try database.run("exp").id).count == 16)
    }

    @Test func databaseIsInWALMode() throws {
        let path = temporaryPath("wal.sqlite")
        _ = try ResultsDatabase(path: path)
        let mode = try run("/usr/bin/sqlite3", [path, "PRAGMA journal_mode;"])
        #expect(mode.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "wal")
    }

    @Test func csvHasOneRowPerTrialWithEveryParameterAndMetric() throws {
        let csv = ResultsExport.csv([trial("a", fps: 5), trial("b", ok: false), trial("c", fps: 15)])
        let lines = csv.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "trial,repetition,status,reason,model,placement,workload.fps,throughput_fps [fps],latency_p99_ms [ms]")
        #expect(lines[1] == "1,1,ok,,resnet50,edge,5.0,5.0,42.5")
        #expect(lines[2] == "2,1,failed,edge node failed: boom,resnet50,edge,10.0,,")
    }

    @Test func longJSONHasARecordPerTrialAndMetric() throws {
        let text = try ResultsExport.longJSON([trial("a"), trial("b", ok: false)])
        let records = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(records.count == 2 + 1)
        #expect(records[0]["metric"] as? String != nil && records[0]["model"] as? String == "resnet50" && records[0]["value"] as? Double != nil)
        #expect(records[2]["status"] as? String == "failed")
    }
}
