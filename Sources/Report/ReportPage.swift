import EdgeInsightCore
import Foundation
import Modeling
import Planner
import Results

/// What a report shows: a run and its trials, and optionally how well a model predicts them and a
/// plan made from it.
public struct ReportContent: Sendable {
    public var run: RunSummary
    public var trials: [TrialRecord]
    /// Predictions beside the measurements, and a sentence saying what was predicted from what.
    public var validation: (Validation, String)?
    public var plan: PlanResult?

    public init(run: RunSummary, trials: [TrialRecord], validation: (Validation, String)? = nil, plan: PlanResult? = nil) {
        self.run = run
        self.trials = trials
        self.validation = validation
        self.plan = plan
    }
}

/// The report of a run as one self-contained HTML page: inline SVG and CSS and a few lines of
/// script (sortable tables), nothing fetched. The answer comes first (the verdicts), then where the
/// time goes, how the metrics move with each swept setting, how far to trust a model, the plan, and
/// every trial. Every number in the trials table carries its raw value (`data-value`), so the page
/// can be read back and checked against the database.
public enum ReportPage {
    public static func html(_ content: ReportContent) -> String {
        let run = content.run
        let ok = content.trials.filter(\.ok)
        var body = header(content)

        body += "<section id=\"answer\"><h2>The answer</h2>\n"
        let verdicts = Verdicts.placements(content.trials)
        if verdicts.isEmpty {
            body += "<p>No trial finished, so there is nothing to compare.</p>\n"
        } else {
            body += "<ul class=\"verdicts\">" + verdicts.map { "<li>\(escape($0.sentence))</li>" }.joined() + "</ul>\n"
        }
        for model in Set(ok.compactMap { $0.parameters["model"] }).sorted() {
            if let check = RunSummaryTable.confinementCheck(ok, model: model) {
                body += "<p class=\"note\">\(escape(model)): inference takes \(UnitFormat.significant(check.edgeMs)) ms on the edge node and \(UnitFormat.significant(check.cloudMs)) ms on the cloud node (\(UnitFormat.significant(check.edgeMs / check.cloudMs))×).</p>\n"
            }
        }
        body += "</section>\n"

        let groups = StageChart.groups(content.trials)
        if !groups.isEmpty {
            body += "<section id=\"stages\"><h2>Where the time goes</h2>\n<figure>\(StageChart.svg(groups, title: "Stage breakdown per model, placement and link"))</figure></section>\n"
        }

        // A partition sweep: where to cut, per model and link.
        let partitioned = Dictionary(grouping: ok.filter { $0.config.placement == .partition }) { $0.config.model }
        if !partitioned.isEmpty {
            body += "<section id=\"cuts\"><h2>Where to cut the network</h2>\n"
            for (model, trials) in partitioned.sorted(by: { $0.key < $1.key }) {
                let order = PartitionChart.order(of: model)
                for (link, columns) in PartitionChart.columns(trials, order: order, predictions: content.validation?.0.pairs ?? []).sorted(by: { $0.key < $1.key }) {
                    body += "<figure>\(PartitionChart.svg(columns, link: link, model: model))</figure>\n"
                }
            }
            body += "</section>\n"
        }

        body += "<section id=\"sweeps\"><h2>Against each swept setting</h2>\n"
        for chart in sweepCharts(ok, run: run.name) { body += "<figure>\(chart)</figure>\n" }
        body += "</section>\n"

        let behind = ok.filter { ($0.metric(.framesDropped) ?? 0) > 0 && $0.windows.count > 1 }
            .sorted { ($0.metric(.framesDropped) ?? 0) > ($1.metric(.framesDropped) ?? 0) }.prefix(3)
        if !behind.isEmpty {
            body += "<section id=\"timelines\"><h2>Where it fell behind</h2>\n<p>The trials that dropped the most frames, window by window.</p>\n"
            for trial in behind { body += "<figure>\(timeline(trial))</figure>\n" }
            body += "</section>\n"
        }

        if let (validation, what) = content.validation {
            body += modelSection(validation, what: what)
        }
        if let plan = content.plan {
            body += "<section id=\"plan\"><h2>The plan</h2>\n<pre>\(escape(PlanText.render(plan)))</pre>\n<figure>\(PlanChart.costAgainstP99(plan))</figure>\n"
            body += "<figure>\(PlanChart.costAgainstCameras(plan))</figure>\n"
            if let model = (plan.recommended ?? plan.ranked.first)?.candidate.config.model, let uplink = PlanChart.p99AgainstUplink(plan, model: model) {
                body += "<figure>\(uplink)</figure>\n"
            }
            body += "</section>\n"
        }
        body += trialsTable(content.trials)
        return page(title: "EdgeInsight report: \(run.name)", body: body)
    }

    // MARK: Sections

    private static func header(_ content: ReportContent) -> String {
        let run = content.run
        let seconds = content.trials.reduce(0) { $0 + $1.seconds }
        let started = ISO8601DateFormatter().string(from: run.startedAt)
        var rows = [
            ("experiment", run.experiment),
            ("started", started),
            ("trials", "\(run.trials) (\(run.failed) failed), \(DurationText.format(.seconds(Int64(seconds.rounded())))) of measuring"),
        ]
        for (key, value) in run.environment.sorted(by: { $0.key < $1.key }) { rows.append((key, value)) }
        let slos = Set(content.trials.compactMap { $0.config.slo.p99 }.map { DurationText.format($0) })
        if !slos.isEmpty { rows.append(("SLO", "p99 ≤ " + slos.sorted().joined(separator: ", "))) }
        let stable = content.trials.filter { $0.ok && $0.metric(.stable) == 1 }.count
        rows.append(("stability", "\(stable) of \(content.trials.filter(\.ok).count) trials stable (max/min of throughput and p99 over the last 3 windows ≤ 1.1)"))
        return "<header><h1>\(escape(run.name))</h1>\n<table class=\"facts\">" + rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined() + "</table></header>\n"
    }

    /// p99 and throughput against every setting the run swept (besides model, placement and link,
    /// which colour and split the charts), or by placement when nothing else was swept.
    static func sweepCharts(_ trials: [TrialRecord], run: String) -> [String] {
        // link.shaping holds what the testbed applied (a description), not a setting the user swept.
        let fixed: Set<String> = ["model", "placement", "link", "link.shaping"]
        let keys = Set(trials.flatMap(\.parameters.keys)).filter { key in
            TrialConfig.keys.contains(key) && !fixed.contains(key) && Set(trials.compactMap { $0.parameters[key] }).count > 1
        }.sorted()
        var charts: [String] = []
        for x in keys.isEmpty ? ["placement"] : Array(keys.prefix(4)) {
            for (metric, name) in [(Metric.latencyP99, "p99 latency"), (Metric.throughput, "throughput")] {
                var plot = ResultsPlot.defaults(for: trials)
                plot.metric = metric
                plot.x = x
                plot.series = x == "placement" ? plot.series : "placement"
                if let svg = try? plot.svg(trials, title: "\(run): \(name) by \(x)") { charts.append(svg) }
            }
        }
        return charts
    }

    /// A trial's windows: p99 and frames dropped over time.
    static func timeline(_ trial: TrialRecord) -> String {
        let windows = trial.windows
        let (left, top, width, height) = (70.0, 60.0, 480.0, 160.0)
        let xAxis = SVG.Axis(low: 0, high: (windows.last?.startSeconds ?? 1) + (windows.count > 1 ? windows[1].startSeconds - windows[0].startSeconds : 1), allowLogarithmic: false)
        let yAxis = SVG.Axis(low: 0, high: (windows.map(\.p99Ms).max() ?? 1) * 1.1, allowLogarithmic: false)
        let label = ["model", "placement", "link", "workload.fps"].compactMap { trial.parameters[$0] }.joined(separator: " · ")
        var svg = SVG.opening(width: left + width + 30, height: top + height + 50, title: "Timeline: \(label)",
                              subtitle: "p99 per window (line, ms) and frames dropped in it (bars, count at the bar)", left: left)
        svg += SVG.frame(left: left, top: top, width: width, height: height, x: xAxis, y: yAxis, xTitle: "time (s)", yTitle: "p99 (ms)")
        let points = windows.map { "\(SVG.coordinate(left + xAxis.fraction($0.startSeconds) * width)),\(SVG.coordinate(top + height - yAxis.fraction($0.p99Ms) * height))" }
        let mostDropped = Double(windows.map(\.dropped).max() ?? 1)
        for w in windows where w.dropped > 0 {
            let barHeight = Double(w.dropped) / max(1, mostDropped) * height * 0.5
            let x = left + xAxis.fraction(w.startSeconds) * width
            svg += "<rect x=\"\(SVG.coordinate(x - 4))\" y=\"\(SVG.coordinate(top + height - barHeight))\" width=\"8\" height=\"\(SVG.coordinate(barHeight))\" fill=\"#e15759\" opacity=\"0.6\"/>"
            svg += "<text x=\"\(SVG.coordinate(x))\" y=\"\(SVG.coordinate(top + height - barHeight - 3))\" text-anchor=\"middle\" font-size=\"9\">\(w.dropped)</text>"
        }
        svg += "<polyline fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
        return svg + "</svg>\n"
    }

    private static func modelSection(_ validation: Validation, what: String) -> String {
        var html = "<section id=\"model\"><h2>How far to trust the model</h2>\n<p>\(escape(what))</p>\n"
        html += "<table class=\"sortable\"><thead><tr><th>metric</th><th>trials</th><th>mean abs. error</th><th>within ±10%</th><th>within ±20%</th>"
            + "<th title=\"share of measurements inside the range 90% of simulated trials of their length report\">in 90% interval</th></tr></thead><tbody>"
        func percent(_ share: Double) -> String { String(format: "%.0f%%", share * 100) }
        for e in validation.errors {
            html += "<tr><td>\(escape(e.metric.key))</td><td>\(e.trials)</td><td>\(String(format: "%.1f%%", e.mape))</td><td>\(percent(e.within10))</td><td>\(percent(e.within20))</td>"
                + "<td>\(e.insideBand.map(percent) ?? "–")</td></tr>"
        }
        html += "</tbody></table>\n"
        for (metric, name) in [(Metric.latencyP99, "p99"), (Metric.throughput, "throughput")] {
            html += "<figure>\(ModelCharts.predictedVersusMeasured(validation, metric: metric, title: "\(name): predicted vs measured"))</figure>\n"
        }
        return html + "</section>\n"
    }

    /// The metrics the trials table shows, with their units.
    static let columns: [(metric: Metric, title: String)] = [
        (.throughput, "throughput (fps)"), (.latencyP50, "p50 (ms)"), (.latencyP99, "p99 (ms)"),
        (.framesDropped, "dropped (frames)"), (.frameBytes, "JPEG (bytes/frame)"), (.stable, "stable"),
    ]

    private static func trialsTable(_ trials: [TrialRecord]) -> String {
        let keys = Set(trials.flatMap(\.parameters.keys)).filter { key in Set(trials.map { $0.parameters[key] ?? "" }).count > 1 || ["model", "placement"].contains(key) }.sorted()
        var html = "<section id=\"trials\"><h2>Every trial</h2>\n<p>Click a column to sort.</p>\n<table class=\"sortable\" id=\"trial-table\"><thead><tr><th>#</th>"
        html += keys.map { "<th>\(escape($0))</th>" }.joined() + columns.map { "<th>\(escape($0.title))</th>" }.joined() + "<th>outcome</th></tr></thead><tbody>\n"
        for (i, trial) in trials.enumerated() {
            html += "<tr data-key=\"\(escape(trial.key))\" data-repetition=\"\(trial.repetition)\"><td data-value=\"\(i + 1)\">\(i + 1)</td>"
            html += keys.map { "<td>\(escape(trial.parameters[$0] ?? "–"))</td>" }.joined()
            for column in columns {
                if let value = trial.metric(column.metric) {
                    let text = column.metric == .stable ? (value == 1 ? "yes" : "no") : UnitFormat.significant(value)
                    html += "<td class=\"number\" data-metric=\"\(column.metric.key)\" data-value=\"\(value)\">\(text)</td>"
                } else {
                    html += "<td data-metric=\"\(column.metric.key)\">–</td>"
                }
            }
            html += "<td>\(trial.ok ? "ok" : "failed: " + escape(trial.reason ?? ""))</td></tr>\n"
        }
        return html + "</tbody></table></section>\n"
    }

    // MARK: The page

    static func escape(_ text: String) -> String { SVG.escape(text) }

    private static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
        h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
        table { border-collapse: collapse; font-size: 13px; } th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; }
        table.facts th { color: #555; font-weight: normal; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
        table.sortable th { cursor: pointer; background: #f4f4f4; } table.sortable th:hover { background: #e6e6e6; }
        ul.verdicts li { font-size: 16px; margin: 0.3em 0; } p.note { color: #555; }
        figure { margin: 1em 0; overflow-x: auto; } pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 12px; }
        </style></head>
        <body>
        \(body)
        <footer><p class="note">Written by EdgeInsight. Every chart is inline SVG; hover a bar or point for its value.</p></footer>
        <script>
        // Sort a table by the clicked column: numbers by their raw value, text alphabetically.
        for (const table of document.querySelectorAll("table.sortable")) {
          table.querySelectorAll("th").forEach((th, column) => th.addEventListener("click", () => {
            const body = table.tBodies[0], rows = Array.from(body.rows);
            const ascending = th.dataset.order !== "asc";
            const key = row => { const cell = row.cells[column]; const v = parseFloat(cell.dataset.value); return isNaN(v) ? cell.textContent : v; };
            rows.sort((a, b) => { const x = key(a), y = key(b); const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y)); return ascending ? c : -c; });
            th.dataset.order = ascending ? "asc" : "desc";
            rows.forEach(row => body.appendChild(row));
          }));
        }
        </script>
        </body></html>

        """
    }
}
