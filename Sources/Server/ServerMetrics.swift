import Prometheus

/// Prometheus metrics of the server (`/metrics`): requests by model and outcome, queue and compute
/// time histograms, batch sizes, requests in flight. Every handle is made once, at start: the
/// registry's lookups take a lock and allocate, which the request path should not pay.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let inFlight: Gauge
    private let perModel: [String: ModelMetrics]

    /// Outcomes a request can have, the `outcome` label.
    enum Outcome: String, CaseIterable {
        case success, badRequest = "bad_request", rejected, error
    }

    struct ModelMetrics: Sendable {
        let requests: [String: Counter]
        let queue: DurationHistogram
        let compute: DurationHistogram
        let batch: ValueHistogram
    }

    init(models: [String]) {
        let buckets: [Duration] = [.microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                                   .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                   .milliseconds(500), .seconds(1), .seconds(2.5)]
        let registry = registry
        inFlight = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "inflight", unitName: "requests", helpText: "Requests being served"))
        var perModel: [String: ModelMetrics] = [:]
        for model in models {
            let requests = Dictionary(uniqueKeysWithValues: Outcome.allCases.map { outcome in
                (outcome.rawValue, registry.makeCounter(
                    descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "requests", unitName: "total", helpText: "Infer requests by model and outcome"),
                    labels: [("model", model), ("outcome", outcome.rawValue)]))
            })
            perModel[model] = ModelMetrics(
                requests: requests,
                queue: registry.makeDurationHistogram(
                    descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "queue_duration", unitName: "seconds", helpText: "Time requests waited for an instance"),
                    labels: [("model", model)], buckets: buckets),
                compute: registry.makeDurationHistogram(
                    descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "compute_duration", unitName: "seconds", helpText: "Time a batch computed"),
                    labels: [("model", model)], buckets: buckets),
                batch: registry.makeValueHistogram(
                    descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "batch_size", unitName: "rows", helpText: "Rows per executed batch"),
                    labels: [("model", model)], buckets: [1, 2, 4, 8, 16, 32, 64]))
        }
        self.perModel = perModel
    }

    func request(model: String, outcome: Outcome) {
        perModel[model]?.requests[outcome.rawValue]?.increment()
    }

    func timings(model: String, queueNs: UInt64, computeNs: UInt64, batch: Int) {
        guard let metrics = perModel[model] else { return }
        metrics.queue.recordNanoseconds(Int64(queueNs))
        metrics.compute.recordNanoseconds(Int64(computeNs))
        metrics.batch.record(Double(batch))
    }

    func text() -> [UInt8] { registry.emitToBuffer() }
}
