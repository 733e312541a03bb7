import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The agent as a process: `/metrics` (and `/healthz`) over HTTP, the sampling loop beside it.
public struct AgentApplication {
    public let agent: NodeAgent
    public let interval: Int
    public let host: String
    public let port: Int

    public init(agent: NodeAgent, interval: Int, host: String, port: Int) {
        self.agent = agent
        self.interval = interval
        self.host = host
        self.port = port
    }

    public func application(logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        let agent = agent
        router.get("/healthz") { _, _ in "ok" }
        router.get("/metrics") { _, _ -> Response in
            let text = await agent.metrics()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        var app = Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
        app.addServices(AgentLoop(agent: agent, interval: Int64(interval), logger: logger))
        return app
    }
}

/// Samples at every interval boundary of the wall clock (and once at start, which gives the
/// first readings); a flush is retried at each.
struct AgentLoop: Service {
    let agent: NodeAgent
    let interval: Int64
    let logger: Logger

    func run() async throws {
        await agent.tick(now: Int64(Date().timeIntervalSince1970))
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = Date().timeIntervalSince1970
            let next = (Int64(now) / interval + 1) * interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(Double(next) - now)) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            await agent.tick(now: next)
            if let problem = await agent.lastProblem { logger.warning("\(problem)") }
            let (taken, sent, buffered) = (await agent.samplesTaken, await agent.samplesSent, await agent.buffered())
            logger.info("sampled: \(taken) taken, \(sent) sent, \(buffered) batches buffered")
        }
        // A last attempt to hand over what is buffered; what is not stays on disk.
        await agent.flush()
        let (taken, sent, rejected, buffered) = (await agent.samplesTaken, await agent.samplesSent, await agent.samplesRejected, await agent.buffered())
        logger.info("stopped: \(taken) taken, \(sent) sent, \(rejected) rejected, \(buffered) batches buffered")
    }
}
