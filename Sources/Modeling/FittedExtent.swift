import EdgeInsightCore

/// What a model was fitted across, dimension by dimension: a prediction outside it is an
/// extrapolation, and says so with the dimension (instead of guessing silently).
public struct FittedExtent: Sendable, Codable, Equatable {
    /// The dimensions a user sweeps that the components are fitted against (a frame rate is not
    /// one: the simulation queues any rate through the same stage times).
    public enum Dimension: String, Sendable, Codable, CaseIterable {
        case megapixels, jpegQuality = "jpeg_quality", gmacs, deviceCores = "device_cores", deviceThreads = "device_threads"

        /// This dimension's value for a configuration whose model has `features`.
        func value(_ config: TrialConfig, _ features: ModelFeatures) -> Double {
            switch self {
            case .megapixels: Double(config.workload.resolution.pixels) / 1e6
            case .jpegQuality: Double(config.workload.jpegQuality)
            case .gmacs: features.macs / 1e9
            case .deviceCores: config.device.cpu
            case .deviceThreads: Double(config.device.threads)
            }
        }
    }

    public var ranges: [Dimension: ClosedRange<Double>] = [:]
    /// The placements it has trials of.
    public var placements: Set<Placement> = []

    /// The extent of the trials (configurations with their models' features).
    static func of(_ trials: [(TrialConfig, ModelFeatures)]) -> FittedExtent {
        var extent = FittedExtent()
        for (config, features) in trials {
            extent.placements.insert(config.placement)
            for dimension in Dimension.allCases {
                let value = dimension.value(config, features)
                extent.ranges[dimension] = extent.ranges[dimension].map { min($0.lowerBound, value)...max($0.upperBound, value) } ?? value...value
            }
        }
        return extent
    }

    /// Each dimension of `config` outside the extent, as `megapixels 8.29 (fitted 0.08–0.92)`;
    /// 5% beyond an end still counts as inside (a measured value is never exactly the asked one).
    public func outside(_ config: TrialConfig, _ features: ModelFeatures) -> [String] {
        Dimension.allCases.compactMap { dimension in
            guard let range = ranges[dimension] else { return nil }
            let value = dimension.value(config, features)
            guard value < range.lowerBound * 0.95 || value > range.upperBound * 1.05 else { return nil }
            return "\(dimension.rawValue) \(UnitFormat.significant(value)) (fitted \(UnitFormat.significant(range.lowerBound))–\(UnitFormat.significant(range.upperBound)))"
        }
    }
}
