import ArgumentParser
import Broker
import EdgeInsightCore
import Foundation

/// `edgeinsight broker`: a Mosquitto broker as a node of its own (the mqtt transport's hop).
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
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

extension BrokerCommand: NodeCommand {}
