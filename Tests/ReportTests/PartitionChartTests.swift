import EdgeInsightCore
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Report
import Results
import Testing

/// The partition chart reads back what it was given: a column per cut in the given order, a bar
/// per stage of each cut with its milliseconds, and the star on the cut whose mean was lowest.
@Suite struct PartitionChartTests {
    func trial(_ cut: String, head: Double, network: Double, tail: Double) throws -> TrialRecord {
        let config = try TrialConfig(parameters: ["placement": "partition", "partition.after": cut, "link": "wifi"])
        func row(_ stage: Stage, _ ms: Double) -> StageRow { StageRow(stage: stage, count: 10, meanMs: ms, p50Ms: ms, p99Ms: ms) }
        return TrialRecord(key: cut, repetition: 1, ok: true, config: config,
                           stages: [row(.preprocess, 5), row(.head, head), row(.serialize, 0.3), row(.network, network), row(.tail, tail)])
    }

    @Test func columnsFollowTheCutsAndTheBestIsStarred() throws {
        let trials = [try trial("t9", head: 2, network: 80, tail: 9), try trial("t3", head: 1, network: 120, tail: 10), try trial("t27", head: 6, network: 10, tail: 3)]
        let columns = try #require(PartitionChart.columns(trials, order: ["t3", "t9", "t27"])["wifi"])
        #expect(columns.map(\.cut) == ["t3", "t9", "t27"])
        #expect(abs(columns[2].meanMs - (5 + 6 + 0.3 + 10 + 3)) < 1e-9)
        let svg = PartitionChart.svg(columns, link: "wifi", model: "mobilenet_v2")
        let document = try XMLDocument(xmlString: svg)
        let bars = try document.nodes(forXPath: "//*[local-name()='rect'][@class='cut-stage']")
        #expect(bars.count == 15)
        #expect(svg.contains("data-cut=\"t27\" data-stage=\"head\" data-ms=\"6.0\""), "\(svg)")
        // Stacked in pipeline order: the device's pre-processing and head, the wire, the tail.
        let order = ["preprocess", "head", "serialize", "network", "tail"].map { svg.range(of: "data-cut=\"t27\" data-stage=\"\($0)\"")?.lowerBound }
        #expect(order.allSatisfy { $0 != nil } && zip(order, order.dropFirst()).allSatisfy { $0! < $1! })
        // One star, over the third column (the t27 cut, the lowest mean): the same x as its label.
        #expect(svg.components(separatedBy: "★</text>").count == 2)
        let star = try #require(svg.range(of: #"<text x="([0-9.]+)" y="[0-9.]+" text-anchor="middle">★"#, options: .regularExpression))
        let label = try #require(svg.range(of: #"<text x="([0-9.]+)" y="[0-9.]+" text-anchor="middle" font-size="10">t27<"#, options: .regularExpression))
        func x(_ range: Range<String.Index>) -> String { String(svg[range].split(separator: "\"")[1]) }
        #expect(x(star) == x(label), "\(x(star)) vs \(x(label))")
    }
}
