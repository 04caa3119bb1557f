import EdgeInsightCore
import Foundation
import Profiles

/// The hosts a run's trials name, checked once before the first trial: each usable one with its
/// facts and clock, each unusable one with the reason its trials fail; and the real links between
/// the places a trial's edge and cloud nodes run, measured before and after the trials.
final class RunHosts: @unchecked Sendable {  // filled in before the trials, then only read (and `measured` by the runner's thread)
    private(set) var checks: [String: HostCheck] = [:]
    private(set) var measured: [String: MeasuredLink] = [:]
    private(set) var environment: [String: String] = [:]
    private let executable: String
    private var pairs: [(edge: NodeLauncher, cloud: NodeLauncher)] = []
    private let say: @Sendable (String) -> Void

    private init(executable: String, say: @escaping @Sendable (String) -> Void) {
        self.executable = executable
        self.say = say
    }

    /// Checks every host the trials name (all at once) and measures the links between them.
    static func check(_ specs: [TrialSpec], inventory: HostInventory?, executable: String, say: @escaping @Sendable (String) -> Void) -> RunHosts {
        let hosts = RunHosts(executable: executable, say: say)
        let named = Set(specs.flatMap { [$0.config.device.host, $0.config.startsCloudNode ? $0.config.cloud.host : nil].compactMap { $0 } })
        guard let inventory, !named.isEmpty else { return hosts }
        for check in HostCheck.checkAll(named.sorted().compactMap { inventory.hosts[$0] }) {
            say("host " + check.line)
            hosts.checks[check.host.name] = check
            guard let facts = check.facts else { continue }
            for (key, value) in facts.environment { hosts.environment["host.\(check.host.name).\(key)"] = value }
            if let clock = check.clock {
                hosts.environment["host.\(check.host.name).clock_offset_ms"] = String(format: "%.3f", clock.offsetNs / 1e6)
                hosts.environment["host.\(check.host.name).clock_uncertainty_ms"] = String(format: "%.3f", clock.uncertaintyNs / 1e6)
            }
        }
        var seen = Set<String>()
        for spec in specs where spec.config.startsCloudNode {
            guard let (edge, cloud) = try? hosts.launchers(for: spec.config), edge.ssh != nil || cloud.ssh != nil else { continue }
            if seen.insert(linkName(edge, cloud)).inserted { hosts.pairs.append((edge, cloud)) }
        }
        hosts.environment.merge(hosts.measureLinks(when: "before")) { $1 }
        return hosts
    }

    /// `pi>vm`: the link from where the edge node runs to where the cloud node does (`here` for this machine).
    static func linkName(_ edge: NodeLauncher, _ cloud: NodeLauncher) -> String { "\(edge.hostName ?? "here")>\(cloud.hostName ?? "here")" }

    /// Measures each real link the trials cross; what it measured, as the run's environment keys.
    func measureLinks(when: String) -> [String: String] {
        var out: [String: String] = [:]
        for (edge, cloud) in pairs {
            let name = Self.linkName(edge, cloud)
            do {
                let link = try MeasuredLink.measure(from: edge, to: cloud)
                if when == "before" { measured[name] = link }
                out.merge(link.environment("link.\(name).\(when).")) { $1 }
                say("link \(name) \(when) the trials: \(link.description)")
            } catch {
                out["link.\(name).\(when).error"] = "\(error)"
                say("link \(name) \(when) the trials: not measured: \(error)")
            }
        }
        return out
    }

    /// Why a lane's hosts cannot run trials, from their checks at the start; nil when they can.
    func problem(_ lane: Lane) -> String? {
        for name in [lane.device, lane.cloud].compactMap({ $0 }) {
            guard let check = checks[name] else { return "host '\(name)' is not in the inventory" }
            if let problem = check.problem { return "\(name): \(problem)" }
        }
        return nil
    }

    /// Checks a lane's hosts again (after a failed trial): why they can no longer run trials, or nil.
    func recheck(_ lane: Lane) -> String? {
        let local = HostFacts.gather()
        for name in [lane.device, lane.cloud].compactMap({ $0 }) {
            guard let host = checks[name]?.host else { continue }
            if let problem = HostCheck.check(host, local: local).problem { return "\(name): \(problem)" }
        }
        return nil
    }

    /// Where a trial's edge and cloud nodes start; a host that failed its check fails the trial
    /// with its reason (the sweep goes on with the others).
    func launchers(for config: TrialConfig) throws(TestbedError) -> (edge: NodeLauncher, cloud: NodeLauncher) {
        func launcher(_ name: String?) throws(TestbedError) -> NodeLauncher {
            guard let name else { return .local(executable: executable) }
            guard let check = checks[name] else { throw .trialFailed("host '\(name)' is not in the inventory") }
            if let problem = check.problem { throw .trialFailed("host \(name) is unusable: \(problem)") }
            return .remote(SSHHost(check.host))
        }
        let edge = try launcher(config.device.host)
        let cloud = try launcher(config.startsCloudNode ? config.cloud.host : nil)
        if edge.ssh != nil, config.startsCloudNode, cloud.ssh == nil {
            throw .trialFailed("the edge node runs on host \(edge.hostName!) but the cloud node here, at an address that host cannot be told: put the cloud node on a host too (cloud.host)")
        }
        return (edge, cloud)
    }

    /// Where the trial's nodes ran, with each host's facts, for its record; nil when all ran here.
    func describe(edge: NodeLauncher, cloud: NodeLauncher?) -> String? {
        func place(_ role: String, _ launcher: NodeLauncher) -> String? {
            guard let name = launcher.hostName else { return nil }
            let facts = checks[name]?.facts.map { " (\($0.summary))" } ?? ""
            let clock = checks[name]?.clock.map { ", clock \($0.description)" } ?? ""
            return "\(role) on \(name)\(facts)\(clock)"
        }
        let parts = [place("edge", edge), cloud.flatMap { place("cloud", $0) }].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// Ends every host's master connection.
    func close() {
        for check in checks.values { SSHHost(check.host).close() }
    }
}
