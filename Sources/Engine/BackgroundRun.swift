import Foundation

/// `startAsync`/`wait` for engines whose inference call blocks (OpenCV DNN, LiteRT): each run goes
/// to a serial queue of the request's own, then the completion handler is called.
final class BackgroundRun: @unchecked Sendable {
    private let queue = DispatchQueue(label: "edgeinsight.engine.request")
    private let done = DispatchSemaphore(value: 0)
    private var error: EngineError?
    /// Called on the queue at the end of every run.
    var handler: (@Sendable () -> Void)?

    func start(_ run: @escaping @Sendable () throws(EngineError) -> Void) {
        queue.async {
            do throws(EngineError) { try run(); self.error = nil } catch { self.error = error }
            self.done.signal()
            self.handler?()
        }
    }

    /// Waits for the run `start` started (one wait per start) and reports how it ended.
    func wait() throws(EngineError) {
        done.wait()
        if let error { throw error }
    }
}
