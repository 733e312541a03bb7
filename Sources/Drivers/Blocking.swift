import Foundation

/// Work that blocks a thread (a child process, a socket with a timeout) runs on a thread of its
/// own, so that waiting for it never holds up the tasks of the cooperative pool.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }
}
