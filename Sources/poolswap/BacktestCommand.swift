import ArgumentParser
import Drivers
import Forecasting
import Foundation
import PoolCore
import Service

struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Backtest the forecaster under protocol PSF-1 and write a forecast file for psf1/score.py.",
        discussion: "Every origin is forecast by the same engine the service runs, fed slot by slot with only what came before the origin.")

    @OptionGroup var source: TraceSource

    @Option(name: .long, help: "Forecast file to write (gzip when it ends in .gz).")
    var output: String

    @Option(name: .long, help: "First origin, UTC (YYYY-MM-DDTHH:MM:SSZ).")
    var cutoff: String = "2013-09-15T00:00:00Z"

    @Option(name: .long, help: "Number of origins.")
    var origins: Int = 336

    @Option(name: .long, help: "Seconds between origins.")
    var originEvery: Int = 3600

    @Option(name: .long, help: "Comma-separated horizons in steps of the trace's interval, among the engine's (every 5 minutes to 30, rounded to steps). Default: 5, 15 and 30 minutes (1,3,6 at 5-minute samples; 5,16,32 at 57 s).")
    var horizons: String?

    @Option(name: .long, help: "Recurrent network beside the baselines: gru, lstm or none.")
    var network: String = "gru"

    @Option(name: .long, help: "Hidden units of the network.")
    var hidden: Int = NetworkTrainer.Configuration().hidden

    @Option(name: .long, help: "Units of the network's dense hidden layer.")
    var mlp: Int = NetworkTrainer.Configuration().mlp

    @Option(name: .long, help: "Steps in the network's input window (one step is 5 minutes, or one sample when samples are longer).")
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

    @Option(name: .long, help: "Seconds of residuals per horizon that calibrate intervals around the chosen point.")
    var calibrationSeconds = ForecastConfiguration().calibrationSeconds

    @Option(name: .long, help: "Seconds of conformity scores per level and horizon that calibrate the network's intervals.")
    var networkCalibrationSeconds = ForecastConfiguration().networkCalibrationSeconds

    @Option(name: .long, help: "Step of adaptive conformal inference on the network's intervals (0: off).")
    var adaptationRate = ForecastConfiguration().adaptationRate

    @Option(name: .long, help: "Half-life, in seconds, of the errors that rank the baselines.")
    var selectionHalfLife = ForecastConfiguration().selectionHalfLifeSeconds

    @Option(name: .long, help: "Half-life, in seconds, of the errors that choose between the network and the baselines.")
    var choiceHalfLife = ForecastConfiguration().choiceHalfLifeSeconds

    @Option(name: .long, help: "Train the networks on the last N days before the cut-off only (default: all of them).")
    var trainingDays: Int?

    @Flag(name: .long, help: "Train the networks as the service does: its default training days, windows and epochs (overrides --samples, --epochs and --training-days).")
    var serviceTraining = false

    @Flag(name: .long, help: "Train the networks on every other VM only (by id order), to measure accuracy on VMs they never saw.")
    var trainOnHalf = false

    func run() throws {
        guard let cutoffSeconds = UTCTime.parseISO8601(cutoff) else {
            throw ValidationError("--cutoff '\(cutoff)' is not a UTC time like 2013-09-15T00:00:00Z")
        }
        let asked = try horizons?.split(separator: ",").map { text in
            guard let step = Int(text.trimmingCharacters(in: .whitespaces)), step >= 1 else {
                throw ValidationError("--horizons: '\(text)' is not a positive number of steps")
            }
            return step
        }
        let started = ContinuousClock.now
        let (trace, report) = try source.load()
        if report.skippedRows > 0 || report.zeroCapacityRows > 0 {
            FileHandle.standardError.write(Data("\(source.name): \(report.zeroCapacityRows) zero-capacity rows with their unknown values missing, \(report.skippedRows) malformed rows skipped\n".utf8))
        }
        FileHandle.standardError.write(Data("\(source.name): \(trace.instances.count) instances, \(trace.interval)-second samples\n".utf8))
        // The resources the trace measures: cpu and memory, or the one it has.
        let measured = [Resource.cpu, .memory].filter { resource in
            trace.instances.contains { $0.used[resource.rawValue].contains { $0 > 0 } }
        }
        guard !measured.isEmpty else { throw ValidationError("\(source.name) has no cpu or memory usage to forecast") }
        var engine = ForecastConfiguration()
        engine.interval = trace.interval
        engine.calibrationSeconds = calibrationSeconds
        engine.networkCalibrationSeconds = networkCalibrationSeconds
        engine.adaptationRate = adaptationRate
        engine.selectionHalfLifeSeconds = selectionHalfLife
        engine.choiceHalfLifeSeconds = choiceHalfLife
        if let problem = engine.problem { throw ValidationError(problem) }
        let steps = asked ?? [300, 900, 1_800].map(engine.cadence.slots)
        let missing = steps.filter { !engine.horizons.contains($0) }
        guard missing.isEmpty else {
            throw ValidationError("--horizons \(horizons ?? ""): the engine forecasts \(engine.horizons.map(String.init).joined(separator: ",")) steps of \(trace.interval) s (every 5 minutes to 30), not \(missing.map(String.init).joined(separator: ","))")
        }
        let backtest = Backtest(cutoff: cutoffSeconds, originCount: origins, originEvery: Int64(originEvery), horizons: steps,
                                resources: measured, configuration: engine)
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
        let service = ServiceConfiguration()
        var settings = NetworkTrainer.Configuration()
        settings.cell = cell
        settings.hidden = hidden
        settings.epochs = serviceTraining ? service.trainingEpochs : epochs
        settings.samples = serviceTraining ? service.trainingSamples : samples
        let days = serviceTraining ? service.trainingDays : trainingDays
        if let days, days < 1 { throw ValidationError("--training-days must be at least 1") }
        settings.mlp = mlp
        settings.steps = steps
        settings.learningRate = learningRate
        settings.seed = seed
        settings.adopt(backtest.configuration)
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
                + ".until\(backtest.cutoff - Int64(backtest.networkWarmup(trace) * trace.interval))\(days.map { ".d\($0)" } ?? "")\(trainOnHalf ? ".half" : "")"
                + (settings.interval == 300 && settings.horizons == Array(1...6) ? "" : ".i\(settings.interval).at\(settings.horizons.map(String.init).joined(separator: "-"))") + ".ckpt"
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
            var startSlot = trace.origin / Int64(trace.interval)
            if let days {
                // The last `days` before the training's end, as the service reads its store.
                let from = max(0, end - days * 86_400 / trace.interval)
                series = series.map { item in
                    TrainingSeries(values: Array(item.values[from...]), other: item.other.map { Array($0[from...]) },
                                   allocation: item.allocation.map { Array($0[from...]) })
                }
                startSlot += Int64(from)
                end -= from
            }
            let (trained, losses) = trainer.train(series: series, startSlot: startSlot, end: end)
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

