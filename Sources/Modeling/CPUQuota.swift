import EdgeInsightCore
import Foundation
import Synchronization

/// How long a job takes under a CFS CPU quota: the node may use `cores` × `period` of CPU time in
/// every period. A share of a core is not a slower clock: a job runs at full speed while it has
/// runtime, then is throttled until the next period refills it.
///
/// Model: Linux's CFS bandwidth control as it accounts, which is what decides short jobs (a frame's
/// inference is a few periods long). A global pool is refilled to the quota at each period; the
/// running CPU takes runtime from it in slices (`sched_cfs_bandwidth_slice_us`, 5 ms) but what it
/// used is only *charged* at accounting points — the scheduler tick and every scheduling event —
/// so a job may run past its runtime until the next one, and the overdraft is a debt the next
/// refills pay first. A CPU going idle keeps up to 1 ms of runtime (`min_cfs_rq_runtime`) and
/// returns the rest. Throttled, it waits for a period refill that covers its debt. Over long jobs
/// this is `work / cores`; over short ones it depends on where charges and refills fall, so `wallNs`
/// averages a sequence of jobs with random phases.
///
/// Assumption: charges every 1 ms. The tick alone (HZ=250, 4 ms) overstates the overdraft: against
/// the kernel (benchmarks/quota-model: busy loops of known work in a cgroup with the testbed's
/// quota and period, after idle), a 4 ms grid was up to 49% high on short jobs; with 1 ms the model
/// is within 15% from 0.25 to 0.75 cores and 1 to 37 ms of work.
public struct CPUQuota: Sendable, Codable, Equatable {
    /// CPU time per period, in cores (0.5 = half a core); nil: unlimited.
    public var cores: Double?
    public var periodNs: Double

    /// How often runtime is charged (measured, above), the bandwidth slice and what an idle CPU
    /// keeps (the kernel's defaults).
    static let chargeNs = 1e6, sliceNs = 5e6, keptWhenIdleNs = 1e6

    public init(cores: Double?, periodNs: Double) {
        self.cores = cores
        self.periodNs = periodNs
    }

    /// The testbed's period for a quota (Testbed's ControlGroup: 4 ms, longer for small shares so
    /// a period's budget is at least 1 ms).
    public static func testbed(cores: Double) -> CPUQuota {
        CPUQuota(cores: cores, periodNs: max(4e6, (1e6 / cores).rounded(.up)))
    }

    /// No quota: a real host's own cores (1024 of them never bind a job of a few threads).
    public static let unconfined = CPUQuota.testbed(cores: 1024)

    /// Expected wall time of a job that arrives at a device idle since its last job: interpolated
    /// in a table of `simulatedWallNs` over work, built once per quota (fitting inverts it many
    /// times per sample). The job progresses at `parallelism` cores' worth of work and keeps
    /// `busyCores` (at least that) busy while it runs: threads that spin while waiting for each
    /// other spend the quota without progress.
    public func wallNs(work: Double, parallelism: Double = 1, busyCores: Double? = nil) -> Double {
        let (rate, busy) = Self.pace(parallelism, busyCores)
        guard let cores, cores < busy, work > 0 else { return work / rate }
        return WallTable.of(self, rate: rate, busy: busy).wallNs(work)
    }

    /// A job's progress rate (at least one core) and the cores it keeps busy (at least its rate;
    /// nil: its rate).
    static func pace(_ rate: Double, _ busy: Double?) -> (rate: Double, busy: Double) {
        let rate = max(1, rate)
        return (rate, max(rate, busy ?? rate))
    }

    /// The mean over a seeded sequence of such jobs, each at a random point of the periods and charges.
    func simulatedWallNs(work: Double, rate: Double, busy: Double) -> Double {
        var clock = Clock(self)
        var random = SeededRandom(seed: 7)
        var t = 0.0, total = 0.0
        let warmup = 4, jobs = 48
        for index in 0..<(warmup + jobs) {
            // Idle long enough for the pool to refill, then a random point of the periods and charges.
            t += (3 + 3 * random.nextUnitDouble()) * periodNs
            let end = clock.finish(start: t, work: work, rate: rate, busy: busy)
            if index >= warmup { total += end - t }
            t = end
        }
        return total / Double(jobs)
    }

    /// Wall time per job when jobs follow each other with no idle time: the budget, not the phase, sets the pace.
    public func sustainedNs(work: Double, parallelism: Double = 1, busyCores: Double? = nil) -> Double {
        let (rate, busy) = Self.pace(parallelism, busyCores)
        guard let cores, cores < busy else { return work / rate }
        return work / rate * busy / cores
    }
}

/// `CPUQuota.simulatedWallNs` on a geometric grid of work (7% steps) up to 32 periods' worth of
/// budget; beyond, the last step's slope (the quota's rate) continues. Each point is simulated the
/// first time it is needed: a fit tries many speeds, and each inverts only a few jobs' lengths.
final class WallTable: Sendable {
    let works: [Double]
    private let quota: CPUQuota, rate: Double, busy: Double
    private let walls: Mutex<[Double?]>
    static let step = 1.07

    private struct Key: Hashable { var cores: Double, periodNs: Double, rate: Double, busy: Double }
    private static let tables = Mutex<[Key: WallTable]>([:])

    /// The table of a quota at `rate` cores of progress keeping `busy` cores busy, each rounded to
    /// a tenth (the fit tries many).
    static func of(_ quota: CPUQuota, rate: Double, busy: Double) -> WallTable {
        let rate = (rate * 10).rounded() / 10, busy = max(rate, (busy * 10).rounded() / 10)
        let key = Key(cores: quota.cores ?? 0, periodNs: quota.periodNs, rate: rate, busy: busy)
        return tables.withLock { tables in
            if let table = tables[key] { return table }
            let table = WallTable(quota, rate: rate, busy: busy)
            tables[key] = table
            return table
        }
    }

    private init(_ quota: CPUQuota, rate: Double, busy: Double) {
        var works: [Double] = []
        var work = 1e4
        let last = 32 * (quota.cores ?? 1) * quota.periodNs
        while work < last * WallTable.step {
            works.append(work)
            work *= WallTable.step
        }
        self.works = works
        (self.quota, self.rate, self.busy) = (quota, rate, busy)
        walls = Mutex([Double?](repeating: nil, count: works.count))
    }

    private func wall(_ i: Int) -> Double {
        if let known = walls.withLock({ $0[i] }) { return known }
        let simulated = quota.simulatedWallNs(work: works[i], rate: rate, busy: busy)
        walls.withLock { $0[i] = simulated }
        return simulated
    }

    func wallNs(_ work: Double) -> Double {
        guard work > works[0] else { return wall(0) * work / works[0] }
        let n = works.count
        guard work < works[n - 1] else {
            return wall(n - 1) + (work - works[n - 1]) * (wall(n - 1) - wall(n - 2)) / (works[n - 1] - works[n - 2])
        }
        // The grid is geometric: the cell is found by the logarithm.
        let i = min(n - 2, Int(log(work / works[0]) / log(WallTable.step)))
        let f = (work - works[i]) / (works[i + 1] - works[i])
        return wall(i) + f * (wall(i + 1) - wall(i))
    }
}

extension CPUQuota {
    /// The quota's accounting over time, for jobs run one after another on the node: periods
    /// refill from `periodPhase`, charges fall every millisecond from a phase of their own; work
    /// progresses at `rate` cores while the node is not throttled, and spends runtime at `busy`.
    public struct Clock: Sendable {
        public let quota: CPUQuota
        /// Runtime left in the period's pool, and held by the running CPU (negative: owed).
        private var pool: Double
        private var held = 0.0
        private var throttled = false
        private var period = 0.0
        private let chargePhase: Double, periodPhase: Double

        public init(_ quota: CPUQuota, chargePhase: Double = 0.37e6, periodPhase: Double = 0) {
            self.quota = quota
            pool = (quota.cores ?? 0) * quota.periodNs
            self.chargePhase = chargePhase.truncatingRemainder(dividingBy: CPUQuota.chargeNs)
            self.periodPhase = periodPhase.truncatingRemainder(dividingBy: quota.periodNs)
        }

        /// The CPU asks the pool for a slice plus what it owes.
        private mutating func take() {
            let got = min(pool, CPUQuota.sliceNs - held)
            held += got
            pool -= got
            if held <= 0 { throttled = true }
        }

        /// The period `t` falls in.
        private func periodIndex(_ t: Double) -> Double { ((t - periodPhase) / quota.periodNs).rounded(.down) }

        /// Refills at the period boundaries up to `t` (or up to period `index`, exactly, where a
        /// boundary computed in floating point could round to the period before); a throttled CPU
        /// is paid what it owes first.
        private mutating func refill(until t: Double, index: Double? = nil) {
            let index = index ?? periodIndex(t)
            guard index > period else { return }
            period = index
            pool = (quota.cores ?? 0) * quota.periodNs
            if throttled {
                let got = min(pool, -held + 1)
                held += got
                pool -= got
                if held > 0 { throttled = false }
            }
        }

        /// When `work` core-nanoseconds started at `start` finish. Steps from event to event that
        /// changes something: the first charge after the held runtime runs out, and, throttled,
        /// the period refills.
        public mutating func finish(start: Double, work: Double, rate: Double, busy: Double? = nil) -> Double {
            let (rate, busy) = CPUQuota.pace(rate, busy)
            guard let cores = quota.cores, cores < busy else { return start + work / rate }
            var t = start
            refill(until: t)
            if held <= 0 { take() }
            var remaining = work
            let charge = CPUQuota.chargeNs, p = quota.periodNs
            while true {
                if throttled {
                    // The next period after both t's and the last refilled: at a boundary computed in
                    // floating point, t's index may round to the period before the one just refilled.
                    let next = max(periodIndex(t), period) + 1
                    t = next * p + periodPhase
                    refill(until: t, index: next)
                    // Unthrottled by a refill, a long job repeats the same period over and over
                    // (the quota's worth of runtime each, rate/busy of it progress): skip all but the last few.
                    let budget = cores * p * rate / busy
                    if !throttled, remaining > 3 * budget {
                        let skipped = (remaining / budget).rounded(.down) - 2
                        t += skipped * p
                        period += skipped
                        remaining -= skipped * budget
                    }
                    continue
                }
                // Running: nothing happens until a charge finds the held runtime gone.
                let empty = t + max(0, held) / busy
                let nextCharge = (((empty - chargePhase) / charge).rounded(.down) + 1) * charge + chargePhase
                if t + remaining / rate <= nextCharge {
                    held -= remaining / rate * busy
                    t += remaining / rate
                    break
                }
                remaining -= (nextCharge - t) * rate
                held -= (nextCharge - t) * busy
                t = nextCharge
                refill(until: t)
                if held <= 0 { take() }
            }
            // Going idle, the CPU keeps a little runtime and returns the rest to the pool.
            if held > CPUQuota.keptWhenIdleNs {
                pool += held - CPUQuota.keptWhenIdleNs
                held = CPUQuota.keptWhenIdleNs
            }
            return t
        }
    }
}
