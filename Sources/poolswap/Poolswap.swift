import ArgumentParser

@main
struct Poolswap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poolswap",
        abstract: "Predictive resource rebalancing: treat the hosts' capacity as one pool.",
        subcommands: [ServeCommand.self, AgentCommand.self, TokenCommand.self, SimulateCommand.self, BacktestCommand.self, RecommendCommand.self, BenchCommand.self]
    )
}
