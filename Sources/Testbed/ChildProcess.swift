import EdgeInsightCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped with waitpid: what the runner uses for
/// nodes, ssh and probes instead of Foundation's `Process`. Foundation watches for a child's exit
/// through a socket the child inherits; `ssh` closes every inherited descriptor as it starts, so
/// Foundation took it for dead, blocked its one watcher thread in waitpid until that ssh really
/// ended — a node session lasting the whole run — and no other child's exit was seen meanwhile
/// (a probe's "still running" forever). Here each child is asked about itself only, without blocking.
final class ChildProcess: @unchecked Sendable {  // `ended` is guarded by `lock`
    enum Stream { case pipe, null }

    /// How the child ended.
    enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    let pid: pid_t
    /// Our ends of the child's pipes (nil where it got /dev/null): its stdin to write, its stdout
    /// and stderr to read. Close-on-exec, so no later child inherits them.
    let input: FileHandle?
    let output: FileHandle?
    let errors: FileHandle?
    private let lock = NSLock()
    private var ended: Ending?
    private static let spawning = NSLock()

    /// Starts `argv` (an absolute path first) with this process's environment plus `environment`.
    init(_ argv: [String], environment extra: [String: String] = [:], stdin: Stream = .pipe, stdout: Stream = .pipe, stderr: Stream = .pipe) throws(TestbedError) {
        // One spawn at a time: a pipe is made, then marked close-on-exec; a child spawned by another
        // thread between the two would inherit it and hold it open.
        Self.spawning.lock()
        defer { Self.spawning.unlock() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var ours: [FileHandle?] = []
        var theirs: [Int32] = []
        for (target, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
                ours.append(nil)
            case .pipe:
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { throw .nodeFailed("cannot make a pipe: \(String(cString: strerror(errno)))") }
                fds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
                let (child, parent) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                posix_spawn_file_actions_adddup2(&actions, child, target)   // dup2 clears close-on-exec on the child's copy
                theirs.append(child)
                ours.append(FileHandle(fileDescriptor: parent, closeOnDealloc: true))
            }
        }
        var environment = ProcessInfo.processInfo.environment
        environment.merge(extra) { $1 }
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgv + cEnv).forEach { free($0) } }
        // Signals start at their defaults with none blocked: a runner ignores SIGINT and SIGTERM to
        // handle them itself, and a node must not inherit that (it would shrug off being stopped).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, &attributes, cArgv, cEnv)
        theirs.forEach { close($0) }
        guard result == 0 else { throw .nodeFailed("cannot start \(argv[0]): \(String(cString: strerror(result)))") }
        self.pid = pid
        (input, output, errors) = (ours[0], ours[1], ours[2])
    }

    /// How it ended, or nil while it runs (reaped here the first time it is seen to have ended).
    var ending: Ending? {
        lock.withLock {
            if ended == nil {
                var status: Int32 = 0
                let reaped = waitpid(pid, &status, WNOHANG)
                if reaped == pid {
                    // WIFEXITED/WTERMSIG are C macros: the low 7 bits are the signal, 0 for a normal exit.
                    let signal = status & 0x7f
                    ended = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
                } else if reaped < 0, errno == ECHILD {
                    ended = .exited(-1)   // reaped by someone else: gone, status unknown
                }
            }
            return ended
        }
    }

    var isRunning: Bool { ending == nil }

    /// Waits for the end, polling (a blocking waitpid would hold this thread past a timeout).
    @discardableResult
    func wait(timeout: Duration? = nil) -> Ending? {
        let deadline = timeout.map { MonotonicClock.now() + UInt64($0.nanoseconds) }
        while isRunning {
            if let deadline, MonotonicClock.now() >= deadline { return nil }
            usleep(2_000)
        }
        return ending
    }

    func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// `exit status 3` or `killed by signal 9`.
    static func describe(_ ending: Ending?) -> String {
        switch ending {
        case .exited(let code): "exit status \(code)"
        case .signalled(let signal): "killed by signal \(signal)"
        case nil: "still running"
        }
    }
}
