/// Errors of fitting and predicting; one line each, saying what to do.
public enum ModelingError: Error, CustomStringConvertible, Equatable {
    /// The data cannot support the fit (too few points, a singular design).
    case insufficientData(String)
    /// A model file that cannot be used.
    case badModelFile(String)
    /// A configuration the model cannot predict.
    case cannotPredict(String)

    public var description: String {
        switch self {
        case .insufficientData(let message), .badModelFile(let message), .cannotPredict(let message): message
        }
    }
}
