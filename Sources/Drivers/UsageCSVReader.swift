import PoolCore

/// Reads Poolswap's plain CSV usage format, for users' own data:
///
///     instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated,gpu_used,gpu_allocated
///     web-1,2024-05-01T00:00:00Z,1.25,2,3.5,8,0,0
///
/// One header line naming the columns (any order), then one row per instance and sample.
/// `instance` and `timestamp` are required, and the usage of at least one resource; a
/// resource whose columns are left out is not measured (0, as a machine without GPUs), a
/// usage without its allocation column has an unknown allocation, an empty field is a missing
/// value (that slot's value unknown, the rest of the row kept), and a row without any usage
/// is a gap.
/// `timestamp` is epoch seconds or UTC ISO 8601 (`YYYY-MM-DDTHH:MM:SSZ`). Units: cpu in
/// cores, memory in GiB, gpu in whole devices; amounts are finite and at least 0. Rows may
/// come in any order; an instance's samples are sorted by time and the first of equal
/// timestamps is kept.
public struct UsageCSVReader: Sendable {
    public static let requiredColumns = ["instance", "timestamp"]
    public static let optionalColumns = ["cpu_used", "cpu_allocated", "memory_used", "memory_allocated", "gpu_used", "gpu_allocated"]

    /// Skip malformed rows (counting them) instead of stopping at the first one.
    public var lenient: Bool
    /// Seconds between samples, the trace's grid; nil: the most common step between an
    /// instance's consecutive timestamps.
    public var interval: Int?

    public init(lenient: Bool = false, interval: Int? = 300) {
        self.lenient = lenient
        self.interval = interval
    }

    public func read(file: String) throws(TraceError) -> (trace: UsageTrace, report: TraceLoadReport) {
        let bytes = try CompressedFile.read(file)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(TraceError) in try parse(buffer, file: file) }
    }

    func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws(TraceError) -> (trace: UsageTrace, report: TraceLoadReport) {
        if let interval, interval <= 0 { throw TraceError(file: file, message: "the interval must be a positive number of seconds, not \(interval)") }
        let text = DelimitedText(bytes: bytes, delimiter: UInt8(ascii: ","))
        var report = TraceLoadReport()
        report.files = 1
        var columnIndex: [String: Int] = [:]
        var order: [String] = []
        var samplesByInstance: [String: [(row: Int, sample: UsageTraceBuilder.Sample)]] = [:]
        try text.forEachLine { (line, fields) throws(TraceError) -> Bool in
            if columnIndex.isEmpty {
                columnIndex = try Self.header(fields, text: text, file: file, line: line)
                return true
            }
            report.rows += 1
            do throws(TraceError) {
                guard fields.count == columnIndex.count else {
                    throw TraceError(file: file, line: line, message: "expected \(columnIndex.count) fields as in the header, found \(fields.count)")
                }
                let instance = text.text(fields[columnIndex["instance"]!])
                guard !instance.isEmpty else { throw TraceError(file: file, line: line, field: "instance", message: "the instance name is empty") }
                let timestamp = try Self.timestamp(fields[columnIndex["timestamp"]!], text: text, file: file, line: line)
                var used = ResourceVector.zero
                var allocated = ResourceVector.zero
                for resource in Resource.allCases {
                    used[resource] = try Self.amount("\(resource)_used", fields, columnIndex, text: text, file: file, line: line)
                    allocated[resource] = try Self.amount("\(resource)_allocated", fields, columnIndex, text: text, file: file, line: line)
                    // Usage without its allocation column: the allocation is unknown, not 0.
                    if columnIndex["\(resource)_allocated"] == nil, columnIndex["\(resource)_used"] != nil { allocated[resource] = .nan }
                }
                guard allocated.gpu.isNaN || allocated.gpu == allocated.gpu.rounded() else {
                    throw TraceError(file: file, line: line, field: "gpu_allocated", message: "\(formatAmount(allocated.gpu)) is not a whole number of devices")
                }
                // A row whose every usage field is empty is no sample: a gap.
                guard Resource.allCases.contains(where: { columnIndex["\($0)_used"] != nil && !used[$0].isNaN }) else { return true }
                if samplesByInstance[instance] == nil { order.append(instance) }
                samplesByInstance[instance, default: []].append((line, .init(timestamp: timestamp, used: used, allocated: allocated)))
            } catch {
                guard lenient else { throw error }
                report.skip(error)
            }
            return true
        }
        guard !columnIndex.isEmpty else { throw TraceError(file: file, message: "the file is empty: expected a header line") }

        var series: [(InstanceID, [UsageTraceBuilder.Sample])] = []
        var steps: [Int64: Int] = [:]
        for instance in order {
            var rows = samplesByInstance[instance]!
            rows.sort { ($0.sample.timestamp, $0.row) < ($1.sample.timestamp, $1.row) }
            var kept: [UsageTraceBuilder.Sample] = []
            kept.reserveCapacity(rows.count)
            for row in rows {
                if let last = kept.last, last.timestamp == row.sample.timestamp {
                    report.duplicateTimestampRows += 1
                } else {
                    if let last = kept.last { steps[row.sample.timestamp - last.timestamp, default: 0] += 1 }
                    kept.append(row.sample)
                }
            }
            series.append((InstanceID(instance), kept))
        }
        guard let interval = interval ?? Self.commonStep(steps) else {
            throw TraceError(file: file, message: "the sampling interval cannot be inferred: no instance has two samples; give it (--interval)")
        }
        var builder = UsageTraceBuilder(interval: interval)
        for (id, kept) in series { builder.add(id, samples: kept) }
        let (trace, merged) = builder.build()
        report.mergedSamples = merged
        return (trace, report)
    }

    /// The sampling interval from the steps between consecutive samples: the mean of the
    /// steps within 5% of the most common one, rounded, so that a second of jitter either
    /// side (299, 300, 301) reads as 300.
    static func commonStep(_ steps: [Int64: Int]) -> Int? {
        guard let mode = steps.max(by: { ($0.value, -$0.key) < ($1.value, -$1.key) })?.key else { return nil }
        let near = steps.filter { abs($0.key - mode) * 20 <= mode }
        let count = near.reduce(0) { $0 + $1.value }
        let sum = near.reduce(0.0) { $0 + Double($1.key) * Double($1.value) }
        return max(1, Int((sum / Double(count)).rounded()))
    }

    private static func header(_ fields: [Range<Int>], text: DelimitedText, file: String, line: Int) throws(TraceError) -> [String: Int] {
        var index: [String: Int] = [:]
        let known = Set(requiredColumns + optionalColumns)
        for (position, range) in fields.enumerated() {
            let name = text.text(range)
            guard known.contains(name) else {
                throw TraceError(file: file, line: line, field: name, message: "unknown column; the columns are \((requiredColumns + optionalColumns).joined(separator: ", "))")
            }
            guard index.updateValue(position, forKey: name) == nil else {
                throw TraceError(file: file, line: line, field: name, message: "the column appears twice")
            }
        }
        for name in requiredColumns where index[name] == nil {
            throw TraceError(file: file, line: line, field: name, message: "the header lacks this required column")
        }
        guard Resource.allCases.contains(where: { index["\($0)_used"] != nil }) else {
            throw TraceError(file: file, line: line, field: "cpu_used", message: "the header names no usage column: give at least one of cpu_used, memory_used, gpu_used")
        }
        return index
    }

    private static func amount(
        _ column: String, _ fields: [Range<Int>], _ columnIndex: [String: Int], text: DelimitedText, file: String, line: Int
    ) throws(TraceError) -> Double {
        guard let position = columnIndex[column] else { return 0 }
        if fields[position].isEmpty { return .nan }
        guard let value = text.number(fields[position]) else {
            throw TraceError(file: file, line: line, field: column, message: "'\(text.text(fields[position]))' is not a number")
        }
        guard value.isFinite, value >= 0 else {
            throw TraceError(file: file, line: line, field: column, message: "\(text.text(fields[position])) is not a finite amount of at least 0")
        }
        return value
    }

    /// Epoch seconds (digits) or `YYYY-MM-DDTHH:MM:SSZ`.
    static func timestamp(_ range: Range<Int>, text: DelimitedText, file: String, line: Int) throws(TraceError) -> Int64 {
        let raw = text.text(range)
        if let seconds = Int64(raw), seconds >= 0 { return seconds }
        if let seconds = UTCTime.parseISO8601(raw) { return seconds }
        throw TraceError(file: file, line: line, field: "timestamp", message: "'\(raw)' is neither epoch seconds nor a UTC time like 2024-05-01T00:00:00Z")
    }
}
