/// The inference frameworks EdgeInsight runs, by the names users give them (`--engine`,
/// `device.engine`); the Engine module loads them.
public enum EngineKind: String, Sendable, Codable, CaseIterable {
    case openvino, opencv
}
