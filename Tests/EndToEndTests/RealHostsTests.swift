import EdgeInsightCore
import Foundation
import Results
import Testbed
import Testing
import TestSupport

/// Real hosts, built here: each a network namespace running Debian's sshd on its own address, with
/// a key the test generates. h1 and h2 are joined by a veth pair with a kernel tbf on it (the
/// "network" between a device and a cloud VM); h3's sshd refuses the key. The runner reaches each
/// over its own veth from this namespace, with the system's ssh.
final class TestHosts {
    let folder: String
    let tag: String
    let namespaces: [String]
    var inventory: String { folder + "/hosts.yaml" }

    /// Why these tests cannot run here, or nil.
    static var unavailable: String? {
        guard geteuid() == 0 else { return "needs root for network namespaces" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd") else { return "needs openssh-server (scripts/setup installs it)" }
        return nil
    }

    init() throws {
        Self.removeLeftovers()
        let tag = String(getpid())
        self.tag = tag
        folder = temporaryPath("hosts-\(tag)-\(UUID().uuidString.prefix(6))")
        namespaces = (1...3).map { "eih-\(tag)-\($0)" }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let binary = repositoryRoot + "/.build/debug/edgeinsight"
        var script = """
            set -e
            cd '\(folder)'
            mkdir -p /run/sshd
            ssh-keygen -q -t ed25519 -N '' -f client_key
            ssh-keygen -q -t ed25519 -N '' -f host_key
            cp client_key.pub authorized_keys
            : > refused_keys

            """
        for (index, namespace) in namespaces.enumerated() {
            let n = index + 1
            let keys = n == 3 ? "refused_keys" : "authorized_keys"
            script += """
                ip netns add \(namespace)
                ip -n \(namespace) link set lo up
                ip link add eir\(tag)r\(n) type veth peer name eir\(tag)h\(n)
                ip link set eir\(tag)h\(n) netns \(namespace)
                ip addr add 10.203.\(n).1/24 dev eir\(tag)r\(n)
                ip link set eir\(tag)r\(n) up
                ip -n \(namespace) addr add 10.203.\(n).2/24 dev eir\(tag)h\(n)
                ip -n \(namespace) link set eir\(tag)h\(n) up
                cat > sshd_config_\(n) <<EOF
                ListenAddress 0.0.0.0
                Port 22
                HostKey \(folder)/host_key
                AuthorizedKeysFile \(folder)/\(keys)
                PidFile \(folder)/sshd_\(n).pid
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitRootLogin prohibit-password
                MaxSessions 50
                MaxStartups 50
                EOF
                ip netns exec \(namespace) /usr/sbin/sshd -f \(folder)/sshd_config_\(n) -E \(folder)/sshd_\(n).log

                """
        }
        // The device–cloud network: a veth pair between h1 and h2, 100 Mbit/s each way in the kernel.
        script += """
            ip link add eir\(tag)a type veth peer name eir\(tag)b
            ip link set eir\(tag)a netns \(namespaces[0])
            ip link set eir\(tag)b netns \(namespaces[1])
            ip -n \(namespaces[0]) addr add 10.203.9.1/24 dev eir\(tag)a
            ip -n \(namespaces[1]) addr add 10.203.9.2/24 dev eir\(tag)b
            ip -n \(namespaces[0]) link set eir\(tag)a up
            ip -n \(namespaces[1]) link set eir\(tag)b up
            ip netns exec \(namespaces[0]) tc qdisc add dev eir\(tag)a root tbf rate 100mbit burst 64kb latency 50ms
            ip netns exec \(namespaces[1]) tc qdisc add dev eir\(tag)b root tbf rate 100mbit burst 64kb latency 50ms

            """
        let options = "[UserKnownHostsFile=\(folder)/known_hosts, StrictHostKeyChecking=accept-new]"
        try """
            hosts:
              h1: {ssh: root@10.203.1.2, identity: \(folder)/client_key, edgeinsight: \(binary), address: 10.203.9.1, options: \(options)}
              h2: {ssh: root@10.203.2.2, identity: \(folder)/client_key, edgeinsight: \(binary), address: 10.203.9.2, options: \(options)}
              h3: {ssh: root@10.203.3.2, identity: \(folder)/client_key, edgeinsight: \(binary), options: \(options)}
            """.write(toFile: inventory, atomically: true, encoding: .utf8)
        let result = try run("/bin/bash", ["-c", script])
        guard result.status == 0 else {
            remove()
            throw TestHostsError(description: "cannot build the test hosts: \(result.stderr)")
        }
        // sshd daemonises once it listens; wait until each accepts connections.
        for n in 1...3 {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, (try? run("/bin/bash", ["-c", "exec 3<>/dev/tcp/10.203.\(n).2/22"]))?.status != 0 { usleep(50_000) }
        }
    }

    /// Hosts a killed test process left behind (`eih-PID-N` with PID gone): their processes and
    /// namespaces, so their addresses are free again.
    static func removeLeftovers() {
        for line in ((try? run("/sbin/ip", ["netns", "list"]))?.stdout ?? "").split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            let parts = name.split(separator: "-")
            guard parts.count == 3, parts[0] == "eih", let owner = Int32(parts[1]), kill(owner, 0) != 0 else { continue }
            for pid in ((try? run("/sbin/ip", ["netns", "pids", name]))?.stdout ?? "").split(separator: "\n") { kill(Int32(pid) ?? 0, SIGKILL) }
            _ = try? run("/sbin/ip", ["netns", "del", name])
        }
    }

    /// Every process in a host's namespace that is an edgeinsight (its command name, not a path
    /// that happens to contain the word), with its command line.
    func ours(in namespace: String) -> [String] {
        let pids = ((try? run("/sbin/ip", ["netns", "pids", namespace]))?.stdout ?? "").split(separator: "\n")
        return pids.compactMap { pid in
            guard (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.hasPrefix("edgeinsight") == true else { return nil }
            let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.replacingOccurrences(of: "\0", with: " ") ?? ""
            return "\(pid): \(cmdline)"
        }
    }

    private var removed = false

    /// Stops the hosts and removes their namespaces and links (once, whoever asks first).
    func remove() {
        guard !removed else { return }
        removed = true
        for n in 1...3 {
            if let pid = (try? String(contentsOfFile: "\(folder)/sshd_\(n).pid", encoding: .utf8)).flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
                kill(pid, SIGTERM)
            }
        }
        for namespace in namespaces {
            for pid in ((try? run("/sbin/ip", ["netns", "pids", namespace]))?.stdout ?? "").split(separator: "\n") { kill(Int32(pid) ?? 0, SIGKILL) }
            _ = try? run("/sbin/ip", ["netns", "del", namespace])
        }
        for n in 1...3 { _ = try? run("/sbin/ip", ["link", "del", "eir\(tag)r\(n)"]) }
    }

    deinit { remove() }
}

struct TestHostsError: Error, CustomStringConvertible { var description: String }

@Suite(.serialized, .timeLimit(.minutes(10)), .enabled(if: TestHosts.unavailable == nil, "needs root and sshd"))
struct RealHostsTests {
    /// `hosts check`: the two hosts usable with their facts and clocks, the third named with ssh's
    /// refusal, exit 1.
    @Test func hostsCheckNamesTheUnusableHost() throws {
        let hosts = try TestHosts()
        defer { hosts.remove() }
        let result = try edgeinsight(["hosts", "check", hosts.inventory])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        for name in ["h1", "h2"] {
            let line = lines.first { $0.hasPrefix("\(name):") } ?? ""
            #expect(line.contains("\(name): usable; edgeinsight \(HostFacts.buildVersion)"), "\(result.stdout)")
            #expect(line.contains("clock ") && line.contains(" ms ± "), "\(line)")
            // What the host itself shows (`ip netns exec` mounts a /sys of its own, without cgroups).
            let namespace = hosts.namespaces[name == "h1" ? 0 : 1]
            let cgroups = try run("/sbin/ip", ["netns", "exec", namespace, "/bin/sh", "-c",
                                               "test -e /sys/fs/cgroup/cgroup.controllers || test -e /sys/fs/cgroup/cpu/cgroup.procs"]).status == 0
            #expect(line.contains(cgroups ? "cgroups yes" : "cgroups no (") && line.contains("tc yes"), "\(line)")
        }
        let refused = lines.first { $0.hasPrefix("h3:") } ?? ""
        #expect(refused.contains("unusable") && refused.contains("Permission denied"), "\(result.stdout)")
        #expect(result.errorLine.contains("1 of 3 hosts unusable: h3"), "\(result.stderr)")
    }

    /// `hosts check --install`: h1 without edgeinsight at its path gets this build, OpenVINO's
    /// runtime and the profiles copied over ssh, and is usable after; the check runs the copy there.
    @Test func installCopiesThisBuildToAHostThatLacksIt() throws {
        let hosts = try TestHosts()
        defer { hosts.remove() }
        let target = hosts.folder + "/installed/bin/edgeinsight"
        let inventory = hosts.folder + "/bare.yaml"
        let options = "[UserKnownHostsFile=\(hosts.folder)/known_hosts, StrictHostKeyChecking=accept-new]"
        try "h1: {ssh: root@10.203.1.2, identity: \(hosts.folder)/client_key, edgeinsight: \(target), options: \(options)}\n"
            .write(toFile: inventory, atomically: true, encoding: .utf8)
        let before = try edgeinsight(["hosts", "check", inventory])
        #expect(before.status == 1 && before.stdout.contains("h1: unusable: no edgeinsight at"), "\(before.stdout)")
        let result = try edgeinsight(["hosts", "check", "--install", inventory])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("h1: installed this build at \(target) with OpenVINO's runtime and the profiles"), "\(result.stdout)")
        #expect(result.stdout.contains("h1: usable; edgeinsight \(HostFacts.buildVersion)") && result.stdout.contains("OpenVINO"), "\(result.stdout)")
        #expect(FileManager.default.isExecutableFile(atPath: target))
        #expect(FileManager.default.fileExists(atPath: hosts.folder + "/installed/bin/profiles/devices.yaml"))
    }

    /// An experiment whose edge node runs on h1 and cloud node on h2: the trials land in the
    /// database with where they ran, each host's facts and the link measured between them; a trial
    /// on h3 fails with ssh's reason and the sweep goes on.
    @Test func experimentAcrossTwoHosts() throws {
        let hosts = try TestHosts()
        defer { hosts.remove() }
        let folder = hosts.folder
        try """
            name: across
            model: mobilenet_v2
            workload: {fps: 10, warmup: 0.2s, duration: 1s, window: 0.5s}
            device: {host: h1, threads: 1}
            cloud: {host: h2}
            link: ethernet
            trials:
              - {placement: edge}
              - {placement: cloud-raw}
              - {placement: edge, device.host: h3}
            """.write(toFile: folder + "/exp.yaml", atomically: true, encoding: .utf8)
        let result = try edgeinsight(["run", folder + "/exp.yaml", "--hosts", hosts.inventory, "--out", folder + "/out"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("link h1>h2 before the trials: rtt"), "\(result.stdout)")
        let database = try ResultsDatabase(path: folder + "/out/results.sqlite")
        let run = try database.run("across")
        let trials = try database.trials(run: run.id)
        #expect(trials.count == 3)
        let edge = trials.first { $0.ok && $0.config.placement == .edge }
        let cloud = trials.first { $0.ok && $0.config.placement == .cloudRaw }
        let failed = trials.first { !$0.ok }
        #expect(edge?.applied.host?.hasPrefix("edge on h1 (") == true, "\(String(describing: edge?.applied))")
        #expect(edge?.applied.deviceConfinement?.contains("real host h1") == true)
        #expect(cloud?.applied.host?.contains("cloud on h2 (") == true, "\(String(describing: cloud?.applied))")
        #expect(cloud?.applied.linkShaping?.contains("over the real link h1>h2 (measured: rtt") == true, "\(String(describing: cloud?.applied))")
        #expect((cloud?.metric(.throughput) ?? 0) > 0)
        #expect(failed?.reason?.contains("host h3 is unusable: ssh: root@10.203.3.2: Permission denied") == true, "\(String(describing: failed?.reason))")
        // Each host's facts and the real link, before and after, in the run's environment.
        for key in ["host.h1.cpu_model", "host.h2.cores", "host.h1.clock_offset_ms", "host.h1.clock_uncertainty_ms",
                    "link.h1>h2.before.rtt_ms", "link.h1>h2.before.uplink_bps", "link.h1>h2.after.rtt_ms"] {
            #expect(run.environment[key] != nil, "\(key) missing from \(run.environment.keys.sorted())")
        }
        // The kernel's 100 Mbit/s between h1 and h2 is what the probe found (TCP goodput under it).
        let uplink = Double(run.environment["link.h1>h2.before.uplink_bps"] ?? "") ?? 0
        #expect(uplink > 40e6 && uplink < 101e6, "\(uplink)")
        for namespace in hosts.namespaces { #expect(hosts.ours(in: namespace).isEmpty, "\(hosts.ours(in: namespace))") }
    }

    /// A pool of three device hosts, one of which refuses the key: it is left out with ssh's reason,
    /// and the trials run on the other two, at the same time, each recorded with its host.
    @Test func poolOfHostsRunsTrialsConcurrently() throws {
        let hosts = try TestHosts()
        defer { hosts.remove() }
        let folder = hosts.folder
        try """
            name: pool
            model: mobilenet_v2
            placement: edge
            workload: {fps: 10, warmup: 0.2s, duration: 3s, window: 1s}
            device: {hosts: [h1, h2, h3], threads: 1}
            sweep:
              workload.jpeg_quality: [60, 70, 80, 90]
            """.write(toFile: folder + "/exp.yaml", atomically: true, encoding: .utf8)
        let result = try edgeinsight(["run", folder + "/exp.yaml", "--hosts", hosts.inventory, "--out", folder + "/out"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("pool: h3 left out: h3: ssh: root@10.203.3.2: Permission denied"), "\(result.stdout)")
        let database = try ResultsDatabase(path: folder + "/out/results.sqlite")
        let trials = try database.trials(run: try database.run("pool").id)
        #expect(trials.count == 4 && trials.allSatisfy(\.ok), "\(trials.map { $0.reason ?? "ok" })")
        let on = Dictionary(grouping: trials) { $0.config.device.host ?? "here" }
        #expect(Set(on.keys) == ["h1", "h2"], "\(on.keys)")
        // Concurrent: some trial on h1 and some trial on h2 overlap in time.
        func span(_ t: TrialRecord) -> ClosedRange<Double> {
            let start = t.startedAt.timeIntervalSince1970
            return start...(start + t.seconds)
        }
        let overlapping = (on["h1"] ?? []).contains { a in (on["h2"] ?? []).contains { b in span(a).overlaps(span(b)) } }
        #expect(overlapping, "\(trials.map { ($0.config.device.host ?? "-", span($0)) })")
        for namespace in hosts.namespaces { #expect(hosts.ours(in: namespace).isEmpty, "\(hosts.ours(in: namespace))") }
    }

    /// The runner killed by SIGKILL mid-trial: its nodes on both hosts stop with their sessions.
    @Test func killedRunnerLeavesNothingOnTheHosts() throws {
        let hosts = try TestHosts()
        defer { hosts.remove() }
        let folder = hosts.folder
        try """
            name: long
            model: mobilenet_v2
            placement: cloud-raw
            workload: {fps: 5, warmup: 0s, duration: 120s}
            device: {host: h1}
            cloud: {host: h2}
            """.write(toFile: folder + "/exp.yaml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: repositoryRoot + "/.build/debug/edgeinsight")
        process.arguments = ["run", folder + "/exp.yaml", "--hosts", hosts.inventory, "--out", folder + "/out"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Until the edge node runs on h1 and the cloud node on h2.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, hosts.ours(in: hosts.namespaces[0]).count < 2 || hosts.ours(in: hosts.namespaces[1]).isEmpty { usleep(100_000) }
        #expect(!hosts.ours(in: hosts.namespaces[0]).isEmpty, "the edge node never started on h1")
        #expect(!hosts.ours(in: hosts.namespaces[1]).isEmpty, "the cloud node never started on h2")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let gone = Date().addingTimeInterval(20)
        while Date() < gone, hosts.namespaces.contains(where: { !hosts.ours(in: $0).isEmpty }) { usleep(100_000) }
        for namespace in hosts.namespaces { #expect(hosts.ours(in: namespace).isEmpty, "\(hosts.ours(in: namespace))") }
    }
}
