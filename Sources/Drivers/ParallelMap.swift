import Dispatch

/// `transform` applied to every index in `0..<count` on all cores, results in index order.
public func parallelMap<T: Sendable, E: Error>(
    _ count: Int, _ transform: @Sendable (Int) throws(E) -> T
) throws(E) -> [T] {
    let results = ResultSlots<Result<T, E>>(count: count)
    DispatchQueue.concurrentPerform(iterations: count) { index in
        results.store(index, Result { () throws(E) -> T in try transform(index) })
    }
    return try results.values.map { result throws(E) -> T in try result.get() }
}

/// Slots each written by exactly one worker, read after all workers finish. The buffer is
/// allocated once, so workers write disjoint elements without touching shared array storage.
private final class ResultSlots<T>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<T?>

    init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }

    deinit {
        storage.deinitialize()
        storage.deallocate()
    }

    func store(_ index: Int, _ value: T) { storage[index] = value }

    var values: [T] { storage.map { $0! } }
}
