import EdgeInsightCore
import Foundation
import Results

/// How far predictions are from measurements, metric by metric.
public struct Validation: Sendable {
    /// One metric's errors over the trials compared.
    public struct MetricError: Sendable {
        public var metric: Metric
        public var trials: Int
        /// Mean absolute percentage error.
        public var mape: Double
        public var within10: Double
        public var within20: Double
        /// Share of the trials whose measurement lies in the prediction's 90% interval (what 90% of
        /// simulated trials of that length report); nil when the predictions have no band.
        public var insideBand: Double?
    }

    /// One trial, predicted beside measured.
    public struct Pair: Sendable {
        public var trial: TrialRecord
        public var prediction: PerformanceModel.Prediction
        /// Relative error (predicted − measured) / measured of a metric.
        public func error(_ metric: Metric) -> Double? {
            guard let measured = trial.metric(metric), measured > 0, let predicted = prediction.metric(metric) else { return nil }
            return (predicted - measured) / measured
        }
        /// Whether the measured value lies in the prediction's 90% interval.
        public func insideBand(_ metric: Metric) -> Bool? {
            let names = Metric.band(metric)
            guard let measured = trial.metric(metric), let low = prediction.metric(names.low), let high = prediction.metric(names.high) else { return nil }
            return (low...high).contains(measured)
        }
        /// The stage whose predicted mean is furthest from the measured one, and by how much (ms).
        public var worstStage: (stage: Stage, ms: Double)? {
            prediction.stages.compactMap { predicted -> (Stage, Double)? in
                guard let measured = trial.stages.first(where: { $0.stage == predicted.stage }) else { return nil }
                return (predicted.stage, predicted.meanMs - measured.meanMs)
            }.max { abs($0.1) < abs($1.1) }
        }
    }

    public static let metrics: [Metric] = [.throughput, .latencyP50, .latencyP99]

    public var pairs: [Pair]
    public var errors: [MetricError]
    /// Trials the model cannot predict (a framework or placement it has no trials of), by reason.
    public var unpredicted: [String: Int] = [:]

    /// The errors of `pairs` on each metric.
    init(_ pairs: [Pair], unpredicted: [String: Int] = [:]) {
        self.pairs = pairs
        self.unpredicted = unpredicted
        errors = Self.metrics.map { metric in
            let errors = pairs.compactMap { $0.error(metric) }.map(abs)
            let n = Double(max(1, errors.count))
            let inside = pairs.compactMap { $0.insideBand(metric) }
            return MetricError(metric: metric, trials: errors.count, mape: 100 * errors.reduce(0, +) / n,
                               within10: Double(errors.filter { $0 <= 0.1 }.count) / n, within20: Double(errors.filter { $0 <= 0.2 }.count) / n,
                               insideBand: inside.isEmpty ? nil : Double(inside.filter { $0 }.count) / Double(inside.count))
        }
    }

    /// Predicts each finished trial (with a configuration) and compares; trials the model cannot
    /// predict are counted by reason, and only when none is left is that an error.
    public static func run(_ model: PerformanceModel, on trials: [TrialRecord]) throws(ModelingError) -> Validation {
        let measured = trials.filter(\.ok)
        guard !measured.isEmpty else { throw .insufficientData("no finished trials to validate against") }
        let predictions = model.predict(measured.map(\.config))
        let unpredicted = try PerformanceModel.unpredicted(predictions)
        let pairs = zip(measured, predictions).compactMap { trial, predicted in (try? predicted.get()).map { Pair(trial: trial, prediction: $0) } }
        return Validation(pairs, unpredicted: unpredicted)
    }

    /// The pairs furthest off on `metric`, worst first.
    public func worst(_ metric: Metric, count: Int = 5) -> [Pair] {
        Array(pairs.filter { $0.error(metric) != nil }.sorted { abs($0.error(metric)!) > abs($1.error(metric)!) }.prefix(count))
    }

    /// Fits on the trials whose settings do not all match `heldOut` and predicts those that do:
    /// how well the model does on configurations it never saw.
    public static func heldOut(_ trials: [TrialRecord], matching heldOut: [String: String], environment: [String: String], run: String,
                               includeUnstable: Bool) throws(ModelingError) -> Validation {
        func held(_ trial: TrialRecord) -> Bool {
            let parameters = trial.config.parameters
            return heldOut.allSatisfy { parameters[$0.key] == $0.value }
        }
        let (model, _) = try PerformanceModel.fit(trials.filter { !held($0) }, environment: environment, runs: [run], includeUnstable: includeUnstable)
        return try Validation.run(model, on: trials.filter(held))
    }

    /// The same validation restricted to the pairs of one model.
    public func only(model: String) -> Validation { Validation(pairs.filter { $0.prediction.config.model == model }) }

    /// K-fold cross-validation: each fold predicted by a model fitted on the others. Folds are
    /// of configurations, not trials: every repetition of one configuration sits in the same
    /// fold, so no fold is predicted by a model that has measured its own configuration.
    public static func crossValidate(_ trials: [TrialRecord], folds: Int, environment: [String: String], run: String,
                                     includeUnstable: Bool) throws(ModelingError) -> Validation {
        guard folds >= 2 else { throw .insufficientData("cross-validation needs at least 2 folds") }
        let ordered = trials.filter(\.ok)
        // Each configuration takes the next fold in the order it first appears; its trials follow it.
        var configurations: [TrialConfig] = []
        let fold = ordered.map { trial -> Int in
            let config = trial.config.normalized
            if let known = configurations.firstIndex(of: config) { return known % folds }
            configurations.append(config)
            return (configurations.count - 1) % folds
        }
        guard configurations.count >= folds else {
            throw .insufficientData("\(folds) folds need at least \(folds) configurations; the run has \(configurations.count)")
        }
        var pairs: [Pair] = []
        for index in 0..<folds {
            let test = zip(ordered, fold).filter { $0.1 == index }.map(\.0)
            let train = zip(ordered, fold).filter { $0.1 != index }.map(\.0)
            let (model, _) = try PerformanceModel.fit(train, environment: environment, runs: [run], includeUnstable: includeUnstable)
            pairs += try Validation.run(model, on: test).pairs
        }
        return Validation(pairs)
    }
}
