import Foundation

/// What a zoo model is, what it costs, and what the trained architecture is reported to achieve.
public struct ModelCard: Sendable, Codable {
    public var name: String
    public var summary: String
    public var resolution: Int?
    public var parameters: Int
    public var macs: Int
    public var weightBytes: Int
    public var activationBytes: Int
    public var published: PublishedFigures?
    public var weights = "seeded random (not trained): speed and size match the trained model; accuracy does not"

    /// Builds the card of a zoo model from an analysis of the model itself.
    public init(model: ZooModel, resolution: Int, analysis: ModelAnalysis) {
        name = model.name
        summary = model.summary
        self.resolution = model.isImageClassifier ? resolution : nil
        parameters = analysis.parameters
        macs = analysis.macs
        weightBytes = analysis.weightBytes
        activationBytes = analysis.activationBytes
        published = model.published
    }
}
