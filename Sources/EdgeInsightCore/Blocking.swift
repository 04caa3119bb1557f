import Foundation

/// The one bridge between plain threads (a device's processor, a runner) and async code or
/// callbacks. A plain thread may block; a task of the cooperative pool must not, so work that blocks
/// runs on a thread of its own (`offload`).
public enum Blocking {
    /// Runs async work from a plain thread and waits for its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        try wait { (done: @escaping @Sendable (Result<T, Error>) -> Void) in
            Task {
                do { done(.success(try await work())) } catch { done(.failure(error)) }
            }
        }.get()
    }

    /// Runs async work that cannot fail from a plain thread and waits for it.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
        wait { (done: @escaping @Sendable (T) -> Void) in Task { done(await work()) } }
    }

    /// Starts callback-style work from a plain thread and waits for the callback's value.
    public static func wait<T: Sendable>(_ start: (@escaping @Sendable (T) -> Void) -> Void) -> T {
        let box = HandOff<T>()
        start { box.set($0) }
        return box.get()
    }

    /// Runs blocking work on a thread of its own and awaits it, keeping the cooperative pool free.
    public static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.start()
        }
    }
}

/// One value handed from another thread to a plain thread that waits for it.
private final class HandOff<Value: Sendable>: @unchecked Sendable {  // written before the signal, read after the wait
    private var value: Value?
    private let ready = DispatchSemaphore(value: 0)
    func set(_ value: Value) { self.value = value; ready.signal() }
    func get() -> Value { ready.wait(); return value! }
}
