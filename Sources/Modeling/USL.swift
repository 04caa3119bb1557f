import Foundation

/// The Universal Scalability Law: throughput at concurrency N is
/// X(N) = λN / (1 + σ(N − 1) + κN(N − 1)), with λ the throughput of one, σ contention (queueing
/// for a shared resource) and κ coherency (crosstalk that makes more concurrency slower). κ = 0 is
/// Amdahl's law; with κ > 0 throughput peaks at N* = √((1 − σ)/κ).
public struct USLModel: Sendable, Codable, Equatable {
    public var lambda: Double
    public var sigma: Double
    public var kappa: Double

    public init(lambda: Double, sigma: Double, kappa: Double) {
        self.lambda = lambda
        self.sigma = sigma
        self.kappa = kappa
    }

    public func throughput(_ n: Double) -> Double { lambda * n / (1 + sigma * (n - 1) + kappa * n * (n - 1)) }

    /// The concurrency of peak throughput; nil when throughput only rises (κ = 0).
    public var peakConcurrency: Double? { kappa > 0 ? ((1 - sigma) / kappa).squareRoot() : nil }
}

/// A USL fit with its 95% confidence intervals.
public struct USLFit: Sendable, Codable, Equatable {
    public var model: USLModel
    /// Lower and upper bound of each parameter (λ, σ, κ), clipped to where the parameter may lie.
    public var lambdaInterval: ClosedRange<Double>
    public var sigmaInterval: ClosedRange<Double>
    public var kappaInterval: ClosedRange<Double>
    public var rmse: Double
    public var points: Int

    /// Fits (concurrency, throughput) points by nonlinear least squares with σ, κ ∈ [0, 1] and
    /// λ ≥ 0 (projected Levenberg–Marquardt, started from λ = max X/N and a few σ, κ): never the
    /// linearised quadratic, which can give κ < 0. Intervals from the covariance s²(JᵀJ)⁻¹ at the
    /// optimum with Student's t on n − 3 degrees of freedom.
    public static func fit(_ points: [(concurrency: Double, throughput: Double)]) throws(ModelingError) -> USLFit {
        guard points.count >= 6 else {
            throw .insufficientData("a USL fit needs at least 6 (concurrency, throughput) points, got \(points.count)")
        }
        guard points.allSatisfy({ $0.concurrency >= 1 && $0.throughput > 0 && $0.throughput.isFinite }) else {
            throw .insufficientData("USL points need concurrency ≥ 1 and a positive throughput")
        }
        guard Set(points.map(\.concurrency)).count >= 3 else { throw .insufficientData("a USL fit needs at least 3 different concurrencies") }
        let lambda0 = points.map { $0.throughput / $0.concurrency }.max()!
        var best: (theta: [Double], sse: Double)?
        for sigma0 in [0.01, 0.1, 0.5] {
            for kappa0 in [0.0001, 0.001, 0.01] {
                let solution = levenbergMarquardt(points, start: [lambda0, sigma0, kappa0])
                if best == nil || solution.sse < best!.sse { best = solution }
            }
        }
        let theta = best!.theta, sse = best!.sse
        let n = points.count
        let jacobian = points.map { gradient(theta, $0.concurrency) }
        var jtj = [[Double]](repeating: [0, 0, 0], count: 3)
        for row in jacobian { for i in 0..<3 { for j in 0..<3 { jtj[i][j] += row[i] * row[j] } } }
        let s2 = sse / Double(n - 3)
        let t = studentT95(n - 3)
        // A parameter pinned at its bound (κ = 0 on Amdahl-like data) has no curvature of its own:
        // its interval is what the others' covariance allows, from the bound.
        let covariance = LinearFit.invert(jtj) ?? [[Double]](repeating: [0, 0, 0], count: 3)
        func interval(_ i: Int, _ bounds: ClosedRange<Double>) -> ClosedRange<Double> {
            let half = t * (s2 * max(0, covariance[i][i])).squareRoot()
            return max(bounds.lowerBound, theta[i] - half)...min(bounds.upperBound, theta[i] + half)
        }
        return USLFit(model: USLModel(lambda: theta[0], sigma: theta[1], kappa: theta[2]),
                      lambdaInterval: interval(0, 0...Double.greatestFiniteMagnitude), sigmaInterval: interval(1, 0...1), kappaInterval: interval(2, 0...1),
                      rmse: (sse / Double(n)).squareRoot(), points: n)
    }

    /// ∂X/∂(λ, σ, κ) at concurrency n.
    static func gradient(_ theta: [Double], _ n: Double) -> [Double] {
        let (lambda, sigma, kappa) = (theta[0], theta[1], theta[2])
        let d = 1 + sigma * (n - 1) + kappa * n * (n - 1)
        return [n / d, -lambda * n * (n - 1) / (d * d), -lambda * n * n * (n - 1) / (d * d)]
    }

    static func levenbergMarquardt(_ points: [(concurrency: Double, throughput: Double)], start: [Double]) -> (theta: [Double], sse: Double) {
        func clamp(_ theta: [Double]) -> [Double] { [max(0, theta[0]), min(1, max(0, theta[1])), min(1, max(0, theta[2]))] }
        func sse(_ theta: [Double]) -> Double {
            let model = USLModel(lambda: theta[0], sigma: theta[1], kappa: theta[2])
            return points.reduce(0) { $0 + pow($1.throughput - model.throughput($1.concurrency), 2) }
        }
        var theta = clamp(start), current = sse(theta), mu = 1e-3
        for _ in 0..<500 {
            var jtj = [[Double]](repeating: [0, 0, 0], count: 3)
            var jtr = [0.0, 0.0, 0.0]
            let model = USLModel(lambda: theta[0], sigma: theta[1], kappa: theta[2])
            for point in points {
                let g = gradient(theta, point.concurrency)
                let r = point.throughput - model.throughput(point.concurrency)
                for i in 0..<3 {
                    jtr[i] += g[i] * r
                    for j in 0..<3 { jtj[i][j] += g[i] * g[j] }
                }
            }
            var improved = false
            while mu < 1e12 {
                var damped = jtj
                for i in 0..<3 { damped[i][i] += mu * max(jtj[i][i], 1e-12) }
                guard let inverse = LinearFit.invert(damped) else { mu *= 10; continue }
                let step = (0..<3).map { i in (0..<3).reduce(0) { $0 + inverse[i][$1] * jtr[$1] } }
                let candidate = clamp(zip(theta, step).map(+))
                let value = sse(candidate)
                if value < current {
                    let gain = (current - value) / max(current, 1e-300)
                    theta = candidate
                    current = value
                    mu = max(mu / 10, 1e-12)
                    improved = gain > 1e-12
                    break
                }
                mu *= 10
            }
            if !improved { break }
        }
        return (theta, current)
    }

    /// Reads (concurrency, throughput) from a concurrency sweep's CSV: `edgeinsight load --csv` or
    /// perf_analyzer's, whose columns include `Concurrency` and `Inferences/Second`.
    public static func points(csv text: String, source: String) throws(ModelingError) -> [(concurrency: Double, throughput: Double)] {
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard let header = lines.first?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }),
              let c = header.firstIndex(of: "Concurrency"), let x = header.firstIndex(of: "Inferences/Second") else {
            throw .insufficientData("\(source): no 'Concurrency' and 'Inferences/Second' columns (a load --csv or perf_analyzer CSV of a concurrency sweep)")
        }
        var points: [(concurrency: Double, throughput: Double)] = []
        for (number, line) in lines.enumerated().dropFirst() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > max(c, x), let n = Double(cells[c]), let throughput = Double(cells[x]) else {
                throw .insufficientData("\(source):\(number + 1): expected numbers in the Concurrency and Inferences/Second columns")
            }
            points.append((n, throughput))
        }
        return points
    }
}
