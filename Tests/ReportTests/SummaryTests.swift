import EdgeInsightCore
import Results
import Report
import Testing

@Suite struct SummaryTests {
    func trial(_ placement: String, link: String?, p99: Double, met: Double) -> TrialRecord {
        var parameters = ["model": "resnet50", "placement": placement]
        parameters["link"] = link
        return TrialRecord(key: "\(placement)\(link ?? "")\(p99)", repetition: 1, ok: true, config: try! TrialConfig(parameters: parameters),
                           metrics: [MetricValue(.latencyP99, p99), MetricValue(.sloP99Met, met), MetricValue(.throughput, 10)])
    }

    @Test func verdictPicksTheLowestMeanP99PerLinkWithEdgeStandingForEveryLink() {
        let trials = [
            trial("edge", link: nil, p99: 40, met: 1), trial("edge", link: nil, p99: 50, met: 1),
            trial("cloud-raw", link: "lte", p99: 500, met: 0), trial("cloud-raw", link: "ethernet", p99: 20, met: 1),
            trial("cloud-tensor", link: "ethernet", p99: 30, met: 1),
        ]
        let lines = Verdicts.placements(trials).map(\.sentence)
        #expect(lines == [
            "resnet50 over ethernet: cloud-raw is fastest, p99 20 ms (meets the p99 SLO in 1/1 trials); then cloud-tensor 30 ms, edge 45 ms",
            "resnet50 over lte: edge is fastest, p99 45 ms (meets the p99 SLO in 2/2 trials); then cloud-raw 500 ms",
        ])
    }

    /// Two placements whose measurements overlap are called tied, not ranked by a mean that
    /// flips between runs; windows give the spread where a trial kept them.
    @Test func overlappingSpreadsAreATie() {
        var edge = trial("edge", link: nil, p99: 40, met: 1)
        edge.windows = [38, 52, 41].enumerated().map { WindowRow(index: $0, startSeconds: Double($0), throughput: 10, p50Ms: 20, p99Ms: $1, dropped: 0) }
        let close = Verdicts.placements([edge, trial("cloud-tensor", link: "ethernet", p99: 47, met: 1)])
        #expect(close.first?.tied == true)
        #expect(close.first?.sentence == "resnet50 over ethernet: edge and cloud-tensor are tied, p99 40 ms and 47 ms with overlapping spreads (38 ms–52 ms, 47 ms–47 ms)")
        let apart = Verdicts.placements([edge, trial("cloud-tensor", link: "ethernet", p99: 53, met: 1)])
        #expect(apart.first?.tied == false && apart.first?.ranking.map(\.placement) == ["edge", "cloud-tensor"])
    }

    /// An edge trial on another framework is a choice of its own, ranked beside the others.
    @Test func anEdgeFrameworkIsRankedAsItsOwnPlacement() {
        var opencv = trial("edge", link: nil, p99: 80, met: 1)
        opencv.config.device.engine = .opencv
        var openvino = trial("edge", link: nil, p99: 15, met: 1)
        openvino.config.device.engine = .openvino
        let verdict = Verdicts.placements([opencv, openvino, trial("cloud-raw", link: "wifi", p99: 37, met: 1)])
        #expect(verdict.first?.ranking.map(\.placement) == ["edge", "cloud-raw", "edge/opencv"])
    }

    @Test func failedTrialsAreLeftOutOfTheTable() {
        var failed = trial("edge", link: nil, p99: 1, met: 1)
        failed.ok = false
        let table = RunSummaryTable.byPlacementAndLink([failed, trial("edge", link: nil, p99: 40, met: 1)])
        #expect(table.contains("40 ms"))
        #expect(!table.contains(" 1 ms"))
    }
}

@Suite struct TrialTableTests {
    /// A sweep over the device's quota: the table gains a `device.cpu` column, so its rows tell
    /// apart; settings all trials share, and how the testbed applied them, get none.
    @Test func settingsTheTrialsVaryGetAColumn() {
        let trials = [0.25, 0.5].map { cpu in
            var applied = AppliedRecord()
            applied.deviceConfinement = "cgroup \(cpu)"
            return TrialRecord(key: "\(cpu)", repetition: 1, ok: true,
                               config: try! TrialConfig(parameters: ["model": "m", "placement": "edge", "device.cpu": "\(cpu)", "device.threads": "1"]),
                               applied: applied, metrics: [MetricValue(.latencyP50, 10)])
        }
        let table = TrialTable.of(trials)
        #expect(table.header == ["#", "model", "placement", "link", "resolution", "q", "device.cpu", "status", "fps", "p50", "p99", "up/frame"])
        #expect(table.rows.map { $0[6] } == ["0.25", "0.5"])
        #expect(TrialTable.of([trials[0]]).header.count == 11)
    }
}
