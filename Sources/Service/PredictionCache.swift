import Forecasting
import NIOCore
import Synchronization

/// Encoded `GET /prediction` answers by instance and horizons, readable from any thread
/// without a hop onto the runtime actor. Each answer keeps its instance's tenant, so a
/// cached answer is shown only to a principal that sees that tenant. Cleared when a network
/// is installed (and when a slot is observed, unless the service answers over HTTP); an
/// instance's answers are forgotten when it is registered again. A service that answers over
/// HTTP keeps the last slot's answers when a slot is observed, until the round has encoded the
/// new slot's answers for the default horizons (`PoolRuntime.refreshPredictions`), which
/// replace them all.
public final class PredictionCache: Sendable {
    struct Entry: Sendable {
        let tenant: String?
        let body: ByteBuffer
    }
    /// The answers, and how many times they were cleared: an answer computed before a clear
    /// is not stored after it.
    private let state = Mutex<(entries: [String: Entry], generation: Int)>(([:], 0))

    /// The horizons (slots) of a request that names none: 5, 15 and 30 minutes.
    static func defaultHorizons(interval: Int) -> [Int] {
        ForecastConfiguration.reportedHorizonSeconds.map(Cadence(interval: interval).slots)
    }

    /// The key of `id`'s answer for `horizons` (slots).
    static func key(_ id: String, _ horizons: [Int]) -> String {
        var key = id
        key.reserveCapacity(id.utf8.count + 4 * horizons.count)
        for h in horizons {
            key.append("\u{0}")
            key.append(String(h))
        }
        return key
    }

    func get(_ key: String) -> Entry? { state.withLock { $0.entries[key] } }
    var generation: Int { state.withLock { $0.generation } }
    var count: Int { state.withLock { $0.entries.count } }

    /// Stores answers computed since `generation`, unless the cache was cleared meanwhile.
    func set(_ batch: [(String, Entry)], computedIn generation: Int) {
        state.withLock {
            guard $0.generation == generation else { return }
            for (key, entry) in batch { $0.entries[key] = entry }
        }
    }

    /// Answers computed from now on belong to a new slot; the stored ones are served until
    /// `replace` swaps in the new slot's.
    func invalidate() { state.withLock { $0.generation += 1 } }

    /// Replaces every stored answer with `batch`, unless the cache was invalidated or cleared
    /// since `generation`.
    func replace(with batch: [(String, Entry)], computedIn generation: Int) {
        var table = Dictionary(batch, uniquingKeysWith: { _, last in last })
        state.withLock {
            guard $0.generation == generation else { return }
            swap(&$0.entries, &table)
        }
        // The old table is freed here, outside the lock.
    }

    /// Forgets `id`'s answers (its record changed); the others stay.
    func forget(_ id: String) {
        let prefix = id + "\u{0}"
        state.withLock { state in
            state.entries = state.entries.filter { !$0.key.hasPrefix(prefix) }
            state.generation += 1
        }
    }

    func clear() {
        state.withLock {
            $0.entries.removeAll(keepingCapacity: true)
            $0.generation += 1
        }
    }
}
