import Broker
import EdgeInsightCore
import Foundation
import TestSupport
import Testing

/// The node contract (docs/nodes.md), read as the runner and an SSH session read it: a document on
/// stdin, one ready line and one final line on stdout, nothing else there.
@Suite(.timeLimit(.minutes(5))) struct NodeContractTests {
    /// A node started with `--config -`, its stdout split into lines as they come.
    final class Node: @unchecked Sendable {  // `lines` guarded by `lock`
        let process = Process()
        private let lock = NSLock()
        private var lines: [String] = []
        private let reader: Thread
        let stderr = Pipe()

        init(_ node: String, document: String) throws {
            let input = Pipe(), output = Pipe()
            process.executableURL = URL(fileURLWithPath: repositoryRoot + "/.build/debug/edgeinsight")
            process.arguments = [node, "--config", "-"]
            process.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
            process.standardInput = input
            process.standardOutput = output
            process.standardError = stderr
            try process.run()
            try input.fileHandleForWriting.write(contentsOf: Data(document.utf8))
            try input.fileHandleForWriting.close()
            let handle = output.fileHandleForReading
            nonisolated(unsafe) var box: Node?
            reader = Thread {
                var pending = ""
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    pending += String(decoding: chunk, as: UTF8.self)
                    while let newline = pending.firstIndex(of: "\n") {
                        let line = String(pending[..<newline])
                        pending.removeSubrange(...newline)
                        box?.append(line)
                    }
                }
            }
            box = self
            reader.start()
            // Drain stderr so a chatty node never blocks on a full pipe.
            let errors = stderr.fileHandleForReading
            Thread { _ = errors.readDataToEndOfFile() }.start()
        }

        func append(_ line: String) { lock.withLock { lines.append(line) } }
        var printed: [String] { lock.withLock { lines } }

        /// The lines once `count` have come (or the process ended).
        func wait(for count: Int, seconds: Double = 60) -> [String] {
            let deadline = Date().addingTimeInterval(seconds)
            while printed.count < count, Date() < deadline, process.isRunning || !reader.isFinished { usleep(5_000) }
            return printed
        }

        /// The exit status once the node ends by itself.
        func exitStatus(seconds: Double = 30) -> Int32? {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning, Date() < deadline { usleep(5_000) }
            return process.isRunning ? nil : process.terminationStatus
        }

        /// SIGTERM (if still running), then the exit status once its stdout is read to the end.
        func stop() -> Int32 {
            if process.isRunning { process.terminate() }
            let deadline = Date().addingTimeInterval(30)
            // Polled: waitUntilExit's run loop can miss a child that exits within microseconds.
            while process.isRunning, Date() < deadline { usleep(5_000) }
            while !reader.isFinished, Date() < deadline { usleep(1_000) }
            return process.terminationStatus
        }
    }

    /// The ready line's fields, checked.
    func ready(_ line: String, node: String, pid: Int32) throws -> [String: Any] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
        let ready = try #require(object["ready"] as? [String: Any], "\(line)")
        #expect(ready["node"] as? String == node)
        #expect(ready["pid"] as? Int == Int(pid))
        return ready
    }

    func final(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    }

    @Test func serveAndLinkPrintReadyThenTheirFinalLine() throws {
        let serve = try Node("serve", document: #"{"version":1,"node":"serve","spec":{"models":["sleep:1ms"],"port":0,"maxBatch":1}}"#)
        let serveLines = serve.wait(for: 1)
        let serveReady = try ready(try #require(serveLines.first, "serve printed nothing"), node: "serve", pid: serve.process.processIdentifier)
        let port = try #require(serveReady["port"] as? Int)
        #expect(port > 0 && serveReady["address"] as? String == "127.0.0.1")
        // A link to it, through which one real request goes.
        let link = try Node("link", document: #"{"version":1,"node":"link","spec":{"listen":"127.0.0.1:0","to":"127.0.0.1:\#(port)","profile":"test","settings":{"rtt":"2ms","uplink":"100mbit"},"seed":1}}"#)
        let linkReady = try ready(try #require(link.wait(for: 1).first, "link printed nothing"), node: "link", pid: link.process.processIdentifier)
        let linkPort = try #require(linkReady["port"] as? Int)
        let health = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(linkPort)/v2/health/ready"])
        #expect(health.stdout == "200")
        #expect(link.stop() == 0)
        let linkLines = link.printed
        #expect(linkLines.count == 2, "\(linkLines)")
        let counters = try #require(try final(linkLines.last ?? "")["report"] as? [String: Any], "\(linkLines)")
        #expect(counters["connectionsAccepted"] as? Int == 1 && counters["profile"] as? String == "test")
        #expect(serve.stop() == 0)
        let lines = serve.printed
        #expect(lines.count == 2, "\(lines)")
        #expect(try final(lines.last ?? "")["report"] != nil, "\(lines)")
    }

    /// The broker node: its ready line names the port its Mosquitto listens on, a real MQTT client
    /// gets in, and stopping the node stops the broker (saving its state) — no mosquitto left.
    @Test(.enabled(if: MosquittoBroker.executable != nil, "needs Debian's mosquitto")) func brokerPrintsReadyAndTakesItsMosquittoWithIt() throws {
        let folder = temporaryPath("broker-node")
        let broker = try Node("broker", document: #"{"version":1,"node":"broker","spec":{"folder":"\#(folder)","port":0}}"#)
        let brokerReady = try ready(try #require(broker.wait(for: 1).first, "broker printed nothing"), node: "broker", pid: broker.process.processIdentifier)
        let port = try #require(brokerReady["port"] as? Int)
        let client = try MQTTClient(id: "contract-test", endpoint: MQTTEndpoint(host: "127.0.0.1", port: port), persistent: false, handlers: MQTTClient.Handlers())
        try client.connect(timeout: .seconds(5))
        #expect(client.isConnected)
        client.close()
        #expect(broker.stop() == 0)
        let lines = broker.printed
        let last = try final(lines.last ?? "")
        #expect(lines.count == 2 && last["report"] != nil, "\(lines)")
        #expect(FileManager.default.fileExists(atPath: folder + "/mosquitto.db"), "the broker saves its state when stopped")
        let left = try run("/usr/bin/pgrep", ["-f", folder])
        #expect(left.stdout.isEmpty, "left running: \(left.stdout)")
    }

    @Test func agentPrintsReadyThenItsReport() throws {
        let agent = try Node("agent", document: #"{"version":1,"node":"agent","spec":{"config":{"model":"squeezenet1_1","placement":"edge","workload.fps":"20","workload.duration":"0.5s","workload.warmup":"0s","workload.resolution":"64x48"}}}"#)
        let lines = agent.wait(for: 2, seconds: 120)
        #expect(agent.exitStatus() == 0)
        #expect(lines.count == 2, "\(lines)")
        _ = try ready(try #require(lines.first), node: "agent", pid: agent.process.processIdentifier)
        let last = try #require(lines.last)
        let report = try #require(try final(last)["report"] as? [String: Any], "\(lines)")
        let run = try #require(report["run"] as? [String: Any])
        #expect((run["processed"] as? Int ?? 0) >= 5, "20 fps for 0.5 s")
        #expect(report["model"] as? String == "squeezenet1_1")
    }

    /// A wrong version, a malformed document and a document for another node: one `error:` line on
    /// stderr, the same reason as the final `{"error": …}` line on stdout, exit ≠ 0, no ready line.
    @Test(arguments: [
        ("serve", #"{"version":2,"node":"serve","spec":{}}"#, "has version 2; this edgeinsight reads version 1"),
        ("serve", #"{"version":1,"node":"serve","spec":{"port":70000}}"#, "--port must be 0–65535"),
        ("serve", #"{"version":1,"node":"serve","spec":{"port":"eighty"}}"#, "spec.port: "),
        ("link", #"{"version":1,"node":"link","spec":{"to":"#, "bad node document -: not valid JSON"),
        ("agent", #"{"version":1,"node":"serve","spec":{}}"#, "is for node 'serve', not 'agent'"),
        ("agent", #"{"node":"agent","spec":{}}"#, "no 'version' field"),
        ("agent", #"{"version":1,"node":"agent","spec":{"config":{"workload.queue":"0"}}}"#, "spec.config: 'workload.queue' must be an integer in 1…10000"),
        ("link", #"{"version":1,"node":"link","spec":{"to":"127.0.0.1:1","profile":"x","settings":{"loss":"banana"},"seed":1}}"#, "'loss' must be a percentage"),
    ])
    func aBadDocumentIsOneLineErrorAndNonZeroExit(node: String, document: String, mentions: String) throws {
        let started = try Node(node, document: document)
        _ = started.wait(for: 1, seconds: 30)
        let status = started.exitStatus()
        _ = started.stop()
        let lines = started.printed
        #expect(status != 0)
        #expect(lines.count == 1, "\(lines)")
        let error = try #require(try final(lines.first ?? "{}")["error"] as? String, "\(lines)")
        #expect(error.contains(mentions), "\(error)")
    }
}
