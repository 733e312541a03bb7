import ArgumentParser
import Drivers
import Foundation
import PoolCore

/// Where a command reads usage from: a Bitbrains folder or a Poolswap CSV file.
struct TraceSource: ParsableArguments {
    @Option(name: .long, help: "A folder in the Bitbrains GWA-T-12 format (month folders of <vm>.csv.gz). Default: the sample bundled in Data/bitbrains-sample.")
    var data: String?

    @Option(name: .long, help: "A file in Poolswap's CSV usage format (see README), instead of --data.")
    var csv: String?

    @Option(name: .long, help: "Seconds between samples of a --csv file (default: the most common step between an instance's samples).")
    var interval: Int?

    @Flag(name: .long, help: "Skip malformed rows and count them, instead of stopping at the first.")
    var lenient = false

    @Option(name: .long, help: "Use only the first N instances (by id).")
    var instances: Int?

    func validate() throws {
        if data != nil && csv != nil { throw ValidationError("give --data or --csv, not both") }
        if let instances, instances < 1 { throw ValidationError("--instances must be at least 1, not \(instances)") }
        if let interval, interval < 1 { throw ValidationError("--interval must be a positive number of seconds, not \(interval)") }
        if interval != nil && csv == nil { throw ValidationError("--interval applies to --csv; a Bitbrains folder has 300-second samples") }
    }

    /// A readable name of the source.
    var name: String { csv ?? data ?? Self.bundledSample }

    func load() throws -> (trace: UsageTrace, report: TraceLoadReport) {
        if let csv {
            var (trace, report) = try UsageCSVReader(lenient: lenient, interval: interval).read(file: csv)
            if let instances { trace.instances = Array(trace.instances.prefix(instances)) }
            return (trace, report)
        }
        return try BitbrainsTraceReader(lenient: lenient).read(folder: data ?? Self.bundledSample, instanceLimit: instances)
    }

    static var bundledSample: String { BundledSample.folder }
}
