import Foundation
import PoolCore

/// Reads the GWA-T-12 Bitbrains format exactly as published: gzip or plain files, fields split
/// by `;` and a TAB, timestamps in seconds despite the `[ms]` header, scientific notation,
/// duplicate-timestamp rows, zero-core rows for a VM that is off, and month folders whose
/// files of one VM id belong to the same VM.
///
/// Each VM becomes one instance: cpu usage in cores (usage MHz over MHz per core), cpu
/// allocation in cores, memory usage and allocation in GiB.
public struct BitbrainsTraceReader: Sendable {
    /// The published header, column by column.
    public static let columns = [
        "Timestamp [ms]", "CPU cores", "CPU capacity provisioned [MHZ]", "CPU usage [MHZ]", "CPU usage [%]",
        "Memory capacity provisioned [KB]", "Memory usage [KB]", "Disk read throughput [KB/s]",
        "Disk write throughput [KB/s]", "Network received throughput [KB/s]", "Network transmitted throughput [KB/s]",
    ]
    /// The trace's sampling interval in seconds.
    public static let interval = 300
    /// Timestamps above this are read as milliseconds (year 5138 in seconds), for files that
    /// really are in the unit their header names.
    static let millisecondThreshold = 100_000_000_000.0

    /// Skip malformed rows (counting them) instead of stopping at the first one.
    public var lenient: Bool

    public init(lenient: Bool = false) {
        self.lenient = lenient
    }

    /// Reads a folder of month subfolders (`2013-7/`, `2013-8/`, …) or of files directly,
    /// each file named `<vm id>.csv` or `<vm id>.csv.gz`. `instanceLimit` keeps the first VMs
    /// by id.
    public func read(folder: String, instanceLimit: Int? = nil) throws(TraceError) -> (trace: UsageTrace, report: TraceLoadReport) {
        let discovered = try Self.discover(folder: folder)
        let filesByVM = instanceLimit.map { Array(discovered.prefix($0)) } ?? discovered
        let reader = self
        let parsed = try parallelMap(filesByVM.count) { (index: Int) throws(TraceError) -> ([UsageTraceBuilder.Sample], TraceLoadReport) in
            try reader.readVM(files: filesByVM[index].files)
        }
        var builder = UsageTraceBuilder(interval: Self.interval)
        var report = TraceLoadReport()
        for (index, (samples, vmReport)) in parsed.enumerated() {
            builder.add(InstanceID(filesByVM[index].id), samples: samples)
            report.add(vmReport)
        }
        let (trace, merged) = builder.build()
        report.mergedSamples = merged
        return (trace, report)
    }

    /// VM ids in natural order, each with its files in month order.
    static func discover(folder: String) throws(TraceError) -> [(id: String, files: [String])] {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TraceError(file: folder, message: "no such folder")
        }
        let entries: [String]
        do {
            entries = try manager.contentsOfDirectory(atPath: folder).sorted(by: naturallyOrdered)
        } catch {
            throw TraceError(file: folder, message: "cannot list the folder: \(error.localizedDescription)")
        }
        let months = entries.filter { name in
            var isDir: ObjCBool = false
            return !name.hasPrefix(".") && manager.fileExists(atPath: folder + "/" + name, isDirectory: &isDir) && isDir.boolValue
        }
        var filesByVM: [String: [String]] = [:]
        for month in months.isEmpty ? [""] : months {
            let monthPath = month.isEmpty ? folder : folder + "/" + month
            let names = (try? manager.contentsOfDirectory(atPath: monthPath)) ?? []
            for name in names {
                let id: Substring
                if name.hasSuffix(".csv.gz") { id = name.dropLast(7) } else if name.hasSuffix(".csv") { id = name.dropLast(4) } else { continue }
                guard !id.isEmpty, id.allSatisfy(\.isNumber) else { continue }
                filesByVM[String(id), default: []].append(monthPath + "/" + name)
            }
        }
        guard !filesByVM.isEmpty else {
            throw TraceError(file: folder, message: "no Bitbrains files (<vm id>.csv or <vm id>.csv.gz) in the folder or its month folders")
        }
        return filesByVM.keys.sorted(by: naturallyOrdered).map { ($0, filesByVM[$0]!) }
    }

    /// One VM's samples from its files in month order.
    func readVM(files: [String]) throws(TraceError) -> ([UsageTraceBuilder.Sample], TraceLoadReport) {
        var samples: [UsageTraceBuilder.Sample] = []
        var report = TraceLoadReport()
        var lastTimestamp = Int64.min
        for file in files {
            let bytes = try CompressedFile.read(file)
            try bytes.withUnsafeBufferPointer { (buffer) throws(TraceError) in
                try parse(buffer, file: file, into: &samples, lastTimestamp: &lastTimestamp, report: &report)
            }
        }
        return (samples, report)
    }

    /// Parses one file's text, appending its samples. `lastTimestamp` carries the previous
    /// row's time across the VM's files.
    func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, file: String, into samples: inout [UsageTraceBuilder.Sample],
        lastTimestamp: inout Int64, report: inout TraceLoadReport
    ) throws(TraceError) {
        report.files += 1
        let text = DelimitedText(bytes: bytes, delimiter: UInt8(ascii: ";"))
        var sawHeader = false
        samples.reserveCapacity(samples.count + bytes.count / 120)
        try text.forEachLine { (line, fields) throws(TraceError) -> Bool in
            if !sawHeader {
                sawHeader = true
                try Self.checkHeader(fields, text: text, file: file, line: line)
                return true
            }
            report.rows += 1
            do throws(TraceError) {
                try parseRow(fields, text: text, file: file, line: line, into: &samples, lastTimestamp: &lastTimestamp, report: &report)
            } catch {
                guard lenient else { throw error }
                report.skip(error)
            }
            return true
        }
        if !sawHeader { throw TraceError(file: file, message: "the file is empty: expected the Bitbrains header line") }
    }

    private static func checkHeader(_ fields: [Range<Int>], text: DelimitedText, file: String, line: Int) throws(TraceError) {
        guard fields.count == columns.count else {
            throw TraceError(file: file, line: line, message: "expected the Bitbrains header with \(columns.count) fields, found \(fields.count)")
        }
        for (range, expected) in zip(fields, columns) where text.text(range) != expected {
            throw TraceError(file: file, line: line, field: expected, message: "header reads '\(text.text(range))', expected '\(expected)'")
        }
    }

    private func parseRow(
        _ fields: [Range<Int>], text: DelimitedText, file: String, line: Int,
        into samples: inout [UsageTraceBuilder.Sample], lastTimestamp: inout Int64, report: inout TraceLoadReport
    ) throws(TraceError) {
        guard fields.count == Self.columns.count else {
            throw TraceError(file: file, line: line, message: "expected \(Self.columns.count) fields separated by ';', found \(fields.count)")
        }
        // Every column is checked, the ones the simulation does not use too.
        var values: (Double, Double, Double, Double, Double, Double, Double) = (0, 0, 0, 0, 0, 0, 0)
        for column in 0..<Self.columns.count {
            guard let value = text.number(fields[column]) else {
                throw TraceError(file: file, line: line, field: Self.columns[column], message: "'\(text.text(fields[column]))' is not a number")
            }
            guard value.isFinite, value >= 0 else {
                throw TraceError(file: file, line: line, field: Self.columns[column], message: "\(text.text(fields[column])) is not a finite amount of at least 0")
            }
            switch column {
            case 0: values.0 = value
            case 1: values.1 = value
            case 2: values.2 = value
            case 3: values.3 = value
            case 5: values.5 = value
            case 6: values.6 = value
            default: break
            }
        }
        var seconds = values.0
        if seconds >= Self.millisecondThreshold { seconds /= 1000 }
        guard seconds == seconds.rounded(.down), seconds < 1e11 else {
            throw TraceError(file: file, line: line, field: Self.columns[0], message: "\(text.text(fields[0])) is not a whole number of epoch seconds")
        }
        let timestamp = Int64(seconds)
        if timestamp < lastTimestamp {
            throw TraceError(file: file, line: line, field: Self.columns[0], message: "time goes backwards: \(timestamp) follows \(lastTimestamp)")
        }
        let cores = values.1
        if timestamp == lastTimestamp {
            report.duplicateTimestampRows += 1
            // Keep the first row of a timestamp that has cores (PSF-1, rule 3).
            if cores == 0 || samples.last?.timestamp == timestamp { return }
        } else if cores == 0 {
            lastTimestamp = timestamp
            report.switchedOffRows += 1
            return
        }
        // A zero capacity while the VM has cores (right after it is switched on) leaves what
        // it makes unknown missing (PSF-1 rule 5): cpu usage in cores when the CPU capacity
        // is 0, the memory allocation when the memory capacity is 0. The rest is kept.
        let capacityMHz = values.2, memoryCapacityKB = values.5
        if !(capacityMHz > 0) || !(memoryCapacityKB > 0) { report.zeroCapacityRows += 1 }
        lastTimestamp = timestamp
        let megahertzPerCore = capacityMHz / cores
        let kilobytesPerGiB = 1_048_576.0
        samples.append(UsageTraceBuilder.Sample(
            timestamp: timestamp,
            used: ResourceVector(cpu: capacityMHz > 0 ? values.3 / megahertzPerCore : .nan, memory: values.6 / kilobytesPerGiB),
            allocated: ResourceVector(cpu: cores, memory: memoryCapacityKB > 0 ? memoryCapacityKB / kilobytesPerGiB : .nan)))
    }
}
