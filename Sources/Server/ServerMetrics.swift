import Prometheus

/// Prometheus metrics of the server (`/metrics`): requests by model and outcome, queue and compute
/// time histograms, batch sizes, requests in flight.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let inFlight: Gauge
    private let timeBuckets: [Duration] = [.microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                                           .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                           .milliseconds(500), .seconds(1), .seconds(2.5)]

    init() {
        inFlight = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "inflight", unitName: "requests", helpText: "Requests being served"))
    }

    func request(model: String, outcome: String) {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "requests", unitName: "total", helpText: "Infer requests by model and outcome"),
                             labels: [("model", model), ("outcome", outcome)]).increment()
    }

    func timings(model: String, queueNs: UInt64, computeNs: UInt64, batch: Int) {
        registry.makeDurationHistogram(descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "queue_duration", unitName: "seconds", helpText: "Time requests waited for an instance"),
                                       labels: [("model", model)], buckets: timeBuckets).recordNanoseconds(Int64(queueNs))
        registry.makeDurationHistogram(descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "compute_duration", unitName: "seconds", helpText: "Time a batch computed"),
                                       labels: [("model", model)], buckets: timeBuckets).recordNanoseconds(Int64(computeNs))
        registry.makeValueHistogram(descriptor: MetricNameDescriptor(namespace: "edgeinsight", metricName: "batch_size", unitName: "rows", helpText: "Rows per executed batch"),
                                    labels: [("model", model)], buckets: [1, 2, 4, 8, 16, 32, 64]).record(Double(batch))
    }

    func text() -> [UInt8] { registry.emitToBuffer() }
}
