import EdgeInsightCore
import ModelZoo

extension ModelFeatures {
    /// The features of a zoo model (at its 224 input) or an ONNX file, from the analyzer.
    public static func of(_ model: String) throws(ModelingError) -> ModelFeatures {
        do {
            let file = try ModelZoo.resolve(model)
            let analysis = try ModelAnalyzer.analyze(file: file.path)
            let input = analysis.inputs.first?.shape ?? [1, 3, 224, 224]
            let side = input.count == 4 ? (input[1] == 3 ? input[2] : input[1]) : 224
            return ModelFeatures(macs: Double(analysis.macs), weightBytes: Double(analysis.weightBytes),
                                 activationBytes: Double(analysis.activationBytes), inputElements: input.reduce(1) { $0 * max(1, $1) }, inputSide: side,
                                 family: (try? ModelZoo.model(named: model))?.family)
        } catch {
            throw .cannotPredict("cannot analyze model '\(model)': \(error)")
        }
    }
}
