import Foundation
import NIOCore

extension PoolRuntime {
    /// Computes every instance's `GET /prediction` answer for the default horizons (5, 15 and
    /// 30 minutes) and stores them encoded in place of the last slot's, so that requests are a
    /// lookup. The forecasts are made here, on the actor; the encoding runs off it. Returns the
    /// answers stored (0 when the cache was invalidated or cleared meanwhile).
    @discardableResult
    func refreshPredictions() async -> Int {
        let horizons = PredictionCache.defaultHorizons(interval: configuration.interval)
        let generation = predictionCache.generation
        var views: [(key: String, tenant: String?, view: PredictionView)] = []
        views.reserveCapacity(forecaster.order.count)
        for id in forecaster.order {
            guard let record = registry.records[id], let view = prediction(id, horizons: horizons) else { continue }
            views.append((PredictionCache.key(id, horizons), record.tenant, view))
        }
        let batch = await Task.detached(priority: .utility) { () -> [(String, PredictionCache.Entry)] in
            let encoder = JSONEncoder()
            return views.compactMap { item in
                (try? encoder.encode(item.view)).map { (item.key, PredictionCache.Entry(tenant: item.tenant, body: ByteBuffer(bytes: $0))) }
            }
        }.value
        predictionCache.replace(with: batch, computedIn: generation)
        return predictionCache.generation == generation ? batch.count : 0
    }
}
