import ArgumentParser
import Broker
import EdgeInsightCore
import Foundation

/// `edgeinsight broker`: a Mosquitto broker as a node of its own (the mqtt transport's hop), and
/// how fast our path through a broker moves frames.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run a Mosquitto broker as a node, or measure our publish → broker → consumer path.",
        subcommands: [BrokerRun.self, BrokerThroughput.self], defaultSubcommand: BrokerRun.self)
}

/// `edgeinsight broker run` (the default): the broker node.
struct BrokerRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Mosquitto broker as a node: configuration written for it, persistence in its folder, stopped with the node.",
        discussion: """
            The broker listens on one address (port 0 picks a free one, printed in the ready line),
            lets clients in without a password, keeps QoS 1 messages and persistent sessions in its
            folder across restarts, and stops (saving them) when the node stops.

            Example:
              edgeinsight broker --port 1883 --folder /tmp/broker
            """)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port (0 picks a free one).")
    var port = 1883

    @Option(help: "Folder of the broker's configuration, log and persistence file (default: a new one under the system's temporary folder).")
    var folder: String?

    @Option(help: "The node document (docs/nodes.md), a file or - for standard input; the flags above are then ignored.")
    var config: String?

    func run() async throws {
        let settings = try config.map { try NodeSpec<MosquittoBroker.Settings>.read($0, as: .broker).spec }
            ?? MosquittoBroker.Settings(folder: folder ?? NSTemporaryDirectory() + "edgeinsight-broker-\(getpid())", host: host, port: port)
        let stop = StopSignal()
        let broker = try MosquittoBroker(settings)
        NodeLine<NodeStopped>.ready(NodeReady(node: .broker, address: settings.host, port: broker.port)).write()
        FileHandle.standardError.write(Data("broker (mosquitto pid \(broker.pid ?? 0)) on \(broker.endpoint), persistence in \(settings.folder)\n".utf8))
        await stop.wait()
        broker.stop()
        NodeLine<NodeStopped>.report(NodeStopped()).write()
    }
}

extension BrokerRun: NodeCommand {}

/// `edgeinsight broker throughput`: frames per second of our broker path (benchmarks/mqtt-throughput).
struct BrokerThroughput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "Publish COUNT payloads through a broker to a consumer of ours that answers each, and print frames/s and latency.",
        discussion: "The path of a trial's frames (requester → broker → consumer → reply) without inference. Example: edgeinsight broker throughput --url mqtt://127.0.0.1:1883 --payload frame.jpg --count 2000")

    @Option(help: "The broker, mqtt://HOST:PORT.")
    var url: String
    @Option(help: "A file whose bytes are each message's payload.")
    var payload: String
    @Option(help: "Messages to send.")
    var count = 1000
    @Option(help: "Messages waiting for their answer at a time.")
    var inflight = 20
    @Option(help: "QoS: 0 or 1.")
    var qos = 1
    @Flag(help: "One way: publish back to back to a subscriber that counts (as mosquitto_pub/mosquitto_sub), no answers.")
    var oneWay = false
    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        guard let bytes = FileManager.default.contents(atPath: payload) else { throw ValidationError("cannot read --payload \(payload)") }
        guard count > 0, inflight > 0 else { throw ValidationError("--count and --inflight must be at least 1") }
        let endpoint = try MQTTEndpoint(parsing: url)
        let result = oneWay ? try MQTTThroughput.oneWay(endpoint, payload: Array(bytes), count: count, qos: qos)
            : try MQTTThroughput.measure(endpoint, payload: Array(bytes), count: count, inflight: inflight, qos: qos)
        if json { print(try prettyJSON(result)); return }
        print("\(result.frames) frames of \(Bytes(Int64(bytes.count))) in \(String(format: "%.2f", result.seconds)) s: \(String(format: "%.0f", result.framesPerSecond)) frames/s, p50 \(String(format: "%.2f", result.p50Ms)) ms, p99 \(String(format: "%.2f", result.p99Ms)) ms, \(result.lost) lost")
    }
}
