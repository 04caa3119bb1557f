import EdgeInsightCore
import ModelZoo

extension Experiment {
    /// A partition trial's cut exists (its head and tail are written into the cache once, here):
    /// before the first trial, not as a sweep of failed ones.
    static func checkCut(_ config: TrialConfig, path: String) throws(TestbedError) {
        guard let after = config.partition.after else {
            throw .badExperiment("\(path): placement partition needs partition.after: TENSOR (edgeinsight models inspect \(config.model) --cuts lists them)")
        }
        do { _ = try ModelCut.files(config.model, after: after, activation: config.partition.activation) } catch { throw .badExperiment("\(path): partition of \(config.model): \(error)") }
    }
}
