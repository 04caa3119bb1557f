import EdgeInsightCore

/// A linear fit over named features that uses the richest design the data can support: each
/// design is a list of feature names, tried from the first; one needs more distinct points than
/// coefficients and a non-singular design. A sweep that varies only one thing then still gets a
/// fit (a constant, or a proportional one), and says which it got.
public struct ScalingFit: Sendable, Codable, Equatable {
    public var features: [String]
    public var fit: LinearFit

    /// Fits `y` to the features of each sample (`value(name, sample)`), trying `designs` in order.
    /// A cost (`nonNegative`) has every coefficient ≥ 0; `intervals` adds each coefficient's 90%
    /// bootstrap interval over the samples.
    public static func fit(designs: [[String]], samples count: Int, value: (String, Int) -> Double, y: [Double],
                           what: String, nonNegative: Bool = false, intervals: Bool = false) throws(ModelingError) -> ScalingFit {
        var problems: [String] = []
        for design in designs {
            let rows = (0..<count).map { i in design.map { value($0, i) } }
            guard Set(rows.map { $0.description }).count >= design.count else {
                problems.append("\(design.joined(separator: " + ")) needs \(design.count) different points")
                continue
            }
            do {
                let fit = try LinearFit.fit(rows, y, nonNegative: nonNegative)
                return ScalingFit(features: design, fit: intervals ? fit.withInterval(rows, y, nonNegative: nonNegative) : fit)
            } catch {
                problems.append("\(error)")
            }
        }
        throw .insufficientData("\(what): no fit (\(problems.last ?? "no samples"))")
    }

    public func predict(_ value: (String) -> Double) -> Double { fit.predict(features.map(value)) }

    /// The fit as `c₀·f₀ + c₁·f₁ …`, for people, each coefficient with its unit and, when known,
    /// its 90% interval: `2.1e6 ns [1.9e6, 2.4e6]·megapixels`.
    public func formula(unit: String) -> String {
        var text = ""
        for (index, (c, f)) in zip(fit.coefficients, features).enumerated() {
            var term = [UnitFormat.coefficient(abs(c)), unit].filter { !$0.isEmpty }.joined(separator: " ")
            if let low = fit.low?[index], let high = fit.high?[index] {
                let sign = c < 0 ? -1.0 : 1.0
                let (a, b) = sign > 0 ? (low, high) : (-high, -low)
                term += " [\(UnitFormat.coefficient(a)), \(UnitFormat.coefficient(b))]"
            }
            term += f == "1" ? "" : "·\(f)"
            text += index == 0 ? (c < 0 ? "−" : "") + term : (c < 0 ? " − " : " + ") + term
        }
        return text
    }
}
