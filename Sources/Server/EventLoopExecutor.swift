import NIOCore
import NIOPosix

/// Runs Swift tasks on a server's own event loops instead of the shared concurrency pool.
///
/// A request then stays on the thread that read it: no hand-off from the I/O thread to a pool thread
/// and back, and no extra runnable threads to preempt the inference streams. A job enqueued from one
/// of the group's loops runs on that loop; one enqueued from elsewhere (an engine's completion
/// callback) goes to the next loop in turn.
final class EventLoopExecutor: TaskExecutor, @unchecked Sendable {  // immutable after init
    let group: MultiThreadedEventLoopGroup
    private let loops: Set<ObjectIdentifier>

    init(threads: Int) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        loops = Set(group.makeIterator().map { ObjectIdentifier($0 as AnyObject) })
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        var loop = group.next()
        if let current = MultiThreadedEventLoopGroup.currentEventLoop, loops.contains(ObjectIdentifier(current as AnyObject)) {
            loop = current
        }
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
