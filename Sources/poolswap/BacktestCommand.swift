import ArgumentParser
import Drivers
import Forecasting
import Foundation
import PoolCore

struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Backtest the forecaster under protocol PSF-1 and write a forecast file for psf1/score.py.",
        discussion: "Every origin is forecast by the same engine the service runs, fed slot by slot with only what came before the origin.")

    @Option(name: .long, help: "A folder in the Bitbrains GWA-T-12 format.")
    var data: String = TraceSource.bundledSample

    @Option(name: .long, help: "Forecast file to write (gzip when it ends in .gz).")
    var output: String

    @Option(name: .long, help: "First origin, UTC (YYYY-MM-DDTHH:MM:SSZ).")
    var cutoff: String = "2013-09-15T00:00:00Z"

    @Option(name: .long, help: "Number of origins.")
    var origins: Int = 336

    @Option(name: .long, help: "Seconds between origins.")
    var originEvery: Int = 3600

    @Option(name: .long, help: "Comma-separated horizons in 5-minute steps.")
    var horizons: String = "1,3,6"

    @Flag(name: .long, help: "Skip malformed rows and count them, instead of stopping at the first.")
    var lenient = false

    @Option(name: .long, help: "Recurrent network beside the baselines: gru, lstm or none.")
    var network: String = "gru"

    @Option(name: .long, help: "Hidden units of the network.")
    var hidden: Int = NetworkTrainer.Configuration().hidden

    @Option(name: .long, help: "Units of the network's dense hidden layer.")
    var mlp: Int = NetworkTrainer.Configuration().mlp

    @Option(name: .long, help: "Slots in the network's input window.")
    var steps: Int = NetworkTrainer.Configuration().steps

    @Option(name: .long, help: "Peak learning rate of training.")
    var learningRate: Double = NetworkTrainer.Configuration().learningRate

    @Option(name: .long, help: "Seed of the network's initialisation and training windows.")
    var seed: UInt64 = NetworkTrainer.Configuration().seed

    @Option(name: .long, help: "Training epochs.")
    var epochs: Int = NetworkTrainer.Configuration().epochs

    @Option(name: .long, help: "Training windows per epoch.")
    var samples: Int = NetworkTrainer.Configuration().samples

    @Option(name: .long, help: "Folder for trained networks: loaded from it when there, else trained and saved to it.")
    var checkpoints: String?

    @Option(name: .long, help: "Residuals per horizon that calibrate intervals around the chosen point.")
    var calibrationWindow = ForecastConfiguration().calibrationWindow

    @Option(name: .long, help: "Conformity scores per level and horizon that calibrate the network's intervals.")
    var networkCalibrationWindow = ForecastConfiguration().networkCalibrationWindow

    @Option(name: .long, help: "Step of adaptive conformal inference on the network's intervals (0: off).")
    var adaptationRate = ForecastConfiguration().adaptationRate

    @Option(name: .long, help: "Half-life, in slots, of the errors that rank the baselines.")
    var selectionHalfLife = ForecastConfiguration().selectionHalfLife

    @Option(name: .long, help: "Half-life, in slots, of the errors that choose between the network and the baselines.")
    var choiceHalfLife = ForecastConfiguration().choiceHalfLife

    @Flag(name: .long, help: "Train the networks on every other VM only (by id order), to measure accuracy on VMs they never saw.")
    var trainOnHalf = false

    func run() throws {
        guard let cutoffSeconds = UTCTime.parseISO8601(cutoff) else {
            throw ValidationError("--cutoff '\(cutoff)' is not a UTC time like 2013-09-15T00:00:00Z")
        }
        let steps = try horizons.split(separator: ",").map { text in
            guard let step = Int(text.trimmingCharacters(in: .whitespaces)), step >= 1 else {
                throw ValidationError("--horizons: '\(text)' is not a positive number of steps")
            }
            return step
        }
        let started = ContinuousClock.now
        let (trace, _) = try BitbrainsTraceReader(lenient: lenient).read(folder: data)
        var engine = ForecastConfiguration()
        engine.calibrationWindow = calibrationWindow
        engine.networkCalibrationWindow = networkCalibrationWindow
        engine.adaptationRate = adaptationRate
        engine.selectionHalfLife = selectionHalfLife
        engine.choiceHalfLife = choiceHalfLife
        guard calibrationWindow > 0, networkCalibrationWindow > 0, adaptationRate >= 0, adaptationRate < 1,
              selectionHalfLife > 0, choiceHalfLife > 0 else {
            throw ValidationError("the calibration windows and half-lives must be positive and --adaptation-rate within 0..<1")
        }
        let backtest = Backtest(cutoff: cutoffSeconds, originCount: origins, originEvery: Int64(originEvery), horizons: steps, configuration: engine)
        let networks = try trainedNetworks(backtest, trace)
        let writer = try CompressedFileWriter(path: output)
        try writer.write("series_id,target,origin,horizon_steps,point,lo80,hi80,lo90,hi90,lo95,hi95\n")
        var rows = 0
        var writeError: TraceError?
        let progress = ProgressBar(label: "backtest")
        var originTimes: [Duration] = []
        try backtest.run(on: trace, networks: networks, originTime: { originTimes.append($0) }, progress: { progress.update($0) }) { row in
            guard writeError == nil else { return }
            let f = row.forecast
            let line = "\(row.instance),\(row.resource),\(UTCTime.iso8601(row.origin)),\(row.horizon),\(number(f.point)),"
                + "\(number(f.lower[0])),\(number(f.upper[0])),\(number(f.lower[1])),\(number(f.upper[1])),\(number(f.lower[2])),\(number(f.upper[2]))\n"
            do throws(TraceError) { try writer.write(line) } catch { writeError = error }
            rows += 1
        }
        progress.finish()
        if let writeError { throw writeError }
        try writer.close()
        let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds)
        let milliseconds = originTimes.map { Double($0.components.seconds) * 1e3 + Double($0.components.attoseconds) / 1e15 }
        if !milliseconds.isEmpty {
            FileHandle.standardError.write(Data(String(format: "forecasting every series at one origin: mean %.2f ms, max %.2f ms (%d series × %d horizons)\n",
                                                       milliseconds.reduce(0, +) / Double(milliseconds.count), milliseconds.max()!,
                                                       trace.instances.count * backtest.resources.count, steps.count).utf8))
        }
        FileHandle.standardError.write(Data("wrote \(rows) forecasts for \(trace.instances.count) VMs to \(output) in \(String(format: "%.1f", seconds)) s\n".utf8))
    }

    private func number(_ value: Double) -> String { String(format: "%.7g", value) }

    /// One network per resource, trained on the data before the cut-off (both at once, one per
    /// core), or loaded from `--checkpoints`.
    private func trainedNetworks(_ backtest: Backtest, _ trace: UsageTrace) throws -> [Resource: RecurrentNetwork] {
        guard network != "none" else { return [:] }
        guard let cell = RecurrentNetwork.Cell(rawValue: network) else {
            throw ValidationError("--network must be gru, lstm or none, not '\(network)'")
        }
        var settings = NetworkTrainer.Configuration()
        settings.cell = cell
        settings.hidden = hidden
        settings.epochs = epochs
        settings.samples = samples
        settings.mlp = mlp
        settings.steps = steps
        settings.learningRate = learningRate
        settings.seed = seed
        guard hidden > 0, mlp >= 0, steps > 0, samples > 0, epochs > 0, learningRate > 0, learningRate.isFinite else {
            throw ValidationError("--hidden, --steps, --samples, --epochs and --learning-rate must be positive and --mlp at least 0")
        }
        let trainer = NetworkTrainer(configuration: settings)
        let resources = backtest.resources
        let outcomes = parallelMap(resources.count) { index -> Result<RecurrentNetwork, NetworkFailure> in
            let resource = resources[index]
            // The name carries everything the network depends on, so a checkpoint trained up to
            // another cut-off or with other settings is never loaded by mistake.
            let settings = trainer.configuration
            let name = "\(resource).\(cell.rawValue).v\(Checkpoint.formatVersion).q\(settings.quantiles.count).h\(settings.hidden).m\(settings.mlp).t\(settings.steps)"
                + ".n\(settings.samples)x\(settings.epochs).lr\(settings.learningRate).seed\(settings.seed)"
                + ".until\(backtest.cutoff - Int64(backtest.networkWarmup * trace.interval))\(trainOnHalf ? ".half" : "").ckpt"
            let path = checkpoints.map { "\($0)/\(name)" }
            if let path, let bytes = FileManager.default.contents(atPath: path) {
                do {
                    let loaded = try Checkpoint.decode(Array(bytes))
                    try NetworkForecaster.check(loaded)
                    FileHandle.standardError.write(Data("\(resource): loaded \(path)\n".utf8))
                    return .success(loaded)
                } catch {
                    return .failure(NetworkFailure("\(path): \(error)"))
                }
            }
            let started = ContinuousClock.now
            var (series, end) = backtest.trainingSeries(trace, resource)
            if trainOnHalf { series = series.enumerated().filter { $0.offset % 2 == 0 }.map(\.element) }
            let (trained, losses) = trainer.train(series: series, startSlot: trace.origin / Int64(trace.interval), end: end)
            if let bad = trained.parameters.values.first(where: { !$0.isFinite }) {
                return .failure(NetworkFailure("\(resource): training diverged (a parameter became \(bad)); lower --learning-rate"))
            }
            guard !losses.isEmpty else {
                return .failure(NetworkFailure("\(resource): no training windows before \(UTCTime.iso8601(trace.origin + Int64(max(0, end) * trace.interval))); use --network none or an earlier trace"))
            }
            FileHandle.standardError.write(Data("\(resource): trained \(cell.rawValue) in \(ContinuousClock.now - started), loss per epoch \(losses.map { String(format: "%.4f", $0) })\n".utf8))
            if let path {
                try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                if !FileManager.default.createFile(atPath: path, contents: Data(Checkpoint.encode(trained))) {
                    return .failure(NetworkFailure("cannot write \(path)"))
                }
            }
            return .success(trained)
        }
        let failures = outcomes.compactMap { outcome -> String? in
            if case .failure(let error) = outcome { return error.description }
            return nil
        }
        guard failures.isEmpty else { throw NetworkFailure(failures.joined(separator: "; ")) }
        var networks: [Resource: RecurrentNetwork] = [:]
        for (resource, outcome) in zip(resources, outcomes) { networks[resource] = try outcome.get() }
        return networks
    }
}

/// Why the backtest's networks could not be had: not a usage mistake, so no usage is printed.
struct NetworkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

