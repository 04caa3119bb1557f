/// The timed steps of one item's journey; the same names in traces, results, CLI and reports.
public enum Stage: String, Sendable, Codable, CaseIterable {
    case capture, encode, preprocess, serialize, send, network, broker, queue, infer, postprocess, reply
    /// The partition placement's two parts of the network: the device's, and the cloud node's.
    case head, tail
}
