import Foundation
import Yams

/// A machine of the user's that nodes can run on, reached with the system's `ssh` (docs/real-testbed.md).
public struct InventoryHost: Sendable, Equatable, Codable {
    public var name: String
    /// The ssh destination, `[user@]host` or a `Host` of ~/.ssh/config.
    public var destination: String
    public var port: Int?
    /// A private key file (`-i`); nil uses the user's agent and config.
    public var identity: String?
    /// The `edgeinsight` binary on the host.
    public var edgeinsight: String
    /// The address other hosts reach this one at (a cloud VM's private address); by default the
    /// destination's host part.
    public var address: String
    /// More `ssh -o` options, as `Key=value`.
    public var options: [String]
    /// The device profile it is (`rpi4`): its price and watts for the planner, and the profile whose
    /// published figures its own measurements replace.
    public var profile: String?

    public init(name: String, destination: String, port: Int? = nil, identity: String? = nil, edgeinsight: String = "edgeinsight",
                address: String? = nil, options: [String] = [], profile: String? = nil) {
        self.profile = profile
        self.name = name
        self.destination = destination
        self.port = port
        self.identity = identity
        self.edgeinsight = edgeinsight
        self.address = address ?? String(destination.split(separator: "@").last ?? Substring(destination))
        self.options = options
    }
}

/// The hosts an experiment may use, by name: a `hosts:` section of an experiment or plan file, a
/// file of the same form, or an Ansible inventory (INI or YAML), since fleets are often kept in one.
public struct HostInventory: Sendable, Equatable {
    public var hosts: [String: InventoryHost]
    /// Where the hosts were read, for errors.
    public var source: String

    public init(hosts: [InventoryHost], source: String) {
        self.hosts = Dictionary(hosts.map { ($0.name, $0) }) { first, _ in first }
        self.source = source
    }

    /// The host called `name`, or an error listing the known ones.
    public func host(named name: String) throws(ProfileError) -> InventoryHost {
        guard let host = hosts[name] else { throw .unknown(kind: "host", name: name, known: hosts.keys.sorted()) }
        return host
    }

    /// Reads an inventory file: ours (`name: {ssh: …}`, under `hosts:` or at the top), Ansible's YAML
    /// (`all: {hosts: …, children: …}`) or Ansible's INI (`name ansible_host=… ansible_user=…`).
    public static func load(_ path: String) throws(ProfileError) -> HostInventory {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .invalid("cannot read hosts file \(path)") }
        let firstLine = text.split(separator: "\n").first { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix(";") }
        // Every line of YAML that starts a mapping has a colon; an INI inventory's first line has none.
        if let firstLine, firstLine.hasPrefix("[") || !firstLine.contains(":") {
            return try ini(text, path: path)
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw .invalid("\(path): not valid YAML (\("\(error)".split(separator: "\n").first ?? ""))")
        }
        guard let root else { throw .invalid("\(path):1: no hosts") }
        return try parse(root.mapping?["hosts"] ?? root, path: path)
    }

    /// Reads a `hosts:` value: a mapping of our entries or of Ansible's groups, or a file name.
    public static func parse(_ node: Node, path: String, relativeTo folder: String? = nil) throws(ProfileError) -> HostInventory {
        if let file = node.scalar?.string {
            let full = file.hasPrefix("/") || folder == nil ? file : folder! + "/" + file
            return try load(full)
        }
        guard let mapping = node.mapping else { throw .invalid("\(path):\(line(node)): 'hosts' must map host names to {ssh: …}, or name a hosts file") }
        var hosts: [InventoryHost] = []
        if mapping["all"] != nil || mapping.contains(where: { $0.value.mapping?["hosts"] != nil || $0.value.mapping?["children"] != nil }) {
            try ansibleGroups(mapping, path: path, into: &hosts)
        } else {
            for (key, value) in mapping { hosts.append(try entry(key, value, path: path, ansible: false)) }
        }
        return HostInventory(hosts: hosts, source: path)
    }

    private static func line(_ node: Node) -> Int { node.mark?.line ?? 1 }

    /// Ansible's YAML inventory: groups with `hosts:` (name → variables) and `children:` (more groups).
    private static func ansibleGroups(_ groups: Node.Mapping, path: String, into hosts: inout [InventoryHost]) throws(ProfileError) {
        for (_, group) in groups {
            guard let body = group.mapping else { continue }
            if let members = body["hosts"]?.mapping {
                for (key, value) in members where !hosts.contains(where: { $0.name == key.string }) {
                    hosts.append(try entry(key, value, path: path, ansible: true))
                }
            }
            if let children = body["children"]?.mapping { try ansibleGroups(children, path: path, into: &hosts) }
        }
    }

    /// One host from its settings (ours: `ssh`, `port`, `identity`, `edgeinsight`, `address`,
    /// `options`, `profile`; Ansible's: `ansible_host`, `ansible_user`, `ansible_port`, `ansible_ssh_private_key_file`).
    private static func entry(_ key: Node, _ value: Node, path: String, ansible: Bool) throws(ProfileError) -> InventoryHost {
        guard let name = key.string, !name.isEmpty else { throw .invalid("\(path):\(line(key)): a host name must be text") }
        var fields: [String: (String, Int)] = [:]
        var options: [String] = []
        if let settings = value.mapping {
            for (settingKey, settingValue) in settings {
                guard let setting = settingKey.string else { continue }
                if setting == "options", let list = settingValue.sequence {
                    options = list.compactMap(\.string)
                } else if let scalar = settingValue.scalar {
                    fields[setting] = (scalar.string, line(settingValue))
                } else {
                    throw .invalid("\(path):\(line(settingValue)): host '\(name)': '\(setting)' must be a single value")
                }
            }
        } else if !(ansible && value.null != nil) {
            throw .invalid("\(path):\(line(value)): host '\(name)' must be a mapping such as {ssh: user@192.168.1.20}")
        }
        return try host(name, fields, options: options, path: path, line: line(key))
    }

    /// Builds a host from its text settings, checking each.
    static func host(_ name: String, _ fields: [String: (String, Int)], options: [String], path: String, line: Int) throws(ProfileError) -> InventoryHost {
        func value(_ keys: String...) -> (String, Int)? { keys.lazy.compactMap { fields[$0] }.first }
        var destination: String
        if let (ssh, _) = value("ssh") {
            destination = ssh
        } else {
            destination = value("ansible_host", "ansible_ssh_host")?.0 ?? name
            if let (user, _) = value("ansible_user", "ansible_ssh_user") { destination = user + "@" + destination }
        }
        guard !destination.isEmpty, !destination.hasPrefix("-"), !destination.contains(" ") else {
            throw .invalid("\(path):\(value("ssh")?.1 ?? line): host '\(name)': 'ssh' must be an ssh destination such as pi@192.168.1.20")
        }
        var port: Int?
        if let (text, at) = value("port", "ansible_port", "ansible_ssh_port") {
            guard let number = Int(text), (1...65_535).contains(number) else {
                throw .invalid("\(path):\(at): host '\(name)': 'port' must be an integer in 1…65535 (got '\(text)')")
            }
            port = number
        }
        let identity = value("identity", "ansible_ssh_private_key_file", "ansible_private_key_file").map { ($0.0 as NSString).expandingTildeInPath }
        for option in options where !option.contains("=") || option.hasPrefix("-") {
            throw .invalid("\(path):\(line): host '\(name)': each of 'options' must be Key=value (got '\(option)')")
        }
        return InventoryHost(name: name, destination: destination, port: port, identity: identity,
                    edgeinsight: value("edgeinsight", "edgeinsight_path")?.0 ?? "edgeinsight", address: value("address")?.0, options: options,
                    profile: value("profile", "edgeinsight_profile")?.0)
    }

    /// Ansible's INI inventory: `[group]` headers, `name key=value …` lines, `[group:vars]` ignored.
    static func ini(_ text: String, path: String) throws(ProfileError) -> HostInventory {
        var hosts: [InventoryHost] = []
        var inVars = false
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                inVars = line.hasSuffix(":vars]") || line.hasSuffix(":children]")
                continue
            }
            if inVars { continue }
            let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let name = words.first, !hosts.contains(where: { $0.name == name }) else { continue }
            var fields: [String: (String, Int)] = [:]
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { throw .invalid("\(path):\(index + 1): host '\(name)': expected key=value (got '\(word)')") }
                fields[pair[0]] = (pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'")), index + 1)
            }
            hosts.append(try host(name, fields, options: [], path: path, line: index + 1))
        }
        guard !hosts.isEmpty else { throw .invalid("\(path):1: no hosts") }
        return HostInventory(hosts: hosts, source: path)
    }
}
