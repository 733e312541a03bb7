import Foundation

/// Reads the per-container GPU usage of Alibaba's GenTD26 trace as protocol PSF-G defines it
/// (`../shared/docs/gpu-forecast-benchmark.md`, section 2): GPU utilisation (percent) and GPU
/// memory (GiB) per container on the grid of 1,441 instants 57 s apart from 1662858720.
///
/// The rules, per file and in this order: a row with an empty `container_ip` or a timestamp
/// that is not a finite number is dropped; the timestamp is rounded (half to even) and its
/// instant is `round((t − t0) / 57)`, a row off `0..<1441` dropped; of two rows of one
/// container on one instant the first in file order is kept; a value that does not parse, is
/// not finite or is negative is missing; an instant without a row is missing. Every rule's
/// count is reported. Columns are read by name; a file without them, or a row with another
/// number of fields than its header, is an error naming file and line.
public struct GenTD26Reader: Sendable {
    public static let origin: Int64 = 1_662_858_720
    public static let interval = 57
    public static let instants = 1_441
    /// The two files, by the name the forecast file gives their target, and each value's divisor.
    public static let files: [(target: String, stem: String, divisor: Double)] = [
        ("gpu_util", "pod_gpu_duty_cycle_anon", 1),
        ("gpu_mem", "pod_gpu_memory_used_bytes_anon", 1_073_741_824),
    ]

    /// GPU utilisation and memory per container, `[container][instant]`, NaN where missing.
    public struct Trace: Sendable {
        /// Every container of either file, sorted.
        public var containers: [String]
        public var utilisation: [[Double]]
        public var memory: [[Double]]
    }

    /// How many rows each rule touched, per target.
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        public var rows = 0
        public var droppedEmptyContainer = 0
        public var droppedBadTimestamp = 0
        public var droppedOutsideGrid = 0
        public var droppedDuplicateInstant = 0
        public var missingNotFinite = 0
        public var missingNegative = 0

        public var description: String {
            "\(rows) rows; dropped: \(droppedEmptyContainer) empty container_ip, \(droppedBadTimestamp) bad timestamp, "
                + "\(droppedOutsideGrid) outside the grid, \(droppedDuplicateInstant) duplicate instant; "
                + "missing: \(missingNotFinite) not finite, \(missingNegative) negative"
        }
    }

    public init() {}

    /// The file of `stem` in `directory`: `.csv.gz`, else `.csv`.
    static func path(_ directory: String, _ stem: String) throws(TraceError) -> String {
        for name in ["\(stem).csv.gz", "\(stem).csv"] {
            let path = (directory as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw TraceError(file: (directory as NSString).appendingPathComponent("\(stem).csv.gz"), message: "no such file (nor \(stem).csv) in \(directory)")
    }

    public func read(directory: String) throws(TraceError) -> (trace: Trace, reports: [String: Report]) {
        var grids: [[String: [Double]]] = []
        var reports: [String: Report] = [:]
        for (target, stem, divisor) in Self.files {
            let file = try Self.path(directory, stem)
            let bytes = try CompressedFile.read(file)
            let (grid, report) = try bytes.withUnsafeBufferPointer { (buffer) throws(TraceError) in
                try Self.parse(buffer, file: file, divisor: divisor)
            }
            grids.append(grid)
            reports[target] = report
        }
        let containers = Set(grids[0].keys).union(grids[1].keys).sorted()
        let empty = [Double](repeating: .nan, count: Self.instants)
        let trace = Trace(containers: containers, utilisation: containers.map { grids[0][$0] ?? empty },
                          memory: containers.map { grids[1][$0] ?? empty })
        return (trace, reports)
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String, divisor: Double) throws(TraceError) -> ([String: [Double]], Report) {
        let text = DelimitedText(bytes: bytes, delimiter: UInt8(ascii: ","))
        var columns: (value: Int, timestamp: Int, container: Int, count: Int)?
        var report = Report()
        var grid: [String: [Double]] = [:]
        // Instants already given a row, per container: a later row there is a duplicate.
        var seen: [String: [Bool]] = [:]
        try text.forEachLine { (line, fields) throws(TraceError) -> Bool in
            guard let (valueColumn, timestampColumn, containerColumn, count) = columns else {
                let names = fields.map(text.text)
                guard let value = names.firstIndex(of: "value"), let timestamp = names.firstIndex(of: "timestamp_anon"),
                      let container = names.firstIndex(of: "container_ip") else {
                    throw TraceError(file: file, line: line, message: "the header \(names.joined(separator: ",")) lacks value, timestamp_anon or container_ip")
                }
                columns = (value, timestamp, container, names.count)
                return true
            }
            guard fields.count == count else {
                throw TraceError(file: file, line: line, message: "expected \(count) fields as in the header, found \(fields.count)")
            }
            report.rows += 1
            let container = text.text(fields[containerColumn])
            guard !container.isEmpty else { report.droppedEmptyContainer += 1; return true }
            guard let timestamp = text.number(fields[timestampColumn]), timestamp.isFinite else { report.droppedBadTimestamp += 1; return true }
            let instant = ((timestamp.rounded(.toNearestOrEven) - Double(origin)) / Double(interval)).rounded(.toNearestOrEven)
            guard instant >= 0, instant < Double(instants) else { report.droppedOutsideGrid += 1; return true }
            let k = Int(instant)
            if seen[container] == nil {
                seen[container] = [Bool](repeating: false, count: instants)
                grid[container] = [Double](repeating: .nan, count: instants)
            }
            guard !seen[container]![k] else { report.droppedDuplicateInstant += 1; return true }
            seen[container]![k] = true
            let value = (text.number(fields[valueColumn]) ?? .nan) / divisor
            if !value.isFinite {
                report.missingNotFinite += 1
            } else if value < 0 {
                report.missingNegative += 1
            } else {
                grid[container]![k] = value
            }
            return true
        }
        guard columns != nil else { throw TraceError(file: file, message: "the file is empty: expected a header line") }
        return (grid, report)
    }
}
