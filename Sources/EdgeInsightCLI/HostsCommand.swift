import ArgumentParser
import EdgeInsightCore
import Foundation
import Profiles
import Testbed

/// `edgeinsight hosts`: the machines of the user's inventory.
struct HostsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "Check the hosts of an inventory: reachable over ssh, the same edgeinsight, what they are.",
        subcommands: [HostsCheck.self, HostsFacts.self, HostsClock.self])
}

/// `edgeinsight hosts check FILE`: one line per host, and a non-zero exit naming the unusable ones.
struct HostsCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Reach every host of an inventory and say whether nodes can run there.",
        discussion: """
            FILE is a hosts file (ours: `NAME: {ssh: user@host, port, identity, edgeinsight, address}`),
            an Ansible inventory (INI or YAML), or an experiment file with a 'hosts:' section. Each host
            is reached with the system's ssh (BatchMode: never a password prompt; your keys and
            ~/.ssh/config apply). For each: the edgeinsight build there (it must match this one), its
            engines, CPU, cores, memory, OS, governor, whether cgroups and tc may be used, the round
            trip over ssh and the clock's offset from this machine's (NTP's formulas, best of 9).
            See docs/real-testbed.md.
            """)

    @Argument(help: "Hosts file, Ansible inventory or experiment file.")
    var file: String

    @Flag(help: "Where a reachable host lacks this build (missing, or another version) and has this machine's architecture, copy it there — with OpenVINO's runtime and the profiles — to its 'edgeinsight:' path, then check again.")
    var install = false

    func run() throws {
        let inventory: HostInventory
        if let experiment = try? Experiment.load(file), let hosts = experiment.hosts { inventory = hosts } else { inventory = try HostInventory.load(file) }
        let hosts = inventory.hosts.values.sorted { $0.name < $1.name }
        print("checking \(hosts.count) host\(hosts.count == 1 ? "" : "s") of \(inventory.source)")
        var checks = HostCheck.checkAll(hosts)
        if install {
            let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
            for (index, check) in checks.enumerated() where check.reached && check.problem != nil {
                do {
                    print(try HostInstall.install(on: check.host, executable: executable))
                    checks[index] = HostCheck.check(check.host, local: .gather())
                } catch {
                    print("\(check.host.name): not installed: \(error)")
                }
            }
        }
        checks.forEach { print($0.line) }
        let unusable = checks.filter { !$0.usable }
        guard unusable.isEmpty else {
            throw CheckFailed("\(unusable.count) of \(checks.count) hosts unusable: " + unusable.map { "\($0.host.name) (\($0.problem!))" }.joined(separator: "; "))
        }
        print("all \(checks.count) hosts usable")
    }
}

/// A check that found problems: its one line, and exit status 1.
struct CheckFailed: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `edgeinsight hosts facts`: this machine's facts as one JSON line (what `hosts check` runs on a host).
struct HostsFacts: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "facts", abstract: "Print this machine's facts as one JSON line (run by `hosts check` on each host).",
                                                    shouldDisplay: false)

    func run() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(HostFacts.gather(engines: EngineKind.allCases)), as: UTF8.self))
    }
}

/// `edgeinsight hosts clock`: answers each line on stdin with this machine's wall clock in ns.
struct HostsClock: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clock", abstract: "Answer each input line with the wall clock in ns (run by `hosts check`).",
                                                    shouldDisplay: false)

    func run() throws {
        while readLine() != nil {
            FileHandle.standardOutput.write(Data("\(ClockOffset.wallNow())\n".utf8))
        }
    }
}
