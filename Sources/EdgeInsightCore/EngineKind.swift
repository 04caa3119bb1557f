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
}
