import NIOCore
import Synchronization

/// Encoded prediction answers by instance and horizons, readable from any
/// thread without a hop onto the runtime actor. Cleared when a slot is observed.
public final class PredictionCache: Sendable {
    private let entries = Mutex<[String: ByteBuffer]>([:])

    func get(_ key: String) -> ByteBuffer? { entries.withLock { $0[key] } }
    func set(_ key: String, _ value: ByteBuffer) { entries.withLock { $0[key] = value } }
    func clear() { entries.withLock { $0.removeAll(keepingCapacity: true) } }
}
