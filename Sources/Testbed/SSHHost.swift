import EdgeInsightCore
import Foundation
import Profiles
#if canImport(Glibc)
import Glibc
#endif

/// A host of the inventory as the system's `ssh` reaches it: never a password prompt (BatchMode),
/// one master connection per host (ControlMaster) that every node and query of the run shares, and
/// the user's own keys and ~/.ssh/config. A node's session ends with the connection, and the node
/// with its session (its standard input closes, see `StandardInput.stopWhenClosed`).
public final class SSHHost: Sendable {
    public let host: InventoryHost
    /// The master's socket: one folder per runner process, so runs never share a master.
    let controlPath: String

    static let controlFolder: String = {
        let folder = NSTemporaryDirectory() + "edgeinsight-ssh-\(getpid())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return folder
    }()

    public init(_ host: InventoryHost) {
        self.host = host
        controlPath = Self.controlFolder + "/" + String(FNV1a(host.name.utf8).value, radix: 16)
    }

    /// ssh's options for this host. The master lingers 60 s after its last session, so a runner
    /// killed by SIGKILL leaves no ssh behind for long (`close()` ends it at once otherwise).
    var options: [String] {
        var options = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
                       "-o", "ControlMaster=auto", "-o", "ControlPath=\(controlPath)", "-o", "ControlPersist=60", "-T"]
        if let port = host.port { options += ["-p", String(port)] }
        if let identity = host.identity { options += ["-i", identity, "-o", "IdentitiesOnly=yes"] }
        for option in host.options { options += ["-o", option] }
        return options
    }

    static let ssh = ["/usr/bin/ssh", "/bin/ssh", "/usr/local/bin/ssh"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "ssh"

    /// The argv that runs `command` (a program and its arguments) on the host; the remote shell
    /// sees each argument single-quoted, so nothing in it is interpreted there.
    public func argv(_ command: [String]) -> [String] {
        [Self.ssh] + options + [host.destination, "--", "exec " + command.map(Self.quote).joined(separator: " ")]
    }

    /// The argv that runs a shell script on the host (for steps that need a shell: a cgroup joined
    /// before the node starts).
    func argv(script: String) -> [String] { [Self.ssh] + options + [host.destination, "--", script] }

    /// `edgeinsight` on the host, with these arguments.
    public func edgeinsight(_ arguments: [String]) -> [String] { argv([host.edgeinsight] + arguments) }

    static func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// What a finished command said.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// ssh's own failure (it exits 255): the connection, not the command.
        public var sshFailed: Bool { status == 255 }
        /// The last line of stderr that says why (ssh's and our commands'), past ssh's warnings.
        public var reason: String {
            let lines = stderr.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return lines.last { !$0.hasPrefix("Warning:") } ?? lines.last ?? "exit status \(status)"
        }
    }

    /// Runs `argv` (from `argv(_:)`) to its end, with `input` on stdin; killed after `timeout`.
    public func run(_ argv: [String], input: Data? = nil, timeout: Duration = .seconds(30)) throws(TestbedError) -> Output {
        try Self.capture(argv, input: input, timeout: timeout)
    }

    /// Runs a local process to its end and captures what it printed.
    static func capture(_ argv: [String], input: Data? = nil, timeout: Duration) throws(TestbedError) -> Output {
        let process = try ChildProcess(argv, stdin: input == nil ? .null : .pipe)
        if let input {
            try? process.input!.write(contentsOf: input)
            try? process.input!.close()
        }
        // Read both pipes while the process runs, so a full pipe cannot stall it.
        let collected = Collected()
        let readers = [(process.output!, true), (process.errors!, false)].map { handle, isOut in
            Thread { collected.set(handle.readDataToEndOfFile(), stdout: isOut) }
        }
        readers.forEach { $0.start() }
        guard let ending = process.wait(timeout: timeout) else {
            process.signal(SIGTERM)
            if process.wait(timeout: .milliseconds(500)) == nil { process.signal(SIGKILL) }
            process.wait()
            throw .nodeFailed("\(URL(fileURLWithPath: argv[0]).lastPathComponent) did not finish within \(DurationText.format(timeout))")
        }
        let readDeadline = MonotonicClock.now() + 2_000_000_000
        while readers.contains(where: { !$0.isFinished }), MonotonicClock.now() < readDeadline { usleep(1_000) }
        let (stdout, stderr) = collected.value
        let status: Int32 = switch ending { case .exited(let code): code; case .signalled(let signal): 128 + signal }
        return Output(status: status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Ends the master connection (and with it any session still open on it).
    public func close() {
        _ = try? Self.capture([Self.ssh] + options + ["-O", "exit", host.destination], timeout: .seconds(5))
    }
}

/// Two pipes' contents gathered by their reader threads.
private final class Collected: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var out = Data(), err = Data()
    func set(_ data: Data, stdout: Bool) { lock.withLock { if stdout { out = data } else { err = data } } }
    var value: (Data, Data) { lock.withLock { (out, err) } }
}
