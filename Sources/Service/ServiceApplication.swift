import Execution
import Foundation
import Hummingbird
import Logging
import PoolCore
import Drivers
import Storage

/// The composition root: picks the store, the pool (the demo's trace replay
/// or the registered one), the loop and the HTTP API, and wires them.
public struct ServiceApplication: Sendable {
    public let configuration: ServiceConfiguration
    public let store: any PoolStore
    public let runtime: PoolRuntime
    public let loop: ControlLoop
    public let training: NetworkTraining
    public let metrics: ServiceMetrics
    let firstSlot: Int64

    /// `driver` replaces the one the configuration names (tests, benchmarks). `wallClock`, for
    /// a live pool, lets samples of the present in while the pool's clock lags behind it.
    /// `servesHTTP` false (`simulate`) spares the rounds what only the HTTP API shows.
    public init(configuration: ServiceConfiguration, store: any PoolStore, logger: Logger, now: Int64,
                driver override: (any InstanceDriver)? = nil, wallClock: (@Sendable () -> Int64)? = nil,
                servesHTTP: Bool = true) async throws {
        self.configuration = configuration
        self.store = store
        metrics = ServiceMetrics()
        var start = now
        let driver: any InstanceDriver
        if let override {
            driver = override
        } else {
            switch configuration.driverName {
            case "simulated":
                let folder = configuration.demoTrace ?? BundledSample.folder
                let (trace, _) = try BitbrainsTraceReader().read(folder: folder, instanceLimit: nil)
                let replay = try TraceReplay(trace: trace)
                for node in replay.nodes where try await store.nodes().contains(where: { $0.id == node.id }) == false {
                    try await store.upsert(node: node)
                }
                for instance in replay.instances where try await store.instance(id: instance.id) == nil {
                    try await store.upsert(instance: instance)
                }
                // A restart carries on after the newest stored sample, where the replay stopped.
                start = replay.time(ofSlot: 0)
                if let newest = try await store.sampleTimes()?.upperBound, newest >= start {
                    start = (newest / Int64(configuration.interval) + 1) * Int64(configuration.interval)
                }
                driver = try replay.driver(stateFile: configuration.simulatedState ?? configuration.database + ".simulated")
            case "cgroup":
                driver = try CgroupDriver(parent: configuration.cgroupParent, nodeName: configuration.nodeName,
                                          capacity: configuration.nodeCapacity.map(vector), reserve: vector(configuration.nodeReserve))
            case "oci":
                driver = try OCIDriver(root: configuration.ociRoot, nodeName: configuration.nodeName,
                                       capacity: configuration.nodeCapacity.map(vector), reserve: vector(configuration.nodeReserve))
            case "qemu":
                guard let settings = configuration.qemu else { throw ConfigurationError("driver qemu needs the qemu object of the configuration file") }
                driver = try await settings.driver { id in (try? await store.instance(id: id)).flatMap { $0 }.map { ($0.node, $0.allocation) } }
            default:
                driver = ExternalDriver()
            }
        }
        // Prometheus' history goes into the store before the warm start replays the store.
        var source: PrometheusSource?
        if let settings = configuration.prometheus {
            source = try PrometheusSource(settings: settings, interval: configuration.interval)
            try await Self.backfill(from: source!, into: store, configuration: configuration, now: now, logger: logger)
        }
        runtime = PoolRuntime(configuration: configuration, store: store, driver: driver)
        if let wallClock { await runtime.useWallClock(wallClock) }
        await runtime.serveHTTP(servesHTTP)
        try await runtime.restore(startingAt: start)
        for problem in await runtime.forecasterView().problems { logger.warning("forecaster: \(problem)") }
        training = NetworkTraining(configuration: configuration, store: store, runtime: runtime, logger: logger)
        loop = ControlLoop(runtime: runtime, store: store, metrics: metrics, training: training, logger: logger, source: source)
        firstSlot = start
    }

    /// Pulls the history of the stored instances from Prometheus, through the last slot that
    /// ended, into the store: what is newer than the newest stored sample. A Prometheus that
    /// does not answer is logged; the first round asks again.
    static func backfill(from source: PrometheusSource, into store: any PoolStore, configuration: ServiceConfiguration,
                         now: Int64, logger: Logger) async throws {
        let instances = try await store.instances(tenant: nil)
        guard !instances.isEmpty else { return }
        let interval = Int64(configuration.interval)
        let end = (now - Int64(configuration.roundDelay.rounded(.up))) / interval * interval
        let pulled: PrometheusSource.Pulled
        do { pulled = try await source.pull(known: Set(instances.map(\.id)), through: end) }
        catch {
            logger.warning("prometheus: no history pulled at start (the first round asks again): \(error)")
            return
        }
        if let problem = pulled.problem { logger.warning("prometheus: \(problem)") }
        let batch = pulled.samples
        let newest = try await store.sampleTimes()?.upperBound ?? .min
        let limits = Dictionary(instances.map { ($0.id, $0.allocation[1]) }, uniquingKeysWith: { a, _ in a })
        let (good, receipt, _) = SampleIntake().check(batch.filter { $0.time > newest }, now: end, interval: interval,
                                                   known: { limits[$0] != nil }, limit: { limits[$0] })
        _ = try await store.append(samples: good)
        await source.commit(pulled)
        logger.info("prometheus: \(good.count) samples of \(Set(good.map(\.instance)).count) instances pulled from \(source.settings.url)\(receipt.rejected > 0 ? ", \(receipt.rejected) rejected: \(receipt.reasons)" : "")")
    }

    /// `store`, or the crash test's store that kills the process after a chosen write when the
    /// environment sets `POOLSWAP_CRASH_AFTER` (see `CrashPointStore`).
    public static func store(_ store: any PoolStore, environment: [String: String]) throws -> any PoolStore {
        try CrashPointStore.wrapping(store, setting: environment[CrashPointStore.variable])
    }

    /// The HTTP application with the control loop as a service beside it.
    public func application(logger: Logger) -> some ApplicationProtocol {
        var app = Application(router: router(),
                              configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
                              logger: logger)
        app.addServices(ControlLoopService(loop: loop, configuration: configuration, firstSlot: firstSlot))
        return app
    }

    /// The HTTP API alone, for tests that drive the loop themselves.
    public func router() -> Router<PoolRequestContext> {
        let router = Router(context: PoolRequestContext.self)
        router.middlewares.add(ErrorBodyMiddleware())
        let sessions = DashboardSessions()
        router.middlewares.add(AuthMiddleware(store: store, sessions: sessions))
        APIRoutes(runtime: runtime, store: store, metrics: metrics, loop: loop, training: training, openAPI: OpenAPIDocument.text).add(to: router)
        DashboardRoutes(runtime: runtime, store: store, sessions: sessions).add(to: router)
        return router
    }
}
