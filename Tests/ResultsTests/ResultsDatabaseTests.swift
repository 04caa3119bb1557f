import EdgeInsightCore
import Foundation
import GRDB
@testable import Results
import Synchronization
import Testing
import TestSupport

@Suite struct ResultsDatabaseTests {
    func trial(_ key: String, ok: Bool = true, fps: Double = 10) -> TrialRecord {
        var config = TrialConfig()
        config.model = "resnet50"
        config.workload.fps = fps
        return TrialRecord(key: key, repetition: 1, ok: ok, reason: ok ? nil : "edge node failed: boom", config: config,
                    metrics: ok ? [MetricValue(.throughput, fps), MetricValue(.latencyP99, 42.5)] : [],
                    stages: ok ? [StageRow(stage: .infer, count: 20, meanMs: 30, p50Ms: 29, p99Ms: 40)] : [],
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
    /// was stored (schema v1) still opens: its configuration rebuilt from the parameters, and how
    /// the trial was applied (then kept among them) read into its own record.
    @Test func theTrialConfigurationIsStoredAndOldDatabasesStillOpen() throws {
        let path = temporaryPath("results.sqlite")
        do {
            let old = try DatabasePool(path: path)
            try ResultsDatabase.migrator.migrate(old, upTo: "v1")
            try old.write { db in
                try db.execute(sql: "INSERT INTO run (name, experiment, startedAt) VALUES ('old', 'old.yaml', ?)", arguments: [Date()])
                try db.execute(sql: """
                    INSERT INTO trial (runId, key, repetition, ok, parameters, model, placement, startedAt, seconds)
                    VALUES (1, 'k', 1, 1, '{"model":"resnet50","workload.fps":"7","device.confinement":"cgroup v1: cpu 0.5","device.threads_applied":"2"}',
                            'resnet50', 'edge', ?, 1.5)
                    """, arguments: [Date()])
            }
        }
        let database = try ResultsDatabase(path: path)
        let old = try database.trials(run: try database.run("old").id)
        #expect(old.count == 1 && old[0].config.model == "resnet50" && old[0].config.workload.fps == 7)
        #expect(old[0].applied.deviceConfinement == "cgroup v1: cpu 0.5" && old[0].applied.deviceThreads == 2)
        #expect(old[0].parameters["device.confinement"] == "cgroup v1: cpu 0.5")
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

    /// A database holding a metric or stage this version does not know is refused in one line,
    /// never read with the value dropped or misnamed.
    @Test func unknownMeasurementsAreRefusedNotMisread() throws {
        for (table, insert) in [("metric", "INSERT INTO metric (trialId, name, value, unit) VALUES (1, 'latency_p42_ms', 3, 'ms')"),
                                ("stage", "INSERT INTO stage (trialId, stage, count, meanMs, p50Ms, p99Ms) VALUES (1, 'teleport', 1, 1, 1, 1)")] {
            let path = temporaryPath("future.sqlite")
            let database = try ResultsDatabase(path: path)
            let run = try database.openRun(name: "exp", experiment: "exp.yaml", environment: [:], fresh: false)
            try database.record(trial("a"), run: run)
            try DatabasePool(path: path).write { try $0.execute(sql: insert) }
            #expect(throws: ResultsError.unknownMeasurement(table, table == "metric" ? "latency_p42_ms" : "teleport")) { try database.trials(run: run) }
        }
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
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(header.prefix(4)) == ["trial", "repetition", "status", "reason"])
        #expect(Array(header.suffix(2)) == ["throughput_fps [fps]", "latency_p99_ms [ms]"], "metrics in the table's order, with units")
        func column(_ line: Int, _ name: String) -> String? {
            header.firstIndex(of: name).map { lines[line].split(separator: ",", omittingEmptySubsequences: false).map(String.init)[$0] }
        }
        #expect(column(1, "model") == "resnet50" && column(1, "workload.fps") == "5" && column(1, "throughput_fps [fps]") == "5.0")
        #expect(column(2, "status") == "failed" && column(2, "reason") == "edge node failed: boom" && column(2, "latency_p99_ms [ms]") == "")
        #expect(header.contains("link") == false, "an edge trial has no link")
    }

    @Test func longJSONHasARecordPerTrialAndMetric() throws {
        let text = try ResultsExport.longJSON([trial("a"), trial("b", ok: false)])
        let records = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(records.count == 2 + 1)
        #expect(records[0]["metric"] as? String != nil && records[0]["model"] as? String == "resnet50" && records[0]["value"] as? Double != nil)
        #expect(records[2]["status"] as? String == "failed")
    }
}
