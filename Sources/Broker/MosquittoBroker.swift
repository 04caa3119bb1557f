import EdgeInsightCore
import Foundation

/// A Mosquitto broker (Debian's `mosquitto`) run as a child process with a configuration written
/// for it: one listener, anonymous clients, and persistence in its folder — QoS 1 messages and
/// persistent sessions survive a restart (saved on a clean stop and every `autosaveInterval`).
public final class MosquittoBroker: @unchecked Sendable {  // used from one thread: start, stop, restart
    /// Where the broker listens and keeps its files.
    public struct Settings: Sendable, Codable, Equatable {
        public var host = "127.0.0.1"
        /// 0: a free port, chosen at the first start and kept across restarts.
        public var port = 0
        /// The folder of its configuration, log and persistence file.
        public var folder: String
        /// How often a running broker saves its state (a crash loses at most this much).
        public var autosaveInterval: Duration = .seconds(1)

        /// Every key but `folder` may be left out.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            folder = try c.decode(String.self, forKey: .folder)
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        }

        private enum CodingKeys: String, CodingKey { case host, port, folder }

        public init(folder: String, host: String = "127.0.0.1", port: Int = 0) {
            self.folder = folder
            self.host = host
            self.port = port
        }
    }

    public static let paths = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]
    /// The broker's program, or nil when it is not installed.
    public static var executable: String? { paths.first { FileManager.default.isExecutableFile(atPath: $0) } }

    public private(set) var settings: Settings
    /// The running broker's pid; nil once it has exited (and been reaped).
    public private(set) var pid: pid_t?

    public var port: Int { settings.port }
    public var endpoint: MQTTEndpoint { MQTTEndpoint(host: settings.host == "0.0.0.0" ? "127.0.0.1" : settings.host, port: settings.port) }
    public var isRunning: Bool {
        guard let pid else { return false }
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid { self.pid = nil; exitStatus = status; return false }
        // Reaped elsewhere (Foundation's Process reaps every child of the process it runs in).
        if reaped < 0 && errno == ECHILD { self.pid = nil; return false }
        return true
    }
    private var exitStatus: Int32 = 0
    public var logFile: String { settings.folder + "/mosquitto.log" }

    /// Writes the configuration and starts the broker; returns once it accepts connections.
    public init(_ settings: Settings) throws(BrokerError) {
        self.settings = settings
        if self.settings.port == 0 { self.settings.port = try Self.freePort(settings.host) }
        try start()
    }

    /// The configuration, as written to `mosquitto.conf`.
    var configuration: String {
        """
        # Written by EdgeInsight for one run.
        # As the user who started it: mosquitto started as root would become user mosquitto, who
        # cannot write this folder.
        user \(Self.userName)
        listener \(settings.port) \(settings.host)
        allow_anonymous true
        # Answers are small and must not wait for the next segment (Nagle's algorithm with delayed
        # ACKs held each request–answer for 40 ms).
        set_tcp_nodelay true
        persistence true
        persistence_location \(settings.folder)/
        persistence_file mosquitto.db
        autosave_interval \(max(1, Int(settings.autosaveInterval.components.seconds)))
        # Frames queue while a consumer is away: keep them (by count and bytes) rather than drop.
        max_queued_messages 100000
        max_queued_bytes 0
        max_inflight_messages 100
        log_dest file \(logFile)
        log_type error
        log_type warning
        log_type notice
        """ + "\n"
    }

    /// Starts the broker (again, after `stop`) on the same port with the same persistence.
    public func start() throws(BrokerError) {
        guard let executable = Self.executable else { throw .broker("mosquitto is not installed (scripts/setup installs Debian's mosquitto)") }
        guard !isRunning else { return }
        do {
            try FileManager.default.createDirectory(atPath: settings.folder, withIntermediateDirectories: true)
            try configuration.write(toFile: settings.folder + "/mosquitto.conf", atomically: true, encoding: .utf8)
        } catch {
            throw .broker("cannot write the broker's configuration in \(settings.folder): \(error.localizedDescription)")
        }
        // posix_spawn rather than Foundation's Process: this type waits for its own child, and
        // Process reaps children behind its back.
        var child: pid_t = 0
        let argv = [executable, "-c", settings.folder + "/mosquitto.conf"]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in Int32(0)...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        // The spawning thread may block signals (Dispatch's threads do) and the child would inherit
        // that: SIGTERM would not stop it. It starts with none blocked and default handlers.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let rc = posix_spawn(&child, executable, &actions, &attributes, cArgs, environ)
        guard rc == 0 else { throw .broker("cannot start \(executable): \(String(cString: strerror(rc)))") }
        pid = child
        // Ready when it accepts a TCP connection; a broker that exits says why in its log.
        let deadline = MonotonicClock.now() + 10_000_000_000
        while MonotonicClock.now() < deadline {
            if !isRunning {
                let log = (try? String(contentsOfFile: logFile, encoding: .utf8))?.split(separator: "\n").last.map(String.init) ?? "no log"
                throw .broker("mosquitto exited at start (status \(exitStatus >> 8)): \(log)")
            }
            if Self.accepts(endpoint) { return }
            usleep(10_000)
        }
        stop(signal: SIGKILL)
        throw .broker("mosquitto did not listen on \(endpoint) within 10 s")
    }

    /// Stops the broker: SIGTERM saves its state first, SIGKILL (a crash) does not.
    public func stop(signal: Int32 = SIGTERM) {
        guard isRunning, let pid else { return }
        kill(pid, signal)
        let deadline = MonotonicClock.now() + 5_000_000_000
        while isRunning, MonotonicClock.now() < deadline { usleep(2_000) }
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            self.pid = nil
        }
    }

    static var userName: String {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return "root" }
        return String(cString: name)
    }

    deinit { stop() }

    /// Whether something accepts TCP connections at the endpoint.
    static func accepts(_ endpoint: MQTTEndpoint) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(endpoint.host, String(endpoint.port), &hints, &found) == 0, let info = found else { return false }
        defer { freeaddrinfo(found) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0
    }

    /// A port nothing listens on now at `host` (the kernel's choice for port 0).
    static func freePort(_ host: String) throws(BrokerError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .broker("cannot open a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr(host == "0.0.0.0" ? "0.0.0.0" : host)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw .broker("cannot find a free port on \(host): \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
