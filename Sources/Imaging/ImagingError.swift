/// Errors of decoding, pre-processing and sources; each message is one line a user can act on.
public enum ImagingError: Error, CustomStringConvertible, Equatable {
    case badJPEG(String)
    case encodeFailed(String)
    case badPipeline(String)
    case badSource(String)
    case sizeMismatch(String)

    public var description: String {
        switch self {
        case .badJPEG(let reason): "corrupt or unreadable JPEG: \(reason)"
        case .encodeFailed(let reason): "JPEG encoding failed: \(reason)"
        case .badPipeline(let reason): "bad pipeline: \(reason)"
        case .badSource(let reason): "bad source: \(reason)"
        case .sizeMismatch(let reason): "size mismatch: \(reason)"
        }
    }
}
