/// The timed steps of one item's journey; the same names in traces, results, CLI and reports.
public enum Stage: String, Sendable, Codable, CaseIterable {
    // `head` and `tail`: the partition placement's two parts of the network, the device's and the
    // cloud node's, each where it runs in the pipeline.
    // `publish` and `broker`: the mqtt transport's device → broker and broker → consumer hops.
    case capture, encode, preprocess, head, serialize, send, network, publish, broker, queue, infer, tail, postprocess, reply
}
