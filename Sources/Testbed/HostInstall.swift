import EdgeInsightCore
import Foundation
import Profiles

/// `hosts check --install`: this build, the OpenVINO runtime it loads and the profiles, copied to a
/// host of the same architecture where its `edgeinsight` is missing or another build — one tar
/// stream over the host's ssh connection, unpacked beside the binary's path there (where the binary
/// looks for `.deps/` and `profiles/`).
public enum HostInstall {
    /// Installs on `host` and says what it did; throws why it cannot.
    public static func install(on host: InventoryHost, executable: String) throws(TestbedError) -> String {
        let ssh = SSHHost(host)
        let target = host.edgeinsight
        guard target.hasPrefix("/") else {
            throw .nodeFailed("\(host.name): set 'edgeinsight:' to an absolute path on the host to install there (it is '\(target)')")
        }
        let theirs = try ssh.run(ssh.argv(["uname", "-m"]))
        guard theirs.status == 0 else { throw .nodeFailed("\(host.name): uname -m failed: \(theirs.reason)") }
        let ours = try SSHHost.capture(["/usr/bin/uname", "-m"], timeout: .seconds(5)).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let architecture = theirs.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard architecture == ours else {
            throw .nodeFailed("\(host.name) is \(architecture), this build is \(ours): build edgeinsight there (docs/real-testbed.md)")
        }
        let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        guard let root = ProjectFolders.roots().first(where: { FileManager.default.fileExists(atPath: $0 + "/.deps/openvino/openvino/libs") }) else {
            throw .nodeFailed("no .deps/openvino here to copy (run scripts/setup)")
        }
        let folder = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        // One stream: the binary renamed to the host's name for it, the runtime, the profiles.
        let tar = ["tar", "-cf", "-", "-C", root, ".deps/openvino/openvino/libs", "profiles",
                   "-C", binary.deletingLastPathComponent().path, "--transform", "s|^\(binary.lastPathComponent)$|\(name)|", binary.lastPathComponent]
        let unpack = ssh.argv(script: "mkdir -p \(SSHHost.quote(folder)) && tar -C \(SSHHost.quote(folder)) -xf -")
        let pipeline = tar.map(SSHHost.quote).joined(separator: " ") + " | " + unpack.map(SSHHost.quote).joined(separator: " ")
        let started = MonotonicClock.now()
        let output = try SSHHost.capture(["/bin/bash", "-o", "pipefail", "-c", pipeline], timeout: .seconds(600))
        guard output.status == 0 else { throw .nodeFailed("\(host.name): copying failed: \(output.reason)") }
        let seconds = Double(MonotonicClock.now() - started) / 1e9
        return "\(host.name): installed this build at \(target) with OpenVINO's runtime and the profiles (\(String(format: "%.1f", seconds)) s)"
    }
}
