import EdgeInsightCore
import Foundation
@testable import Modeling
import Testing

/// The simulation against closed forms it must agree with.
@Suite struct TrialSimulationTests {
    func edge(_ arrivals: ArrivalProcess, serviceNs: Double, duration: Double, queue: Int = 1_000_000) -> SimulationSetup {
        SimulationSetup(arrivals: arrivals, warmupNs: 0, durationNs: duration, queueCapacity: queue, source: StageTime(meanNs: 0),
                        processors: 1, device: StageTime(meanNs: serviceNs))
    }

    /// M/D/1 at ρ = 0.5 (Poisson 50/s, 10 ms service): mean time in system
    /// D + ρD / (2(1 − ρ)) = 15 ms, within 5%.
    @Test func poissonIntoAFixedServiceMatchesMD1() {
        var setup = edge(.poisson(rate: 50, seed: 1), serviceNs: 10e6, duration: 200e9)
        setup.minimumFrames = 0
        let result = TrialSimulation.run(setup)
        let expected = 10e6 + 0.5 * 10e6 / (2 * 0.5)
        #expect(abs(result.latencyMeanNs - expected) / expected < 0.05, "mean \(result.latencyMeanNs / 1e6) ms")
        #expect(result.dropShare == 0)
    }

    /// A trial's seeded Poisson arrivals are the frames it really offers: the predicted rate is its
    /// own sequence's count over the window (a hand count of the schedule), not the mean rate; the
    /// long run draws new sequences and comes back to the mean.
    @Test func aSeededTrialReplaysItsOwnArrivals() {
        let arrivals = ArrivalProcess.poisson(rate: 7, seed: 1)
        var schedule = arrivals.schedule(from: 0)
        var count = 0
        while let t = schedule.next(), Double(t) < 6e9 { if Double(t) >= 1e9 { count += 1 } }
        let own = Double(count) / 5
        var setup = edge(arrivals, serviceNs: 1e6, duration: 5e9)
        setup.warmupNs = 1e9
        let trial = TrialSimulation.run(setup)
        #expect(abs(trial.offeredRate - own) < 1e-9, "\(trial.offeredRate) against the sequence's \(own)")
        #expect(abs(own - 7) > 0.1, "the sequence differs from the mean (else this test proves nothing): \(own)")
        setup.longRun = true
        setup.minimumFrames = 20_000
        #expect(abs(TrialSimulation.run(setup).offeredRate - 7) / 7 < 0.02)
    }

    /// Offered twice what a 10 ms device can do: it does 100 frames a second, within 1%, and drops the rest.
    @Test func saturationThroughputIsTheServiceRate() {
        var setup = edge(.constant(rate: 200), serviceNs: 10e6, duration: 60e9, queue: 4)
        setup.minimumFrames = 0
        let result = TrialSimulation.run(setup)
        #expect(abs(result.throughput - 100) / 100 < 0.01, "\(result.throughput) fps")
        #expect(abs(result.dropShare - 0.5) < 0.01)
    }

    /// Half a core with 4 ms periods halves a 10 ms device: saturated, it does 50 frames a second.
    @Test func theDeviceQuotaSetsTheSaturatedRate() {
        var setup = edge(.constant(rate: 200), serviceNs: 10e6, duration: 30e9, queue: 4)
        setup.deviceQuota = CPUQuota(cores: 0.5, periodNs: 4e6)
        setup.minimumFrames = 0
        #expect(abs(TrialSimulation.run(setup).throughput - 50) / 50 < 0.01)
    }

    func cloud(rtt: Double, uplink: Bandwidth?, bytes: Double, inflight: Int, fps: Double) -> SimulationSetup {
        let leg = CloudLeg(requestBytes: bytes, responseBytes: 100, uplink: uplink, downlink: nil, rttNs: rtt, jitterNs: 0, loss: 0, overheadNs: 0,
                           instances: 1, maxBatch: 1, compute: StageTime(meanNs: 5e6))
        // Long, so the frames still queued when offering stops (drained after it, as the edge
        // node does) are a small share of the run.
        var setup = SimulationSetup(arrivals: .constant(rate: fps), warmupNs: 0, durationNs: 600e9, queueCapacity: 4, source: StageTime(meanNs: 0),
                                    processors: inflight, device: StageTime(meanNs: 0), cloud: leg)
        setup.minimumFrames = 0
        return setup
    }

    /// Stop-and-wait over a 300 ms round trip with 5 ms of compute: 1/0.305 s = 3.28 frames a
    /// second; four in flight keep up with 10 fps (the runner's inflight test measures the same).
    @Test func aRoundTripCapsAStopAndWaitDevice() {
        let one = TrialSimulation.run(cloud(rtt: 300e6, uplink: nil, bytes: 30_000, inflight: 1, fps: 10))
        #expect(abs(one.throughput - 1 / 0.305) / (1 / 0.305) < 0.01, "\(one.throughput) fps")
        let four = TrialSimulation.run(cloud(rtt: 300e6, uplink: nil, bytes: 30_000, inflight: 4, fps: 10))
        #expect(abs(four.throughput - 10) / 10 < 0.01 && four.dropShare == 0)
        #expect(abs(four.latencyP50Ns - 305e6) < 1e6)
    }

    /// 602 kB requests over 10 Mbit/s: the uplink carries 10e6 / (8 · 602112) = 2.08 a second,
    /// however many are in flight.
    @Test func theUplinkCapsThroughputAtItsBandwidth() {
        let result = TrialSimulation.run(cloud(rtt: 10e6, uplink: Bandwidth(bitsPerSecond: 10e6), bytes: 602_112, inflight: 4, fps: 5))
        let capacity = 10e6 / (8 * 602_112)
        #expect(abs(result.throughput - capacity) / capacity < 0.01, "\(result.throughput) fps")
    }

    /// One speed draw per trial, log-normal with σ = 0.2 and median 1, on a fixed 10 ms job with
    /// frames far apart: each trial's p50 is 10 ms times its draw, so 90% of trials report between
    /// 10·e^(∓1.6449·0.2) = 7.20 and 13.90 ms (each end within 5%) and the median trial 10 ms (2%),
    /// and their throughput, 5 fps, does not move; without the draw every trial reports 10 ms.
    @Test func aTrialWideSpeedDrawWidensTheBandNotTheMedian() throws {
        var setup = edge(.constant(rate: 5), serviceNs: 10e6, duration: 3e9)
        setup.minimumFrames = 20_000
        setup.trialLogSigma = 0.2
        let result = TrialSimulation.run(setup)
        let band = try #require(result.latencyP50BandNs)
        #expect(abs(band.lowerBound / (10e6 * exp(-1.6449 * 0.2)) - 1) < 0.05, "\(band.lowerBound / 1e6) ms")
        #expect(abs(band.upperBound / (10e6 * exp(1.6449 * 0.2)) - 1) < 0.05, "\(band.upperBound / 1e6) ms")
        let throughput = try #require(result.throughputBand)
        #expect(throughput.lowerBound > 4.6 && throughput.upperBound < 5.4, "\(throughput)")
        #expect(abs(result.latencyP50Ns / 10e6 - 1) < 0.02, "\(result.latencyP50Ns / 1e6) ms")
        setup.trialLogSigma = 0
        #expect(try #require(TrialSimulation.run(setup).latencyP50BandNs) == 10e6...10e6)
    }

    /// Frames every 200 ms (50 periods of 4 ms) each fall at the same point of the quota's period
    /// within a trial, but trials start at random points: over many short trials the mean latency
    /// of a 3 ms job at half a core is the random-phase mean `CPUQuota.wallNs` gives (within 5%),
    /// not the one phase's. Trials all at one phase were 12% long here.
    @Test func eachTrialStartsAtARandomPointOfTheQuotasPeriod() {
        var setup = edge(.constant(rate: 5), serviceNs: 3e6, duration: 2e9)
        setup.deviceQuota = CPUQuota(cores: 0.5, periodNs: 4e6)
        setup.minimumFrames = 4000
        let expected = setup.deviceQuota.wallNs(work: 3e6)
        let mean = TrialSimulation.run(setup).latencyMeanNs
        #expect(abs(mean / expected - 1) < 0.05, "\(mean / 1e6) ms vs \(expected / 1e6) ms")
    }

    @Test func theSameSeedGivesTheSameResult() {
        let setup = edge(.poisson(rate: 80, seed: 4), serviceNs: 10e6, duration: 5e9)
        #expect(TrialSimulation.run(setup) == TrialSimulation.run(setup))
    }
}
