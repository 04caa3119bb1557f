/// The timed steps of one item's journey; the same names in traces, results, CLI and reports.
public enum Stage: String, Sendable, Codable, CaseIterable {
    case capture, encode, preprocess, serialize, send, network, broker, queue, infer, postprocess, reply
}
