import EdgeInsightCore
import Foundation
import GRDB

/// Errors of the results database; one line each.
public enum ResultsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(String, String)
    case unknownRun(String, known: [String])
    case storage(String)
    /// A request the results cannot answer (a plot of a metric no trial has, say).
    case invalid(String)
    /// A database written by another version, holding a metric or stage this one does not know.
    case unknownMeasurement(String, String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open results database \(path): \(reason)"
        case .unknownRun(let run, let known): "no run '\(run)' in this database (runs: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case .storage(let reason): "results database: \(reason)"
        case .invalid(let reason): reason
        case .unknownMeasurement(let kind, let key): "results database holds a \(kind) '\(key)' this edgeinsight does not know (written by a newer version?)"
        }
    }
}

/// One stage's latency within a trial.
public struct StageRow: Sendable, Codable, Equatable {
    public var stage: Stage
    public var count: Int
    public var meanMs: Double
    public var p50Ms: Double
    public var p99Ms: Double
    /// The value at each percentile 1…99, then p99.9, in ms; nil in older databases.
    public var quantilesMs: [Double]?

    public init(stage: Stage, count: Int, meanMs: Double, p50Ms: Double, p99Ms: Double, quantilesMs: [Double]? = nil) {
        self.stage = stage
        self.count = count
        self.meanMs = meanMs
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
        self.quantilesMs = quantilesMs
    }
}

/// One measurement window of a trial.
public struct WindowRow: Sendable, Codable, Equatable {
    public var index: Int
    public var startSeconds: Double
    public var throughput: Double
    public var p50Ms: Double
    public var p99Ms: Double
    public var dropped: Int

    public init(index: Int, startSeconds: Double, throughput: Double, p50Ms: Double, p99Ms: Double, dropped: Int) {
        self.index = index
        self.startSeconds = startSeconds
        self.throughput = throughput
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
        self.dropped = dropped
    }
}

/// How the testbed realised a trial's configuration on the machine it ran on: what was really
/// applied, which may differ from what was asked (no cgroups here, bf16 chosen by the engine).
public struct AppliedRecord: Sendable, Codable, Equatable {
    /// The edge node's confinement as applied (`cgroup v1: cpu 0.5 (2000 us per 4000 us)`, or the fallback).
    public var deviceConfinement: String?
    public var cloudConfinement: String?
    /// How the link was shaped (proxy, or kernel tbf plus the proxy).
    public var linkShaping: String?
    /// The precision the device's engine computed in (OpenVINO picks bf16 on AVX-512 BF16 CPUs).
    public var devicePrecision: String?
    public var deviceThreads: Int?
    /// The device's framework and its version (`OpenVINO 2026.4.1`).
    public var deviceEngine: String?
    /// How several cameras were run (one summed stream).
    public var camerasRunAs: String?
    /// The host each node ran on; nil: this machine.
    public var host: String?

    public init() {}

    /// The keys these had as text in databases before v3, and in exports.
    /// Key paths are immutable values; the array is never mutated.
    nonisolated(unsafe) static let keys: [(key: String, path: WritableKeyPath<AppliedRecord, String?>)] = [
        ("device.confinement", \.deviceConfinement), ("cloud.confinement", \.cloudConfinement), ("link.shaping", \.linkShaping),
        ("device.precision", \.devicePrecision), ("device.engine_version", \.deviceEngine), ("workload.cameras.run_as", \.camerasRunAs),
        ("host", \.host),
    ]

    /// As text under the export's keys (`device.confinement`, `device.threads_applied`, …).
    public var parameters: [String: String] {
        var out: [String: String] = [:]
        for (key, path) in Self.keys { if let value = self[keyPath: path] { out[key] = value } }
        if let deviceThreads { out["device.threads_applied"] = String(deviceThreads) }
        return out
    }

    /// From those keys (the parameters of a database written before v3).
    init(parameters: [String: String]) {
        for (key, path) in Self.keys { self[keyPath: path] = parameters[key] }
        deviceThreads = parameters["device.threads_applied"].flatMap(Int.init)
    }
}

/// A finished trial: its configuration, how it was applied, and everything measured (or why it failed).
public struct TrialRecord: Sendable, Codable, Equatable {
    /// Identifies the trial within its run: the same configuration and repetition give the same key.
    public var key: String
    public var repetition: Int
    public var ok: Bool
    public var reason: String?
    /// The trial's configuration as asked.
    public var config: TrialConfig
    public var applied: AppliedRecord
    public var metrics: [MetricValue]
    public var stages: [StageRow]
    public var windows: [WindowRow]
    public var startedAt: Date
    public var seconds: Double

    public init(key: String, repetition: Int, ok: Bool, reason: String? = nil, config: TrialConfig, applied: AppliedRecord = AppliedRecord(),
                metrics: [MetricValue] = [], stages: [StageRow] = [], windows: [WindowRow] = [], startedAt: Date = Date(), seconds: Double = 0) {
        self.key = key
        self.repetition = repetition
        self.ok = ok
        self.reason = reason
        self.config = config
        self.applied = applied
        self.metrics = metrics
        self.stages = stages
        self.windows = windows
        self.startedAt = startedAt
        self.seconds = seconds
    }

    /// The value the trial measured for `metric`, if it did.
    public func metric(_ metric: Metric) -> Double? { metrics.value(metric) }

    /// Every setting the placement uses, and how it was applied, as text: what tables and exports show.
    public var parameters: [String: String] { config.parameters.merging(applied.parameters) { $1 } }
}

/// A run as listed.
public struct RunSummary: Sendable, Codable, Equatable {
    public var id: Int64
    public var name: String
    public var experiment: String
    public var startedAt: Date
    public var trials: Int
    public var failed: Int
    public var environment: [String: String]
}

/// The results of runs: SQLite (WAL) through GRDB, one file per output folder. Each trial is written
/// in one transaction as soon as it ends, so a killed runner loses at most the trial in progress.
public final class ResultsDatabase: Sendable {
    public let path: String
    private let pool: DatabasePool

    public init(path: String) throws(ResultsError) {
        self.path = path
        do {
            let parent = (path as NSString).deletingLastPathComponent
            let folder = parent.isEmpty ? "." : parent
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // Other processes open the same file while a run writes it (`results show`, a second
            // runner, a test polling). Opening switches the file to WAL and migrates it, which SQLite
            // does not arbitrate (seen: "database is locked" on the WAL pragma, and two openers both
            // creating the tables), so openers take turns on a lock of the folder; later statements
            // wait for each other's locks instead of failing at once.
            let folderLock = open(folder, O_RDONLY | O_DIRECTORY)
            if folderLock >= 0 { flock(folderLock, LOCK_EX) }
            defer { if folderLock >= 0 { close(folderLock) } }   // closing releases the lock
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            pool = try DatabasePool(path: path, configuration: configuration)   // a pool is WAL mode
            try Self.migrator.migrate(pool)
        } catch {
            throw .cannotOpen(path, "\(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull().unique()
                t.column("experiment", .text).notNull()
                t.column("startedAt", .datetime).notNull()
            }
            try db.create(table: "environment") { t in
                t.column("runId", .integer).notNull().references("run", onDelete: .cascade)
                t.column("key", .text).notNull()
                t.column("value", .text).notNull()
                t.primaryKey(["runId", "key"])
            }
            try db.create(table: "trial") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("runId", .integer).notNull().references("run", onDelete: .cascade)
                t.column("key", .text).notNull()
                t.column("repetition", .integer).notNull()
                t.column("ok", .boolean).notNull()
                t.column("reason", .text)
                t.column("parameters", .text).notNull()   // JSON
                t.column("model", .text).indexed()
                t.column("placement", .text).indexed()
                t.column("link", .text).indexed()
                t.column("startedAt", .datetime).notNull()
                t.column("seconds", .double).notNull()
                t.uniqueKey(["runId", "key"])
            }
            try db.create(table: "metric") { t in
                t.column("trialId", .integer).notNull().references("trial", onDelete: .cascade)
                t.column("name", .text).notNull()
                t.column("value", .double).notNull()
                t.column("unit", .text).notNull()
                t.primaryKey(["trialId", "name"])
            }
            try db.create(table: "stage") { t in
                t.column("trialId", .integer).notNull().references("trial", onDelete: .cascade)
                t.column("stage", .text).notNull()
                t.column("count", .integer).notNull()
                t.column("meanMs", .double).notNull()
                t.column("p50Ms", .double).notNull()
                t.column("p99Ms", .double).notNull()
            }
            try db.create(table: "window") { t in
                t.column("trialId", .integer).notNull().references("trial", onDelete: .cascade)
                t.column("idx", .integer).notNull()
                t.column("startSeconds", .double).notNull()
                t.column("throughput", .double).notNull()
                t.column("p50Ms", .double).notNull()
                t.column("p99Ms", .double).notNull()
                t.column("dropped", .integer).notNull()
            }
        }
        migrator.registerMigration("v2: trial configuration, stage distributions") { db in
            try db.alter(table: "trial") { t in t.add(column: "config", .text) }   // JSON of TrialConfig
            try db.alter(table: "stage") { t in t.add(column: "quantiles", .text) }   // JSON: ms at percentiles 1…99, 99.9
        }
        migrator.registerMigration("v3: how each trial was applied") { db in
            try db.alter(table: "trial") { t in t.add(column: "applied", .text) }   // JSON of AppliedRecord
        }
        return migrator
    }

    /// The run called `name`, created if new; `fresh` deletes an existing one and its trials first.
    public func openRun(name: String, experiment: String, environment: [String: String], fresh: Bool) throws(ResultsError) -> Int64 {
        do {
            return try pool.write { db in
                if fresh { try db.execute(sql: "DELETE FROM run WHERE name = ?", arguments: [name]) }
                if let id = try Int64.fetchOne(db, sql: "SELECT id FROM run WHERE name = ?", arguments: [name]) { return id }
                try db.execute(sql: "INSERT INTO run (name, experiment, startedAt) VALUES (?, ?, ?)", arguments: [name, experiment, Date()])
                let id = db.lastInsertedRowID
                for (key, value) in environment {
                    try db.execute(sql: "INSERT INTO environment (runId, key, value) VALUES (?, ?, ?)", arguments: [id, key, value])
                }
                return id
            }
        } catch {
            throw .storage("\(error)")
        }
    }

    /// Adds (or replaces) facts of a run's environment found while it ran: a link between hosts
    /// measured again at its end, a host's clock.
    public func addEnvironment(_ environment: [String: String], run: Int64) throws(ResultsError) {
        do {
            try pool.write { db in
                for (key, value) in environment {
                    try db.execute(sql: "DELETE FROM environment WHERE runId = ? AND key = ?", arguments: [run, key])
                    try db.execute(sql: "INSERT INTO environment (runId, key, value) VALUES (?, ?, ?)", arguments: [run, key, value])
                }
            }
        } catch {
            throw .storage("\(error)")
        }
    }

    /// Keys of the trials a run has finished (ok or failed): what a resumed run skips.
    public func finishedKeys(run: Int64) throws(ResultsError) -> Set<String> {
        do { return Set(try pool.read { try String.fetchAll($0, sql: "SELECT key FROM trial WHERE runId = ?", arguments: [run]) }) } catch {
            throw .storage("\(error)")
        }
    }

    /// Stores a finished trial with everything it measured, in one transaction.
    public func record(_ trial: TrialRecord, run: Int64) throws(ResultsError) {
        do {
            let parameters = String(decoding: try Self.encoder.encode(trial.parameters), as: UTF8.self)
            let config = String(decoding: try Self.encoder.encode(trial.config), as: UTF8.self)
            let applied = String(decoding: try Self.encoder.encode(trial.applied), as: UTF8.self)
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO trial (runId, key, repetition, ok, reason, parameters, config, applied, model, placement, link, startedAt, seconds)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [run, trial.key, trial.repetition, trial.ok, trial.reason, parameters, config, applied, trial.config.model,
                                     trial.config.placement.rawValue, trial.config.placement.usesCloud ? trial.config.link.profile : nil,
                                     trial.startedAt, trial.seconds])
                let id = db.lastInsertedRowID
                for metric in trial.metrics where metric.value.isFinite {
                    try db.execute(sql: "INSERT INTO metric (trialId, name, value, unit) VALUES (?, ?, ?, ?)",
                                   arguments: [id, metric.metric.key, metric.value, metric.metric.unit])
                }
                for stage in trial.stages {
                    let quantiles = try stage.quantilesMs.map { String(decoding: try Self.encoder.encode($0), as: UTF8.self) }
                    try db.execute(sql: "INSERT INTO stage (trialId, stage, count, meanMs, p50Ms, p99Ms, quantiles) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   arguments: [id, stage.stage.rawValue, stage.count, stage.meanMs, stage.p50Ms, stage.p99Ms, quantiles])
                }
                for window in trial.windows {
                    try db.execute(sql: "INSERT INTO window (trialId, idx, startSeconds, throughput, p50Ms, p99Ms, dropped) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   arguments: [id, window.index, window.startSeconds, window.throughput, window.p50Ms, window.p99Ms, window.dropped])
                }
            }
        } catch {
            throw .storage("\(error)")
        }
    }

    /// Every run, newest first.
    public func runs() throws(ResultsError) -> [RunSummary] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT r.id, r.name, r.experiment, r.startedAt,
                           (SELECT COUNT(*) FROM trial t WHERE t.runId = r.id) AS trials,
                           (SELECT COUNT(*) FROM trial t WHERE t.runId = r.id AND NOT t.ok) AS failed
                    FROM run r ORDER BY r.id DESC
                    """).map { row in
                    let id: Int64 = row["id"]
                    let environment = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT key, value FROM environment WHERE runId = ?", arguments: [id])
                        .map { ($0["key"] as String, $0["value"] as String) })
                    return RunSummary(id: id, name: row["name"], experiment: row["experiment"], startedAt: row["startedAt"],
                                      trials: row["trials"], failed: row["failed"], environment: environment)
                }
            }
        } catch {
            throw .storage("\(error)")
        }
    }

    /// The run named (or numbered) `run`.
    public func run(_ run: String) throws(ResultsError) -> RunSummary {
        let all = try runs()
        guard let found = all.first(where: { $0.name == run || String($0.id) == run }) else { throw .unknownRun(run, known: all.map(\.name)) }
        return found
    }

    /// A run's trials, in the order they finished.
    public func trials(run: Int64) throws(ResultsError) -> [TrialRecord] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM trial WHERE runId = ? ORDER BY id", arguments: [run]).map { row in
                    let id: Int64 = row["id"]
                    let parameters = try Self.decoder.decode([String: String].self, from: Data((row["parameters"] as String).utf8))
                    // Before v2 only the parameters were stored; before v3 how the trial was applied lived among them.
                    let config = try (row["config"] as String?).map { try Self.decoder.decode(TrialConfig.self, from: Data($0.utf8)) }
                        ?? TrialConfig(parameters: parameters.filter { TrialConfig.keys.contains($0.key) })
                    let applied = try (row["applied"] as String?).map { try Self.decoder.decode(AppliedRecord.self, from: Data($0.utf8)) }
                        ?? AppliedRecord(parameters: parameters)
                    let metrics = try Row.fetchAll(db, sql: "SELECT name, value, unit FROM metric WHERE trialId = ? ORDER BY rowid", arguments: [id])
                        .map { row in
                            let key: String = row["name"]
                            guard let metric = Metric(key: key) else { throw ResultsError.unknownMeasurement("metric", key) }
                            return MetricValue(metric, row["value"])
                        }
                    let stages = try Row.fetchAll(db, sql: "SELECT * FROM stage WHERE trialId = ? ORDER BY rowid", arguments: [id]).map { row in
                        let name: String = row["stage"]
                        guard let stage = Stage(rawValue: name) else { throw ResultsError.unknownMeasurement("stage", name) }
                        return StageRow(stage: stage, count: row["count"], meanMs: row["meanMs"], p50Ms: row["p50Ms"], p99Ms: row["p99Ms"],
                                        quantilesMs: try (row["quantiles"] as String?).map { try Self.decoder.decode([Double].self, from: Data($0.utf8)) })
                    }
                    let windows = try Row.fetchAll(db, sql: "SELECT * FROM window WHERE trialId = ? ORDER BY idx", arguments: [id]).map {
                        WindowRow(index: $0["idx"], startSeconds: $0["startSeconds"], throughput: $0["throughput"], p50Ms: $0["p50Ms"], p99Ms: $0["p99Ms"], dropped: $0["dropped"])
                    }
                    return TrialRecord(key: row["key"], repetition: row["repetition"], ok: row["ok"], reason: row["reason"], config: config,
                                       applied: applied, metrics: metrics, stages: stages, windows: windows, startedAt: row["startedAt"], seconds: row["seconds"])
                }
            }
        } catch let error as ResultsError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
    static let decoder = JSONDecoder()
}
