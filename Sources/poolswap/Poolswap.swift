import ArgumentParser

@main
struct Poolswap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poolswap",
        abstract: "Predictive resource rebalancing: treat the hosts' capacity as one pool.",
        subcommands: [SimulateCommand.self, BacktestCommand.self, RecommendCommand.self]
    )
}
