/// A problem in a usage trace, located as precisely as the input allows.
public struct TraceError: Error, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line number, or nil for a problem with the whole file.
    public var line: Int?
    /// The column the problem is in, by its header name.
    public var field: String?
    public var message: String

    public init(file: String, line: Int? = nil, field: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let field { location += ": field '\(field)'" }
        return "\(location): \(message)"
    }
}

/// What reading a trace found, beside the samples themselves.
public struct TraceLoadReport: Sendable, Equatable {
    public var files = 0
    public var rows = 0
    /// Rows whose timestamp equals the previous row's (quirk 5); the first is kept.
    public var duplicateTimestampRows = 0
    /// Rows that describe a VM switched off: zero cores (quirk 6). They leave a gap.
    public var switchedOffRows = 0
    /// Rows with cores but a zero CPU or memory capacity: kept, with the values that capacity
    /// makes unknown missing (PSF-1 rule 5).
    public var zeroCapacityRows = 0
    /// Samples dropped because an earlier sample of the same instance fell into the same slot.
    public var mergedSamples = 0
    /// Malformed rows skipped in lenient mode (in strict mode the first one is an error).
    public var skippedRows = 0
    /// The first few skipped rows' errors, for the user to look at.
    public var skippedExamples: [String] = []

    public init() {}

    mutating func add(_ other: TraceLoadReport) {
        files += other.files
        rows += other.rows
        duplicateTimestampRows += other.duplicateTimestampRows
        switchedOffRows += other.switchedOffRows
        zeroCapacityRows += other.zeroCapacityRows
        mergedSamples += other.mergedSamples
        skippedRows += other.skippedRows
        skippedExamples += other.skippedExamples.prefix(max(0, Self.exampleLimit - skippedExamples.count))
    }

    mutating func skip(_ error: TraceError) {
        skippedRows += 1
        if skippedExamples.count < Self.exampleLimit { skippedExamples.append(error.description) }
    }

    static let exampleLimit = 5
}
