import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Service
import Storage

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Poolswap service: the control loop behind the HTTP API.",
        discussion: """
            With no configuration it listens on 127.0.0.1:8080, keeps its data in ./poolswap.sqlite and \
            replays the bundled trace sample as a simulated pool, a round every 2 seconds. Settings come \
            from flags, then POOLSWAP_* environment variables, then --config FILE (JSON), then defaults \
            (README lists them all). Every endpoint but /healthz needs a token: `poolswap token create`.
            """)

    @Option(name: .long, help: "JSON configuration file.")
    var config: String?
    @Option(name: .long, help: "Address to listen on (default 127.0.0.1).")
    var host: String?
    @Option(name: .long, help: "Port (default 8080).")
    var port: Int?
    @Option(name: .long, help: "SQLite database file (default poolswap.sqlite).")
    var database: String?
    @Flag(inversion: .prefixedNo, help: "Replay the bundled trace as a simulated pool (default on).")
    var demo: Bool?
    @Option(name: .long, help: "What applies the swaps: simulated (the demo), cgroup, oci, qemu (with the configuration file's qemu object) or none (default: simulated in the demo, else none).")
    var driver: String?
    @Option(name: .long, help: "cgroup and oci: the parent cgroup whose children are the instances (default poolswap).")
    var cgroupParent: String?
    @Option(name: .long, help: "Seconds between rounds, the usage grid (default 300).")
    var interval: Int?
    @Option(name: .long, help: "Pull usage from this Prometheus server (with --driver none); the configuration's prometheus object sets the queries.")
    var prometheus: String?
    @Option(name: .long, help: "With --prometheus: the query preset, agent or cadvisor (default agent).")
    var prometheusQueries: String?

    func run() async throws {
        var settings = try ServiceConfiguration.load(file: config)
        if let host { settings.host = host }
        if let port { settings.port = port }
        if let database { settings.database = database }
        if let demo { settings.demo = demo }
        if let driver { settings.driver = driver }
        if let cgroupParent { settings.cgroupParent = cgroupParent }
        if let interval { settings.interval = interval }
        if let prometheus {
            if settings.prometheus == nil { settings.prometheus = PrometheusSettings(url: prometheus) } else { settings.prometheus!.url = prometheus }
        }
        if let prometheusQueries {
            guard settings.prometheus != nil else { throw ValidationError("--prometheus-queries needs --prometheus URL") }
            settings.prometheus!.queries = prometheusQueries
        }
        try settings.validate()
        var logger = Logger(label: "poolswap")
        logger.logLevel = .info
        if settings.demo, settings.evaluationFile == nil, !settings.database.contains("://") {
            // The dashboard's evaluation page on the embedded defaults: the replayed policies on
            // the bundled trace (about a second), once per database.
            let file = settings.database + ".evaluation.json"
            do {
                if !FileManager.default.fileExists(atPath: file) {
                    let (summary, _, _) = try await SimulateCommand.parse([]).evaluate()
                    try summary.json().write(toFile: file, atomically: true, encoding: .utf8)
                    logger.info("poolswap: demo: simulate's replayed policies on the bundled trace written to \(file) for the dashboard")
                }
                settings.evaluationFile = file
            } catch {
                logger.warning("poolswap: demo: no evaluation for the dashboard: \(error)")
            }
        }
        let store = try ServiceApplication.store(try await openStore(settings), environment: ProcessInfo.processInfo.environment)
        // A live pool takes samples of the present even while its clock lags behind.
        let present: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
        let wallClock = settings.demo ? nil : present
        let service = try await ServiceApplication(configuration: settings, store: store, logger: logger,
                                                   now: Int64(Date().timeIntervalSince1970), wallClock: wallClock)
        let instances = await service.runtime.allInstances().count
        let nodes = await service.runtime.allNodes().count
        logger.info("poolswap: \(instances) instances on \(nodes) nodes, database \(settings.database), driver \(settings.driverName), \(settings.demo ? "demo: replaying the trace sample, a round every \(settings.demoRoundSeconds) s" : "live: a round every \(settings.interval) s\(settings.prometheus.map { ", usage pulled from Prometheus at \($0.url) (\($0.queries) queries)" } ?? "")")")
        let forecaster = await service.runtime.forecasterView()
        let networks = forecaster.networks.map { "\($0.resource) (\($0.cell), from the store)" }.joined(separator: ", ")
        logger.info("poolswap: forecaster with \(forecaster.slotsObserved) slots of history, \(networks.isEmpty ? "baselines only until its first training" : "networks \(networks)")")
        logger.info("poolswap: listening on http://\(settings.host):\(settings.port); create a token with `poolswap token create --role admin --database \(settings.database)`")
        try await service.application(logger: logger).runService()
    }
}

/// The store the settings name: PostgreSQL when `postgres` is set, else SQLite.
func openStore(_ settings: ServiceConfiguration, database: String? = nil) async throws -> any PoolStore {
    if let url = settings.postgres {
        #if Postgres
        return try await PostgresStore(url: url)
        #else
        throw ValidationError("postgres is set (\(url)) but this binary was built without PostgreSQL: swift build --traits Postgres")
        #endif
    }
    return try SQLiteStore(path: database ?? settings.database)
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage API tokens.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create an API token and print it once; only its SHA-256 is stored.")

        @Option(name: .long, help: "admin, operator or reader.")
        var role: String
        @Option(name: .long, help: "Limit the token to one tenant's instances.")
        var tenant: String?
        @Option(name: .long, help: "A name for the token, shown in errors and logs.")
        var name: String = "token"
        @Option(name: .long, help: "SQLite database file (default: the configuration's, poolswap.sqlite).")
        var database: String?
        @Option(name: .long, help: "JSON configuration file.")
        var config: String?

        func run() async throws {
            guard let role = TokenRecord.Role(rawValue: role) else {
                throw ValidationError("--role must be admin, operator or reader, not \(role)")
            }
            let settings = try ServiceConfiguration.load(file: config)
            let store = try await openStore(settings, database: database)
            let token = APIToken.generate()
            try await store.insert(token: TokenRecord(hash: APIToken.hash(token), name: name, role: role, tenant: tenant,
                                                      created: Int64(Date().timeIntervalSince1970)))
            print(token)
        }
    }
}
