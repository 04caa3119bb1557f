import ArgumentParser
import EdgeInsightCore
import Foundation
import Modeling
import Planner
import Report
import Results

/// `edgeinsight report`: a run as one self-contained HTML page.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a run's report: one self-contained HTML page (verdicts, stage breakdown, charts, every trial).",
        discussion: """
            Every run writes OUT/report-RUN.html when it ends; this writes it again, and can add a model's
            predictions beside the measurements (--model) and a plan made with that model (--plan).
            Examples:
              edgeinsight report demo
              edgeinsight report unseen --out out/prediction-accuracy --model out/prediction-accuracy/model.json
            """)

    @Argument(help: "Run name or number.")
    var name: String

    @OptionGroup var location: ResultsCommand.Location

    @Option(name: [.short, .customLong("output")], help: "The HTML file (default: OUT/report-RUN.html).")
    var output: String?

    @Option(help: "A fitted model (model.json): its predictions of this run's trials go beside the measurements.")
    var model: String?

    @Option(help: "A plan file to search with --model and show (cost against p99, the recommendation).")
    var plan: String?

    func run() throws {
        if plan != nil && model == nil { throw ValidationError("--plan needs --model (the plan is searched with a fitted model)") }
        let database = try location.open()
        let summary = try database.run(name)
        var content = ReportContent(run: summary, trials: try database.trials(run: summary.id))
        if let model {
            let fitted = try PerformanceModel.load(model)
            content.validation = (try Validation.run(fitted, on: content.trials), "The model \(model) predicts each trial of this run from its configuration alone.")
            if let plan { content.plan = try Planner.search(try Plan.load(plan), model: fitted, catalog: try Catalog.load()) }
        }
        try writeReport(content, to: output ?? reportPath(out: location.out, run: summary.name))
    }
}

/// Where a run's report goes in its output folder.
func reportPath(out: String, run: String) -> String { "\(out)/report-\(run).html" }

/// Writes a report and says where, and how large it is.
func writeReport(_ content: ReportContent, to path: String) throws {
    let html = ReportPage.html(content)
    try writeOutput(html, to: path)
    print("report: \(path) (\(Bytes(html.utf8.count)); open it in a browser)")
}
