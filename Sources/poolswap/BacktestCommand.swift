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
        let backtest = Backtest(cutoff: cutoffSeconds, originCount: origins, originEvery: Int64(originEvery), horizons: steps)
        let writer = try CompressedFileWriter(path: output)
        try writer.write("series_id,target,origin,horizon_steps,point,lo80,hi80,lo90,hi90,lo95,hi95\n")
        var rows = 0
        var writeError: TraceError?
        let progress = ProgressBar(label: "backtest")
        try backtest.run(on: trace, progress: { progress.update($0) }) { row in
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
        FileHandle.standardError.write(Data("wrote \(rows) forecasts for \(trace.instances.count) VMs to \(output) in \(String(format: "%.1f", seconds)) s\n".utf8))
    }

    private func number(_ value: Double) -> String { String(format: "%.7g", value) }
}

/// A one-line progress bar on standard error.
final class ProgressBar {
    let label: String
    private var shown = -1

    init(label: String) { self.label = label }

    func update(_ fraction: Double) {
        let percent = Int(fraction * 100)
        guard percent != shown else { return }
        shown = percent
        let filled = percent / 5
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 20 - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(percent)%".utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}
