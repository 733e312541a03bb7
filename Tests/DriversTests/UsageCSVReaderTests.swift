@testable import Drivers
import PoolCore
import Testing

@Suite struct UsageCSVReaderTests {
    func read(_ text: String, lenient: Bool = false, interval: Int? = 300) throws -> (UsageTrace, TraceLoadReport) {
        let files = TraceFiles()
        return try UsageCSVReader(lenient: lenient, interval: interval).read(file: files.write("usage.csv", text))
    }

    @Test func aResourceLeftOutIsNotMeasuredAndAnEmptyFieldIsMissing() throws {
        let (trace, _) = try read("instance,timestamp,cpu_used\na,0,1.5\na,60,\na,120,2\n", interval: 60)
        let series = trace.instances[0]
        #expect(series.span == 3)
        #expect(series.used(at: 0) == ResourceVector(cpu: 1.5, memory: 0, gpu: 0))
        #expect(series.allocated(.cpu, at: 0).isNaN, "usage without its allocation column: unknown, not 0")
        #expect(series.allocated(.memory, at: 0) == 0 && series.allocated(.gpu, at: 0) == 0, "not measured")
        // A row whose only usage is empty is no sample.
        #expect(!series.isPresent(at: 1))
        #expect(series.used(.cpu, at: 2) == 2)
        let (partial, _) = try read("instance,timestamp,cpu_used,memory_used,memory_allocated\na,0,,3,\n")
        #expect(partial.instances[0].isPresent(at: 0))
        #expect(partial.instances[0].used(.cpu, at: 0).isNaN)
        #expect(partial.instances[0].used(.memory, at: 0) == 3)
        #expect(partial.instances[0].allocated(.memory, at: 0).isNaN)
    }

    @Test(arguments: [(60, "0,60,120,180,240"), (10, "5,15,25,35,75"), (300, "0,300,900,1200"), (300, "100,401,700,999,1300,1601,1900")])
    func theIntervalIsTheMostCommonStep(step: Int, times: String) throws {
        let rows = times.split(separator: ",").map { "a,\($0),1\nb,\($0),2\n" }.joined()
        let (trace, _) = try read("instance,timestamp,cpu_used\n" + rows, interval: nil)
        #expect(trace.interval == step)
        #expect(trace.instances[0].sampleCount == times.split(separator: ",").count)
    }

    @Test func anIntervalThatCannotBeInferredIsAskedFor() throws {
        #expect {
            _ = try read("instance,timestamp,cpu_used\na,0,1\nb,0,2\n", interval: nil)
        } throws: { error in
            (error as? TraceError)?.message.contains("--interval") == true
        }
    }

    @Test func readsColumnsInAnyOrderWithGPUAndBothTimestampForms() throws {
        let (trace, report) = try read("""
            timestamp,instance,memory_used,memory_allocated,cpu_used,cpu_allocated,gpu_used,gpu_allocated
            2024-05-01T00:05:00Z,web-1,3.6,8,1.5,2,0.5,1
            1714521600,web-1,3.5,8,1.25,2,0,1
            1714521600,db,10,16,3,4,0,0

            """)
        #expect(report.rows == 3)
        #expect(trace.instances.map(\.id) == ["web-1", "db"])
        #expect(trace.origin == 1_714_521_600)
        let web = trace.instances[0]
        #expect(web.used(at: 0) == ResourceVector(cpu: 1.25, memory: 3.5))
        #expect(web.used(at: 1) == ResourceVector(cpu: 1.5, memory: 3.6, gpu: 0.5))
        #expect(web.allocated(at: 1) == ResourceVector(cpu: 2, memory: 8, gpu: 1))
    }

    @Test func gpuColumnsAreOptional() throws {
        let (trace, _) = try read("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated\na,0,1,2,3,4\n")
        #expect(trace.instances[0].allocated(at: 0) == ResourceVector(cpu: 2, memory: 4, gpu: 0))
    }

    @Test func duplicateTimestampsKeepTheFirstRowInFileOrder() throws {
        let (trace, report) = try read("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated\na,0,1,2,3,4\na,0,9,9,9,9\n")
        #expect(report.duplicateTimestampRows == 1)
        #expect(trace.instances[0].used(at: 0).cpu == 1)
    }

    @Test(arguments: [
        ("instance,cpu_used,cpu_allocated,memory_used\n", nil as Int?, "timestamp", "lacks this required column"),
        ("instance,timestamp,cpu_allocated,memory_allocated\n", 1, "cpu_used", "no usage column"),
        ("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated,disk\n", 1, "disk", "unknown column"),
        ("instance,timestamp,cpu_used,cpu_used,memory_used,memory_allocated\n", 1, "cpu_used", "appears twice"),
        ("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated\na,yesterday,1,2,3,4\n", 2, "timestamp", "neither epoch seconds"),
        ("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated\na,2024-02-30T00:00:00Z,1,2,3,4\n", 2, "timestamp", "neither epoch seconds"),
        ("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated\na,0,1,2,NaN,4\n", 2, "memory_used", "not a number"),
        ("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated\na,0,-1,2,3,4\n", 2, "cpu_used", "at least 0"),
        ("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated,gpu_allocated\na,0,1,2,3,4,1.5\n", 2, "gpu_allocated", "whole number"),
        ("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated\n,0,1,2,3,4\n", 2, "instance", "empty"),
        ("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated\na,0,1,2,3\n", 2, nil, "expected 6 fields"),
    ] as [(String, Int?, String?, String)])
    func malformedInputIsNamed(text: String, line: Int?, field: String?, message: String) throws {
        #expect {
            _ = try read(text)
        } throws: { error in
            guard let error = error as? TraceError else { return false }
            return error.file.hasSuffix("usage.csv") && (line == nil || error.line == line) && error.field == field && error.message.contains(message)
        }
    }

    @Test func lenientModeSkipsBadRows() throws {
        let (trace, report) = try read("instance,timestamp,cpu_used,cpu_allocated,memory_used,memory_allocated\na,0,1,2,3,4\na,300,x,2,3,4\na,600,1,2,3,4\n", lenient: true)
        #expect(report.skippedRows == 1)
        #expect(trace.instances[0].sampleCount == 2)
    }

    @Test(arguments: [
        ("1970-01-01T00:00:00Z", 0 as Int64?),
        ("2000-02-29T12:34:56Z", 951_827_696),
        ("2013-06-30T22:03:24Z", 1_372_629_804),
        ("2100-02-29T00:00:00Z", nil),
        ("2024-13-01T00:00:00Z", nil),
        ("2024-01-01 00:00:00Z", nil),
        ("2024-01-01T24:00:00Z", nil),
    ])
    func iso8601(text: String, seconds: Int64?) {
        #expect(UTCTime.parseISO8601(text) == seconds)
        if let seconds { #expect(UTCTime.iso8601(seconds) == text) }
    }
}
