/// The inference frameworks EdgeInsight runs, by the names users give them (`--engine`,
/// `device.engine`); the Engine module loads them.
public enum EngineKind: String, Sendable, Codable, CaseIterable {
    case openvino, opencv, litert
}

/// The model file formats: ONNX for OpenVINO and OpenCV DNN, TFLite for LiteRT (OpenVINO reads both).
public enum ModelFormat: String, Sendable, Codable, CaseIterable {
    case onnx, tflite
}

extension EngineKind {
    /// The format the engine takes a zoo model in.
    public var modelFormat: ModelFormat { self == .litert ? .tflite : .onnx }

    /// Where a trial ran, as tables and verdicts name it, from its settings: the placement, and
    /// when the node that infers (the device for `edge`, else the cloud node) runs another
    /// framework than OpenVINO, that framework too (`edge/litert`, `cloud-raw/opencv`), and a
    /// transport other than HTTP.
    public static func placementLabel(_ parameters: [String: String]) -> String {
        var placement = parameters["placement"] ?? "?"
        // A partition is named by its cut and an encoded activation: "partition@t61", "partition@t61:uint8".
        if let after = parameters["partition.after"] { placement += "@" + after }
        if let activation = parameters["partition.activation"], activation != ActivationEncoding.fp32.rawValue { placement += ":" + activation }
        // Through a broker: "cloud-raw via mqtt", "cloud-raw via mqtt qos0".
        if parameters["transport"] == Transport.mqtt.rawValue { placement += " via mqtt" + (parameters["mqtt.qos"] == "0" ? " qos0" : "") }
        guard let engine = parameters[parameters["placement"] == "edge" ? "device.engine" : "cloud.engine"], engine != EngineKind.openvino.rawValue else { return placement }
        return "\(placement)/\(engine)"
    }
}
