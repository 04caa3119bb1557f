import EdgeInsightCore
import Foundation
import Modeling
import Planner
import Results

/// What the demo does after its run, as library calls the `demo` command prints: a model fitted
/// on all but one corner of the sweep predicting that corner, and a plan from the same model.
public enum DemoWorkflow {
    /// The corner of the demo's sweep held out of the fit.
    public static let heldOut = ["workload.resolution": "1280x720", "workload.jpeg_quality": "90"]

    /// The held-out validation and one line per model: predicted beside measured p99.
    public static func heldOutPredictions(_ trials: [TrialRecord], run: RunSummary) throws(ModelingError) -> (validation: Validation, lines: [String]) {
        let validation = try Validation.heldOut(trials, matching: heldOut, environment: run.environment, run: run.name, includeUnstable: true)
        let fitted = trials.filter(\.ok).count - validation.pairs.count
        let lines = Set(validation.pairs.map(\.prediction.config.model)).sorted().map { model in
            "\(model): " + ModelText.heldOutLine(validation.only(model: model), what: "1280x720 q90, fitted on the other \(fitted) trials")
        }
        return (validation, lines)
    }

    /// What the held-out section of the report says.
    public static let heldOutSentence = "A model fitted on the other trials of this run predicts the held-out ones (1280x720 at JPEG quality 90) from their configuration alone."

    /// The demo plan (`plan`, examples/plan-latency.yaml) searched with a model fitted on the whole
    /// run, among the models the run measured.
    public static func plan(_ plan: Plan, trials: [TrialRecord], run: RunSummary) throws -> PlanResult {
        let (model, _) = try PerformanceModel.fit(trials, environment: run.environment, runs: [run.name], includeUnstable: true)
        var plan = plan
        let measured = Set(trials.filter(\.ok).map(\.config.model))
        plan.models = plan.models.filter(measured.contains)
        return try Planner.search(plan, model: model, catalog: try Catalog.load())
    }
}
