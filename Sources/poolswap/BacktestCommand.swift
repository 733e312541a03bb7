import ArgumentParser
import Drivers
import Forecasting
import Foundation
import PoolCore
import Service

struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Backtest the forecaster under protocol PSF-1 (cpu, memory) or PSF-G (GPU) and write a forecast file for psf1/score.py or psfg/score.py.",
        discussion: "Every origin is forecast by the same engine the service runs, fed slot by slot with only what came before the origin.")

    @OptionGroup var source: TraceSource

    @Option(name: .long, help: "Forecast file to write (gzip when it ends in .gz).")
    var output: String

    @Option(name: .customLong("protocol"), help: "psf1: a Bitbrains folder or CSV file, cpu and memory; psfg: a GenTD26 folder (--data), GPU utilisation and memory.")
    var benchmark: String = "psf1"

    @Option(name: .long, help: "First origin, UTC (YYYY-MM-DDTHH:MM:SSZ) or epoch seconds. Default: the protocol's (PSF-1 2013-09-15T00:00:00Z, PSF-G instant 288).")
    var cutoff: String?

    @Option(name: .long, help: "Number of origins. Default: the protocol's (PSF-1 336, PSF-G 113).")
    var origins: Int?

    @Option(name: .long, help: "Seconds between origins. Default: the protocol's (PSF-1 3600, PSF-G 570).")
    var originEvery: Int?

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

    @Option(name: .long, help: "Seconds of history whose residuals a series needs before its own calibrate its intervals (until then the pooled residuals of all series, scaled to it).")
    var minimumOwnSeconds = ForecastConfiguration().minimumOwnSeconds

    @Option(name: .long, help: "Step of adaptive conformal inference on the network's intervals (0: off).")
    var adaptationRate = ForecastConfiguration().adaptationRate

    @Option(name: .long, help: "Half-life, in seconds, of the errors that rank the baselines.")
    var selectionHalfLifeSeconds = ForecastConfiguration().selectionHalfLifeSeconds

    @Option(name: .long, help: "Half-life, in seconds, of the errors that choose between the network and the baselines.")
    var choiceHalfLifeSeconds = ForecastConfiguration().choiceHalfLifeSeconds

    @Option(name: .long, help: "Train the networks on the last N days before the cut-off only (default: all of them).")
    var trainingDays: Int?

    @Flag(name: .long, help: "Train the networks as the service does: its default training days, windows and epochs (overrides --samples, --epochs and --training-days).")
    var serviceTraining = false

    @Flag(name: .long, help: "Train the networks on every other VM only (by id order), to measure accuracy on VMs they never saw.")
    var trainOnHalf = false

    func run() throws {
        guard benchmark == "psf1" || benchmark == "psfg" else { throw ValidationError("--protocol must be psf1 or psfg, not '\(benchmark)'") }
        let psfg = benchmark == "psfg"
        let defaultCutoff = psfg ? GenTD26Reader.origin + Int64(288 * GenTD26Reader.interval) : 1_379_203_200
        let cutoffSeconds = try cutoff.map { text in
            guard let seconds = UTCTime.parseISO8601(text) ?? Int64(text) else {
                throw ValidationError("--cutoff '\(text)' is not a UTC time like 2013-09-15T00:00:00Z nor epoch seconds")
            }
            return seconds
        } ?? defaultCutoff
        let origins = self.origins ?? (psfg ? 113 : 336), originEvery = self.originEvery ?? (psfg ? 10 * GenTD26Reader.interval : 3_600)
        let asked = try horizons?.split(separator: ",").map { text in
            guard let step = Int(text.trimmingCharacters(in: .whitespaces)), step >= 1 else {
                throw ValidationError("--horizons: '\(text)' is not a positive number of steps")
            }
            return step
        }
        let started = ContinuousClock.now
        let panel = try psfg ? gpuPanel() : usagePanel()
        var engine = ForecastConfiguration()
        engine.interval = panel.interval
        engine.calibrationSeconds = calibrationSeconds
        engine.networkCalibrationSeconds = networkCalibrationSeconds
        engine.adaptationRate = adaptationRate
        engine.minimumOwnSeconds = minimumOwnSeconds
        engine.selectionHalfLifeSeconds = selectionHalfLifeSeconds
        engine.choiceHalfLifeSeconds = choiceHalfLifeSeconds
        if let problem = engine.problem { throw ValidationError(problem) }
        let backtest = Backtest(cutoff: cutoffSeconds, originCount: origins, originEvery: Int64(originEvery), horizons: asked,
                                configuration: engine)
        // Checked before the networks train, which takes minutes.
        if let problem = backtest.horizonProblem(interval: panel.interval) { throw ValidationError("--horizons: \(problem)") }
        let steps = backtest.scoredHorizons(interval: panel.interval)
        let networks = try trainedNetworks(backtest, panel)
        let writer = try CompressedFileWriter(path: output)
        try writer.write("series_id,target,origin,horizon_steps,point,lo80,hi80,lo90,hi90,lo95,hi95\n")
        var rows = 0
        var writeError: TraceError?
        let progress = ProgressBar(label: "backtest")
        var originTimes: [Duration] = []
        try backtest.run(on: panel, networks: networks, originTime: { originTimes.append($0) }, progress: { progress.update($0) }) { row in
            guard writeError == nil else { return }
            var f = row.forecast
            if row.target == "gpu_util" {
                // A duty cycle is a percentage: no bound above 100.
                f = IntervalForecast(point: min(100, f.point), lower: f.lower.map { min(100, $0) }, upper: f.upper.map { min(100, $0) }, model: f.model)
            }
            let origin = psfg ? "\(row.origin)" : UTCTime.iso8601(row.origin)
            let line = "\(row.id),\(row.target),\(origin),\(row.horizon),\(number(f.point)),"
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
                                                       panel.members.count * panel.targets.count, steps.count).utf8))
        }
        FileHandle.standardError.write(Data("wrote \(rows) forecasts for \(panel.members.count) \(psfg ? "containers" : "VMs") to \(output) in \(String(format: "%.1f", seconds)) s\n".utf8))
    }

    /// PSF-1's series: the cpu and memory the trace measures (or the one it has).
    private func usagePanel() throws -> ForecastPanel {
        let (trace, report) = try source.load()
        if report.skippedRows > 0 || report.zeroCapacityRows > 0 {
            FileHandle.standardError.write(Data("\(source.name): \(report.zeroCapacityRows) zero-capacity rows with their unknown values missing, \(report.skippedRows) malformed rows skipped\n".utf8))
        }
        FileHandle.standardError.write(Data("\(source.name): \(trace.instances.count) instances, \(trace.interval)-second samples\n".utf8))
        let measured = [Resource.cpu, .memory].filter { resource in
            trace.instances.contains { $0.used[resource.rawValue].contains { $0 > 0 } }
        }
        guard !measured.isEmpty else { throw ValidationError("\(source.name) has no cpu or memory usage to forecast") }
        return ForecastPanel(trace, resources: measured)
    }

    /// PSF-G's series: each container's GPU utilisation (percent) and GPU memory (GiB).
    private func gpuPanel() throws -> ForecastPanel {
        guard source.csv == nil, let folder = source.data else {
            throw ValidationError("--protocol psfg reads a GenTD26 folder: give --data DIR (e.g. ../shared/data/gentd26-gpu)")
        }
        let (trace, reports) = try GenTD26Reader().read(directory: folder)
        for (target, report) in reports.sorted(by: { $0.key < $1.key }) {
            FileHandle.standardError.write(Data("\(folder): \(target): \(report)\n".utf8))
        }
        var members = trace.containers.indices.map { i in
            ForecastPanel.Member(id: trace.containers[i], values: [trace.utilisation[i], trace.memory[i]])
        }
        if let limit = source.instances { members = Array(members.prefix(limit)) }
        FileHandle.standardError.write(Data("\(folder): \(members.count) containers, \(GenTD26Reader.interval)-second samples\n".utf8))
        return ForecastPanel(origin: GenTD26Reader.origin, interval: GenTD26Reader.interval, slotCount: GenTD26Reader.instants,
                             targets: GenTD26Reader.files.map(\.target), members: members)
    }

    private func number(_ value: Double) -> String { String(format: "%.7g", value) }

    /// One network per resource, trained on the data before the cut-off (both at once, one per
    /// core), or loaded from `--checkpoints`.
    private func trainedNetworks(_ backtest: Backtest, _ panel: ForecastPanel) throws -> [String: RecurrentNetwork] {
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
        let targets = panel.targets
        let outcomes = parallelMap(targets.count) { index -> Result<RecurrentNetwork, NetworkFailure> in
            let resource = targets[index]
            // The name carries everything the network depends on, so a checkpoint trained up to
            // another cut-off or with other settings is never loaded by mistake.
            let settings = trainer.configuration
            let name = "\(resource).\(cell.rawValue).v\(Checkpoint.formatVersion).q\(settings.quantiles.count).h\(settings.hidden).m\(settings.mlp).t\(settings.steps)"
                + ".n\(settings.samples)x\(settings.epochs).lr\(settings.learningRate).seed\(settings.seed)"
                + ".until\(backtest.cutoff - Int64(backtest.networkWarmup(panel) * panel.interval))\(days.map { ".d\($0)" } ?? "")\(trainOnHalf ? ".half" : "")"
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
            var (series, end) = backtest.trainingSeries(panel, index)
            if trainOnHalf { series = series.enumerated().filter { $0.offset % 2 == 0 }.map(\.element) }
            var startSlot = panel.origin / Int64(panel.interval)
            if let days {
                // The last `days` before the training's end, as the service reads its store.
                let from = max(0, end - days * 86_400 / panel.interval)
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
                return .failure(NetworkFailure("\(resource): no training windows before \(UTCTime.iso8601(panel.origin + Int64(max(0, end) * panel.interval))); use --network none or an earlier trace"))
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
        var networks: [String: RecurrentNetwork] = [:]
        for (target, outcome) in zip(targets, outcomes) { networks[target] = try outcome.get() }
        return networks
    }
}

/// Why the backtest's networks could not be had: not a usage mistake, so no usage is printed.
struct NetworkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

