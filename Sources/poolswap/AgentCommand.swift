import ArgumentParser
import Drivers
import Foundation
import Hummingbird
import Logging
import Service

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Sample this node's instances and push them to a Poolswap server, buffering on disk while it is unreachable.",
        discussion: """
            Every --interval seconds the agent reads the instances its driver finds (cgroups under --cgroup-parent, or runc \
            containers under --oci-root): cpu used and throttled, working set, OOM kills and pressure where the kernel \
            reports it. Each batch is written to --spool before it is sent to POST /usage and deleted once the server \
            answered; nodes and instances the server does not know are registered first (the token needs the admin role). \
            What it samples is at /metrics in Prometheus' text format. With --server none it only exports /metrics, for a \
            Prometheus that `poolswap serve --prometheus` pulls from.
            """)

    @Option(name: .long, help: "The server's base URL, or none to only export /metrics.")
    var server = "http://127.0.0.1:8080"
    @Option(name: .long, help: "Bearer token (admin: the agent registers nodes and instances); default $POOLSWAP_TOKEN.")
    var token: String?
    @Option(name: .long, help: "What to sample: cgroup or oci.")
    var driver = "cgroup"
    @Option(name: .long, help: "cgroup: the parent cgroup whose children are the instances.")
    var cgroupParent = "poolswap"
    @Option(name: .long, help: "oci: runc's state root.")
    var ociRoot = "/run/poolswap/runc"
    @Option(name: .long, help: "This node's name (default: the host name).")
    var node: String?
    @Option(name: .long, help: "Seconds between samples: the server's interval.")
    var interval = 300
    @Option(name: .long, help: "Folder of the disk buffer.")
    var spool = "poolswap-agent-spool"
    @Option(name: .long, help: "Address /metrics listens on.")
    var host = "127.0.0.1"
    @Option(name: .long, help: "Port /metrics listens on.")
    var port = 9110
    @Option(name: .long, help: "Tenant an instance unknown to the server is registered under.")
    var tenant = "local"

    func run() async throws {
        guard interval >= 1 else { throw ValidationError("--interval must be at least 1 second") }
        var client: AgentClient?
        if server != "none" {
            guard let token = token ?? ProcessInfo.processInfo.environment["POOLSWAP_TOKEN"], !token.isEmpty else {
                throw ValidationError("give --token or set POOLSWAP_TOKEN (or --server none to only export /metrics)")
            }
            guard let url = URL(string: server), url.scheme == "http" || url.scheme == "https" else { throw ValidationError("--server: not an http(s) URL: \(server)") }
            client = AgentClient(server: url, token: token)
        }
        let instances: any InstanceDriver
        switch driver {
        case "cgroup": instances = try CgroupDriver(parent: cgroupParent, nodeName: node)
        case "oci": instances = try OCIDriver(root: ociRoot, nodeName: node)
        default: throw ValidationError("--driver must be cgroup or oci, not \(driver)")
        }
        var settings = NodeAgent.Settings()
        settings.interval = interval
        settings.tenant = tenant
        let agent = NodeAgent(driver: instances, client: client, spool: client == nil ? nil : try AgentSpool(directory: spool), settings: settings)
        var logger = Logger(label: "poolswap-agent")
        logger.logLevel = .info
        try await AgentApplication(agent: agent, interval: interval, host: host, port: port).application(logger: logger).runService()
    }
}
