import Broker
import EdgeInsightCore
import Foundation
import InferenceProtocol
import NIOCore

/// Where the cloud node takes requests from a broker as well as over HTTP (`serve --mqtt URL`).
public struct BrokerSubscription: Sendable, Codable, Equatable {
    public var endpoint: MQTTEndpoint
    public var qos = 1
    /// The consumer's client id: the same id after a restart resumes its session at the broker.
    public var consumerID: String

    public init(endpoint: MQTTEndpoint, qos: Int = 1, consumerID: String = "edgeinsight-consumer-\(ProcessInfo.processInfo.hostName)") {
        self.endpoint = endpoint
        self.qos = qos
        self.consumerID = consumerID
    }
}

extension InferenceServer {
    /// Joins the shared subscription of every model this server has and answers each request
    /// message as the infer endpoint would: the message is the request body, its user property
    /// `Inference-Header-Content-Length` the binary extension's header; the answer's payload is
    /// the response body, with its status and header length as user properties.
    public func consume(_ subscription: BrokerSubscription) throws(BrokerError) -> MQTTResponder {
        let filters = repository.names.map { MQTTTopics.consumer(model: $0) }
        return try MQTTResponder(endpoint: subscription.endpoint, id: subscription.consumerID, filters: filters, qos: subscription.qos) { [self] message in
            let reply: Reply
            if let name = MQTTTopics.model(ofFrameTopic: message.topic), let model = repository.models[name] {
                if message.payload.count > options.maxBodyBytes {
                    reply = errorReply(ProtocolError(413, "request body larger than \(options.maxBodyBytes) bytes"))
                } else {
                    reply = await infer(model, body: ByteBuffer(bytes: message.payload), headerLength: message.properties[InferenceCodec.headerLengthField])
                }
            } else {
                reply = errorReply(ProtocolError.notFound("no model for topic '\(message.topic)'; this server has \(repository.names.joined(separator: ", "))"))
            }
            var user: [(name: String, value: String)] = [(MQTTResponder.statusProperty, String(reply.status))]
            if let length = reply.headers.first(name: InferenceCodec.headerLengthField) { user.append((InferenceCodec.headerLengthField, length)) }
            return (Array(reply.body.readableBytesView), user)
        }
    }
}
