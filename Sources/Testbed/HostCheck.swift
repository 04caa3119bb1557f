import EdgeInsightCore
import Foundation
import Profiles

/// Whether a host of the inventory can run nodes, and what it is: `edgeinsight hosts check`'s
/// line, and the first thing a run with hosts does.
public struct HostCheck: Sendable {
    public var host: InventoryHost
    public var facts: HostFacts?
    public var clock: ClockOffset?
    /// Why the host cannot be used; nil when it can.
    public var problem: String?
    /// ssh reached it (whatever else is wrong): a host `--install` can put this build on.
    public var reached = false

    public var usable: Bool { problem == nil }

    /// One line: the host, usable or why not, then what it is.
    public var line: String {
        guard let facts else { return "\(host.name): unusable: \(problem ?? "no facts")" }
        let may = "cgroups " + (facts.cgroupProblem.map { "no (\($0))" } ?? "yes") + ", tc " + (facts.tcProblem.map { "no (\($0))" } ?? "yes")
        let timing = clock.map { "rtt \(String(format: "%.2f", $0.roundTripNs / 1e6)) ms, clock \($0.description)" } ?? "clock not measured"
        return "\(host.name): \(problem.map { "unusable: \($0)" } ?? "usable"); edgeinsight \(facts.version); \(facts.summary); \(may); \(timing)"
    }

    /// Checks every host at once (each over its own master connection).
    public static func checkAll(_ hosts: [InventoryHost], local: HostFacts = .gather()) -> [HostCheck] {
        let results = ResultSlots<HostCheck>(count: hosts.count)
        Threads.each(Array(hosts.enumerated())) { index, host in results.set(index, check(host, local: local)) }
        return results.values
    }

    /// Reaches the host, reads its facts, compares its build with ours and measures its clock.
    public static func check(_ host: InventoryHost, local: HostFacts) -> HostCheck {
        let ssh = SSHHost(host)
        var check = HostCheck(host: host)
        let output: SSHHost.Output
        do { output = try ssh.run(ssh.edgeinsight(["hosts", "facts"]), timeout: .seconds(30)) } catch {
            check.problem = "\(error)"
            return check
        }
        if output.sshFailed {
            check.problem = "ssh: \(output.reason)"
            return check
        }
        check.reached = true
        guard output.status == 0 else {
            check.problem = output.status == 127
                ? "no edgeinsight at '\(host.edgeinsight)' there (set 'edgeinsight:' in the inventory to its path)"
                : "edgeinsight hosts facts failed there: \(output.reason)"
            return check
        }
        guard let line = output.stdout.split(separator: "\n").last, let facts = try? JSONDecoder().decode(HostFacts.self, from: Data(line.utf8)) else {
            check.problem = "its edgeinsight printed no facts this build reads (\(output.stdout.prefix(120))) — a different version?"
            return check
        }
        check.facts = facts
        check.problem = facts.mismatch(with: local)
        do { check.clock = try measureClock(ssh) } catch { check.problem = check.problem ?? "clock: \(error)" }
        return check
    }

    /// Best of `exchanges` timestamped exchanges with `edgeinsight hosts clock` on the host.
    public static func measureClock(_ ssh: SSHHost, exchanges: Int = 9) throws(TestbedError) -> ClockOffset {
        let session = try NodeSession(argv: ssh.edgeinsight(["hosts", "clock"]))
        defer { session.close() }
        var samples: [(sent: Int64, remote: Int64, received: Int64)] = []
        for _ in 0..<exchanges {
            let sent = ClockOffset.wallNow()
            guard let answer = session.ask("t") else { throw .nodeFailed("the host's clock did not answer: \(session.errorText)") }
            let received = ClockOffset.wallNow()
            guard let remote = Int64(answer) else { throw .nodeFailed("the host's clock answered '\(answer.prefix(80))'") }
            samples.append((sent, remote, received))
        }
        return ClockOffset.estimate(samples)!
    }
}

/// A line-by-line conversation with a process (a question on stdin, its answer on stdout).
final class NodeSession {
    private let process: ChildProcess
    private var buffer = Data()

    init(argv: [String]) throws(TestbedError) {
        process = try ChildProcess(argv)
    }

    /// Writes `line` and reads one line back; nil when the process ended first.
    func ask(_ line: String) -> String? {
        do { try process.input!.write(contentsOf: Data((line + "\n").utf8)) } catch { return nil }
        return readLine()
    }

    /// The next line the process prints; nil when it ended first.
    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let answer = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return answer
            }
            let chunk = process.output!.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    /// Its last line on stderr, once it has been closed.
    var errorText: String {
        close()
        return String(decoding: process.errors!.availableData, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "no output"
    }

    /// Ends its input (a session's end), and stops it if it does not end by itself.
    func close() {
        try? process.input!.close()
        if process.wait(timeout: .seconds(3)) == nil {
            process.signal(SIGTERM)
            process.wait(timeout: .seconds(2))
        }
    }
}

/// Results filled in by several threads, one slot each.
final class ResultSlots<Value: Sendable>: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var slots: [Value?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Value) { lock.withLock { slots[index] = value } }
    var values: [Value] { lock.withLock { slots.compactMap { $0 } } }
}
