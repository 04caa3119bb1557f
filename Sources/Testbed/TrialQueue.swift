import EdgeInsightCore
import Foundation
import Results
import Synchronization

/// The trials of a run still to do, shared by its lanes: each takes the next, commits what it
/// measured (one at a time, in the database and in the run's progress), or gives a trial back when
/// its host left the pool. Progress is reported from here, so lanes running at once count as one run.
final class TrialQueue: Sendable {
    private struct State {
        var pending: [(spec: TrialSpec, number: Int)]
        var next = 0
        var ran = 0, failed = 0
        var records: [TrialRecord] = []
        var dropped: [String] = []
        var current = ""
    }

    private let state: Mutex<State>
    private let total: Int
    private let skipped: Int
    private let todo: Int
    private let start = MonotonicClock.now()
    private let progress: @Sendable (RunProgress) -> Void

    init(_ todo: [TrialSpec], total: Int, skipped: Int, progress: @escaping @Sendable (RunProgress) -> Void) {
        state = Mutex(State(pending: todo.enumerated().map { ($1, skipped + $0 + 1) }))
        self.total = total
        self.skipped = skipped
        self.todo = todo.count
        self.progress = progress
    }

    /// The next trial and its number (for its log files); nil when none is left.
    func take() -> (TrialSpec, Int)? {
        state.withLock { state in
            guard state.next < state.pending.count else { return nil }
            defer { state.next += 1 }
            return state.pending[state.next]
        }
    }

    /// Puts a trial back for another lane, noting why its lane left.
    func giveBack(_ spec: TrialSpec, number: Int, dropped reason: String) {
        state.withLock {
            $0.pending.append((spec, number))
            $0.dropped.append(reason)
        }
    }

    /// The lanes that left the pool and why, for the trials nobody was left to run.
    var droppedText: String { state.withLock { $0.dropped.joined(separator: "; ") } }

    /// Stores one trial's record with `store` (under the queue's lock, so the database sees one
    /// writer) and counts it.
    func commit(_ record: TrialRecord, store: (TrialRecord) throws -> Void) throws {
        try state.withLock { state in
            try store(record)
            state.records.append(record)
            state.ran += 1
            if !record.ok { state.failed += 1 }
            report(state)
        }
    }

    /// Shows the trial a lane starts.
    func show(_ current: String) {
        state.withLock { state in
            state.current = current
            report(state)
        }
    }

    /// The counts at the end, after a last progress line.
    func finish(current: String) -> (ran: Int, failed: Int, records: [TrialRecord]) {
        state.withLock { state in
            state.current = current
            report(state, remaining: .zero)
            return (state.ran, state.failed, state.records)
        }
    }

    private func report(_ state: State, remaining: Duration? = nil) {
        let elapsed = Duration.nanoseconds(Int64(MonotonicClock.now() - start))
        // The mean time per finished trial, over the run's lanes together.
        let left = max(0, todo - state.ran)
        let eta = remaining ?? (state.ran > 0 ? elapsed / state.ran * left : nil)
        progress(RunProgress(done: skipped + state.ran, total: total, skipped: skipped, failed: state.failed, elapsed: elapsed, remaining: eta,
                             current: state.current))
    }
}

/// Runs `body` for each item on a thread of its own and returns when all have: for work that
/// waits on other machines (ssh, a remote trial), where a thread pool's width would serialise it.
enum Threads {
    static func each<Item: Sendable>(_ items: [Item], _ body: @escaping @Sendable (Item) -> Void) {
        let done = DispatchGroup()
        for item in items {
            done.enter()
            let thread = Thread {
                body(item)
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
    }
}
