import EdgeInsightCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a node is confined: like a device (a CPU quota, a set of cores, a memory limit).
public struct Confinement: Sendable, Equatable {
    /// CPU time per wall-clock second, in cores (0.5 = half a core).
    public var cpu: Double?
    /// Cores the node may run on, e.g. "0" or "0-1".
    public var cpuset: String?
    public var memory: Bytes?

    public init(cpu: Double? = nil, cpuset: String? = nil, memory: Bytes? = nil) {
        self.cpu = cpu
        self.cpuset = cpuset
        self.memory = memory
    }
}

/// A control group holding one node's processes (cgroup v2, or v1's cpu, cpuset and memory
/// hierarchies). Processes are placed in it before the program starts (a shell writes its own pid,
/// then execs), so the program never runs unconfined.
public struct ControlGroup: Sendable {
    /// The group folders the node's pid is written to.
    public let folders: [String]
    /// What confinement ran, for the trial's record.
    public let mode: String

    static let root = "/sys/fs/cgroup"
    /// The CPU quota's period, in µs: 4 ms (one scheduler tick at HZ=250), not the kernel's 100 ms,
    /// so an inference on half a core runs in 2 ms slices, like on a slower device, instead of at full
    /// speed until the period's budget is gone. Measured here, resnet50 at 10 fps on 1 thread (18.2 ms
    /// unconfined) with cpu 0.5: period 50 ms → 21.5 ms, 20 ms → 27.9, 10 ms → 27.5, 4 ms → 34–35
    /// (≈ the 2× a half-speed device gives), 2 ms → 49.6 (throttling overhead). The kernel's smallest
    /// quota is 1 ms, so small shares get a longer period.
    static func period(for cpu: Double) -> Int { max(4_000, Int((1_000 / cpu).rounded(.up))) }
    static let parent = "edgeinsight"

    /// Why cgroups cannot be used here, or nil.
    public static func unavailableReason() -> String? {
        guard geteuid() == 0 else { return "cgroups need root" }
        if FileManager.default.fileExists(atPath: root + "/cgroup.controllers") { return nil }   // v2
        for controller in ["cpu", "cpuset", "memory"] where !FileManager.default.fileExists(atPath: "\(root)/\(controller)/cgroup.procs") {
            return "no cgroup v1 '\(controller)' hierarchy at \(root)/\(controller)"
        }
        return nil
    }

    /// Creates (or resets) group `name` with the confinement's limits.
    public static func create(_ name: String, _ confinement: Confinement) throws(TestbedError) -> ControlGroup {
        if let reason = unavailableReason() { throw .nodeFailed(reason) }
        let isV2 = FileManager.default.fileExists(atPath: root + "/cgroup.controllers")
        var folders: [String] = []
        var parts: [String] = []
        do {
            if isV2 {
                let parentFolder = "\(root)/\(parent)"
                try make(parentFolder)
                try? write("+cpu +cpuset +memory", to: parentFolder + "/cgroup.subtree_control")
                let folder = "\(parentFolder)/\(name)"
                try make(folder)
                if let cpu = confinement.cpu {
                    let period = period(for: cpu)
                    try write("\(Int(cpu * Double(period))) \(period)", to: folder + "/cpu.max")
                    parts.append(quotaText(cpu, period))
                }
                if let cpuset = confinement.cpuset { try write(cpuset, to: folder + "/cpuset.cpus"); parts.append("cpuset \(cpuset)") }
                if let memory = confinement.memory { try write(String(memory.count), to: folder + "/memory.max"); parts.append("memory \(memory)") }
                folders = [folder]
            } else {
                for controller in ["cpu", "cpuset", "memory"] {
                    let parentFolder = "\(root)/\(controller)/\(parent)"
                    try make(parentFolder)
                    let folder = "\(parentFolder)/\(name)"
                    try make(folder)
                    if controller == "cpuset" {
                        // v1 cpuset groups start empty and refuse tasks until cpus and mems are set.
                        for file in ["cpuset.cpus", "cpuset.mems"] {
                            let inherited = try String(contentsOfFile: "\(root)/cpuset/\(file)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                            try write(inherited, to: parentFolder + "/" + file)
                            try write(file == "cpuset.cpus" ? (confinement.cpuset ?? inherited) : inherited, to: folder + "/" + file)
                        }
                    }
                    folders.append(folder)
                }
                let cpuFolder = "\(root)/cpu/\(parent)/\(name)"
                let period = period(for: confinement.cpu ?? 1)
                // Unlimited first, so no intermediate quota/period pair is refused.
                try write("-1", to: cpuFolder + "/cpu.cfs_quota_us")
                try write(String(period), to: cpuFolder + "/cpu.cfs_period_us")
                try write(confinement.cpu.map { String(Int($0 * Double(period))) } ?? "-1", to: cpuFolder + "/cpu.cfs_quota_us")
                if let cpu = confinement.cpu { parts.append(quotaText(cpu, period)) }
                if let cpuset = confinement.cpuset { parts.append("cpuset \(cpuset)") }
                let memoryFolder = "\(root)/memory/\(parent)/\(name)"
                try write(confinement.memory.map { String($0.count) } ?? "-1", to: memoryFolder + "/memory.limit_in_bytes")
                if let memory = confinement.memory { parts.append("memory \(memory)") }
            }
        } catch let error as TestbedError {
            throw error
        } catch {
            throw .nodeFailed("cannot set up cgroup '\(name)': \(error)")
        }
        return ControlGroup(folders: folders, mode: (isV2 ? "cgroup v2" : "cgroup v1") + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", ")))
    }

    /// The quota as applied: the share, and the CPU time per period it is (what a model of the
    /// quota needs).
    static func quotaText(_ cpu: Double, _ period: Int) -> String { "cpu \(cpu) (\(Int(cpu * Double(period))) us per \(period) us)" }

    /// The argv that starts `argv` inside this group.
    public func wrap(_ argv: [String]) -> [String] {
        let joins = folders.map { "echo $$ > '\($0)/cgroup.procs'" }.joined(separator: " && ")
        return ["/bin/sh", "-c", "\(joins) && exec \"$@\"", "edgeinsight-node"] + argv
    }

    /// Pids still in the group.
    public var pids: [Int32] {
        folders.flatMap { folder in
            ((try? String(contentsOfFile: folder + "/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
        }
    }

    /// Kills whatever is left in the group and removes it.
    public func remove() {
        for pid in Set(pids) { kill(pid, SIGKILL) }
        for folder in folders {
            for _ in 0..<50 {
                if rmdir(folder) == 0 || errno == ENOENT { break }
                usleep(20_000)
            }
        }
    }

    /// Removes groups a killed runner left behind (and their processes). Group names carry the
    /// runner's pid (`edge-<pid>-<trial>`); groups of a runner still alive are left alone.
    public static func removeLeftovers() {
        let manager = FileManager.default
        let parents = [root + "/" + parent] + ["cpu", "cpuset", "memory"].map { "\(root)/\($0)/\(parent)" }
        for parentFolder in parents {
            for name in (try? manager.contentsOfDirectory(atPath: parentFolder)) ?? [] {
                let folder = parentFolder + "/" + name
                var isDirectory: ObjCBool = false
                guard manager.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                let parts = name.split(separator: "-")
                if parts.count >= 2, let owner = Int32(parts[1]), owner != getpid(), kill(owner, 0) == 0 { continue }
                ControlGroup(folders: [folder], mode: "").remove()
            }
        }
    }

    static func make(_ folder: String) throws {
        if !FileManager.default.fileExists(atPath: folder) { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false) }
    }

    static func write(_ text: String, to file: String) throws {
        guard let handle = FileHandle(forWritingAtPath: file) else { throw TestbedError.nodeFailed("cannot open \(file)") }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(text.utf8))
    }
}

/// A node's process (docs/nodes.md): started with its node document on stdin (confined when asked),
/// here or on a host over ssh, its stdout read as the contract's lines (one ready line, one final
/// line), its stderr kept for the log and for errors, sampled from /proc, and stopped.
///
/// Every node runs as a session: its standard input stays open after the document, and its end
/// stops the node. Stopping closes it (the node drains and prints its final line, here or across
/// ssh), then SIGTERM and SIGKILL after grace periods; a runner that dies, even by SIGKILL,
/// closes it too, so no node outlives the runner on any host.
public final class NodeProcess: @unchecked Sendable {  // `lines` and `errors` are guarded by `lock`
    public let name: String
    /// The node's process here (for a remote node, its ssh).
    let process: ChildProcess
    public let group: ControlGroup?
    /// The host the node runs on; nil: this machine (`process` is then the node itself, else its ssh).
    let remote: SSHHost?
    /// The document the node was given, as sent.
    public let document: Data
    private let lock = NSLock()
    private var lines: [String] = []
    private var errors = ""
    private var readers: [Thread] = []
    private var inputOpen = true

    /// Starts `argv` (the edgeinsight binary and its arguments, or its ssh command), inside `group`
    /// if given, and hands it `spec` as a session document on stdin.
    public convenience init<Body>(name: String, argv: [String], group: ControlGroup?, logFile: String?, spec: NodeSpec<Body>) throws(TestbedError) {
        try self.init(name: name, argv: argv, group: group, logFile: logFile, spec: spec, remote: nil)
    }

    init<Body>(name: String, argv: [String], group: ControlGroup?, logFile: String?, spec: NodeSpec<Body>, remote: SSHHost?) throws(TestbedError) {
        self.name = name
        self.group = group
        self.remote = remote
        var session = spec
        session.session = true
        do { document = try session.encoded() } catch { throw .nodeFailed("cannot encode the document of \(name): \(error)") }
        let full = group?.wrap(argv) ?? argv
        // The runner's pid in the node's environment marks whose node it is (tests find leftovers by it).
        process = try ChildProcess(full, environment: ["EDGEINSIGHT_PARENT_PID": String(getpid())])
        try? process.input!.write(contentsOf: document + Data("\n".utf8))
        let log = logFile.flatMap { path -> FileHandle? in
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }
        let out = process.output!, err = process.errors!
        readers = [Thread { [self] in
            var pending = Data()
            while true {
                let chunk = out.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    lock.withLock { lines.append(line) }
                }
            }
        }, Thread { [self] in
            while true {
                let chunk = err.availableData
                if chunk.isEmpty { break }
                try? log?.write(contentsOf: chunk)
                // Only the tail is kept: it is where a node says why it failed.
                lock.withLock { errors = String((errors + String(decoding: chunk, as: UTF8.self)).suffix(8_192)) }
            }
            try? log?.close()
        }]
        readers.forEach { $0.start() }
    }

    public var pid: Int32 { process.pid }

    /// Whether the node's process (here, or its ssh) still runs.
    public var isRunning: Bool { process.isRunning }

    /// How it ended, as a trial's failure names it.
    var endingText: String { ChildProcess.describe(process.ending) }

    /// Whether it ended with exit status 0.
    var succeeded: Bool { process.ending == .exited(0) }

    /// The contract's lines the node has printed on stdout so far.
    public var printedLines: [String] { lock.withLock { lines } }

    /// The line that best says why the process failed: its final `error` line, else its last
    /// `error: …` line on stderr (our commands' one-line errors), else its last stderr line
    /// mentioning an error (other programs'), else its last stderr line.
    public var lastErrorLine: String {
        if let line = printedLines.last, let error = try? JSONDecoder().decode(NodeErrorLine.self, from: Data(line.utf8)) { return error.error }
        let lines = lock.withLock { errors }.split(separator: "\n")
        return String(lines.last { $0.hasPrefix("error:") } ?? lines.last { $0.localizedCaseInsensitiveContains("error") } ?? lines.last ?? "no output")
    }

    /// Waits for the node's ready line (never for prose); a node that exits or says nothing in time
    /// is an error carrying what it said last.
    public func waitForReady(timeout: Duration) throws(TestbedError) -> NodeReady {
        let deadline = MonotonicClock.now() + UInt64(timeout.nanoseconds)
        while MonotonicClock.now() < deadline {
            if let first = printedLines.first {
                guard let ready = try? JSONDecoder().decode(NodeReadyLine.self, from: Data(first.utf8)) else {
                    throw .nodeFailed("\(name) broke the node contract: its first line was not a ready line: \(first.prefix(200))")
                }
                return ready.ready
            }
            if !process.isRunning {
                usleep(20_000)   // the reader may still be handing over the last line
                if printedLines.isEmpty { break }
            } else {
                usleep(5_000)
            }
        }
        let why = process.isRunning ? "no ready line within \(DurationText.format(timeout))" : "exited"
        throw .nodeFailed("\(name) did not become ready (\(why)): \(lastErrorLine)")
    }

    /// The node's final line once it has exited: its report, or its error as a thrown one-liner.
    public func finalReport<Report: Codable & Sendable>(_ type: Report.Type) throws(TestbedError) -> Report {
        // The pipe closes when the node exits; a grandchild still holding it must not hang the runner.
        let deadline = MonotonicClock.now() + 5_000_000_000
        while readers.contains(where: { !$0.isFinished }), MonotonicClock.now() < deadline { usleep(1_000) }
        guard let last = printedLines.last, printedLines.count >= 2 else { throw .nodeFailed("\(name) ended without a final line: \(lastErrorLine)") }
        let line: NodeLine<Report>
        do { line = try JSONDecoder().decode(NodeLine<Report>.self, from: Data(last.utf8)) } catch {
            throw .nodeFailed("\(name)'s final line is not a report: \(NodeSpecError.reason(error))")
        }
        switch line {
        case .report(let report): return report
        case .error(let message): throw .nodeFailed("\(name): \(message)")
        case .ready: throw .nodeFailed("\(name) ended without a final line: \(lastErrorLine)")
        }
    }

    /// Waits for the process to end by itself; false on timeout.
    public func waitForExit(timeout: Duration) -> Bool {
        let deadline = MonotonicClock.now() + UInt64(timeout.nanoseconds)
        while process.isRunning, MonotonicClock.now() < deadline { usleep(10_000) }
        return !process.isRunning
    }

    /// The node's pid on its host: its ready line's for a remote node (ours is its ssh's).
    var nodePid: Int32? {
        guard remote != nil else { return pid }
        return printedLines.first.flatMap { try? JSONDecoder().decode(NodeReadyLine.self, from: Data($0.utf8)) }?.ready.pid
    }

    /// A file of the node's /proc folder, read on its host.
    private func procFile(_ file: String) -> String? {
        guard let nodePid else { return nil }
        guard let remote else { return try? String(contentsOfFile: "/proc/\(nodePid)/\(file)", encoding: .utf8) }
        guard let output = try? remote.run(remote.argv(["cat", "/proc/\(nodePid)/\(file)"]), timeout: .seconds(10)), output.status == 0 else { return nil }
        return output.stdout
    }

    /// CPU seconds (user + system) the process has used, from /proc (on its host).
    public var cpuSeconds: Double? {
        guard let stat = procFile("stat"),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident memory now and at its peak, in bytes, from /proc (on its host).
    public var residentBytes: (now: Int64, peak: Int64)? {
        guard let status = procFile("status") else { return nil }
        func value(_ key: String) -> Int64? {
            status.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Int64($0.split(separator: " ").dropFirst().first ?? "") }.map { $0 * 1024 }
        }
        guard let now = value("VmRSS:"), let peak = value("VmHWM:") else { return nil }
        return (now, peak)
    }

    /// Ends the session (the node stops as on SIGTERM, wherever it runs), then after a grace
    /// period SIGTERM and SIGKILL here; then the control group is emptied and removed.
    public func stop(grace: Duration = .seconds(5)) {
        lock.withLock {
            if inputOpen { try? process.input!.close() }
            inputOpen = false
        }
        if process.isRunning, !waitForExit(timeout: grace) {
            kill(pid, SIGTERM)
            if !waitForExit(timeout: .seconds(2)) { kill(pid, SIGKILL) }
            _ = waitForExit(timeout: .seconds(5))
        }
        group?.remove()
    }
}

/// The two contract lines read without knowing the node's report type.
private struct NodeReadyLine: Decodable { var ready: NodeReady }
private struct NodeErrorLine: Decodable { var error: String }

/// Where a node's confinement landed: its own control group, or — where cgroups cannot be used —
/// pinning to its cores, said in `mode` for the trial's record.
struct AppliedConfinement {
    let group: ControlGroup?
    let mode: String
    let cpuset: String?

    /// Creates the group (`cgroupProblem` nil) or describes the fallback.
    static func apply(name: String, _ confinement: Confinement, threads: Int, cgroupProblem: String?) throws(TestbedError) -> AppliedConfinement {
        guard let cgroupProblem else {
            let group = try ControlGroup.create(name, confinement)
            return AppliedConfinement(group: group, mode: group.mode, cpuset: confinement.cpuset)
        }
        return AppliedConfinement(group: nil, mode: Affinity.describe(cpuset: confinement.cpuset, threads: threads, reason: cgroupProblem),
                                  cpuset: confinement.cpuset)
    }

    /// The node's argv: pinned when there is no group (a group is joined at start, by `NodeProcess`).
    func wrap(_ argv: [String]) -> [String] { group == nil ? Affinity.wrap(argv, cpuset: cpuset) : argv }
}

/// The fallback where cgroups cannot be used: pin the node to its cores with `taskset` and rely on
/// its thread count; no CPU quota or memory limit.
enum Affinity {
    static let taskset = ["/usr/bin/taskset", "/bin/taskset"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func wrap(_ argv: [String], cpuset: String?) -> [String] {
        guard let cpuset, let taskset else { return argv }
        return [taskset, "-c", cpuset] + argv
    }

    static func describe(cpuset: String?, threads: Int, reason: String) -> String {
        let pinned = cpuset.flatMap { cores in taskset.map { _ in "affinity \(cores), " } } ?? ""
        return "no cgroups (\(reason)): \(pinned)\(threads) threads, no CPU quota or memory limit"
    }
}
