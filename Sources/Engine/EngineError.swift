/// Everything that can go wrong loading, compiling or running a model; each message is one actionable line.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case openVINONotFound(searched: [String])
    case openVINOUnusable(path: String, reason: String)
    case libraryNotFound(engine: String, searched: [String], install: String)
    case libraryUnusable(engine: String, path: String, reason: String)
    case modelNotFound(String)
    case unreadableModel(path: String, reason: String)
    case badShape(String)
    case dynamicShape(input: String, shape: String)
    case compileFailed(String)
    case inferenceFailed(String)
    case invalidSetting(String)

    public var description: String {
        switch self {
        case .openVINONotFound(let searched):
            "OpenVINO not found (looked in: \(searched.joined(separator: ", "))); run scripts/setup, or set EDGEINSIGHT_OPENVINO to a folder holding libopenvino_c.so.<version>"
        case .openVINOUnusable(let path, let reason):
            "cannot load OpenVINO from \(path): \(reason); run scripts/setup to reinstall it"
        case .libraryNotFound(let engine, let searched, let install):
            "\(engine) not found (looked in: \(searched.joined(separator: ", "))); \(install)"
        case .libraryUnusable(let engine, let path, let reason):
            "cannot load \(engine) from \(path): \(reason); run scripts/setup to rebuild it"
        case .modelNotFound(let path):
            "model file not found: \(path)"
        case .unreadableModel(let path, let reason):
            "cannot read model \(path): \(reason)"
        case .badShape(let message):
            "bad input shape: \(message)"
        case .dynamicShape(let input, let shape):
            "input '\(input)' has dynamic dimensions \(shape); give its shape"
        case .compileFailed(let reason):
            "cannot compile model: \(reason)"
        case .inferenceFailed(let reason):
            "inference failed: \(reason)"
        case .invalidSetting(let message):
            "invalid engine setting: \(message)"
        }
    }
}
